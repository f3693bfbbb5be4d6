"""`spacegraph links suggest` through the CLI against a Wikidata stand-in on 127.0.0.1 (namesakes, a
disambiguation page, a merged item, a deleted one), and the politeness of the client it uses: its
User-Agent, maxlag, pacing, and retries on 429, 503 and maxlag with Retry-After and back-off."""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from spacegraph import PROJECT_ROOT, __version__
from spacegraph.cli import main
from spacegraph.publish.candidates import Graph
from spacegraph.publish.graph import LoadedGraph
from spacegraph.publish.links import confirmed, read_record
from tests.wikidata_items import (
    CANDIDATES,
    CLASSES,
    DELETED,
    FIXTURE,
    FIXTURE_CLASSES,
    REDIRECTS,
    RIGHT,
    STALE_SEARCH,
    linked,
)
from tests.wikidata_stand_in import Fault, StandIn, serving

RECORD = PROJECT_ROOT / "data" / "wikidata" / "links.tsv"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def stand_in_items(loaded: LoadedGraph) -> list[dict[str, object]]:
    record = read_record(RECORD)
    graph = Graph(loaded.store, record)
    rows = []
    for link in confirmed(record):
        profile = graph.profile(link.entity)
        cls = "Q5" if profile.person else (link.instance_of_qid or (profile.classes[0].qid if profile.classes else ""))
        labels = {"en": link.label_en or profile.name, "fr": link.label_fr, "ja": link.label_ja}
        rows.append((link.entity, link.qid, labels, cls))
    taken = {row[1] for row in rows}
    return [*linked(rows), *(i for i in CLASSES if i["id"] not in taken), *FIXTURE_CLASSES, *CANDIDATES]


@pytest.fixture
def wikidata(loaded: LoadedGraph) -> Iterator[tuple[StandIn, str]]:
    stand_in = StandIn(stand_in_items(loaded), STALE_SEARCH, REDIRECTS, DELETED)
    with serving(stand_in) as base:
        yield stand_in, base


def options(base: str, *extra: str) -> list[str]:
    return ["--api", f"{base}/w/api.php", "--endpoint", f"{base}/sparql", "--delay", "0", *extra]


def ranked(path: Path) -> dict[str, list[dict[str, str]]]:
    rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines(), delimiter="\t"))
    by_entity: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_entity.setdefault(row["entity"], []).append(row)
    return by_entity


def test_suggest_ranks_the_right_item_first_and_every_namesake_below_it(
    wikidata: tuple[StandIn, str], tmp_path: Path
) -> None:
    _, base = wikidata
    review = tmp_path / "review.tsv"
    result = run("links", "suggest", *RIGHT, "--output", review, *options(base))
    assert result.exit_code == 0, result.output
    by_entity = ranked(review)
    for entity, (right, namesakes) in RIGHT.items():
        proposed = [row for row in by_entity[entity] if row["rank"] != "excluded"]
        assert proposed[0]["qid"] == right, (entity, proposed)
        top = float(proposed[0]["score"])
        for row in proposed[1:]:
            assert float(row["score"]) < top, (entity, row)
        assert {row["qid"] for row in proposed} >= set(namesakes), entity
        assert f"id:{entity}: {right} " in result.stdout
    # the disambiguation pages are never proposed, only listed as excluded
    excluded = {row["qid"]: row["why"] for rows in by_entity.values() for row in rows if row["rank"] == "excluded"}
    assert set(excluded) >= {"Q999999023", "Q999999032"}
    assert all("Wikimedia disambiguation page (Q4167410)" in why for why in excluded.values())
    # the merged item is shown as the item it was merged into, the deleted one not at all
    cop22 = by_entity["cop22"][0]
    assert "Q999999041 was merged into Q999999042" in cop22["why"]
    assert not any(row["qid"] in ("Q999999041", "Q999999051") for rows in by_entity.values() for row in rows)


def test_the_review_says_why_with_the_label_the_class_and_the_context(
    wikidata: tuple[StandIn, str], tmp_path: Path
) -> None:
    _, base = wikidata
    review = tmp_path / "review.md"
    result = run("links", "suggest", "isas", "masaaki-tanaka", "gosat", "--output", review, *options(base))
    assert result.exit_code == 0, result.output
    text = review.read_text(encoding="utf-8")
    assert text.startswith("# Wikidata candidates for spacegraph's unlinked entities\n")
    assert f"by spacegraph {__version__}" in text and "Nothing here is a link." in text
    isas = text.split("## id:isas")[1].split("## id:")[0]
    first = next(line for line in isas.splitlines() if line.startswith("| 1 |"))
    assert "[Q999999021](https://www.wikidata.org/wiki/Q999999021)" in first
    assert "label: 'Institute of Space and Astronautical Science' (en) = label" in first
    assert "class: our schema:GovernmentOrganization, org:OrganizationalUnit map to no Wikidata class" in first
    assert "id:isas org:unitOf id:jaxa (Q179103), and the item's P749 agrees, +10" in first
    assert "id:isas sg:country id:japan (Q17), and the item's P17 agrees, +10" in first
    second = next(line for line in isas.splitlines() if line.startswith("| 2 |"))
    assert (
        "Q999999022" in second and "the item has France (Q142) where id:isas sg:country id:japan (Q17), -15" in second
    )
    assert "`spacegraph links accept isas Q999999021`" in isas
    assert "Not proposed: Q999999023 (Wikimedia disambiguation page (Q4167410))" in isas
    tanaka = text.split("## id:masaaki-tanaka")[1].split("## id:")[0]
    first = next(line for line in tanaka.splitlines() if line.startswith("| 1 |"))
    assert "Q999999013" in first and "post: Director General of the Research and Development Bureau at MEXT" in first
    assert "a post in id:mext (Q1054379), and the item's P108 agrees, +10" in first
    gosat = text.split("## id:gosat")[1]
    assert "Q999999051: deleted (wbgetentities says it is missing)" in gosat
    first = next(line for line in gosat.splitlines() if line.startswith("| 1 |"))
    assert "class: P31 Earth observation satellite (Q854845) is a subclass of artificial satellite (Q26540)" in first
    assert FIXTURE in text  # the fixture items say what they are


def test_the_client_is_polite(wikidata: tuple[StandIn, str], tmp_path: Path) -> None:
    stand_in, base = wikidata
    stand_in.faults = [
        Fault(429, {"Retry-After": "1"}),
        Fault(503),
        Fault(200, {"Retry-After": "1", "X-Database-Lag": "6"}, kind="maxlag"),
    ]
    review = tmp_path / "review.md"
    result = run("links", "suggest", "gosat", "--output", review, *options(base, "--delay", "0.2"))
    assert result.exit_code == 0, result.output
    waits = [line for line in result.stderr.splitlines() if "waiting" in line]
    assert waits == [
        f"{base}/w/api.php answered 429: waiting 1 s (try 2 of 6)",
        f"{base}/w/api.php answered 503: waiting 2 s (try 3 of 6)",
        f"{base}/w/api.php maxlag: Waiting for 10.64.48.35: 6.2 seconds lagged: waiting 1 s (try 4 of 6)",
    ]
    log = stand_in.log
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(log)]
    assert gaps[0] >= 1.0 and gaps[1] >= 2.0 and gaps[2] >= 1.0  # Retry-After, back-off (2nd try), Retry-After
    assert all(gap >= 0.19 for gap in gaps)  # never faster than --delay
    api = [entry for entry in log if entry.path == "/w/api.php"]
    assert api and all(entry.params["maxlag"] == "5" and entry.params["format"] == "json" for entry in api)
    assert {entry.user_agent for entry in log} == {
        f"spacegraph/{__version__} (https://w3id.org/spacegraph/; Wikidata links of a linked-data publisher) "
        f"httpx/{__import__('httpx').__version__}"
    }
    assert any(entry.path == "/sparql" and entry.method == "POST" for entry in log)


def test_a_server_that_keeps_refusing_is_one_line_and_exit_2(wikidata: tuple[StandIn, str], tmp_path: Path) -> None:
    stand_in, base = wikidata
    stand_in.faults = [Fault(503)] * 3
    result = run("links", "suggest", "gosat", "--output", tmp_path / "r.md", *options(base, "--retries", "2"))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == f"error: {base}/w/api.php answered 503, 3 tries; giving up"
    assert "Traceback" not in result.output and not (tmp_path / "r.md").exists()


def test_a_long_retry_after_stops_the_run(wikidata: tuple[StandIn, str], tmp_path: Path) -> None:
    stand_in, base = wikidata
    stand_in.faults = [Fault(429, {"Retry-After": "3600"})]
    result = run("links", "suggest", "gosat", "--output", tmp_path / "r.md", *options(base))
    assert result.exit_code == 2
    assert result.stderr == f"error: {base}/w/api.php answered 429 and asks to wait 3600 s; try again later\n"


def test_an_unknown_entity_is_refused_before_any_request(wikidata: tuple[StandIn, str], tmp_path: Path) -> None:
    stand_in, base = wikidata
    result = run("links", "suggest", "isass", "--output", tmp_path / "r.md", *options(base))
    assert result.exit_code == 2
    assert result.stderr == "error: id:isass is not in our graph\n"
    assert stand_in.log == []


def test_fixture_ids_never_reach_the_record() -> None:
    assert not re.search(r"Q9999999\d\d", RECORD.read_text(encoding="utf-8"))
