"""The page of a Linked Data Fragment for browsers: the search form (the pattern), the count, the
matches of this page — each term a link to the fragment with that term in the same place — and the
links to the other pages and to the fragment in each RDF format."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

import pyoxigraph as ox

from spacegraph.engine.store import Summary
from spacegraph.formats import RDF_FORMATS
from spacegraph.namespaces import BASE, compact
from spacegraph.web.pages.chrome import WORDS, Site
from spacegraph.web.pattern import DEFAULT_GRAPH, POSITIONS, Pattern, explicit

if TYPE_CHECKING:
    from spacegraph.web.fragments import Addresses, Page

FORMAT_LABELS = {
    "turtle": "Turtle",
    "jsonld": "JSON-LD",
    "ntriples": "N-Triples",
    "rdfxml": "RDF/XML",
    "trig": "TriG",
    "nquads": "N-Quads",
}


@dataclass(frozen=True)
class Cell:
    text: str
    title: str  # the whole term
    href: str | None  # the fragment with this term in this position
    page: str | None  # our IRIs: the resource's page
    kind: str  # iri, literal, bnode, default
    lang: str | None = None
    datatype: str | None = None


@dataclass(frozen=True)
class Link:
    label: str
    href: str
    rel: str = ""
    media_type: str = ""


@dataclass
class FragmentPage:
    title: str
    pattern: str
    fields: dict[str, str]  # the form's values: subject, predicate, object (explicit representation)
    graph: str  # the graph field's value ("" for every named graph)
    graphs: list[tuple[str, str]]  # (value, label) of the graph field's choices
    count: int
    exact: bool
    number: int
    last: int | None
    rows: list[list[Cell]]
    paging: list[Link]
    formats: list[Link]
    template: str
    address: str  # the fragments' absolute URL, all a client needs
    base: str


def with_page(base: str, pattern: Pattern, site: Site, page: int = 1, fmt: str | None = None) -> str:
    """A local link to a page of a pattern's fragment, keeping the reader's language."""
    params = pattern.parameters()
    if page > 1:
        params.append(("page", str(page)))
    if fmt is not None:
        params.append(("format", fmt))
    elif site.explicit:
        params.append(("lang", site.language))
    return base + ("?" + urlencode(params, quote_via=quote, safe="") if params else "")


def short(iri: str) -> str:
    """``id:jaxa``, ``rdfs:label``; our other IRIs by their path (``graph/data``); the rest whole."""
    text = compact(iri)
    if text.startswith("<"):
        return iri[len(BASE) :] if iri.startswith(BASE) else iri
    return text


def cell(
    term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.DefaultGraph, position: str, base: str, site: Site
) -> Cell:
    if isinstance(term, ox.DefaultGraph):
        return Cell(WORDS[site.language]["default_graph"], DEFAULT_GRAPH, None, None, "default")
    if isinstance(term, ox.BlankNode):
        return Cell(str(term), str(term), None, None, "bnode")
    href = with_page(base, Pattern.read({position: explicit(term)}), site)
    if isinstance(term, ox.NamedNode):
        return Cell(short(term.value), term.value, href, site.local(term.value), "iri")
    datatype = None if term.language or term.datatype.value.endswith("#string") else compact(term.datatype.value)
    return Cell(term.value, str(term), href, None, "literal", term.language or None, datatype)


def fragment_page(page: Page, at: Addresses, summary: Summary, site: Site) -> FragmentPage:
    words = WORDS[site.language]
    base = site.root + "/fragments"
    pattern = page.pattern
    graph = pattern.graph
    graphs = [("", words["every_named_graph"]), (DEFAULT_GRAPH, words["default_graph"])]
    graphs += [(info.name, short(info.name)) for info in summary.graphs]
    rows = []
    for quad in page.quads():
        subject, predicate, obj, in_graph = quad
        assert not isinstance(subject, ox.Triple) and not isinstance(obj, ox.Triple)  # no RDF 1.2 here
        terms = (subject, predicate, obj, in_graph)
        cells = [cell(term, position, base, site) for term, position in zip(terms, POSITIONS, strict=True)]
        rows.append(cells if graph is None else cells[:3])
    paging = [Link(words["first_page"], with_page(base, pattern, site), "first")]
    if page.number > 1:
        paging.append(Link(words["previous_page"], with_page(base, pattern, site, page.number - 1), "prev"))
    if page.more:
        paging.append(Link(words["next_page"], with_page(base, pattern, site, page.number + 1), "next"))
    if page.last is not None and page.last > 1:
        paging.append(Link(words["last_page"], with_page(base, pattern, site, page.last), "last"))
    formats = [
        Link(FORMAT_LABELS[f.name], with_page(base, pattern, site, page.number, f.name), "alternate", f.media_type)
        for f in RDF_FORMATS
    ]
    fields = {p: explicit(t) if t is not None else "" for p, t in pattern.terms().items() if p != "graph"}
    return FragmentPage(
        title=words["fragment_title"].format(pattern=pattern.text()),
        pattern=pattern.text(),
        fields=fields,
        graph="" if graph is None else explicit(graph),
        graphs=graphs,
        count=page.count.value,
        exact=page.count.exact,
        number=page.number,
        last=page.last,
        rows=rows,
        paging=paging,
        formats=formats,
        template=at.template,
        address=at.base,
        base=base,
    )
