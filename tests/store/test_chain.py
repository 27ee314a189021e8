"""`chain.stamp`, which every adapter's append uses: its hashes are exactly
`event_hash` of the events as stamped, chained one to the next."""

from __future__ import annotations

from signoff.store.canonical import event_hash
from signoff.store.chain import stamp
from tests.store.factories import event


def test_each_hash_is_the_event_hash_of_the_stamped_event() -> None:
    events = [event("case-1", 1), event("case-1", 2, payload={"b": [1, {"c": None}]}),
              event("case-2", 1, event_type="case.closed")]
    stamped = stamp(events, 41, "abc")
    assert [e.position for e in stamped] == [42, 43, 44]
    assert [e.prev_hash for e in stamped] == ["abc", stamped[0].hash, stamped[1].hash]
    for e in stamped:
        assert e.hash == event_hash(e)
    assert [e.model_copy(update={"position": 0, "prev_hash": "", "hash": ""})
            for e in stamped] == events


def test_an_empty_batch_stamps_nothing() -> None:
    assert stamp([], 7, "h") == []
