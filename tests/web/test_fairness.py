"""Fair evaluation under load, over real HTTP: a real uvicorn on 127.0.0.1, and clients each on its own
loopback source address (127.0.0.2, 127.0.0.3, …, as distinct machines would be; no proxy header). Every
run is bounded in time and count. Each test fails when its part of the policy (``engine/scheduler.py``)
is taken away: without turns and a share per client, the runaway client holds every worker and the other
waits for the time limit; with a limit of requests in flight, a client's parallel connections get 429;
without single-flight, 16 identical queries are 16 evaluations; without the budget, the heavy client
keeps running; without bounded queues, nothing is ever refused."""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from spacegraph.config import Config
from spacegraph.web.app import create_app
from tests.support import running
from tests.web.test_operations import sample

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE {{ ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }} # {}"  # 2,799³ solutions
POINT = "PREFIX id: <https://w3id.org/spacegraph/id/> SELECT ?p ?o WHERE {{ id:jaxa ?p ?o }} # {}"
SLOW = "SELECT (COUNT(*) AS ?n) WHERE {{ {{ ?a a ?c . ?d ?e ?f }} UNION {{ ?a a ?c . ?d ?e ?f }} }} # {}"  # ~0.3 s
TIMEOUT = 1.5
RESULTS = {"Accept": "application/sparql-results+json"}
texts = itertools.count()  # every text new: no answer cache, replay or single-flight can answer it


def client(address: str, timeout: float = 30.0) -> httpx.Client:
    """A client whose connections leave from ``address``, as another machine's would."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=timeout, headers=RESULTS)


def metrics(base: str) -> str:
    return httpx.get(f"{base}/metrics").text


@pytest.fixture(scope="module")
def server(nquads: Path) -> Iterator[str]:
    """The default policy, with a short time limit (and idle workers retired after 1 s) to keep runs short."""
    with running(create_app(Config(data=(nquads,), timeout=TIMEOUT, worker_idle=1.0))) as base:
        yield base


@pytest.fixture(scope="module")
def patient(nquads: Path) -> Iterator[str]:
    """The default policy with idle workers retired after 1 s, for queries that must not time out."""
    with running(create_app(Config(data=(nquads,), worker_idle=1.0))) as base:
        yield base


@pytest.fixture(scope="module")
def tight(nquads: Path) -> Iterator[str]:
    """A small budget: 1 s of evaluation a minute, and a time limit of 0.5 s."""
    with running(create_app(Config(data=(nquads,), timeout=0.5, client_budget=1.0))) as base:
        yield base


QUEUED_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def queued(nquads: Path) -> Iterator[str]:
    """Small queues: one running evaluation and two waiting per client."""
    config = Config(data=(nquads,), timeout=QUEUED_TIMEOUT, client_queries=1, client_queue=2)
    with running(create_app(config)) as base:
        yield base


def test_a_client_keeping_runaway_queries_in_flight_does_not_stall_another(server: str) -> None:
    """127.0.0.2 keeps 8 runaway queries in flight; 127.0.0.3's point lookups, one after the other, are
    answered at once, and every runaway query is stopped at the time limit."""
    stop = threading.Event()
    runaway: list[tuple[int, float]] = []

    def keep_sending() -> None:
        with client("127.0.0.2") as heavy:
            while not stop.is_set():
                begin = time.monotonic()
                status = heavy.get(f"{server}/sparql", params={"query": RUNAWAY.format(next(texts))}).status_code
                runaway.append((status, time.monotonic() - begin))

    senders = [threading.Thread(target=keep_sending) for _ in range(8)]
    for sender in senders:
        sender.start()
    latencies, statuses = [], Counter[int]()
    try:
        time.sleep(0.3)  # the runaway queries take their workers first
        with client("127.0.0.3") as light:
            end = time.monotonic() + 2 * TIMEOUT + 0.5  # past two rounds of runaway queries
            while time.monotonic() < end:
                begin = time.monotonic()
                statuses[light.get(f"{server}/sparql", params={"query": POINT.format(next(texts))}).status_code] += 1
                latencies.append(time.monotonic() - begin)
        during = metrics(server)
    finally:
        stop.set()
        for sender in senders:
            sender.join(30)  # the queued ones run their turn: at most 4 rounds of TIMEOUT
    latencies.sort()
    p50, p95 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95)]
    print(f"\nbeside 8 runaway queries: {len(latencies)} lookups, p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms")
    assert statuses == {200: len(latencies)} and len(latencies) >= 50
    assert p95 < 0.25  # without fair turns, a lookup waits for a runaway's time limit (1.5 s)
    assert runaway and {status for status, _ in runaway} == {504}
    assert all(seconds >= TIMEOUT for _, seconds in runaway)
    assert (sample(during, "spacegraph_query_workers_started_total") or 0) >= 3  # one started on demand
    assert (sample(during, "spacegraph_query_wait_seconds_count") or 0) > 0
    assert workers_settle(server) == 2  # the killed ones replaced, up to the pool's size


def test_a_client_posting_reconciliation_batches_does_not_stall_another(patient: str) -> None:
    """127.0.0.2 keeps 4 batches of 50 reconciliation queries in flight (a few milliseconds of scoring
    each, in this process); 127.0.0.3's point lookups, one after the other, are still answered. Scored on
    the event loop, outside the scheduler, each batch held the whole server: the lookups' median was
    560 ms, 20 ms since."""
    stop = threading.Event()
    batches: Counter[int] = Counter()

    def keep_posting() -> None:
        with client("127.0.0.2") as heavy:
            while not stop.is_set():
                queries = {f"q{i}": {"query": f"space agency {next(texts)} of Japan"} for i in range(50)}
                batches[heavy.post(f"{patient}/reconcile", data={"queries": json.dumps(queries)}).status_code] += 1

    senders = [threading.Thread(target=keep_posting) for _ in range(4)]
    for sender in senders:
        sender.start()
    latencies, statuses = [], Counter[int]()
    try:
        time.sleep(0.3)
        with client("127.0.0.3") as light:
            end = time.monotonic() + 3
            while time.monotonic() < end:
                begin = time.monotonic()
                statuses[light.get(f"{patient}/sparql", params={"query": POINT.format(next(texts))}).status_code] += 1
                latencies.append(time.monotonic() - begin)
    finally:
        stop.set()
        for sender in senders:
            sender.join(30)
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    print(f"\nbeside reconciliation batches: {len(latencies)} lookups, p50 {p50 * 1000:.1f} ms; batches {batches}")
    assert statuses == {200: len(latencies)} and batches.keys() == {200} and batches[200] >= 4
    assert p50 < 0.15 and len(latencies) >= 20


def workers_settle(base: str, seconds: float = 10.0) -> float:
    """The number of workers once it has stayed the same for half a second (bounded)."""
    deadline = time.monotonic() + seconds
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = sample(metrics(base), "spacegraph_query_workers")
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= 0.5:
            break
        time.sleep(0.05)
    return last or 0.0


def test_workers_started_on_demand_are_retired_when_idle(patient: str) -> None:
    """Two clients each running two slow queries at once need four workers: two are started on demand,
    and stopped once idle for worker_idle (1 s here). Each query takes ~0.45 s alone (SLOW twice over):
    the four must overlap even when a loaded machine starts the threads and connections some time apart."""
    before = metrics(patient)
    slower = SLOW.replace("}} }}", "}} UNION {{ ?a a ?c . ?d ?e ?f }} UNION {{ ?a a ?c . ?d ?e ?f }} }}")

    def ask(address: str) -> int:
        with client(address) as one:
            return one.get(f"{patient}/sparql", params={"query": slower.format(next(texts))}).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(ask, ["127.0.0.9", "127.0.0.9", "127.0.0.10", "127.0.0.10"]))
    during = metrics(patient)
    assert statuses == [200] * 4
    started = (sample(during, "spacegraph_query_workers_started_total") or 0) - (
        sample(before, "spacegraph_query_workers_started_total") or 0
    )
    assert started == 2 and sample(during, "spacegraph_query_workers") == 4
    time.sleep(1.0)
    assert workers_settle(patient) == 2
    retired = (sample(metrics(patient), "spacegraph_query_workers_retired_total") or 0) - (
        sample(before, "spacegraph_query_workers_retired_total") or 0
    )
    assert retired == 2


def test_eight_connections_of_one_client_are_never_refused(server: str) -> None:
    """One address, 8 connections of cheap queries, each text new: a burst waits its turn, no 429."""
    end = time.monotonic() + 3.0
    statuses = Counter[int]()

    def send() -> None:
        with client("127.0.0.4") as one:
            while time.monotonic() < end:
                statuses[one.get(f"{server}/sparql", params={"query": POINT.format(next(texts))}).status_code] += 1

    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(send) for _ in range(8)]:
            future.result()
    print(f"\n8 connections from one address: {dict(statuses)}")
    assert set(statuses) == {200} and statuses[200] >= 50


def test_identical_queries_in_flight_are_evaluated_once(patient: str) -> None:
    before = metrics(patient)
    text = SLOW.format(next(texts))
    ready = threading.Barrier(16)

    def ask(_: int) -> int:
        with client("127.0.0.5") as one:
            ready.wait(10)
            return one.get(f"{patient}/sparql", params={"query": text}).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(ask, range(16)))
    after = metrics(patient)
    evaluations = (sample(after, "spacegraph_evaluations_total") or 0) - (
        sample(before, "spacegraph_evaluations_total") or 0
    )
    shared = (sample(after, "spacegraph_evaluations_shared_total") or 0) - (
        sample(before, "spacegraph_evaluations_shared_total") or 0
    )
    assert statuses == [200] * 16
    assert evaluations == 1  # the others waited for its answer (or, arriving after it, found it cached)
    assert shared >= 1


def test_a_client_past_its_budget_gets_429_and_the_others_do_not(tight: str, caplog: pytest.LogCaptureFixture) -> None:
    """Budget 1 s of evaluation a minute: two runaway queries (0.5 s each) use it; then 429 with
    Retry-After, on every route that evaluates (a page too), while another address is served."""
    with caplog.at_level(logging.INFO, logger="spacegraph.access"), client("127.0.0.6") as heavy:
        statuses = []
        for _ in range(6):  # bounded: the budget is used after two
            response = heavy.get(f"{tight}/sparql", params={"query": RUNAWAY.format(next(texts))})
            statuses.append(response.status_code)
            if response.status_code == 429:
                break
        assert statuses[0] == 504 and statuses[-1] == 429, statuses
        retry = int(response.headers["retry-after"])
        assert 1 <= retry <= 60 and f"try again in {retry} s" in response.text
        page = heavy.get(f"{tight}/id/hayabusa2.ttl")  # a description not asked for before: an evaluation
        assert page.status_code == 429 and "retry-after" in page.headers
        with client("127.0.0.7") as other:
            assert other.get(f"{tight}/sparql", params={"query": POINT.format(next(texts))}).status_code == 200
            assert other.get(f"{tight}/id/hayabusa2.ttl").status_code == 200
    refused = [
        json.loads(record.getMessage())
        for record in caplog.records
        if record.name == "spacegraph.access" and '"status": 429' in record.getMessage()
    ]
    assert refused and all(line["rejected"] == "budget" and line["client"] == "127.0.0.6" for line in refused)
    assert (sample(metrics(tight), "spacegraph_throttled_requests_total", reason="budget") or 0) >= 2


def test_full_queues_get_503_with_retry_after_and_the_waits_are_logged(
    queued: str, caplog: pytest.LogCaptureFixture
) -> None:
    """One evaluation running and two waiting per client: of six runaway queries sent at once, three are
    refused at once; the others wait their turn (the access log records how long) and reach the limit.
    (The limit, 2 s, leaves time for all six to arrive while the first runs.)"""
    with caplog.at_level(logging.INFO, logger="spacegraph.access"):

        def ask(_: int) -> tuple[int, float, str | None]:
            with client("127.0.0.8") as one:
                begin = time.monotonic()
                response = one.get(f"{queued}/sparql", params={"query": RUNAWAY.format(next(texts))})
                return response.status_code, time.monotonic() - begin, response.headers.get("retry-after")

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(ask, range(6)))
    assert sorted(status for status, _, _ in answers) == [503, 503, 503, 504, 504, 504], answers
    for status, seconds, retry in answers:
        if status == 503:
            assert seconds < QUEUED_TIMEOUT and retry is not None and int(retry) >= 1
    waits = [
        line["wait_ms"]
        for line in (json.loads(r.getMessage()) for r in caplog.records if r.name == "spacegraph.access")
        if line["client"] == "127.0.0.8" and line["status"] == 504
    ]
    assert len(waits) == 3 and max(waits) >= 1800 * QUEUED_TIMEOUT  # the last waited two turns
    assert (sample(metrics(queued), "spacegraph_throttled_requests_total", reason="queue-full") or 0) >= 3
