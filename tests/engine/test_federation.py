"""The federated example queries (queries/federated/) on our endpoint, with a Wikidata stand-in on the
allow-list: a real Oxigraph server on 127.0.0.1 holding Wikidata-shaped statements about our items."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from spacegraph import PROJECT_ROOT
from spacegraph.config import Config
from spacegraph.publish.links import confirmed, read_record
from spacegraph.web.app import create_app
from tests.servers import oxigraph_server
from tests.support import running

FEDERATED = PROJECT_ROOT / "queries" / "federated"
WIKIDATA_SPARQL = "https://query.wikidata.org/sparql"
WD = "http://www.wikidata.org/entity/"
WDT = "http://www.wikidata.org/prop/direct/"
DATE_TIME = "http://www.w3.org/2001/XMLSchema#dateTime"

# What the stand-in knows, shaped as Wikidata's truthy statements are (dates as xsd:dateTime at midnight).
BORN = {"Q10287": "1962-08-13", "Q132345": "1954-09-21"}  # Manuel Valls, Shinzo Abe
LAUNCHED = {"Q25271": "1998-11-20", "Q48572": "2004-03-02", "Q2113134": "2014-12-03", "Q113169": "2018-10-20"}


def stand_in() -> str:
    lines = [f'<{WD}{q}> <{WDT}P569> "{day}T00:00:00Z"^^<{DATE_TIME}> .' for q, day in BORN.items()]
    lines += [f'<{WD}{q}> <{WDT}P619> "{day}T00:00:00Z"^^<{DATE_TIME}> .' for q, day in LAUNCHED.items()]
    for link in confirmed(read_record(PROJECT_ROOT / "data" / "wikidata" / "links.tsv")):
        if link.instance_of_qid:
            lines.append(f"<{link.item}> <{WDT}P31> <{WD}{link.instance_of_qid}> .")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory, nquads: Path) -> Iterator[tuple[str, str]]:
    """Our endpoint, federating only into the stand-in; yields (our /sparql, the stand-in's endpoint)."""
    folder = tmp_path_factory.mktemp("federation")
    with oxigraph_server(folder / "wikidata") as base:
        loaded = httpx.post(
            f"{base}/store?default", content=stand_in().encode(), headers={"Content-Type": "application/n-triples"}
        )
        assert loaded.status_code in (200, 201, 204), loaded.text
        wikidata = f"{base}/query"
        config = Config(data=(nquads,), timeout=10, service_allow=(wikidata,))
        with running(create_app(config)) as ours:
            yield f"{ours}/sparql", wikidata


def ask(endpoint: tuple[str, str], name: str) -> list[tuple[str, ...]]:
    ours, wikidata = endpoint
    query = (FEDERATED / name).read_text(encoding="utf-8")
    assert WIKIDATA_SPARQL in query
    response = httpx.post(
        ours,
        data={"query": query.replace(WIKIDATA_SPARQL, wikidata)},
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = json.loads(response.text)
    names = body["head"]["vars"]
    return [tuple(row[n]["value"] for n in names) for row in body["results"]["bindings"]]


def test_every_federated_query_goes_through_wikidata() -> None:
    names = sorted(p.name for p in FEDERATED.glob("*.rq"))
    assert names == ["01-prime-ministers-born.rq", "02-launch-dates.rq", "03-wikidata-classes.rq"]


def test_the_prime_ministers_dates_of_birth(endpoint: tuple[str, str]) -> None:
    assert ask(endpoint, "01-prime-ministers-born.rq") == [
        ("Manuel Valls", WD + "Q10287", "1962-08-13T00:00:00Z"),
        ("Shinzo Abe", WD + "Q132345", "1954-09-21T00:00:00Z"),
    ]


def test_the_launch_dates_of_missions_and_spacecraft(endpoint: tuple[str, str]) -> None:
    assert ask(endpoint, "02-launch-dates.rq") == [
        ("International Space Station", WD + "Q25271", "1998-11-20T00:00:00Z"),
        ("Rosetta", WD + "Q48572", "2004-03-02T00:00:00Z"),
        ("Hayabusa-2", WD + "Q2113134", "2014-12-03T00:00:00Z"),
        ("BepiColombo", WD + "Q113169", "2018-10-20T00:00:00Z"),
    ]


def test_the_wikidata_class_of_each_linked_entity(endpoint: tuple[str, str]) -> None:
    rows = ask(endpoint, "03-wikidata-classes.rq")
    recorded = {
        (link.entity, WD + link.instance_of_qid)
        for link in confirmed(read_record(PROJECT_ROOT / "data" / "wikidata" / "links.tsv"))
        if link.instance_of_qid
    }
    assert len(rows) == len(recorded) >= 10
    assert ("Hayabusa-2", WD + "Q2113134", WD + "Q26529") in rows
    assert ("Japan", WD + "Q17", WD + "Q6256") in rows


def test_without_the_allow_list_the_same_query_is_refused(nquads: Path, endpoint: tuple[str, str]) -> None:
    _, wikidata = endpoint
    config = Config(data=(nquads,), timeout=10)
    query = (FEDERATED / "01-prime-ministers-born.rq").read_text(encoding="utf-8").replace(WIKIDATA_SPARQL, wikidata)
    with running(create_app(config)) as ours:
        response = httpx.post(f"{ours}/sparql", data={"query": query}, timeout=30)
    assert response.status_code == 403
    assert "SERVICE" in response.text
