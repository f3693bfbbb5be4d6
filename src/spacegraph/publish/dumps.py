"""Build the publication: validate, write the graph in every RDF format with a gzip copy of each, describe
it (``void.ttl``), draw the ontology's class diagram (``ontology.svg``, with Graphviz), list the checksums
(``SHA256SUMS``), and switch the result into place atomically.

What each dump holds: TriG and N-Quads keep the named graphs (data, enrichment, ontology, shapes,
metadata); Turtle, N-Triples, JSON-LD and RDF/XML hold their union as one graph. Blank nodes are
renamed by RDF canonicalization (RDFC-1.0) and every file is sorted, so two builds of the same sources are
byte-identical; the gzip copies carry no name and no time.

On disk, the files are switched into place atomically by ``folders.publish``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import multiprocessing
import os
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pyoxigraph as ox
import rdflib
from pyld import jsonld  # type: ignore[import-untyped]
from rdflib.plugins.serializers.turtle import TurtleSerializer
from rdflib.term import BNode, Node

from spacegraph import PROJECT_ROOT, __version__
from spacegraph.errors import SpacegraphError
from spacegraph.formats import RDF_FORMATS, RdfFormat
from spacegraph.namespaces import ONTOLOGY_GRAPH, PREFIXES, SHAPES_GRAPH, SOURCE_GRAPHS, rebase_text
from spacegraph.publish.diagram import DIAGRAM_FILE, ontology_svg
from spacegraph.publish.folders import SUMS_FILE, VOID_FILE, check_replaceable, publish
from spacegraph.publish.graph import LoadedGraph, Sources, load
from spacegraph.publish.metadata import (
    DESCRIPTION,
    METADATA_GRAPH,
    Description,
    Dump,
    describe,
    file_facts,
    graph_names,
    in_graph,
    read_description,
)
from spacegraph.publish.validate import Report, validate

CONTEXT = PROJECT_ROOT / "ontology" / "context.jsonld"
DEFAULT_OUT = PROJECT_ROOT / "dist"
STEM = "spacegraph"
DATASET_FORMATS = frozenset({"trig", "nquads"})  # written with their named graphs; the others hold the union


class InvalidDataError(SpacegraphError):
    """The sources do not conform: nothing is published. ``report`` says why."""

    def __init__(self, report: Report) -> None:
        super().__init__(f"the data does not conform ({report.count('Violation')} violation(s)); nothing was published")
        self.report = report


@dataclass(frozen=True)
class WrittenFile:
    name: str
    size: int
    sha256: str
    count: int | None  # how many triples or quads it holds; None for SHA256SUMS
    unit: str  # "triples", "quads" or ""


@dataclass(frozen=True)
class Build:
    out: Path  # the link
    folder: Path  # the folder it points to
    files: tuple[WrittenFile, ...]
    triples: int  # in the union of the named graphs
    quads: int  # over the named graphs
    graphs: int
    entities: int
    report: Report

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


def build(
    sources: Sources,
    out: Path = DEFAULT_OUT,
    *,
    description: Path = DESCRIPTION,
    context: Path = CONTEXT,
) -> Build:
    """Validate the sources and publish them into ``out``. Raises ``InvalidDataError`` (with the report)
    if they do not conform and ``SpacegraphError`` if a source cannot be read; either way ``out`` is left
    as it was."""
    check_replaceable(Path(os.path.abspath(out)))
    loaded = load(sources)
    static = read_description(description)
    jsonld_context = read_context(context)
    report = validate(loaded)
    if not report.conforms:
        raise InvalidDataError(report)
    rendered = render(loaded, static, jsonld_context)
    folder = publish(rendered.files, out)
    written = tuple(
        WrittenFile(name, len(data), hashlib.sha256(data).hexdigest(), *rendered.counts.get(name, (None, "")))
        for name, data in rendered.files.items()
    )
    return Build(
        out=out,
        folder=folder,
        files=written,
        triples=rendered.triples,
        quads=rendered.quads,
        graphs=rendered.graphs,
        entities=rendered.entities,
        report=report,
    )


def read_context(path: Path) -> dict[str, Any]:
    """Our JSON-LD context document, with its ``@context``."""
    try:
        document = json.loads(rebase_text(path.read_text(encoding="utf-8")))  # written under SOURCE_BASE
    except json.JSONDecodeError as error:
        raise SpacegraphError(error.msg, path=path, line=error.lineno, column=error.colno) from None
    except OSError as error:
        raise SpacegraphError(f"cannot read: {error.strerror}", path=path) from None
    if not isinstance(document, dict) or not isinstance(document.get("@context"), dict):
        raise SpacegraphError("a JSON-LD context document needs an object under @context", path=path)
    for remote in remote_references(document["@context"]):
        raise SpacegraphError(
            f"the context refers to a remote document ({remote}); spacegraph never fetches one", path=path
        )
    return document


def remote_references(value: object) -> Iterator[str]:
    """Every IRI a JSON-LD context would make a processor fetch: string values of ``@context`` (scoped
    contexts) and ``@import``, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("@context", "@import"):
                yield from (ref for ref in (item if isinstance(item, list) else [item]) if isinstance(ref, str))
            yield from remote_references(item)
    elif isinstance(value, list):
        for item in value:
            yield from remote_references(item)


def no_remote_documents(url: str, options: object = None) -> NoReturn:
    """pyld's document loader: we never fetch anything while writing JSON-LD."""
    raise SpacegraphError(f"refusing to fetch the remote JSON-LD document {url}")


# --- Rendering: every file's bytes, in memory ----------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    files: dict[str, bytes]  # in the order they are listed
    counts: dict[str, tuple[int, str]]  # how many triples or quads each holds
    triples: int
    quads: int
    graphs: int
    entities: int


def dumps_of(fmt: RdfFormat) -> tuple[Dump, Dump]:
    name = f"{STEM}.{fmt.extension}"
    keeps = fmt.name in DATASET_FORMATS
    return Dump(name, fmt, keeps), Dump(name + ".gz", fmt, keeps, compressed=True)


def render(loaded: LoadedGraph, description: Description, context: Mapping[str, Any]) -> Rendered:
    """Every file of a build, in memory: the dumps, their gzip copies, void.ttl and SHA256SUMS."""
    content = list(loaded.quads(*SOURCE_GRAPHS))
    dumps = [dump for fmt in RDF_FORMATS for dump in dumps_of(fmt)]
    metadata, statistics = describe(content, description, dumps)
    dataset = canonical([*content, *(in_graph(t, METADATA_GRAPH) for t in metadata)])
    quads = sorted(dataset, key=lambda q: (str(q.graph_name), str(q.subject), str(q.predicate), str(q.object)))
    triples = sorted({q.triple for q in quads}, key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))

    union = canonical(in_graph(t, ox.DefaultGraph()) for t in triples)
    written: dict[str, tuple[bytes, bytes]] = {}
    with beside(json_ld, triples, context) as json_ld_written:  # the longest writer, on another processor
        for fmt in sorted(RDF_FORMATS, key=lambda fmt: fmt.name == "jsonld"):  # JSON-LD's bytes waited for last
            plain, _ = dumps_of(fmt)
            items = quads if plain.keeps_graphs else triples
            data = json_ld_written() if fmt.name == "jsonld" else WRITERS[fmt.name](items, context)
            check_round_trip(plain.file_name, data, fmt.rdf_format, dataset if plain.keeps_graphs else union)
            written[fmt.name] = (data, gzip.compress(data, compresslevel=9, mtime=0))
    files: dict[str, bytes] = {}
    counts: dict[str, tuple[int, str]] = {}
    for fmt in RDF_FORMATS:
        plain, packed = dumps_of(fmt)
        files[plain.file_name], files[packed.file_name] = written[fmt.name]
        count = (len(quads), "quads") if plain.keeps_graphs else (len(triples), "triples")
        counts[plain.file_name] = counts[packed.file_name] = count

    described = [q.triple for q in quads if q.graph_name == METADATA_GRAPH]
    for dump in dumps:
        described += file_facts(dump, files[dump.file_name], hashlib.sha256(files[dump.file_name]).hexdigest())
    void = canonical(in_graph(t, ox.DefaultGraph()) for t in described)
    files[VOID_FILE] = turtle([q.triple for q in void], header=VOID_HEADER)
    check_round_trip(VOID_FILE, files[VOID_FILE], ox.RdfFormat.TURTLE, void)
    counts[VOID_FILE] = (len(void), "triples")
    # The class diagram of the ontology, drawn by Graphviz, for the ontology's documentation page.
    files[DIAGRAM_FILE] = ontology_svg(
        [q.triple for q in loaded.quads(ONTOLOGY_GRAPH)], [q.triple for q in loaded.quads(SHAPES_GRAPH)]
    )
    files[SUMS_FILE] = checksums(files)

    return Rendered(files, counts, len(triples), len(quads), len(statistics.graphs), statistics.entities)


@contextlib.contextmanager
def beside(write: Writer, items: Sequence[ox.Triple], context: Mapping[str, Any]) -> Iterator[Callable[[], bytes]]:
    """``write(items, context)`` in a process forked for it, running while this one writes the other files;
    the function given waits for its bytes. Written here instead, on demand, where forking is unsafe: with
    other threads running (a fork copies only the calling one), or on a system without ``fork``."""
    if threading.active_count() > 1 or "fork" not in multiprocessing.get_all_start_methods():
        yield lambda: write(items, context)
        return
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        future = pool.submit(write, items, context)
        yield future.result


def canonical(quads: Iterable[ox.Quad]) -> ox.Dataset:
    dataset = ox.Dataset(quads)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return dataset


def check_round_trip(name: str, data: bytes, fmt: ox.RdfFormat, expected: ox.Dataset) -> None:
    """Read a dump back and compare it with what it was written from: a writer's bug must never be
    published (rdflib's Turtle writer, given subjects in an unlucky order, repeats list cells)."""
    if canonical(ox.parse(data, format=fmt)) != expected:
        raise RuntimeError(f"{name} does not read back as the graph it was written from")


def checksums(files: Mapping[str, bytes]) -> bytes:
    """``sha256sum``'s format, so that ``sha256sum -c SHA256SUMS`` checks a download."""
    lines = [f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())]
    return "".join(lines).encode("ascii")


# --- Writers ---------------------------------------------------------------------------------------

HEADER = f"""\
# spacegraph {__version__}: a CNES press release of July 2016 as a knowledge graph.
# {{what}}
# Licence: CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/); the quoted words of the press release
# remain CNES's. The dataset is described in void.ttl, beside this file.

"""
UNION_HEADER = HEADER.format(what=f"The union of its named graphs ({graph_names()}), as one graph.")
GRAPHS_HEADER = HEADER.format(what=f"Its named graphs, each kept apart: {graph_names()}.")
VOID_HEADER = f"""\
# The description of spacegraph {__version__}, in VoID and DCAT, written by `spacegraph build`.
#
# Everything countable here is computed from the dumps: the triple and entity counts, the partitions by
# class and by property, the vocabularies, the named graphs, the time the data covers, the Wikidata
# linkset, the SPARQL endpoint and the files. The counts cover everything the dumps hold, this
# description included: void:triples is the number of lines of spacegraph.nt.
#
# It conforms to DCAT-AP 3.0 (the catalogue id:catalog lists the dataset and the endpoint), with values
# from the EU controlled vocabularies, each stated with its class, so that a portal can harvest it alone.
#
# This same description is the metadata named graph inside the dumps, with one difference: there, the
# distributions have no dcat:byteSize and no spdx:checksum, since a file cannot contain its own
# checksum. Here, beside the dumps, every dump file has both. SHA256SUMS lists the same checksums (and
# this file's) in the format of `sha256sum -c`.

"""


def to_rdflib(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> Node:
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return rdflib.Literal(term.value, lang=term.language)
        if term.datatype.value == "http://www.w3.org/2001/XMLSchema#string":
            return rdflib.Literal(term.value)
        # normalize=False keeps the lexical form exactly as written.
        return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value), normalize=False)
    raise SpacegraphError("RDF 1.2 triple terms cannot be published yet")


def rdflib_triple(triple: ox.Triple) -> tuple[Node, Node, Node]:
    return to_rdflib(triple.subject), to_rdflib(triple.predicate), to_rdflib(triple.object)


class SortedSubjects(TurtleSerializer):
    """rdflib's Turtle writer, sorted the way a reader sees it.

    rdflib orders subjects by how often they are referenced, and values and properties by full IRI or
    blank node label. Here subjects, properties and values sort by their prefixed names, and a blank node
    value by what it says, so that ``void:classPartition [ … ]`` values come in class order and no order
    depends on a blank node label."""

    def orderSubjects(self) -> list[Node]:
        # Blank nodes last, those no triple points to first (as rdflib does), so that a blank node
        # written inside its only referrer is never written on its own first.
        return sorted(
            self._subjects,
            key=lambda s: (isinstance(s, BNode), isinstance(s, BNode) and self._references[s] > 0, self.sort_key(s, 0)),
        )

    def sortProperties(self, properties: Mapping[Node, list[Node]]) -> list[Node]:
        for values in properties.values():
            values.sort(key=lambda value: self.sort_key(value, depth=0))
        first = [p for p in self.predicateOrder if p in properties]
        return first + sorted((p for p in properties if p not in first), key=lambda p: self.sort_key(p, depth=0))

    def reset(self) -> None:
        # rdflib asks for the same prefixed names again and again, and the sorts for the same keys: each is
        # worked out once per document (a reset starts one, with no prefix recorded as used yet).
        super().reset()
        self.pnames: dict[tuple[Node, bool], str | None] = {}
        self.sort_keys: dict[tuple[Node, int], tuple[int, str]] = {}

    def get_pname(self, uri: Node, gen_prefix: bool = True) -> str | None:
        if (uri, gen_prefix) not in self.pnames:
            self.pnames[uri, gen_prefix] = super().get_pname(uri, gen_prefix)
        return self.pnames[uri, gen_prefix]

    def sort_key(self, node: Node, depth: int) -> tuple[int, str]:
        key = self.sort_keys.get((node, depth))
        if key is None:
            key = self.sort_keys[node, depth] = self.compute_sort_key(node, depth)
        return key

    def compute_sort_key(self, node: Node, depth: int) -> tuple[int, str]:
        if isinstance(node, rdflib.URIRef):
            return (0, self.get_pname(node, gen_prefix=False) or node.n3())  # as it is written
        if not isinstance(node, BNode):
            return (0, node.n3())
        if depth >= 8:
            return (1, str(node))
        # What it links to first, then its literals: partitions sort by class or property, not by count.
        parts = sorted(
            (isinstance(o, rdflib.Literal), f"{self.sort_key(p, depth)} {self.sort_key(o, depth + 1)}")
            for p, o in self.store.predicate_objects(node)
        )
        return (1, " ; ".join(text for _literal, text in parts) + f" | {node}")


def bind_prefixes(graph: rdflib.Graph, predicates: Iterable[Node]) -> None:
    """Bind our prefixes, and fixed names for any other namespace of a predicate: rdflib would make
    up ``ns1``… in whatever order it meets them."""
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    known = set(PREFIXES.values())
    others = sorted({m.group(1) for p in predicates if (m := re.match(r"^(.*[#/])[^#/]+$", str(p)))} - known)
    for number, namespace in enumerate(others, start=1):
        graph.bind(f"ns{number}", namespace)


def turtle_parts(triples: Iterable[ox.Triple]) -> tuple[list[str], str]:
    """rdflib's Turtle for ``triples``, sorted: its prefix lines, and its statements."""
    graph = rdflib.Graph(bind_namespaces="none")
    for triple in triples:
        graph.add(rdflib_triple(triple))
    bind_prefixes(graph, graph.predicates(unique=True))
    stream = io.BytesIO()
    SortedSubjects(graph).serialize(stream, encoding="utf-8")
    lines = stream.getvalue().decode("utf-8").split("\n")
    count = next(i for i, line in enumerate(lines) if not line.startswith("@prefix"))
    return lines[:count], "\n".join(lines[count:]).strip("\n") + "\n"


def turtle(triples: Sequence[ox.Triple], context: Mapping[str, Any] | None = None, header: str = UNION_HEADER) -> bytes:
    prefixes, statements = turtle_parts(triples)
    return f"{header}{chr(10).join(prefixes)}\n\n{statements}".encode()


def trig(quads: Sequence[ox.Quad], context: Mapping[str, Any] | None = None) -> bytes:
    """Each named graph, in IRI order, written as Turtle inside its braces. (rdflib's own TriG writer
    orders graphs as a set does, and calls APIs that rdflib 7 deprecates.)"""
    graphs: dict[str, list[ox.Triple]] = defaultdict(list)
    for quad in quads:
        assert isinstance(quad.graph_name, ox.NamedNode)
        graphs[quad.graph_name.value].append(quad.triple)
    prefixes: set[str] = set()
    blocks: list[str] = []
    for name in sorted(graphs):
        used, statements = turtle_parts(graphs[name])
        prefixes.update(used)
        blocks.append(f"<{name}> {{\n\n{statements}\n}}\n")
    return f"{GRAPHS_HEADER}{chr(10).join(sorted(prefixes))}\n\n{chr(10).join(blocks)}".encode()


def serialize(items: Sequence[ox.Triple] | Sequence[ox.Quad], fmt: ox.RdfFormat, **options: Any) -> bytes:
    data = ox.serialize(items, format=fmt, **options)
    assert data is not None  # no output given: pyoxigraph returns the bytes
    return data


def sorted_lines(data: bytes) -> bytes:
    return b"".join(sorted(data.splitlines(keepends=True)))


def ntriples(triples: Sequence[ox.Triple], context: Mapping[str, Any] | None = None) -> bytes:
    return sorted_lines(serialize(triples, ox.RdfFormat.N_TRIPLES))


def nquads(quads: Sequence[ox.Quad], context: Mapping[str, Any] | None = None) -> bytes:
    return sorted_lines(serialize(quads, ox.RdfFormat.N_QUADS))


def rdfxml(triples: Sequence[ox.Triple], context: Mapping[str, Any] | None = None) -> bytes:
    return serialize(triples, ox.RdfFormat.RDF_XML, prefixes=PREFIXES)


def json_ld(triples: Sequence[ox.Triple], context: Mapping[str, Any] | None = None) -> bytes:
    """pyld turns the triples into expanded JSON-LD, then compacts it with our context, which the file
    carries inline so that it reads anywhere without fetching anything.

    pyld gets the triples as its RDF dataset, not as N-Triples: its N-Quads parser compares each line with
    every triple before it (our triples are distinct already). What ``from_rdf`` gives is expanded, so
    ``compact`` is told not to expand it again."""
    assert context is not None
    dataset = {
        "@default": [
            {"subject": pyld_term(t.subject), "predicate": pyld_term(t.predicate), "object": pyld_term(t.object)}
            for t in triples
        ]
    }
    options = {"documentLoader": no_remote_documents}
    expanded = jsonld.from_rdf(dataset, {"useNativeTypes": False, **options})
    compacted = jsonld.compact(expanded, dict(context), {"skipExpansion": True, **options})
    return (json.dumps(compacted, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def pyld_term(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> dict[str, str]:
    """A term as pyld's RDF dataset holds it: what pyld's N-Quads parser makes of its N-Triples."""
    if isinstance(term, ox.NamedNode):
        return {"type": "IRI", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "blank node", "value": f"_:{term.value}"}
    if isinstance(term, ox.Literal):
        language = {"language": term.language} if term.language else {}
        return {"type": "literal", "datatype": term.datatype.value, **language, "value": term.value}
    raise SpacegraphError("RDF 1.2 triple terms cannot be published yet")


Writer = Callable[[Any, Mapping[str, Any]], bytes]  # (triples or quads, JSON-LD context) -> bytes
WRITERS: dict[str, Writer] = {
    "turtle": turtle,
    "ntriples": ntriples,
    "jsonld": json_ld,
    "rdfxml": rdfxml,
    "trig": trig,
    "nquads": nquads,
}
