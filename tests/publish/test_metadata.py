"""The dataset description as a European data portal reads it: DCAT-AP 3.0.0 with SEMIC's own shapes
(0 results on void.ttl and on the metadata graph inside the dumps, and the shapes shown to catch a
broken description), the catalogue a harvester starts from, the EU controlled vocabularies, and the time
the data covers, computed from the data."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib

from spacegraph import PROJECT_ROOT
from spacegraph.namespaces import DATA_GRAPH, PREFIXES
from spacegraph.publish.metadata import CATALOG, DATASET, METADATA_GRAPH, SERVICE, Period, time_covered
from tests.standards import dcat_ap_results

BROKEN = PROJECT_ROOT / "tests" / "data" / "broken" / "dcat-ap-description.ttl"
DCAT = PREFIXES["dcat"]
DCTERMS = PREFIXES["dcterms"]
XSD = PREFIXES["xsd"]
EU = "http://publications.europa.eu/resource/authority/"
PREFIX = "\n".join(f"PREFIX {p}: <{n}>" for p, n in PREFIXES.items())


@pytest.fixture(scope="module")
def void(linked_build: Path) -> rdflib.Graph:
    return rdflib.Graph().parse(linked_build / "void.ttl", format="turtle")


def select(graph: rdflib.Graph, query: str) -> list[tuple[str, ...]]:
    return sorted(tuple(str(value) for value in row) for row in graph.query(PREFIX + "\n" + query))  # type: ignore[union-attr]


def test_void_conforms_to_dcat_ap(void: rdflib.Graph) -> None:
    assert dcat_ap_results(void) == []


def test_the_metadata_graph_inside_the_dumps_conforms_to_dcat_ap(linked_build: Path) -> None:
    dataset = rdflib.Dataset()
    with warnings.catch_warnings():  # rdflib's N-Quads parser calls APIs that rdflib 7 deprecates
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="rdflib")
        dataset.parse(linked_build / "spacegraph.nq", format="nquads")
    metadata = rdflib.Graph()
    for triple in dataset.graph(rdflib.URIRef(METADATA_GRAPH.value)):
        metadata.add(triple)
    assert len(metadata) > 900
    assert dcat_ap_results(metadata) == []


def test_the_shapes_catch_a_broken_description(void: rdflib.Graph) -> None:
    expected = sorted(
        tuple(line.split()) for line in re.findall(r"^# expect: (.*)$", BROKEN.read_text(encoding="utf-8"), re.M)
    )
    broken = rdflib.Graph()
    for triple in void:
        broken.add(triple)
    broken.parse(BROKEN, format="turtle")
    results = dcat_ap_results(broken)
    assert sorted((r.focus, r.path) for r in results) == expected
    assert {r.severity for r in results} == {"Violation"}


def test_the_catalogue_lists_the_dataset_the_endpoint_and_every_distribution(void: rdflib.Graph) -> None:
    assert select(void, f"SELECT ?d WHERE {{ <{CATALOG.value}> a dcat:Catalog ; dcat:dataset ?d }}") == [
        (DATASET.value,)
    ]
    services = select(
        void,
        f"""SELECT ?s ?url WHERE {{ <{CATALOG.value}> dcat:service ?s .
            ?s a dcat:DataService ; dcat:endpointURL ?url ; dcat:servesDataset <{DATASET.value}> }}""",
    )
    assert services == [(SERVICE.value, "https://w3id.org/spacegraph/sparql")]
    distributions = select(
        void,
        f"""SELECT ?d ?url WHERE {{ <{DATASET.value}> dcat:distribution ?d .
            ?d a dcat:Distribution ; dcat:accessURL ?url }}""",
    )
    assert len(distributions) == 13  # six formats, each plain and gzipped, and the endpoint
    through = select(void, f"SELECT ?d WHERE {{ ?d dcat:accessService <{SERVICE.value}> }}")
    assert through == [(DATASET.value + "#sparql-endpoint",)]


def test_values_come_from_the_eu_vocabularies_with_their_classes(void: rdflib.Graph) -> None:
    dataset = f"<{DATASET.value}>"
    assert select(void, f"SELECT ?l WHERE {{ {dataset} dcterms:license ?l . ?l a dcterms:LicenseDocument }}") == [
        (EU + "licence/CC_BY_4_0",)
    ]
    languages = select(void, f"SELECT ?l WHERE {{ {dataset} dcterms:language ?l . ?l a dcterms:LinguisticSystem }}")
    assert languages == [(EU + "language/ENG",), (EU + "language/FRA",), (EU + "language/JPN",)]
    formats = select(
        void,
        """SELECT DISTINCT ?f ?label WHERE { ?d a dcat:Distribution ; dcterms:format ?f .
           ?f a dcterms:MediaTypeOrExtent, skos:Concept ; skos:prefLabel ?label }""",
    )
    assert [f for f, _ in formats] == [
        EU + "file-type/" + code
        for code in ("JSON_LD", "RDF_N_QUADS", "RDF_N_TRIPLES", "RDF_TRIG", "RDF_TURTLE", "RDF_XML", "SPARQLQ")
    ]
    untyped = select(
        void,
        """SELECT ?m WHERE { { ?d dcat:mediaType ?m } UNION { ?d dcat:compressFormat ?m }
           FILTER NOT EXISTS { ?m a dcterms:MediaType } }""",
    )
    assert untyped == []
    # The release is the origin, stated as a document may be: not with dcterms:source.
    origin = select(void, f"SELECT ?p WHERE {{ {dataset} ?p <{PREFIXES['id']}press-release> }}")
    assert origin == [
        (DCTERMS + "relation",),
        (PREFIXES["void"] + "exampleResource",),
        (PREFIXES["prov"] + "wasDerivedFrom",),
    ]


def test_the_time_covered_is_computed_from_the_data(void: rdflib.Graph) -> None:
    rows = select(
        void,
        f"""SELECT ?start ?end WHERE {{ <{DATASET.value}> dcterms:temporal
            [ a dcterms:PeriodOfTime ; dcat:startDate ?start ; dcat:endDate ?end ] }}""",
    )
    assert rows == [("2015-10", "2016")]


def dated(*values: tuple[str, str]) -> list[ox.Quad]:
    subject, date = ox.NamedNode(PREFIXES["id"] + "x"), ox.NamedNode(PREFIXES["sg"] + "date")
    return [ox.Quad(subject, date, ox.Literal(v, datatype=ox.NamedNode(XSD + t)), DATA_GRAPH) for v, t in values]


def test_a_period_keeps_the_precision_of_its_ends() -> None:
    period = time_covered(dated(("2016-07-22", "date"), ("2016-06", "gYearMonth"), ("2015", "gYear")))
    assert period == Period(
        ox.Literal("2015", datatype=ox.NamedNode(XSD + "gYear")),
        ox.Literal("2016-07-22", datatype=ox.NamedNode(XSD + "date")),
    )
    # A month ends after any of its days, a year after any of its months.
    period = time_covered(dated(("2016-02-28", "date"), ("2016-02", "gYearMonth")))
    assert period is not None and period.end.value == "2016-02"
    assert time_covered(dated(("2016-13", "gYearMonth"))) is None  # not a month: ignored
    elsewhere = [ox.Quad(q.subject, q.predicate, q.object, ox.DefaultGraph()) for q in dated(("2016", "gYear"))]
    assert time_covered(elsewhere) is None  # only what the release states counts
