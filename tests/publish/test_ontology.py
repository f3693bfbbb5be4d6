"""The ontology: documented in English and French, versioned, consistent under OWL 2 RL, and its
Wikidata mappings backed by the evidence record."""

from __future__ import annotations

import csv
from pathlib import Path

import owlrl
import pytest
import rdflib
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from spacegraph import PROJECT_ROOT
from spacegraph.namespaces import DATA_GRAPH, DEF, ENRICHMENT_GRAPH, ONTOLOGY_GRAPH
from spacegraph.publish.graph import LoadedGraph, parse_turtle
from spacegraph.publish.validate import to_rdflib

ERROR_MESSAGE = rdflib.URIRef("http://www.daml.org/2002/03/agents/agent-ont#ErrorMessage")
ERROR = rdflib.URIRef("http://www.daml.org/2002/03/agents/agent-ont#error")
WD = "http://www.wikidata.org/entity/"
WDT = "http://www.wikidata.org/prop/direct/"


@pytest.fixture(scope="module")
def ontology(loaded: LoadedGraph) -> rdflib.Graph:
    return to_rdflib(loaded.quads(ONTOLOGY_GRAPH))


def own_terms(ontology: rdflib.Graph) -> list[rdflib.URIRef]:
    return sorted(
        {
            s
            for s in ontology.subjects(RDFS.isDefinedBy, None)
            if isinstance(s, rdflib.URIRef) and str(s).startswith(DEF)
        }
    )


def test_every_term_has_english_and_french_labels_and_comments(ontology: rdflib.Graph) -> None:
    terms = own_terms(ontology)
    assert len(terms) > 40
    for term in terms:
        for predicate in (RDFS.label, RDFS.comment):
            languages = {o.language for o in ontology.objects(term, predicate) if isinstance(o, rdflib.Literal)}
            assert {"en", "fr"} <= languages, f"{term} lacks an English or French {predicate}"


def test_every_term_is_typed_as_a_class_or_a_property(ontology: rdflib.Graph) -> None:
    kinds = {OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty}
    for term in own_terms(ontology):
        assert set(ontology.objects(term, RDF.type)) & kinds, f"{term} is neither a class nor a property"


def test_the_ontology_is_versioned(ontology: rdflib.Graph) -> None:
    iri = rdflib.URIRef(DEF.rstrip("/"))
    assert (iri, RDF.type, OWL.Ontology) in ontology
    version = ontology.value(iri, OWL.versionInfo)
    assert version is not None
    assert ontology.value(iri, OWL.versionIRI) == rdflib.URIRef(f"{DEF}{version}")


def owl_rl_errors(graph: rdflib.Graph) -> list[str]:
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(graph)
    return sorted(str(graph.value(m, ERROR)) for m in graph.subjects(RDF.type, ERROR_MESSAGE))


def test_ontology_and_data_are_consistent_under_owl2_rl(loaded: LoadedGraph) -> None:
    graph = to_rdflib(loaded.quads(ONTOLOGY_GRAPH, DATA_GRAPH, ENRICHMENT_GRAPH))
    assert owl_rl_errors(graph) == []


def test_owl2_rl_run_catches_a_contradiction(loaded: LoadedGraph) -> None:
    graph = to_rdflib(loaded.quads(ONTOLOGY_GRAPH, DATA_GRAPH, ENRICHMENT_GRAPH))
    graph += to_rdflib(parse_turtle(PROJECT_ROOT / "tests/data/inconsistent/mission-and-spacecraft.ttl"))
    errors = owl_rl_errors(graph)
    assert any("disjoint" in error.lower() for error in errors), errors


def confirmed_mappings(path: Path) -> set[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["id"] for row in csv.DictReader(handle, delimiter="\t") if row["status"] == "confirmed"}


def test_every_wikidata_mapping_is_a_confirmed_id(ontology: rdflib.Graph) -> None:
    confirmed = confirmed_mappings(PROJECT_ROOT / "ontology" / "wikidata-mappings.tsv")
    mapped = [
        str(o)
        for p in (SKOS.exactMatch, SKOS.closeMatch, SKOS.broadMatch, SKOS.narrowMatch)
        for o in ontology.objects(None, p)
    ]
    assert len(mapped) > 30
    for iri in mapped:
        assert iri.startswith((WD, WDT)), iri
        assert iri.rsplit("/", 1)[1] in confirmed, f"{iri} is not a confirmed id in ontology/wikidata-mappings.tsv"
