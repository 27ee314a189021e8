"""Ranking and budgeting of build_context, on hits made up here: the merge
by reciprocal rank, and a block that never exceeds its budget by the
tokenizer's count, whatever the lines and the budget."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from signoff.examples.assistant.context import HEADER, assemble, ranked
from signoff.examples.assistant.tokens import count_tokens
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
    block, lines, omitted = assemble(ranked([], [passage("d#1", long)]), budget=60)
    [line] = lines
    assert line.cut
    assert line.text.endswith(" …")
    assert count_tokens(block) <= 60
    assert omitted == 0


def test_a_memory_item_is_never_cut_it_is_left_out() -> None:
    long = " ".join(f"fact{n}" for n in range(200))
    block, lines, omitted = assemble(ranked([memory("m1", long), memory("m2", "short")], []),
                                     budget=60)
    assert [line.ref for line in lines] == ["m2"]
    assert omitted == 1
    assert block == f"{HEADER}\n[m2] memory (note): short"


def test_nothing_fits_is_an_empty_block_not_a_bare_header() -> None:
    assert assemble(ranked([memory("m1", "a b c")], []), budget=count_tokens(HEADER)) == (
        "", [], 1)
    assert assemble([], budget=1000) == ("", [], 0)


texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
                min_size=1, max_size=400)


@settings(max_examples=60, deadline=None)
@given(memories=st.lists(texts, max_size=8), passages=st.lists(texts, max_size=8),
       budget=st.integers(min_value=1, max_value=400))
def test_the_block_never_exceeds_the_budget(memories: list[str], passages: list[str],
                                            budget: int) -> None:
    candidates = ranked([memory(f"m{n}", t) for n, t in enumerate(memories)],
                        [passage(f"d#{n}", t) for n, t in enumerate(passages)])
    block, lines, omitted = assemble(candidates, budget)
    assert count_tokens(block) <= budget
    assert len(lines) + omitted == len(candidates)
    assert block == "\n".join([HEADER, *(line.text for line in lines)]) if lines else block == ""
