"""A resource's page: its label, types and facts, its neighbours (and a picture of them), its Wikidata
items, the quotes of the release it rests on (with their offsets), the links pointing to it, and
schema.org JSON-LD for search engines."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pyoxigraph as ox

from spacegraph.namespaces import BASE, DEF, PREFIXES, WIKIDATA_ENTITY, compact
from spacegraph.publish.diagram import Edge, Graph, Node
from spacegraph.web.describe import LABEL_PROPERTIES, Description, Entry, Index
from spacegraph.web.pages.chrome import WIKIDATA_PAGE, Site, json_script, pick
from spacegraph.web.pages.reading import (
    ALT_LABEL,
    APART,
    COMMENT,
    DCAT,
    DCTERMS,
    EVIDENCE,
    OA,
    ORG,
    RDFS,
    SAME_AS,
    SCHEMA,
    SG,
    SKOS,
    TYPE,
    Fact,
    Labels,
    Reader,
    Value,
)

# Classes by the colour of their node in a neighbourhood picture.
GROUPS: dict[str, str] = {
    SCHEMA + "Person": "person",
    ORG + "FormalOrganization": "organisation",
    ORG + "OrganizationalUnit": "organisation",
    SCHEMA + "GovernmentOrganization": "organisation",
    ORG + "Post": "organisation",
    ORG + "Role": "organisation",
    ORG + "Membership": "organisation",
    SCHEMA + "Event": "event",
    SCHEMA + "EventSeries": "event",
    SG + "Meeting": "event",
    SG + "Presentation": "event",
    SG + "Conference": "event",
    SCHEMA + "City": "place",
    SCHEMA + "Country": "place",
    SCHEMA + "Continent": "place",
    SCHEMA + "Place": "place",
    SG + "SpaceMission": "space",
    SG + "Spacecraft": "space",
    SG + "Lander": "space",
    SG + "Satellite": "space",
    SG + "SpaceStation": "space",
    SG + "LaunchVehicle": "space",
    SG + "CelestialBody": "space",
    SG + "CooperationArea": "concept",
    SG + "DiscussionTopic": "concept",
    SKOS + "ConceptScheme": "concept",
}

# schema.org types for the embedded JSON-LD: our classes by their schema.org superclass.
SCHEMA_TYPES: dict[str, str] = {
    ORG + "FormalOrganization": "Organization",
    ORG + "OrganizationalUnit": "Organization",
    SG + "SpaceMission": "Thing",
    SG + "Spacecraft": "Product",
    SG + "CelestialBody": "Place",
    SG + "Agreement": "CreativeWork",
    SG + "Plan": "CreativeWork",
    SG + "Quotation": "Quotation",
    SG + "PressRelease": "NewsArticle",
    OA + "SpecificResource": "Quotation",  # our evidence: the exact words of the release
    DCAT + "Catalog": "DataCatalog",
    DCAT + "Dataset": "Dataset",
    DCAT + "DataService": "WebAPI",
    DCAT + "Distribution": "DataDownload",
    PREFIXES["foaf"] + "Organization": "Organization",
}


@dataclass
class Quote:
    exact: str
    start: int | None
    end: int | None
    href: str
    iri: str
    source: Value | None


@dataclass
class Section:
    iri: str
    anchor: str
    title: str
    facts: list[Fact]


@dataclass
class Incoming:
    property: Fact
    subjects: list[Value]


@dataclass(frozen=True)
class FormatLink:
    name: str  # "Turtle"
    href: str
    media_type: str
    extension: str


def evidence(reader: Reader, iri: str) -> list[Quote]:
    """The quotes the resource's sg:evidence points to, or the resource itself when it is a quote."""
    quotes: list[Quote] = []
    nodes = reader.objects(iri, EVIDENCE)
    if reader.objects(iri, OA + "hasSelector"):
        nodes = [ox.NamedNode(iri)]
    for node in nodes:
        if not isinstance(node, ox.NamedNode):
            continue
        exact: str | None = None
        start = end = None
        for selector in reader.objects(node.value, OA + "hasSelector"):
            if not isinstance(selector, ox.NamedNode):
                continue
            for literal in reader.objects(selector.value, OA + "exact"):
                if isinstance(literal, ox.Literal):
                    exact = literal.value
            for literal in reader.objects(selector.value, OA + "start"):
                if isinstance(literal, ox.Literal) and literal.value.isdigit():
                    start = int(literal.value)
            for literal in reader.objects(selector.value, OA + "end"):
                if isinstance(literal, ox.Literal) and literal.value.isdigit():
                    end = int(literal.value)
        sources = [reader.value(s) for s in reader.objects(node.value, OA + "hasSource")]
        if exact is not None:
            quotes.append(
                Quote(exact, start, end, reader.site.href(node.value), node.value, sources[0] if sources else None)
            )
    return sorted(quotes, key=lambda q: (q.start is None, q.start or 0))


def neighbourhood(
    description: Description, labels: Labels, site: Site, index: Index | None
) -> tuple[list[Node], list[Edge]]:
    """The resource and the resources of ours it links to or that link to it (not its quotes, types or
    Wikidata items), at most 40 of them; parallel links between two nodes share one edge."""
    iri = description.iri
    center = Node(iri, labels.text(iri), site.href(iri), "self")
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for triple in description.triples:
        subject, predicate, obj = triple.subject, triple.predicate.value, triple.object
        if predicate in (TYPE, SAME_AS) or not isinstance(subject, ox.NamedNode) or not isinstance(obj, ox.NamedNode):
            continue
        if subject.value == iri and obj.value.startswith(BASE) and "#" not in obj.value and predicate != EVIDENCE:
            edges[(iri, obj.value)].append(labels.text(predicate))
        elif obj.value == iri and subject.value != iri and "#" not in subject.value:
            edges[(subject.value, iri)].append(labels.text(predicate))
    keys = sorted(edges)[:40]
    others = sorted({n for pair in keys for n in pair if n != iri})
    nodes = [center] + [Node(n, labels.text(n), site.href(n), group_of(n, index)) for n in others]
    return nodes, [Edge(a, b, ", ".join(sorted(set(edges[(a, b)])))) for a, b in keys]


def group_of(iri: str, index: Index | None) -> str:
    entry = index.entries.get(iri) if index is not None else None
    for kind in entry.kinds if entry else ():
        if kind in GROUPS:
            return GROUPS[kind]
    return "other"


def schema_org(description: Description, reader: Reader, labels: Labels, ontology: Graph | None) -> dict[str, Any]:
    """schema.org JSON-LD for search engines: type, name, description, Wikidata pages (``schema:sameAs``)."""
    iri = description.iri
    types = [t.value for t in reader.objects(iri, TYPE) if isinstance(t, ox.NamedNode)]
    schema_types: list[str] = []
    for kind in types:
        candidates = [kind]
        if ontology is not None:
            candidates += [
                p.value for p in ontology.values(ox.NamedNode(kind), RDFS + "subClassOf") if isinstance(p, ox.NamedNode)
            ]
        for candidate in candidates:
            if candidate.startswith(SCHEMA):
                schema_types.append(candidate[len(SCHEMA) :])
                break
            if candidate in SCHEMA_TYPES:
                schema_types.append(SCHEMA_TYPES[candidate])
                break
    document: dict[str, Any] = {"@context": "https://schema.org", "@id": iri, "url": iri}
    document["@type"] = sorted(set(schema_types)) or "Thing"
    if isinstance(document["@type"], list) and len(document["@type"]) == 1:
        document["@type"] = document["@type"][0]
    names: list[ox.Literal] = []
    for predicate in LABEL_PROPERTIES:  # rdfs:label first, then dcterms:title, foaf:name…
        names = names or [o for o in reader.objects(iri, predicate) if isinstance(o, ox.Literal)]
    if not names and iri in labels.quotes:  # a quote is named by its words
        document["name"] = labels.quotes[iri]
    if names:
        document["name"] = (
            [{"@value": n.value, "@language": n.language} for n in names] if len(names) > 1 else names[0].value
        )
    alternates = [o.value for o in reader.objects(iri, ALT_LABEL) if isinstance(o, ox.Literal)]
    if alternates:
        document["alternateName"] = sorted(set(alternates))
    comments = [
        o for p in (COMMENT, DCTERMS + "description") for o in reader.objects(iri, p) if isinstance(o, ox.Literal)
    ]
    comment = pick(comments, labels.language)
    if comment is not None:
        document["description"] = comment.value
    same = [
        WIKIDATA_PAGE + o.value[len(WIKIDATA_ENTITY) :]
        for o in reader.objects(iri, SAME_AS)
        if isinstance(o, ox.NamedNode) and o.value.startswith(WIKIDATA_ENTITY)
    ]
    if same:
        document["sameAs"] = same
    simple = {
        SG + "date": "startDate",
        SCHEMA + "givenName": "givenName",
        SCHEMA + "familyName": "familyName",
        SCHEMA + "startDate": "startDate",
        SCHEMA + "endDate": "endDate",
        DCTERMS + "issued": "datePublished",
    }
    for predicate, key in simple.items():
        found = [o.value for o in reader.objects(iri, predicate) if isinstance(o, ox.Literal)]
        if found:
            document[key] = found[0]
    places = [o.value for o in reader.objects(iri, SG + "location") if isinstance(o, ox.NamedNode)]
    if places:
        document["location"] = [{"@type": "Place", "@id": p, "name": labels.text(p)} for p in places]
    return document


def document_title(labels: Labels, iri: str) -> str:
    return labels.text(iri)


def entries_as_values(entries: Sequence[Entry], site: Site) -> list[Value]:
    return [
        Value("link", text=e.label(site.language) or compact(e.iri), href=site.href(e.iri), iri=e.iri, lang=None)
        for e in entries
    ]


@dataclass
class ResourcePage:
    iri: str
    title: str
    title_lang: str | None
    types: list[Value]
    alternative: list[Value]
    comment: Value | None
    sections: list[Section]
    quotes: list[Quote]
    wikidata: list[Value]
    incoming: list[Incoming]
    formats: list[FormatLink]
    jsonld: str
    documentation: str | None  # the ontology documentation's anchor, for our ontology terms
    graph_contents: str | None  # /store?graph=…, for our named graphs


def resource_page(
    description: Description,
    site: Site,
    formats: list[FormatLink],
    ontology: Sequence[ox.Triple] = (),
) -> ResourcePage:
    iri = description.iri
    labels = Labels(description.triples, site.language, ontology)
    reader = Reader(description.triples, site, labels)
    node = ox.NamedNode(iri)
    sections = [Section(iri, "", labels.text(iri), reader.facts(node, skip=APART | {SAME_AS}))]
    for other in description.document[1:]:
        fragment = other.partition("#")[2]
        sections.append(Section(other, fragment, "#" + fragment, reader.facts(ox.NamedNode(other))))
    wikidata = [
        reader.link(o.value)
        for o in reader.objects(iri, SAME_AS)
        if isinstance(o, ox.NamedNode) and o.value.startswith(WIKIDATA_ENTITY)
    ]
    others = [
        o
        for o in reader.objects(iri, SAME_AS)
        if not (isinstance(o, ox.NamedNode) and o.value.startswith(WIKIDATA_ENTITY))
    ]
    if others:
        sections[0].facts.append(reader.fact(SAME_AS, others, 0))
    grouped: dict[str, list[Value]] = defaultdict(list)
    for triple in description.incoming(iri):
        if isinstance(triple.subject, ox.NamedNode):
            grouped[triple.predicate.value].append(reader.link(triple.subject.value))
    incoming = [
        Incoming(reader.fact(p, [], 0), sorted(values, key=lambda v: v.text.casefold()))
        for p, values in sorted(grouped.items(), key=lambda item: labels.text(item[0]))
    ]
    comment_literal = pick((o for o in reader.objects(iri, COMMENT) if isinstance(o, ox.Literal)), site.language)
    documentation = None
    if iri.startswith(DEF):
        documentation = site.path("/def.html") + "#" + iri[len(DEF) :]
    graph_contents = None
    if iri.startswith(BASE + "graph/"):
        graph_contents = site.root + "/store?" + urlencode({"graph": iri})
    title_literal = labels.literal(iri)
    ontology_graph = Graph(ontology) if ontology else None
    return ResourcePage(
        iri=iri,
        title=labels.text(iri),
        title_lang=title_literal.language or None if title_literal else None,
        types=sorted(
            (reader.link(t.value) for t in reader.objects(iri, TYPE) if isinstance(t, ox.NamedNode)),
            key=lambda v: v.text,
        ),
        alternative=[
            reader.value(o)
            for o in reader.objects(iri, ALT_LABEL)
            if isinstance(o, ox.Literal) and (o.language or site.language) == site.language
        ],
        comment=reader.value(comment_literal) if comment_literal is not None else None,
        sections=sections,
        quotes=evidence(reader, iri),
        wikidata=wikidata,
        incoming=incoming,
        formats=formats,
        jsonld=json_script(schema_org(description, reader, labels, ontology_graph)),
        documentation=documentation,
        graph_contents=graph_contents,
    )
