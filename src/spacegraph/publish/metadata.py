"""The description of the published dataset, in VoID and DCAT: the hand-written part read from
``metadata/dataset.ttl``, everything countable computed from the graph.

The description is published twice. As the ``metadata`` named graph inside the dumps, it describes the
dataset, its graphs, its partitions and its distributions, but not the bytes of the dump files: a file
cannot hold its own checksum. ``void.ttl``, written beside the dumps, is that same graph plus the byte
size and SHA-256 checksum of every dump file. The counts cover everything the dumps hold, the metadata
graph included, so ``void:triples`` is exactly the number of lines of ``spacegraph.nt``: the metadata is
computed to a fixed point, since describing the counts adds triples that must themselves be counted.
"""

from __future__ import annotations

import calendar
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyoxigraph as ox
import rdflib

from spacegraph import PROJECT_ROOT, __version__
from spacegraph.errors import SpacegraphError
from spacegraph.formats import RdfFormat
from spacegraph.namespaces import (
    BASE,
    DATA_GRAPH,
    ENRICHMENT_GRAPH,
    ID,
    ONTOLOGY_GRAPH,
    PREFIXES,
    SHAPES_GRAPH,
    WIKIDATA_ENTITY,
    graph_iri,
)
from spacegraph.publish.graph import OWL_SAME_AS, parse_turtle
from spacegraph.publish.validate import quiet_rdflib

DESCRIPTION = PROJECT_ROOT / "metadata" / "dataset.ttl"

DCAT = "http://www.w3.org/ns/dcat#"
DCTERMS = "http://purl.org/dc/terms/"
FOAF = "http://xmlns.com/foaf/0.1/"
OWL = "http://www.w3.org/2002/07/owl#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SPDX = "http://spdx.org/rdf/terms#"
VOID = "http://rdfs.org/ns/void#"
XSD = "http://www.w3.org/2001/XMLSchema#"


DATASET = ox.NamedNode(ID + "dataset")
CATALOG = ox.NamedNode(ID + "catalog")
SERVICE = ox.NamedNode(DATASET.value + "#sparql")  # the SPARQL endpoint, as a DCAT data service
ENDPOINT_DISTRIBUTION = ox.NamedNode(DATASET.value + "#sparql-endpoint")  # the dataset, through the endpoint
METADATA_GRAPH = graph_iri("metadata")
PUBLISHED_GRAPHS = (DATA_GRAPH, ENRICHMENT_GRAPH, ONTOLOGY_GRAPH, SHAPES_GRAPH, METADATA_GRAPH)
SPARQL_ENDPOINT = ox.NamedNode(BASE + "sparql")
# The Triple Pattern Fragments' subject lookup: this IRI followed by a percent-encoded IRI gives the
# triples about it (the server's /fragments, web/fragments.py).
URI_LOOKUP = ox.NamedNode(BASE + "fragments?subject=")
DUMPS = BASE + "dumps/"  # where the dump files are served: DUMPS + file name
LINKSET = ox.NamedNode(DATASET.value + "#wikidata-links")
WIKIDATA = ox.NamedNode(WIKIDATA_ENTITY + "Q2013")  # the Wikidata item for Wikidata itself
GZIP = "application/gzip"
SPARQL_PROTOCOL = ox.NamedNode("https://www.w3.org/TR/sparql11-protocol/")
DATE = ox.NamedNode(PREFIXES["sg"] + "date")

# The controlled vocabularies DCAT-AP recommends. Media types are IANA's, named as DCAT-AP's tools (and
# data.europa.eu's quality checks) name them; file types are the EU Publications Office's authority
# table, with that table's English labels (each confirmed in a copy of the table).
IANA_MEDIA_TYPES = "http://www.iana.org/assignments/media-types/"
FILE_TYPE_TABLE = "http://publications.europa.eu/resource/authority/file-type"
FILE_TYPES = {  # formats.py name: (authority table code, its English label)
    "turtle": ("RDF_TURTLE", "RDF Turtle"),
    "jsonld": ("JSON_LD", "JSON-LD"),
    "ntriples": ("RDF_N_TRIPLES", "RDF N-Triples"),
    "rdfxml": ("RDF_XML", "RDF XML"),
    "trig": ("RDF_TRIG", "RDF TriG"),
    "nquads": ("RDF_N_QUADS", "RDF N-Quads"),
    "sparql": ("SPARQLQ", "SPARQL"),
}
SHA256 = ox.NamedNode(SPDX + "checksumAlgorithm_sha256")

FORMAT_LABELS = {
    "turtle": "Turtle",
    "jsonld": "JSON-LD",
    "ntriples": "N-Triples",
    "rdfxml": "RDF/XML",
    "trig": "TriG",
    "nquads": "N-Quads",
}

GRAPH_DESCRIPTIONS = {
    DATA_GRAPH: ("data", "What the press release states, each fact tied to the quote that states it."),
    ENRICHMENT_GRAPH: (
        "enrichment",
        "Knowledge added from other sources, each with its dcterms:source, and the links to Wikidata.",
    ),
    ONTOLOGY_GRAPH: ("ontology", "The spacegraph ontology: the terms the data uses that reused vocabularies lack."),
    SHAPES_GRAPH: ("shapes", "The SHACL shapes the data, the enrichment and the ontology conform to."),
    METADATA_GRAPH: (
        "metadata",
        "This description of the dataset, in VoID and DCAT, without the sizes and checksums of the dump files "
        "(they are in void.ttl).",
    ),
}

# What the hand-written description must say about the dataset, and what it must leave to the build.
REQUIRED = ("title", "description", "license", "publisher", "issued")
COMPUTED = (
    VOID + "triples",
    VOID + "entities",
    VOID + "classes",
    VOID + "properties",
    VOID + "distinctSubjects",
    VOID + "classPartition",
    VOID + "propertyPartition",
    VOID + "vocabulary",
    VOID + "subset",
    VOID + "dataDump",
    VOID + "sparqlEndpoint",
    VOID + "uriLookupEndpoint",
    VOID + "uriSpace",
    DCAT + "distribution",
    DCAT + "version",
    DCAT + "service",
    DCTERMS + "temporal",
    OWL + "versionInfo",
)


Term = ox.NamedNode | ox.BlankNode | ox.Literal


def iri(value: str) -> ox.NamedNode:
    return ox.NamedNode(value)


def integer(value: int, datatype: str = XSD + "integer") -> ox.Literal:
    return ox.Literal(str(value), datatype=iri(datatype))


def english(text: str) -> ox.Literal:
    return ox.Literal(text, language="en")


@dataclass(frozen=True)
class Dump:
    """One dump file, as the description sees it: its name, its format, and whether it is gzipped."""

    file_name: str
    format: RdfFormat
    keeps_graphs: bool  # True: the named graphs kept apart; False: their union as one graph
    compressed: bool = False

    @property
    def iri(self) -> ox.NamedNode:
        return iri(f"{DATASET.value}#{self.file_name}")

    @property
    def download_url(self) -> ox.NamedNode:
        return iri(DUMPS + self.file_name)

    @property
    def holds(self) -> str:
        """Which graphs the file holds, in words."""
        what = f"The named graphs of the dataset ({graph_names()}), each kept as a named graph."
        if not self.keeps_graphs:
            what = f"The union of the named graphs of the dataset ({graph_names()}), as one graph."
        return what + (" Compressed with gzip." if self.compressed else "")


def graph_names() -> str:
    return ", ".join(GRAPH_DESCRIPTIONS[graph][0] for graph in PUBLISHED_GRAPHS)


@dataclass(frozen=True)
class Description:
    """The hand-written description: its triples, and where they come from."""

    path: Path
    triples: tuple[ox.Triple, ...]

    def about(self, predicate: str) -> ox.NamedNode | ox.BlankNode:
        """The node the description gives the dataset for ``predicate`` (read_description checked it)."""
        value = next(t.object for t in self.triples if t.subject == DATASET and t.predicate.value == predicate)
        assert isinstance(value, ox.NamedNode | ox.BlankNode)
        return value

    def describes(self, subject: ox.NamedNode) -> bool:
        return any(t.subject == subject for t in self.triples)


def read_description(path: Path = DESCRIPTION) -> Description:
    """Parse the hand-written description and check it says what only a person can say, and nothing
    the build computes."""
    triples = tuple(parse_turtle(path))
    about = {t.predicate.value: t.object for t in triples if t.subject == DATASET}
    for name in REQUIRED:
        if DCTERMS + name not in about:
            raise SpacegraphError(f"the description of <{DATASET.value}> needs dcterms:{name}", path=path)
    for triple in triples:
        if triple.predicate.value in COMPUTED:
            line, column = place(path, triple)
            message = f"{compact(triple.predicate.value)} is computed by the build; remove it"
            raise SpacegraphError(message, path=path, line=line, column=column)
        literal = triple.object
        if isinstance(literal, ox.Literal) and ill_typed(literal):
            line, column = place(path, triple)
            message = f'"{literal.value}" is not a valid {compact(literal.datatype.value)}'
            raise SpacegraphError(message, path=path, line=line, column=column)
    issued = about[DCTERMS + "issued"]
    if not (isinstance(issued, ox.Literal) and issued.datatype.value == XSD + "date"):
        raise SpacegraphError("dcterms:issued must be an xsd:date (a day, never the clock)", path=path)
    if not isinstance(about[DCTERMS + "license"], ox.NamedNode):
        raise SpacegraphError("dcterms:license must be the IRI of a licence", path=path)
    if isinstance(about[DCTERMS + "publisher"], ox.Literal):
        raise SpacegraphError("dcterms:publisher must be an agent (an IRI or a blank node), not a text", path=path)
    return Description(path, triples)


def compact(value: str) -> str:
    for prefix, namespace in PREFIXES.items():
        if value.startswith(namespace):
            return f"{prefix}:{value[len(namespace) :]}"
    return f"<{value}>"


def ill_typed(literal: ox.Literal) -> bool:
    """True if an XSD-typed literal's lexical form is not valid for its datatype (rdflib knows them)."""
    datatype = literal.datatype.value
    if not datatype.startswith(XSD):
        return False
    with quiet_rdflib():
        return bool(rdflib.Literal(literal.value, datatype=datatype).ill_typed)


def place(path: Path, triple: ox.Triple) -> tuple[int | None, int | None]:
    """The line of ``path`` where ``triple``'s object or predicate is written, to point a person at it."""
    needles = [f'"{triple.object.value}"'] if isinstance(triple.object, ox.Literal) else []
    needles += [compact(triple.predicate.value), f"<{triple.predicate.value}>"]
    lines = path.read_text(encoding="utf-8").splitlines()
    for needle in needles:
        for number, line in enumerate(lines, start=1):
            column = line.find(needle)
            if column >= 0 and not line.lstrip().startswith("#"):
                return number, column + 1
    return None, None


@dataclass(frozen=True)
class Statistics:
    """Everything the description counts, over the union of the published graphs."""

    triples: int
    entities: int
    distinct_subjects: int
    classes: tuple[tuple[str, int], ...]  # class IRI, number of instances
    properties: tuple[tuple[str, int, int], ...]  # property IRI, triples, distinct subjects
    vocabularies: tuple[str, ...]
    graphs: tuple[tuple[str, int], ...]  # graph IRI, triples
    links: int  # owl:sameAs links to Wikidata

    @classmethod
    def of(cls, quads: Iterable[ox.Quad]) -> Statistics:
        per_graph: Counter[str] = Counter()
        union: set[ox.Triple] = set()
        for quad in quads:
            per_graph[quad.graph_name.value if isinstance(quad.graph_name, ox.NamedNode) else ""] += 1
            union.add(quad.triple)
        instances: defaultdict[str, set[ox.NamedNode | ox.BlankNode]] = defaultdict(set)
        uses: Counter[str] = Counter()
        subjects_of: defaultdict[str, set[ox.NamedNode | ox.BlankNode]] = defaultdict(set)
        subjects: set[ox.NamedNode | ox.BlankNode] = set()
        links = 0
        for triple in union:
            subject, predicate, value = triple.subject, triple.predicate.value, triple.object
            assert not isinstance(subject, ox.Triple)  # RDF 1.2 triple terms are not used
            subjects.add(subject)
            uses[predicate] += 1
            subjects_of[predicate].add(subject)
            if predicate == RDF + "type" and isinstance(value, ox.NamedNode):
                instances[value.value].add(subject)
            if triple.predicate == OWL_SAME_AS and isinstance(value, ox.NamedNode):
                links += value.value.startswith(WIKIDATA_ENTITY)
        terms = {*uses, *instances}
        return cls(
            triples=len(union),
            entities=sum(isinstance(s, ox.NamedNode) and s.value.startswith(BASE) for s in subjects),
            distinct_subjects=len(subjects),
            classes=tuple(sorted((c, len(members)) for c, members in instances.items())),
            properties=tuple(sorted((p, n, len(subjects_of[p])) for p, n in uses.items())),
            vocabularies=tuple(sorted({namespace(term) for term in terms})),
            graphs=tuple(sorted(per_graph.items())),
            links=links,
        )


def namespace(term: str) -> str:
    """The vocabulary a term belongs to: its IRI up to the last ``#`` or ``/``."""
    match = re.match(r"^(.*[#/])[^#/]*$", term)
    return match.group(1) if match else term


@dataclass(frozen=True)
class Period:
    """The time the data covers: its earliest and its latest date, each as precise as the data has it."""

    start: ox.Literal
    end: ox.Literal


def extent(literal: ox.Literal) -> tuple[date, date] | None:
    """The first and last day a date, a month (``xsd:gYearMonth``) or a year (``xsd:gYear``) covers."""
    kind, text = literal.datatype.value.removeprefix(XSD), literal.value
    try:
        if kind == "date":
            day = date.fromisoformat(text[:10])
            return day, day
        if kind == "gYearMonth":
            year, month = int(text[:4]), int(text[5:7])
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
        if kind == "gYear":
            return date(int(text[:4]), 1, 1), date(int(text[:4]), 12, 31)
    except ValueError:
        return None
    return None


def time_covered(content: Iterable[ox.Quad]) -> Period | None:
    """From the earliest start to the latest end of the data graph's ``sg:date`` values."""
    spans = [
        (span, quad.object)
        for quad in content
        if quad.graph_name == DATA_GRAPH and quad.predicate == DATE and isinstance(quad.object, ox.Literal)
        if (span := extent(quad.object)) is not None
    ]
    if not spans:
        return None
    start = min(spans, key=lambda s: (s[0][0], s[1].value))[1]
    end = max(spans, key=lambda s: (s[0][1], s[1].value))[1]
    assert isinstance(start, ox.Literal) and isinstance(end, ox.Literal)
    return Period(start, end)


def describe(
    content: Sequence[ox.Quad], description: Description, dumps: Sequence[Dump]
) -> tuple[list[ox.Triple], Statistics]:
    """The metadata graph for ``content`` (the quads of the other named graphs).

    Its counts include its own triples: start from the counts of the content alone, describe, count
    again with the description added, and repeat until the counts no longer change. Counts are
    literals, so changing one never changes how many triples there are: two or three rounds suffice.
    """
    check_examples(content, description)
    statistics = Statistics.of(content)
    period = time_covered(content)
    for _ in range(10):
        triples = metadata_triples(description, statistics, dumps, period)
        counted = Statistics.of([*content, *(in_graph(t, METADATA_GRAPH) for t in triples)])
        if counted == statistics:
            return triples, statistics
        statistics = counted
    raise RuntimeError("the dataset description did not reach a fixed point")  # a bug, never bad input


def in_graph(triple: ox.Triple, graph: ox.NamedNode | ox.DefaultGraph) -> ox.Quad:
    return ox.Quad(triple.subject, triple.predicate, triple.object, graph)


def check_examples(content: Sequence[ox.Quad], description: Description) -> None:
    described = {quad.subject for quad in content}
    for triple in description.triples:
        example = triple.object
        if triple.predicate.value == VOID + "exampleResource" and example not in described:
            line, column = place(description.path, triple)
            name = compact(example.value) if isinstance(example, ox.NamedNode) else str(example)
            message = f"example resource {name} is not described in the data"
            raise SpacegraphError(message, path=description.path, line=line, column=column)


def metadata_triples(
    description: Description, statistics: Statistics, dumps: Sequence[Dump], period: Period | None = None
) -> list[ox.Triple]:
    out: list[ox.Triple] = list(description.triples)

    def add(subject: ox.NamedNode | ox.BlankNode, predicate: str, value: Term) -> None:
        out.append(ox.Triple(subject, iri(predicate), value))

    # The dataset.
    add(DATASET, RDF + "type", iri(VOID + "Dataset"))
    add(DATASET, RDF + "type", iri(DCAT + "Dataset"))
    add(DATASET, DCAT + "version", ox.Literal(__version__))
    add(DATASET, OWL + "versionInfo", ox.Literal(__version__))
    add(DATASET, VOID + "uriSpace", ox.Literal(BASE))
    add(DATASET, VOID + "sparqlEndpoint", SPARQL_ENDPOINT)
    add(DATASET, VOID + "uriLookupEndpoint", URI_LOOKUP)
    add(DATASET, VOID + "triples", integer(statistics.triples))
    add(DATASET, VOID + "entities", integer(statistics.entities))
    add(DATASET, VOID + "distinctSubjects", integer(statistics.distinct_subjects))
    add(DATASET, VOID + "classes", integer(len(statistics.classes)))
    if period is not None:
        span = ox.BlankNode()
        add(DATASET, DCTERMS + "temporal", span)
        add(span, RDF + "type", iri(DCTERMS + "PeriodOfTime"))
        add(span, DCAT + "startDate", period.start)
        add(span, DCAT + "endDate", period.end)
    add(DATASET, VOID + "properties", integer(len(statistics.properties)))
    for vocabulary in statistics.vocabularies:
        add(DATASET, VOID + "vocabulary", iri(vocabulary))
    for class_iri, count in statistics.classes:
        partition = ox.BlankNode()
        add(DATASET, VOID + "classPartition", partition)
        add(partition, VOID + "class", iri(class_iri))
        add(partition, VOID + "entities", integer(count))
    for property_iri, count, subjects in statistics.properties:
        partition = ox.BlankNode()
        add(DATASET, VOID + "propertyPartition", partition)
        add(partition, VOID + "property", iri(property_iri))
        add(partition, VOID + "triples", integer(count))
        add(partition, VOID + "distinctSubjects", integer(subjects))

    # Its named graphs, each a subset.
    counts = dict(statistics.graphs)
    for graph in PUBLISHED_GRAPHS:
        name, text = GRAPH_DESCRIPTIONS[graph]
        add(DATASET, VOID + "subset", graph)
        add(graph, RDF + "type", iri(VOID + "Dataset"))
        add(graph, DCTERMS + "title", english(f"spacegraph {name} graph"))
        add(graph, DCTERMS + "description", english(text))
        add(graph, VOID + "triples", integer(counts.get(graph.value, 0)))

    # The links to Wikidata.
    add(DATASET, VOID + "subset", LINKSET)
    add(LINKSET, RDF + "type", iri(VOID + "Linkset"))
    add(LINKSET, DCTERMS + "title", english("Links from spacegraph to Wikidata"))
    add(
        LINKSET,
        DCTERMS + "description",
        english("The owl:sameAs links of the enrichment graph, one per entity matched with a Wikidata item."),
    )
    add(LINKSET, VOID + "linkPredicate", OWL_SAME_AS)
    add(LINKSET, VOID + "subjectsTarget", DATASET)
    add(LINKSET, VOID + "objectsTarget", WIKIDATA)
    # void:target as well, for readers that do not infer it from its two sub-properties above.
    add(LINKSET, VOID + "target", DATASET)
    add(LINKSET, VOID + "target", WIKIDATA)
    add(LINKSET, VOID + "triples", integer(statistics.links))
    add(WIKIDATA, RDF + "type", iri(VOID + "Dataset"))
    add(WIKIDATA, DCTERMS + "title", english("Wikidata"))
    add(WIKIDATA, FOAF + "homepage", iri("https://www.wikidata.org/"))
    add(WIKIDATA, VOID + "uriSpace", ox.Literal(WIKIDATA_ENTITY))
    add(WIKIDATA, VOID + "sparqlEndpoint", iri("https://query.wikidata.org/sparql"))

    # The SPARQL endpoint: a data service serving the dataset, and a distribution of the dataset through it.
    license_iri = description.about(DCTERMS + "license")
    publisher = description.about(DCTERMS + "publisher")
    add(SERVICE, RDF + "type", iri(DCAT + "DataService"))
    add(SERVICE, DCTERMS + "title", english("spacegraph SPARQL endpoint"))
    add(
        SERVICE,
        DCTERMS + "description",
        english(
            "SPARQL 1.1 Protocol, read-only, over the union of the named graphs of the dataset (GRAPH addresses "
            "each). Without a query, the endpoint answers its SPARQL 1.1 Service Description."
        ),
    )
    add(SERVICE, DCAT + "endpointURL", SPARQL_ENDPOINT)
    add(SERVICE, DCAT + "endpointDescription", SPARQL_ENDPOINT)
    add(SERVICE, DCAT + "servesDataset", DATASET)
    add(SERVICE, DCTERMS + "conformsTo", SPARQL_PROTOCOL)
    add(SERVICE, DCTERMS + "license", license_iri)
    add(SERVICE, DCTERMS + "publisher", publisher)
    add(SPARQL_PROTOCOL, RDF + "type", iri(DCTERMS + "Standard"))
    add(SPARQL_PROTOCOL, DCTERMS + "title", english("SPARQL 1.1 Protocol"))
    if description.describes(CATALOG):
        add(CATALOG, DCAT + "service", SERVICE)
    add(DATASET, DCAT + "distribution", ENDPOINT_DISTRIBUTION)
    add(ENDPOINT_DISTRIBUTION, RDF + "type", iri(DCAT + "Distribution"))
    add(ENDPOINT_DISTRIBUTION, DCTERMS + "title", english("spacegraph through its SPARQL endpoint"))
    add(ENDPOINT_DISTRIBUTION, DCTERMS + "description", english(f"The named graphs of the dataset ({graph_names()}), "
        "queried with SPARQL 1.1."))  # fmt: skip
    add(ENDPOINT_DISTRIBUTION, DCAT + "accessURL", SPARQL_ENDPOINT)
    add(ENDPOINT_DISTRIBUTION, DCAT + "accessService", SERVICE)
    add(ENDPOINT_DISTRIBUTION, DCTERMS + "format", file_type("sparql"))
    add(ENDPOINT_DISTRIBUTION, DCTERMS + "license", license_iri)

    # The dumps.
    used: set[str] = {"sparql"}
    media_types: set[str] = set()
    for dump in dumps:
        label = FORMAT_LABELS[dump.format.name]
        add(DATASET, VOID + "dataDump", dump.download_url)
        add(DATASET, DCAT + "distribution", dump.iri)
        add(dump.iri, RDF + "type", iri(DCAT + "Distribution"))
        add(dump.iri, DCTERMS + "title", english(f"spacegraph in {label}" + (", gzipped" if dump.compressed else "")))
        add(dump.iri, DCTERMS + "description", english(dump.holds))
        add(dump.iri, DCTERMS + "license", license_iri)
        add(dump.iri, DCAT + "downloadURL", dump.download_url)
        add(dump.iri, DCAT + "accessURL", dump.download_url)
        add(dump.iri, DCAT + "mediaType", iri(IANA_MEDIA_TYPES + dump.format.media_type))
        add(dump.iri, DCTERMS + "format", file_type(dump.format.name))
        used.add(dump.format.name)
        media_types.add(dump.format.media_type)
        if dump.compressed:
            add(dump.iri, DCAT + "compressFormat", iri(IANA_MEDIA_TYPES + GZIP))
            media_types.add(GZIP)

    # The values from controlled vocabularies, with the classes DCAT-AP expects of them: a portal
    # validates the description alone.
    for media_type in sorted(media_types):
        add(iri(IANA_MEDIA_TYPES + media_type), RDF + "type", iri(DCTERMS + "MediaType"))
    for name in sorted(used):
        concept = file_type(name)
        add(concept, RDF + "type", iri(DCTERMS + "MediaTypeOrExtent"))
        add(concept, RDF + "type", iri(SKOS + "Concept"))
        add(concept, SKOS + "prefLabel", english(FILE_TYPES[name][1]))
        add(concept, SKOS + "inScheme", iri(FILE_TYPE_TABLE))
    return list(dict.fromkeys(out))


def file_type(name: str) -> ox.NamedNode:
    """The EU authority table's file type of a format (by its formats.py name, or ``sparql``)."""
    return iri(f"{FILE_TYPE_TABLE}/{FILE_TYPES[name][0]}")


def file_facts(dump: Dump, content: bytes, sha256: str) -> list[ox.Triple]:
    """The byte size and checksum of one dump file: in void.ttl only, never inside a dump."""
    checksum = ox.BlankNode()
    return [
        ox.Triple(dump.iri, iri(DCAT + "byteSize"), integer(len(content), XSD + "nonNegativeInteger")),
        ox.Triple(dump.iri, iri(SPDX + "checksum"), checksum),
        ox.Triple(checksum, iri(RDF + "type"), iri(SPDX + "Checksum")),
        ox.Triple(checksum, iri(SPDX + "algorithm"), SHA256),
        ox.Triple(SHA256, iri(RDF + "type"), iri(SPDX + "ChecksumAlgorithm")),
        ox.Triple(checksum, iri(SPDX + "checksumValue"), ox.Literal(sha256, datatype=iri(XSD + "hexBinary"))),
    ]
