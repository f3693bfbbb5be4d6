"""Fairness under load, spacegraph beside Oxigraph server on the same data, both with default flags:

    .venv/bin/python -m bench.fairness                    # every case, about 3 minutes
    .venv/bin/python -m bench.fairness --seconds 10 --cases crowd identical one many   # shorter

Clients are told apart by their own loopback source addresses (127.0.0.2, 127.0.0.3, …, as distinct
machines would be; no proxy header). The cases, each on a freshly started server (a runaway query keeps
an Oxigraph server busy for ever, even after its client has gone):

1. one client keeps 2 runaway queries in flight; another sends one point lookup: how long it waits;
2. one client keeps 8 runaway queries in flight for ``--seconds`` (20); another sends point lookups (each
   text new) one after the other: answers, p50, p95, errors; and what the runaway queries got;
3. one client, 8 connections (wrk, from 127.0.0.1), cheap point lookups, each text new, for
   ``--crowd-seconds`` (5): answers and refusals;
4. 16 identical new queries at once from one client: refusals, and the evaluations ``/metrics`` counts;
5. (spacegraph only: Oxigraph server has no budget) one client keeps 8 runaway queries in flight until it
   is refused for its budget (at most ``--budget-seconds``): when, the ``Retry-After``, and another
   client's point lookups meanwhile.

``--cases`` runs some of them (crowd, identical, one, many, budget: 3, 4, 1, 2, 5).

Writes ``bench/results/fairness.md``; exit status 1 if spacegraph misses a target of the issue (0 errors
and p95 <= 10 ms beside runaway queries, runaway queries answered 504 or 429, no refusal in cases 3 and 4,
one evaluation in case 4).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import itertools
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.mix import MIX, full_url
from bench.run import RESULTS, ROOT, machine
from bench.servers import OXIGRAPH, SPACEGRAPH, BenchError, Running, start, versions
from bench.wrk import WrkError, find, run

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"  # 2,799³ solutions
POINT = MIX[0]
# about 0.3 s here: long enough for 16 identical requests to arrive while the first is evaluated
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { { ?a a ?c . ?d ?e ?f } UNION { ?a a ?c . ?d ?e ?f } }"
HEAVY, LIGHT, CROWD = "127.0.0.2", "127.0.0.3", "127.0.0.4"
CASES = ("crowd", "identical", "one", "many", "budget")  # 3, 4, 1, 2, 5 below
RESULTS_JSON = {"Accept": "application/sparql-results+json"}
texts = itertools.count(1)


def unique(text: str) -> str:
    return f"{text}\n# fairness {time.time_ns()} {next(texts)}"


def client(address: str, timeout: float) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(transport=transport, timeout=timeout, headers=RESULTS_JSON)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


@dataclass
class Runaways:
    """What a client keeping runaway queries in flight got."""

    statuses: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, list[float]] = field(default_factory=dict)
    first_429: float | None = None  # seconds after the start
    retry_after: str | None = None

    def record(self, status: str, seconds: float, since_start: float, retry: str | None) -> None:
        self.statuses[status] += 1
        self.seconds.setdefault(status, []).append(seconds)
        if status == "429" and self.first_429 is None:
            self.first_429, self.retry_after = since_start, retry

    def describe(self) -> str:
        parts = []
        for status, count in sorted(self.statuses.items()):
            times = self.seconds.get(status, [])
            typical = f" (median {sorted(times)[len(times) // 2]:.1f} s)" if times and status != "in flight" else ""
            parts.append(f"{count} × {status}{typical}")  # noqa: RUF001 (the sign is meant)
        return ", ".join(parts) or "none"


async def keep_in_flight(url: str, count: int, until: asyncio.Event, outcome: Runaways, begin: float) -> None:
    """``count`` runaway queries from HEAVY, each sent again as soon as it is answered, until ``until``."""

    async def one(http: httpx.AsyncClient) -> None:
        while not until.is_set():
            sent = time.monotonic()
            request = asyncio.ensure_future(http.get(url, params={"query": unique(RUNAWAY)}))
            stop = asyncio.ensure_future(until.wait())
            await asyncio.wait({request, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not request.done():
                request.cancel()  # the case is over: its connection is closed
                outcome.record("in flight", time.monotonic() - sent, 0.0, None)
                return
            try:
                response = request.result()
            except httpx.HTTPError as error:
                outcome.record(type(error).__name__, time.monotonic() - sent, 0.0, None)
                continue
            now = time.monotonic()
            outcome.record(str(response.status_code), now - sent, now - begin, response.headers.get("retry-after"))
            if response.status_code == 429:
                await asyncio.sleep(0.05)  # refused at once: do not spin

    async with client(HEAVY, timeout=3600) as http:
        await asyncio.gather(*(one(http) for _ in range(count)))


@dataclass
class Lookups:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def describe(self) -> str:
        errors = sum(self.errors.values())
        if not self.latencies:
            return f"no answer, {errors} errors {dict(self.errors)}"
        p50, p95 = percentile(self.latencies, 0.5) * 1000, percentile(self.latencies, 0.95) * 1000
        detail = f" {dict(self.errors)}" if errors else ""
        return f"{len(self.latencies):,} answers, p50 {p50:.1f} ms, p95 {p95:.1f} ms, {errors} errors{detail}"


async def look_up(url: str, seconds: float, outcome: Lookups, timeout: float) -> None:
    """Point lookups from LIGHT, each text new, one after the other, for ``seconds``."""
    end = time.monotonic() + seconds
    async with client(LIGHT, timeout=timeout) as http:
        while time.monotonic() < end:
            sent = time.monotonic()
            try:
                response = await http.get(url, params={"query": unique(POINT.text)})
            except httpx.HTTPError as error:
                outcome.errors[type(error).__name__] += 1
                continue
            if response.status_code == 200:
                outcome.latencies.append(time.monotonic() - sent)
            else:
                outcome.errors[str(response.status_code)] += 1


async def beside_runaways(
    server: Running, count: int, seconds: float, settle: float
) -> tuple[Lookups, Lookups, Runaways]:
    """Case 2: the lookups alone for 2 s (for comparison), then beside ``count`` runaway queries kept in
    flight by another client."""
    alone, until, runaways, lookups = Lookups(), asyncio.Event(), Runaways(), Lookups()
    await look_up(server.sparql, 2.0, alone, timeout=30)
    begin = time.monotonic()
    heavy = asyncio.create_task(keep_in_flight(server.sparql, count, until, runaways, begin))
    await asyncio.sleep(settle)  # the runaway queries are under way
    await look_up(server.sparql, seconds, lookups, timeout=seconds + 30)
    await asyncio.sleep(settle)
    until.set()
    await heavy
    return alone, lookups, runaways


async def first_lookup(server: Running, timeout: float) -> str:
    """Case 1: the time one point lookup waits beside 2 runaway queries of another client."""
    until, runaways = asyncio.Event(), Runaways()
    heavy = asyncio.create_task(keep_in_flight(server.sparql, 2, until, runaways, time.monotonic()))
    await asyncio.sleep(0.5)
    sent = time.monotonic()
    try:
        async with client(LIGHT, timeout=timeout) as http:
            response = await http.get(server.sparql, params={"query": unique(POINT.text)})
        waited = f"{(time.monotonic() - sent) * 1000:,.1f} ms ({response.status_code})"
    except httpx.HTTPError as error:
        waited = f"no answer within {timeout:g} s ({type(error).__name__})"
    until.set()
    await heavy
    return waited


async def identical(server: Running) -> tuple[Counter[str], str]:
    """Case 4: 16 identical new queries at once from CROWD; their statuses, and the evaluations counted."""
    text = unique(SLOW)
    before = await evaluations(server)
    async with client(CROWD, timeout=60) as http:
        responses = await asyncio.gather(
            *(http.get(server.sparql, params={"query": text}) for _ in range(16)), return_exceptions=True
        )
    statuses = Counter(r.__class__.__name__ if isinstance(r, BaseException) else str(r.status_code) for r in responses)
    after = await evaluations(server)
    counted = f"{after - before:g} evaluation(s)" if before is not None and after is not None else "—"
    return statuses, counted


async def evaluations(server: Running) -> float | None:
    if server.name != SPACEGRAPH:
        return None
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"{server.base}/metrics")).text
    for line in metrics.splitlines():
        if line.startswith("spacegraph_evaluations_total "):
            return float(line.split()[1])
    return None


def crowd(server: Running, seconds: float) -> str:
    """Case 3: wrk, 8 connections from 127.0.0.1, point lookups each text new."""
    executable = find()
    if executable is None:
        return "wrk is not installed"
    figures = run(
        executable,
        full_url(server.sparql, POINT),
        POINT.accept,
        connections=8,
        seconds=seconds,
        timeout=10,
        unique=True,
    )
    refused = figures.non2xx
    return f"{refused:,} of {figures.requests:,} refused (non-2xx), {figures.socket_errors} socket errors"


@dataclass
class Report:
    rows: dict[str, dict[str, str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def put(self, case: str, server: str, text: str) -> None:
        self.rows.setdefault(case, {})[server] = text
        print(f"  {server:<12} {case}: {text}", flush=True)


def run_server(name: str, data: Path, work: Path, options: argparse.Namespace, report: Report) -> None:
    cases = {
        "one": "one client keeps 2 runaway queries in flight; another sends a point lookup",
        "many": f"one client keeps 8 runaway queries in flight for {options.seconds:g} s; another sends point "
        "lookups one after the other",
        "runaways": "— what the 8 runaway queries got",
        "crowd": f"one client, 8 connections, cheap point lookups (each text new), {options.crowd_seconds:g} s",
        "identical": "16 identical new queries at once from one client",
        "budget": "one client keeps 8 runaway queries in flight until it is past its budget; another looks up",
    }

    def fresh() -> Running:
        return start(name, data, work, options.start_timeout)

    chosen = set(options.cases)
    if chosen & {"crowd", "identical"}:
        server = fresh()
        try:
            if "crowd" in chosen:
                report.put(cases["crowd"], name, crowd(server, options.crowd_seconds))
            if "identical" in chosen:
                statuses, counted = asyncio.run(identical(server))
                report.put(cases["identical"], name, f"{dict(statuses)}, {counted}")
                if name == SPACEGRAPH and (statuses != {"200": 16} or not counted.startswith("1 ")):
                    report.failures.append(f"16 identical queries: {dict(statuses)}, {counted}")
        finally:
            server.stop()
    if "one" in chosen:
        server = fresh()
        try:
            report.put(cases["one"], name, asyncio.run(first_lookup(server, options.seconds)))
        finally:
            server.stop()
    if "many" in chosen:
        server = fresh()
        try:
            alone, lookups, runaways = asyncio.run(beside_runaways(server, 8, options.seconds, 0.5))
            report.put(cases["many"], name, f"{lookups.describe()} (alone before: {alone.describe()})")
            report.put(cases["runaways"], name, runaways.describe())
            if name == SPACEGRAPH:
                p95 = percentile(lookups.latencies, 0.95)
                if lookups.errors or not lookups.latencies or not p95 <= 0.010:
                    report.failures.append(f"point lookups beside runaway queries: {lookups.describe()}")
                if set(runaways.statuses) - {"504", "429", "in flight"}:
                    report.failures.append(f"runaway queries: {runaways.describe()}")
        finally:
            server.stop()
    if "budget" in chosen and name == SPACEGRAPH:
        server = fresh()
        try:
            outcome = asyncio.run(until_refused(server, options.budget_seconds))
            report.put(cases["budget"], name, outcome)
            if not outcome.startswith("first 429"):
                report.failures.append(f"past the budget: {outcome}")
        finally:
            server.stop()
    elif "budget" in chosen:
        report.put(cases["budget"], name, "— (no budget: the runaway queries are never refused nor stopped)")


async def until_refused(server: Running, seconds: float) -> str:
    """Case 5: 8 runaway queries kept in flight until the first 429 (at most ``seconds``), lookups beside."""
    until, runaways, lookups = asyncio.Event(), Runaways(), Lookups()
    begin = time.monotonic()
    heavy = asyncio.create_task(keep_in_flight(server.sparql, 8, until, runaways, begin))

    async def watch() -> None:
        while runaways.first_429 is None and time.monotonic() - begin < seconds:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # a second of refusals
        until.set()

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.5)
    while not until.is_set():
        await look_up(server.sparql, 1.0, lookups, timeout=seconds)
    await asyncio.gather(heavy, watcher)
    if runaways.first_429 is None:
        return f"no 429 within {seconds:g} s; runaway queries: {runaways.describe()}; lookups: {lookups.describe()}"
    return (
        f"first 429 after {runaways.first_429:.1f} s, Retry-After {runaways.retry_after} s; runaway queries: "
        f"{runaways.describe()}; the other client's lookups: {lookups.describe()}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fairness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "dist" / "spacegraph.nq", help="N-Quads to serve")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of case 2 (lookups beside 8 runaways)")
    parser.add_argument("--crowd-seconds", type=int, default=5, help="length of case 3 (whole seconds, wrk)")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES), help="the cases to run (all)")
    parser.add_argument("--budget-seconds", type=float, default=150.0, help="case 5 stops at the first 429 or then")
    parser.add_argument("--start-timeout", type=float, default=120.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    options = parser.parse_args(argv)
    if (
        not 1 <= options.seconds <= 600
        or not 1 <= options.budget_seconds <= 900
        or not 1 <= options.crowd_seconds <= 60
    ):
        parser.error("--seconds, --crowd-seconds and --budget-seconds are out of their range")
    if not options.data.is_file():
        parser.error(f"{options.data} is missing: run `.venv/bin/spacegraph build` or pass --data")
    found = versions()
    header = [
        f"date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"machine: {machine()}",
        "versions: " + ", ".join(f"{name} {value}" for name, value in found.items()),
        f"data: {options.data.name}; both servers with default flags (spacegraph serve --data, its time limit "
        "10 s; oxigraph serve --union-default-graph, the N-Quads POSTed to /store); clients on their own loopback "
        "addresses (httpx), case 3 with wrk -t2 -c8 --unique",
    ]
    print("\n".join(header), flush=True)
    report = Report()
    with tempfile.TemporaryDirectory(prefix="bench-fairness-") as scratch:
        try:
            for name in (SPACEGRAPH, OXIGRAPH):
                print(f"{name}…", flush=True)
                run_server(name, options.data, Path(scratch), options, report)
        except (BenchError, WrkError) as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(1)
    lines = [
        "# spacegraph fairness benchmark",
        "",
        *(f"- {line}" for line in header),
        "",
        "| case | spacegraph | Oxigraph server |",
        "| --- | --- | --- |",
    ]
    for case, by_server in report.rows.items():
        lines.append(f"| {case} | {by_server.get(SPACEGRAPH, '')} | {by_server.get(OXIGRAPH, '')} |")
    table = "\n".join(lines) + "\n"
    print()
    print(table)
    options.output.mkdir(parents=True, exist_ok=True)
    (options.output / "fairness.md").write_text(table, encoding="utf-8")
    print(f"wrote {options.output / 'fairness.md'}")
    for failure in report.failures:
        print(f"target missed: {failure}", file=sys.stderr)
    sys.exit(1 if report.failures else 0)


if __name__ == "__main__":
    main()
