"""How fast is one policy decision, relative to one bare CEL evaluation?

    python bench/bench_policy.py [--quick] [--json] [--rounds N] [--samples N] [--check]

Builds a 50-rule policy (seven command types, prefix rules, principal selectors,
conditions over payload, proposal, aggregate and run), then times
`Gate.evaluate` on representative inputs and, in the same run, one compiled CEL
expression evaluated directly through the binding. The gate's goal is to stay
within 3x that bare call (which is given only the two maps it reads): indexing
by command type, one combined runtime call per decision over only the fields
the conditions read, and remembered decisions are what keep it there. Medians
of many single calls, after a warm-up, timed with perf_counter_ns. `--check`
exits 1 above the goal. Rounds alternate the bare call with the gate (the
median of per-round ratios is reported, with its spread).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from benchlib import emit, parser
from cel_expr_python import cel
from rich.console import Console
from rich.table import Table
from rounds import Row, alternate, at_most, ratio_row, value_row

from signoff.policies import (
    AggregateFacts,
    Gate,
    PolicyInput,
    PrincipalFacts,
    ProposalFacts,
    RunFacts,
    parse_policy,
)
from signoff.policies.bindings import variables

BENCH = "policy"
GOAL = 3.0
COMMANDS = ("brief.create", "notice.create_draft", "notice.approve", "notice.send",
            "case.update_risk", "case.escalate", "case.close")
BASELINE_EXPR = 'proposal.confidence >= 0.9 && payload.risk_level != "critical"'


def _rule(rule_id: str, commands: list[str], effect: str, *, when: str | None = None,
          principals: str | None = None, approvers: str | None = None) -> str:
    lines = ["[[rule]]", f'id = "{rule_id}"', f"commands = {json.dumps(commands)}",
             f'effect = "{effect}"', f'reason = "{effect} ({rule_id})"']
    if when:
        lines.append(f"when = '{when}'")
    if principals:
        lines.append(f"principals = {principals}")
    if approvers:
        lines.append(f"approvers = {approvers}")
    return "\n".join(lines)


def policy_text() -> str:
    """A realistic 50-rule policy: the demo's rules plus the kind of guards a
    production desk accumulates (per-kind selectors, tenant and status checks)."""
    sup = '{ roles = ["supervisor"], count = 1 }'
    legal = '{ roles = ["legal"], count = 1 }'
    rules = [
        _rule("brief.allow", ["brief.create"], "allow"),
        _rule("draft.allow", ["notice.create_draft"], "allow"),
        _rule("risk.allow", ["case.update_risk"], "allow",
              when='proposal.confidence >= 0.9 && payload.risk_level != "critical"'),
        _rule("risk.ask", ["case.update_risk"], "ask", approvers=sup,
              when='!(proposal.confidence >= 0.9 && payload.risk_level != "critical")'),
        _rule("escalate.deny", ["case.escalate"], "deny",
              when="size(proposal.evidence_refs) == 0 || proposal.confidence < 0.5"),
        _rule("escalate.ask", ["case.escalate"], "ask", approvers=sup),
        _rule("approve.ask", ["notice.approve"], "ask", approvers=legal),
        _rule("send.allow", ["notice.send"], "allow"),
        _rule("close.ask", ["case.close"], "ask",
              approvers='{ roles = ["supervisor", "legal"], count = 2, distinct = true }'),
        _rule("case.deny-closed", ["case.*"], "deny",
              when='has(aggregate.status) && aggregate.status == "closed"'),
        _rule("notice.deny-services", ["notice.*"], "deny", principals='{ kinds = ["service"] }'),
        _rule("case.deny-frozen-tenant", ["case.*"], "deny", when='principal.tenant == "frozen"'),
    ]
    # Per-command guards that select principals statically or by condition.
    for i, command in enumerate(COMMANDS):
        rules.append(_rule(f"{command}.deny-run-burst", [command], "deny",
                           when="run.proposals_so_far > 40 && proposal.confidence < 0.3"))
        rules.append(_rule(f"{command}.analyst-allow", [command], "allow",
                           principals='{ kinds = ["user"], roles = ["analyst"] }',
                           when=f"proposal.confidence > 0.{9 - i % 3}5"))
        rules.append(_rule(f"{command}.service-deny", [command], "deny",
                           principals='{ kinds = ["service"] }'))
        rules.append(_rule(f"{command}.huge-payload-ask", [command], "ask", approvers=sup,
                           principals='{ kinds = ["user"] }', when="size(payload) > 20"))
    rules.extend(
        _rule(f"legacy.{n}.deny", [f"legacy.op{n}"], "deny") for n in range(50 - len(rules))
    )
    assert len(rules) == 50, len(rules)
    return "\n\n".join(["[limits]\nproposals_per_run = 50\nper_agent_per_hour = 500", *rules])


def inputs() -> dict[str, PolicyInput]:
    agent = PrincipalFacts(id="agent:triage", kind="agent", tenant="acme")
    case = AggregateFacts(type="case", id="case-001", version=3, status="under_review",
                          fields={"risk_level": "medium", "assigned_team": "north"})
    run = RunFacts(id="run-1", proposals_so_far=4, principal_proposals_last_hour=12)
    evidence = ProposalFacts(rationale="pattern across complaints", confidence=0.92,
                             evidence_refs=("ev-001", "ev-002"))
    payload = {"case_id": "case-001", "risk_level": "high", "expected_version": 3}
    return {
        "risk update, confident (allow)": PolicyInput(
            principal=agent, command_type="case.update_risk", payload=payload,
            proposal=evidence, aggregate=case, run=run),
        "escalation with evidence (ask)": PolicyInput(
            principal=agent, command_type="case.escalate",
            payload={"case_id": "case-001", "expected_version": 3},
            proposal=evidence, aggregate=case, run=run),
        "escalation, no evidence (deny)": PolicyInput(
            principal=agent, command_type="case.escalate",
            payload={"case_id": "case-003", "expected_version": 1},
            proposal=ProposalFacts(confidence=0.8), aggregate=case, run=run),
        "brief (allow)": PolicyInput(
            principal=agent, command_type="brief.create",
            payload={"case_id": "case-001", "summary": "three complaints, one supplier"},
            proposal=evidence, aggregate=case, run=run),
        "closure (ask, 2 distinct)": PolicyInput(
            principal=agent, command_type="case.close",
            payload={"case_id": "case-001", "expected_version": 3},
            proposal=evidence, aggregate=case, run=run),
        "unlisted command (default deny)": PolicyInput(
            principal=agent, command_type="case.reopen", payload={"case_id": "case-001"},
            proposal=evidence, aggregate=case, run=run),
    }


def median_ns(call: Callable[[], object], samples: int) -> float:
    timings = []
    clock = time.perf_counter_ns
    for _ in range(samples):
        start = clock()
        call()
        timings.append(clock() - start)
    return float(statistics.median(timings))


async def run(rounds: int, samples: int) -> tuple[list[Row], list[dict[str, Any]]]:
    """Rounds alternate the bare CEL call with the gate on every input; the
    per-round ratio is the gate's median over the inputs ÷ the bare median."""
    gate = Gate(parse_policy(policy_text(), source="<bench>"))
    cases = inputs()
    # The baseline: one compiled expression, evaluated straight through the
    # binding on the same input, given only the two variables it reads.
    dyn_map = cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
    env = cel.NewEnv(variables={name: dyn_map for name in
                                ("principal", "proposal", "payload", "aggregate", "run")})
    program = env.compile(BASELINE_EXPR)
    data = variables(cases["risk update, confident (allow)"], {"proposal": None, "payload": None})

    def bare() -> None:
        program.eval(data=data).value()

    for _ in range(max(1000, samples // 10)):  # warm-up, both sides
        bare()
        for inp in cases.values():
            gate.evaluate(inp)
    per_input: dict[str, list[float]] = {name: [] for name in cases}

    def gate_arm() -> float:
        for name, inp in cases.items():
            per_input[name].append(median_ns(partial(gate.evaluate, inp), samples))
        return statistics.median(values[-1] for values in per_input.values()) / 1000

    got = await alternate({"bare": lambda: median_ns(bare, samples) / 1000, "gate": gate_arm},
                          rounds)
    detail = []
    for name, inp in cases.items():
        decision = gate.evaluate(inp)
        took = statistics.median(per_input[name]) / 1000
        detail.append({"input": name, "effect": decision.effect, "rule_id": decision.rule_id,
                       "candidates": len(gate.policy.candidates(inp.command_type)),
                       "median_us": took, "ratio": took / statistics.median(got["bare"])})
    rows = [
        ratio_row(BENCH, f"policy decision ({len(gate.policy.rules)} rules) ÷ one bare CEL eval",
                  ("gate", got["gate"]), ("bare", got["bare"]), at_most(GOAL), unit="µs",
                  samples=samples),
        value_row(BENCH, "policy decision, median over inputs", got["gate"], "µs"),
    ]
    return rows, detail


def show(detail: list[dict[str, Any]]) -> None:
    table = Table("input", "decision", "candidates", "µs/decision", "× bare CEL",
                  title="Gate.evaluate by input (medians over rounds)")
    for row in detail:
        table.add_row(row["input"], f"{row['effect']} ({row['rule_id']})",
                      str(row["candidates"]), f"{row['median_us']:.2f}", f"{row['ratio']:.2f}")
    Console(stderr=True).print(table)


async def main() -> int:
    p = parser(__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--samples", type=int, default=None, help="timed calls per input per round")
    p.add_argument("--check", action="store_true", help="exit 1 above the goal ratio")
    args = p.parse_args()
    samples = args.samples or (2_000 if args.quick else 10_000)
    rows, detail = await run(args.rounds or (5 if args.quick else 9), samples)
    rows[0].detail["inputs"] = detail
    if not args.json:
        show(detail)
    emit(rows, args.json, "policy gate vs bare CEL")
    return 1 if args.check and rows[0].met is False else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
