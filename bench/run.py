"""Benchmark spacegraph's endpoint beside Oxigraph server and rdflib-endpoint, on the same data, over HTTP.

    .venv/bin/python -m bench                      # the real graph (dist/spacegraph.nq)
    .venv/bin/python -m bench --size 100000        # a generated graph of our shape (bench/generate.py)
    .venv/bin/python -m bench --latency-seconds 5 --throughput-seconds 10   # longer runs

Each server runs as its own process on a free port of 127.0.0.1 and is stopped at the end. For each query
of the mix: median and p95 latency at concurrency 1 (one client, requests in turn, at most
``--requests`` or ``--latency-seconds``), throughput at concurrency ``--concurrency`` for
``--throughput-seconds`` (that many client *processes*, each with its own keep-alive httpx client, so that
the Python client is not the bottleneck; they share the machine's cores with the server), errors, the
server's resident memory (RSS of its process tree, from /proc, after the run) and the time from the
start command to the first answer with the data loaded (for Oxigraph server: start, POST /store of the
N-Quads, first answer). Writes ``bench/results/<label>.csv`` and ``.md``; exit status 1 if any error.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.generate import generate
from bench.mix import MIX, Clients, latency, url_for
from bench.servers import NAMES, BenchError, Running, start, versions

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
COLUMNS = (
    "server",
    "query",
    "size",
    "c1_requests",
    "c1_median_ms",
    "c1_p95_ms",
    "c8_answers",
    "c8_per_s",
    "errors",
    "rss_mib",
    "first_answer_s",
)


@dataclass
class Row:
    server: str
    query: str
    size: int
    c1_requests: int
    c1_median_ms: float
    c1_p95_ms: float
    c8_answers: int
    c8_per_s: float
    errors: int
    rss_mib: float = 0.0
    first_answer_s: float = 0.0

    def cells(self) -> list[str]:
        return [
            self.server,
            self.query,
            str(self.size),
            str(self.c1_requests),
            f"{self.c1_median_ms:.2f}",
            f"{self.c1_p95_ms:.2f}",
            str(self.c8_answers),
            f"{self.c8_per_s:.1f}",
            str(self.errors),
            f"{self.rss_mib:.1f}",
            f"{self.first_answer_s:.2f}",
        ]


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, {platform.system()} {platform.release()}"


def quads_in(path: Path) -> int:
    with path.open("rb") as data:
        return sum(1 for line in data if line.strip() and not line.startswith(b"#"))


def measure(server: Running, clients: Clients, options: argparse.Namespace) -> list[Row]:
    rows = []
    for query in MIX:
        if query.page and server.name != "spacegraph":
            continue
        if options.queries and query.name not in options.queries:
            continue
        url = url_for(server.sparql, server.base, query)
        timed = latency(url, query, options.requests, options.latency_seconds, options.unique, options.timeout)
        load = clients.throughput(url, query, options.throughput_seconds, options.unique, options.timeout)
        row = Row(
            server.name,
            query.name,
            timed.size,
            len(timed.samples),
            timed.median_ms(),
            timed.p95_ms(),
            load.answers,
            load.per_second(),
            timed.errors + load.errors,
        )
        print(f"  {server.name:<16} {query.name:<20} " + "  ".join(row.cells()[2:9]), flush=True)
        rows.append(row)
    rss = server.rss_mib()
    for row in rows:
        row.rss_mib = rss
        row.first_answer_s = server.first_answer_s
    return rows


def ratios(rows: list[Row]) -> list[list[str]]:
    """spacegraph's throughput over each peer's, per query, and the geometric mean over the mix."""
    by = {(row.server, row.query): row for row in rows}
    table = []
    peers = [name for name in NAMES[1:] if any(row.server == name for row in rows)]
    queries = [q.name for q in MIX if not q.page and ("spacegraph", q.name) in by]
    for peer in peers:
        logs = []
        for query in queries:
            ours, theirs = by.get(("spacegraph", query)), by.get((peer, query))
            if ours is None or theirs is None or theirs.c8_per_s <= 0 or ours.c8_per_s <= 0:
                continue
            ratio = ours.c8_per_s / theirs.c8_per_s
            latency_ratio = theirs.c1_median_ms / ours.c1_median_ms if ours.c1_median_ms > 0 else float("nan")
            logs.append(math.log(ratio))
            table.append([peer, query, f"{ratio:.2f}", f"{latency_ratio:.2f}"])
        if logs:
            table.append([peer, "geometric mean", f"{math.exp(sum(logs) / len(logs)):.2f}", ""])
    return table


def markdown(header: list[str], rows: list[Row], ratio_rows: list[list[str]]) -> str:
    lines = [f"# spacegraph benchmark: {header[0]}", ""] + [f"- {line}" for line in header[1:]] + [""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    lines += [
        "",
        "Ratios: spacegraph's throughput at concurrency 8 over the peer's (> 1: spacegraph serves more), and the",
        "peer's median latency at concurrency 1 over spacegraph's (> 1: spacegraph answers sooner).",
        "",
        "| peer | query | throughput ratio | latency ratio |",
        "| --- | --- | --- | --- |",
    ]
    lines += ["| " + " | ".join(cells) + " |" for cells in ratio_rows]
    return "\n".join(lines) + "\n"


def text_table(rows: list[Row], ratio_rows: list[list[str]]) -> str:
    grid = [list(COLUMNS)] + [row.cells() for row in rows]
    widths = [max(len(line[i]) for line in grid) for i in range(len(COLUMNS))]
    out = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)) for line in grid]
    out.append("")
    out.append("spacegraph / peer: throughput ratio (c8), latency ratio (peer median / ours, c1)")
    out += [f"  {peer:<16} {query:<20} {r:>8} {lr:>8}" for peer, query, r, lr in ratio_rows]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="N-Quads to serve (default: dist/spacegraph.nq)")
    parser.add_argument("--size", type=int, default=None, help="generate a graph of this many quads and serve it")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated graph")
    parser.add_argument("--servers", nargs="+", choices=NAMES, default=list(NAMES))
    parser.add_argument("--queries", nargs="+", choices=[q.name for q in MIX], default=None)
    parser.add_argument("--requests", type=int, default=200, help="at most this many at concurrency 1")
    parser.add_argument("--latency-seconds", type=float, default=2.0, help="at most this long at concurrency 1")
    parser.add_argument("--throughput-seconds", type=float, default=3.0, help="length of the concurrent run")
    parser.add_argument("--concurrency", type=int, default=8, help="client processes in the concurrent run")
    parser.add_argument("--timeout", type=float, default=60.0, help="per request, s")
    parser.add_argument("--start-timeout", type=float, default=600.0, help="per server, start to first answer")
    parser.add_argument("--unique", action="store_true", help="make every query text unique (defeats caches)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="folder of the CSV and Markdown files")
    parser.add_argument("--label", default=None, help="file name of the results (default: from the data)")
    options = parser.parse_args(argv)
    bounds = [
        (1 <= options.requests <= 1_000_000, "--requests"),
        (0 < options.latency_seconds <= 600, "--latency-seconds"),
        (0 < options.throughput_seconds <= 600, "--throughput-seconds"),
        (1 <= options.concurrency <= 64, "--concurrency"),
        (0 < options.timeout <= 600, "--timeout"),
        (0 < options.start_timeout <= 3600, "--start-timeout"),
    ]
    for ok, flag in bounds:
        if not ok:
            parser.error(f"{flag} is out of its range")
    if options.data is not None and options.size is not None:
        parser.error("--data and --size exclude each other")
    if options.concurrency != 8:
        columns_note = f"c8 columns are at concurrency {options.concurrency}"
    else:
        columns_note = "c8: concurrency 8"
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        work = Path(scratch)
        if options.size is not None:
            data = work / f"generated-{options.size}.nq"
            begin = time.perf_counter()
            try:
                generate(options.size, data, options.seed)
            except ValueError as error:
                parser.error(str(error))
            print(f"generated {data.name} in {time.perf_counter() - begin:.1f} s", flush=True)
            label = options.label or f"generated-{options.size}"
        else:
            data = options.data or ROOT / "dist" / "spacegraph.nq"
            if not data.is_file():
                parser.error(f"{data} is missing: run `.venv/bin/spacegraph build` or pass --data")
            label = options.label or ("real" if options.data is None else data.stem)
        quads = quads_in(data)
        found = versions()
        date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        header = [
            f"{label}, {quads} quads ({data.name})",
            f"date: {date}",
            f"machine: {machine()}",
            "versions: " + ", ".join(f"{name} {value}" for name, value in found.items()),
            f"client: {options.concurrency} client processes (multiprocessing), each its own httpx keep-alive "
            f"client, on the same machine as the servers; c1: one client, at most {options.requests} requests "
            f"or {options.latency_seconds} s after 3 warm-up requests; {columns_note}, "
            f"{options.throughput_seconds} s",
            "queries: " + ("each text unique (caches defeated)" if options.unique else "the same text repeated"),
            "size: rows, triples, boolean (1/0) or page bytes; rss_mib: the server's process tree after its run",
        ]
        print("\n".join(header), flush=True)
        rows: list[Row] = []
        clients = Clients(options.concurrency)
        try:
            for name in options.servers:
                print(f"starting {name}…", flush=True)
                try:
                    server = start(name, data, work, options.start_timeout)
                except BenchError as error:
                    print(f"error: {error}", file=sys.stderr)
                    sys.exit(1)
                print(f"  first answer after {server.first_answer_s:.2f} s, {server.rss_mib():.1f} MiB", flush=True)
                try:
                    rows += measure(server, clients, options)
                finally:
                    server.stop()
        finally:
            clients.close()
    ratio_rows = ratios(rows)
    print()
    print(text_table(rows, ratio_rows))
    options.output.mkdir(parents=True, exist_ok=True)
    with (options.output / f"{label}.csv").open("w", newline="", encoding="utf-8") as out:
        for line in header:
            out.write(f"# {line}\n")
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        writer.writerows(row.cells() for row in rows)
    (options.output / f"{label}.md").write_text(markdown(header, rows, ratio_rows), encoding="utf-8")
    print(f"\nwrote {options.output / label}.csv and .md")
    errors = sum(row.errors for row in rows)
    if errors:
        print(f"error: {errors} failed requests", file=sys.stderr)
    sys.exit(1 if errors else 0)
