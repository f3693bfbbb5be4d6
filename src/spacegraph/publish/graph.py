"""Load the ontology, the shapes and the data into named graphs of one pyoxigraph store.

Files are parsed by pyoxigraph, whose syntax errors carry a line and a column. Each file goes to one
named graph: the ontology, the shapes, the data (what the press release states) or the enrichment
(knowledge added from elsewhere, including the Wikidata links read from ``data/wikidata/links.tsv``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from spacegraph import PROJECT_ROOT
from spacegraph.errors import SpacegraphError, syntax_error
from spacegraph.namespaces import BASE, DATA_GRAPH, ENRICHMENT_GRAPH, ONTOLOGY_GRAPH, SHAPES_GRAPH, SOURCE_BASE, rebase
from spacegraph.publish.links import confirmed, read_record

OWL_SAME_AS = ox.NamedNode("http://www.w3.org/2002/07/owl#sameAs")


@dataclass(frozen=True)
class Sources:
    """Where the sources live. ``data`` holds Turtle files or folders of them; a file inside a folder
    named ``enrichment`` goes to the enrichment graph, every other one to the data graph."""

    ontology: Path
    shapes: Path
    data: tuple[Path, ...]
    links: Path | None

    @classmethod
    def in_project(cls, root: Path = PROJECT_ROOT, data: Iterable[Path] = ()) -> Sources:
        extra = tuple(data)
        links = root / "data" / "wikidata" / "links.tsv"
        return cls(
            ontology=root / "ontology" / "spacegraph.ttl",
            shapes=root / "ontology" / "shapes.ttl",
            data=extra or (root / "data",),
            links=links if links.exists() else None,
        )

    def files(self) -> Iterator[tuple[Path, ox.NamedNode]]:
        """Every Turtle source with the named graph it belongs to, in a stable order."""
        yield self.ontology, ONTOLOGY_GRAPH
        yield self.shapes, SHAPES_GRAPH
        for entry in self.data:
            if not entry.exists():
                raise SpacegraphError("no such file or folder", path=entry)
            for path in sorted(entry.rglob("*.ttl")) if entry.is_dir() else [entry]:
                yield path, ENRICHMENT_GRAPH if "enrichment" in path.parts else DATA_GRAPH


@dataclass
class LoadedGraph:
    """The store, and which file each named graph's statements came from (for error messages)."""

    store: ox.Store
    origins: dict[Path, ox.NamedNode] = field(default_factory=dict)

    def quads(self, *graphs: ox.NamedNode) -> Iterator[ox.Quad]:
        for graph in graphs:
            yield from self.store.quads_for_pattern(None, None, None, graph)


def parse_turtle(path: Path) -> list[ox.Triple]:
    """Parse one Turtle file, turning pyoxigraph's syntax error into one with file, line and column; its IRIs
    are moved to the publication's base (``namespaces.rebase``)."""
    try:
        triples = [quad.triple for quad in ox.parse(path=path, format=ox.RdfFormat.TURTLE)]
    except SyntaxError as error:
        raise syntax_error(error, path) from None
    except OSError as error:
        raise SpacegraphError(f"cannot read: {error.strerror}", path=path) from None
    return triples if BASE == SOURCE_BASE else [rebased(triple) for triple in triples]


def rebased(triple: ox.Triple) -> ox.Triple:
    """A triple of the sources with its IRIs under the publication's base (``namespaces.BASE``)."""
    subject, obj = triple.subject, triple.object
    if isinstance(obj, ox.NamedNode | ox.Literal):
        obj = rebase(obj)
    return ox.Triple(rebase(subject) if isinstance(subject, ox.NamedNode) else subject, rebase(triple.predicate), obj)


def load(sources: Sources) -> LoadedGraph:
    """Parse every source into its named graph of a new in-memory store."""
    loaded = LoadedGraph(ox.Store())
    for path, graph in sources.files():
        triples = parse_turtle(path)
        loaded.store.extend(ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples)
        loaded.origins[path] = graph
    if sources.links is not None:
        loaded.store.extend(
            ox.Quad(ox.NamedNode(link.iri), OWL_SAME_AS, ox.NamedNode(link.item), ENRICHMENT_GRAPH)
            for link in confirmed(read_record(sources.links))
        )
        loaded.origins[sources.links] = ENRICHMENT_GRAPH
    return loaded
