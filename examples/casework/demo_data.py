"""Demo data: two tenants of a regulatory enforcement desk.

Deterministic by construction (fixed ids, fixed dates, no clock, no random) so
that `signoff demo`, the end-to-end tests and a reader of the docs all see the
same cases. `acme` has three open cases, and case-acme-003 deliberately has no
evidence, so the escalation rules have something to refuse; `globex` exists so
that tenant isolation has something to hide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from signoff.examples.casework import events as ev
from signoff.examples.casework.state import CASE, EVIDENCE, RiskLevel
from signoff.server import NewEvent, SeedEvent


@dataclass(frozen=True)
class DemoEvidence:
    evidence_id: str
    title: str
    summary: str
    kind: str
    collected_at: str


@dataclass(frozen=True)
class DemoCase:
    tenant_id: str
    case_id: str
    title: str
    allegation_summary: str
    assigned_team: str
    risk_level: RiskLevel
    evidence: tuple[DemoEvidence, ...] = ()


DEMO_CASES: Final[tuple[DemoCase, ...]] = (
    DemoCase(
        "acme", "case-acme-001", "Northgate Securities: undisclosed advisory fees",
        "Northgate Securities is alleged to have charged retail clients layered advisory and "
        "platform fees that its fee schedule and suitability letters did not disclose.",
        "markets-conduct", "medium",
        (
            DemoEvidence("ev-acme-001-a", "Fee schedule vs. client statements",
                         "The published fee schedule lists a 0.75% advisory fee; 40 sampled "
                         "client statements show an additional 0.40% platform fee deducted "
                         "quarterly.", "document", "2024-02-12"),
            DemoEvidence("ev-acme-001-b", "Recorded sales call, 3 March",
                         "A Northgate adviser tells a retired client the portfolio has 'no "
                         "fees beyond the advisory fee'.", "recording", "2024-03-05"),
            DemoEvidence("ev-acme-001-c", "Consumer complaints about hidden fees",
                         "Eleven complaints received in six months, each describing charges "
                         "the client says were never explained.", "complaint", "2024-03-20"),
        ),
    ),
    DemoCase(
        "acme", "case-acme-002", "CoinHarbor: unlicensed crypto-asset exchange",
        "CoinHarbor is alleged to offer crypto-asset exchange and custody services to "
        "domestic residents without registration as a crypto-asset service provider.",
        "fintech-perimeter", "high",
        (
            DemoEvidence("ev-acme-002-a", "Website capture offering services to residents",
                         "Archived pages advertise local-currency deposits, a domestic phone "
                         "line and custody of client crypto-assets.", "web_capture",
                         "2024-04-02"),
            DemoEvidence("ev-acme-002-b", "Register search: no licence held",
                         "The public register and the licensing team confirm CoinHarbor holds "
                         "no registration or licence.", "register_extract", "2024-04-03"),
        ),
    ),
    DemoCase(
        "acme", "case-acme-003", "Ridgeview Mutual: delayed claim payouts",
        "A whistleblower alleges Ridgeview Mutual routinely delays approved home-insurance "
        "claim payouts beyond the statutory period.",
        "insurance-supervision", "low",
    ),
    DemoCase(
        "globex", "case-globex-001", "Pinecrest Advisers: cherry-picking of block trades",
        "Pinecrest Advisers is alleged to allocate profitable block trades to its principals' "
        "accounts after the fact and losing ones to client accounts.",
        "asset-management", "high",
        (
            DemoEvidence("ev-globex-001-a", "Trade allocation logs, Q1",
                         "Allocations were entered on average 3 hours after execution; "
                         "principal accounts received 82% of first-day gains.", "document",
                         "2024-05-10"),
            DemoEvidence("ev-globex-001-b", "Custodian account statements",
                         "Statements for two principal accounts show returns far above "
                         "comparable client accounts over the same period.", "document",
                         "2024-05-14"),
        ),
    ),
    DemoCase(
        "globex", "case-globex-002", "Lumen Payments: anti-money-laundering control failures",
        "Lumen Payments is alleged to have onboarded high-risk merchants without enhanced due "
        "diligence and to have filed suspicious activity reports late.",
        "financial-crime", "medium",
        (
            DemoEvidence("ev-globex-002-a", "Onboarding file sample",
                         "Nine of 25 sampled high-risk merchant files lack enhanced due "
                         "diligence records.", "document", "2024-06-03"),
            DemoEvidence("ev-globex-002-b", "Suspicious activity report timeline",
                         "Reports filed an average of 47 days after the triggering "
                         "transactions, against a 30-day requirement.", "analysis",
                         "2024-06-11"),
        ),
    ),
)


def _case_events(case: DemoCase) -> list[SeedEvent]:
    opened = NewEvent(
        ev.CASE_OPENED,
        {
            "title": case.title,
            "allegation_summary": case.allegation_summary,
            "assigned_team": case.assigned_team,
            "risk_level": case.risk_level,
        },
        version=ev.EVENT_VERSIONS[ev.CASE_OPENED],
    )
    seeds = [SeedEvent(case.tenant_id, CASE, case.case_id, opened)]
    for item in case.evidence:
        collected = NewEvent(
            ev.EVIDENCE_COLLECTED,
            {"case_id": case.case_id, "title": item.title, "summary": item.summary,
             "kind": item.kind, "collected_at": item.collected_at},
        )
        linked = NewEvent(ev.CASE_EVIDENCE_LINKED, {"evidence_id": item.evidence_id})
        seeds += [
            SeedEvent(case.tenant_id, EVIDENCE, item.evidence_id, collected),
            SeedEvent(case.tenant_id, CASE, case.case_id, linked),
        ]
    return seeds


def demo_data() -> list[SeedEvent]:
    """Every case opened, then each evidence item collected and linked to it."""
    return [seed for case in DEMO_CASES for seed in _case_events(case)]
