"""The run of a call whose client sends no run id (issue 10, item 14): its W3C
traceparent, else its connection or HTTP session, else its principal within
one window of the clock - computed, so that every process names it alike
(issue 14). Pure: the SDK's own `Connection` objects, a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from mcp.server.connection import Connection

from signoff.policies import PrincipalFacts
from signoff.server.clock import FixedClock, SequentialIds
from signoff.server.mcp.runs import RUN_WINDOW, Runs, trace_id_of, window_run
from signoff.server.services.proposals import CallContext

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
AGENT = PrincipalFacts(id="agent:triage", kind="agent", tenant="acme")
OTHER = PrincipalFacts(id="agent:other", kind="agent", tenant="acme")
NONE = CallContext()


class Channel:
    """Stands for a connection's outbound stream: only its identity matters."""


def loop(channel: object, session_id: str | None = None) -> Connection:
    return Connection.for_loop(channel, session_id=session_id)  # type: ignore[arg-type]


def stateless() -> Connection:
    return Connection.from_envelope("2026-07-28", None, None)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def runs(clock: FixedClock) -> Runs:
    return Runs(clock, SequentialIds())


def test_a_traceparent_names_its_trace() -> None:
    assert trace_id_of(TRACEPARENT) == TRACE_ID
    for bad in [None, 7, "", "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
                f"00-{TRACE_ID}-{'0' * 16}-01", f"ff-{TRACE_ID}-00f067aa0ba902b7-01",
                TRACEPARENT.upper(), TRACEPARENT + "-extra",
                f"00-{TRACE_ID[:-1]}-00f067aa0ba902b7-01"]:
        assert trace_id_of(bad) is None, bad
    # A later version may append fields; the first four keep their meaning.
    assert trace_id_of(f"01-{TRACE_ID}-00f067aa0ba902b7-01-more") == TRACE_ID


def test_what_the_client_sends_wins(runs: Runs) -> None:
    run = runs.of(CallContext(run_id="mine"), {"traceparent": TRACEPARENT}, stateless(), AGENT)
    assert (run.call.run_id, run.source) == ("mine", "client")


def test_a_traceparent_groups_calls_across_connections(runs: Runs) -> None:
    first = runs.of(NONE, {"traceparent": TRACEPARENT}, loop(Channel()), AGENT)
    second = runs.of(NONE, {"traceparent": TRACEPARENT}, stateless(), AGENT)
    assert first.call.run_id == second.call.run_id == f"trace:{TRACE_ID}"
    assert first.source == "traceparent"


def test_one_run_per_connection(runs: Runs) -> None:
    channel, other = Channel(), Channel()
    # The 2026-07-28 protocol builds a Connection per request on one stream:
    # the stream (its outbound channel) is what stays.
    a1 = runs.of(NONE, None, loop(channel), AGENT)
    a2 = runs.of(NONE, {"traceparent": "garbage"}, loop(channel), AGENT)
    b = runs.of(NONE, None, loop(other), AGENT)
    assert a1.call.run_id == a2.call.run_id != b.call.run_id
    assert a1.source == "connection"


def test_one_run_per_http_session_and_principal(runs: Runs) -> None:
    s1 = runs.of(NONE, None, loop(Channel(), "session-1"), AGENT)
    s1_again = runs.of(NONE, None, loop(Channel(), "session-1"), AGENT)
    s2 = runs.of(NONE, None, loop(Channel(), "session-2"), AGENT)
    other = runs.of(NONE, None, loop(Channel(), "session-1"), OTHER)
    assert s1.call.run_id == s1_again.call.run_id
    assert len({s1.call.run_id, s2.call.run_id, other.call.run_id}) == 3
    assert s1.source == "session"


def test_stateless_calls_share_the_run_of_their_window(runs: Runs, clock: FixedClock) -> None:
    clock.now = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)  # a window starts
    first = runs.of(NONE, None, stateless(), AGENT)
    clock.advance(RUN_WINDOW - timedelta(microseconds=1))  # the window's last instant
    second = runs.of(NONE, None, stateless(), AGENT)
    other = runs.of(NONE, None, stateless(), OTHER)
    clock.advance(timedelta(microseconds=1))  # the next window
    later = runs.of(NONE, None, stateless(), AGENT)
    assert first.call.run_id == second.call.run_id
    assert len({first.call.run_id, other.call.run_id, later.call.run_id}) == 3
    assert first.source == "time_window"
    assert first.call.run_id is not None
    assert first.call.run_id.startswith("window:20260101T0900Z:")
    assert later.call.run_id is not None
    assert later.call.run_id.startswith("window:20260101T0930Z:")


def test_a_window_run_is_the_same_in_every_process(clock: FixedClock) -> None:
    # Two processes: their own Runs and id factories, nothing shared but the clock.
    a, b = Runs(clock, SequentialIds()), Runs(clock, lambda prefix: f"{prefix}_b")
    assert a.of(NONE, None, stateless(), AGENT) == b.of(NONE, None, stateless(), AGENT)
    assert a.of(NONE, None, stateless(), AGENT).call.run_id == window_run(
        "acme", "agent:triage", clock())
    # Another tenant of the same principal is another run.
    assert window_run("globex", "agent:triage", clock()) != window_run(
        "acme", "agent:triage", clock())


def test_no_connection_at_all_is_the_stateless_case(runs: Runs) -> None:
    assert runs.of(NONE, None, None, AGENT).source == "time_window"
