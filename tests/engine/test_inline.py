"""Cheap queries evaluated in the server process (``engine/inline.py``): only what is bounded before it
runs, with the workers' own evaluation; anything else is left to the ordinary way (None)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spacegraph.engine.analysis import read_simple
from spacegraph.engine.inline import BOUND, INLINE_QUADS, INLINE_ROWS, Inline
from spacegraph.engine.workers import Answer, Job, Settings, evaluate

EX = "http://example.org/"
HUB = 40  # triples of <hub>: two of its patterns make 1,600 rows, past BOUND
WIDE = INLINE_ROWS + 1  # triples of <wide>: one pattern's answer is past INLINE_ROWS


@pytest.fixture(scope="module")
def inline(tmp_path_factory: pytest.TempPathFactory) -> Inline:
    lines = [f"<{EX}hub> <{EX}p{n}> <{EX}o{n}> .\n" for n in range(HUB)]
    lines += [f"<{EX}wide> <{EX}p> <{EX}o{n}> .\n" for n in range(WIDE)]
    lines += [f'<{EX}small> <{EX}p{n}> "{n}" .\n' for n in range(3)]
    path = tmp_path_factory.mktemp("inline") / "graph.nt"
    path.write_text("".join(lines), encoding="utf-8")
    loaded = Inline.load([path], Settings(data=(str(path),)), len(lines))
    assert loaded is not None
    return loaded


def answered(inline: Inline, text: str) -> Answer | None:
    analysis = read_simple(text)
    assert analysis is not None and analysis.simple is not None
    job = Job(analysis, results_format="json", max_rows=10_000)
    result = inline.answer(job, analysis.simple)
    if result is None:
        return None
    answer, seconds = result
    assert seconds >= 0
    expected = evaluate(inline.store, job, inline.settings)  # what a worker gives
    assert answer == expected
    return answer


def test_bounded_queries_are_answered_as_a_worker_answers_them(inline: Inline) -> None:
    assert HUB * HUB > BOUND >= 3 * 3
    assert answered(inline, f"SELECT ?p ?o WHERE {{ <{EX}hub> ?p ?o }}") is not None  # one pattern
    assert answered(inline, f"SELECT * WHERE {{ <{EX}small> ?p ?o . <{EX}small> ?q ?r }}") is not None  # 9 rows
    assert answered(inline, f"SELECT DISTINCT ?p WHERE {{ <{EX}hub> ?p ?o }}") is not None  # 40 counted
    assert answered(inline, f"ASK {{ <{EX}nothing> ?p ?o . <{EX}hub> ?q ?r }}") is not None  # no match: 0 rows


def test_joins_past_the_bound_are_left_to_the_workers(inline: Inline) -> None:
    assert answered(inline, f"SELECT * WHERE {{ <{EX}hub> ?p ?o . <{EX}hub> ?q ?r }}") is None
    assert answered(inline, f"SELECT DISTINCT ?p WHERE {{ <{EX}wide> ?p ?o }}") is None  # rows dropped: counted


def test_an_answer_past_the_rows_allowed_here_is_left_to_the_workers(inline: Inline) -> None:
    text = f"SELECT ?o WHERE {{ <{EX}wide> <{EX}p> ?o }}"
    assert answered(inline, text) is None
    analysis = read_simple(text)
    assert analysis is not None
    whole = evaluate(inline.store, Job(analysis, results_format="json", max_rows=10_000), inline.settings)
    assert isinstance(whole, Answer) and whole.body.count(b'"o":') == WIDE  # a worker answers it whole


def test_a_query_the_parser_refuses_is_left_to_the_workers(inline: Inline) -> None:
    assert answered(inline, f"SELECT ?p WHERE {{ <{EX}hub> ?p ?o }} LIMIT 1.5") is None  # an integer is due


def test_a_graph_too_large_to_hold_twice_is_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "graph.nt"
    path.write_text(f"<{EX}s> <{EX}p> <{EX}o> .\n", encoding="utf-8")
    settings = Settings(data=(str(path),))
    assert Inline.load([path], settings, INLINE_QUADS) is not None
    assert Inline.load([path], settings, INLINE_QUADS + 1) is None
