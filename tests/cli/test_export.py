"""`signoff export runs|decisions` over a real history (the casework demo and
two more agent runs through a real MCP client), as a user runs it: every
line in every format validates against its format's schema, no secret or
sensitive field survives, --since, --tenant and --out do what they say, and
a store recorded before the runtime log kept arguments says what it lacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pytest
from jsonschema import Draft202012Validator

from signoff.server.app import Settings, build_app
from signoff.server.ops.exports import runs_by_key
from signoff.server.ops.exports_lines import policy_input
from signoff.server.services.judging import recorded_input
from signoff.store.datasets import Logged, dataset_reads
from signoff.store.ports import UnitOfWork
from signoff.store.records import ProposalRecord
from tests.cli.export_schemas import DECISION_LINE, INSPECT_SAMPLE, OPENAI_CHAT, RUN_LINE
from tests.cli.export_world import (
    FAKE_KEY,
    GLOBEX_RUN,
    MAILED_KEY,
    OLD_RUN,
    RATIONALE,
    REJECTION,
    SENSITIVE_DOMAIN,
    STREET,
    globex_run,
    old_acme_run,
    recorded_before_datasets,
)
from tests.cli.worlds import invoke
from tests.store.postgres import scratch_schema

SCHEMAS = {("runs", "jsonl"): RUN_LINE, ("decisions", "jsonl"): DECISION_LINE,
           ("runs", "openai-chat"): OPENAI_CHAT, ("decisions", "openai-chat"): OPENAI_CHAT,
           ("runs", "inspect"): INSPECT_SAMPLE, ("decisions", "inspect"): INSPECT_SAMPLE}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("export")
    with pytest.MonkeyPatch.context() as monkeypatch:
        demo = invoke(monkeypatch, folder, "demo", "--db", "history.db")
    assert demo.exit_code == 0, demo.output
    db = folder / "history.db"
    rejected = anyio.run(old_acme_run, db)
    anyio.run(globex_run, db)
    return db, rejected


def export(db: Path, kind: str, *flags: str) -> tuple[list[dict[str, Any]], str]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        result = invoke(monkeypatch, db.parent, "export", kind, "--db", str(db),
                        "--domain", SENSITIVE_DOMAIN, *flags)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def valid(lines: list[dict[str, Any]], schema: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for line in lines:
        validator.validate(line)


@pytest.mark.parametrize(("kind", "shape"), sorted(SCHEMAS))
def test_every_line_of_every_format_validates_and_holds_no_secret(
        world: tuple[Path, str], kind: str, shape: str) -> None:
    db, _ = world
    lines, _ = export(db, kind, "--format", shape)
    assert lines
    valid(lines, SCHEMAS[(kind, shape)])
    text = json.dumps(lines)
    for secret in (FAKE_KEY, MAILED_KEY, STREET, "FAKEFAKE"):
        assert secret not in text, (kind, shape, secret)
    assert "[redacted]" in text
    if shape == "openai-chat":
        for line in lines:
            openai_calls_are_answered(line["messages"])


def openai_calls_are_answered(messages: list[dict[str, Any]]) -> None:
    """Beyond the schema: arguments are JSON objects and every tool message
    answers a call made before it."""
    asked: set[str] = set()
    assert any(m["role"] == "assistant" for m in messages)
    for message in messages:
        for call in message.get("tool_calls", []):
            assert isinstance(json.loads(call["function"]["arguments"]), dict)
            asked.add(call["id"])
        if message["role"] == "tool":
            assert message["tool_call_id"] in asked


def test_a_run_is_its_calls_in_order_with_arguments_results_and_decisions(
        world: tuple[Path, str]) -> None:
    db, rejected = world
    lines, _ = export(db, "runs")
    assert len(lines) == 3
    [old] = [line for line in lines if line["run_id"] == OLD_RUN]
    assert [c["tool"] for c in old["calls"]] == [
        "get_case_summary", "search_evidence", "create_analyst_brief", "create_analyst_brief",
        "get_case_summary", "propose_case_escalation"]
    assert old["calls"][0]["arguments"] == {"case_id": "case-acme-002"}
    assert old["calls"][0]["result"]["case_id"] == "case-acme-002"
    brief, refused, _, escalation = old["calls"][2:]
    assert brief["arguments"]["summary"] == "[redacted]"  # the domain marks it sensitive
    assert (brief["decision"]["effect"], brief["verdict"]["by"]) == ("allow", "policy")
    assert refused["outcome"] == "validation_error"
    assert refused["arguments"]["api_key"] == "[redacted]"
    assert escalation["proposal_id"] == rejected
    assert escalation["decision"]["rule_id"] == "escalate.ask-supervisor"
    assert escalation["verdict"]["outcome"] == "rejected"
    assert escalation["verdict"]["votes"][0]["comment"] == REJECTION
    assert old["missing"] == []


def test_a_decision_carries_what_the_agent_read_the_decision_and_the_verdict(
        world: tuple[Path, str]) -> None:
    db, rejected = world
    lines, _ = export(db, "decisions")
    by_id = {line["proposal_id"]: line for line in lines}
    line = by_id[rejected]
    assert [c["tool"] for c in line["context"]] == [
        "get_case_summary", "search_evidence", "get_case_summary"]
    assert line["proposal"]["tool"] == "propose_case_escalation"
    assert line["proposal"]["rationale"] == RATIONALE.replace(MAILED_KEY, "[redacted]")
    decision = line["decision"]
    assert (decision["effect"], decision["rule_id"]) == ("ask", "escalate.ask-supervisor")
    assert decision["input"]["run"]["id"] == OLD_RUN
    assert decision["input"]["aggregate"]["id"] == "case-acme-002"
    assert line["verdict"] | {"votes": []} == {
        "outcome": "rejected", "status": "rejected", "by": "reviewers",
        "reason": f"rejected by user:alice: {REJECTION}", "votes": []}
    assert line["verdict"]["votes"][0]["voter_id"] == "user:alice"
    # The demo's draft (allowed), its approved escalation, the old run's brief,
    # the rejected escalation, globex's brief: every decided proposal.
    # and the one a script made, with no tool call before it.
    verdicts = sorted((x["proposal"]["command_type"], x["verdict"]["outcome"]) for x in lines)
    assert verdicts == [("brief.create", "accepted")] * 3 + [
        ("case.escalate", "accepted"), ("case.escalate", "rejected"),
        ("notice.create_draft", "accepted")]
    [scripted] = [x for x in lines if x["run_id"] is None]
    assert (scripted["context"], scripted["missing"]) == ([], ["tool_call"])
    assert scripted["proposal"]["tool"] is None


def test_the_policy_input_of_a_line_is_the_one_replay_judges(world: tuple[Path, str]) -> None:
    """The export rebuilds the judged input from documents; replay, from
    records (`judging.recorded_input`): the two must agree."""
    db, _ = world

    async def read() -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
        async with await build_app(Settings(db=db)) as app:
            def pairs(uow: UnitOfWork) -> list[tuple[dict[str, Any], dict[str, Any],
                                                     dict[str, Any]]]:
                made = dataset_reads(uow).proposals_made(since=None, tenant_id=None, after=0,
                                                         limit=100)
                out = []
                for m in made:
                    record = ProposalRecord.model_validate(m.proposal)
                    for decision in uow.proposals.decisions(record.proposal_id):
                        judged = recorded_input(record, decision)
                        assert judged is not None
                        out.append((m.proposal, decision.model_dump(mode="json"),
                                    judged.model_dump(mode="json")))
                return out

            return await app.store.read(pairs)

    found = anyio.run(read)
    assert len(found) == 6
    for proposal, decision, expected in found:
        assert policy_input(proposal, decision) == expected


def test_the_chat_and_inspect_shapes_of_a_decision(world: tuple[Path, str]) -> None:
    db, rejected = world
    chats, _ = export(db, "decisions", "--format", "openai-chat")
    weights = sorted(chat["messages"][-1]["weight"] for chat in chats)
    assert weights == [0, 1, 1, 1, 1, 1]  # only the rejected escalation teaches nothing
    samples, _ = export(db, "decisions", "--format", "inspect")
    [sample] = [s for s in samples if s["id"] == rejected]
    assert sample["target"] == "rejected"
    proposal_call = sample["input"][-1]["tool_calls"][0]
    assert proposal_call["function"] == "propose_case_escalation"
    assert proposal_call["arguments"]["rationale"].startswith("Unlicensed advice; ")
    assert sample["metadata"]["decision"]["rule_id"] == "escalate.ask-supervisor"


def test_since_and_tenant_choose_what_is_exported(world: tuple[Path, str]) -> None:
    db, rejected = world
    recent, _ = export(db, "runs", "--since", "1d")
    assert OLD_RUN not in {line["run_id"] for line in recent}
    assert len(recent) == 2
    recent_decisions, _ = export(db, "decisions", "--since", "2d")
    assert rejected not in {line["proposal_id"] for line in recent_decisions}
    globex, _ = export(db, "runs", "--tenant", "globex")
    assert [line["run_id"] for line in globex] == [GLOBEX_RUN]
    globex_decisions, _ = export(db, "decisions", "--tenant", "globex")
    assert {line["tenant_id"] for line in globex_decisions} == {"globex"}


def test_out_writes_the_file_and_nothing_to_stdout(world: tuple[Path, str]) -> None:
    db, _ = world
    target = db.parent / "runs.jsonl"
    lines, stderr = export(db, "runs", "--out", str(target))
    assert lines == []
    assert len(target.read_text().splitlines()) == 3
    assert f"wrote 3 run(s) to {target}" in stderr
    assert not Path(f"{target}.partial").exists()


def test_a_store_recorded_before_says_what_is_missing(world: tuple[Path, str]) -> None:
    db, rejected = world
    old = recorded_before_datasets(db, db.parent / "before.db")
    runs, note = export(old, "runs")
    assert len(runs) == 3
    assert all(line["missing"] == ["arguments", "policy_input", "results"] for line in runs)
    assert all(c["arguments"] is None and c["result"] is None
               for line in runs for c in line["calls"])
    assert "3 run(s) recorded before signoff kept all an export holds: they lack " \
        "arguments, policy_input, results" in " ".join(note.split())
    decisions, _ = export(old, "decisions")
    line = next(x for x in decisions if x["proposal_id"] == rejected)
    assert line["decision"]["input"] is None
    assert REJECTION in line["verdict"]["reason"]  # what is there is still exported
    assert line["missing"] == ["arguments", "policy_input", "results"]
    # The chat shape keeps what can be rebuilt: each proposal, from its record.
    chats, note = export(old, "decisions", "--format", "openai-chat")
    assert [len(chat["messages"]) for chat in chats] == [1] * 6
    assert "call(s) without recorded arguments were left out" in " ".join(note.split())
    valid(chats, OPENAI_CHAT)


def test_the_schemas_can_fail() -> None:
    """A line in another shape is refused: the validations above can fail."""
    bad_chat = {"messages": [{"role": "assistant", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "a.b", "arguments": {}}}]}]}
    with pytest.raises(jsonschema.ValidationError):
        valid([bad_chat], OPENAI_CHAT)
    with pytest.raises(jsonschema.ValidationError):
        valid([{"input": [], "target": 3}], INSPECT_SAMPLE)


def test_a_runs_calls_are_in_the_order_they_were_made_not_flushed() -> None:
    """Two serve processes answering one run flush their buffers apart: the
    log holds a later call first. The export puts them back by time."""
    def logged(position: int, at: str, tool: str) -> Logged:
        return Logged(position, ("acme", "r1"), {"at": at, "tool": tool})

    calls = [logged(1, "2026-01-01T09:00:02Z", "second"),
             logged(2, "2026-01-01T09:00:01.5Z", "first"),
             logged(3, "2026-01-01T09:00:02Z", "third")]
    assert [c["tool"] for c in runs_by_key(calls)[("acme", "r1")]] == ["first", "second", "third"]


@pytest.mark.parametrize("flags", [(), ("--tenant", "globex"), ("--since", "2d")])
@pytest.mark.parametrize("kind", ["runs", "decisions"])
def test_a_postgresql_store_exports_the_same_lines(
    world: tuple[Path, str], tmp_path: Path, kind: str, flags: tuple[str, ...]
) -> None:
    """The history copied into PostgreSQL (`signoff db copy`) exports line
    for line what the SQLite file does."""
    db, _ = world
    with scratch_schema() as url, pytest.MonkeyPatch.context() as monkeypatch:
        copied = invoke(monkeypatch, tmp_path, "db", "copy", "--from", str(db), "--to", url)
        assert copied.exit_code == 0, copied.output
        exported = invoke(monkeypatch, tmp_path, "export", kind, "--db", url,
                          "--domain", SENSITIVE_DOMAIN, *flags)
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    expected, _ = export(db, kind, *flags)
    assert lines == expected
    assert lines, "the history has lines to export"
