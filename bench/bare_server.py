"""The bare baseline: an `MCPServer` with signoff's tool shapes, constant
answers and no storage, in its own process.

    python bench/bare_server.py                 # stdio
    python bench/bare_server.py --port 8123     # streamable HTTP on 127.0.0.1
"""

from __future__ import annotations

import argparse
from typing import Any

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field


class Summary(BaseModel):
    case_id: str
    status: str = "open"
    risk_level: str = "medium"
    assigned_team: str = "markets-conduct"
    evidence_count: int = 3
    last_updated_at: str = "2024-03-20"
    version: int = 4
    as_of_position: int = 23
    lag: int = 0
    source_refs: list[str] = Field(default_factory=list)


class Receipt(BaseModel):
    proposal_id: str
    status: str = "executed"
    outcome: str = "accepted"
    command_type: str = "brief.create"
    aggregate_id: str
    events: list[dict[str, Any]] = Field(default_factory=list)
    next: str = "Done: the events above are committed."


def build() -> MCPServer:
    server = MCPServer("baseline", log_level="WARNING")
    counter = iter(range(1, 1 << 62))

    @server.tool(name="get_case_summary")
    def get_case_summary(case_id: str) -> Summary:
        return Summary(case_id=case_id, source_refs=[case_id])

    @server.tool(name="create_analyst_brief")
    def create_analyst_brief(case_id: str, summary: str, confidence: float, rationale: str = "",
                             evidence_refs: list[str] | None = None,
                             idempotency_key: str | None = None) -> Receipt:
        number = next(counter)
        return Receipt(proposal_id=f"prop_{number}", aggregate_id=case_id, events=[{
            "event_type": "case.brief_added", "aggregate_id": case_id, "position": number,
            "payload": {"summary": summary}}])

    @server.tool(name="create_notice_draft")
    def create_notice_draft(case_id: str, body: str, confidence: float, rationale: str = "",
                            evidence_refs: list[str] | None = None,
                            idempotency_key: str | None = None) -> Receipt:
        number = next(counter)
        return Receipt(proposal_id=f"prop_{number}", aggregate_id=f"notice_{number}",
                       command_type="notice.create_draft", events=[{
                           "event_type": "notice.drafted", "aggregate_id": f"notice_{number}",
                           "position": number, "payload": {"case_id": case_id, "body": body}}])

    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=None, help="serve streamable HTTP")
    args = parser.parse_args()
    server = build()
    if args.port is None:
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
