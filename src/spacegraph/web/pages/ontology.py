"""The ontology's documentation: each class and property with its labels, comment, domain, range,
super- and subclasses, its Wikidata mappings (``skos:exactMatch``/``closeMatch``/``broadMatch``) and the
SHACL constraints that apply to it, written out in words.

It reads the ontology and shapes graphs (asked of the backend once, see ``describe.py``) and arranges
them; the class diagram beside it is ``ontology.svg`` from the build (``diagram.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pyoxigraph as ox

from spacegraph.namespaces import BASE, DEF, ONTOLOGY_IRI, PREFIXES, WIKIDATA_ENTITY, compact
from spacegraph.publish.diagram import Graph
from spacegraph.web.pages.chrome import LANGUAGES, Site, pick
from spacegraph.web.pages.reading import Labels, Value

RDF = PREFIXES["rdf"]
RDFS = PREFIXES["rdfs"]
OWL = PREFIXES["owl"]
SKOS = PREFIXES["skos"]
SH = PREFIXES["sh"]
DCTERMS = PREFIXES["dcterms"]
VANN = PREFIXES["vann"]
WDT = PREFIXES["wdt"]
MATCHES = (("exact", SKOS + "exactMatch"), ("close", SKOS + "closeMatch"), ("broad", SKOS + "broadMatch"))

Object = ox.NamedNode | ox.BlankNode | ox.Literal


@dataclass
class Mapping:
    degree: str  # "exact", "close", "broad"
    id: str  # Q… or P…
    href: str


@dataclass
class Constraint:
    """One shape's constraints on one path (or on the focus node, when ``path`` is None)."""

    shape: Value
    targets: list[Value]
    path: Value | None
    rules: list[str]
    message: str | None


@dataclass
class Term:
    iri: str
    anchor: str
    label: str
    other_labels: list[tuple[str, str]]  # (language, label) in the other languages
    comment: str | None
    comment_lang: str | None
    kind: str  # "class", "object_property", "datatype_property"
    symmetric: bool = False
    superclasses: list[Value] = field(default_factory=list)
    subclasses: list[Value] = field(default_factory=list)
    disjoint: list[Value] = field(default_factory=list)
    domain: list[Value] = field(default_factory=list)
    range: list[Value] = field(default_factory=list)
    superproperties: list[Value] = field(default_factory=list)
    used_by: list[Value] = field(default_factory=list)  # properties with this class as domain
    pointing: list[Value] = field(default_factory=list)  # properties with this class as range
    mappings: list[Mapping] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    page: str = ""


@dataclass
class OntologyPage:
    iri: str
    title: str
    comment: str | None
    version: str | None
    license: Value | None
    namespace: str
    prefix: str | None
    classes: list[Term]
    properties: list[Term]
    reused: list[tuple[Value, Mapping]]


def mapping(degree: str, iri: str) -> Mapping | None:
    if iri.startswith(WIKIDATA_ENTITY):
        item = iri[len(WIKIDATA_ENTITY) :]
        return Mapping(degree, item, "https://www.wikidata.org/wiki/" + item)
    if iri.startswith(WDT):
        prop = iri[len(WDT) :]
        return Mapping(degree, prop, "https://www.wikidata.org/wiki/Property:" + prop)
    return None


class Rules:
    """SHACL constraints in words (English: they name SHACL and RDF terms, whatever the page language)."""

    def __init__(self, shapes: Graph, labels: Labels) -> None:
        self.shapes = shapes
        self.labels = labels

    def name(self, node: Object) -> str:
        if isinstance(node, ox.NamedNode):
            return compact(node.value).strip("<>")
        if isinstance(node, ox.Literal):
            return f'"{node.value}"' if node.datatype.value.endswith("#string") else node.value
        return "(" + "; ".join(self.rules(node)) + ")"

    def rules(self, node: ox.NamedNode | ox.BlankNode, depth: int = 0) -> list[str]:
        if depth > 5:
            return ["…"]
        said: list[str] = []
        paths = [p for p in self.shapes.values(node, SH + "path") if isinstance(p, ox.NamedNode)]
        prefix = f"{self.name(paths[0])}: " if paths and depth > 0 else ""
        for predicate, value in self.shapes.by_subject.get(node, ()):
            local = predicate[len(SH) :] if predicate.startswith(SH) else None
            if local is None or local in (
                "path",
                "message",
                "property",
                "targetClass",
                "targetSubjectsOf",
                "targetObjectsOf",
                "targetNode",
            ):
                continue
            said.append(self.rule(local, value, node, depth))
        return [prefix + "; ".join(sorted(said))] if prefix else sorted(said)

    def rule(self, local: str, value: Object, node: ox.NamedNode | ox.BlankNode, depth: int) -> str:
        if local == "minCount":
            return f"at least {value.value} value(s)"
        if local == "maxCount":
            return f"at most {value.value} value(s)"
        if local == "class":
            return f"each value is a {self.name(value)}"
        if local == "datatype":
            return f"datatype {self.name(value)}"
        if local == "node":
            return f"each value conforms to {self.name(value)}"
        if local in ("or", "and", "xone"):
            joiner = {"or": " or ", "and": " and ", "xone": " or (exactly one) "}[local]
            members = [
                self.name(m) if isinstance(m, ox.NamedNode) else "(" + "; ".join(self.rules(m, depth + 1)) + ")"
                for m in self.shapes.items(value)
                if not isinstance(m, ox.Literal)
            ]
            return "one of: " + joiner.join(members) if local != "and" else joiner.join(members)
        if local == "not":
            inner = self.rules(value, depth + 1) if isinstance(value, ox.BlankNode) else [self.name(value)]
            return "not (" + "; ".join(inner) + ")"
        if local in ("in", "languageIn"):
            listed = ", ".join(self.name(m) for m in self.shapes.items(value))
            return ("value in " if local == "in" else "language in ") + f"({listed})"
        if local == "qualifiedValueShape":
            inner = self.rules(value, depth + 1) if isinstance(value, ox.BlankNode) else [self.name(value)]
            return "values that (" + "; ".join(inner) + ")"
        if local in ("qualifiedMinCount", "qualifiedMaxCount"):
            return ("at least " if local == "qualifiedMinCount" else "at most ") + f"{value.value} of those values"
        if local == "uniqueLang":
            return "one value per language" if value.value == "true" else "several values per language allowed"
        if local == "lessThan":
            return f"less than the value of {self.name(value)}"
        if local == "nodeKind":
            return f"node kind {self.name(value)}"
        if local in ("minLength", "maxLength"):
            return ("at least " if local == "minLength" else "at most ") + f"{value.value} characters"
        if local in ("minInclusive", "maxInclusive", "minExclusive", "maxExclusive"):
            sign = {"minInclusive": "≥", "maxInclusive": "≤", "minExclusive": ">", "maxExclusive": "<"}[local]
            return f"value {sign} {value.value}"
        if local == "pattern":
            return f"matches /{value.value}/"
        return f"sh:{local} {self.name(value)}"


def ontology_page(
    ontology_triples: Sequence[ox.Triple], shape_triples: Sequence[ox.Triple], site: Site
) -> OntologyPage:
    ontology, shapes = Graph(ontology_triples), Graph(shape_triples)
    labels = Labels([*ontology_triples, *shape_triples], site.language)
    rules = Rules(shapes, labels)

    def link(iri: str) -> Value:
        if iri.startswith(DEF) and ox.NamedNode(iri) in ontology.by_subject:
            href = site.path("/def.html") + "#" + iri[len(DEF) :]
        else:
            href = site.href(iri)
        return Value(
            "link", text=labels.text(iri), href=href, iri=iri, lang=labels.lang(iri), external=not iri.startswith(BASE)
        )

    def iris(subject: ox.NamedNode, predicate: str) -> list[str]:
        return sorted(o.value for o in ontology.values(subject, predicate) if isinstance(o, ox.NamedNode))

    def typed(kind: str) -> list[ox.NamedNode]:
        found = [
            s
            for s, pairs in ontology.by_subject.items()
            if isinstance(s, ox.NamedNode) and (RDF + "type", ox.NamedNode(kind)) in pairs
        ]
        return sorted((s for s in found if s.value.startswith(DEF)), key=lambda s: labels.text(s.value).casefold())

    classes = typed(OWL + "Class")
    properties = typed(OWL + "ObjectProperty") + typed(OWL + "DatatypeProperty")
    properties.sort(key=lambda s: labels.text(s.value).casefold())
    disjoint: dict[str, set[str]] = {}
    for subject, pairs in ontology.by_subject.items():
        if (RDF + "type", ox.NamedNode(OWL + "AllDisjointClasses")) in pairs:
            for head in ontology.values(subject, OWL + "members"):
                members = [m.value for m in ontology.items(head) if isinstance(m, ox.NamedNode)]
                for member in members:
                    disjoint.setdefault(member, set()).update(m for m in members if m != member)
    constraints = shape_constraints(shapes, rules, link)

    def term(subject: ox.NamedNode, kind: str) -> Term:
        iri = subject.value
        all_labels = [o for o in ontology.values(subject, RDFS + "label") if isinstance(o, ox.Literal)]
        chosen = pick(all_labels, site.language)
        comment = pick(
            (o for o in ontology.values(subject, RDFS + "comment") if isinstance(o, ox.Literal)), site.language
        )
        item = Term(
            iri=iri,
            anchor=iri[len(DEF) :],
            label=chosen.value if chosen else compact(iri),
            other_labels=sorted(
                ((o.language or "", o.value) for o in all_labels if o != chosen),
                key=lambda p: LANGUAGES.index(p[0]) if p[0] in LANGUAGES else 9,
            ),
            comment=comment.value if comment else None,
            comment_lang=(comment.language or None) if comment else None,
            kind=kind,
            symmetric=ox.NamedNode(OWL + "SymmetricProperty") in ontology.values(subject, RDF + "type"),
            page=site.href(iri),
        )
        item.superclasses = [link(i) for i in iris(subject, RDFS + "subClassOf")]
        item.subclasses = [
            link(s.value)
            for s in sorted(ontology.subjects(RDFS + "subClassOf", subject), key=str)
            if isinstance(s, ox.NamedNode)
        ]
        item.disjoint = [link(i) for i in sorted(disjoint.get(iri, ()))]
        item.domain = [link(i) for i in iris(subject, RDFS + "domain")]
        item.range = [link(i) for i in iris(subject, RDFS + "range")]
        item.superproperties = [link(i) for i in iris(subject, RDFS + "subPropertyOf")]
        item.used_by = [
            link(s.value)
            for s in sorted(ontology.subjects(RDFS + "domain", subject), key=str)
            if isinstance(s, ox.NamedNode)
        ]
        item.pointing = [
            link(s.value)
            for s in sorted(ontology.subjects(RDFS + "range", subject), key=str)
            if isinstance(s, ox.NamedNode)
        ]
        for degree, predicate in MATCHES:
            for target in iris(subject, predicate):
                found = mapping(degree, target)
                if found:
                    item.mappings.append(found)
        item.constraints = constraints.get(iri, [])
        return item

    reused: list[tuple[Value, Mapping]] = []
    for subject in sorted(
        (s for s in ontology.by_subject if isinstance(s, ox.NamedNode) and not s.value.startswith(DEF)), key=str
    ):
        for degree, predicate in MATCHES:
            for target in iris(subject, predicate):
                found = mapping(degree, target)
                if found:
                    reused.append((link(subject.value), found))
    root = ox.NamedNode(ONTOLOGY_IRI)
    title = pick((o for o in ontology.values(root, RDFS + "label") if isinstance(o, ox.Literal)), site.language)
    comment = pick((o for o in ontology.values(root, RDFS + "comment") if isinstance(o, ox.Literal)), site.language)
    versions = [o.value for o in ontology.values(root, OWL + "versionInfo")]
    licenses = iris(root, DCTERMS + "license")
    prefixes = [o.value for o in ontology.values(root, VANN + "preferredNamespacePrefix")]
    return OntologyPage(
        iri=ONTOLOGY_IRI,
        title=title.value if title else "spacegraph ontology",
        comment=comment.value if comment else None,
        version=versions[0] if versions else None,
        license=Value("link", text=licenses[0], href=licenses[0], iri=licenses[0], external=True) if licenses else None,
        namespace=DEF,
        prefix=prefixes[0] if prefixes else None,
        classes=[term(c, "class") for c in classes],
        properties=[
            term(
                p,
                "object_property"
                if (RDF + "type", ox.NamedNode(OWL + "ObjectProperty")) in ontology.by_subject[p]
                else "datatype_property",
            )
            for p in properties
        ],
        reused=reused,
    )


def shape_constraints(shapes: Graph, rules: Rules, link: Callable[[str], Value]) -> dict[str, list[Constraint]]:
    """The constraints of every shape, filed under each class it targets and each property it constrains."""
    filed: dict[str, list[Constraint]] = {}
    for shape in sorted((s for s in shapes.by_subject if isinstance(s, ox.NamedNode)), key=str):
        target_iris = [t.value for t in shapes.values(shape, SH + "targetClass") if isinstance(t, ox.NamedNode)]
        subjects_of = [t.value for t in shapes.values(shape, SH + "targetSubjectsOf") if isinstance(t, ox.NamedNode)]
        targets = [link(t) for t in target_iris] + [link(t) for t in subjects_of]
        messages = [o.value for o in shapes.values(shape, SH + "message") if isinstance(o, ox.Literal)]
        shape_link = link(shape.value)
        paths = [p for p in shapes.values(shape, SH + "path") if isinstance(p, ox.NamedNode)]
        if paths:  # a property shape standing alone
            constraint = Constraint(
                shape_link, targets, link(paths[0].value), rules.rules(shape), messages[0] if messages else None
            )
            filed.setdefault(paths[0].value, []).append(constraint)
            for target in target_iris:
                filed.setdefault(target, []).append(constraint)
            continue
        own = rules.rules(shape)
        if own:
            constraint = Constraint(shape_link, targets, None, own, messages[0] if messages else None)
            for target in target_iris:
                filed.setdefault(target, []).append(constraint)
        for member in shapes.values(shape, SH + "property"):
            if not isinstance(member, ox.NamedNode | ox.BlankNode):
                continue
            member_paths = [p for p in shapes.values(member, SH + "path") if isinstance(p, ox.NamedNode)]
            member_messages = [o.value for o in shapes.values(member, SH + "message") if isinstance(o, ox.Literal)]
            path = member_paths[0].value if member_paths else None
            constraint = Constraint(
                shape_link,
                targets,
                link(path) if path else None,
                rules.rules(member),
                member_messages[0] if member_messages else None,
            )
            for target in target_iris:
                filed.setdefault(target, []).append(constraint)
            if path:
                filed.setdefault(path, []).append(constraint)
    return filed
