"""Prompt versions on disk: ``prompts/<name>/v<N>.j2``, loading, listing, saving, diffing."""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ._errors import PromptEditedError, PromptError, PromptNotFoundError
from ._header import (
    SCORING_MODES,
    check_changelog,
    format_header,
    parse_header,
    starts_with_header,
)
from ._template import compile_template, trial_render

DEFAULT_DIR = "prompts"

_FILE = re.compile(r"^v([0-9]{1,9})\.j2$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_REF = re.compile(r"^[vV]?([0-9]{1,9})$")


class _HasPromptHashes(Protocol):
    def prompt_hashes(self, prompt_name: str, prompt_version: str) -> dict[str, int]: ...


@dataclass(frozen=True)
class PromptVersion:
    """One prompt version: the file ``prompts/<name>/v<N>.j2`` and its parsed header.

    Attributes
    ----------
    name : str
        The judge prompt's name (its directory).
    version : int
        ``N``.
    label : str
        ``"vN"``, the form stored as ``prompt_version`` in the journal.
    parent : int or None
        The version this one was derived from.
    changelog : str
        One line: what this version changes.
    scale : tuple of int or None
        ``(min, max)``; None for a scorecard prompt (header ``scale: scorecard``), which
        scores every question of a scorecard in one call (:attr:`is_scorecard`).
    scoring : {"structured", "logprob"}
        The scoring mode the template is written for.
    path : Path
        The file.
    text : str
        The whole file text (header included).
    body : str
        The template without the header.
    hash : str
        SHA-256 (hex) of the file's bytes: the version's identity.
    """

    name: str
    version: int
    label: str
    parent: int | None
    changelog: str
    scale: tuple[int, int] | None
    scoring: str
    path: Path
    text: str = field(repr=False)
    body: str = field(repr=False)
    hash: str
    header_lines: dict[str, int] = field(default_factory=dict, compare=False, hash=False,
                                         repr=False)

    @property
    def is_scorecard(self) -> bool:
        """Whether this prompt scores every question of a scorecard in one call."""
        return self.scale is None

    @property
    def short_hash(self) -> str:
        """The first 12 hex digits of :attr:`hash`."""
        return self.hash[:12]

    @property
    def parent_label(self) -> str:
        """``"vN"`` of the parent, or ``"none"``."""
        return "none" if self.parent is None else f"v{self.parent}"


def _check_name(name: str, prompts_dir: Path) -> Path:
    if not isinstance(name, str) or not _NAME.match(name):
        raise PromptNotFoundError(prompts_dir, None, f"{name!r} is not a prompt name (letters, "
                                                     "digits, '.', '_', '-'; no path)")
    return prompts_dir / name


def _version_files(directory: Path) -> dict[int, Path]:
    """``{N: path}`` of the ``v<N>.j2`` files in ``directory``."""
    found: dict[int, Path] = {}
    if not directory.is_dir():
        return found
    for p in directory.iterdir():
        m = _FILE.match(p.name)
        if not m or not p.is_file():
            continue
        if m.group(1) != str(int(m.group(1))) or int(m.group(1)) < 1:
            raise PromptError(p, None, f"version file names are v<N>.j2 with N >= 1 and no "
                                       f"leading zeros (rename it v{int(m.group(1))}.j2)")
        found[int(m.group(1))] = p
    return found


def list_prompts(prompts_dir: str | Path = DEFAULT_DIR) -> list[str]:
    """The names of the prompts in ``prompts_dir`` (directories holding a ``v<N>.j2``).

    Parameters
    ----------
    prompts_dir : str or Path
        The prompts directory.

    Returns
    -------
    list of str
        Sorted names.
    """
    root = Path(prompts_dir)
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir()
                  if d.is_dir() and _NAME.match(d.name)
                  and any(_FILE.match(p.name) for p in d.iterdir()))


def load_prompt_file(path: str | Path) -> PromptVersion:
    """Read and validate one prompt file (without the journal check of :func:`load_prompt`).

    Checks the header, that its version equals the ``N`` of the file name ``v<N>.j2``,
    that the parent version exists beside it, and that the template compiles.

    Parameters
    ----------
    path : str or Path
        ``<prompts_dir>/<name>/v<N>.j2``.

    Returns
    -------
    PromptVersion

    Raises
    ------
    PromptError
        Naming the file and line of the problem.
    """
    path = Path(path)
    m = _FILE.match(path.name)
    if not m:
        raise PromptError(path, None, "a prompt file must be named v<N>.j2 (e.g. v1.j2)")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PromptNotFoundError(path, None, "no such file") from None
    except OSError as exc:
        raise PromptError(path, None, f"cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise PromptError(path, line, "not valid UTF-8") from None
    header = parse_header(path, text)
    if header.version != int(m.group(1)):
        raise PromptError(path, header.lines["version"],
                          f"version {header.version} does not match the file name {path.name} "
                          f"(a file v<N>.j2 holds version N)")
    if header.parent is not None and not (path.parent / f"v{header.parent}.j2").is_file():
        have = ", ".join(f"v{n}" for n in sorted(_version_files(path.parent))) or "none"
        raise PromptError(path, header.lines["parent"],
                          f"parent {header.parent}: there is no v{header.parent}.j2 beside this "
                          f"file (versions: {have})")
    compile_template(str(path), text)
    trial_render(str(path), text, header.scale)
    return PromptVersion(
        name=path.parent.name, version=header.version, label=f"v{header.version}",
        parent=header.parent, changelog=header.changelog, scale=header.scale,
        scoring=header.scoring, path=path, text=text, body=text[header.body_start:],
        hash=hashlib.sha256(data).hexdigest(), header_lines=dict(header.lines),
    )


def _not_found(name: str, prompts_dir: Path) -> PromptNotFoundError:
    names = list_prompts(prompts_dir)
    known = ", ".join(names) if names else "none"
    return PromptNotFoundError(prompts_dir, None,
                               f"no prompt named {name!r}; prompts in {prompts_dir}: {known}")


def list_versions(name: str, prompts_dir: str | Path = DEFAULT_DIR) -> list[PromptVersion]:
    """Every version of a prompt, oldest first.

    Parameters
    ----------
    name : str
        The prompt's name (its directory in ``prompts_dir``).
    prompts_dir : str or Path
        The prompts directory.

    Returns
    -------
    list of PromptVersion
        Sorted by version.

    Raises
    ------
    PromptNotFoundError
        If there is no such prompt (the message lists the prompts there are).
    PromptError
        If a version file is invalid.
    """
    root = Path(prompts_dir)
    files = _version_files(_check_name(name, root))
    if not files:
        raise _not_found(name, root)
    return [load_prompt_file(files[n]) for n in sorted(files)]


def latest(name: str, prompts_dir: str | Path = DEFAULT_DIR) -> PromptVersion:
    """The highest version of a prompt.

    Parameters
    ----------
    name : str
        The prompt's name.
    prompts_dir : str or Path
        The prompts directory.

    Returns
    -------
    PromptVersion
    """
    return resolve(name, "latest", prompts_dir)


def parse_ref(ref: str | int) -> int | None:
    """The version number of ``"v2"``, ``"2"`` or ``2``; None for ``"latest"``.

    Parameters
    ----------
    ref : str or int
        A version reference.

    Returns
    -------
    int or None

    Raises
    ------
    ValueError
        For anything else.

    Examples
    --------
    >>> parse_ref("v3"), parse_ref(2), parse_ref("latest")
    (3, 2, None)
    """
    if isinstance(ref, bool):
        raise ValueError(f"version {ref!r} must be vN, N or 'latest'")
    if isinstance(ref, int):
        if ref < 1:
            raise ValueError(f"version {ref} must be >= 1")
        return ref
    if isinstance(ref, str):
        if ref.strip().lower() == "latest":
            return None
        m = _REF.match(ref.strip())
        if m and int(m.group(1)) >= 1:
            return int(m.group(1))
    raise ValueError(f"version {ref!r} must be vN, N or 'latest'")


def resolve(name: str, ref: str | int = "latest",
            prompts_dir: str | Path = DEFAULT_DIR) -> PromptVersion:
    """A prompt version by reference: ``"v2"``, ``2`` or ``"latest"``.

    Parameters
    ----------
    name : str
        The prompt's name.
    ref : str or int
        The version.
    prompts_dir : str or Path
        The prompts directory.

    Returns
    -------
    PromptVersion

    Raises
    ------
    PromptNotFoundError
        If the prompt or the version does not exist (the message lists what does).
    PromptError
        If the reference is malformed or the file is invalid.
    """
    root = Path(prompts_dir)
    directory = _check_name(name, root)
    try:
        number = parse_ref(ref)
    except ValueError as exc:
        raise PromptError(directory, None, str(exc)) from None
    files = _version_files(directory)
    if not files:
        raise _not_found(name, root)
    if number is None:
        number = max(files)
    if number not in files:
        have = ", ".join(f"v{n}" for n in sorted(files))
        raise PromptNotFoundError(directory, None,
                                  f"no version v{number} of prompt {name!r}; versions: {have}")
    return load_prompt_file(files[number])


def check_unchanged(prompt_version: PromptVersion, journal: _HasPromptHashes) -> None:
    """Refuse a version whose file was edited after the journal used it.

    Parameters
    ----------
    prompt_version : PromptVersion
        The version as it is on disk now.
    journal : Journal
        Anything with ``prompt_hashes(name, version_label) -> {hash: n_calls}``.

    Raises
    ------
    PromptEditedError
        If the journal has calls for (name, label), none of them under the current hash.
    """
    pv = prompt_version
    used = journal.prompt_hashes(pv.name, pv.label)
    if not used or pv.hash in used:
        return
    n = sum(used.values())
    hashes = ", ".join(f"{h[:12]}…" for h in sorted(used, key=lambda h: -used[h]))
    files = _version_files(pv.path.parent)
    next_path = pv.path.parent / f"v{max(files, default=pv.version) + 1}.j2"
    plural = "" if n == 1 else "s"
    raise PromptEditedError(
        pv.path, None,
        f"{pv.label} of prompt {pv.name!r} was used for {n} journaled call{plural} under "
        f"hash{'es' if len(used) > 1 else ''} {hashes} and has been edited since (now "
        f"{pv.short_hash}…). A used version is frozen: save the edit as the next version "
        f"{next_path} with 'parent: {pv.version}', and restore {pv.path} to what was used "
        f"(e.g. with git).",
        used_hashes=used, current_hash=pv.hash, next_path=next_path,
    )


def load_prompt(name: str, version: str | int = "latest", *,
                prompts_dir: str | Path = DEFAULT_DIR,
                journal: _HasPromptHashes | None = None) -> PromptVersion:
    """Load a prompt version for use, refusing one that was edited after it was used.

    Parameters
    ----------
    name : str
        The prompt's name (``prompts/<name>/``).
    version : str or int
        ``"v2"``, ``2`` or ``"latest"``.
    prompts_dir : str or Path
        The prompts directory.
    journal : Journal, optional
        When given, the version's current hash must be among those the journal recorded
        for ``(name, "vN")``, or the journal must have no calls for it.

    Returns
    -------
    PromptVersion

    Raises
    ------
    PromptNotFoundError
        Unknown prompt or version.
    PromptEditedError
        The file was edited after the journal used it.
    PromptError
        The file is invalid.
    """
    pv = resolve(name, version, prompts_dir)
    if journal is not None:
        check_unchanged(pv, journal)
    return pv


def _int_scale(scale: Any) -> tuple[int, int]:
    if hasattr(scale, "min") and hasattr(scale, "max"):
        scale = (scale.min, scale.max)
    lo, hi = scale
    if float(lo) != int(lo) or float(hi) != int(hi) or int(lo) >= int(hi):
        raise ValueError(f"scale {scale!r} must be two integers MIN < MAX")
    return int(lo), int(hi)


def save_new_version(name: str, body: str, *, parent: int | None, changelog: str,
                     scale: Any, scoring: str,
                     prompts_dir: str | Path = DEFAULT_DIR) -> PromptVersion:
    """Write the next version ``v<max+1>.j2`` of a prompt; never overwrites a file.

    Parameters
    ----------
    name : str
        The prompt's name (its directory is created if needed).
    body : str
        The template without a header.
    parent : int or None
        The version this one derives from (an existing version), or None.
    changelog : str
        One line saying what changed.
    scale : (int, int) or Scale
        ``(min, max)``.
    scoring : {"structured", "logprob"}
        The scoring mode.
    prompts_dir : str or Path
        The prompts directory.

    Returns
    -------
    PromptVersion
        The version written.

    Raises
    ------
    PromptError
        On an invalid argument, a body that does not compile (naming the new file's line),
        or when the file already exists (written meanwhile by someone else).
    """
    root = Path(prompts_dir)
    directory = _check_name(name, root)
    files = _version_files(directory)
    version = max(files, default=0) + 1
    path = directory / f"v{version}.j2"
    if parent is not None and (isinstance(parent, bool) or parent not in files):
        have = ", ".join(f"v{n}" for n in sorted(files)) or "none"
        raise PromptError(path, None, f"parent {parent!r} is not an existing version of "
                                      f"{name!r} (versions: {have})")
    changelog = check_changelog(path, None, changelog)
    if scoring not in SCORING_MODES:
        raise PromptError(path, None, f"scoring {scoring!r} must be one of "
                                      f"{', '.join(SCORING_MODES)}")
    try:
        lo, hi = _int_scale(scale)
    except (TypeError, ValueError) as exc:
        raise PromptError(path, None, f"bad scale: {exc}") from None
    if starts_with_header(body):
        raise PromptError(path, None, "the body already starts with a judgecal-prompt header; "
                                      "pass the template without it")
    text = format_header(version=version, parent=parent, changelog=changelog,
                         scale=(lo, hi), scoring=scoring) + body
    parse_header(path, text)
    compile_template(str(path), text)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("xb") as fh:
            fh.write(text.encode("utf-8"))
    except FileExistsError:
        raise PromptError(path, None, "refusing to overwrite an existing prompt version; "
                                      "versions are never overwritten") from None
    return load_prompt_file(path)


def diff(a: PromptVersion, b: PromptVersion) -> str:
    """The unified diff from version ``a`` to version ``b`` (whole files, headers included).

    Parameters
    ----------
    a, b : PromptVersion
        The versions to compare.

    Returns
    -------
    str
        The diff; empty if the files are identical.
    """
    def lines(text: str) -> list[str]:
        out = text.splitlines(keepends=True)
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n\\ No newline at end of file\n"
        return out

    return "".join(difflib.unified_diff(
        lines(a.text), lines(b.text), fromfile=str(a.path), tofile=str(b.path),
        fromfiledate=f"sha256:{a.short_hash}", tofiledate=f"sha256:{b.short_hash}",
    ))
