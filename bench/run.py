"""Benchmark spacegraph's endpoint beside Oxigraph server and rdflib-endpoint, on the same data, over HTTP.

    .venv/bin/python -m bench                      # the real graph (dist/spacegraph.nq)
    .venv/bin/python -m bench --size 100000        # a generated graph of our shape (bench/generate.py)
    .venv/bin/python -m bench --latency-seconds 5 --throughput-seconds 10   # longer runs

Each configuration (``bench/servers.py``: spacegraph, the same without its access log, spacegraph with
``--workers 2`` on demand, Oxigraph server, spacegraph→oxigraph fronting that Oxigraph server with
``--endpoint``, rdflib-endpoint) runs as its own processes on a free port of 127.0.0.1; all are started
first, then ``--rounds`` interleaved rounds measure each query on each in turn (the medians are kept), and
all are stopped at the end. For each query of the mix: median
and p95 latency at concurrency 1 (one connection, requests in turn, at most ``--requests`` or
``--latency-seconds``), throughput at concurrency ``--concurrency`` for ``--throughput-seconds``, errors,
the server's resident memory (RSS of its process tree, from /proc, after the run) and the time from the
start command to the first answer with the data loaded (for Oxigraph server: start, POST /store of the
N-Quads, first answer). The client is wrk (``bench/wrk.py``, so that the client does not cap the fastest
server), or Python client processes (``--client processes``, the fallback when wrk is missing). Writes
``bench/results/<label>.csv`` and ``.md`` with ratios between configurations; exit status 1 if any error.
"""

from __future__ import annotations

import argparse
import compileall
import csv
import datetime
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bench.generate import generate
from bench.mix import IRIS, MIX, Clients, Latency, Query, Throughput, url_for, with_iris
from bench.servers import (
    ALIASES,
    BIN,
    DEFAULT,
    FRONTED,
    NAMES,
    NO_LOG,
    OXIGRAPH,
    RDFLIB,
    SPACEGRAPH,
    TWO_WORKERS,
    BenchError,
    Running,
    start,
    versions,
)
from bench.wrk import WrkClient, WrkError, find

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
# (configuration, over, what the ratio tells): throughput and latency ratios per query and their geometric mean.
COMPARISONS = (
    (SPACEGRAPH, OXIGRAPH, "spacegraph against Oxigraph server"),
    (SPACEGRAPH, RDFLIB, "spacegraph against rdflib-endpoint"),
    (FRONTED, OXIGRAPH, "the cost of the extra hop (spacegraph in front of Oxigraph server, against it alone)"),
    (FRONTED, SPACEGRAPH, "fronting Oxigraph server against embedding pyoxigraph"),
    (TWO_WORKERS, SPACEGRAPH, "scaling from 1 to 2 server processes (--workers 2)"),
    (SPACEGRAPH, NO_LOG, "what the default access log costs (1.0: nothing)"),
)
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
    "pss_mib",
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
    rss_mib: float = 0.0  # PSS, in fact (the column says so)
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


class Client(Protocol):
    """What drives the servers: ``bench.wrk.WrkClient`` or ``bench.mix.Clients``."""

    name: str

    def describe(self, requests: int, latency_seconds: float, throughput_seconds: float) -> str: ...

    def latency(self, url: str, query: Query, count: int, seconds: float, unique: bool, timeout: float) -> Latency: ...

    def throughput(self, url: str, query: Query, seconds: float, unique: bool, timeout: float) -> Throughput: ...

    def close(self) -> None: ...


def queries_of(options: argparse.Namespace, data: Path) -> list[Query]:
    chosen = [q for q in MIX if not options.queries or q.name in options.queries]
    return [with_iris(query, data) for query in chosen]


def measure(server: Running, query: Query, client: Client, options: argparse.Namespace) -> Row:
    """One round of one query against one server: concurrency 1, then the concurrent run."""
    url = url_for(server.sparql, server.base, query)
    timed = client.latency(url, query, options.requests, options.latency_seconds, options.unique, options.timeout)
    load = client.throughput(url, query, options.throughput_seconds, options.unique, options.timeout)
    return Row(
        server.name,
        query.name,
        timed.size,
        timed.requests,
        timed.median_ms,
        timed.p95_ms,
        load.answers,
        load.per_second(),
        timed.errors + load.errors,
    )


def median_row(rounds: list[Row]) -> Row:
    """The rounds of one (server, query): medians of the figures, sums of the counts."""
    first = rounds[0]

    def middle(values: list[float]) -> float:
        kept = [value for value in values if not math.isnan(value)]
        return statistics.median(kept) if kept else float("nan")

    return Row(
        first.server,
        first.query,
        first.size if all(row.size == first.size for row in rounds) else -1,
        sum(row.c1_requests for row in rounds),
        middle([row.c1_median_ms for row in rounds]),
        middle([row.c1_p95_ms for row in rounds]),
        sum(row.c8_answers for row in rounds),
        middle([row.c8_per_s for row in rounds]),
        sum(row.errors for row in rounds),
    )


def geometric_mean(values: list[float]) -> float:
    return math.exp(sum(math.log(value) for value in values) / len(values))


def ratios(rows: list[Row]) -> list[list[str]]:
    """For each comparison whose two configurations ran: per query, the configuration's throughput over the
    other's, the other's median latency over the configuration's (both > 1: the configuration does better)
    and the difference of the medians in ms; then the geometric means of the ratios."""
    by = {(row.server, row.query): row for row in rows}
    table = []
    for config, over, _ in COMPARISONS:
        throughputs, latencies = [], []
        for query in (q.name for q in MIX):
            ours, theirs = by.get((config, query)), by.get((over, query))
            if ours is None or theirs is None or min(ours.c8_per_s, theirs.c8_per_s) <= 0:
                continue
            throughput = ours.c8_per_s / theirs.c8_per_s
            throughputs.append(throughput)
            cells = [config, over, query, f"{throughput:.2f}", "", ""]
            if ours.c1_median_ms > 0 and theirs.c1_median_ms > 0:  # not NaN, not 0
                latencies.append(theirs.c1_median_ms / ours.c1_median_ms)
                cells[4:] = [f"{latencies[-1]:.2f}", f"{ours.c1_median_ms - theirs.c1_median_ms:+.2f}"]
            table.append(cells)
        if throughputs:
            latency_mean = f"{geometric_mean(latencies):.2f}" if latencies else ""
            table.append([config, over, "geometric mean", f"{geometric_mean(throughputs):.2f}", latency_mean, ""])
    return table


RATIO_COLUMNS = ("configuration", "over", "query", "throughput ratio", "latency ratio", "median difference ms")


def ratio_note(rows: list[Row]) -> list[str]:
    """What the ratios mean, and what each comparison that ran tells."""
    ran = {row.server for row in rows}
    return [
        "Ratios: the configuration's throughput at concurrency 8 over the other's (> 1: it serves more), the",
        "other's median latency at concurrency 1 over the configuration's (> 1: it answers sooner), and the",
        "configuration's median minus the other's (ms; for spacegraph→oxigraph over oxigraph: the extra hop).",
        "",
    ] + [f"- {config} over {over}: {what}" for config, over, what in COMPARISONS if {config, over} <= ran]


def markdown(header: list[str], rows: list[Row], ratio_rows: list[list[str]]) -> str:
    lines = [f"# spacegraph benchmark: {header[0]}", ""] + [f"- {line}" for line in header[1:]] + [""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    lines += ["", *ratio_note(rows), ""]
    lines += ["| " + " | ".join(RATIO_COLUMNS) + " |", "|" + " --- |" * len(RATIO_COLUMNS)]
    lines += ["| " + " | ".join(cells) + " |" for cells in ratio_rows]
    return "\n".join(lines) + "\n"


def text_table(rows: list[Row], ratio_rows: list[list[str]]) -> str:
    def grid(columns: tuple[str, ...], lines: list[list[str]]) -> list[str]:
        cells = [list(columns), *lines]
        widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
        return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in cells]

    out = grid(COLUMNS, [row.cells() for row in rows])
    out += ["", *ratio_note(rows), ""]
    out += grid(RATIO_COLUMNS, ratio_rows)
    return "\n".join(out)


def configuration(value: str) -> str:
    """--servers takes the names, or ASCII aliases of the two with a symbol."""
    return ALIASES.get(value, value)


def choose_client(options: argparse.Namespace, parser: argparse.ArgumentParser) -> Client:
    executable = find()
    if options.client == "wrk" and executable is None:
        parser.error("--client wrk: wrk is not installed (Debian: apt-get install wrk)")
    if options.client == "processes" or executable is None:
        if options.client is None:
            print("wrk is not installed (Debian: apt-get install wrk): Python client processes instead", flush=True)
        return Clients(options.concurrency)
    return WrkClient(executable, options.concurrency)


def run_all(data: Path, work: Path, client: Client, options: argparse.Namespace) -> list[Row]:
    """Every chosen configuration started (NAMES's order; Oxigraph server also, unmeasured, for
    spacegraph→oxigraph when not chosen), then ``--rounds`` rounds, each measuring every query on every
    configuration in turn, so that the machine's moods fall on all of them alike; the medians of the rounds;
    each configuration's memory after them; everything stopped at the end."""
    chosen = [name for name in NAMES if name in options.servers]
    queries = queries_of(options, data)
    running: dict[str, Running] = {}
    try:
        if FRONTED in chosen and OXIGRAPH not in chosen:
            print(f"starting {OXIGRAPH} (for {FRONTED}, not measured)…", flush=True)
            running[OXIGRAPH] = start(OXIGRAPH, data, work, options.start_timeout)
        for name in chosen:
            if name in running:
                continue
            print(f"starting {name}…", flush=True)
            running[name] = start(name, data, work, options.start_timeout, running.get(OXIGRAPH))
            print(f"  first answer after {running[name].first_answer_s:.2f} s", flush=True)
        rounds: dict[tuple[str, str], list[Row]] = {}
        for number in range(1, options.rounds + 1):
            print(f"round {number} of {options.rounds}", flush=True)
            for query in queries:
                for name in chosen:
                    if query.page and not name.startswith(SPACEGRAPH):
                        continue
                    row = measure(running[name], query, client, options)
                    print(f"  {name:<20} {query.name:<24} " + "  ".join(row.cells()[2:9]), flush=True)
                    rounds.setdefault((name, query.name), []).append(row)
        rows = []
        for name in chosen:
            memory = running[name].rss_mib()
            for query in queries:
                if (name, query.name) in rounds:
                    row = median_row(rounds[name, query.name])
                    row.rss_mib, row.first_answer_s = memory, running[name].first_answer_s
                    rows.append(row)
        return rows
    finally:
        for server in running.values():
            server.stop()


def timed_command(*arguments: str) -> float:
    """Seconds a ``spacegraph`` command takes (exit status 0 expected)."""
    begin = time.perf_counter()
    subprocess.run([str(BIN / "spacegraph"), *arguments], cwd=ROOT, capture_output=True, check=True, timeout=600)
    return time.perf_counter() - begin


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="N-Quads to serve (default: dist/spacegraph.nq)")
    parser.add_argument("--size", type=int, default=None, help="generate a graph of this many quads and serve it")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated graph")
    parser.add_argument(
        "--servers",
        nargs="+",
        type=configuration,
        choices=NAMES,
        default=list(DEFAULT),
        help="configurations to run (default: all but spacegraph×2; spacegraph-x2, spacegraph-oxigraph and "  # noqa: RUF001
        "spacegraph-no-log also name those with a symbol or a space)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the figures are their medians")
    parser.add_argument("--queries", nargs="+", choices=[q.name for q in MIX], default=None)
    parser.add_argument(
        "--requests", type=int, default=200, help="at most this many at concurrency 1 (client processes only)"
    )
    parser.add_argument(
        "--latency-seconds", type=float, default=2.0, help="at most this long at concurrency 1 (wrk: whole seconds)"
    )
    parser.add_argument(
        "--throughput-seconds", type=float, default=3.0, help="length of the concurrent run (wrk: whole seconds)"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="connections (or client processes) at once")
    parser.add_argument(
        "--client",
        choices=("wrk", "processes"),
        default=None,
        help="wrk (the default when installed) or Python client processes (the fallback)",
    )
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
        (1 <= options.rounds <= 20, "--rounds"),
        (0 < options.timeout <= 600, "--timeout"),
        (0 < options.start_timeout <= 3600, "--start-timeout"),
    ]
    for ok, flag in bounds:
        if not ok:
            parser.error(f"{flag} is out of its range")
    if options.data is not None and options.size is not None:
        parser.error("--data and --size exclude each other")
    # Our modules' bytecode, as an installed package has it (pip compiles a wheel's modules when it installs
    # them; an editable install compiles at the first start, unless PYTHONDONTWRITEBYTECODE forbids it):
    # otherwise every server start and build would be timed compiling them.
    compileall.compile_dir(ROOT / "src", quiet=1)
    columns_note = "" if options.concurrency == 8 else f"; the c8 columns are at concurrency {options.concurrency}"
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
        client = choose_client(options, parser)
        if isinstance(client, WrkClient):
            found["wrk"] = client.version
        date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        header = [
            f"{label}, {quads} quads ({data.name})",
            f"date: {date}",
            f"machine: {machine()}",
            "versions: " + ", ".join(f"{name} {value}" for name, value in found.items()),
            "client: "
            + client.describe(options.requests, options.latency_seconds, options.throughput_seconds)
            + columns_note,
            "servers: spacegraph serve with its default flags (the JSON access log to the log file, 2 query "
            f"workers kept per server process); {NO_LOG}: --access-log off; {TWO_WORKERS}: --workers 2; "
            "spacegraph→oxigraph: --endpoint of the Oxigraph server measured beside it (already loaded: its "
            "first_answer_s is spacegraph's start only); all running at once, measured in turn",
            f"rounds: {options.rounds}, interleaved (each round measures every query on every server in turn); "
            "the figures are the medians of the rounds, the counts their sums",
            "queries: "
            + ("each text unique (caches defeated)" if options.unique else "the same text repeated")
            + f"; 'point lookup, new text': a new text every request, over {IRIS} of the graph's IRIs in turn",
            "size: rows, triples, boolean (1/0) or page bytes; pss_mib: proportional set size of the server's "
            "process tree after the rounds (pages shared with other processes counted in part; "
            "spacegraph→oxigraph: with Oxigraph server's)",
        ]
        if options.data is None and options.size is None:
            build, validate = timed_command("build", "--out", str(work / "dist")), timed_command("validate")
            header.append(f"spacegraph build {build:.2f} s, spacegraph validate {validate:.2f} s (the project's)")
        print("\n".join(header), flush=True)
        try:
            rows = run_all(data, work, client, options)
        except (BenchError, WrkError) as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(1)
        finally:
            client.close()
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
