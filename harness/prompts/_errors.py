"""Errors of the prompt store: every one names the file (and the line when there is one)."""

from __future__ import annotations

from pathlib import Path


class PromptError(Exception):
    """A prompt file is missing, malformed, or cannot be rendered.

    ``str(err)`` is ``"path:line: message"`` (``"path: message"`` when no line applies).

    Parameters
    ----------
    path : str or Path
        The prompt file (or directory) concerned.
    line : int or None
        The 1-based line in ``path``, when known.
    message : str
        What is wrong, and what to do about it when that is not obvious.
    """

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else f"{self.path}"
        return f"{where}: {self.message}"

    def __reduce__(self):  # keep pickling working with the custom constructor
        return (type(self), (self.path, self.line, self.message))


class PromptSandboxError(PromptError):
    """The template sandbox refused the template: unsafe access, or a size over its caps.

    Raised by rendering, and by loading (which renders a trial with a placeholder item), so
    such a template is refused before any run starts.
    """


class PromptNotFoundError(PromptError):
    """No prompt of that name, or no such version of it; the message lists what exists."""


class PromptEditedError(PromptError):
    """A prompt version that the journal has used was edited afterwards.

    A version is frozen once a judge call has been journaled under it: results recorded
    under ``v1`` must stay reproducible from ``v1``. Save the edit as the next version.

    Attributes
    ----------
    used_hashes : dict of str to int
        The content hashes journaled for the version, with their numbers of calls.
    current_hash : str
        The hash of the file as it is now.
    next_path : Path
        Where the edit should be saved instead.
    """

    def __init__(self, path: str | Path, line: int | None, message: str, *,
                 used_hashes: dict[str, int] | None = None, current_hash: str = "",
                 next_path: str | Path | None = None) -> None:
        super().__init__(path, line, message)
        self.used_hashes = dict(used_hashes or {})
        self.current_hash = current_hash
        self.next_path = Path(next_path) if next_path is not None else None

    def __reduce__(self):
        return (_rebuild_edited, (self.path, self.line, self.message, self.used_hashes,
                                  self.current_hash, self.next_path))


def _rebuild_edited(path, line, message, used_hashes, current_hash, next_path):
    return PromptEditedError(path, line, message, used_hashes=used_hashes,
                             current_hash=current_hash, next_path=next_path)
