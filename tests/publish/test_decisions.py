"""`spacegraph links accept` and `spacegraph links refresh` through the CLI, on a copy of the record,
against the Wikidata stand-in; `links check` passes after them, and the project's record is untouched."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from spacegraph.publish.graph import LoadedGraph
from spacegraph.publish.links import read_record
from tests.publish.test_suggest import RECORD, options, run, stand_in_items
from tests.wikidata_items import DELETED, REDIRECTS, STALE_SEARCH
from tests.wikidata_stand_in import StandIn, serving


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Path]:
    before = RECORD.read_bytes()
    copy = tmp_path / "links.tsv"
    shutil.copyfile(RECORD, copy)
    yield copy
    assert RECORD.read_bytes() == before  # the project's record is never written by a test


@pytest.fixture
def wikidata(loaded: LoadedGraph) -> Iterator[str]:
    with serving(StandIn(stand_in_items(loaded), STALE_SEARCH, REDIRECTS, DELETED)) as base:
        yield base


def test_accept_writes_the_row_with_its_evidence_and_check_passes(wikidata: str, record: Path) -> None:
    result = run("links", "accept", "isas", "Q999999021", "--record", record, *options(wikidata))
    assert result.exit_code == 0, result.output
    assert (
        result.stdout
        == "id:isas is now linked to Q999999021 (Institute of Space and Astronautical Science, research institute)\n"
    )
    rows = {link.entity: link for link in read_record(record)}
    isas = rows["isas"]
    assert (isas.qid, isas.status, isas.label_en, isas.label_ja) == (
        "Q999999021",
        "confirmed",
        "Institute of Space and Astronautical Science",
        "宇宙科学研究所",
    )
    assert isas.description_en == "TEST FIXTURE, not a real item: Japanese space research institute"
    assert (isas.instance_of_qid, isas.instance_of_label) == ("Q999999901", "research institute")
    today = datetime.now(UTC).date().isoformat()
    assert isas.evidence.startswith(f"accepted by a person on {today} (spacegraph links accept, score 70)")
    assert f"{wikidata}/w/api.php wbgetentities Q999999021, retrieved {today}" in isas.evidence
    assert "matching claims: 'Institute of Space and Astronautical Science' (en) = label" in isas.evidence
    assert "country Japan (Q17)" in isas.evidence and "parent organization JAXA" not in isas.evidence
    assert "org:unitOf Japan Aerospace Exploration Agency (Q179103)" in isas.evidence
    assert "before: SpocWiki/_Standards" in isas.evidence  # what the row said before is kept
    assert len(rows) == len(read_record(RECORD))  # replaced in place, nothing added
    check = run("links", "check", "--record", record)
    assert check.exit_code == 0, check.output
    assert "OK: 26 link(s) checked, 0 error(s)" in check.stdout


@pytest.mark.parametrize(
    ("entity", "qid", "message"),
    [
        ("isas", "Q999999023", "Q999999023 is a Wikimedia disambiguation page (Q4167410), not a thing in the world"),
        ("cop22", "Q999999041", "Q999999041 was merged into Q999999042: accept Q999999042 instead"),
        ("gosat", "Q999999051", "Q999999051 does not exist in Wikidata (deleted, or never created)"),
        ("isas", "Q179103", "Q179103 is already linked from id:jaxa; one item names one thing"),
        ("thomas-pesquet", "Q999999021", "a person linked to an item of class Q999999901 (research institute), not Q5"),
        (
            "gosat",
            "Q999999061",
            "our labels ['GOSAT'] do not match the item's '67th International Astronautical Congress'",
        ),
        ("isass", "Q999999021", "id:isass is not in our graph"),
    ],
    ids=["disambiguation", "redirect", "deleted", "taken", "not-human", "label", "unknown"],
)
def test_accept_refuses_what_a_link_cannot_be(wikidata: str, record: Path, entity: str, qid: str, message: str) -> None:
    before = record.read_bytes()
    result = run("links", "accept", entity, qid, "--record", record, *options(wikidata))
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("refused: ") and message in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert record.read_bytes() == before


def refreshing_stand_in(loaded: LoadedGraph, renamed: str, deleted: str) -> StandIn:
    items = stand_in_items(loaded)
    for item in items:
        if item["id"] == renamed:
            item["labels"]["en"] = {"language": "en", "value": "Luzern"}  # type: ignore[index]
    return StandIn(items, deleted=[deleted])


def test_refresh_fills_descriptions_and_classes_and_flags_what_changed(loaded: LoadedGraph, record: Path) -> None:
    before = {link.entity: link for link in read_record(record)}
    with serving(refreshing_stand_in(loaded, renamed="Q4191", deleted="Q1385178")) as base:
        result = run("links", "refresh", "--record", record, *options(base))
        again = run("links", "refresh", "--record", record, *options(base))
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: id:lucerne (Q4191): label_en changed: recorded 'Lucerne', now 'Luzern'",
        "error: id:ryugu (Q1385178): deleted: wbgetentities says the item is missing",
    ]
    after = {link.entity: link for link in read_record(record)}
    linked = [e for e, link in before.items() if link.status == "confirmed"]
    for entity in linked:
        if entity == "ryugu":
            assert after[entity] == before[entity]  # flagged, left as it was
            continue
        assert after[entity].description_en == f"stand-in description of {after[entity].qid}", entity
        assert after[entity].instance_of_qid and after[entity].instance_of_label, entity
        assert after[entity].label_en == before[entity].label_en  # a changed label is flagged, never rewritten
        assert "wbgetentities" in after[entity].evidence.rsplit(" | ", 1)[-1]
    assert after["cnes"].instance_of_label == "organization" and after["manuel-valls"].instance_of_qid == "Q5"
    assert after["tokyo"].label_fr == "" and after["hayabusa2"].instance_of_label == "space probe"
    assert len([line for line in result.stdout.splitlines() if line.startswith("updated: ")]) == len(linked) - 1
    # a second refresh changes nothing and flags the same
    assert again.exit_code == 1 and "updated: " not in again.stdout
    check = run("links", "check", "--record", record)
    assert check.exit_code == 0, check.output
