"""Validate the loaded graph: SHACL shapes (pyshacl), plus the integrity checks SHACL Core cannot
express: literals that are not valid for their datatype, IRIs of ours that are used but never
described (a misspelt entity), and terms in our ontology namespace that the ontology does not define.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import rdflib
from pyshacl import validate as pyshacl_validate
from rdflib.namespace import RDF, SH

from spacegraph.namespaces import DATA_GRAPH, DEF, ENRICHMENT_GRAPH, ID, ONTOLOGY_GRAPH, SHAPES_GRAPH, compact
from spacegraph.publish.graph import LoadedGraph

RDF_TYPE = ox.NamedNode(str(RDF.type))
XSD = "http://www.w3.org/2001/XMLSchema#"
INTEGRITY = "spacegraph integrity check"


@dataclass(frozen=True)
class Finding:
    severity: str  # "Violation", "Warning" or "Info"
    focus: str
    path: str | None
    value: str | None
    message: str
    source: str  # the shape, or INTEGRITY
    location: str | None = None  # file:line where we could find it

    def render(self) -> str:
        lines = [f"{self.severity}: {self.message}", f"  focus:  {self.focus}"]
        if self.path:
            lines.append(f"  path:   {self.path}")
        if self.value:
            lines.append(f"  value:  {self.value}")
        lines.append(f"  source: {self.source}")
        if self.location:
            lines.append(f"  at:     {self.location}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]

    @property
    def conforms(self) -> bool:
        return not any(f.severity == "Violation" for f in self.findings)

    def count(self, severity: str) -> int:
        return sum(f.severity == severity for f in self.findings)

    def render(self) -> str:
        head = "Conforms." if self.conforms else "Does not conform."
        summary = (
            f"{head} {self.count('Violation')} violation(s), {self.count('Warning')} warning(s), "
            f"{self.count('Info')} info."
        )
        return "\n\n".join([*(f.render() for f in self.findings), summary])


@contextmanager
def quiet_rdflib() -> Iterator[None]:
    """rdflib logs a traceback for every ill-typed literal it meets; we report those ourselves."""
    logger = logging.getLogger("rdflib.term")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def to_rdflib_term(term: ox.NamedNode | ox.BlankNode | ox.Literal) -> rdflib.term.Node:
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if term.language:
        return rdflib.Literal(term.value, lang=term.language)
    return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value))


def to_rdflib(statements: Iterable[ox.Quad | ox.Triple]) -> rdflib.Graph:
    """Copy triples or quads (ignoring their graph) into a new rdflib graph."""
    graph = rdflib.Graph()
    for s in statements:
        graph.add((to_rdflib_term(s.subject), to_rdflib_term(s.predicate), to_rdflib_term(s.object)))  # type: ignore[arg-type]
    return graph


def validate(loaded: LoadedGraph) -> Report:
    """Run the shapes over the union of data, enrichment and ontology, then the integrity checks."""
    with quiet_rdflib():
        data = to_rdflib(loaded.quads(DATA_GRAPH, ENRICHMENT_GRAPH, ONTOLOGY_GRAPH))
        shapes = to_rdflib(loaded.quads(SHAPES_GRAPH))
        findings = [*shacl_findings(data, shapes), *integrity_findings(loaded)]
    findings.sort(key=lambda f: (f.severity != "Violation", f.focus, f.path or "", f.message))
    return Report(tuple(findings))


def shacl_findings(data: rdflib.Graph, shapes: rdflib.Graph) -> list[Finding]:
    _conforms, results, _text = pyshacl_validate(
        data, shacl_graph=shapes, inference="none", advanced=False, allow_warnings=True
    )
    findings = []
    # Only the report's own results: nested sh:detail results explain them, they are not findings.
    for result in results.objects(None, SH.result):
        severity = results.value(result, SH.resultSeverity)
        value = results.value(result, SH.value)
        path = results.value(result, SH.resultPath)
        messages = [str(m) for m in results.objects(result, SH.resultMessage)]
        english = [str(m) for m in results.objects(result, SH.resultMessage) if getattr(m, "language", None) == "en"]
        findings.append(
            Finding(
                severity=str(severity).rsplit("#", 1)[-1],
                focus=node_text(results.value(result, SH.focusNode)),
                path=node_text(path) if path is not None else None,
                value=node_text(value) if value is not None else None,
                message=(english or messages or ["(no message)"])[0],
                source=shape_name(shapes, results.value(result, SH.sourceShape)),
            )
        )
    return findings


def shape_name(shapes: rdflib.Graph, shape: rdflib.term.Node | None) -> str:
    """A property shape written inline is a blank node: name it by the node shape that holds it."""
    if isinstance(shape, rdflib.BNode):
        parent = shapes.value(predicate=SH.property, object=shape)
        if parent is not None:
            return node_text(parent)
    return node_text(shape)


def node_text(node: rdflib.term.Node | None) -> str:
    if isinstance(node, rdflib.URIRef):
        return compact(str(node))
    if isinstance(node, rdflib.Literal):
        return node.n3()
    if isinstance(node, rdflib.BNode):
        return "[a blank node]"
    return str(node)


def integrity_findings(loaded: LoadedGraph) -> list[Finding]:
    files = {path: graph for path, graph in loaded.origins.items() if graph in (DATA_GRAPH, ENRICHMENT_GRAPH)}
    instance_graphs = (DATA_GRAPH, ENRICHMENT_GRAPH)
    findings: list[Finding] = []

    # 1. Literals that are not valid for their XSD datatype.
    for quad in loaded.quads(*instance_graphs):
        literal = quad.object
        if not (isinstance(literal, ox.Literal) and literal.datatype.value.startswith(XSD)):
            continue
        if rdflib.Literal(literal.value, datatype=literal.datatype.value).ill_typed:
            kind = compact(literal.datatype.value)
            findings.append(
                Finding(
                    "Violation",
                    subject_text(quad.subject),
                    compact(quad.predicate.value),
                    f'"{literal.value}"^^{kind}',
                    f'"{literal.value}" is not a valid {kind}',
                    INTEGRITY,
                    locate(files, re.escape(f'"{literal.value}"')),
                )
            )

    # 2. Our own IRIs used without ever being described (no rdf:type anywhere): a misspelling.
    typed = {
        q.subject.value
        for q in loaded.store.quads_for_pattern(None, RDF_TYPE, None)
        if isinstance(q.subject, ox.NamedNode)
    }
    described = sorted(iri for iri in typed if iri.startswith(ID))
    used: dict[str, str] = {}
    for quad in loaded.quads(*instance_graphs):
        for term in (quad.subject, quad.object):
            if isinstance(term, ox.NamedNode) and term.value.startswith(ID) and term.value not in typed:
                used.setdefault(term.value, quad.predicate.value)
    for iri in sorted(used):
        guess = difflib.get_close_matches(iri, described, n=1, cutoff=0.8)
        hint = f"; did you mean {compact(guess[0])}?" if guess else ""
        findings.append(
            Finding(
                "Violation",
                compact(iri),
                None,
                None,
                f"{compact(iri)} is used but never described (it has no rdf:type){hint}",
                INTEGRITY,
                locate(files, iri_pattern(iri)),
            )
        )

    # 3. Terms in our ontology namespace that the ontology does not define.
    defined = {q.subject.value for q in loaded.quads(ONTOLOGY_GRAPH) if isinstance(q.subject, ox.NamedNode)}
    terms = sorted(defined)
    reported: set[str] = set()
    for quad in loaded.quads(*instance_graphs, SHAPES_GRAPH):
        candidates = [quad.predicate] + ([quad.object] if quad.predicate == RDF_TYPE else [])
        for term in candidates:
            iri = term.value if isinstance(term, ox.NamedNode) else ""
            if iri.startswith(DEF) and iri not in defined and iri not in reported:
                reported.add(iri)
                guess = difflib.get_close_matches(iri, terms, n=1, cutoff=0.8)
                hint = f"; did you mean {compact(guess[0])}?" if guess else ""
                findings.append(
                    Finding(
                        "Violation",
                        subject_text(quad.subject),
                        None,
                        None,
                        f"{compact(iri)} is not defined in the ontology{hint}",
                        INTEGRITY,
                        locate(loaded.origins, iri_pattern(iri)),
                    )
                )
    return findings


def subject_text(subject: ox.NamedNode | ox.BlankNode | ox.Triple) -> str:
    return compact(subject.value) if isinstance(subject, ox.NamedNode) else "[a blank node]"


def iri_pattern(iri: str) -> str:
    """A regular expression for the ways a Turtle file can write ``iri``: in full, prefixed, or
    relative to our ``@base``."""
    forms = [re.escape(f"<{iri}>"), rf"(?<![\w-]){re.escape(compact(iri))}(?![\w-])"]
    if iri.startswith(ID):
        forms.append(re.escape(f"<{iri[len(ID) :]}>"))
    return "|".join(forms)


def locate(files: Iterable[Path], pattern: str) -> str | None:
    """The first ``file:line`` that matches ``pattern`` outside a comment: good enough to point a person
    at it."""
    regex = re.compile(pattern)
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.lstrip().startswith("#") and regex.search(line):
                return f"{path}:{number}"
    return None
