"""The policy gate: one `PolicyInput` in, one `Decision` out, in microseconds.

Pure: no clock, no store, no I/O except an explicit `reload`. The gate reads its
policy once per call, so a reload swaps policies atomically between decisions,
and a file that fails to load never replaces the policy in force.

Conditions that cannot be evaluated fail closed: an erroring `allow` does not
match, an erroring `ask` or `deny` does. The trace records the error and the
reason says so, because a silent fallback would hide a broken rule.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

from signoff.policies.bindings import builder
from signoff.policies.cel_runtime import Bindings, EvalError, bind
from signoff.policies.combine import strictest
from signoff.policies.loader import load_policy
from signoff.policies.model import Decision, PolicyInput, PrincipalFacts, RuleTrace
from signoff.policies.plan import Plan
from signoff.policies.policy import Policy
from signoff.policies.rules import Rule

DEFAULT_RULE = "default.deny"
ALL_VARIABLES = builder()


class Gate:
    """Decides proposals under the policy in force; swap it with `reload`."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy

    @property
    def policy(self) -> Policy:
        return self._policy

    def replace(self, policy: Policy) -> bool:
        """Put `policy` in force; True when its version differs from the old one."""
        changed = policy.version != self._policy.version
        self._policy = policy
        return changed

    def reload(self, path: Path, known_commands: Collection[str] | None = None) -> bool:
        """Load `path` and put it in force; True when the version changed.

        Raises PolicyLoadError and keeps the current policy if the file is bad.
        `known_commands` defaults to the list the current policy was checked against.
        """
        known = known_commands if known_commands is not None else self._policy.known_commands
        return self.replace(load_policy(path, known))

    def evaluate(self, inp: PolicyInput) -> Decision:
        """The decision for `inp`. Every candidate rule is evaluated and traced;
        a breached limit decides at once, before any rule."""
        return _decide(self._policy, inp, full=False)

    def explain(self, inp: PolicyInput) -> Decision:
        """Like `evaluate`, but the rules are traced even when a limit decides."""
        return _decide(self._policy, inp, full=True)

    def may_propose(self, principal: PrincipalFacts, command_type: str) -> bool:
        """Whether some allow or ask rule could apply to `principal` for this
        command, ignoring `when` conditions and limits. An unconditional deny
        that selects the principal makes it False."""
        selected = [r for r in self._policy.candidates(command_type) if _selects(r, principal)]
        if any(r.effect == "deny" and r.unconditional for r in selected):
            return False
        return any(r.effect != "deny" for r in selected)


def _selects(rule: Rule, principal: PrincipalFacts) -> bool:
    return rule.selector is None or rule.selector.selects(principal)


def _limit_trace(policy: Policy, inp: PolicyInput) -> RuleTrace | None:
    """The limits bound agents, per principal across all its tenants: the
    hourly cap its proposals in the last hour, the per-run limit those of one
    run (the caller counts run-less proposals as one run). People and
    services (the delivery notifier) are not rate-limited."""
    limits, run = policy.limits, inp.run
    if inp.principal.kind != "agent":
        return None
    if limits.proposals_per_run is not None and run.proposals_so_far >= limits.proposals_per_run:
        return RuleTrace(
            rule_id="limits.proposals_per_run", effect="deny", matched=True,
            note=f"limit of {limits.proposals_per_run} proposals per run reached "
                 f"({run.proposals_so_far} already)",
        )
    cap = limits.per_agent_per_hour
    if cap is not None and run.principal_proposals_last_hour >= cap:
        return RuleTrace(
            rule_id="limits.per_agent_per_hour", effect="deny", matched=True,
            note=f"limit of {cap} proposals per hour reached "
                 f"({run.principal_proposals_last_hour} in the last hour)",
        )
    return None


Result = bool | EvalError | None  # None: the rule does not select the principal


def _decide(policy: Policy, inp: PolicyInput, *, full: bool) -> Decision:
    limit = _limit_trace(policy, inp)
    if limit is not None and not full:
        return Decision(effect="deny", rule_id=limit.rule_id, reason=limit.note,
                        policy_version=policy.version, trace=(limit,))
    plan = policy.plan(inp.command_type)
    selected = plan.selection(inp.principal)
    evaluation = plan.evaluation(selected)
    decision: Decision | None
    bits: int | EvalError = 0
    if evaluation.bitmask is not None:
        bits = evaluation.bitmask.evaluate(evaluation.build(inp))
    if isinstance(bits, int):
        decision = evaluation.decisions.get(bits)
        if decision is None:
            held = {index: bool(bits >> bit & 1)
                    for bit, index in enumerate(evaluation.conditional)}
            decision = _verdict(policy, plan, _results(plan, selected, held.get))
            evaluation.remember(bits, decision)
    else:  # some condition errored: find out which, one by one, on the full input
        bindings = bind(ALL_VARIABLES(inp))
        decision = _verdict(policy, plan, _results(
            plan, selected, lambda i: _evaluate_one(plan.rules[i], bindings)))
    if limit is None:
        return decision
    return Decision(effect="deny", rule_id=limit.rule_id, reason=limit.note,
                    policy_version=policy.version, trace=(limit, *decision.trace))


def _results(plan: Plan, selected: int, condition: Callable[[int], Result]) -> list[Result]:
    """Per rule: None if it does not select the principal, True for no condition,
    else what `condition(position)` says."""
    return [
        None if not selected >> i & 1 else True if rule.when is None else condition(i)
        for i, rule in enumerate(plan.rules)
    ]


def _evaluate_one(rule: Rule, bindings: Bindings) -> Result:
    return rule.when.evaluate(bindings) if rule.when is not None else True


def _verdict(policy: Policy, plan: Plan, results: list[Result]) -> Decision:
    """Combine per-rule results (in the plan's deny, ask, allow order)."""
    traces: list[RuleTrace] = []
    matched: list[Rule] = []
    errors: dict[str, str] = {}
    for rule, result in zip(plan.rules, results, strict=True):
        if result is None:
            traces.append(rule.trace_unselected)
        elif isinstance(result, EvalError):
            errors[rule.id] = result.message
            fails_closed = rule.effect != "allow"
            outcome = "treated as matching (fail closed)" if fails_closed else \
                "treated as not matching (an allow never fails open)"
            traces.append(RuleTrace(rule_id=rule.id, effect=rule.effect, matched=fails_closed,
                                    note=f"condition failed to evaluate; {outcome}",
                                    error=result.message))
            if fails_closed:
                matched.append(rule)
        elif result:
            traces.append(rule.trace_matched)
            matched.append(rule)
        else:
            traces.append(rule.trace_unmatched)
    version, trace = policy.version, tuple(traces)
    if not matched:
        reason = f"no rule allows {plan.command_type!r} for this principal"
        if errors:
            reason += "; " + "; ".join(f"rule {rid!r} could not be evaluated ({msg})"
                                       for rid, msg in errors.items())
        return Decision(effect="deny", rule_id=DEFAULT_RULE, reason=reason,
                        policy_version=version, trace=trace)
    first = matched[0]  # rules come deny-first, so this one has the deciding effect
    reason = first.reason
    if first.id in errors:
        reason += f" (condition could not be evaluated: {errors[first.id]}; fail closed)"
    if first.effect != "ask":
        return Decision(effect=first.effect, rule_id=first.id, reason=reason,
                        policy_version=version, trace=trace)
    asks = [r for r in matched if r.effect == "ask"]
    demands = [r.approvers for r in asks if r.approvers is not None]
    if len(asks) > 1:
        reason += " (combined with " + ", ".join(repr(r.id) for r in asks[1:]) + ")"
    return Decision(effect="ask", rule_id=first.id, reason=reason, policy_version=version,
                    approvers=strictest(demands), trace=trace)
