"""What the linked-data pages and documents know, asked of the backend: every answer here comes from a
SPARQL query the backend evaluates (the embedded engine's worker processes, or a remote endpoint), and
is read back with pyoxigraph's parsers.

A resource's description is its concise bounded description (``DESCRIBE``, which Oxigraph answers with
the resource's triples and those of the blank nodes they lead to) together with the resources of its
document (hash IRIs ``<iri>#…``), the links that point to it, the quotes its ``sg:evidence`` points to, and
the labels of everything it mentions (a ``CONSTRUCT``).
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import pyoxigraph as ox

from spacegraph.engine.analysis import analyse
from spacegraph.engine.store import Backend, Job
from spacegraph.namespaces import BASE, ONTOLOGY_GRAPH, PREFIXES, SHAPES_GRAPH

RDF = PREFIXES["rdf"]
RDFS = PREFIXES["rdfs"]
SKOS = PREFIXES["skos"]
DCTERMS = PREFIXES["dcterms"]
FOAF = PREFIXES["foaf"]
SCHEMA = PREFIXES["schema"]
OA = PREFIXES["oa"]
SG = PREFIXES["sg"]

RDF_TYPE = ox.NamedNode(RDF + "type")
LABEL_PROPERTIES = (RDFS + "label", SKOS + "prefLabel", DCTERMS + "title", FOAF + "name", SCHEMA + "name")
LABEL_VALUES = " ".join(f"<{p}>" for p in LABEL_PROPERTIES)
SPARQL_PREFIXES = "".join(f"PREFIX {prefix}: <{namespace}>\n" for prefix, namespace in PREFIXES.items())

Term = ox.NamedNode | ox.BlankNode | ox.Literal


def iri_node(iri: str) -> ox.NamedNode | None:
    """The IRI as a node, or None when it is not a valid IRI (it then names nothing of ours)."""
    try:
        return ox.NamedNode(iri)
    except ValueError:
        return None


@dataclass(frozen=True)
class Description:
    """What the graph says about one resource (``iri``) and the resources of its document."""

    iri: str
    triples: tuple[ox.Triple, ...]
    document: tuple[str, ...]  # the resource and its hash IRIs, in order

    @property
    def found(self) -> bool:
        return bool(self.triples)

    def about(self, subject: ox.NamedNode | ox.BlankNode) -> Iterator[ox.Triple]:
        return (t for t in self.triples if t.subject == subject)

    def incoming(self, target: str) -> list[ox.Triple]:
        node = ox.NamedNode(target)
        return [t for t in self.triples if t.object == node and not in_document(t.subject, self.iri)]


def in_document(node: object, iri: str) -> bool:
    return isinstance(node, ox.NamedNode) and (node.value == iri or node.value.startswith(iri + "#"))


def parse_triples(body: bytes) -> list[ox.Triple]:
    return [quad.triple for quad in ox.parse(body, format=ox.RdfFormat.N_TRIPLES)]


def parse_rows(body: bytes) -> list[dict[str, Term]]:
    results = ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
    assert isinstance(results, ox.QuerySolutions)
    names = [variable.value for variable in results.variables]
    rows: list[dict[str, Term]] = []
    for solution in results:
        row: dict[str, Term] = {}
        for name in names:
            value = solution[name]
            if isinstance(value, ox.NamedNode | ox.BlankNode | ox.Literal):
                row[name] = value
        rows.append(row)
    return rows


async def construct(backend: Backend, query: str, max_rows: int | None = None) -> list[ox.Triple]:
    answer = await backend.query(Job(analyse(query), rdf_format="ntriples", max_rows=max_rows))
    return parse_triples(answer.body)


async def select(backend: Backend, query: str, max_rows: int | None = None) -> list[dict[str, Term]]:
    answer = await backend.query(Job(analyse(query), results_format="json", max_rows=max_rows))
    return parse_rows(answer.body)


def describe_query(iri: ox.NamedNode) -> str:
    """The concise bounded descriptions of the resource and of the hash IRIs of its document."""
    prefix = ox.Literal(iri.value + "#")
    return f"DESCRIBE ?x WHERE {{ {{ BIND({iri} AS ?x) }} UNION {{ ?x ?p ?o FILTER(STRSTARTS(STR(?x), {prefix})) }} }}"


def context_query(iri: ox.NamedNode) -> str:
    """The links to the document's resources from elsewhere, and the quotes of their evidence."""
    prefix = ox.Literal(iri.value + "#")
    return f"""{SPARQL_PREFIXES}
CONSTRUCT {{ ?s ?p ?t . ?e oa:hasSource ?source ; oa:hasSelector ?selector . ?selector ?sp ?so . }}
WHERE {{
  {{ SELECT DISTINCT ?t WHERE {{ {{ BIND({iri} AS ?t) }} UNION {{ ?t ?x ?y FILTER(STRSTARTS(STR(?t), {prefix})) }} }} }}
  {{ ?s ?p ?t FILTER(isIRI(?s) && ?s != {iri} && !STRSTARTS(STR(?s), {prefix})) }}
  UNION
  {{ ?t sg:evidence ?e . ?e oa:hasSource ?source ; oa:hasSelector ?selector . ?selector ?sp ?so }}
}}"""


def labels_query(iris: Iterable[str]) -> str:
    values = " ".join(str(ox.NamedNode(iri)) for iri in sorted(set(iris)))
    return f"CONSTRUCT {{ ?m ?lp ?l }} WHERE {{ VALUES ?m {{ {values} }} VALUES ?lp {{ {LABEL_VALUES} }} ?m ?lp ?l }}"


def mentioned(triples: Iterable[ox.Triple]) -> set[str]:
    found: set[str] = set()
    for triple in triples:
        for node in (triple.subject, triple.predicate, triple.object):
            if isinstance(node, ox.NamedNode):
                found.add(node.value)
    return found


async def describe(backend: Backend, iri: str, max_rows: int | None = None) -> Description:
    """The description of ``iri``: three queries, the first two side by side."""
    node = iri_node(iri)
    if node is None:
        return Description(iri, (), (iri,))
    own, context = await asyncio.gather(
        construct(backend, describe_query(node), max_rows), construct(backend, context_query(node), max_rows)
    )
    triples = [*own, *context]
    if not triples:
        return Description(iri, (), (iri,))
    labels = await construct(backend, labels_query(mentioned(triples)), max_rows)
    unique = tuple(dict.fromkeys([*triples, *labels]))
    document = sorted(
        {t.subject.value for t in own if isinstance(t.subject, ox.NamedNode) and in_document(t.subject, iri)} | {iri},
        key=lambda value: (value != iri, value),
    )
    return Description(iri, unique, tuple(document))


async def graph_triples(backend: Backend, graph: ox.NamedNode, max_rows: int | None = None) -> list[ox.Triple]:
    return await construct(backend, f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {graph} {{ ?s ?p ?o }} }}", max_rows)


# --- The index of our IRIs: suggestions for unknown IRIs, and search --------------------------------


@dataclass(frozen=True)
class Entry:
    iri: str
    labels: tuple[tuple[str, str], ...]  # (language, label)
    kinds: tuple[str, ...] = ()  # class IRIs

    def label(self, language: str) -> str | None:
        for wanted in (language, "en", ""):
            for lang, text in self.labels:
                if lang == wanted:
                    return text
        return self.labels[0][1] if self.labels else None


INDEX_QUERY = f"""PREFIX rdf: <{RDF}>
SELECT ?s ?label ?type WHERE {{
  {{ SELECT DISTINCT ?s WHERE {{ ?s ?p ?o FILTER(isIRI(?s) && STRSTARTS(STR(?s), {ox.Literal(BASE)})) }} }}
  OPTIONAL {{ VALUES ?lp {{ {LABEL_VALUES} <{SKOS}altLabel> }} ?s ?lp ?label }}
  OPTIONAL {{ ?s rdf:type ?type }}
}}"""


@dataclass
class Index:
    """Every subject in our namespace, with its labels (also alternative ones) and classes."""

    entries: dict[str, Entry] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Sequence[dict[str, Term]]) -> Index:
        labels: dict[str, dict[tuple[str, str], None]] = {}
        kinds: dict[str, dict[str, None]] = {}
        for row in rows:
            subject = row["s"].value
            labels.setdefault(subject, {})
            kinds.setdefault(subject, {})
            label = row.get("label")
            if isinstance(label, ox.Literal):
                labels[subject][(label.language or "", label.value)] = None
            kind = row.get("type")
            if isinstance(kind, ox.NamedNode):
                kinds[subject][kind.value] = None
        return cls({s: Entry(s, tuple(labels[s]), tuple(kinds[s])) for s in sorted(labels)})

    def suggest(self, iri: str, limit: int = 5) -> list[Entry]:
        """Our IRIs closest to ``iri`` (a misspelt slug), then those whose label is closest to its slug."""
        documents = [candidate for candidate in self.entries if "#" not in candidate]
        close = difflib.get_close_matches(iri, documents, n=limit, cutoff=0.75)
        slug = iri.rsplit("/", 1)[-1].replace("-", " ").lower()
        if slug and len(close) < limit:
            by_label = {text.lower(): e.iri for e in self.entries.values() for _, text in e.labels if "#" not in e.iri}
            for text in difflib.get_close_matches(slug, list(by_label), n=limit, cutoff=0.6):
                if by_label[text] not in close:
                    close.append(by_label[text])
        return [self.entries[candidate] for candidate in close[:limit]]

    def search(self, text: str, limit: int = 50) -> list[Entry]:
        """Entries whose labels or IRI contain every word of ``text`` (case-insensitive), best first."""
        words = text.casefold().split()
        if not words:
            return []
        found: list[tuple[int, str, Entry]] = []
        for entry in self.entries.values():
            if "#" in entry.iri:
                continue
            haystacks = [label.casefold() for _, label in entry.labels] + [entry.iri.casefold()]
            if all(any(word in haystack for haystack in haystacks) for word in words):
                exact = any(label.casefold() == text.casefold().strip() for _, label in entry.labels)
                found.append((0 if exact else 1, entry.label("en") or entry.iri, entry))
        found.sort(key=lambda item: (item[0], item[1].casefold()))
        return [entry for _, _, entry in found[:limit]]


async def index(backend: Backend) -> Index:
    return Index.of(await select(backend, INDEX_QUERY))


# --- The dataset, as its metadata graph describes it --------------------------------------------------


async def ontology_and_shapes(backend: Backend) -> tuple[list[ox.Triple], list[ox.Triple]]:
    ontology, shapes = await asyncio.gather(
        graph_triples(backend, ONTOLOGY_GRAPH), graph_triples(backend, SHAPES_GRAPH)
    )
    return ontology, shapes
