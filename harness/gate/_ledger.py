"""The holdout ledger: every look at a holdout, recorded, counted and tagged.

A *look* is one distinct (prompt content hash, judge hash) pair evaluated on a holdout (its
``items_hash``); the gate's CIs tighten to ``1 - 0.05/m`` with m looks (Bonferroni on the
looks, see docs/gate.md).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from harness.anchors import AnchorSet
from harness.journal import HoldoutLook, Journal
from harness.prompts import PromptVersion

from ._errors import GateInputError
from ._result import HoldoutLooks

if TYPE_CHECKING:
    from ._versions import _Registry

#: Registry version and run tags of the holdout ledger: the number of distinct versions
#: evaluated on the holdout (this one included) when it was last evaluated, and which holdout.
HOLDOUT_LOOKS_TAG = "judgecal.holdout_looks"
HOLDOUT_LOOKS_HASH_TAG = "judgecal.holdout_looks_items_hash"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _look_dict(look: HoldoutLook, current: bool) -> dict[str, Any]:
    return {"prompt_name": look.prompt_name, "prompt_version": look.prompt_version,
            "prompt_hash": look.prompt_hash, "judge_hash": look.judge_hash,
            "command": look.command, "looked_at": _iso(look.looked_at), "current": current}


def holdout_ledger(journal: Journal, aset: AnchorSet, split: str, pv: PromptVersion,
                   judge_hash: str, command: str, *, fresh_holdout: bool = False
                   ) -> HoldoutLooks | None:
    """The looks at the holdout so far, this one included, before anything is judged.

    A look is a distinct (prompt hash, judge hash) pair evaluated on the holdout
    (``aset.items_hash("holdout")``); the same version with the same judge looking again,
    by any command, is not a new look.

    Parameters
    ----------
    journal : Journal
        Where the ledger is kept.
    aset : AnchorSet
    split : {"holdout", "all", "calibration"}
        The calibration split is not the holdout: no ledger (None).
    pv : PromptVersion
        The version about to be evaluated.
    judge_hash : str
        ``judgecal.judge_hash`` of the judge it is evaluated with.
    command : str
    fresh_holdout : bool
        Assert that the holdout is new: no other (version, judge) has looked at it.

    Returns
    -------
    HoldoutLooks or None

    Raises
    ------
    GateInputError
        ``fresh_holdout`` on the calibration split, or on a holdout other versions (or
        judges) have already looked at.
    """
    if split == "calibration" or not any(it.split == "holdout" for it in aset.items):
        if fresh_holdout:
            raise GateInputError(f"--fresh-holdout: the {split} split of {aset.path} has no "
                                 "holdout items to be fresh")
        return None
    items_hash = aset.items_hash("holdout")
    key = (pv.hash, judge_hash)
    prior = journal.holdout_versions(items_hash)
    others = [look for look in prior if look.version_key != key]
    if fresh_holdout and others:
        seen = "; ".join(f"{look.prompt_name} {look.prompt_version} (judge "
                         f"{look.judge_hash[:12]}, {look.command} {_iso(look.looked_at)})"
                         for look in others)
        raise GateInputError(
            f"--fresh-holdout: the holdout of {aset.path} (items hash {items_hash[:12]}) is "
            f"not fresh: {len(others)} other version(s) were evaluated on it: {seen}. "
            "Each look is another chance to ship a judge by luck, so its CIs must count "
            "them: drop --fresh-holdout (the gate then tightens its confidence), or label a "
            "new holdout"
        )
    versions = [_look_dict(look, look.version_key == key) for look in prior]
    if len(others) == len(prior):
        versions.append({"prompt_name": pv.name, "prompt_version": pv.label,
                         "prompt_hash": pv.hash, "judge_hash": judge_hash,
                         "command": command, "looked_at": _iso(time.time()),
                         "current": True})
    return HoldoutLooks(items_hash, versions, fresh_holdout=fresh_holdout)


def record_look(journal: Journal, aset: AnchorSet, looks: HoldoutLooks | None,
                pv: PromptVersion, judge_hash: str, command: str, *,
                run_id: str | None = None) -> None:
    """Write this look to the holdout ledger (idempotent; sets ``looks.recorded``).

    Parameters
    ----------
    journal : Journal
    aset : AnchorSet
    looks : HoldoutLooks, optional
        From :func:`holdout_ledger`; None (not the holdout) records nothing.
    pv : PromptVersion
    judge_hash : str
    command : str
    run_id : str, optional
        The MLflow run that looked (the calibration's parent run).
    """
    if looks is None:
        return
    looks.recorded = journal.record_holdout_look(
        items_hash=looks.items_hash, anchor_set=aset.meta.name, prompt_name=pv.name,
        prompt_version=pv.label, prompt_hash=pv.hash, judge_hash=judge_hash,
        command=command, run_id=run_id)


def _tag_look(registry: _Registry, looks: HoldoutLooks | None, pv: PromptVersion,
              record: tuple[int, dict[str, str]] | None, warnings: list[str]) -> None:
    """The ledger's count on the version's registry tags, when it is registered."""
    if looks is None or record is None:
        return
    try:
        registry.tracker().set_prompt_version_tags(pv.name, record[0], holdout_look_tags(looks))
    except Exception as exc:  # noqa: BLE001 - the journal has the look; MLflow is a copy
        warnings.append(f"cannot record the holdout look on {pv.name} {pv.label} in the MLflow "
                        f"Prompt Registry at {registry.uri}: {exc}")


def holdout_look_tags(looks: HoldoutLooks) -> dict[str, str]:
    """The tags recording the holdout ledger on a registry version or a run.

    Parameters
    ----------
    looks : HoldoutLooks

    Returns
    -------
    dict of str to str
        :data:`HOLDOUT_LOOKS_TAG` (the number of distinct versions) and
        :data:`HOLDOUT_LOOKS_HASH_TAG` (the holdout's items hash).
    """
    return {HOLDOUT_LOOKS_TAG: str(looks.n_versions), HOLDOUT_LOOKS_HASH_TAG: looks.items_hash}
