"""Our entities as the reconciliation service (``reconcile.py``) matches them: their names in every
language, their types (with the ontology's superclasses), their descriptions, their Wikidata items and
every value they have, read from the backend with three SPARQL queries and kept while the data is the same.

Scoring a name: ``spacegraph.names.similarity`` against each label and alternative label (English,
French, Japanese…), 0 to 100; an entity's own id or IRI scores 100. A candidate is a ``match`` when its
name is exactly one of the entity's labels (as ``names.normalise`` reads them), no other entity has
that name, and every property the query gives agrees.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import pyoxigraph as ox

from spacegraph.names import bigrams, dice, normalise, similarity, words
from spacegraph.namespaces import ID, ONTOLOGY_GRAPH, PREFIXES, WIKIDATA_ENTITY, compact
from spacegraph.web.describe import Term

RDF_TYPE = PREFIXES["rdf"] + "type"
NAME_PROPERTIES = (
    PREFIXES["rdfs"] + "label",
    PREFIXES["skos"] + "prefLabel",
    PREFIXES["skos"] + "altLabel",
    PREFIXES["schema"] + "name",
    PREFIXES["foaf"] + "name",
    PREFIXES["dcterms"] + "title",
)
COMMENT = PREFIXES["rdfs"] + "comment"
SAME_AS = PREFIXES["owl"] + "sameAs"
WIKIDATA = "wikidata"  # the property whose values are the entity's Wikidata items
LANGUAGE_ORDER = ("en", "fr", "ja", "")

ENTITIES_QUERY = f"""SELECT ?s ?p ?o WHERE {{
  ?s ?p ?o .
  FILTER (isIRI(?s) && STRSTARTS(STR(?s), "{ID}") && !CONTAINS(STR(?s), "#") && !STRSTARTS(STR(?s), "{ID}quote/"))
}}"""
TERMS_QUERY = f"""PREFIX rdfs: <{PREFIXES["rdfs"]}>
SELECT ?term ?label ?comment ?super WHERE {{
  GRAPH <{ONTOLOGY_GRAPH.value}> {{
    ?term rdfs:label ?label .
    OPTIONAL {{ ?term rdfs:comment ?comment FILTER (LANG(?comment) = "en") }}
    OPTIONAL {{ ?term rdfs:subClassOf ?super FILTER (isIRI(?super)) }}
  }}
}}"""


def term_id(iri: str) -> str:
    """A type's or property's id: its compact name (``sg:SpaceMission``, ``schema:Person``), else the IRI."""
    short = compact(iri)
    return iri if short.startswith("<") else short


def expand(identifier: str) -> str:
    """``sg:SpaceMission`` or a full IRI → the IRI."""
    prefix, colon, local = identifier.partition(":")
    if colon and prefix in PREFIXES and not local.startswith("//"):
        return PREFIXES[prefix] + local
    return identifier


@dataclass
class Entity:
    id: str  # local name under https://w3id.org/spacegraph/id/
    names: list[tuple[str, str]] = field(default_factory=list)  # (language, text), main labels first
    types: list[str] = field(default_factory=list)
    values: dict[str, list[Term]] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)

    @property
    def iri(self) -> str:
        return ID + self.id

    def name(self, language: str = "en") -> str:
        for wanted in (language, *LANGUAGE_ORDER):
            for lang, text in self.names:
                if lang == wanted:
                    return text
        return self.names[0][1] if self.names else self.id

    def items(self) -> list[str]:
        return [
            v.value.removeprefix(WIKIDATA_ENTITY)
            for v in self.values.get(SAME_AS, [])
            if v.value.startswith(WIKIDATA_ENTITY)
        ]


@dataclass
class OntologyTerm:
    iri: str
    names: dict[str, str] = field(default_factory=dict)  # language → label
    comment: str = ""
    supers: set[str] = field(default_factory=set)

    def name(self, language: str = "en") -> str:
        return self.names.get(language) or self.names.get("en") or next(iter(self.names.values()), term_id(self.iri))


class Query:
    """A query text prepared once for scoring against every name."""

    def __init__(self, text: str, catalogue: Catalogue) -> None:
        self.text = text
        self.folded = normalise(text)
        self.words = set(words(text))
        self.pairs = bigrams(self.folded)
        self.entity = catalogue.lookup(text)


@dataclass
class Scored:
    entity: Entity
    score: float
    exact: bool
    features: dict[str, float | bool]
    properties_agree: bool


class Catalogue:
    def __init__(self, entity_rows: Sequence[dict[str, Term]], term_rows: Sequence[dict[str, Term]]) -> None:
        self.terms: dict[str, OntologyTerm] = {}
        for row in term_rows:
            iri = row["term"].value
            term = self.terms.setdefault(iri, OntologyTerm(iri))
            label = row.get("label")
            if isinstance(label, ox.Literal):
                term.names.setdefault(label.language or "", label.value)
            comment = row.get("comment")
            if isinstance(comment, ox.Literal):
                term.comment = comment.value
            if "super" in row:
                term.supers.add(row["super"].value)
        found: dict[str, Entity] = {}
        for row in entity_rows:
            subject, predicate, value = row["s"].value, row["p"].value, row["o"]
            entity = found.setdefault(subject, Entity(subject.removeprefix(ID)))
            entity.values.setdefault(predicate, []).append(value)
            if predicate == RDF_TYPE and isinstance(value, ox.NamedNode):
                entity.types.append(value.value)
            elif predicate in NAME_PROPERTIES and isinstance(value, ox.Literal):
                entity.names.append((value.language or "", value.value))
            elif predicate == COMMENT and isinstance(value, ox.Literal):
                entity.descriptions.setdefault(value.language or "", value.value)
        for entity in found.values():
            entity.types.sort()
            main = {
                (v.language or "", v.value)
                for v in entity.values.get(NAME_PROPERTIES[0], [])
                if isinstance(v, ox.Literal)
            }
            entity.names = sorted(
                dict.fromkeys(entity.names),
                key=lambda n: (n not in main, LANGUAGE_ORDER.index(n[0]) if n[0] in LANGUAGE_ORDER else 9),
            )
        self.entities = {e.id: e for e in sorted(found.values(), key=lambda e: e.id) if e.types and e.names}
        self.by_name: dict[str, set[str]] = {}
        self.folded: dict[str, list[tuple[str, set[str], Counter[str]]]] = {}
        for entity in self.entities.values():
            for _, text in entity.names:
                self.by_name.setdefault(normalise(text), set()).add(entity.id)
            folded = {normalise(text): set(words(text)) for _, text in entity.names}
            self.folded[entity.id] = [(name, folded[name], bigrams(name)) for name in folded if name]
        self.used_types = sorted({t for e in self.entities.values() for t in e.types})
        self.used_properties = sorted({p for e in self.entities.values() for p in e.values if p != RDF_TYPE})

    # --- types

    def ancestors(self, iri: str) -> set[str]:
        seen: set[str] = set()
        todo = [iri]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo.extend(self.terms[current].supers if current in self.terms else ())
        return seen

    def is_a(self, entity: Entity, types: Iterable[str]) -> bool:
        wanted = {expand(t) for t in types}
        return any(wanted & self.ancestors(t) for t in entity.types)

    def type_name(self, iri: str) -> str:
        return self.terms[iri].name() if iri in self.terms else term_id(iri)

    def property_name(self, iri: str) -> str:
        if iri == WIKIDATA:
            return "Wikidata item"
        return self.terms[iri].name() if iri in self.terms else term_id(iri)

    def description(self, entity: Entity) -> str:
        kinds = ", ".join(self.type_name(t) for t in entity.types)
        text = entity.descriptions.get("en") or entity.descriptions.get("") or ""
        return f"{kinds}: {text}" if text else kinds

    # --- names

    def lookup(self, text: str) -> Entity | None:
        """The entity named by its id or IRI, if ``text`` is one."""
        candidate = text.strip().removeprefix(ID)
        return self.entities.get(candidate)

    def score_name(self, entity: Entity, query: Query) -> tuple[float, bool]:
        """``names.similarity`` of the query and the closest of the entity's names, computed with the
        query's character pairs and words prepared once."""
        if query.entity is entity:
            return 1.0, True
        best = 0.0
        for name, name_words, pairs in self.folded[entity.id]:
            if name == query.folded:
                return 1.0, True
            shared = len(query.words & name_words) / max(len(query.words | name_words), 1)
            best = max(best, shared, dice(query.pairs, pairs))
        return round(best * 0.95, 4), False

    def values_of(self, entity: Entity, pid: str) -> list[str]:
        """The entity's values of a property as comparable texts: literals, and for IRIs their local
        name, their full IRI and their names (for Wikidata items, the Q-id)."""
        if pid == WIKIDATA:
            return entity.items()
        texts: list[str] = []
        for value in entity.values.get(expand(pid), []):
            if isinstance(value, ox.Literal):
                texts.append(value.value)
            else:
                texts += [value.value, value.value.removeprefix(ID), value.value.removeprefix(WIKIDATA_ENTITY)]
                other = self.entities.get(value.value.removeprefix(ID))
                if other is not None:
                    texts += [text for _, text in other.names]
        return texts

    def agrees(self, entity: Entity, pid: str, wanted: Sequence[object]) -> bool:
        have = self.values_of(entity, pid)
        for value in wanted:
            text = str(value.get("id") or value.get("name") or "") if isinstance(value, dict) else str(value)
            if isinstance(value, bool):
                text = str(value).lower()
            if any(normalise(text) == normalise(h) or similarity(text, h) >= 0.9 for h in have):
                return True
        return False

    def reconcile(
        self, query: str | None, types: Sequence[str], properties: Sequence[tuple[str, list[object]]], limit: int
    ) -> list[Scored]:
        found: list[Scored] = []
        prepared = Query(query, self) if query else None
        for entity in self.entities.values():
            if types and not self.is_a(entity, types):
                continue
            features: dict[str, float | bool] = {}
            name, exact = self.score_name(entity, prepared) if prepared else (0.0, False)
            if query:
                features["name"] = round(name, 4)
                features["name_exact"] = exact
            agreeing = sum(self.agrees(entity, pid, values) for pid, values in properties)
            if properties:
                features["properties"] = round(agreeing / len(properties), 4)
            if query and name < 0.5 and not agreeing:
                continue
            if not query and not agreeing:
                continue
            if types:
                features["type"] = True
            share = agreeing / len(properties) if properties else 1.0
            score = 100 * (0.8 * name + 0.2 * share if query and properties else name if query else share)
            found.append(Scored(entity, round(score, 2), exact, features, agreeing == len(properties)))
        found.sort(key=lambda s: (-s.score, not s.exact, s.entity.id))
        return found[:limit]

    def unambiguous(self, scored: Scored, query: str | None) -> bool:
        if not scored.exact or not scored.properties_agree or query is None:
            return False
        if self.lookup(query) is scored.entity:
            return True
        return self.by_name.get(normalise(query), set()) == {scored.entity.id}

    def suggest_entities(self, prefix: str, types: Sequence[str] = ()) -> list[Entity]:
        """Entities with a name (or a word of one, or an id) starting with ``prefix``, the closest first."""
        wanted = normalise(prefix)
        if not wanted:
            return []
        ranked: list[tuple[int, str, Entity]] = []
        for entity in self.entities.values():
            if types and not self.is_a(entity, types):
                continue
            rank = None
            for _, text in entity.names:
                name = normalise(text)
                if name == wanted:
                    rank = 0
                elif name.startswith(wanted):
                    rank = min(rank if rank is not None else 1, 1)
                elif any(word.startswith(wanted) for word in words(text)):
                    rank = min(rank if rank is not None else 2, 2)
            if rank is None and entity.id.startswith(prefix.strip().lower()):
                rank = 2
            if rank is not None:
                ranked.append((rank, entity.name().casefold(), entity))
        ranked.sort(key=lambda r: (r[0], r[1]))
        return [entity for _, _, entity in ranked]

    def suggest_terms(self, prefix: str, iris: Iterable[str], name: Callable[[str], str]) -> list[str]:
        """The types or properties whose name, a word of it, or its id starts with ``prefix``."""
        wanted = normalise(prefix)
        chosen = []
        for iri in iris:
            label, local = name(iri), iri.rsplit("/", 1)[-1].rsplit("#", 1)[-1]
            keys = [normalise(label), normalise(term_id(iri)), normalise(local), *words(label)]
            if not wanted or any(key.startswith(wanted) for key in keys):
                chosen.append(iri)
        return chosen
