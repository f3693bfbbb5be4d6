"""Loading sources into named graphs, and the Wikidata link record."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from spacegraph import PROJECT_ROOT
from spacegraph.errors import SpacegraphError
from spacegraph.namespaces import DATA_GRAPH, ENRICHMENT_GRAPH, ID
from spacegraph.publish.graph import OWL_SAME_AS, LoadedGraph, Sources, load
from spacegraph.publish.links import confirmed, read_record


def read_links(path: Path) -> list[tuple[str, str]]:
    return [(link.entity, link.qid) for link in confirmed(read_record(path))]


HEADER = "entity\tqid\tstatus\tevidence\n"


def test_text_and_enrichment_go_to_their_own_graphs(loaded: LoadedGraph) -> None:
    graphs = {graph for path, graph in loaded.origins.items() if path.is_relative_to(PROJECT_ROOT / "data")}
    assert graphs == {DATA_GRAPH, ENRICHMENT_GRAPH}
    for path, graph in loaded.origins.items():
        if path.is_relative_to(PROJECT_ROOT / "data" / "text"):
            assert graph == DATA_GRAPH, path


def test_only_confirmed_links_become_owl_same_as(loaded: LoadedGraph) -> None:
    links = read_links(PROJECT_ROOT / "data" / "wikidata" / "links.tsv")
    in_graph = {
        (q.subject.value.removeprefix(ID), q.object.value.rsplit("/", 1)[1])
        for q in loaded.store.quads_for_pattern(None, OWL_SAME_AS, None, ENRICHMENT_GRAPH)
    }
    assert in_graph == set(links)
    assert ("cnes", "Q48756") in in_graph
    assert not any(entity == "masaaki-tanaka" for entity, _ in in_graph)  # namesakes only: unconfirmed


def test_no_two_entities_share_a_wikidata_item() -> None:
    qids = [qid for _, qid in read_links(PROJECT_ROOT / "data" / "wikidata" / "links.tsv")]
    assert len(qids) == len(set(qids))


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_malformed_qid_in_the_record_is_named_with_its_line(tmp_path: Path) -> None:
    record = write(tmp_path / "links.tsv", HEADER + "cnes\tQ48756\tconfirmed\tx\njaxa\tq179103\tconfirmed\tx\n")
    with pytest.raises(SpacegraphError) as caught:
        read_links(record)
    assert str(caught.value) == f"{record}:3: not a Wikidata Q-id: 'q179103'"


def test_a_record_without_its_columns_is_refused(tmp_path: Path) -> None:
    record = write(tmp_path / "links.tsv", "slug\tq\n")
    with pytest.raises(SpacegraphError, match=r"links.tsv:1: missing column\(s\) entity, qid, status"):
        read_links(record)


def test_unconfirmed_rows_make_no_link(tmp_path: Path) -> None:
    record = write(tmp_path / "links.tsv", HEADER + "cnes\t\tunconfirmed\tx\njaxa\tQ179103\tconfirmed\tx\n")
    assert read_links(record) == [("jaxa", "Q179103")]


def test_extra_data_is_loaded_beside_the_project_data(tmp_path: Path) -> None:
    extra = write(tmp_path / "extra.ttl", f"<{ID}x> <{ID}p> <{ID}y> .\n")
    store = load(Sources.in_project(data=(PROJECT_ROOT / "data", extra))).store
    assert list(store.quads_for_pattern(ox.NamedNode(ID + "x"), None, None, DATA_GRAPH))
