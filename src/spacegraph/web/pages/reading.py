"""Reading a description for people: labels in the reader's language (from the description, the
ontology and a table for the reused vocabularies), and the facts and values the templates show."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pyoxigraph as ox

from spacegraph.namespaces import BASE, PREFIXES, WIKIDATA_ENTITY, compact
from spacegraph.web.describe import LABEL_PROPERTIES
from spacegraph.web.pages.chrome import LANGUAGES, Site, pick

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
    DCTERMS + "accessRights": {"en": "access rights", "fr": "droits d'accès"},
    DCTERMS + "provenance": {"en": "provenance", "fr": "provenance", "ja": "来歴"},
    DCTERMS + "relation": {"en": "related to", "fr": "en relation avec"},
    DCTERMS + "temporal": {"en": "period covered", "fr": "période couverte"},
    DCTERMS + "identifier": {"en": "identifier", "fr": "identifiant", "ja": "識別子"},
    PREFIXES["prov"] + "wasDerivedFrom": {"en": "derived from", "fr": "dérivé de"},
    DCAT + "theme": {"en": "theme", "fr": "thème", "ja": "テーマ"},
    DCAT + "keyword": {"en": "keyword", "fr": "mot-clé", "ja": "キーワード"},
    DCAT + "distribution": {"en": "distribution", "fr": "distribution"},
    DCAT + "landingPage": {"en": "landing page", "fr": "page d'accueil"},
    DCAT + "startDate": {"en": "start date", "fr": "date de début", "ja": "開始日"},
    DCAT + "endDate": {"en": "end date", "fr": "date de fin", "ja": "終了日"},
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


def shorten(text: str, limit: int = 70) -> str:
    words = " ".join(text.split())
    return f"“{words}”" if len(words) <= limit else f"“{words[: limit - 1].rsplit(' ', 1)[0]}…”"
