"""The HTML pages, rendered with Jinja2 from ``templates/``: a resource's page, the landing page, the
ontology's documentation, the query UI, search and "not found".

Pages are built from what ``describe.py`` asked the backend; this module only arranges it for people:
labels in the reader's language (``Accept-Language``, or ``?lang=`` from the language links), property
names from the ontology (and a small table for the reused vocabularies), links kept local (``/id/jaxa``,
whatever host serves them), the evidence quotes with their offsets, the Wikidata items, a picture of the
neighbourhood, and schema.org JSON-LD for search engines. Every page works without JavaScript except the
query UI.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import pyoxigraph as ox

from spacegraph import __version__
from spacegraph.describe import LABEL_PROPERTIES, Description, Entry, Index
from spacegraph.diagram import Edge, Graph, Node
from spacegraph.graph import BASE, DEF, WIKIDATA_ENTITY
from spacegraph.namespaces import PREFIXES, compact
from spacegraph.publication import SUMS_FILE, Example, Publication, PublishedFile
from spacegraph.store import Summary

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).parent / "templates"
LANGUAGES = ("en", "fr", "ja")
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "ja": "日本語"}

RDF = PREFIXES["rdf"]
RDFS = PREFIXES["rdfs"]
OWL = PREFIXES["owl"]
SKOS = PREFIXES["skos"]
SH = PREFIXES["sh"]
SG = PREFIXES["sg"]
OA = PREFIXES["oa"]
SCHEMA = PREFIXES["schema"]
ORG = PREFIXES["org"]
DCTERMS = PREFIXES["dcterms"]
XSD = PREFIXES["xsd"]
VOID = PREFIXES["void"]
DCAT = PREFIXES["dcat"]

TYPE = RDF + "type"
LABEL = RDFS + "label"
COMMENT = RDFS + "comment"
SAME_AS = OWL + "sameAs"
EVIDENCE = SG + "evidence"
ALT_LABEL = SKOS + "altLabel"
WIKIDATA_PAGE = "https://www.wikidata.org/wiki/"

# --- Words of the interface, in each language we label in -------------------------------------------

WORDS: dict[str, dict[str, str]] = json.loads((TEMPLATES / "words.json").read_text(encoding="utf-8"))

# Labels of the reused terms our ontology does not label (it labels only its own): English and French,
# Japanese where we are sure of it. Any other term is shown by its compact IRI.
REUSED_LABELS: dict[str, dict[str, str]] = {
    RDF + "type": {"en": "type", "fr": "type", "ja": "種類"},
    RDF + "first": {"en": "first", "fr": "premier"},
    RDF + "rest": {"en": "rest", "fr": "reste"},
    LABEL: {"en": "label", "fr": "libellé", "ja": "ラベル"},
    COMMENT: {"en": "comment", "fr": "commentaire", "ja": "注釈"},
    RDFS + "subClassOf": {"en": "subclass of", "fr": "sous-classe de", "ja": "上位クラス"},
    RDFS + "subPropertyOf": {"en": "subproperty of", "fr": "sous-propriété de"},
    RDFS + "domain": {"en": "domain", "fr": "domaine", "ja": "定義域"},
    RDFS + "range": {"en": "range", "fr": "portée", "ja": "値域"},
    RDFS + "isDefinedBy": {"en": "defined by", "fr": "défini par"},
    RDFS + "seeAlso": {"en": "see also", "fr": "voir aussi", "ja": "関連"},
    SAME_AS: {"en": "same as", "fr": "identique à", "ja": "同一"},
    OWL + "versionIRI": {"en": "version IRI", "fr": "IRI de version"},
    OWL + "versionInfo": {"en": "version", "fr": "version", "ja": "バージョン"},
    OWL + "members": {"en": "members", "fr": "membres"},
    ALT_LABEL: {"en": "also called", "fr": "aussi appelé", "ja": "別名"},
    SKOS + "prefLabel": {"en": "preferred label", "fr": "libellé préféré"},
    SKOS + "hasTopConcept": {"en": "top concept", "fr": "concept de tête"},
    SKOS + "topConceptOf": {"en": "top concept of", "fr": "concept de tête de"},
    SKOS + "inScheme": {"en": "in scheme", "fr": "dans le schéma"},
    SKOS + "exactMatch": {"en": "exact match", "fr": "correspondance exacte", "ja": "完全一致"},
    SKOS + "closeMatch": {"en": "close match", "fr": "correspondance proche", "ja": "近い一致"},
    SKOS + "broadMatch": {"en": "broad match", "fr": "correspondance plus large"},
    DCTERMS + "title": {"en": "title", "fr": "titre", "ja": "タイトル"},
    DCTERMS + "description": {"en": "description", "fr": "description", "ja": "説明"},
    DCTERMS + "publisher": {"en": "publisher", "fr": "éditeur", "ja": "発行者"},
    DCTERMS + "creator": {"en": "creator", "fr": "créateur", "ja": "作成者"},
    DCTERMS + "source": {"en": "source", "fr": "source", "ja": "出典"},
    DCTERMS + "license": {"en": "license", "fr": "licence", "ja": "ライセンス"},
    DCTERMS + "rights": {"en": "rights", "fr": "droits", "ja": "権利"},
    DCTERMS + "issued": {"en": "issued", "fr": "publié le", "ja": "発行日"},
    DCTERMS + "modified": {"en": "modified", "fr": "modifié le"},
    DCTERMS + "language": {"en": "language", "fr": "langue", "ja": "言語"},
    DCTERMS + "subject": {"en": "subject", "fr": "sujet", "ja": "主題"},
    DCTERMS + "spatial": {"en": "place concerned", "fr": "lieu concerné"},
    DCTERMS + "format": {"en": "format", "fr": "format", "ja": "形式"},
    ORG + "holds": {"en": "holds", "fr": "occupe", "ja": "役職"},
    ORG + "postIn": {"en": "post in", "fr": "poste au sein de", "ja": "所属組織"},
    ORG + "role": {"en": "role", "fr": "rôle", "ja": "役割"},
    ORG + "unitOf": {"en": "unit of", "fr": "unité de", "ja": "上部組織"},
    ORG + "hasUnit": {"en": "has unit", "fr": "a pour unité"},
    ORG + "member": {"en": "member", "fr": "membre", "ja": "メンバー"},
    ORG + "organization": {"en": "organisation", "fr": "organisation", "ja": "組織"},
    ORG + "FormalOrganization": {"en": "organisation", "fr": "organisation", "ja": "組織"},
    ORG + "OrganizationalUnit": {"en": "organisational unit", "fr": "unité d'organisation", "ja": "組織単位"},
    ORG + "Post": {"en": "post", "fr": "poste", "ja": "役職"},
    ORG + "Role": {"en": "role", "fr": "rôle", "ja": "役割"},
    ORG + "Membership": {"en": "membership", "fr": "appartenance"},
    SCHEMA + "Person": {"en": "person", "fr": "personne", "ja": "人物"},
    SCHEMA + "GovernmentOrganization": {"en": "government organisation", "fr": "organisme public", "ja": "政府機関"},
    SCHEMA + "Country": {"en": "country", "fr": "pays", "ja": "国"},
    SCHEMA + "City": {"en": "city", "fr": "ville", "ja": "都市"},
    SCHEMA + "Continent": {"en": "continent", "fr": "continent", "ja": "大陸"},
    SCHEMA + "Place": {"en": "place", "fr": "lieu", "ja": "場所"},
    SCHEMA + "Event": {"en": "event", "fr": "événement", "ja": "イベント"},
    SCHEMA + "EventSeries": {"en": "event series", "fr": "série d'événements"},
    SCHEMA + "MediaObject": {"en": "media object", "fr": "objet média"},
    SCHEMA + "givenName": {"en": "given name", "fr": "prénom", "ja": "名"},
    SCHEMA + "familyName": {"en": "family name", "fr": "nom de famille", "ja": "姓"},
    SCHEMA + "nationality": {"en": "nationality", "fr": "nationalité", "ja": "国籍"},
    SCHEMA + "creator": {"en": "author", "fr": "auteur", "ja": "作者"},
    SCHEMA + "text": {"en": "text", "fr": "texte", "ja": "本文"},
    SCHEMA + "url": {"en": "web page", "fr": "page web", "ja": "ウェブページ"},
    SCHEMA + "superEvent": {"en": "part of the event", "fr": "fait partie de l'événement"},
    SCHEMA + "startDate": {"en": "start date", "fr": "date de début", "ja": "開始日"},
    SCHEMA + "endDate": {"en": "end date", "fr": "date de fin", "ja": "終了日"},
    SCHEMA + "alternativeHeadline": {"en": "alternative headline", "fr": "autre titre"},
    SCHEMA + "encodesCreativeWork": {"en": "copy of", "fr": "copie de"},
    SCHEMA + "encodingFormat": {"en": "format", "fr": "format", "ja": "形式"},
    SCHEMA + "contentSize": {"en": "size", "fr": "taille", "ja": "サイズ"},
    OA + "hasSource": {"en": "quoted from", "fr": "cité de", "ja": "引用元"},
    OA + "hasSelector": {"en": "selector", "fr": "sélecteur"},
    OA + "exact": {"en": "exact words", "fr": "mots exacts", "ja": "原文"},
    OA + "start": {"en": "start offset", "fr": "début"},
    OA + "end": {"en": "end offset", "fr": "fin"},
    OA + "SpecificResource": {"en": "quote", "fr": "citation", "ja": "引用"},
    OA + "TextQuoteSelector": {"en": "text quote selector", "fr": "sélecteur de citation"},
    OA + "TextPositionSelector": {"en": "text position selector", "fr": "sélecteur de position"},
    VOID + "triples": {"en": "triples", "fr": "triplets", "ja": "トリプル数"},
    VOID + "entities": {"en": "entities", "fr": "entités"},
    VOID + "subset": {"en": "subset", "fr": "sous-ensemble"},
    VOID + "sparqlEndpoint": {"en": "SPARQL endpoint", "fr": "point d'accès SPARQL"},
    VOID + "exampleResource": {"en": "example resource", "fr": "ressource d'exemple"},
    VOID + "dataDump": {"en": "data dump", "fr": "fichier de données"},
    VOID + "Dataset": {"en": "dataset", "fr": "jeu de données", "ja": "データセット"},
    OWL + "Ontology": {"en": "ontology", "fr": "ontologie", "ja": "オントロジー"},
    OWL + "Class": {"en": "class", "fr": "classe", "ja": "クラス"},
    OWL + "ObjectProperty": {"en": "object property", "fr": "propriété d'objet"},
    OWL + "DatatypeProperty": {"en": "datatype property", "fr": "propriété de valeur"},
    SKOS + "Concept": {"en": "concept", "fr": "concept", "ja": "概念"},
    SKOS + "ConceptScheme": {"en": "concept scheme", "fr": "schéma de concepts"},
    SH + "NodeShape": {"en": "node shape", "fr": "forme de nœud"},
    DCAT + "Dataset": {"en": "dataset", "fr": "jeu de données", "ja": "データセット"},
    DCAT + "Distribution": {"en": "distribution", "fr": "distribution"},
    DCAT + "distribution": {"en": "distribution", "fr": "distribution"},
    DCAT + "keyword": {"en": "keyword", "fr": "mot-clé", "ja": "キーワード"},
    DCAT + "landingPage": {"en": "landing page", "fr": "page d'accueil"},
    DCAT + "version": {"en": "version", "fr": "version", "ja": "バージョン"},
    DCAT + "downloadURL": {"en": "download URL", "fr": "URL de téléchargement"},
    DCAT + "accessURL": {"en": "access URL", "fr": "URL d'accès"},
    DCAT + "mediaType": {"en": "media type", "fr": "type de média"},
    DCAT + "byteSize": {"en": "size in bytes", "fr": "taille en octets"},
    DCAT + "compressFormat": {"en": "compression", "fr": "compression"},
    VOID + "classPartition": {"en": "class partition", "fr": "partition par classe"},
    VOID + "propertyPartition": {"en": "property partition", "fr": "partition par propriété"},
    VOID + "class": {"en": "class", "fr": "classe", "ja": "クラス"},
    VOID + "property": {"en": "property", "fr": "propriété", "ja": "プロパティ"},
    VOID + "classes": {"en": "classes", "fr": "classes", "ja": "クラス数"},
    VOID + "properties": {"en": "properties", "fr": "propriétés", "ja": "プロパティ数"},
    VOID + "distinctSubjects": {"en": "distinct subjects", "fr": "sujets distincts"},
    VOID + "distinctObjects": {"en": "distinct objects", "fr": "objets distincts"},
    VOID + "vocabulary": {"en": "vocabulary", "fr": "vocabulaire", "ja": "語彙"},
    VOID + "uriSpace": {"en": "URI space", "fr": "espace d'URI"},
    VOID + "Linkset": {"en": "linkset", "fr": "jeu de liens"},
    VOID + "linkPredicate": {"en": "link predicate", "fr": "prédicat des liens"},
    VOID + "target": {"en": "target", "fr": "cible"},
    VOID + "subjectsTarget": {"en": "subjects from", "fr": "sujets de"},
    VOID + "objectsTarget": {"en": "objects from", "fr": "objets de"},
    PREFIXES["foaf"] + "homepage": {"en": "home page", "fr": "page d'accueil"},
    PREFIXES["foaf"] + "name": {"en": "name", "fr": "nom", "ja": "名前"},
    PREFIXES["foaf"] + "Organization": {"en": "organisation", "fr": "organisation", "ja": "組織"},
    PREFIXES["spdx"] + "checksum": {"en": "checksum", "fr": "somme de contrôle"},
    PREFIXES["spdx"] + "checksumValue": {"en": "checksum value", "fr": "valeur"},
    PREFIXES["spdx"] + "algorithm": {"en": "algorithm", "fr": "algorithme"},
    PREFIXES["spdx"] + "Checksum": {"en": "checksum", "fr": "somme de contrôle"},
    SH + "PropertyShape": {"en": "property shape", "fr": "forme de propriété"},
}

# Properties shown first on a page, in this order; the others follow by label.
FIRST = (LABEL, ALT_LABEL, COMMENT, DCTERMS + "title", DCTERMS + "description", SG + "date")
# Shown in their own sections, not among the facts.
APART = {TYPE, EVIDENCE}

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
}


# --- Language ------------------------------------------------------------------------------------------


def choose_language(accept_language: str | None, explicit: str | None) -> tuple[str, bool]:
    """The page's language, and whether the reader chose it explicitly (``?lang=``) — then links keep it."""
    if explicit in LANGUAGES:
        assert explicit is not None
        return explicit, True
    from spacegraph.conneg import negotiate_language

    return negotiate_language(accept_language, LANGUAGES), False


def pick(literals: Iterable[ox.Literal], language: str) -> ox.Literal | None:
    """The literal in ``language``, else English, else one without a language, else any."""
    items = list(literals)
    for wanted in (language, "en", None):
        for literal in items:
            if (literal.language or None) == wanted:
                return literal
    return items[0] if items else None


# --- Links ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """How this server writes its links: local paths under ``root`` (the ASGI root path) for our IRIs,
    with ``?lang=`` when the reader chose a language."""

    root: str = ""
    language: str = "en"
    explicit: bool = False

    def local(self, iri: str) -> str | None:
        if not iri.startswith(BASE):
            return None
        path, hash_, fragment = iri[len(BASE) :].partition("#")
        href = self.root + "/" + quote(path, safe="/:@!$&'()*+,;=-._~")
        if self.explicit and not path.startswith("dumps/"):
            href += "?" + urlencode({"lang": self.language})
        return href + (hash_ + quote(fragment, safe="-._~") if fragment else "")

    def path(self, path: str, **params: str) -> str:
        query = dict(params)
        if self.explicit:
            query.setdefault("lang", self.language)
        return self.root + path + ("?" + urlencode(query) if query else "")

    def href(self, iri: str) -> str:
        """Where a link to ``iri`` goes: ours stay local, Wikidata items go to their page."""
        local = self.local(iri)
        if local is not None:
            return local
        if iri.startswith(WIKIDATA_ENTITY):
            return WIKIDATA_PAGE + iri[len(WIKIDATA_ENTITY) :]
        return iri


# --- Reading a description ----------------------------------------------------------------------------


class Labels:
    """Labels of the IRIs a page mentions, from its description, the ontology and the table above."""

    def __init__(self, triples: Iterable[ox.Triple], language: str, extra: Iterable[ox.Triple] = ()) -> None:
        self.language = language
        # by IRI, then by label property in order of preference (rdfs:label first)
        self.by_iri: dict[str, dict[int, list[ox.Literal]]] = defaultdict(lambda: defaultdict(list))
        for triple in [*triples, *extra]:
            predicate, subject, obj = triple.predicate.value, triple.subject, triple.object
            if predicate in LABEL_PROPERTIES and isinstance(obj, ox.Literal) and isinstance(subject, ox.NamedNode):
                found = self.by_iri[subject.value][LABEL_PROPERTIES.index(predicate)]
                if obj not in found:
                    found.append(obj)
        # A quote has no label: it is known by its words (its selector's oa:exact).
        selectors: dict[str, str] = {}
        exact: dict[str, str] = {}
        for triple in triples:
            predicate, subject, obj = triple.predicate.value, triple.subject, triple.object
            if isinstance(subject, ox.NamedNode) and predicate == OA + "hasSelector" and isinstance(obj, ox.NamedNode):
                selectors[obj.value] = subject.value
            elif isinstance(subject, ox.NamedNode) and predicate == OA + "exact" and isinstance(obj, ox.Literal):
                exact[subject.value] = obj.value
        self.quotes = {selectors[s]: shorten(text) for s, text in exact.items() if s in selectors}

    def literal(self, iri: str) -> ox.Literal | None:
        found = self.by_iri.get(iri)
        if not found:
            return None
        return pick(found[min(found)], self.language)

    def text(self, iri: str) -> str:
        literal = self.literal(iri)
        if literal is not None:
            return literal.value
        table = REUSED_LABELS.get(iri)
        if table:
            return table.get(self.language) or table["en"]
        if iri in self.quotes:
            return self.quotes[iri]
        if iri.startswith(WIKIDATA_ENTITY):
            return iri[len(WIKIDATA_ENTITY) :]
        shown = compact(iri)
        if shown.startswith("<") and iri.startswith(BASE) and iri != BASE:
            return iri[len(BASE) :]
        return shown.strip("<>")

    def lang(self, iri: str) -> str | None:
        """The language of the label ``text`` gives, when it differs from the page's."""
        literal = self.literal(iri)
        if literal is not None:
            return literal.language or None
        table = REUSED_LABELS.get(iri)
        if table:
            return self.language if self.language in table else "en"
        if iri in self.quotes:
            return "en"
        return None


@dataclass
class Value:
    kind: str  # "link", "literal", "node" (a blank node), "list"
    text: str = ""
    href: str | None = None
    iri: str | None = None
    lang: str | None = None
    datatype: str | None = None  # compact IRI, for typed literals other than strings
    external: bool = False
    facts: list[Fact] = field(default_factory=list)  # a blank node's description
    items: list[Value] = field(default_factory=list)  # an RDF list's members


@dataclass
class Fact:
    property: str  # IRI
    label: str
    label_lang: str | None
    compact: str
    href: str
    values: list[Value]


class Reader:
    """Turns the triples of a description into facts, values and links for the templates."""

    def __init__(self, triples: Sequence[ox.Triple], site: Site, labels: Labels) -> None:
        self.triples = triples
        self.site = site
        self.labels = labels
        self.by_subject: dict[ox.NamedNode | ox.BlankNode, list[ox.Triple]] = defaultdict(list)
        for triple in triples:
            if isinstance(triple.subject, ox.NamedNode | ox.BlankNode):
                self.by_subject[triple.subject].append(triple)

    def link(self, iri: str) -> Value:
        ours = iri.startswith(BASE)
        return Value(
            "link",
            text=self.labels.text(iri),
            href=self.site.href(iri),
            iri=iri,
            lang=self.labels.lang(iri),
            external=not ours,
        )

    def value(self, node: object, depth: int = 0) -> Value:
        if isinstance(node, ox.NamedNode):
            return self.link(node.value)
        if isinstance(node, ox.Literal):
            datatype = node.datatype.value
            shown = None if datatype in (XSD + "string", RDF + "langString") else compact(datatype)
            return Value("literal", text=node.value, lang=node.language or None, datatype=shown)
        if isinstance(node, ox.BlankNode):
            members = self.list_items(node)
            if members is not None:
                return Value("list", items=[self.value(m, depth + 1) for m in members])
            facts = self.facts(node, depth=depth + 1) if depth < 6 else []
            return Value("node", text="[ … ]", facts=facts)
        return Value("literal", text=str(node))

    def list_items(self, head: ox.BlankNode) -> list[object] | None:
        """The members of an RDF list starting at ``head``, or None when it is not one."""
        members: list[object] = []
        node: object = head
        seen: set[ox.BlankNode] = set()
        while isinstance(node, ox.BlankNode) and node not in seen:
            seen.add(node)
            pairs = {t.predicate.value: t.object for t in self.by_subject.get(node, [])}
            if set(pairs) != {RDF + "first", RDF + "rest"}:
                return None
            members.append(pairs[RDF + "first"])
            node = pairs[RDF + "rest"]
        return members if node == ox.NamedNode(RDF + "nil") else None

    def facts(self, subject: ox.NamedNode | ox.BlankNode, depth: int = 0, skip: set[str] | None = None) -> list[Fact]:
        grouped: dict[str, list[object]] = defaultdict(list)
        for triple in self.by_subject.get(subject, []):
            if skip and triple.predicate.value in skip:
                continue
            grouped[triple.predicate.value].append(triple.object)
        facts = [self.fact(p, objects, depth) for p, objects in grouped.items()]
        return sorted(facts, key=lambda f: (FIRST.index(f.property) if f.property in FIRST else len(FIRST), f.label))

    def fact(self, predicate: str, objects: Sequence[object], depth: int) -> Fact:
        values = [self.value(o, depth) for o in objects]
        values.sort(key=lambda v: (v.kind != "link", LANGUAGES.index(v.lang) if v.lang in LANGUAGES else 9, v.text))
        return Fact(
            predicate,
            self.labels.text(predicate),
            self.labels.lang(predicate),
            compact(predicate).strip("<>"),
            self.site.href(predicate),
            values,
        )

    def objects(self, subject: str, predicate: str) -> list[object]:
        return [t.object for t in self.by_subject.get(ox.NamedNode(subject), []) if t.predicate.value == predicate]


# --- A resource's page ------------------------------------------------------------------------------


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


def shorten(text: str, limit: int = 70) -> str:
    words = " ".join(text.split())
    return f"“{words}”" if len(words) <= limit else f"“{words[: limit - 1].rsplit(' ', 1)[0]}…”"


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
    names = [o for o in reader.objects(iri, LABEL) if isinstance(o, ox.Literal)]
    if names:
        document["name"] = (
            [{"@value": n.value, "@language": n.language} for n in names] if len(names) > 1 else names[0].value
        )
    alternates = [o.value for o in reader.objects(iri, ALT_LABEL) if isinstance(o, ox.Literal)]
    if alternates:
        document["alternateName"] = sorted(set(alternates))
    comment = pick((o for o in reader.objects(iri, COMMENT) if isinstance(o, ox.Literal)), labels.language)
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


def json_script(document: object) -> str:
    """JSON for a ``<script>`` element: ``<``, ``>`` and ``&`` escaped so the text cannot close it."""
    text = json.dumps(document, ensure_ascii=False, indent=2)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# --- The template environment ----------------------------------------------------------------------


def environment() -> jinja2.Environment:
    import jinja2  # here: a server that has rendered no page yet (say, answering SPARQL) needs no Jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size"] = human_size
    env.globals["version"] = __version__
    env.globals["language_names"] = LANGUAGE_NAMES
    return env


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value):,} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"


@dataclass(frozen=True)
class Chrome:
    """What every page's frame needs: language, links, the language switch."""

    site: Site
    words: dict[str, str]
    title: str
    switch: list[tuple[str, str, str]]  # (language, name, href)

    @classmethod
    def of(cls, site: Site, title: str, path: str, params: Mapping[str, str] | None = None) -> Chrome:
        query = {k: v for k, v in (params or {}).items() if k != "lang"}
        switch = [
            (lang, LANGUAGE_NAMES[lang], site.root + path + "?" + urlencode({**query, "lang": lang}))
            for lang in LANGUAGES
        ]
        return cls(site, WORDS[site.language], title, switch)


class Pages:
    """Renders each page to a string."""

    @functools.cached_property
    def env(self) -> jinja2.Environment:
        return environment()

    def render(self, template: str, chrome: Chrome, **context: Any) -> str:
        return self.env.get_template(template).render(
            chrome=chrome, site=chrome.site, t=chrome.words, lang=chrome.site.language, **context
        )


def document_title(labels: Labels, iri: str) -> str:
    return labels.text(iri)


def entries_as_values(entries: Sequence[Entry], site: Site) -> list[Value]:
    return [
        Value("link", text=e.label(site.language) or compact(e.iri), href=site.href(e.iri), iri=e.iri, lang=None)
        for e in entries
    ]


def example_links(examples: Sequence[Example], site: Site) -> list[dict[str, str]]:
    links = []
    for example in examples:
        links.append(
            {
                "name": example.name,
                "question": example.question,
                "explanation": example.explanation,
                "text": example.text,
                "run": site.path("/sparql", example=example.name),
                "json": site.root + "/sparql?" + urlencode({"query": example.text, "format": "json"}),
                "csv": site.root + "/sparql?" + urlencode({"query": example.text, "format": "csv"}),
            }
        )
    return links


def dumps_rows(files: Sequence[PublishedFile], site: Site) -> list[dict[str, Any]]:
    return [
        {
            "name": f.name,
            "title": f.title or f.name,
            "href": site.root + "/dumps/" + f.name,
            "size": f.size,
            "sha256": f.sha256,
            "media_type": f.media_type,
        }
        for f in files
    ]


# --- Page models -------------------------------------------------------------------------------------


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


# --- The landing page ----------------------------------------------------------------------------------


@dataclass
class LandingPage:
    iri: str
    title: str
    description: str | None
    description_lang: str | None
    rights: str | None
    license: Value | None
    version: str | None
    issued: str | None
    release: Value  # our resource for the press release
    release_url: str | None  # where CNES publishes it
    release_issued: str | None
    publisher: Value | None
    counts: list[tuple[int, str]]
    graphs: list[tuple[Value, int]]
    dumps: list[dict[str, Any]]
    files: list[dict[str, Any]]  # void.ttl, ontology.svg, SHA256SUMS
    examples: list[dict[str, str]]
    explore: list[Value]
    jsonld: str


def first_literal(reader: Reader, iri: str, predicate: str, language: str) -> ox.Literal | None:
    return pick((o for o in reader.objects(iri, predicate) if isinstance(o, ox.Literal)), language)


def landing_page(
    dataset: Description,
    release: Description,
    summary: Summary,
    publication: Publication,
    examples: Sequence[Example],
    site: Site,
    ontology: Sequence[ox.Triple] = (),
) -> LandingPage:
    language = site.language
    triples = list(dict.fromkeys([*dataset.triples, *release.triples]))
    labels = Labels(triples, language, ontology)
    reader = Reader(triples, site, labels)
    iri = dataset.iri
    title = first_literal(reader, iri, DCTERMS + "title", language)
    description = first_literal(reader, iri, DCTERMS + "description", language)
    rights = first_literal(reader, iri, DCTERMS + "rights", language)
    licenses = [o.value for o in reader.objects(iri, DCTERMS + "license") if isinstance(o, ox.NamedNode)]

    def number(subject: str, predicate: str) -> int | None:
        found = [o.value for o in reader.objects(subject, predicate) if isinstance(o, ox.Literal) and o.value.isdigit()]
        return int(found[0]) if found else None

    words = WORDS[language]
    counts = [
        (value, words[word])
        for value, word in (
            (number(iri, VOID + "triples"), "triples"),
            (number(iri, VOID + "entities"), "entities"),
            (number(iri, VOID + "classes"), "classes"),
            (number(iri, VOID + "properties"), "properties"),
            (number(iri + "#wikidata-links", VOID + "triples"), "links"),
        )
        if value is not None
    ]
    release_iri = release.iri
    urls = [o.value for o in reader.objects(release_iri, SCHEMA + "url") if isinstance(o, ox.NamedNode)]
    issued = [o.value for o in reader.objects(release_iri, DCTERMS + "issued") if isinstance(o, ox.Literal)]
    publishers = [o.value for o in reader.objects(release_iri, DCTERMS + "publisher") if isinstance(o, ox.NamedNode)]
    versions = [o.value for o in reader.objects(iri, OWL + "versionInfo") if isinstance(o, ox.Literal)]
    dataset_issued = [o.value for o in reader.objects(iri, DCTERMS + "issued") if isinstance(o, ox.Literal)]
    explore = sorted(
        (reader.link(o.value) for o in reader.objects(iri, VOID + "exampleResource") if isinstance(o, ox.NamedNode)),
        key=lambda v: v.text.casefold(),
    )
    all_files = dumps_rows(list(publication.files.values()), site)
    dump_names = {f.name for f in publication.dumps}
    extra = [row for row in all_files if row["name"] not in dump_names]
    sums = publication.path(SUMS_FILE)
    if sums is not None:
        extra.append({"name": SUMS_FILE, "title": SUMS_FILE, "href": site.root + "/dumps/" + SUMS_FILE,
                      "size": sums.stat().st_size, "sha256": "", "media_type": "text/plain"})  # fmt: skip
    jsonld: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "@id": iri,
        "name": title.value if title else "spacegraph",
        "description": description.value if description else "",
        "license": licenses[0] if licenses else None,
        "isBasedOn": urls[0] if urls else release_iri,
        "inLanguage": ["en", "fr", "ja"],
        "distribution": [
            {"@type": "DataDownload", "encodingFormat": f.media_type, "contentUrl": BASE + "dumps/" + f.name}
            for f in publication.dumps
        ],
    }
    return LandingPage(
        iri=iri,
        title=title.value if title else "spacegraph",
        description=description.value if description else None,
        description_lang=(description.language or None) if description else None,
        rights=rights.value if rights else None,
        license=Value("link", text=licenses[0], href=licenses[0], iri=licenses[0], external=True) if licenses else None,
        version=versions[0] if versions else None,
        issued=dataset_issued[0] if dataset_issued else None,
        release=reader.link(release_iri),
        release_url=urls[0] if urls else None,
        release_issued=issued[0] if issued else None,
        publisher=reader.link(publishers[0]) if publishers else None,
        counts=counts,
        graphs=[(reader.link(g.name), g.triples) for g in summary.graphs],
        dumps=[row for row in all_files if row["name"] in dump_names],
        files=extra,
        examples=example_links(examples, site),
        explore=explore,
        jsonld=json_script({k: v for k, v in jsonld.items() if v is not None}),
    )
