"""The selector of a Linked Data Fragment: one quad pattern, read from a fragment URL and written back.

A Triple Pattern Fragment's URL gives each bound term in a parameter (``subject``, ``predicate``,
``object``, and ``graph`` for a Quad Pattern Fragment) in Hydra's *explicit representation*, the form
its search template announces and Comunica and the LDF clients send:

=====================  ==================================================================================
``http://ex.org/a``    an IRI as it is (``<http://ex.org/a>`` is read too)
``"Tokyo"``            a literal (``xsd:string``); the text between the first and the last ``"``, unescaped
``"Tokyo"@en``         a literal with a language
``"2016"^^http://…``   a typed literal (the datatype IRI may be in ``<…>``)
empty, ``?name``       a variable: any term
=====================  ==================================================================================

``graph`` names one named graph, or ``urn:ldf:defaultGraph`` for the default graph — the union of the
named graphs, as at ``/sparql`` (the name the LDF server and Comunica use). Without ``graph``, the
fragment holds the quads of every named graph, each in its graph.

A blank node cannot be selected: in a query, ``_:x`` is a variable, so no query can ask for one blank
node by its label. A term that cannot be read is refused with the parameter and the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pyoxigraph as ox

from spacegraph.namespaces import compact

DEFAULT_GRAPH = "urn:ldf:defaultGraph"
POSITIONS = ("subject", "predicate", "object", "graph")
VARIABLES = {"subject": "s", "predicate": "p", "object": "o", "graph": "g"}

Graph = ox.NamedNode | ox.DefaultGraph


class PatternError(ValueError):
    """A parameter that is not a term of its position; the message names it and says why."""


@dataclass(frozen=True)
class Pattern:
    """A quad pattern; None is a variable. ``graph`` None: any named graph (not the default graph)."""

    subject: ox.NamedNode | None = None
    predicate: ox.NamedNode | None = None
    object: ox.NamedNode | ox.Literal | None = None
    graph: Graph | None = None

    @classmethod
    def read(cls, values: Mapping[str, str]) -> Pattern:
        """The pattern of a fragment URL's parameters (PatternError when one cannot be read)."""
        terms: dict[str, ox.NamedNode | ox.Literal | ox.DefaultGraph | None] = {}
        for position in POSITIONS:
            text = values.get(position, "")
            terms[position] = None if text == "" or text.startswith("?") else read_term(position, text)
        subject, predicate, obj, graph = (terms[position] for position in POSITIONS)
        assert not isinstance(subject, ox.Literal | ox.DefaultGraph)
        assert not isinstance(predicate, ox.Literal | ox.DefaultGraph)
        assert not isinstance(obj, ox.DefaultGraph) and not isinstance(graph, ox.Literal)
        return cls(subject, predicate, obj, graph)

    def terms(self) -> dict[str, ox.NamedNode | ox.Literal | ox.DefaultGraph | None]:
        return {"subject": self.subject, "predicate": self.predicate, "object": self.object, "graph": self.graph}

    def parameters(self) -> list[tuple[str, str]]:
        """The bound terms as URL parameters, in the search template's order and representation."""
        return [(position, explicit(term)) for position, term in self.terms().items() if term is not None]

    def query_string(self) -> str:
        """``subject=…&predicate=…``, each value percent-encoded as a URI template expands it (RFC 6570,
        form-style: everything but letters, digits and ``-._~``)."""
        return urlencode(self.parameters(), quote_via=quote, safe="")

    @property
    def variables(self) -> list[str]:
        """The SPARQL variables of the unbound positions: ``s``, ``p``, ``o``, ``g``."""
        return [VARIABLES[position] for position, term in self.terms().items() if term is None]

    def where(self) -> str:
        """The pattern as a SPARQL group: ``GRAPH ?g { ?s <p> ?o }``, or ``?s <p> ?o`` for the default graph."""
        triple = " ".join(
            f"?{VARIABLES[position]}" if term is None else str(term)
            for position, term in (("subject", self.subject), ("predicate", self.predicate), ("object", self.object))
        )
        if isinstance(self.graph, ox.DefaultGraph):
            return triple
        graph = "?g" if self.graph is None else str(self.graph)
        return f"GRAPH {graph} {{ {triple} }}"

    def text(self) -> str:
        """For people: ``?s rdf:type ?o ?g``, with prefixes."""
        shown = []
        for position, term in self.terms().items():
            if term is None:
                shown.append(f"?{VARIABLES[position]}")
            elif isinstance(term, ox.DefaultGraph):
                shown.append("(default graph)")
            elif isinstance(term, ox.NamedNode):
                shown.append(compact(term.value))
            else:
                shown.append(str(term))
        return " ".join(shown)


def explicit(term: ox.NamedNode | ox.Literal | ox.DefaultGraph) -> str:
    """A term in Hydra's explicit representation (what ``Pattern.read`` reads)."""
    if isinstance(term, ox.DefaultGraph):
        return DEFAULT_GRAPH
    if isinstance(term, ox.NamedNode):
        return term.value
    if term.language:
        return f'"{term.value}"@{term.language}'
    if term.datatype.value == "http://www.w3.org/2001/XMLSchema#string":
        return f'"{term.value}"'
    return f'"{term.value}"^^{term.datatype.value}'


def read_term(position: str, text: str) -> ox.NamedNode | ox.Literal | ox.DefaultGraph:
    if text.startswith("_:"):
        raise PatternError(
            f"{position}: {text} is a blank node; a blank node cannot be selected (its label is local to a "
            "document, and in a query it would be a variable): leave the parameter out to match any term"
        )
    if text.startswith('"'):
        if position != "object":
            raise PatternError(f"{position}: {text!r} is a literal; only an object can be a literal")
        return read_literal(text)
    iri = text[1:-1] if text.startswith("<") and text.endswith(">") else text
    if position == "graph" and iri == DEFAULT_GRAPH:
        return ox.DefaultGraph()
    try:
        return ox.NamedNode(iri)
    except ValueError as error:
        raise PatternError(f"{position}: not an absolute IRI: {text!r} ({error})") from None


def read_literal(text: str) -> ox.Literal:
    end = text.rfind('"')
    if end == 0:
        raise PatternError(f"object: the literal {text!r} has no closing quote")
    value, suffix = text[1:end], text[end + 1 :]
    try:
        if suffix == "":
            return ox.Literal(value)
        if suffix.startswith("@"):
            return ox.Literal(value, language=suffix[1:])
        if suffix.startswith("^^"):
            datatype = suffix[2:]
            if datatype.startswith("<") and datatype.endswith(">"):
                datatype = datatype[1:-1]
            return ox.Literal(value, datatype=ox.NamedNode(datatype))
    except ValueError as error:
        raise PatternError(f"object: cannot read the literal {text!r}: {error}") from None
    raise PatternError(f"object: after the literal's closing quote comes {suffix!r}, not @language or ^^datatype")
