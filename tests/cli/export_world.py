"""The history the export tests read: the casework demo (`signoff demo`), then
two more agent runs through a real MCP client (in process): one three days
ago in acme, under a domain that marks a brief's summary sensitive, whose
agent pastes a fake API key into a brief and an argument and whose
escalation a supervisor rejects; and one now in globex, followed by a
proposal made without any tool call."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from mcp import Client
from mcp_types import RequestParamsMeta

from signoff.server.app import Settings, build_app
from signoff.server.clock import FixedClock, system_clock
from signoff.server.mcp import FixedIdentity, build_server
from tests.conftest import principal

HERE = Path(__file__).resolve().parent
SENSITIVE_DOMAIN = str(HERE / "sensitive_casework.py")
FAKE_KEY = "sk-proj-FAKEFAKEFAKEFAKEFAKE0000"
# In a free-text field no domain marks: only its shape gives it away.
MAILED_KEY = "sk-FAKEFAKEFAKEFAKEFAKEFAKE1111"
RATIONALE = f"Unlicensed advice; the adviser mailed the client {MAILED_KEY}."
STREET = "12 Hidden Lane"
OLD_RUN, GLOBEX_RUN = "run-three-days-ago", "run-globex"
REJECTION = "Two items of evidence are not enough to escalate."


def _meta(run_id: str) -> RequestParamsMeta:
    return cast(RequestParamsMeta, {"signoff/run_id": run_id})


async def old_acme_run(db: Path) -> str:
    """The run three days ago; returns its rejected escalation's id."""
    clock = FixedClock(system_clock() - timedelta(days=3))
    settings = Settings(db=db, domain=SENSITIVE_DOMAIN, clock=clock)
    async with await build_app(settings) as app:
        server = build_server(app, FixedIdentity(principal(app, "agent:triage")))
        async with server.running(), Client(server) as client:
            async def call(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
                clock.advance(timedelta(seconds=1))
                result = await client.call_tool(tool, arguments, meta=_meta(OLD_RUN))
                return dict(result.structured_content or {})

            await call("get_case_summary", {"case_id": "case-acme-002"})
            await call("search_evidence", {"case_id": "case-acme-002", "query": "licence"})
            await call("create_analyst_brief", {
                "case_id": "case-acme-002", "confidence": 0.9,
                "summary": f"The adviser lives at {STREET}; the vendor key {FAKE_KEY} leaked."})
            await call("create_analyst_brief", {
                "case_id": "case-acme-002", "summary": "noted", "confidence": 0.9,
                "api_key": FAKE_KEY})
            summary = await call("get_case_summary", {"case_id": "case-acme-002"})
            escalation = await call("propose_case_escalation", {
                "case_id": "case-acme-002", "rationale": RATIONALE,
                "evidence_refs": ["ev-acme-002-a", "ev-acme-002-b"], "confidence": 0.8,
                "expected_version": summary["version"]})
            await server.runtime_log.flush()
        proposal_id = str(escalation["proposal_id"])
        proposal = await app.store.read(lambda uow: uow.proposals.get(proposal_id, "acme"))
        assert proposal is not None, escalation
        await app.approvals.reject(principal(app, "user:alice"), proposal_id, reason=REJECTION,
                                   digest=proposal.payload_digest, channel="cli")
    return proposal_id


async def globex_run(db: Path) -> None:
    async with await build_app(Settings(db=db)) as app:
        server = build_server(app, FixedIdentity(principal(app, "agent:triage", "globex")))
        async with server.running(), Client(server) as client:
            cases = await client.call_tool("list_cases", {}, meta=_meta(GLOBEX_RUN))
            case_id = (cases.structured_content or {})["cases"][0]["case_id"]
            await client.call_tool("create_analyst_brief", {
                "case_id": case_id, "summary": "Reviewed the file.", "confidence": 0.9},
                meta=_meta(GLOBEX_RUN))
            await server.runtime_log.flush()
        # A proposal made without a tool call (a script on the service API):
        # no run, nothing the agent read before it.
        receipt = await app.proposals.submit(
            principal(app, "agent:triage", "globex"), "brief.create",
            {"case_id": case_id, "summary": "Filed by a script.", "confidence": 0.9})
        assert receipt.status == "executed", receipt


def recorded_before_datasets(db: Path, into: Path) -> Path:
    """A copy of `db` as a store recorded before the runtime log kept
    arguments and results, and before decisions kept their input: those
    fields cleared (the append-only guards lifted for it, on the copy only)."""
    with sqlite3.connect(db) as source, sqlite3.connect(into) as target:
        source.backup(target)
    source.close()
    target.close()
    conn = sqlite3.connect(into)
    with conn:
        for (trigger,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name IN ('runtime_log', 'decisions', 'proposals')").fetchall():
            conn.execute(f'DROP TRIGGER "{trigger}"')
        conn.execute("UPDATE runtime_log SET doc = json_remove(doc, '$.arguments', '$.result')")
        conn.execute("UPDATE decisions SET doc = json_remove(doc, '$.judged')")
        conn.execute("UPDATE proposals SET doc = json_remove(doc, '$.decision.judged')")
    conn.close()
    return into
