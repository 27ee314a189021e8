"""`signoff demo assistant`: one session of the assistant example.

Through a real `mcp.Client` against the real server object, as
`agent:assistant` in tenant `home`: the agent builds context for a
question, saves a plain note (the policy allows it), proposes a fact about
a person (it waits; the owner, `user:sam`, approves it), tries to save an
API key (refused), and calls an allow-listed API — a forecast endpoint the
demo starts on 127.0.0.1 and allow-lists in `endpoints.toml` beside the
database — which the relay's consumer calls once. The last `build_context`
shows the approved memory and not the refused one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from signoff.server.app import App, Database, Settings, build_app, example_file
from signoff.server.delivery import DeliveryConfig, RelayOptions, relay_for
from signoff.server.mcp import FixedIdentity, build_server
from signoff.server.ops.demo import DemoError, OnStep, Session, Step, expect
from signoff.server.ops.demo_assistant_endpoint import forecast_endpoint

AGENT, OWNER, TENANT = "agent:assistant", "user:sam", "home"
ENDPOINTS = "endpoints.toml"
SECRET = "Weather API key: sk-live-4f9a8b7c6d5e4f3a2b1c0d9e"  # noqa: S105 - a fake, refused
PERSON = "Dana (Sam's sister) is allergic to peanuts"


def settings(db: Database) -> Settings:
    return Settings(db=db, domain="assistant", policy=example_file("policy.toml", "assistant"),
                    principals=example_file("principals.toml", "assistant"))


def assistant_endpoints_file(db: Database) -> Path:
    """Where the consumer reads its allow-list: beside the database."""
    return (db.parent if isinstance(db, Path) else Path.cwd()) / ENDPOINTS


@asynccontextmanager
async def _relaying(app: App) -> AsyncIterator[None]:
    relay = relay_for(app, DeliveryConfig(relay=RelayOptions(poll=0.05)))
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(relay.run, stop)
        try:
            yield
        finally:
            stop.set()
    await relay.close()


def _facts(app: App, principal_id: str) -> Any:
    record = app.principals.get(principal_id)
    if record is None:
        raise DemoError(f"the principals file has no {principal_id}")
    return record.facts(TENANT)


async def play_assistant(db: Database, on_step: OnStep = lambda _s: None) -> list[Step]:
    with forecast_endpoint() as forecast:
        assistant_endpoints_file(db).write_text(
            "# Written by `signoff demo assistant`: its local forecast endpoint.\n"
            f'[[endpoint]]\nurl = "{forecast.origin}"\nprivate = true  # 127.0.0.1, on purpose\n')
        async with await build_app(settings(db)) as app:
            await app.seed_if_empty()
            server = build_server(app, FixedIdentity(_facts(app, AGENT)))
            async with server.running(), Client(server) as client, _relaying(app):
                s = Session(client, app.ids("run"), on_step)
                await _story(app, s, forecast.origin)
                if forecast.requests != 1:
                    raise DemoError(f"the endpoint was called {forecast.requests} times")
                s.record("The endpoint counted its requests", "tool",
                         {"requests": forecast.requests})
    return s.steps


async def _story(app: App, s: Session, origin: str) -> None:
    question = "What should I know about Dana, the dentist and tomorrow's weather?"
    await s.call("The agent builds context for the user's question", "build_context",
                 {"question": question, "budget_tokens": 150})
    note = await s.call("It saves a plain note: the policy allows it", "save_memory", {
        "text": "The dentist's practice takes calls on weekdays 9 to 12.", "confidence": 0.9,
        "rationale": "from the dentist letter"})
    expect(note, "status", "executed")
    fact = await s.call("It proposes a fact about a person: it waits for the user",
                        "save_memory", {"text": PERSON, "kind": "person_fact",
                                        "subject": "person:dana", "confidence": 0.8,
                                        "rationale": "Sam said so while planning dinner"})
    expect(fact, "status", "pending_approval")
    await _approve(app, s, str(fact["proposal_id"]))
    secret = await s.call("It tries to save an API key: refused", "save_memory",
                          {"text": SECRET, "confidence": 0.9})
    expect(secret, "status", "rejected")
    called = await s.call("It calls the allow-listed forecast API: allowed, made by the relay",
                          "call_api", {"url": f"{origin}/v1/forecast?city=Lyon",
                                       "confidence": 0.9})
    expect(called, "status", "executed")
    await _answered(s, str(called["aggregate_id"]))
    final = await s.call("It builds context again: the approved fact is there, the key is not",
                         "build_context", {"question": question, "budget_tokens": 150})
    context = str(final.get("context", ""))
    if PERSON not in context or "sk-live" in context:
        raise DemoError(f"the context is not what the story says: {context}")


async def _approve(app: App, s: Session, proposal_id: str) -> None:
    vote = await app.approvals.approve(_facts(app, OWNER), proposal_id, digest=None,
                                       channel="cli", comment="Yes, remember that.")
    s.record(f"The user ({OWNER}) approves it, and the executor commits it", "review", {
        "voter": OWNER, "roles": list(vote.vote.voter_roles), "channel": vote.vote.channel,
        "payload_digest": vote.vote.payload_digest, "still_needed": vote.still_needed,
        "status": vote.proposal.status,
        "events": [{"event_type": e.event_type, "aggregate_id": e.aggregate_id,
                    "aggregate_version": e.aggregate_version, "position": e.position}
                   for e in (vote.execution.events if vote.execution else [])]})
    expect({"status": vote.proposal.status}, "status", "executed")


async def _answered(s: Session, call_id: str) -> None:
    """The call's state once the relay's consumer has made it."""
    for _ in range(300):
        view = await s.peek("get_api_call", {"call_id": call_id})
        if view.get("status") not in ("requested", "started"):
            break
        await anyio.sleep(0.05)
    await s.call("It reads the recorded answer", "get_api_call", {"call_id": call_id})
    expect(view, "status", "completed")
