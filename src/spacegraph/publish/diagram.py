"""Pictures of the graph, drawn by Graphviz (``dot``, Debian package ``graphviz``) as SVG.

* ``ontology_svg``: the classes of the ontology and how they relate — subclasses, and the properties
  that link one class to another, read from ``rdfs:domain``/``rdfs:range`` and from the SHACL shapes
  (a shape's target class, the property's ``sh:path``, its ``sh:class``). ``spacegraph build`` writes
  it as ``ontology.svg``; ``python -m spacegraph.publish.diagram docs/ontology.svg`` refreshes the README's copy.
* ``neighbourhood_svg``: one resource and the resources it links to or is linked from, with the
  properties as edge labels, each node a link to its page.

Labels go into the DOT source as quoted strings (quotes and backslashes escaped), and ``dot`` escapes
them again for XML; links are percent-encoded (``safe_url``), since ``dot`` writes them unescaped. No text
of the graph can inject markup into the SVG.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pyoxigraph as ox

from spacegraph.errors import SpacegraphError
from spacegraph.namespaces import PREFIXES, compact

DIAGRAM_FILE = "ontology.svg"  # the class diagram, in every build
DIAGRAM_TITLE = "spacegraph ontology: classes and relations"
DOT_TIMEOUT = 20.0  # seconds
FONT = "DejaVu Sans, Noto Sans CJK JP, sans-serif"

RDF = PREFIXES["rdf"]
RDFS = PREFIXES["rdfs"]
OWL = PREFIXES["owl"]
SH = PREFIXES["sh"]
SG = PREFIXES["sg"]


def quoted(text: str) -> str:
    """A DOT quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "") + '"'


def safe_url(href: str) -> str:
    """A link for ``URL=``: Graphviz 2.43 writes it into ``xlink:href`` as it is, without escaping for XML,
    so the characters XML would need escaped are percent-encoded here (links with one query parameter, such
    as ``?lang=fr``, are unchanged)."""
    return quote(href, safe="/:?=#%-._~!$()*+,;@")


def attributes(**values: str) -> str:
    return "[" + ", ".join(f"{key}={quoted(value)}" for key, value in values.items()) + "]"


def run_dot(source: str) -> bytes:
    """``dot -Tsvg`` of the source; SpacegraphError when dot is missing, fails or takes too long."""
    dot = shutil.which("dot")
    if dot is None:
        raise SpacegraphError("Graphviz is not installed: the dot command is needed to draw diagrams")
    try:
        result = subprocess.run(
            [dot, "-Tsvg"], input=source.encode("utf-8"), capture_output=True, timeout=DOT_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise SpacegraphError(f"dot did not finish within {DOT_TIMEOUT:g} s") from None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SpacegraphError(f"dot failed: {message[-1] if message else result.returncode}")
    return result.stdout


def inline(svg: bytes) -> str:
    """The ``<svg>`` element alone, for embedding in HTML: no XML declaration, DOCTYPE or comments."""
    text = svg.decode("utf-8")
    text = re.sub(r"<\?xml[^>]*\?>", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>", "", text)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    return text.strip()


# --- A resource's neighbourhood ---------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    key: str  # the IRI
    label: str
    href: str
    group: str  # a colour group: "self", "person", "organisation", "event", "place", "space", "other"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str


COLOURS = {  # fill, border
    "self": ("#1d4ed8", "#1e3a8a"),
    "person": ("#fef3c7", "#b45309"),
    "organisation": ("#dbeafe", "#1d4ed8"),
    "event": ("#dcfce7", "#15803d"),
    "place": ("#fce7f3", "#be185d"),
    "space": ("#ede9fe", "#6d28d9"),
    "concept": ("#e0f2fe", "#0369a1"),
    "other": ("#f3f4f6", "#4b5563"),
}


def neighbourhood_source(nodes: Sequence[Node], edges: Sequence[Edge], title: str) -> str:
    lines = [
        "digraph neighbourhood {",
        "  graph "
        + attributes(rankdir="LR", bgcolor="transparent", pad="0.2", nodesep="0.25", ranksep="0.6", tooltip=title)
        + ";",
        "  node "
        + attributes(
            shape="box", style="rounded,filled", fontname=FONT, fontsize="11", margin="0.12,0.06", penwidth="1.2"
        )
        + ";",
        f"  edge {attributes(fontname=FONT, fontsize='9', color='#6b7280', fontcolor='#374151', arrowsize='0.7')};",
    ]
    for index, node in enumerate(nodes):
        fill, border = COLOURS.get(node.group, COLOURS["other"])
        font = "#ffffff" if node.group == "self" else "#111827"
        extra = {"penwidth": "2"} if node.group == "self" else {}
        attrs = attributes(
            label=node.label, URL=safe_url(node.href), tooltip=node.label, fillcolor=fill, color=border, fontcolor=font,
            id=f"n{index}", **extra,
        )  # fmt: skip
        lines.append(f"  {quoted(node.key)} {attrs};")
    for edge in edges:
        lines.append(f"  {quoted(edge.source)} -> {quoted(edge.target)} {attributes(label=edge.label)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def neighbourhood_svg(nodes: Sequence[Node], edges: Sequence[Edge], title: str) -> str:
    return inline(run_dot(neighbourhood_source(nodes, edges, title)))


# --- The ontology's classes and their relations ------------------------------------------------------


class Graph:
    """Triples indexed by subject, for reading an ontology and its shapes."""

    def __init__(self, triples: Iterable[ox.Triple]) -> None:
        self.by_subject: dict[ox.NamedNode | ox.BlankNode, list[tuple[str, ox.NamedNode | ox.BlankNode | ox.Literal]]]
        self.by_subject = defaultdict(list)
        for triple in triples:
            subject, obj = triple.subject, triple.object
            if isinstance(subject, ox.NamedNode | ox.BlankNode) and isinstance(
                obj, ox.NamedNode | ox.BlankNode | ox.Literal
            ):
                self.by_subject[subject].append((triple.predicate.value, obj))

    def values(
        self, subject: ox.NamedNode | ox.BlankNode, predicate: str
    ) -> list[ox.NamedNode | ox.BlankNode | ox.Literal]:
        return [o for p, o in self.by_subject.get(subject, ()) if p == predicate]

    def subjects(self, predicate: str, obj: ox.NamedNode) -> list[ox.NamedNode | ox.BlankNode]:
        return [s for s, pairs in self.by_subject.items() if any(p == predicate and o == obj for p, o in pairs)]

    def items(self, head: ox.NamedNode | ox.BlankNode | ox.Literal) -> list[ox.NamedNode | ox.BlankNode | ox.Literal]:
        """The members of an RDF list."""
        members: list[ox.NamedNode | ox.BlankNode | ox.Literal] = []
        seen: set[ox.NamedNode | ox.BlankNode] = set()
        while isinstance(head, ox.BlankNode) and head not in seen:
            seen.add(head)
            members += self.values(head, RDF + "first")
            rest = self.values(head, RDF + "rest")
            head = rest[0] if rest else ox.NamedNode(RDF + "nil")
        return members

    def label(self, node: ox.NamedNode, language: str = "en") -> str:
        labels = [o for o in self.values(node, RDFS + "label") if isinstance(o, ox.Literal)]
        for wanted in (language, "en"):
            for label in labels:
                if label.language == wanted:
                    return label.value
        return compact(node.value)


def value_classes(shapes: Graph, node: ox.NamedNode | ox.BlankNode, depth: int = 0) -> set[str]:
    """The classes a shape (or a property shape) allows as values: sh:class, through sh:or and sh:node."""
    found: set[str] = set()
    if depth > 4:
        return found
    for value in shapes.values(node, SH + "class"):
        if isinstance(value, ox.NamedNode):
            found.add(value.value)
    for head in shapes.values(node, SH + "or"):
        for member in shapes.items(head):
            if isinstance(member, ox.NamedNode | ox.BlankNode):
                found |= value_classes(shapes, member, depth + 1)
    for target in shapes.values(node, SH + "node"):
        if isinstance(target, ox.NamedNode | ox.BlankNode):
            found |= value_classes(shapes, target, depth + 1)
    return found


@dataclass(frozen=True)
class OntologyDiagram:
    classes: dict[str, str]  # IRI -> label, our classes and the reused ones that take part in a relation
    ours: frozenset[str]
    subclasses: frozenset[tuple[str, str]]
    relations: frozenset[tuple[str, str, str]]  # (domain, property, range)


def ontology_relations(ontology_triples: Iterable[ox.Triple], shape_triples: Iterable[ox.Triple]) -> OntologyDiagram:
    ontology, shapes = Graph(ontology_triples), Graph(shape_triples)
    ours = {
        s.value
        for s in ontology.subjects(RDF + "type", ox.NamedNode(OWL + "Class"))
        if isinstance(s, ox.NamedNode) and s.value.startswith(SG)
    }
    subclasses = {
        (cls, parent.value)
        for cls in ours
        for parent in ontology.values(ox.NamedNode(cls), RDFS + "subClassOf")
        if isinstance(parent, ox.NamedNode)
    }
    relations: set[tuple[str, str, str]] = set()
    properties = {
        s.value
        for s in ontology.subjects(RDF + "type", ox.NamedNode(OWL + "ObjectProperty"))
        if isinstance(s, ox.NamedNode)
    }
    for prop in properties:
        node = ox.NamedNode(prop)
        domains = {d.value for d in ontology.values(node, RDFS + "domain") if isinstance(d, ox.NamedNode)}
        ranges = {r.value for r in ontology.values(node, RDFS + "range") if isinstance(r, ox.NamedNode)}
        relations |= {(d, prop, r) for d in domains for r in ranges}
    # The shapes: a node shape's target classes, each property shape's path and value classes.
    for shape in list(shapes.by_subject):
        targets = {t.value for t in shapes.values(shape, SH + "targetClass") if isinstance(t, ox.NamedNode)}
        for member in shapes.values(shape, SH + "property"):
            if not isinstance(member, ox.NamedNode | ox.BlankNode):
                continue
            paths = [p for p in shapes.values(member, SH + "path") if isinstance(p, ox.NamedNode)]
            for path in paths:
                relations |= {(t, path.value, r) for t in targets for r in value_classes(shapes, member)}
    involved = {c for d, _, r in relations for c in (d, r)} | {c for pair in subclasses for c in pair} | ours
    classes = {c: ontology.label(ox.NamedNode(c)) if c in ours else compact(c) for c in sorted(involved)}
    return OntologyDiagram(classes, frozenset(ours), frozenset(subclasses), frozenset(relations))


def ontology_source(diagram: OntologyDiagram, labels: dict[str, str], href: dict[str, str] | None = None) -> str:
    """DOT for the class diagram; ``labels`` names the properties, ``href`` links our classes."""
    ids = {iri: f"c{index}" for index, iri in enumerate(sorted(diagram.classes))}
    lines = [
        "digraph ontology {",
        "  graph "
        + attributes(rankdir="LR", bgcolor="white", pad="0.3", nodesep="0.3", ranksep="0.9", tooltip=DIAGRAM_TITLE)
        + ";",
        f"  node {attributes(shape='box', style='rounded,filled', fontname=FONT, fontsize='12', margin='0.14,0.07')};",
        f"  edge {attributes(fontname=FONT, fontsize='10', color='#4b5563', fontcolor='#1f2937', arrowsize='0.8')};",
    ]
    for iri in sorted(diagram.classes):
        ours = iri in diagram.ours
        text = diagram.classes[iri] + ("\n" + compact(iri) if ours else "")
        attrs = {
            "label": text,
            "tooltip": iri,
            "fillcolor": "#dbeafe" if ours else "#ffffff",
            "color": "#1d4ed8" if ours else "#6b7280",
            "style": "rounded,filled" if ours else "rounded,dashed,filled",
        }
        if href and iri in href:
            attrs["URL"] = safe_url(href[iri])
        lines.append(f"  {ids[iri]} {attributes(**attrs)};")
    for child, parent in sorted(diagram.subclasses):
        style = attributes(arrowhead="onormal", style="dashed", color="#1d4ed8", tooltip="subclass of")
        lines.append(f"  {ids[child]} -> {ids[parent]} {style};")
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    for domain, prop, range_ in sorted(diagram.relations):
        grouped[(domain, range_)].append(labels.get(prop, compact(prop)))
    for (domain, range_), names in sorted(grouped.items()):
        lines.append(f"  {ids[domain]} -> {ids[range_]} {attributes(label=chr(10).join(sorted(set(names))))};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def property_labels(ontology_triples: Iterable[ox.Triple]) -> dict[str, str]:
    ontology = Graph(ontology_triples)
    return {s.value: ontology.label(s) for s in list(ontology.by_subject) if isinstance(s, ox.NamedNode)}


def ontology_svg(ontology_triples: Sequence[ox.Triple], shape_triples: Sequence[ox.Triple]) -> bytes:
    """The class diagram as an SVG document (what ``spacegraph build`` publishes as ontology.svg)."""
    diagram = ontology_relations(ontology_triples, shape_triples)
    labels = {iri: label for iri, label in property_labels(ontology_triples).items() if iri.startswith(SG)}
    return run_dot(ontology_source(diagram, labels))


def project_ontology_svg() -> bytes:
    """The diagram of the project's ontology and shapes, from the sources."""
    from spacegraph.namespaces import ONTOLOGY_GRAPH, SHAPES_GRAPH
    from spacegraph.publish.graph import Sources, load

    loaded = load(Sources.in_project())
    ontology = [q.triple for q in loaded.quads(ONTOLOGY_GRAPH)]
    shapes = [q.triple for q in loaded.quads(SHAPES_GRAPH)]
    return ontology_svg(ontology, shapes)


def main(arguments: Sequence[str]) -> int:
    """``python -m spacegraph.publish.diagram OUT.svg``: write the class diagram of the project's ontology."""
    if len(arguments) != 1:
        print("usage: python -m spacegraph.publish.diagram OUT.svg", file=sys.stderr)
        return 2
    try:
        Path(arguments[0]).write_bytes(project_ontology_svg())
    except SpacegraphError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
