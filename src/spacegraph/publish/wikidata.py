"""A polite client of Wikidata: its Action API (``wbsearchentities``, ``wbgetentities``) and its SPARQL query
service, as ``links suggest``, ``links accept`` and ``links refresh`` use them.

Politeness, as the API's etiquette asks (mediawiki.org, API:Etiquette and Manual:Maxlag parameter; the
User-Agent policy of the Wikimedia Foundation): requests go one at a time, at least ``delay`` seconds
apart; every Action API request carries ``maxlag=5``; a User-Agent names the tool, its version and a
contact; an answer of 429 or 503 (or 502, 504, a dropped connection, a maxlag error) is retried after the
server's ``Retry-After`` when it gives one, else after an exponential back-off, and given up after
``retries`` tries with one line saying why.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from spacegraph import __version__
from spacegraph.errors import SpacegraphError
from spacegraph.publish.links import CONTACT, WIKIDATA_API, WIKIDATA_SPARQL

LANGUAGES = ("en", "fr", "ja")
BATCH = 50  # ids per wbgetentities request: the API's limit for clients without the apihighlimits right
RETRIED = frozenset({429, 502, 503, 504})
# Items that are pages of the wiki, not things in the world (a find_string of Q4167410 shows them listed
# together in public code, code-index id 71117317693): disambiguation page, human name disambiguation
# page, category, list, template.
NOT_A_THING = {
    "Q4167410": "Wikimedia disambiguation page",
    "Q22808320": "Wikimedia human name disambiguation page",
    "Q4167836": "Wikimedia category",
    "Q13406463": "Wikimedia list article",
    "Q11266439": "Wikimedia template",
}


def user_agent(contact: str) -> str:
    """``client/version (contact) library/version``, the form the Wikimedia User-Agent policy asks for."""
    return f"spacegraph/{__version__} ({contact}; Wikidata links of a linked-data publisher) httpx/{httpx.__version__}"


@dataclass(frozen=True)
class Politeness:
    delay: float = 0.5  # seconds between the starts of two requests
    retries: int = 5  # tries after the first, on 429, 5xx, maxlag and dropped connections
    maxlag: int = 5  # seconds of database lag past which the API answers "maxlag" (its etiquette: 5)
    timeout: float = 30.0  # seconds to wait for one answer
    longest_wait: float = 120.0  # a Retry-After longer than this is not waited for: the run stops

    def backoff(self, attempt: int) -> float:
        """1, 2, 4, 8… seconds (at least ``delay``), capped at ``longest_wait``."""
        return float(min(self.longest_wait, max(1.0, self.delay) * 2**attempt))


@dataclass(frozen=True)
class Statement:
    value: str  # an item's Q-id, a time ("+2016-11-07T00:00:00Z"), a string, a text or an amount
    kind: str  # "item", "time", "string" or "other"
    rank: str  # "preferred", "normal" or "deprecated"

    @property
    def year(self) -> str | None:
        return self.value[1:5] if self.kind == "time" and len(self.value) > 5 else None


@dataclass(frozen=True)
class Item:
    """An item as ``wbgetentities`` gives it. ``asked`` is the id that was asked for; ``qid`` the item's id
    now, which differs when ``asked`` was merged into (redirects to) another item."""

    asked: str
    qid: str
    labels: dict[str, str] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    claims: dict[str, tuple[Statement, ...]] = field(default_factory=dict)
    missing: bool = False

    @property
    def redirected(self) -> bool:
        return not self.missing and self.asked != self.qid

    def values(self, *properties: str) -> list[str]:
        """The values of these properties' statements, best rank first, deprecated ones left out."""
        found = [s for p in properties for s in self.claims.get(p, ()) if s.rank != "deprecated"]
        found.sort(key=lambda s: s.rank != "preferred")
        return list(dict.fromkeys(s.value for s in found))

    def years(self, *properties: str) -> list[str]:
        found = [s.year for p in properties for s in self.claims.get(p, ()) if s.rank != "deprecated"]
        return list(dict.fromkeys(y for y in found if y))

    def names(self) -> Iterator[tuple[str, str, str]]:
        """(language, kind, text) of every label and alias."""
        for language, label in self.labels.items():
            yield language, "label", label
        for language, texts in self.aliases.items():
            for text in texts:
                yield language, "alias", text

    def label(self, language: str = "en") -> str:
        return self.labels.get(language) or next(iter(self.labels.values()), "")

    def classes(self) -> list[str]:
        return self.values("P31")

    def not_a_thing(self) -> str | None:
        """What wiki page this item is, when it is a page rather than a thing (disambiguation, list…)."""
        for qid in self.classes():
            if qid in NOT_A_THING:
                return f"{NOT_A_THING[qid]} ({qid})"
        return None


@dataclass(frozen=True)
class SearchHit:
    qid: str
    label: str
    description: str
    match: str  # how the search matched: "label (en): JAXA", "alias (en): JAXA"


def parse_item(asked: str, entity: dict[str, Any]) -> Item:
    """One entity of a ``wbgetentities`` answer (JSON format 1, the API's default)."""
    if "missing" in entity:
        return Item(asked, asked, missing=True)
    labels = {lang: value["value"] for lang, value in (entity.get("labels") or {}).items()}
    descriptions = {lang: value["value"] for lang, value in (entity.get("descriptions") or {}).items()}
    aliases = {lang: tuple(a["value"] for a in values) for lang, values in (entity.get("aliases") or {}).items()}
    claims: dict[str, tuple[Statement, ...]] = {}
    raw_claims = entity.get("claims") or {}
    for prop, statements in raw_claims.items() if isinstance(raw_claims, dict) else ():
        parsed = [statement for raw in statements if (statement := parse_statement(raw)) is not None]
        if parsed:
            claims[prop] = tuple(parsed)
    return Item(asked, str(entity.get("id", asked)), labels, descriptions, aliases, claims)


def parse_statement(raw: dict[str, Any]) -> Statement | None:
    snak = raw.get("mainsnak") or {}
    if snak.get("snaktype", "value") != "value" or "datavalue" not in snak:
        return None  # "no value" and "unknown value" say nothing to compare
    datavalue = snak["datavalue"]
    value, kind = datavalue.get("value"), datavalue.get("type")
    rank = str(raw.get("rank", "normal"))
    if kind == "wikibase-entityid" and isinstance(value, dict) and "id" in value:
        return Statement(str(value["id"]), "item", rank)
    if kind == "time" and isinstance(value, dict):
        return Statement(str(value.get("time", "")), "time", rank)
    if kind == "string":
        return Statement(str(value), "string", rank)
    if kind == "monolingualtext" and isinstance(value, dict):
        return Statement(str(value.get("text", "")), "other", rank)
    if kind == "quantity" and isinstance(value, dict):
        return Statement(str(value.get("amount", "")), "other", rank)
    return None


def retry_after(header: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Wikidata:
    """The API and the query service, asked one request at a time. ``notify`` hears about each wait."""

    def __init__(
        self,
        api: str = WIKIDATA_API,
        endpoint: str = WIKIDATA_SPARQL,
        politeness: Politeness | None = None,
        contact: str = CONTACT,
        notify: Callable[[str], None] = lambda message: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_url = api
        self.endpoint = endpoint
        self.politeness = politeness or Politeness()
        self.notify = notify
        self.sleep = sleep
        self.last_start: float | None = None
        self.requests = 0
        self.client = httpx.Client(
            headers={"User-Agent": user_agent(contact), "Accept-Encoding": "gzip"},
            timeout=self.politeness.timeout,
            follow_redirects=True,
            trust_env=False,
        )

    def __enter__(self) -> Wikidata:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    # --- the one way a request is sent

    def pace(self) -> None:
        if self.last_start is not None:
            wait = self.politeness.delay - (time.monotonic() - self.last_start)
            if wait > 0:
                self.sleep(wait)
        self.last_start = time.monotonic()

    def send(self, method: str, url: str, **options: Any) -> httpx.Response:
        """One answer with status 200 (and, from the Action API, no maxlag error), after the retries."""
        tries = self.politeness.retries + 1
        for attempt in range(tries):
            self.pace()
            self.requests += 1
            wait: float | None = None
            try:
                response = self.client.request(method, url, **options)
            except httpx.TimeoutException:
                reason = f"no answer within {self.politeness.timeout:g} s"
            except httpx.HTTPError as error:
                reason = f"cannot reach it: {error}"
            else:
                if response.status_code == 200 and not lagged(response):
                    return response
                if response.status_code == 200:
                    reason = "maxlag: " + str(response.json()["error"].get("info", "the database is lagged"))
                    wait = retry_after(response.headers.get("retry-after")) or float(self.politeness.maxlag)
                elif response.status_code in RETRIED:
                    reason = f"answered {response.status_code}"
                    wait = retry_after(response.headers.get("retry-after"))
                else:
                    text = " ".join(response.text.split())[:200]
                    raise SpacegraphError(f"{url} answered {response.status_code}: {text}")
            if attempt == tries - 1:
                break
            if wait is not None and wait > self.politeness.longest_wait:
                raise SpacegraphError(f"{url} {reason} and asks to wait {wait:g} s; try again later")
            wait = wait if wait is not None else self.politeness.backoff(attempt)
            self.notify(f"{url} {reason}: waiting {wait:g} s (try {attempt + 2} of {tries})")
            self.sleep(wait)
        raise SpacegraphError(f"{url} {reason}, {tries} tries; giving up")

    def action(self, **params: str | int) -> dict[str, Any]:
        """A GET of the Action API, in JSON, with maxlag; an API error is one line."""
        query = {**params, "format": "json", "maxlag": self.politeness.maxlag}
        response = self.send("GET", self.api_url, params=query)
        try:
            answer = response.json()
        except ValueError:
            raise SpacegraphError(f"{self.api_url} did not answer in JSON") from None
        if not isinstance(answer, dict):
            raise SpacegraphError(f"{self.api_url} did not answer with a JSON object")
        if "error" in answer:
            error = answer["error"]
            raise SpacegraphError(f"{self.api_url}: {error.get('code', 'error')}: {error.get('info', '')}".rstrip())
        return answer

    # --- what the commands ask

    def search(self, text: str, language: str, limit: int = 7) -> list[SearchHit]:
        """Items whose label or alias in ``language`` starts with ``text`` (``wbsearchentities``)."""
        answer = self.action(
            action="wbsearchentities", search=text, language=language, uselang=language, type="item", limit=limit
        )
        hits = []
        for hit in answer.get("search") or []:
            match = hit.get("match") or {}
            hits.append(
                SearchHit(
                    str(hit["id"]),
                    str(hit.get("label", "")),
                    str(hit.get("description", "")),
                    f"{match.get('type', '?')} ({match.get('language', language)}): {match.get('text', '')}",
                )
            )
        return hits

    def items(self, ids: Iterable[str], languages: Iterable[str] = LANGUAGES) -> dict[str, Item]:
        """The items, keyed by the id asked for (``wbgetentities``, 50 ids a request)."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, Item] = {}
        for start in range(0, len(wanted), BATCH):
            batch = wanted[start : start + BATCH]
            answer = self.action(
                action="wbgetentities",
                ids="|".join(batch),
                props="labels|descriptions|aliases|claims",
                languages="|".join(languages),
            )
            entities = answer.get("entities") or {}
            for asked in batch:
                entity = entities.get(asked)
                found[asked] = (
                    parse_item(asked, entity) if isinstance(entity, dict) else Item(asked, asked, missing=True)
                )
        return found

    def select(self, query: str) -> list[dict[str, str]]:
        """A SELECT on the query service (POST, SPARQL JSON results): each row's values as text."""
        response = self.send(
            "POST", self.endpoint, data={"query": query}, headers={"Accept": "application/sparql-results+json"}
        )
        try:
            bindings = response.json()["results"]["bindings"]
        except (ValueError, KeyError, TypeError):
            raise SpacegraphError(f"{self.endpoint} did not answer with SPARQL JSON results") from None
        return [{name: str(value["value"]) for name, value in row.items()} for row in bindings]

    def instances(self, items: Iterable[str], classes: Iterable[str]) -> set[tuple[str, str]]:
        """(item, class) pairs where the item is an instance of the class or of a subclass of it
        (``wdt:P31/wdt:P279*``), asked of the query service in one query."""
        item_list, class_list = sorted(set(items)), sorted(set(classes))
        if not item_list or not class_list:
            return set()
        query = (
            "PREFIX wd: <http://www.wikidata.org/entity/>\nPREFIX wdt: <http://www.wikidata.org/prop/direct/>\n"
            "SELECT DISTINCT ?item ?class WHERE {\n"
            f"  VALUES ?item {{ {' '.join('wd:' + q for q in item_list)} }}\n"
            f"  VALUES ?class {{ {' '.join('wd:' + q for q in class_list)} }}\n"
            "  ?item wdt:P31/wdt:P279* ?class .\n}"
        )
        prefix = "http://www.wikidata.org/entity/"
        return {(row["item"].removeprefix(prefix), row["class"].removeprefix(prefix)) for row in self.select(query)}


def lagged(response: httpx.Response) -> bool:
    """A maxlag error comes with status 200 (Manual:Maxlag parameter, T33156) and a JSON error body."""
    if "json" not in response.headers.get("content-type", ""):
        return False
    try:
        answer = response.json()
    except ValueError:
        return False
    return (
        isinstance(answer, dict) and isinstance(answer.get("error"), dict) and answer["error"].get("code") == "maxlag"
    )
