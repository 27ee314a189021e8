"""Reads a policy file into a `Policy`, or explains exactly why it cannot.

Everything that can be checked without an input is checked here, once: keys,
effects, approvers, command names against the domain, and every `when`
expression compiled and type-checked. A policy that loads cannot fail later for
a reason the file could have shown.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from signoff.policies.cel_runtime import CelCompileError, Condition, compile_condition
from signoff.policies.clauses import approvers_from, limits_from, queries_from, selector_from
from signoff.policies.errors import PolicyLoadError, Problem
from signoff.policies.model import Approvers, Effect, RuleTrace
from signoff.policies.policy import Policy
from signoff.policies.rules import PrincipalSelector, Rule
from signoff.policies.toml_checks import Reporter, describe, read_toml

TOP_KEYS = ("rule", "limits", "queries")
RULE_KEYS = ("id", "commands", "effect", "when", "reason", "principals", "approvers")
EFFECTS: tuple[Effect, ...] = ("allow", "ask", "deny")

_NAME = r"[A-Za-z0-9_\-]+"
COMMAND_PATTERN = re.compile(rf"^(?:{_NAME}(?:\.{_NAME})*(?:\.\*)?|\*)$")


def load_policy(path: Path, known_commands: Collection[str] | None = None) -> Policy:
    """Load and validate the policy at `path`. Raises PolicyLoadError."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyLoadError([_unreadable(str(path), exc)]) from None
    return parse_policy(text, source=str(path), known_commands=known_commands)


def parse_policy(
    text: str, source: str = "<string>", known_commands: Collection[str] | None = None
) -> Policy:
    """Validate policy TOML `text`; `source` names it in error messages."""
    data = read_toml(text, source, PolicyLoadError)
    report = Reporter(source, text)
    known = frozenset(known_commands) if known_commands is not None else None
    report.keys(data, TOP_KEYS, (), None)
    rules = _rules(data.get("rule", []), report, known)
    limits = limits_from(data.get("limits", {}), report)
    queries = queries_from(data.get("queries", {}), report)
    report.raise_if_any(PolicyLoadError)
    return Policy(policy_version(data), source, rules, limits, queries, known)


def policy_version(data: dict[str, Any]) -> str:
    """Digest of the parsed content: comments, spacing and key order do not count."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _unreadable(source: str, exc: Exception) -> Problem:
    return Problem(source, None, None, None, "a readable UTF-8 file", type(exc).__name__)


def _rules(raw: object, report: Reporter, known: frozenset[str] | None) -> tuple[Rule, ...]:
    if not isinstance(raw, list):
        report.add(("rule",), None, "rule", "an array of tables ([[rule]])", describe(raw))
        return ()
    rules: list[Rule] = []
    first_line: dict[str, int | None] = {}
    for index, table in enumerate(raw):
        path = ("rule", str(index))
        if not isinstance(table, dict):
            report.add(path, f"#{index + 1}", None, "a table", describe(table))
            continue
        rule_id = report.string(table, "id", path, f"#{index + 1}", required=True)
        entry = rule_id if rule_id is not None else f"#{index + 1}"
        if rule_id is not None:
            if rule_id == "default.deny" or rule_id.startswith("limits."):
                report.add((*path, "id"), rule_id, "id",
                           "an id other than default.deny and limits.* (the gate's own)",
                           repr(rule_id))
            elif rule_id in first_line:
                at = first_line[rule_id]
                report.add((*path, "id"), rule_id, "id",
                           "a unique rule id" + (f" (already used at line {at})" if at else ""),
                           repr(rule_id))
            else:
                first_line[rule_id] = report.lines.find((*path, "id"))
        rule = _rule(table, index, entry, path, report, known)
        if rule is not None:
            rules.append(rule)
    return tuple(rules)


def _rule(table: dict[str, Any], index: int, entry: str, path: tuple[str, ...],
          report: Reporter, known: frozenset[str] | None) -> Rule | None:
    before = len(report.problems)
    report.keys(table, RULE_KEYS, path, entry)
    commands = _commands(table, path, entry, report, known)
    effect = _effect(table, path, entry, report)
    reason = report.string(table, "reason", path, entry, required=False)
    when = _when(table, path, entry, report)
    selector = None
    if "principals" in table:
        selector = selector_from(table["principals"], (*path, "principals"), entry, report,
                                 "principals", allow_empty=False)
    approvers = _approvers_clause(table, effect, path, entry, report)
    if len(report.problems) > before or commands is None or effect is None:
        return None
    return Rule(
        id=entry,
        commands=commands,
        effect=effect,
        reason=reason or f"{effect} by rule {entry!r}",
        when=when,
        approvers=approvers,
        selector=selector,
        position=index,
        trace_matched=RuleTrace(rule_id=entry, effect=effect, matched=True,
                                note=f"when `{when.source}` is true" if when else "no condition"),
        trace_unmatched=RuleTrace(rule_id=entry, effect=effect, matched=False,
                                  note=f"when `{when.source}` is false" if when else ""),
        trace_unselected=RuleTrace(rule_id=entry, effect=effect, matched=False,
                                   note=f"not for this principal ({_describe_selector(selector)})"),
        line=report.lines.find(path),
    )


def _describe_selector(selector: PrincipalSelector | None) -> str:
    if selector is None:
        return "any principal"
    parts = []
    if selector.kinds is not None:
        parts.append("kinds: " + ", ".join(sorted(selector.kinds)))
    if selector.roles is not None:
        parts.append("roles: " + ", ".join(sorted(selector.roles)))
    return "; ".join(parts) or "any principal"


def _commands(table: dict[str, Any], path: tuple[str, ...], entry: str, report: Reporter,
              known: frozenset[str] | None) -> tuple[str, ...] | None:
    if "commands" not in table:
        report.add(path, entry, "commands", "this key to be present", "nothing")
        return None
    commands = report.strings(table, "commands", path, entry)
    if commands is None:
        return None
    for pattern in commands:
        if not COMMAND_PATTERN.match(pattern):
            report.add((*path, "commands"), entry, "commands",
                       'command types like "case.escalate" or "case.*"', repr(pattern))
        elif known is not None and not _names_known(pattern, known):
            expected = ("a pattern matching at least one known command type" if "*" in pattern
                        else "a command type the domain declares")
            report.add((*path, "commands"), entry, "commands", expected, repr(pattern))
    return commands


def _names_known(pattern: str, known: frozenset[str]) -> bool:
    if pattern == "*":
        return bool(known)
    if pattern.endswith(".*"):
        return any(k.startswith(pattern[:-1]) for k in known)
    return pattern in known


def _effect(table: dict[str, Any], path: tuple[str, ...], entry: str,
            report: Reporter) -> Effect | None:
    value = table.get("effect")
    for effect in EFFECTS:
        if value == effect:
            return effect
    got = "nothing" if "effect" not in table else describe(value)
    report.add((*path, "effect"), entry, "effect", "one of allow, ask, deny", got)
    return None


def _when(table: dict[str, Any], path: tuple[str, ...], entry: str,
          report: Reporter) -> Condition | None:
    source = report.string(table, "when", path, entry, required=False)
    if source is None:
        return None
    try:
        return compile_condition(source)
    except CelCompileError as exc:
        report.add((*path, "when"), entry, "when", "a boolean CEL expression", f"error: {exc}")
        return None


def _approvers_clause(table: dict[str, Any], effect: Effect | None, path: tuple[str, ...],
                      entry: str, report: Reporter) -> Approvers | None:
    if "approvers" not in table:
        if effect == "ask":
            report.add(path, entry, "approvers",
                       "an approvers table (roles, count) on an ask rule", "nothing")
        return None
    if effect is not None and effect != "ask":
        report.add((*path, "approvers"), entry, "approvers",
                   "no approvers on an allow or deny rule (only ask rules have approvers)",
                   f"approvers on {'an' if effect == 'allow' else 'a'} {effect} rule")
        return None
    return approvers_from(table["approvers"], (*path, "approvers"), entry, report)
