"""Problems found while reading anchor sets and ratings files, and the error that carries them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: At most this many problems are kept per file; the rest are only counted.
MAX_PROBLEMS = 50


@dataclass(frozen=True)
class Problem:
    """One problem in a file, located by line and field.

    Attributes
    ----------
    path : str
        The file, as the caller named it.
    line : int or None
        1-based line number; None for a problem with the whole file (missing, empty).
    field : str or None
        Dotted path of the field (``ratings.rater_3``, ``scale.min``), or None.
    message : str
        What is wrong, in words.
    item_id : str or None
        The id of the anchor item the line holds, when known.
    """

    path: str
    line: int | None
    field: str | None
    message: str
    item_id: str | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        parts = [where]
        if self.item_id is not None:
            parts.append(f"item {self.item_id!r}")
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


class AnchorError(Exception):
    """A file could not be read as an anchor set or a ratings table.

    Parameters
    ----------
    problems : list of Problem
        Every problem found (up to :data:`MAX_PROBLEMS`), in line order.
    n_more : int, optional
        How many further problems were found but not kept.

    Notes
    -----
    ``str(err)`` lists one problem per line, each as ``path:line: item 'id': field: message``.
    """

    def __init__(self, problems: list[Problem], n_more: int = 0) -> None:
        if not problems:
            raise ValueError("AnchorError needs at least one problem")
        self.problems = list(problems)
        self.n_more = n_more
        super().__init__(self._text())

    def _text(self) -> str:
        lines = [str(p) for p in self.problems]
        if self.n_more:
            lines.append(f"… and {self.n_more} more problem(s) not shown")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._text()

    def __reduce__(self) -> tuple[type[AnchorError], tuple[list[Problem], int]]:
        return (AnchorError, (self.problems, self.n_more))


class _Collector:
    """Collects problems for one file, keeping the first :data:`MAX_PROBLEMS`."""

    def __init__(self, path: str, cap: int = MAX_PROBLEMS) -> None:
        self.path = path
        self.cap = cap
        self.problems: list[Problem] = []
        self.n_more = 0

    def add(
        self, line: int | None, field: str | None, message: str, item_id: str | None = None
    ) -> None:
        if len(self.problems) < self.cap:
            self.problems.append(Problem(self.path, line, field, message, item_id))
        else:
            self.n_more += 1

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self) -> None:
        if self.problems:
            ordered = sorted(self.problems, key=lambda p: p.line or 0)
            raise AnchorError(ordered, self.n_more)

    def fail(self, line: int | None, field: str | None, message: str) -> AnchorError:
        """Return an error for a single fatal problem (for ``raise``)."""
        return AnchorError([Problem(self.path, line, field, message)])


def no_such_file(path: Path, what: str = "file") -> str:
    """The message for a file that is not there: the absolute path only when it says more.

    >>> no_such_file(Path("/tmp/x.csv")), no_such_file(Path("/tmp/x.jsonl"), "anchor-set file")
    ('no such file', 'no such anchor-set file')
    """
    resolved = path.resolve()
    return f"no such {what}" + ("" if str(resolved) == str(path) else f" (looked for {resolved})")
