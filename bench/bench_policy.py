"""How fast is one policy decision, relative to one bare CEL evaluation?

    python bench/bench_policy.py [--json] [--samples N] [--check]

Builds a 50-rule policy (seven command types, prefix rules, principal selectors,
conditions over payload, proposal, aggregate and run), then times
`Gate.evaluate` on representative inputs and, in the same run, one compiled CEL
expression evaluated directly through the binding. The gate's goal is to stay
within 3x that bare call (which is given only the two maps it reads): indexing
by command type, one combined runtime call per decision over only the fields
the conditions read, and remembered decisions are what keep it there. Medians
of many single calls, after a warm-up, timed with perf_counter_ns. `--check`
exits 1 above the goal.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from cel_expr_python import cel
from rich.console import Console
from rich.table import Table

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
    for _ in range(max(1000, samples // 10)):
        call()
    timings = []
    clock = time.perf_counter_ns
    for _ in range(samples):
        start = clock()
        call()
        timings.append(clock() - start)
    return float(statistics.median(timings))


def run(samples: int) -> dict[str, Any]:
    gate = Gate(parse_policy(policy_text(), source="<bench>"))
    cases = inputs()
    # The baseline: one compiled expression, evaluated straight through the
    # binding on the same input, given only the two variables it reads.
    dyn_map = cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
    env = cel.NewEnv(variables={name: dyn_map for name in
                                ("principal", "proposal", "payload", "aggregate", "run")})
    program = env.compile(BASELINE_EXPR)
    data = variables(cases["risk update, confident (allow)"], {"proposal": None, "payload": None})
    bare = median_ns(lambda: program.eval(data=data).value(), samples)
    rows: list[dict[str, Any]] = []
    for name, inp in cases.items():
        decision = gate.evaluate(inp)
        took = median_ns(lambda inp=inp: gate.evaluate(inp), samples)  # type: ignore[misc]
        rows.append({"input": name, "effect": decision.effect, "rule_id": decision.rule_id,
                     "candidates": len(gate.policy.candidates(inp.command_type)),
                     "median_us": took / 1000, "ratio": took / bare})
    overall = statistics.median(r["median_us"] for r in rows)
    return {"rules": len(gate.policy.rules), "samples": samples, "bare_cel_us": bare / 1000,
            "gate_median_us": overall, "ratio": overall * 1000 / bare, "goal_ratio": GOAL,
            "within_goal": overall * 1000 / bare <= GOAL, "inputs": rows}


def show(result: dict[str, Any]) -> None:
    table = Table("input", "decision", "candidates", "µs/decision", "× bare CEL",
                  title=f"Gate.evaluate, {result['rules']}-rule policy, "
                        f"median of {result['samples']} calls")
    for row in result["inputs"]:
        table.add_row(row["input"], f"{row['effect']} ({row['rule_id']})",
                      str(row["candidates"]), f"{row['median_us']:.2f}", f"{row['ratio']:.2f}")
    console = Console()
    console.print(table)
    verdict = "within" if result["within_goal"] else "OVER"
    console.print(
        f"bare CEL eval: {result['bare_cel_us']:.2f} µs   gate median: "
        f"{result['gate_median_us']:.2f} µs   ratio {result['ratio']:.2f}× "
        f"({verdict} the {GOAL:.0f}× goal)", highlight=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--samples", type=int, default=20_000, help="timed calls per input")
    parser.add_argument("--check", action="store_true", help="exit 1 above the goal ratio")
    args = parser.parse_args()
    result = run(args.samples)
    if args.json:
        print(json.dumps(result))
    else:
        show(result)
    return 1 if args.check and not result["within_goal"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
