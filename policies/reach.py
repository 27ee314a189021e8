"""Rules that can never decide: they never match, or another rule always outranks them.

Static and sound: a rule is reported only when no input could make it decide.
The only conditions evaluated are those that read no variable at all (`1 > 2`),
whose value is the same for every input; any other `when` is taken as possibly
true and possibly false.

Shadowing follows the gate's combination (`combine.py`): deny beats ask beats
allow, and among matching rules of one effect the first in the file names the
decision. So rule R is *shadowed* when, for every command type R names and every
principal R selects, some other rule S names that type, selects that principal,
always matches (no condition, or one constant true; for ask and deny also one
that always fails, since those fail closed), and outranks R: S's effect is
stronger, or it is the same allow or deny effect and S comes first. Asks never
shadow asks: every matching ask adds its approvers to the demand.

Principals are covered by checking R's *least* principals, one per kind R admits
and per role R requires (or with no roles when R requires none): selectors only
test a kind and hold at least one role, so any principal R selects holds
everything one of those holds, and every rule selecting that one selects it too.
"""

from __future__ import annotations

from functools import lru_cache

from signoff.policies.cel_runtime import VARIABLES, Bindings, Condition, EvalError, bind
from signoff.policies.clauses import KINDS
from signoff.policies.combine import RANK
from signoff.policies.findings import Check, Finding
from signoff.policies.model import PrincipalFacts
from signoff.policies.policy import Policy
from signoff.policies.rules import PrincipalSelector, Rule, pattern_matches


@lru_cache(maxsize=1)
def _no_input() -> Bindings:
    return bind({name: {} for name in VARIABLES})


def constant(condition: Condition) -> bool | EvalError | None:
    """What a condition that reads no variable evaluates to, for every input;
    None when it reads any (its value then depends on the input)."""
    if condition.reads:
        return None
    return condition.evaluate(_no_input())


def never_matches(rule: Rule) -> str | None:
    """Why `rule` matches no input at all, or None when some input may match it."""
    value = constant(rule.when) if rule.when is not None else None
    if value is False:
        return f"its condition `{_source(rule)}` is false for every input: it never matches"
    if isinstance(value, EvalError) and rule.effect == "allow":
        return (f"its condition `{_source(rule)}` fails for every input ({value.message}), "
                "and an allow that fails does not match: it never matches")
    return None


def always_fails(rule: Rule) -> str | None:
    """Why an ask or deny rule matches everything it selects because its condition
    cannot be evaluated for any input (fail closed), or None."""
    value = constant(rule.when) if rule.when is not None else None
    if isinstance(value, EvalError) and rule.effect != "allow":
        return (f"its condition `{_source(rule)}` fails for every input ({value.message}), "
                f"so this {rule.effect} matches everything it selects (fail closed)")
    return None


def always_matches(rule: Rule) -> bool:
    """Whether `rule` matches every input of every principal it selects."""
    if rule.when is None:
        return True
    value = constant(rule.when)
    return value is True or (isinstance(value, EvalError) and rule.effect != "allow")


def covers(outer: str, inner: str) -> bool:
    """Whether pattern `outer` matches every command type pattern `inner` matches."""
    if outer == "*":
        return True
    if outer.endswith(".*"):
        return inner.startswith(outer[:-1])
    return outer == inner


def least_principals(selector: PrincipalSelector | None) -> tuple[PrincipalFacts, ...]:
    """The principals a selector admits that hold the least (see the module doc)."""
    kinds = KINDS if selector is None or selector.kinds is None else \
        tuple(k for k in KINDS if k in selector.kinds)
    role_sets: list[tuple[str, ...]] = [()] if selector is None or selector.roles is None \
        else [(role,) for role in sorted(selector.roles)]
    return tuple(PrincipalFacts(id=f"{kind}:*", kind=kind, tenant="*", roles=roles)
                 for kind in kinds for roles in role_sets)


def outranks(stronger: Rule, rule: Rule) -> bool:
    """Whether `stronger`, matching with `rule`, decides instead of it."""
    if RANK[stronger.effect] != RANK[rule.effect]:
        return RANK[stronger.effect] > RANK[rule.effect]
    return rule.effect != "ask" and stronger.position < rule.position


def shadowers(policy: Policy, rule: Rule) -> tuple[Rule, ...]:
    """The rules that decide instead of `rule` whenever it matches; () unless
    they cover every command type and principal it applies to."""
    # In the gate's order (deny, ask, allow; then file order): the first that
    # outranks `rule` for a command and principal is the one that decides.
    strong = sorted((s for s in policy.rules
                     if s is not rule and always_matches(s) and outranks(s, rule)),
                    key=lambda s: (-RANK[s.effect], s.position))
    used: dict[str, Rule] = {}
    for unit in _command_units(policy, rule):
        naming = [s for s in strong if any(covers(p, unit) for p in s.commands)]
        for principal in least_principals(rule.selector):
            found = next((s for s in naming if _selects(s, principal)), None)
            if found is None:
                return ()
            used.setdefault(found.id, found)
    return tuple(sorted(used.values(), key=lambda s: (-RANK[s.effect], s.position)))


def reach_findings(policy: Policy) -> list[Finding]:
    """Rules that never match, match everything by failing, or never decide."""
    found: list[Finding] = []
    for rule in policy.rules:
        never = never_matches(rule)
        if never is not None:
            found.append(_finding(policy, rule, "never_matches", never))
            continue
        fails = always_fails(rule)
        if fails is not None:
            found.append(_finding(policy, rule, "condition_errors", fails))
        by = shadowers(policy, rule)
        if by:
            found.append(Finding("shadowed", policy.source, rule.line, rule.id,
                                 _shadowed_message(rule, by), by=tuple(s.id for s in by)))
    return found


def _command_units(policy: Policy, rule: Rule) -> tuple[str, ...]:
    """What `rule` applies to: the declared command types it matches when the
    policy was checked against a domain, else its own patterns."""
    known = policy.known_commands
    if known is None:
        return rule.commands
    return tuple(sorted(k for k in known if any(pattern_matches(p, k) for p in rule.commands)))


def _selects(rule: Rule, principal: PrincipalFacts) -> bool:
    return rule.selector is None or rule.selector.selects(principal)


def _source(rule: Rule) -> str:
    return rule.when.source if rule.when is not None else ""


def _finding(policy: Policy, rule: Rule, check: Check, message: str) -> Finding:
    return Finding(check, policy.source, rule.line, rule.id, message)


def _how(rule: Rule) -> str:
    if rule.when is None:
        return "no condition"
    return "condition always true" if constant(rule.when) is True else "condition always fails"


def _shadowed_message(rule: Rule, by: tuple[Rule, ...]) -> str:
    names = ", ".join(f"{s.id!r} ({s.effect}, {_how(s)})" for s in by)
    why = []
    stronger = {s.effect for s in by if s.effect != rule.effect}
    if len(stronger) == 1:
        why.append(f"{stronger.pop()} beats {rule.effect}")
    elif stronger:
        why.append(f"deny and ask beat {rule.effect}")
    if any(s.effect == rule.effect for s in by):
        why.append(f"of two {rule.effect} rules the earlier decides")
    return (f"never decides: whenever it matches, {names} "
            f"{'matches' if len(by) == 1 else 'match'} too and decide{'s' if len(by) == 1 else ''}"
            f" instead ({'; '.join(why)})")
