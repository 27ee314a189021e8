"""NATS subjects: each tenant id is one token, and no two tenants share one."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from signoff.server.delivery.nats import subject_for, subject_token
from signoff.store.records import OutboxMessage

TOKEN = re.compile(r"^[A-Za-z0-9_\-]+$")


def decode(token: str) -> str:
    """The inverse of `subject_token`: that one exists is what makes it one-to-one."""
    out, i = bytearray(), 0
    while i < len(token):
        if token[i] == "_":
            out.append(int(token[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(ord(token[i]))
            i += 1
    return out.decode()


def test_tenants_that_used_to_collide_get_distinct_subjects() -> None:
    def subject(tenant: str) -> str:
        return subject_for("signoff", OutboxMessage(
            message_id="m", tenant_id=tenant, topic="case.escalated", payload={},
            created_at=datetime(2026, 1, 1, tzinfo=UTC)))

    assert subject("acme.eu") == "signoff.acme_2eeu.case.escalated"
    assert subject("acme_eu") == "signoff.acme_5feu.case.escalated"
    assert subject("acme-eu") == "signoff.acme-eu.case.escalated"


@given(st.text(min_size=1))
def test_a_token_is_one_safe_token_and_decodes_back(tenant: str) -> None:
    token = subject_token(tenant)
    assert TOKEN.match(token)
    assert decode(token) == tenant


@given(st.text(min_size=1), st.text(min_size=1))
def test_distinct_tenants_never_share_a_token(a: str, b: str) -> None:
    assert (subject_token(a) == subject_token(b)) == (a == b)
