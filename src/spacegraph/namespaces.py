"""Our IRIs and the prefixes spacegraph writes and reads, in one place."""

from __future__ import annotations

import re

import pyoxigraph as ox

BASE = "https://w3id.org/spacegraph/"
ID = BASE + "id/"
DEF = BASE + "def/"
ONTOLOGY_IRI = BASE + "def"
WIKIDATA_ENTITY = "http://www.wikidata.org/entity/"


def graph_iri(name: str) -> ox.NamedNode:
    return ox.NamedNode(f"{BASE}graph/{name}")


DATA_GRAPH = graph_iri("data")
ENRICHMENT_GRAPH = graph_iri("enrichment")
ONTOLOGY_GRAPH = graph_iri("ontology")
SHAPES_GRAPH = graph_iri("shapes")
SOURCE_GRAPHS = (DATA_GRAPH, ENRICHMENT_GRAPH, ONTOLOGY_GRAPH, SHAPES_GRAPH)

PREFIXES: dict[str, str] = {
    "id": "https://w3id.org/spacegraph/id/",
    "sg": "https://w3id.org/spacegraph/def/",
    "sgsh": "https://w3id.org/spacegraph/shapes/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dcterms": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "org": "http://www.w3.org/ns/org#",
    "oa": "http://www.w3.org/ns/oa#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "prov": "http://www.w3.org/ns/prov#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "schema": "https://schema.org/",
    "sh": "http://www.w3.org/ns/shacl#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "spdx": "http://spdx.org/rdf/terms#",
    "vann": "http://purl.org/vocab/vann/",
    "void": "http://rdfs.org/ns/void#",
    "wd": "http://www.wikidata.org/entity/",
    "wdt": "http://www.wikidata.org/prop/direct/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}

_LOCAL = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def compact(iri: str) -> str:
    """``https://w3id.org/spacegraph/id/jaxa`` → ``id:jaxa``; IRIs no prefix covers stay in ``<…>``."""
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace):
            local = iri[len(namespace) :]
            if _LOCAL.fullmatch(local) and not local.endswith("."):
                return f"{prefix}:{local}"
    return f"<{iri}>"
