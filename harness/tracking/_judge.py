"""The judge behind a prompt version, as registry tags: a prompt version is not a judge.

The same prompt text on another model, endpoint or sampling setting is another judge. Every
prompt version the loop registers, every alias set and every gate result records which
judge it was measured with: :func:`judge_tags` writes that record (one ``judgecal.judge.*``
tag per field plus ``judgecal.judge_hash``), :func:`judge_record` reads it back and
:meth:`JudgeRecord.differences` says which fields differ.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Tag-name root of a version's judge record: ``judgecal.judge.<field>``, ``judgecal.judge_hash``.
JUDGE_TAG_ROOT = "judgecal"
_PARAMS = "params."


def _root(alias: str | None) -> str:
    return JUDGE_TAG_ROOT if alias is None else f"{JUDGE_TAG_ROOT}.alias.{alias}"


def judge_params(exp: Any, mode: str) -> dict[str, Any]:
    """The request and scoring parameters of an experiment that can change a judgment.

    The same fields as the journal key's request parameters (less the scale, a property of
    the prompt and the anchors) plus how samples are drawn and combined.

    Parameters
    ----------
    exp : Experiment
        Its ``[judge]`` and ``[scoring]`` sections are read.
    mode : {"structured", "logprob"}
        The scoring mode of the prompt version judged.

    Returns
    -------
    dict
        ``mode``, ``temperature``, ``max_tokens``, ``top_logprobs``, ``seed``,
        ``min_score_mass``, ``samples``, ``aggregate``.
    """
    j, s = exp.judge, exp.scoring
    return {"mode": mode, "temperature": j.temperature, "max_tokens": j.max_tokens,
            "top_logprobs": j.top_logprobs, "seed": j.seed,
            "min_score_mass": s.min_score_mass, "samples": s.samples,
            "aggregate": s.aggregate}


def judge_hash(identity: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a judge's identity and parameters.

    Parameters
    ----------
    identity : mapping
        ``Judge.identity()`` (opaque: provider, model, endpoint, options...).
    params : mapping
        :func:`judge_params`.

    Returns
    -------
    str
        64 hex digits.
    """
    doc = {"identity": dict(identity), "params": dict(params)}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def judge_tags(identity: Mapping[str, Any], params: Mapping[str, Any], *,
               alias: str | None = None) -> dict[str, str]:
    """The registry tags that record a judge.

    Parameters
    ----------
    identity : mapping
        ``Judge.identity()``: one tag ``judgecal.judge.<key>`` per key (values that are not
        strings as canonical JSON).
    params : mapping
        :func:`judge_params`: one tag ``judgecal.judge.params.<key>`` per key.
    alias : str, optional
        Record the judge an alias was set with instead: the tags are
        ``judgecal.alias.<alias>.judge.*`` and ``judgecal.alias.<alias>.judge_hash``.

    Returns
    -------
    dict of str to str
        Including ``judgecal.judge_hash`` (:func:`judge_hash`), the value compared.
    """
    root = _root(alias)
    tags = {f"{root}.judge.{k}": _text(v) for k, v in identity.items()}
    tags.update({f"{root}.judge.{_PARAMS}{k}": _text(v) for k, v in params.items()})
    tags[f"{root}.judge_hash"] = judge_hash(identity, params)
    return tags


@dataclass(frozen=True)
class JudgeRecord:
    """A judge as recorded in registry tags.

    Attributes
    ----------
    hash : str
        ``judgecal.judge_hash``.
    fields : dict of str to str
        Field name (``model``, ``params.temperature``, ...) to its recorded text.
    """

    hash: str
    fields: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, identity: Mapping[str, Any], params: Mapping[str, Any]) -> JudgeRecord:
        """The record :func:`judge_tags` writes for this judge.

        Parameters
        ----------
        identity, params : mapping

        Returns
        -------
        JudgeRecord
        """
        rec = judge_record(judge_tags(identity, params))
        assert rec is not None
        return rec

    def describe(self) -> str:
        """``provider:model`` and the other fields, for messages."""
        f = self.fields
        head = ":".join(x for x in (f.get("provider"), f.get("model")) if x) or "?"
        rest = [f"{k}={v}" for k, v in f.items() if k not in ("provider", "model")]
        return head + (f" ({', '.join(rest)})" if rest else "")

    def differences(self, now: JudgeRecord) -> list[str]:
        """Which fields differ from ``now``: ``"model: registered a, now b"``.

        Parameters
        ----------
        now : JudgeRecord
            The judge configured now.

        Returns
        -------
        list of str
            Empty when the hashes agree.
        """
        if self.hash == now.hash:
            return []
        keys = list(now.fields) + [k for k in self.fields if k not in now.fields]
        out = [f"{k}: registered {self.fields.get(k, '(none)')}, now "
               f"{now.fields.get(k, '(none)')}"
               for k in keys if self.fields.get(k) != now.fields.get(k)]
        return out or [f"judge hash: registered {self.hash[:12]}, now {now.hash[:12]}"]


def judge_record(tags: Mapping[str, str] | None, *, alias: str | None = None
                 ) -> JudgeRecord | None:
    """Read back the judge :func:`judge_tags` recorded.

    Parameters
    ----------
    tags : mapping, optional
        A registry version's tags.
    alias : str, optional
        Read the judge the alias was set with; when the version has none for that alias,
        the version's own record is read.

    Returns
    -------
    JudgeRecord or None
        None when the tags record no judge (a version registered before judgecal recorded
        judges, or not by judgecal).
    """
    if not tags:
        return None
    roots = ([_root(alias)] if alias is not None else []) + [_root(None)]
    for root in roots:
        found = tags.get(f"{root}.judge_hash")
        if found:
            prefix = f"{root}.judge."
            fields = {k[len(prefix):]: v for k, v in tags.items() if k.startswith(prefix)}
            return JudgeRecord(found, fields)
    return None
