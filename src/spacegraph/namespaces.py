"""Our IRIs and the prefixes spacegraph writes and reads, in one place.

Every IRI the publication mints starts with ``BASE``: things under ``id/``, the ontology under ``def``,
the named graphs under ``graph/``, the shapes under ``shapes/``. The sources (``ontology/``, ``data/``,
``metadata/``, ``queries/``, the JSON-LD context) are written under ``SOURCE_BASE``,
``https://w3id.org/spacegraph/``; ``BASE`` is the one setting of ``spacegraph.toml`` at the project's
root (``SOURCE_BASE`` when the file or the setting is absent). When the two differ, what is read from
the sources is moved to ``BASE`` as it is read (``rebase``, ``rebase_text``): a build then mints every IRI
under ``BASE``, and a server serving it answers them. It is read once, when this module is first
imported, like the package's own files: it names the publication, it is not a server option.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import overload
from urllib.parse import urlsplit

import pyoxigraph as ox

from spacegraph import PROJECT_ROOT
from spacegraph.errors import SpacegraphError

SOURCE_BASE = "https://w3id.org/spacegraph/"
SETTINGS = PROJECT_ROOT / "spacegraph.toml"


def configured_base(settings: Path = SETTINGS) -> str:
    """The ``base`` of ``spacegraph.toml``, checked: an absolute http(s) IRI ending in ``/``, with no
    query or fragment. ``SOURCE_BASE`` when there is no such file or setting."""
    try:
        text = settings.read_text(encoding="utf-8")
    except FileNotFoundError:
        return SOURCE_BASE
    try:
        value: object = tomllib.loads(text).get("base", SOURCE_BASE)
    except tomllib.TOMLDecodeError as error:
        raise SpacegraphError(f"not TOML: {error}", path=settings) from None
    if not isinstance(value, str):
        raise SpacegraphError(f"base must be a string, not {value!r}", path=settings)
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or not value.endswith("/")
        or value != value.strip()
    ):
        raise SpacegraphError(
            f"base must be an http(s) IRI ending in '/', without a query or a fragment, not {value!r}", path=settings
        )
    return value


BASE = configured_base()
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
    "id": ID,
    "sg": DEF,
    "sgsh": BASE + "shapes/",
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


@overload
def rebase(term: ox.NamedNode) -> ox.NamedNode: ...
@overload
def rebase(term: ox.Literal) -> ox.Literal: ...
@overload
def rebase(term: ox.NamedNode | ox.Literal) -> ox.NamedNode | ox.Literal: ...
def rebase(term: ox.NamedNode | ox.Literal) -> ox.NamedNode | ox.Literal:
    """An IRI of the sources under ``BASE``; also a literal that is one (``dcterms:identifier``), its
    datatype and language kept."""
    if BASE == SOURCE_BASE or not term.value.startswith(SOURCE_BASE):
        return term
    value = BASE + term.value[len(SOURCE_BASE) :]
    if isinstance(term, ox.NamedNode):
        return ox.NamedNode(value)
    if term.language:
        return ox.Literal(value, language=term.language)
    return ox.Literal(value, datatype=term.datatype)


def rebase_text(text: str) -> str:
    """A text of the sources (a query, the JSON-LD context) with its IRIs under ``BASE``."""
    return text.replace(SOURCE_BASE, BASE) if BASE != SOURCE_BASE else text
