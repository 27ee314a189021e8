"""`Proposals` on four tables: proposals (current state, the one that
changes), and the append-only lifecycle stream, decisions and votes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from signoff.store.errors import DuplicateRecord, DuplicateVote
from signoff.store.records import DecisionRecord, ProposalEvent, ProposalRecord, Vote
from signoff.store.sqlite.rows import filters, ts, ts_or_none
from signoff.store.sqlite.sql import Sql


def _at_seq_zero(event: ProposalEvent) -> ProposalEvent:
    """The event with seq 0, copied only if it has another (the lifecycle
    writes them at 0 already)."""
    return event if event.seq == 0 else event.model_copy(update={"seq": 0})


class SqliteProposals:
    def __init__(self, db: Sql) -> None:
        self._db = db

    def add(self, proposal: ProposalRecord) -> None:
        p = proposal
        self._db.run(
            "INSERT INTO proposals (proposal_id, tenant_id, status, command_type, actor_id, "
            "run_id, created_at, expires_at, command_id, correlation_id, idempotency_key, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (p.proposal_id, p.tenant_id, p.status, p.command_type, p.actor.id, p.run_id,
             ts(p.created_at), ts_or_none(p.expires_at), p.command_id, p.correlation_id,
             p.idempotency_key, p.model_dump_json()),
        )

    def by_idempotency_key(
        self, tenant_id: str, actor_id: str, key: str
    ) -> ProposalRecord | None:
        row = self._db.one(
            "SELECT doc FROM proposals WHERE tenant_id = ? AND actor_id = ? "
            "AND idempotency_key = ?",
            (tenant_id, actor_id, key),
        )
        return ProposalRecord.model_validate_json(row[0]) if row else None

    def get(self, proposal_id: str, tenant_id: str | None) -> ProposalRecord | None:
        if tenant_id is None:
            row = self._db.one(
                "SELECT doc FROM proposals WHERE proposal_id = ?", (proposal_id,)
            )
        else:
            row = self._db.one(
                "SELECT doc FROM proposals WHERE proposal_id = ? AND tenant_id = ?",
                (proposal_id, tenant_id),
            )
        return ProposalRecord.model_validate_json(row[0]) if row else None

    def claim(self, proposal_id: str, tenant_id: str | None) -> ProposalRecord | None:
        # Every write job already runs alone under BEGIN IMMEDIATE.
        return self.get(proposal_id, tenant_id)

    def replace(self, proposal: ProposalRecord, *, expected_status: str) -> bool:
        cur = self._db.run(
            "UPDATE proposals SET status = ?, expires_at = ?, doc = ? "
            "WHERE proposal_id = ? AND status = ?",
            (proposal.status, ts_or_none(proposal.expires_at), proposal.model_dump_json(),
             proposal.proposal_id, expected_status),
        )
        return cur.rowcount == 1

    def find(
        self,
        *,
        tenant_id: str | None = None,
        status: str | None = None,
        command_type: str | None = None,
        limit: int = 100,
    ) -> list[ProposalRecord]:
        where, args = filters(tenant_id=tenant_id, status=status, command_type=command_type)
        rows = self._db.all(
            f"SELECT doc FROM proposals {where} ORDER BY created_at, proposal_id LIMIT ?",  # noqa: S608
            (*args, limit),
        )
        return [ProposalRecord.model_validate_json(r[0]) for r in rows]

    def due_for_expiry(self, now: datetime, limit: int = 500) -> list[ProposalRecord]:
        rows = self._db.all(
            "SELECT doc FROM proposals WHERE status = 'pending_approval' AND expires_at <= ? "
            "ORDER BY expires_at LIMIT ?",
            (ts(now), limit),
        )
        return [ProposalRecord.model_validate_json(r[0]) for r in rows]

    def by_correlation(self, correlation_id: str, limit: int = 500) -> list[ProposalRecord]:
        rows = self._db.all(
            "SELECT doc FROM proposals WHERE correlation_id = ? "
            "ORDER BY created_at, proposal_id LIMIT ?",
            (correlation_id, limit),
        )
        return [ProposalRecord.model_validate_json(r[0]) for r in rows]

    def by_command(self, command_id: str, tenant_id: str) -> ProposalRecord | None:
        row = self._db.one(
            "SELECT doc FROM proposals WHERE command_id = ? "
            "AND tenant_id = ?", (command_id, tenant_id))
        return ProposalRecord.model_validate_json(row[0]) if row else None

    def decided_since(
        self, since: datetime, *, tenant_id: str | None = None, after: str | None = None,
        limit: int = 1000,
    ) -> list[tuple[ProposalRecord, DecisionRecord]]:
        where = ["p.created_at >= ?"]
        args: list[Any] = [ts(since)]
        if tenant_id is not None:
            where.append("p.tenant_id = ?")
            args.append(tenant_id)
        if after is not None:  # keyset paging: (created_at, id) after the last row seen
            where.append("(p.created_at, p.proposal_id) > "
                         "((SELECT created_at FROM proposals WHERE proposal_id = ?), ?)")
            args += [after, after]
        # The first decision of each proposal (decisions are appended in order);
        # `where` holds only the fixed clauses above, never caller text.
        sql = ("SELECT p.doc, d.doc FROM proposals p JOIN decisions d ON d.rowid = ("  # noqa: S608
               "SELECT MIN(rowid) FROM decisions WHERE proposal_id = p.proposal_id) "
               f"WHERE {' AND '.join(where)} ORDER BY p.created_at, p.proposal_id LIMIT ?")
        rows = self._db.all(sql, (*args, limit))
        return [(ProposalRecord.model_validate_json(p), DecisionRecord.model_validate_json(d))
                for p, d in rows]

    def unlogged_events(self, limit: int = 10) -> list[tuple[str, str]]:
        # Every proposal, whatever its status says: a tamperer may change that
        # too. Each name is one lookup in the events' event_id index.
        rows = self._db.all(
            "SELECT p.proposal_id, ref.value FROM proposals AS p, "
            "json_each(p.doc, '$.event_ids') AS ref "
            "WHERE NOT EXISTS (SELECT 1 FROM events WHERE event_id = ref.value) "
            "ORDER BY p.rowid LIMIT ?",
            (limit,),
        )
        return [(str(proposal_id), str(event_id)) for proposal_id, event_id in rows]

    # -- history: append-only ------------------------------------------------

    def add_event(self, event: ProposalEvent) -> ProposalEvent:
        # One statement: the next seq is found and written into the row and
        # its document together (the document is dumped with seq 0 first).
        (row,) = self._db.all(
            "INSERT INTO proposal_events (proposal_id, seq, tenant_id, doc) "
            "SELECT ?, n, ?, json_set(?, '$.seq', n) FROM "
            "(SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM proposal_events WHERE proposal_id = ?) "
            "RETURNING seq",
            (event.proposal_id, event.tenant_id, _at_seq_zero(event).model_dump_json(),
             event.proposal_id),
        )
        return event.model_copy(update={"seq": int(row[0])})

    def add_first_events(self, events: Sequence[ProposalEvent]) -> list[ProposalEvent]:
        # No MAX(seq): the proposal is new. One statement is all or nothing.
        numbered = [e.model_copy(update={"seq": n}) for n, e in enumerate(events, 1)]
        if numbered:
            self._db.run(
                "INSERT INTO proposal_events (proposal_id, seq, tenant_id, doc) VALUES "  # noqa: S608
                + ", ".join(["(?, ?, ?, ?)"] * len(numbered)),
                tuple(v for e in numbered
                      for v in (e.proposal_id, e.seq, e.tenant_id, e.model_dump_json())),
            )
        return numbered

    def events(self, proposal_id: str) -> list[ProposalEvent]:
        rows = self._db.all(
            "SELECT doc FROM proposal_events WHERE proposal_id = ? ORDER BY seq", (proposal_id,)
        )
        return [ProposalEvent.model_validate_json(r[0]) for r in rows]

    def add_decision(self, decision: DecisionRecord) -> None:
        self._db.run(
            "INSERT INTO decisions (decision_id, proposal_id, tenant_id, doc) VALUES (?, ?, ?, ?)",
            (decision.decision_id, decision.proposal_id, decision.tenant_id,
             decision.model_dump_json()),
        )

    def decisions(self, proposal_id: str) -> list[DecisionRecord]:
        rows = self._db.all(
            "SELECT doc FROM decisions WHERE proposal_id = ? ORDER BY rowid", (proposal_id,)
        )
        return [DecisionRecord.model_validate_json(r[0]) for r in rows]

    def add_vote(self, vote: Vote) -> None:
        try:
            self._db.run(
                "INSERT INTO votes (vote_id, proposal_id, tenant_id, voter_id, doc) "
                "VALUES (?, ?, ?, ?, ?)",
                (vote.vote_id, vote.proposal_id, vote.tenant_id, vote.voter_id,
                 vote.model_dump_json()),
            )
        except DuplicateRecord as exc:
            if "voter_id" not in exc.key:
                raise
            raise DuplicateVote(vote.voter_id) from exc

    def votes(self, proposal_id: str) -> list[Vote]:
        rows = self._db.all(
            "SELECT doc FROM votes WHERE proposal_id = ? ORDER BY rowid", (proposal_id,)
        )
        return [Vote.model_validate_json(r[0]) for r in rows]
