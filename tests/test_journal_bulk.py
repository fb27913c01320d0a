"""Writing many journal records at once: ``put_many`` (one transaction) and ``bulk`` (the
puts of a block, written together at its end, or not at all)."""

from __future__ import annotations

import pytest

from harness.journal import CallRecord, Journal


def rec(key: str, score: float = 3.0) -> CallRecord:
    return CallRecord(key=key, status="ok", provider="openai", model="m", params="{}",
                      item_id=f"item-{key}", sample_index=0, messages="[]", score=score)


def test_put_many_writes_every_record_and_replaces_by_key(tmp_path):
    j = Journal(tmp_path)
    assert j.put_many([rec("a"), rec("b"), rec("a", 5.0)]) == 3
    assert j.count() == 2 and j.get("a").score == 5.0 and j.get("b").created_at > 0
    assert j.put_many([]) == 0


def test_a_bulk_block_writes_at_its_end_or_not_at_all(tmp_path):
    j = Journal(tmp_path)
    other = Journal(tmp_path)  # another connection (a second process) sees nothing yet
    with j.bulk():
        j.put(rec("a"))
        with j.bulk():  # nested: the outer block writes
            j.put(rec("b"))
        assert other.count() == 0 and j.count() == 0
    assert other.count() == 2
    with pytest.raises(KeyboardInterrupt), j.bulk():
        j.put(rec("c"))
        raise KeyboardInterrupt
    assert j.get("c") is None and j.count() == 2
    j.put(rec("d"))  # after the block, one transaction per put again
    assert other.get("d") is not None
