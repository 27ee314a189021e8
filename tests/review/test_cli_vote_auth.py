"""Who votes from the CLI. Direct database access is operator access: by
default `--as` is trusted and the vote records `channel="cli"`. A principals
file with `cli_votes = "token"` asks for the reviewer's own token (`--token`
or $SIGNOFF_REVIEWER_TOKEN); a vote so authenticated records `channel="api"`.
A missing or wrong token exits 1 and writes nothing."""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
import pytest
from typer.testing import CliRunner, Result

from signoff.server.app import App, example_file
from tests.review.helpers import escalation, json_out, snapshot

pytestmark = pytest.mark.anyio

ALICE_TOKEN = "demo-alice"  # the example file's token for user:alice (a supervisor)


async def cli(*args: str, token: str | None = None) -> Result:
    """The real CLI on a worker thread, the reviewer's token in its environment."""
    from signoff.server.cli import app as signoff

    env = {"COLUMNS": "240", "SIGNOFF_REVIEWER_TOKEN": token}

    def run() -> Result:
        return CliRunner().invoke(signoff, list(args), env=env)

    return await anyio.to_thread.run_sync(run)


@pytest.fixture
def token_votes(tmp_path: Path) -> Path:
    """The example principals, with authenticated CLI votes switched on."""
    path = tmp_path / "principals.toml"
    path.write_text('cli_votes = "token"\n\n' + example_file("principals.toml").read_text())
    return path


async def channels(app: App, proposal_id: str) -> list[tuple[str, str]]:
    votes = await app.store.read(lambda uow: uow.proposals.votes(proposal_id))
    return [(v.voter_id, v.channel) for v in votes]


async def test_the_help_says_who_a_cli_vote_trusts() -> None:
    for command in ("approve", "reject"):
        result = await cli("review", command, "--help")
        text = " ".join(result.stdout.split())
        assert "operator access" in text, command
        assert "cli_votes" in text, command
        assert "SIGNOFF_REVIEWER_TOKEN" in text, command


async def test_without_the_opt_in_as_is_trusted_and_recorded_as_an_operator_vote(
    app: App, db: Path
) -> None:
    proposal_id = await escalation(app)
    result = await cli("review", "approve", proposal_id, "--db", str(db), "--as", "user:alice",
                       "--json")
    assert result.exit_code == 0, result.output
    assert json_out(result)[0]["channel"] == "cli"
    assert await channels(app, proposal_id) == [("user:alice", "cli")]


@pytest.mark.parametrize(("token", "message"), [
    (None, "needs the reviewer's token"),
    ("", "needs the reviewer's token"),
    ("not-a-token", "does not authenticate user:alice"),
    ("demo-bob", "does not authenticate user:alice"),  # a real token, someone else's
])
async def test_with_the_opt_in_a_missing_or_wrong_token_exits_1_and_writes_nothing(
    app: App, db: Path, token_votes: Path, token: str | None, message: str
) -> None:
    proposal_id = await escalation(app)
    before = snapshot(db)
    for command in (["approve"], ["reject", "--reason", "no"]):
        for output in (["--json"], []):
            result = await cli("review", command[0], proposal_id, *command[1:], "--db", str(db),
                               "--as", "user:alice", "--principals", str(token_votes), *output,
                               token=token)
            assert result.exit_code == 1, result.output
            assert message in " ".join(result.output.split())
            if output:
                [error] = json_out(result)
                assert (error["ok"], error["error"]) == (False, "unauthenticated")
    assert snapshot(db) == before


async def test_with_the_opt_in_the_reviewers_token_authenticates_the_vote(
    app: App, db: Path, token_votes: Path
) -> None:
    proposal_id = await escalation(app)
    result = await cli("review", "approve", proposal_id, "--db", str(db), "--as", "user:alice",
                       "--principals", str(token_votes), "--token", ALICE_TOKEN, "--json")
    assert result.exit_code == 0, result.output
    [outcome] = json_out(result)
    assert (outcome["status"], outcome["channel"]) == ("executed", "api")
    assert await channels(app, proposal_id) == [("user:alice", "api")]


async def test_the_token_may_come_from_the_environment(
    app: App, db: Path, token_votes: Path
) -> None:
    proposal_id = await escalation(app)
    result = await cli("review", "reject", proposal_id, "--db", str(db), "--as", "user:alice",
                       "--principals", str(token_votes), "--reason", "not yet", "--json",
                       token=ALICE_TOKEN)
    assert result.exit_code == 0, result.output
    assert await channels(app, proposal_id) == [("user:alice", "api")]


async def test_a_token_given_without_the_opt_in_is_checked_all_the_same(
    app: App, db: Path
) -> None:
    proposal_id = await escalation(app)
    before = snapshot(db)
    wrong = await cli("review", "approve", proposal_id, "--db", str(db), "--as", "user:alice",
                      "--token", "demo-bob")
    assert wrong.exit_code == 1
    assert snapshot(db) == before
    right = await cli("review", "approve", proposal_id, "--db", str(db), "--as", "user:alice",
                      "--token", ALICE_TOKEN)
    assert right.exit_code == 0, right.output
    assert await channels(app, proposal_id) == [("user:alice", "api")]


async def test_an_unknown_cli_votes_setting_is_bad_usage(
    app: App, db: Path, tmp_path: Path
) -> None:
    proposal_id = await escalation(app)
    path = tmp_path / "principals.toml"
    path.write_text('cli_votes = "sometimes"\n\n' + example_file("principals.toml").read_text())
    before = snapshot(db)
    result = await cli("review", "approve", proposal_id, "--db", str(db), "--as", "user:alice",
                       "--principals", str(path))
    assert result.exit_code == 2, result.output
    assert "cli_votes" in result.output
    assert snapshot(db) == before
