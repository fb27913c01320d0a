"""``python -m harness.cli``: the same as the ``judgecal`` command."""

from harness.cli import main

main()
