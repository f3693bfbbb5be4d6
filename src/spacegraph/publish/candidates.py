"""Candidates for the Wikidata link of one of our entities, ranked with the reasons a person needs to
decide (``spacegraph links suggest``), and the review file they read.

What counts, out of 100:

- **label** (up to 50): the closest of our labels (English, French, Japanese, alternative ones) to the
  item's labels and aliases in those languages (``spacegraph.names.similarity``);
- **class** (up to 25): the item's ``P31`` is a class our types map to in the ontology (SKOS mappings to
  ``wd:Q…``, also through our superclasses), directly or through ``P279*`` (asked of the query service);
  a person linked to a non-human, or a non-person to a human, loses 30; an item that is a wiki page
  (disambiguation, list, category) is excluded;
- **context** (10 per agreeing fact, up to 30): what our graph says that Wikidata can confirm — the
  country, the parent organisation, a post's organisation (the item's employer, or the organisation's
  chair or director), the date's year, the location, the mission it is part of… each through the
  Wikidata property the ontology maps ours to, with the linked item of the value. A country or year that
  differs loses 15.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pyoxigraph as ox

from spacegraph.names import normalise, similarity
from spacegraph.namespaces import DEF, ID, WIKIDATA_ENTITY, compact, rebase_text
from spacegraph.publish.links import HUMAN, SCHEMA_PERSON, Link, confirmed
from spacegraph.publish.wikidata import LANGUAGES, Item, Wikidata

WDT = "http://www.wikidata.org/prop/direct/"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
SKOS_ALT = "http://www.w3.org/2004/02/skos/core#altLabel"
SG = DEF
ORG = "http://www.w3.org/ns/org#"
# Which Wikidata properties can confirm a value of ours mapped to the first one.
ALSO = {
    "P17": ("P17", "P27", "P495"),
    "P27": ("P27", "P17"),
    "P749": ("P749", "P361"),
    "P361": ("P361", "P749"),
    "P276": ("P276", "P131"),
    "P1444": ("P1444", "P2541"),
}
CONFLICTING = {"P17", "P27"}  # a different country is evidence against; a different "part of" is not
DATES = ("P585", "P580", "P582", "P571", "P577", "P619")
EMPLOYED = ("P108", "P463", "P1416")  # employer, member of, affiliation
HEADS = ("P488", "P1037", "P169")  # chairperson, director / manager, chief executive officer
DISPLAY = ", ".join


@dataclass(frozen=True)
class Clue:
    """A fact of our graph that the item may confirm: one of ``properties`` of the item has ``expected``
    (a Q-id, or a year for dates); for a post, ``heads`` of the ``expected`` organisation name the item."""

    what: str
    properties: tuple[str, ...]
    expected: str
    why: str
    conflicts: bool = False
    heads: bool = False


@dataclass(frozen=True)
class Mapped:
    qid: str
    how: str  # "sg:Lander skos:exactMatch", "via sg:Spacecraft"
    direct: bool  # mapped from one of the entity's own types, not a superclass


@dataclass
class Profile:
    """What our graph says of an entity that helps find its item."""

    entity: str
    labels: list[tuple[str, str]]  # (language, text), the main labels first
    types: list[str]
    classes: list[Mapped]
    clues: list[Clue]

    @property
    def person(self) -> bool:
        return SCHEMA_PERSON in self.types

    @property
    def name(self) -> str:
        return next(
            (text for language, text in self.labels if language == "en"), self.labels[0][1] if self.labels else ""
        )


MAPPED_CLASSES = rebase_text(
    """PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT DISTINCT ?type ?super ?match ?item WHERE {
  GRAPH <https://w3id.org/spacegraph/graph/ontology> { ?type rdfs:subClassOf* ?super . ?super ?match ?item }
  VALUES ?match { skos:exactMatch skos:closeMatch skos:broadMatch }
  FILTER (STRSTARTS(STR(?item), "http://www.wikidata.org/entity/Q"))
}"""
)

MAPPED_PROPERTIES = rebase_text(
    """PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?term ?property WHERE {
  GRAPH <https://w3id.org/spacegraph/graph/ontology> { ?term skos:exactMatch|skos:closeMatch ?property }
  FILTER (STRSTARTS(STR(?property), "http://www.wikidata.org/prop/direct/P"))
}"""
)


def rows(store: ox.Store, query: str) -> list[ox.QuerySolution]:
    results = store.query(query, use_default_graph_as_union=True)
    assert isinstance(results, ox.QuerySolutions)
    return list(results)


def objects(store: ox.Store, subject: str, predicate: str) -> list[ox.NamedNode | ox.BlankNode | ox.Literal]:
    found = store.quads_for_pattern(ox.NamedNode(subject), ox.NamedNode(predicate), None)
    return [q.object for q in found if not isinstance(q.object, ox.Triple)]


def iris(store: ox.Store, subject: str, predicate: str) -> list[str]:
    return [o.value for o in objects(store, subject, predicate) if isinstance(o, ox.NamedNode)]


class Graph:
    """Our graph as the linking needs it: entities, their labels and types, the ontology's mappings to
    Wikidata, and the items already linked (the confirmed rows of the record)."""

    def __init__(self, store: ox.Store, record: Sequence[Link]) -> None:
        self.store = store
        self.linked = {link.iri: link.qid for link in confirmed(record)}
        self.class_map: dict[str, list[Mapped]] = {}
        for row in rows(store, MAPPED_CLASSES):
            kind, superclass = row["type"].value, row["super"].value
            match = row["match"].value.rsplit("#", 1)[-1]
            direct = kind == superclass
            how = f"{compact(kind)} skos:{match}" if direct else f"via {compact(superclass)} skos:{match}"
            mapped = Mapped(row["item"].value.removeprefix(WIKIDATA_ENTITY), how, direct)
            self.class_map.setdefault(kind, []).append(mapped)
        self.property_map: dict[str, list[str]] = {}
        for row in rows(store, MAPPED_PROPERTIES):
            self.property_map.setdefault(row["term"].value, []).append(row["property"].value.removeprefix(WDT))

    def exists(self, entity: str) -> bool:
        return bool(iris(self.store, ID + entity, "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"))

    def label(self, iri: str) -> str:
        labels = [o for o in objects(self.store, iri, RDFS_LABEL) if isinstance(o, ox.Literal)]
        english = [o.value for o in labels if o.language == "en"]
        return (english or [o.value for o in labels] or [compact(iri)])[0]

    def profile(self, entity: str) -> Profile:
        iri = ID + entity
        labels: list[tuple[str, str]] = []
        for predicate in (RDFS_LABEL, SKOS_ALT):  # main labels first, then English, French, Japanese
            found = [v for v in objects(self.store, iri, predicate) if isinstance(v, ox.Literal)]
            found = [v for v in found if (v.language or "en") in LANGUAGES]
            found.sort(key=lambda v: (LANGUAGES.index(v.language or "en"), v.value))
            labels += [(v.language or "en", v.value) for v in found]
        types = iris(self.store, iri, "http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
        classes = list(
            {
                m.qid: m for kind in types for m in sorted(self.class_map.get(kind, []), key=lambda m: not m.direct)
            }.values()
        )
        return Profile(entity, list(dict.fromkeys(labels)), types, classes, self.clues(iri))

    def clues(self, iri: str) -> list[Clue]:
        found: list[Clue] = []
        for quad in self.store.quads_for_pattern(ox.NamedNode(iri), None, None):
            predicate, value = quad.predicate.value, quad.object
            for pid in self.property_map.get(predicate, []):
                if isinstance(value, ox.NamedNode) and value.value in self.linked:
                    qid = self.linked[value.value]
                    why = f"{compact(iri)} {compact(predicate)} {compact(value.value)} ({qid})"
                    found.append(Clue(self.wording(predicate), ALSO.get(pid, (pid,)), qid, why, pid in CONFLICTING))
                elif isinstance(value, ox.Literal) and pid == "P585" and value.value[:4].isdigit():
                    why = f"{compact(iri)} {compact(predicate)} {value.value}"
                    found.append(Clue("date", DATES, value.value[:4], why, conflicts=True))
        for post in iris(self.store, iri, ORG + "holds"):
            for organisation in self.organisations(post):
                qid = self.linked[organisation]
                why = f"{compact(iri)} org:holds {compact(post)}, a post in {compact(organisation)} ({qid})"
                found.append(Clue(f"post: {self.label(post)}", EMPLOYED, qid, why, heads=True))
        unique = {(c.what, c.expected): c for c in found}
        return sorted(unique.values(), key=lambda c: (c.what, c.expected))

    def organisations(self, post: str) -> list[str]:
        """The linked organisations a post is in: its org:postIn, or the nearest linked one up org:unitOf."""
        found: list[str] = []
        for unit in iris(self.store, post, ORG + "postIn"):
            seen: set[str] = set()
            while unit and unit not in seen:
                seen.add(unit)
                if unit in self.linked:
                    found.append(unit)
                    break
                parents = iris(self.store, unit, ORG + "unitOf")
                unit = parents[0] if parents else ""
        return found

    def wording(self, predicate: str) -> str:
        labels = [
            o for o in objects(self.store, predicate, RDFS_LABEL) if isinstance(o, ox.Literal) and o.language == "en"
        ]
        return labels[0].value if labels else compact(predicate)


@dataclass
class Candidate:
    item: Item
    score: float
    reasons: list[str]
    excluded: str | None = None  # why it is not proposed at all
    matching: list[str] = field(default_factory=list)  # the claims that agree with our graph

    @property
    def qid(self) -> str:
        return self.item.qid


def score(
    profile: Profile, item: Item, names: dict[str, str], instances: set[tuple[str, str]], heads: dict[str, Item]
) -> Candidate:
    """Score one item for one entity. ``names`` labels the Q-ids the reasons mention; ``instances`` says
    which (item, class) pairs hold through ``P31/P279*``; ``heads`` holds the organisations of posts."""

    def named(qid: str) -> str:
        return f"{names[qid]} ({qid})" if names.get(qid) else qid

    reasons: list[str] = []
    matching: list[str] = []
    if item.redirected:
        reasons.append(f"{item.asked} was merged into {item.qid} (a redirect): shown as {item.qid}")
    page = item.not_a_thing()
    if page is not None:
        return Candidate(item, 0.0, [*reasons, f"excluded: the item is a {page}, not a thing in the world"], page)
    # label
    best, said = 0.0, "label: none of our labels is close to the item's"
    for language, ours in profile.labels:
        for their_language, kind, theirs in item.names():
            value = similarity(ours, theirs)
            same = their_language == language
            value = value if same or normalise(ours) == normalise(theirs) else value * 0.9
            if value > best:
                best = value
                sign = "=" if value >= 1 else "~"
                said = f"label: {ours!r} ({language}) {sign} {kind} {theirs!r} ({their_language}), {value:.2f}"
    total = 50 * best
    reasons.append(said)
    if best >= 1:
        matching.append(said.removeprefix("label: "))
    # class
    classes = item.classes()
    shown = DISPLAY(named(q) for q in classes) or "no P31"
    if profile.person != (HUMAN in classes):
        total -= 30
        reasons.append(
            f"class: a person, but P31 is {shown}" if profile.person else f"class: not a person, but P31 is {shown}"
        )
    elif not profile.classes:
        reasons.append(
            f"class: our {DISPLAY(compact(t) for t in profile.types)} map to no Wikidata class; "
            f"P31 {shown} not compared"
        )
    else:
        direct = [m for m in profile.classes if m.qid in classes]
        through = [m for m in profile.classes if (item.qid, m.qid) in instances and m not in direct]
        if direct or through:
            mapped = (direct or through)[0]
            points = (25 if direct else 20) if mapped.direct else (15 if direct else 10)
            total += points
            relation = "is" if direct else "is a subclass of"
            said = f"P31 {shown} {relation} {named(mapped.qid)} ({mapped.how})"
            reasons.append(f"class: {said}, +{points}")
            matching.append(said)
        else:
            total -= 10
            wanted = DISPLAY(named(m.qid) for m in profile.classes)
            reasons.append(f"class: P31 {shown} is none of {wanted} nor a subclass of them, -10")
    # context
    context = 0.0
    for clue in profile.clues:
        where = ""
        if clue.what == "date":
            have = item.years(*clue.properties)
            found = clue.expected in have
            differs = bool(have) and not found
            shown_values = DISPLAY(have)
        else:
            have = item.values(*clue.properties)
            found = clue.expected in have
            where = next((p for p in clue.properties if clue.expected in item.values(p)), "")
            if not found and clue.heads and clue.expected in heads:
                found = item.qid in heads[clue.expected].values(*HEADS)
                where = f"{clue.expected}'s " + "/".join(HEADS)
            differs = clue.conflicts and bool(have) and not found
            shown_values = DISPLAY(named(q) for q in have)
        if found:
            context += 10
            where = where or "/".join(clue.properties)
            said = f"{clue.what}: {clue.why}, and the item's {where} agrees"
            reasons.append(f"{said}, +10")
            matching.append(f"{clue.what} {named(clue.expected)}")
        elif differs:
            context -= 15
            reasons.append(f"{clue.what}: the item has {shown_values} where {clue.why}, -15")
    total += min(context, 30.0)
    return Candidate(item, round(max(0.0, min(100.0, total)), 1), reasons, None, matching)


@dataclass
class Suggestions:
    profile: Profile
    candidates: list[Candidate]
    dropped: list[str]  # ids the search gave that are gone (deleted items)
    searched: list[str]  # what was searched, for the review


def suggest(graph: Graph, wikidata: Wikidata, entity: str, limit: int = 7) -> Suggestions:
    """Search Wikidata with each of the entity's labels in its language, read every item found, and rank them."""
    profile = graph.profile(entity)
    found: list[str] = []
    searched: list[str] = []
    done: set[tuple[str, str]] = set()
    for language, text in profile.labels:
        if (language, normalise(text)) in done:
            continue
        done.add((language, normalise(text)))
        searched.append(f"{text!r} ({language})")
        found.extend(hit.qid for hit in wikidata.search(text, language, limit))
    items = wikidata.items(found) if found else {}
    dropped = [f"{qid}: deleted (wbgetentities says it is missing)" for qid, item in items.items() if item.missing]
    current = list({item.qid: item for item in items.values() if not item.missing}.values())
    heads = {c.expected for c in profile.clues if c.heads}
    referenced = {q for item in current for q in item.classes()} | {
        c.expected for c in profile.clues if c.what != "date"
    }
    referenced |= {q for item in current for c in profile.clues for q in item.values(*c.properties) if c.what != "date"}
    referenced |= {m.qid for m in profile.classes}
    extra = wikidata.items(sorted(referenced | heads)) if referenced | heads else {}
    names = {qid: item.label() for qid, item in extra.items() if not item.missing}
    instances = wikidata.instances([i.qid for i in current], [m.qid for m in profile.classes])
    organisations = {qid: extra[qid] for qid in heads if qid in extra}
    candidates = [score(profile, item, names, instances, organisations) for item in current]
    candidates.sort(key=lambda c: (c.excluded is not None, -c.score, c.qid))
    return Suggestions(profile, candidates, dropped, searched)


# --- The review file ----------------------------------------------------------------------------------

TSV_COLUMNS = ("entity", "rank", "qid", "score", "label_en", "description_en", "classes", "why")


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def review_markdown(all_suggestions: Iterable[Suggestions], header: str) -> str:
    lines = ["# Wikidata candidates for spacegraph's unlinked entities", "", header, ""]
    lines.append(
        "Nothing here is a link. Read each candidate (open its page), then record your decision with "
        "`spacegraph links accept ENTITY QID`; `spacegraph links check` checks the record after it."
    )
    for suggestions in all_suggestions:
        profile = suggestions.profile
        kinds = DISPLAY(compact(t) for t in profile.types)
        lines += ["", f"## id:{profile.entity}: {profile.name} ({kinds})", ""]
        ours = DISPLAY(f"{text} ({language})" for language, text in profile.labels)
        lines.append(f"Our labels: {ours}. Searched: {DISPLAY(suggestions.searched)}.")
        if profile.clues:
            lines.append("Context in our graph: " + "; ".join(c.why for c in profile.clues) + ".")
        proposed = [c for c in suggestions.candidates if c.excluded is None]
        if proposed:
            lines += [
                "",
                "| rank | item | label (en) | description (en) | class (P31) | score | why |",
                "|---|---|---|---|---|---|---|",
            ]
            for rank, c in enumerate(proposed, 1):
                item = c.item
                link = f"[{item.qid}](https://www.wikidata.org/wiki/{item.qid})"
                row = [
                    str(rank),
                    link,
                    item.label(),
                    item.descriptions.get("en", ""),
                    DISPLAY(item.classes()),
                    f"{c.score:g}",
                    "; ".join(c.reasons),
                ]
                lines.append("| " + " | ".join(cell(v) for v in row) + " |")
            lines += ["", f"To accept the first: `spacegraph links accept {profile.entity} {proposed[0].qid}`"]
        else:
            lines += ["", "No candidate found."]
        left = [f"{c.qid} ({c.excluded})" for c in suggestions.candidates if c.excluded] + suggestions.dropped
        if left:
            lines.append("Not proposed: " + "; ".join(left) + ".")
    return "\n".join(lines) + "\n"


def review_tsv(all_suggestions: Iterable[Suggestions]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(TSV_COLUMNS)
    for suggestions in all_suggestions:
        rank = 0
        for c in suggestions.candidates:
            rank_text = "excluded" if c.excluded else str(rank := rank + 1)
            item = c.item
            writer.writerow(
                [
                    suggestions.profile.entity,
                    rank_text,
                    item.qid,
                    f"{c.score:g}",
                    item.label(),
                    item.descriptions.get("en", ""),
                    DISPLAY(item.classes()),
                    "; ".join(c.reasons),
                ]
            )
    return out.getvalue()
