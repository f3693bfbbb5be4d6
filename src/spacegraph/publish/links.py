"""The Wikidata link record, ``data/wikidata/links.tsv``: read it, check it against our graph (offline)
and against Wikidata (online), and turn what our graph states between linked items into
QuickStatements for Wikidata.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyoxigraph as ox

from spacegraph import __version__
from spacegraph.errors import SpacegraphError
from spacegraph.names import normalise
from spacegraph.namespaces import BASE, DATA_GRAPH, ID, compact, rebase_text

WD = "http://www.wikidata.org/entity/"
WDT = "http://www.wikidata.org/prop/direct/"
WIKIDATA_SPARQL = "https://query.wikidata.org/sparql"
WIKIDATA_API = "https://www.wikidata.org/w/api.php"
CONTACT = BASE  # the publisher's homepage (metadata/dataset.ttl), in User-Agents
COLUMNS = (
    "entity",
    "qid",
    "status",
    "label_en",
    "label_fr",
    "label_ja",
    "description_en",
    "instance_of_qid",
    "instance_of_label",
    "evidence",
)
STATUSES = ("confirmed", "unconfirmed", "not-modelled")
QID = re.compile(r"Q[1-9][0-9]*")
HUMAN = "Q5"
SCHEMA_PERSON = "https://schema.org/Person"
USER_AGENT = f"spacegraph/{__version__} (linked-data publisher; links check)"


@dataclass(frozen=True)
class Link:
    entity: str  # our local name under namespaces.ID
    qid: str
    status: str
    label_en: str
    label_fr: str
    label_ja: str
    description_en: str
    instance_of_qid: str
    instance_of_label: str
    evidence: str
    line: int

    @property
    def iri(self) -> str:
        return ID + self.entity

    @property
    def item(self) -> str:
        return WD + self.qid

    @property
    def name(self) -> str:
        return f"id:{self.entity} ({self.qid})"


def read_record(path: Path) -> list[Link]:
    """Every row of the record, checked for form: known status, well-formed Q-id where confirmed."""
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as error:
        raise SpacegraphError(f"cannot read: {error.strerror}", path=path) from None
    with handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = [column for column in COLUMNS[:3] if column not in (reader.fieldnames or [])]
        if missing:
            raise SpacegraphError(f"missing column(s) {', '.join(missing)}", path=path, line=1)
        links = []
        for row in reader:
            values = {column: (row.get(column) or "").strip() for column in COLUMNS}
            if values["status"] not in STATUSES:
                raise SpacegraphError(
                    f"unknown status {values['status']!r} (expected one of {', '.join(STATUSES)})",
                    path=path,
                    line=reader.line_num,
                )
            if values["status"] == "confirmed" and not QID.fullmatch(values["qid"]):
                raise SpacegraphError(f"not a Wikidata Q-id: {values['qid']!r}", path=path, line=reader.line_num)
            links.append(Link(**values, line=reader.line_num))
    return links


def confirmed(record: Iterable[Link]) -> list[Link]:
    return [link for link in record if link.status == "confirmed"]


def write_record(path: Path, record: Iterable[Link]) -> None:
    """Write the record as ``read_record`` reads it (tab-separated, quoted where needed), atomically: a
    temporary file beside it, then one rename, so a failure leaves the previous record whole."""
    rows = [{column: getattr(link, column) for column in COLUMNS} for link in record]
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent, text=True)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=COLUMNS, delimiter="\t", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- Checking ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    severity: str  # "error" or "warning"
    subject: str
    message: str

    def render(self) -> str:
        return f"{self.severity}: {self.subject}: {self.message}"


def render_report(problems: list[Problem], checked: int) -> str:
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    lines = [p.render() for p in problems]
    verdict = "OK" if errors == 0 else "FAILED"
    lines.append(f"{verdict}: {checked} link(s) checked, {errors} error(s), {warnings} warning(s).")
    return "\n".join(lines)


def labels_agree(recorded: str, ours: Iterable[str]) -> bool:
    """True when one of our labels is the recorded label, or one holds the other ("Hayabusa-2" and
    "Hayabusa2 mission"); short labels (under five letters) must match exactly."""
    wanted = normalise(recorded)
    for label in ours:
        have = normalise(label)
        if have == wanted or (min(len(have), len(wanted)) >= 5 and (have in wanted or wanted in have)):
            return bool(wanted)
    return False


def check_offline(record: list[Link], store: ox.Store) -> list[Problem]:
    """Check every confirmed link against our graph: the entity exists, our labels agree with the
    recorded Wikidata label, the recorded class fits our type, and no two entities share an item."""
    problems: list[Problem] = []
    label_predicates = ("http://www.w3.org/2000/01/rdf-schema#label", "http://www.w3.org/2004/02/skos/core#altLabel")
    by_item: dict[str, list[Link]] = defaultdict(list)
    for link in confirmed(record):
        by_item[link.qid].append(link)
        subject = ox.NamedNode(link.iri)
        types = {
            q.object.value
            for q in store.quads_for_pattern(subject, ox.NamedNode(RDF_TYPE), None)
            if isinstance(q.object, ox.NamedNode)
        }
        if not types:
            problems.append(Problem("error", link.name, "not in our graph (no resource with a type has this IRI)"))
            continue
        ours = [
            q.object.value
            for p in label_predicates
            for q in store.quads_for_pattern(subject, ox.NamedNode(p), None)
            if isinstance(q.object, ox.Literal)
        ]
        if not link.label_en:
            problems.append(Problem("warning", link.name, "no English label recorded for the item; cannot compare"))
        elif not labels_agree(link.label_en, ours):
            problems.append(
                Problem("error", link.name, f"our labels {sorted(set(ours))} do not match the item's {link.label_en!r}")
            )
        problems.extend(class_problems(link, types))
    for qid, links in sorted(by_item.items()):
        if len(links) > 1:
            names = ", ".join(f"id:{link.entity}" for link in links)
            problems.append(Problem("error", qid, f"linked from more than one of our entities: {names}"))
    return problems


RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def class_problems(link: Link, types: set[str]) -> list[Problem]:
    if not link.instance_of_qid:
        return [Problem("warning", link.name, "no class (instance of) recorded for the item; cannot compare")]
    recorded = f"{link.instance_of_qid} ({link.instance_of_label or 'no label recorded'})"
    if re.search(r"disambiguation|wikimedia|list of|category", link.instance_of_label, re.IGNORECASE):
        return [Problem("error", link.name, f"the item is a {recorded}, not a thing in the world")]
    is_person = SCHEMA_PERSON in types
    if is_person and link.instance_of_qid != HUMAN:
        return [Problem("error", link.name, f"a person linked to an item of class {recorded}, not Q5 (human)")]
    if not is_person and link.instance_of_qid == HUMAN:
        kinds = ", ".join(sorted(compact(t) for t in types))
        return [Problem("error", link.name, f"a {kinds} linked to a human (Q5)")]
    return []


@dataclass(frozen=True)
class ItemState:
    labels: frozenset[str]
    descriptions: frozenset[str]
    classes: frozenset[str]
    redirects: frozenset[str]


STATE_QUERY = """PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX schema: <http://schema.org/>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX wdt: <http://www.wikidata.org/prop/direct/>
SELECT ?item ?label ?description ?class ?redirect WHERE {
  VALUES ?item { %s }
  OPTIONAL { ?item rdfs:label ?label . FILTER (LANG(?label) = "en") }
  OPTIONAL { ?item schema:description ?description . FILTER (LANG(?description) = "en") }
  OPTIONAL { ?item wdt:P31 ?class }
  OPTIONAL { ?item owl:sameAs ?redirect }
}"""


def fetch_states(items: list[str], endpoint: str, timeout: float) -> dict[str, ItemState]:
    """Ask a SPARQL endpoint (Wikidata's, or a stand-in of the same shape) what it knows of each item."""
    import httpx  # here: loading the graph, which reads the record, needs no HTTP client

    query = STATE_QUERY % " ".join(f"<{item}>" for item in items)
    try:
        response = httpx.post(
            endpoint,
            data={"query": query},
            headers={"Accept": "application/sparql-results+json", "User-Agent": USER_AGENT},
            timeout=timeout,
        )
    except httpx.TimeoutException:
        raise SpacegraphError(f"the endpoint {endpoint} did not answer within {timeout:g} s") from None
    except httpx.HTTPError as error:
        raise SpacegraphError(f"cannot reach the endpoint {endpoint}: {error}") from None
    if response.status_code != 200:
        raise SpacegraphError(f"the endpoint {endpoint} answered {response.status_code}: {response.text[:200].strip()}")
    try:
        bindings = response.json()["results"]["bindings"]
    except (ValueError, KeyError, TypeError):
        raise SpacegraphError(f"the endpoint {endpoint} did not answer with SPARQL JSON results") from None
    found: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for binding in bindings:
        item = binding["item"]["value"]
        for key in ("label", "description", "class", "redirect"):
            if key in binding:
                found[item][key].add(binding[key]["value"])
    return {
        item: ItemState(
            frozenset(values["label"]),
            frozenset(values["description"]),
            frozenset(values["class"]),
            frozenset(values["redirect"]),
        )
        for item, values in found.items()
        if any(values.values())
    }


def check_online(record: list[Link], endpoint: str = WIKIDATA_SPARQL, timeout: float = 30.0) -> list[Problem]:
    """Report drift between the record and the items as the endpoint has them now: renamed,
    merged or redirected, deleted, class changed."""
    links = confirmed(record)
    states = fetch_states(sorted({link.item for link in links}), endpoint, timeout)
    problems: list[Problem] = []
    for link in links:
        state = states.get(link.item)
        if state is None:
            problems.append(Problem("error", link.name, "deleted: the endpoint knows nothing of this item"))
            continue
        if state.redirects:
            targets = ", ".join(sorted(r.removeprefix(WD) for r in state.redirects))
            problems.append(Problem("error", link.name, f"merged or redirected to {targets}"))
            continue
        if link.label_en and not any(normalise(label) == normalise(link.label_en) for label in state.labels):
            now = ", ".join(repr(label) for label in sorted(state.labels)) or "no English label"
            problems.append(Problem("error", link.name, f"renamed: recorded {link.label_en!r}, now {now}"))
        if link.instance_of_qid and WD + link.instance_of_qid not in state.classes:
            now = ", ".join(sorted(c.removeprefix(WD) for c in state.classes)) or "no class"
            problems.append(Problem("error", link.name, f"class changed: recorded {link.instance_of_qid}, now {now}"))
        if link.description_en and state.descriptions and link.description_en not in state.descriptions:
            now = ", ".join(repr(d) for d in sorted(state.descriptions))
            problems.append(
                Problem("warning", link.name, f"description changed: recorded {link.description_en!r}, now {now}")
            )
    return problems


# --- QuickStatements ------------------------------------------------------------------------------

MAPPINGS = rebase_text(
    """PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?term ?property WHERE {
  GRAPH <https://w3id.org/spacegraph/graph/ontology> { ?term skos:exactMatch|skos:closeMatch ?property }
  FILTER (STRSTARTS(STR(?property), "http://www.wikidata.org/prop/direct/P"))
}"""
)

EVIDENCE = rebase_text(
    """PREFIX sg: <https://w3id.org/spacegraph/def/>
PREFIX oa: <http://www.w3.org/ns/oa#>
SELECT ?subject ?exact ?start WHERE {
  GRAPH <https://w3id.org/spacegraph/graph/data> {
    ?subject sg:evidence/oa:hasSelector ?t , ?p .
    ?t oa:exact ?exact . ?p oa:start ?start .
  }
} ORDER BY ?start"""
)

RELEASE_URL = rebase_text(
    """PREFIX schema: <https://schema.org/>
SELECT ?url WHERE { <https://w3id.org/spacegraph/id/press-release> schema:url ?url }"""
)

LABEL = """PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?thing ?label WHERE { ?thing rdfs:label|skos:altLabel ?label }"""


@dataclass(frozen=True)
class Statement:
    subject: str  # our IRI
    pid: str  # the Wikidata property, e.g. "P1444"
    object: str  # our IRI
    quote: str
    subject_qid: str | None
    object_qid: str | None

    @property
    def ready(self) -> bool:
        return self.subject_qid is not None and self.object_qid is not None


def wikidata_statements(store: ox.Store, record: list[Link]) -> list[Statement]:
    """What the press release states (the data graph) between our resources, through the properties
    the ontology maps to Wikidata, each with the quote it rests on."""
    qids = {link.iri: link.qid for link in confirmed(record)}
    mapped: dict[str, list[str]] = defaultdict(list)
    for row in solutions(store.query(MAPPINGS)):
        mapped[row["term"].value].append(row["property"].value.removeprefix(WDT))
    data = DATA_GRAPH
    statements = []
    for term, properties in sorted(mapped.items()):
        for quad in store.quads_for_pattern(None, ox.NamedNode(term), None, data):
            subject, obj = quad.subject, quad.object
            if not (isinstance(subject, ox.NamedNode) and isinstance(obj, ox.NamedNode)):
                continue
            if not (subject.value.startswith(ID) and obj.value.startswith(ID)):
                continue
            quote = supporting_quote(store, subject, obj)
            for prop in properties:
                statements.append(
                    Statement(subject.value, prop, obj.value, quote, qids.get(subject.value), qids.get(obj.value))
                )
    return sorted(set(statements), key=lambda s: (s.subject, s.pid, s.object))


def solutions(results: object) -> list[ox.QuerySolution]:
    assert isinstance(results, ox.QuerySolutions)
    return list(results)


def supporting_quote(store: ox.Store, subject: ox.NamedNode, obj: ox.NamedNode) -> str:
    """The subject's evidence quote that names the object, else its first quote; whitespace folded."""
    quotes = [
        row["exact"].value for row in solutions(store.query(EVIDENCE, substitutions={ox.Variable("subject"): subject}))
    ]
    by_object: dict[ox.Variable, ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple] = {ox.Variable("thing"): obj}
    names = [
        row["label"].value
        for row in solutions(store.query(LABEL, substitutions=by_object, use_default_graph_as_union=True))
    ]
    naming = [q for q in quotes if any(n.casefold() in q.casefold() for n in names)]
    chosen = (naming or quotes or [""])[0]
    return re.sub(r"\s+", " ", chosen).strip()


def release_url(store: ox.Store) -> str:
    rows = solutions(store.query(RELEASE_URL, use_default_graph_as_union=True))
    if not rows:
        raise SpacegraphError("the graph does not say where the press release is published (schema:url)")
    return str(rows[0]["url"].value)


def quickstatements(statements: list[Statement], reference_url: str, retrieved: date) -> list[str]:
    """QuickStatements V1 commands, tab-separated, one per statement, each with its reference:
    S854 reference URL, S1683 quotation (monolingual, English), S813 retrieved (day precision)."""
    lines = []
    for s in statements:
        if not s.ready:
            continue
        quote = s.quote.replace('"', "'")
        lines.append(
            "\t".join(
                [
                    str(s.subject_qid),
                    s.pid,
                    str(s.object_qid),
                    "S854",
                    json.dumps(reference_url),
                    "S1683",
                    f'en:"{quote}"',
                    "S813",
                    f"+{retrieved.isoformat()}T00:00:00Z/11",
                ]
            )
        )
    return lines


def pending(statements: list[Statement]) -> list[str]:
    """The statements that need a Wikidata item created first, as TSV for a person to work through."""
    rows = ["subject\tsubject_item\tproperty\tobject\tobject_item\tquote"]
    for s in statements:
        if s.ready:
            continue
        rows.append(
            "\t".join(
                [
                    compact(s.subject),
                    s.subject_qid or "(none)",
                    s.pid,
                    compact(s.object),
                    s.object_qid or "(none)",
                    s.quote,
                ]
            )
        )
    return rows
