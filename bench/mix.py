"""The query mix, and the Python client driving it (the fallback when wrk is missing, ``bench/wrk.py``):
one client in turn (latency) and several client processes at once for a fixed time (throughput)."""

from __future__ import annotations

import json
import multiprocessing
import statistics
import time
from dataclasses import dataclass, replace
from multiprocessing.pool import Pool
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PREFIXES = """PREFIX sg: <https://w3id.org/spacegraph/def/>
PREFIX id: <https://w3id.org/spacegraph/id/>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""
RESULTS_JSON = "application/sparql-results+json"
N_TRIPLES = "application/n-triples"


@dataclass(frozen=True)
class Query:
    name: str
    text: str  # SPARQL, or a path for a page
    accept: str
    page: bool = False  # a linked-data page of ours, not a SPARQL query
    fresh: bool = False  # a new text on every request, whatever --unique says
    variants: tuple[str, ...] = ()  # texts sent in turn instead of ``text`` (``with_iris``)


MIX: tuple[Query, ...] = (
    Query("point lookup", PREFIXES + "SELECT ?p ?o WHERE { id:jaxa ?p ?o }", RESULTS_JSON),
    Query("two-hop join", (ROOT / "queries" / "01-who-met-in-tokyo.rq").read_text(encoding="utf-8"), RESULTS_JSON),
    Query(
        "count per class",
        "SELECT ?class (COUNT(?s) AS ?n) WHERE { ?s a ?class } GROUP BY ?class ORDER BY DESC(?n) ?class",
        RESULTS_JSON,
    ),
    Query(
        "regex filter",
        PREFIXES + 'SELECT ?s ?label WHERE { ?s rdfs:label ?label FILTER regex(?label, "tokyo", "i") } LIMIT 1000',
        RESULTS_JSON,
    ),
    Query("construct 100", "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 100", N_TRIPLES),
    Query("ask", PREFIXES + "ASK { id:tokyo-meeting-2016-07-22 sg:participant ?p . ?p org:holds ?post }", RESULTS_JSON),
    Query("page /id/jaxa.html", "/id/jaxa.html", "text/html", page=True),
    Query("point lookup, new text", "SELECT ?p ?o WHERE { <IRI> ?p ?o }", RESULTS_JSON, fresh=True),
)
IRIS = 50  # the new-text point lookups go over this many of the graph's IRIs


def with_iris(query: Query, data: Path) -> Query:
    """A query over ``<IRI>`` made into one variant per IRI of ours in ``data`` (the first ``IRIS``, sorted)."""
    if "<IRI>" not in query.text:
        return query
    prefix = b"<https://w3id.org/spacegraph/id/"
    found: set[bytes] = set()
    with data.open("rb") as lines:
        for line in lines:
            if line.startswith(prefix):
                found.add(line.split(b" ", 1)[0])
    iris = sorted(found)[:IRIS]
    return replace(query, variants=tuple(query.text.replace("<IRI>", iri.decode()) for iri in iris))


def text_of(query: Query, marker: int | None) -> str:
    """The text of a request: the variant ``marker`` picks (if any), with a comment making it unique."""
    text = query.variants[(marker or 0) % len(query.variants)] if query.variants else query.text
    return text if marker is None else f"{text}\n# {marker}"


def url_for(sparql: str, base: str, query: Query) -> str:
    return base + query.text if query.page else sparql


def send(client: httpx.Client, url: str, query: Query, marker: int | None) -> httpx.Response:
    """One request; ``marker`` appends a comment making the text unique (defeats answer caches)."""
    headers = {"Accept": query.accept}
    if query.page:
        return client.get(url, headers=headers)
    return client.get(url, params={"query": text_of(query, marker)}, headers=headers)


def full_url(url: str, query: Query, text: str | None = None) -> str:
    """The URL of ``send``'s GET without a marker, the query last (wrk's script appends markers to it)."""
    return url if query.page else str(httpx.URL(url, params={"query": text_of(query, None) if text is None else text}))


def size_of(response: httpx.Response, query: Query) -> int:
    """Rows, triples, the boolean (1/0) or, for a page, bytes: a check that every server answers alike."""
    if query.page:
        return len(response.content)
    if query.accept == N_TRIPLES:
        return sum(1 for line in response.text.splitlines() if line.strip() and not line.startswith("#"))
    body = json.loads(response.content)
    if "boolean" in body:
        return int(bool(body["boolean"]))
    return len(body["results"]["bindings"])


@dataclass
class Latency:
    """Concurrency 1: answers measured, their median and p95 (ms), errors, and the answer's size."""

    requests: int
    median_ms: float
    p95_ms: float
    errors: int
    size: int


@dataclass(frozen=True)
class Probe:
    size: int  # of the answer (-1 if no warm-up request got 200)
    errors: int
    seconds: float  # the median warm-up request's


def probe(client: httpx.Client, url: str, query: Query, unique: bool) -> Probe:
    """Three unmeasured warm-up requests."""
    size, errors, times = -1, 0, []
    for warm in range(3):
        begin = time.perf_counter()
        try:
            response = send(client, url, query, -1 - warm if unique or query.fresh else None)
        except httpx.HTTPError:
            errors += 1
            continue
        times.append(time.perf_counter() - begin)
        if response.status_code != 200:
            errors += 1
        else:
            size = size_of(response, query)
    return Probe(size, errors, statistics.median(times) if times else 0.0)


def latency(url: str, query: Query, count: int, seconds: float, unique: bool, timeout: float) -> Latency:
    """Concurrency 1 from this process (httpx): up to ``count`` requests in turn, stopping after ``seconds``
    (at least one request), after three unmeasured warm-up requests."""
    samples: list[float] = []
    with httpx.Client(timeout=timeout) as client:
        warm = probe(client, url, query, unique)
        size, errors = warm.size, warm.errors
        deadline = time.monotonic() + seconds
        for number in range(count):
            begin = time.perf_counter()
            try:
                response = send(client, url, query, number if unique or query.fresh else None)
                response.read()
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                samples.append(time.perf_counter() - begin)
            else:
                errors += 1
            if time.monotonic() > deadline:
                break
    ordered = sorted(samples)
    median = statistics.median(ordered) * 1000 if ordered else float("nan")
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000 if ordered else float("nan")
    return Latency(len(samples), median, p95, errors, size)


def _client(job: tuple[int, str, Query, float, float, bool, float]) -> tuple[int, int, float]:
    """One client process's share of a throughput run: requests in turn on its own keep-alive connection
    from ``start_at`` (wall clock, shared) to ``end_at``; returns (answers, errors, its elapsed seconds)."""
    number, url, query, start_at, end_at, unique, timeout = job
    headers = {"X-Forwarded-For": f"10.0.0.{number + 1}"}  # one address per client, as behind a proxy
    answers = errors = 0
    with httpx.Client(timeout=timeout, headers=headers) as client:
        time.sleep(max(0.0, start_at - time.time()))
        begin = time.time()
        marker = (number + 1) * 10_000_000  # apart from the latency run's markers
        while time.time() < end_at:
            marker += 1
            try:
                response = send(client, url, query, marker if unique or query.fresh else None)
                response.read()
                if response.status_code == 200:
                    answers += 1
                else:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
        elapsed = time.time() - begin
    return answers, errors, elapsed


@dataclass
class Throughput:
    answers: int
    errors: int
    seconds: float

    def per_second(self) -> float:
        return self.answers / self.seconds if self.seconds > 0 else 0.0


class Clients:
    """The Python client: this process in turn for latency, and a pool of client processes, reused across
    runs, for throughput; each opens its own httpx client per run."""

    name = "processes"

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.pool: Pool = multiprocessing.get_context("spawn").Pool(concurrency)

    def describe(self, requests: int, latency_seconds: float, throughput_seconds: float) -> str:
        return (
            f"{self.concurrency} client processes (multiprocessing, `--client processes`), each its own httpx "
            f"keep-alive client with its own X-Forwarded-For address, on the same machine as the servers (they "
            f"cap the fastest server: use wrk); c1: one client, at most {requests} requests or {latency_seconds} s "
            f"after 3 warm-up requests; concurrent run: {throughput_seconds} s"
        )

    def latency(self, url: str, query: Query, count: int, seconds: float, unique: bool, timeout: float) -> Latency:
        return latency(url, query, count, seconds, unique, timeout)

    def throughput(self, url: str, query: Query, seconds: float, unique: bool, timeout: float) -> Throughput:
        start_at = time.time() + 0.2  # the jobs reach every client process, which then waits for this moment
        jobs = [(n, url, query, start_at, start_at + seconds, unique, timeout) for n in range(self.concurrency)]
        results = self.pool.map(_client, jobs, chunksize=1)
        return Throughput(
            answers=sum(r[0] for r in results),
            errors=sum(r[1] for r in results),
            seconds=max(r[2] for r in results),
        )

    def close(self) -> None:
        self.pool.close()
        self.pool.join()
