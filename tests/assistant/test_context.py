"""Ranking and budgeting of build_context, on hits made up here: the merge
by reciprocal rank, and a block that never exceeds its budget by the
tokenizer's count, whatever the lines and the budget."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signoff.examples.assistant import context
from signoff.examples.assistant.context import HEADER, assemble, ranked
from signoff.examples.assistant.tokens import count_tokens, count_within
from signoff.server import SearchHit


def memory(key: str, text: str, score: float = 1.0, **doc: Any) -> SearchHit:
    return SearchHit(key, {"text": text, "kind": "note", "subject": "", **doc}, score)


def passage(key: str, text: str, score: float = 1.0) -> SearchHit:
    return SearchHit(key, {"text": text, "title": "Travel policy"}, score)


def test_lists_merge_by_rank_memory_first_on_a_tie() -> None:
    merged = ranked([memory("m1", "a"), memory("m2", "b")],
                    [passage("d1#1", "c"), passage("d1#2", "d"), passage("d1#3", "e")])
    assert [c.ref for c in merged] == ["m1", "d1#1", "m2", "d1#2", "d1#3"]


def test_scores_of_the_two_searches_are_never_compared() -> None:
    """A document hit with a huge score still ranks by its place in its list."""
    merged = ranked([memory("m1", "a", score=0.01)], [passage("d1#1", "c", score=99.0)])
    assert [c.ref for c in merged] == ["m1", "d1#1"]


def test_lines_carry_their_ref_and_what_they_are() -> None:
    [m, d] = ranked([memory("m1", "Sam likes tea", kind="preference", subject="sam")],
                    [passage("doc-travel#1", "Trains are booked second class.")])
    assert m.line == "[m1] memory (preference about sam): Sam likes tea"
    assert d.line == '[doc-travel#1] document "Travel policy": Trains are booked second class.'


def test_a_passage_too_long_for_what_is_left_is_cut_at_a_word() -> None:
    long = " ".join(f"word{n}" for n in range(200))
    block, lines, omitted, tokens = assemble(ranked([], [passage("d#1", long)]), budget=60)
    [line] = lines
    assert line.cut
    assert line.text.endswith(" …")
    assert tokens == count_tokens(block) <= 60
    assert omitted == 0


def test_a_memory_item_is_never_cut_it_is_left_out() -> None:
    long = " ".join(f"fact{n}" for n in range(200))
    block, lines, omitted, _ = assemble(ranked([memory("m1", long), memory("m2", "short")],
                                               []), budget=60)
    assert [line.ref for line in lines] == ["m2"]
    assert omitted == 1
    assert block == f"{HEADER}\n[m2] memory (note): short"


def test_nothing_fits_is_an_empty_block_not_a_bare_header() -> None:
    assert assemble(ranked([memory("m1", "a b c")], []), budget=count_tokens(HEADER)) == (
        "", [], 1, 0)
    assert assemble([], budget=1000) == ("", [], 0, 0)


texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
                min_size=1, max_size=400)


@settings(max_examples=60, deadline=None)
@given(memories=st.lists(texts, max_size=8), passages=st.lists(texts, max_size=8),
       budget=st.integers(min_value=1, max_value=400))
def test_the_block_never_exceeds_the_budget(memories: list[str], passages: list[str],
                                            budget: int) -> None:
    candidates = ranked([memory(f"m{n}", t) for n, t in enumerate(memories)],
                        [passage(f"d#{n}", t) for n, t in enumerate(passages)])
    block, lines, omitted, tokens = assemble(candidates, budget)
    assert tokens == count_tokens(block) <= budget
    assert len(lines) + omitted == len(candidates)
    assert block == "\n".join([HEADER, *(line.text for line in lines)]) if lines else block == ""


def test_each_candidate_is_counted_once_and_never_with_the_block_before_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Not the block so far re-counted for every candidate: each line once
    (with its newline), a passage's cut a few times, the block once."""
    asked: list[str] = []

    def spy(text: str, limit: int) -> int | None:
        asked.append(text)
        return count_within(text, limit)

    monkeypatch.setattr(context, "count_within", spy)
    candidates = ranked([memory(f"m{n}", f"note {n} " * 30) for n in range(10)],
                        [passage(f"d#{n}", f"passage {n} " * 30) for n in range(10)])
    block, lines, omitted, tokens = assemble(candidates, budget=200)
    assert lines
    assert omitted
    for c in candidates:
        assert asked.count(f"{c.line}\n") == 1, c.ref
    assert asked.count(block) == 1
    several = [text for text in asked if text.count("\n[") >= 1]
    assert several == [block]
    assert tokens == count_tokens(block) <= 200


def test_scanning_stops_once_nothing_left_can_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first line takes nearly all the budget; no cut is tried after it."""
    first = memory("m0", "tea " * 20)
    [c0] = ranked([first], [])
    budget = count_tokens(f"{HEADER}\n{c0.line}\n") + 2
    cuts: list[str] = []
    real = context._cut_to_fit

    def spy(line: str, room: int) -> tuple[str, int] | None:
        cuts.append(line)
        return real(line, room)

    monkeypatch.setattr(context, "_cut_to_fit", spy)
    candidates = ranked([first], [passage(f"d#{n}", "long passage words " * 20)
                                  for n in range(5)])
    _, lines, omitted, _ = assemble(candidates, budget)
    assert [line.ref for line in lines] == ["m0"]
    assert omitted == 5
    assert cuts == []


def test_a_block_over_its_budget_as_a_whole_drops_lines_until_it_fits(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Should the pieces' sum ever undercount the joined block, the whole
    count decides: here a tokenizer that charges 5 more for any block of
    several lines (the real one never has, on every text tried)."""
    def joined_costs_more(text: str, limit: int) -> int | None:
        counted = count_tokens(text) + (5 if text.count("\n[") >= 2 else 0)
        return counted if counted <= limit else None

    monkeypatch.setattr(context, "count_within", joined_costs_more)
    candidates = ranked([memory("m1", "Sam likes tea"), memory("m2", "Dana likes coffee")], [])
    pieces = count_tokens(f"{HEADER}\n") + sum(count_tokens(f"{c.line}\n") for c in candidates)
    block, lines, omitted, tokens = assemble(candidates, budget=pieces)
    assert [line.ref for line in lines] == ["m1"]
    assert omitted == 1
    assert block == f"{HEADER}\n{candidates[0].line}"
    assert tokens == joined_costs_more(block, pieces)


def test_separators_are_counted() -> None:
    """A budget of exactly the lines without their newlines is too small
    for all of them, by the real tokenizer."""
    candidates = ranked([memory(f"m{n}", f"item {n}") for n in range(6)], [])
    bare = count_tokens(HEADER) + sum(count_tokens(c.line) for c in candidates)
    whole = count_tokens("\n".join([HEADER, *(c.line for c in candidates)]))
    assert whole > bare  # the newlines are tokens too
    block, _, omitted, tokens = assemble(candidates, budget=bare)
    assert tokens == count_tokens(block) <= bare
    assert omitted >= 1
