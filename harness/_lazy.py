"""Package exports imported on first use (PEP 562), so that importing a package is cheap."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, Sequence[str]]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """A package's ``__getattr__``, ``__dir__`` and ``__all__`` for names imported lazily.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : mapping of str to sequence of str
        Each submodule (relative, e.g. ``"._icc"``) and the public names it defines.

    Returns
    -------
    tuple
        ``(__getattr__, __dir__, __all__)``: the first access to a name imports its
        submodule and caches the name in the package.

    Examples
    --------
    >>> getattr_, dir_, all_ = lazy_exports("harness", {"._numbers": ("parse_number",)})
    >>> all_, getattr_("parse_number").__name__
    (['parse_number'], 'parse_number')
    """
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        vars(importlib.import_module(package))[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(importlib.import_module(package))) | set(where))

    return __getattr__, __dir__, sorted(where)
