"""Prometheus metrics (``prometheus-client``), one registry per app, served at ``/metrics``.

===================================================== =========================================================
``spacegraph_http_requests_total``                    requests by route, method and status
``spacegraph_http_request_duration_seconds``          latency histogram by route (headers in to last byte out)
``spacegraph_http_requests_in_flight``                requests being answered now
``spacegraph_query_timeouts_total``                   queries stopped at the time limit (answered 504)
``spacegraph_rejected_requests_total``                requests refused, by reason (limits, busy, forbidden…)
``spacegraph_replayed_responses_total``               answers sent again as kept (``replay``), no app run
``spacegraph_replay_bytes``                           bytes the kept answers hold (bodies, headers, keys)
``spacegraph_graph_triples``                          triples in the default graph (the union), once known
``spacegraph_query_workers_replaced_total``           evaluation processes killed and replaced
``spacegraph_query_workers``                          evaluation processes running now; ``_busy``: evaluating
``spacegraph_query_workers_started_total``            evaluation processes started (at start, on demand,
                                                      replacements); ``_retired_total``: stopped when idle
``spacegraph_evaluations_total``                      evaluations started; ``_shared_total``: jobs answered
                                                      by an identical evaluation already in flight;
                                                      ``_at_once_total``: cheap queries evaluated in the server
                                                      process itself (``engine/inline.py``)
``spacegraph_evaluations_running``                    evaluations running now
``spacegraph_query_queue_length``                     evaluations waiting for their turn now
``spacegraph_query_wait_seconds``                     histogram of the time evaluations waited for their turn
``spacegraph_throttled_requests_total``               evaluations refused by the scheduler, by reason:
                                                      ``budget`` (429), ``queue-full`` (503)
``spacegraph_info``                                   version and the served data's fingerprint
===================================================== =========================================================

Routes are the app's route templates (``/sparql``, ``/store``, ``/static``…), ``unmatched`` for any other
path, and methods outside the HTTP standard ones count as ``other``: the labels stay few whatever clients
send. With several server processes, each has its own counters: scrape each (see the README).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Info, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from spacegraph import __version__
from spacegraph.engine.pool import WorkerPool
from spacegraph.engine.scheduler import WAIT_BUCKETS, Scheduler

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"})
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# statuses that are refusals, when no limit recorded a reason of its own
REASONS = {
    403: "forbidden",
    408: "body-too-slow",
    413: "body-too-large",
    414: "uri-too-long",
    429: "budget",
    431: "headers-too-large",
    503: "busy",
}


class BackendCollector(Collector):
    """What the backend knows at scrape time: the graph's size, its scheduler's queues and turns, and its
    evaluation processes (``pool``, for the embedded engine)."""

    def __init__(self) -> None:
        self.triples: int | None = None
        self.scheduler: Scheduler | None = None
        self.pool: WorkerPool | None = None

    def collect(self) -> Iterator[Metric]:
        if self.triples is not None:
            yield GaugeMetricFamily(
                "spacegraph_graph_triples", "Triples in the default graph (the union of the named graphs).",
                value=self.triples,
            )  # fmt: skip
        if self.scheduler is not None:
            yield from scheduler_metrics(self.scheduler)
        if self.pool is not None:
            yield from pool_metrics(self.pool)


def scheduler_metrics(scheduler: Scheduler) -> Iterator[Metric]:
    yield CounterMetricFamily("spacegraph_evaluations", "Evaluations started.", value=scheduler.evaluations)
    yield CounterMetricFamily(
        "spacegraph_evaluations_at_once",
        "Evaluations of cheap queries run at once in the server process, without a worker.",
        value=scheduler.at_once,
    )
    yield CounterMetricFamily(
        "spacegraph_evaluations_shared",
        "Jobs answered by an identical evaluation already in flight, without one of their own.",
        value=scheduler.shared,
    )
    yield GaugeMetricFamily("spacegraph_evaluations_running", "Evaluations running now.", value=scheduler.running)
    yield GaugeMetricFamily(
        "spacegraph_query_queue_length", "Evaluations waiting for their turn now.", value=scheduler.waiting
    )
    cumulative, buckets = 0, []
    for bound, count in zip((*map(str, WAIT_BUCKETS), "+Inf"), scheduler.wait_counts, strict=True):
        cumulative += count
        buckets.append((bound, cumulative))
    yield HistogramMetricFamily(
        "spacegraph_query_wait_seconds",
        "Time evaluations waited for their turn (fair queueing between clients).",
        buckets=buckets,
        sum_value=scheduler.wait_sum,
    )
    throttled = CounterMetricFamily(
        "spacegraph_throttled_requests",
        "Evaluations refused by the scheduler, by reason: budget (429), queue-full (503).",
        labels=["reason"],
    )
    for reason in ("budget", "queue-full"):
        throttled.add_metric([reason], scheduler.throttled[reason])
    yield throttled


def pool_metrics(pool: WorkerPool) -> Iterator[Metric]:
    yield GaugeMetricFamily("spacegraph_query_workers", "Query evaluation processes running.", value=len(pool.workers))
    yield GaugeMetricFamily(
        "spacegraph_query_workers_busy", "Query evaluation processes evaluating now.", value=pool.busy
    )
    yield CounterMetricFamily(
        "spacegraph_query_workers_started",
        "Query evaluation processes started: at start, on demand and as replacements.",
        value=pool.started,
    )
    yield CounterMetricFamily(
        "spacegraph_query_workers_retired", "Query evaluation processes started on demand, stopped when idle.",
        value=pool.retired,
    )  # fmt: skip
    yield CounterMetricFamily(
        "spacegraph_query_workers_replaced",
        "Query evaluation processes killed (time limit, crash) and replaced.",
        value=pool.killed,
    )


class RequestCollector(Collector):
    """The per-request figures, counted in plain numbers (one event loop updates them: no lock) and turned
    into Prometheus metrics at scrape time: counting a request costs a dict look-up, not two locked
    updates of prometheus-client's children (a sixth of a replayed answer's time)."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latencies: dict[str, list[float]] = {}  # per route: a count per bucket (+Inf last), then the sum
        self.replayed = 0

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        labels = (route, method, status)
        self.requests[labels] = self.requests.get(labels, 0) + 1
        counts = self.latencies.get(route)
        if counts is None:
            counts = self.latencies[route] = [0.0] * (len(BUCKETS) + 2)
        counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        counts[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "spacegraph_http_requests", "HTTP requests answered.", labels=["route", "method", "status"]
        )
        for (route, method, status), count in sorted(self.requests.items()):
            requests.add_metric([route, method, str(status)], count)
        yield requests
        latency = HistogramMetricFamily(
            "spacegraph_http_request_duration_seconds",
            "Time from the request's headers to the answer's last byte.",
            labels=["route"],
        )
        for route, counts in sorted(self.latencies.items()):
            total, steps = 0.0, []
            for bound, bucket in zip((*map(str, BUCKETS), "+Inf"), counts[:-1], strict=True):
                total += bucket
                steps.append((bound, total))
            latency.add_metric([route], steps, counts[-1])
        yield latency
        yield CounterMetricFamily(
            "spacegraph_replayed_responses",
            "Answers sent again as they were kept, without running the app.",
            value=self.replayed,
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.counted = RequestCollector()
        self.registry.register(self.counted)
        self.in_flight = Gauge("spacegraph_http_requests_in_flight", "Requests being answered.", registry=self.registry)
        self.timeouts = Counter(
            "spacegraph_query_timeouts", "Queries stopped at the time limit.", registry=self.registry
        )
        self.rejected = Counter(
            "spacegraph_rejected_requests", "Requests refused, by reason.", ["reason"], registry=self.registry
        )
        self.replay_bytes = Gauge(
            "spacegraph_replay_bytes", "Bytes held by the answers kept for replay.", registry=self.registry
        )
        self.backend = BackendCollector()
        self.registry.register(self.backend)
        self.info = Info("spacegraph", "Version, and the served data's fingerprint.", registry=self.registry)
        self.info.info({"version": __version__, "data": "not loaded"})

    def set_data(self, fingerprint: str | None) -> None:
        """The data's fingerprint (a hash of the served files), or ``remote`` for an external endpoint."""
        self.info.info({"version": __version__, "data": (fingerprint or "remote")[:16]})

    def replay(self) -> None:
        self.counted.replayed += 1

    def observe(self, route: str, method: str, status: int, seconds: float, rejected: str | None) -> None:
        self.counted.observe(route, method if method in METHODS else "other", status, seconds)
        if status == 504:
            self.timeouts.inc()
        reason = rejected or REASONS.get(status)
        if reason is not None:
            self.rejected.labels(reason).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
