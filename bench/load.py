"""A bounded load test of ``spacegraph serve`` on 127.0.0.1: N seconds at a given concurrency, mixed
queries and page requests, reporting errors, latency percentiles and the server's memory at the start and
the end: the PSS (proportional set size: a page shared by n processes counts 1/n in each) of the server
process and its query workers' processes, of the server process alone, and how many processes it had
(more query workers are forked on demand when several clients keep them busy).

    .venv/bin/python bench/load.py --seconds 120 --concurrency 16
    .venv/bin/python bench/load.py --url http://127.0.0.1:8000 --seconds 30   # an already running server

Without ``--url`` it starts ``spacegraph serve`` on a free port of 127.0.0.1 (the data: ``dist/spacegraph.nq``
or ``--data``) and stops it at the end. Each simulated client has its own address (``X-Forwarded-For``,
which the server trusts from 127.0.0.1), as clients behind a reverse proxy would. Only 127.0.0.1 is ever
contacted; the run stops by itself after ``--seconds``. ``--json`` prints the figures as one JSON object.
An error is any answer other than 200 or 304, or no answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
SPACEGRAPH = Path(sys.executable).parent / "spacegraph"
QUERIES = sorted((ROOT / "queries").glob("*.rq"))
PAGES = ["/", "/id/jaxa", "/id/cnes", "/id/jaxa.html", "/sparql", "/health", "/docs"]  # /id/x: 303 to x.html


def requests(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    """One request of the mix: method, path and httpx arguments."""
    roll = rng.random()
    query = QUERIES[rng.randrange(len(QUERIES))].read_text() if QUERIES else "ASK {}"
    if roll < 0.35:
        return "GET", "/sparql", {"params": {"query": query}}
    if roll < 0.50:
        return "POST", "/sparql", {"data": {"query": query}, "headers": {"Accept": "application/sparql-results+xml"}}
    if roll < 0.60:  # never the same text twice: evaluated, not answered from the cache
        return "GET", "/sparql", {"params": {"query": f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s a ?t }} # {rng.random()}"}}
    if roll < 0.70:
        return "GET", "/store", {"params": {"graph": "https://w3id.org/spacegraph/graph/data", "format": "turtle"}}
    if roll < 0.75:
        return "GET", "/sparql", {"headers": {"Accept": "text/turtle"}}  # the service description
    return "GET", rng.choice(PAGES), {"headers": {"Accept": "text/html"}}


def tree(pid: int) -> list[int]:
    """The process and its descendants (Linux /proc)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        found.append(current)
        pending += [int(child) for child in children]
    return found


def pss_kib(pid: int, descendants: bool = True) -> int:
    """Proportional set size of the process and (``descendants``) of its descendants, in KiB: memory the
    processes share (the query workers share the graph with the process they were forked from) is
    counted once in all."""
    total = 0
    for current in tree(pid) if descendants else [pid]:
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0)
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data: Path | None, log: Path, extra: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [str(SPACEGRAPH), "serve", "--port", str(port), "--access-log", str(log.with_suffix(".access")), *extra]
    if data is not None:
        command += ["--data", str(data)]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=output, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}: see {log}")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    process.kill()
    raise SystemExit("the server did not become ready within 120 s")


async def client(
    base: str, number: int, until: float, latencies: list[float], statuses: Counter[str], seed: int
) -> None:
    rng = random.Random(seed + number)
    headers = {"X-Forwarded-For": f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30, follow_redirects=True) as http:
        while time.monotonic() < until:
            method, path, arguments = requests(rng)
            begin = time.perf_counter()
            try:
                response = await http.request(method, path, **arguments)
                await response.aread()
                statuses[str(response.status_code)] += 1
            except httpx.HTTPError as error:
                statuses[type(error).__name__] += 1
                continue
            latencies.append(time.perf_counter() - begin)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def load(base: str, seconds: float, concurrency: int, seed: int) -> tuple[list[float], Counter[str]]:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    until = time.monotonic() + seconds
    await asyncio.gather(*(client(base, n, until, latencies, statuses, seed) for n in range(concurrency)))
    return latencies, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--url", default=None, help="a running server on 127.0.0.1 (default: start one)")
    parser.add_argument("--data", type=Path, default=None, help="RDF to serve (default: dist/spacegraph.nq)")
    parser.add_argument("--log", type=Path, default=Path("/tmp/spacegraph-load.log"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("server_options", nargs="*", help="more options for spacegraph serve (after --)")
    options = parser.parse_args()
    if not 0 < options.seconds <= 3600 or not 0 < options.concurrency <= 512:
        parser.error("--seconds must be in (0, 3600] and --concurrency in (0, 512]")
    process = None
    if options.url is None:
        process, base = start_server(options.data, options.log, options.server_options)
    else:
        base = options.url.rstrip("/")
        if httpx.URL(base).host not in ("127.0.0.1", "localhost", "::1"):
            parser.error("this load test only targets the loopback address")
    try:
        start_pss = pss_kib(process.pid) if process else None
        start_own = pss_kib(process.pid, descendants=False) if process else None
        start_processes = len(tree(process.pid)) if process else None
        begin = time.monotonic()
        latencies, statuses = asyncio.run(load(base, options.seconds, options.concurrency, options.seed))
        elapsed = time.monotonic() - begin
        end_pss = pss_kib(process.pid) if process else None
        end_own = pss_kib(process.pid, descendants=False) if process else None
        end_processes = len(tree(process.pid)) if process else None
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    total = sum(statuses.values())
    errors = sum(count for status, count in statuses.items() if status not in ("200", "304"))
    figures = {
        "seconds": round(elapsed, 1),
        "concurrency": options.concurrency,
        "requests": total,
        "per_second": round(total / elapsed, 1),
        "errors": errors,
        "statuses": dict(sorted(statuses.items())),
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2) if latencies else None,
        "pss_start_mib": round(start_pss / 1024, 1) if start_pss else None,
        "pss_end_mib": round(end_pss / 1024, 1) if end_pss else None,
        "server_pss_start_mib": round(start_own / 1024, 1) if start_own else None,
        "server_pss_end_mib": round(end_own / 1024, 1) if end_own else None,
        "processes_start": start_processes,
        "processes_end": end_processes,
    }
    if options.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>14}: {value}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
