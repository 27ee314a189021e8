"""Quorum and what reviewers are told is still needed (pure logic)."""

from __future__ import annotations

from signoff.server.services.quorum import Ballot, quorum_met, still_needed

BOTH = ("supervisor", "legal")


def ballot(voter: str, *roles: str) -> Ballot:
    return Ballot(voter, frozenset(roles))


def test_two_distinct_roles_untouched_names_each_role_once() -> None:
    assert still_needed([], roles=BOTH, count=2, distinct=True) == (
        "one approval each from supervisor and legal")


def test_two_distinct_roles_after_one_names_the_other() -> None:
    assert still_needed([ballot("alice", "supervisor")], roles=BOTH, count=2, distinct=True) == (
        "an approval from legal")


def test_one_person_holding_both_roles_is_not_two() -> None:
    both = [ballot("zoe", "supervisor", "legal")]
    assert not quorum_met(both, roles=BOTH, count=2, distinct=True)
    needed = still_needed(both, roles=BOTH, count=2, distinct=True)
    assert needed == "1 more from supervisor or legal"


def test_extra_approvals_beyond_the_roles_are_counted() -> None:
    assert still_needed([], roles=BOTH, count=3, distinct=True) == (
        "one approval each from supervisor and legal; 1 more from supervisor or legal")


def test_plain_count() -> None:
    assert still_needed([], roles=("supervisor",), count=1, distinct=False) == (
        "1 more approval from supervisor")
    assert still_needed([ballot("a", "supervisor")], roles=("supervisor",), count=1,
                        distinct=False) == "nothing: quorum reached"


def test_enough_people_but_not_distinct_enough() -> None:
    # Two voters, but both only supervisors: the count is met, legal is not.
    two = [ballot("alice", "supervisor"), ballot("sam", "supervisor")]
    assert still_needed(two, roles=BOTH, count=2, distinct=True) == "an approval from legal"
    # One person holding both roles plus a supervisor covers both: quorum.
    assert quorum_met([ballot("zoe", "supervisor", "legal"), ballot("alice", "supervisor")],
                      roles=BOTH, count=2, distinct=True)
