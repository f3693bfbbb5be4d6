"""Triple Pattern Fragments: spacegraph's ``/fragments`` beside the Linked Data Fragments server (Server.js,
npm ``@ldf/server``, pinned in ``bench/ldf/``), both serving the same N-Triples, in one run.

    .venv/bin/python -m bench.fragments                    # the real graph (dist/spacegraph.nt)
    .venv/bin/python -m bench.fragments --size 100000      # a generated graph of the same shape, as N-Triples
    .venv/bin/python -m bench.fragments --rounds 5 --seconds 5 --queries 01-who-met-in-tokyo 03-climate

For each server, in turns (the order alternates from round to round):

- **Comunica** (``tests/node/comunica-select.mjs``, Comunica 4.5) given only the fragments' address runs
  two competency queries; each is run twice in one Node.js process, with Comunica's HTTP cache emptied
  before each run, and the second run is timed (the first pays for the engine's start). Both servers
  must give the same rows; the figures are the median over the rounds, with the requests it made.
- **Pages per second**: wrk (``bench/wrk.lua``) asks for fragment pages in turn, at concurrency 8 for a
  fixed time, and at concurrency 1 for the median latency: *Comunica's pages* (every URL Comunica asked
  for while answering the two queries) and *every page of the whole graph* (the default graph's
  fragment, page 1 to the last: a crawl). Each page either *new* (an ignored parameter makes every URL
  one no cache has seen) or *repeated* (the same URLs again, as a client or a proxy asks them).

Ratios (spacegraph ÷ LDF server) are printed in the same run: pages per second, and for Comunica, the
LDF server's time over spacegraph's. Results also go to ``bench/results/fragments-<label>.md``. The
LDF server runs with its defaults (one worker process, pages of 100, the N-Triples in memory);
spacegraph with its defaults (one server process, two query workers, pages of 100; the access log off).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pyoxigraph as ox

from bench.generate import generate
from bench.load import free_port, pss_kib
from bench.run import machine
from bench.servers import BIN, BenchError, settle, versions
from bench.wrk import WrkError, find, run, whole_seconds
from bench.wrk import version as wrk_version

ROOT = Path(__file__).resolve().parents[1]
LDF = ROOT / "bench" / "ldf"
COMUNICA = ROOT / "tests" / "node" / "comunica-select.mjs"
RESULTS = ROOT / "bench" / "results"
QUERIES = ROOT / "queries"
DEFAULT_QUERIES = ("01-who-met-in-tokyo", "09-evidence")  # no GRAPH: N-Triples hold no named graphs
NQUADS = "application/n-quads"
DEFAULT_GRAPH = "urn:ldf:defaultGraph"
SPACEGRAPH = "spacegraph"
LDF_SERVER = "LDF server"


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    fragments: str  # the fragments' address: all a client needs
    first_answer_s: float
    log: Path

    @property
    def origin(self) -> str:
        parts = urlsplit(self.fragments)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def path(self) -> str:
        return urlsplit(self.fragments).path

    def pss_mib(self) -> float:
        return pss_kib(self.process.pid) / 1024

    def stop(self) -> None:
        """Its whole process group (Server.js forks a worker), by the group the bench started."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT if self.name == LDF_SERVER else signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # a worker left behind by its master
            os.killpg(self.process.pid, signal.SIGKILL)


def spawn(command: list[str], log: Path, cwd: Path = ROOT) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(command, stdout=output, stderr=output, cwd=cwd, start_new_session=True)


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{url}: the server exited with {process.returncode}; see {log}")
        try:
            if httpx.get(url, headers={"accept": NQUADS}, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise BenchError(f"{url} did not answer within {seconds} s; see {log}")


def started(server: Server, begin: float, wait_s: float) -> Server:
    """``server`` once its first fragment answers (timed from ``begin``) and its start has settled; stopped if
    it does not answer within ``wait_s``."""
    try:
        wait_for(server.fragments, server.process, server.log, wait_s)
    except BaseException:
        server.stop()
        raise
    server.first_answer_s = time.perf_counter() - begin
    settle(server.process, wait_s)
    return server


def start_spacegraph(data: Path, work: Path, wait_s: float) -> Server:
    port, log = free_port(), work / "spacegraph.log"
    command = [str(BIN / "spacegraph"), "serve", "--data", str(data), "--port", str(port)]
    begin = time.perf_counter()
    process = spawn([*command, "--access-log", "off", "--log-level", "warning"], log)
    server = Server(SPACEGRAPH, process, f"http://127.0.0.1:{port}/fragments", 0.0, log)
    return started(server, begin, wait_s)


def start_ldf(data: Path, work: Path, wait_s: float) -> Server:
    if not (LDF / "node_modules" / "@ldf" / "server").is_dir():
        raise BenchError(f"the LDF server is not installed: cd {LDF} && npm ci --ignore-scripts (make test does)")
    port, log = free_port(), work / "ldf-server.log"
    config = {
        "@context": "https://linkedsoftwaredependencies.org/bundles/npm/@ldf/server/^3.0.0/components/context.jsonld",
        "@id": "urn:ldf-server:my",
        "import": "preset-qpf:config-defaults.json",
        "title": "spacegraph",
        "baseURL": f"http://127.0.0.1:{port}/",
        "port": port,
        "datasources": [
            {
                "@id": "urn:ldf-server:spacegraph",
                "@type": "NTriplesDatasource",
                "datasourceTitle": "spacegraph",
                "description": f"spacegraph, from {data.name}",
                "datasourcePath": "spacegraph",
                "file": str(data),
            }
        ],
    }
    (work / "ldf-config.json").write_text(json.dumps(config, indent=2))
    begin = time.perf_counter()
    process = spawn(["node", str(LDF / "server.js"), str(work / "ldf-config.json")], log, cwd=LDF)
    server = Server(LDF_SERVER, process, f"http://127.0.0.1:{port}/spacegraph", 0.0, log)
    return started(server, begin, wait_s)


def triples_of(source: Path, target: Path) -> int:
    """The union of ``source``'s graphs as N-Triples (sorted, each triple once), for both servers."""
    triples = sorted({quad.triple for quad in ox.parse(path=source, rename_blank_nodes=False)}, key=str)
    target.write_bytes(ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b"")
    return len(triples)


# --- Comunica -------------------------------------------------------------------------------------------


@dataclass
class QueryRun:
    query: str
    ms: float
    requests: int
    rows: list[str]
    urls: list[str]


def comunica(server: Server, queries: list[Path], timeout: float) -> list[QueryRun]:
    """Each query run twice in one process; the second runs, timed."""
    command = ["node", str(COMUNICA), "--type", "auto", "--repeat", "2", server.fragments, *map(str, queries)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired as error:
        raise BenchError(f"Comunica did not finish within {timeout:g} s against {server.name}") from error
    if done.returncode != 0:
        raise BenchError(f"Comunica failed against {server.name}: {done.stderr[-1000:]}")
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    runs = []
    for first, second in zip(answers[0::2], answers[1::2], strict=True):
        rows = sorted(json.dumps(row, sort_keys=True) for row in second["rows"])
        assert sorted(json.dumps(row, sort_keys=True) for row in first["rows"]) == rows
        runs.append(QueryRun(Path(second["file"]).stem, second["ms"], second["requests"], rows, second["urls"]))
    return runs


# --- pages per second ----------------------------------------------------------------------------------


@dataclass
class Pages:
    workload: str
    mode: str  # new, repeated
    server: str
    per_s: float
    median_ms: float
    answers: int
    errors: int


def page_paths(server: Server, query_strings: list[str]) -> list[str]:
    return [server.path + ("?" + query if query else "") for query in query_strings]


def check_pages(server: Server, query_strings: list[str]) -> None:
    """Every page answers 200 before it is measured."""
    with httpx.Client(timeout=60) as client:
        for query in query_strings:
            url = server.origin + server.path + ("?" + query if query else "")
            response = client.get(url, headers={"accept": NQUADS})
            if response.status_code != 200:
                raise BenchError(f"{server.name}: {url} answered {response.status_code}: {response.text[:200]}")


def measure_pages(
    wrk: str, server: Server, workload: str, query_strings: list[str], options: argparse.Namespace
) -> list[Pages]:
    paths = page_paths(server, query_strings)
    out = []
    for mode in ("new", "repeated"):
        unique = mode == "new"
        single, many = (
            run(wrk, server.origin + "/", NQUADS, connections=connections, seconds=options.seconds,
                timeout=options.timeout, unique=unique, paths=paths)
            for connections in (1, 8)
        )  # fmt: skip
        errors = single.errors + many.errors
        out.append(Pages(workload, mode, server.name, many.per_second(), single.median_ms, many.answers, errors))
    return out


def last_page(server: Server, size: int) -> int:
    """The default graph's fragment's page count, from the first page's count (void:triples)."""
    response = httpx.get(f"{server.fragments}?graph={quote(DEFAULT_GRAPH, safe='')}", headers={"accept": NQUADS})
    counts = [
        int(quad.object.value)
        for quad in ox.parse(response.content, format=ox.RdfFormat.N_QUADS)
        if quad.predicate.value == "http://rdfs.org/ns/void#triples" and str(quad.graph_name).endswith("#metadata>")
    ]
    if len(counts) != 1:
        raise BenchError(f"{server.name}: the default graph's fragment has {len(counts)} counts")
    return max(1, -(-counts[0] // size))


# --- the run -------------------------------------------------------------------------------------------------


def ldf_version() -> str:
    try:
        return str(json.loads((LDF / "node_modules" / "@ldf" / "server" / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "not installed"


def node_version() -> str:
    try:
        return subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def table(lines: list[list[str]], columns: list[str]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(columns, *lines, strict=True)]
    rows = [columns, ["-" * width for width in widths], *lines]
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]


def markdown(lines: list[list[str]], columns: list[str]) -> list[str]:
    return ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)] + [
        "| " + " | ".join(line) + " |" for line in lines
    ]


def ms(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2f}"


def report(runs: dict[str, list[list[QueryRun]]], pages: list[Pages]) -> tuple[list[str], list[str]]:
    """The text table and its Markdown: Comunica's times, then pages per second, with the ratios."""
    columns = ["query", "spacegraph ms", "requests", "LDF server ms", "requests", "LDF ÷ spacegraph"]
    lines = []
    for position, query in enumerate(each.query for each in runs[SPACEGRAPH][0]):
        ours = statistics.median(rounds[position].ms for rounds in runs[SPACEGRAPH])
        theirs = statistics.median(rounds[position].ms for rounds in runs[LDF_SERVER])
        lines.append([query, f"{ours:.0f}", str(runs[SPACEGRAPH][0][position].requests), f"{theirs:.0f}",
                      str(runs[LDF_SERVER][0][position].requests), f"{theirs / ours:.2f}"])  # fmt: skip
    page_columns = ["pages", "mode", "spacegraph pages/s", "median ms", "LDF server pages/s", "median ms",
                    "spacegraph ÷ LDF"]  # fmt: skip
    page_lines = []
    for workload in dict.fromkeys(p.workload for p in pages):
        for mode in ("new", "repeated"):
            ours_p = next(p for p in pages if (p.workload, p.mode, p.server) == (workload, mode, SPACEGRAPH))
            theirs_p = next(p for p in pages if (p.workload, p.mode, p.server) == (workload, mode, LDF_SERVER))
            ratio = f"{ours_p.per_s / theirs_p.per_s:.2f}" if theirs_p.per_s else "—"
            page_lines.append([workload, mode, f"{ours_p.per_s:,.0f}", ms(ours_p.median_ms),
                               f"{theirs_p.per_s:,.0f}", ms(theirs_p.median_ms), ratio])  # fmt: skip
    text = [*table(lines, columns), "", *table(page_lines, page_columns)]
    md = [*markdown(lines, columns), "", *markdown(page_lines, page_columns)]
    return text, md


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fragments", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="RDF to serve (default: dist/spacegraph.nt)")
    parser.add_argument("--size", type=int, default=None, help="generate a graph of this many quads")
    parser.add_argument("--queries", nargs=2, default=list(DEFAULT_QUERIES), help="two of queries/*.rq, by name")
    parser.add_argument("--rounds", type=int, default=3, help="Comunica runs per server (median)")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each wrk run (whole seconds)")
    parser.add_argument("--timeout", type=float, default=60.0, help="per request, s")
    parser.add_argument("--start-timeout", type=float, default=600.0, help="per server, start to first answer")
    parser.add_argument("--output", type=Path, default=RESULTS, help="folder of the Markdown file")
    parser.add_argument("--label", default=None, help="file name of the results (default: from the data)")
    options = parser.parse_args(argv)
    if options.data is not None and options.size is not None:
        parser.error("--data and --size exclude each other")
    if not (1 <= options.rounds <= 50 and 0 < options.seconds <= 600 and 0 < options.timeout <= 600):
        parser.error("--rounds, --seconds or --timeout is out of its range")
    queries = [QUERIES / f"{name.removesuffix('.rq')}.rq" for name in options.queries]
    for query in queries:
        if not query.is_file():
            parser.error(f"no query {query.name} in {QUERIES}")
    wrk = find()
    if wrk is None:
        parser.error("wrk is needed: apt-get install wrk (make test installs it)")
    with tempfile.TemporaryDirectory(prefix="bench-fragments-") as scratch:
        work = Path(scratch)
        if options.size is not None:
            source = work / f"generated-{options.size}.nq"
            generate(options.size, source)
            label = options.label or f"generated-{options.size}"
        else:
            source = options.data or ROOT / "dist" / "spacegraph.nt"
            if not source.is_file():
                parser.error(f"{source} is missing: run `.venv/bin/spacegraph build` or pass --data")
            label = options.label or ("real" if options.data is None else source.stem)
        data = work / "data.nt"
        triples = triples_of(source, data)
        found = {**versions(), "@ldf/server": ldf_version(), "Node.js": node_version(), "wrk": wrk_version(wrk)}
        date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        header = [
            f"fragments-{label}: {triples} triples ({source.name}, as N-Triples: the union of its graphs)",
            f"date: {date}",
            f"machine: {machine()}",
            "versions: " + ", ".join(f"{name} {value}" for name, value in found.items()),
            f"Comunica: queries {', '.join(q.stem for q in queries)}, each run twice per process, the second "
            f"timed; median of {options.rounds} rounds, the servers' order alternating",
            f"pages: wrk, Accept: {NQUADS}, concurrency 8 for {whole_seconds(options.seconds)} s (pages/s) and 1 "
            f"for {whole_seconds(options.seconds)} s (median); new: every URL with an ignored parameter no "
            "cache has seen; repeated: the same URLs in turn",
        ]
        print("\n".join(header), flush=True)
        servers: dict[str, Server] = {}
        try:
            servers[SPACEGRAPH] = start_spacegraph(data, work, options.start_timeout)
            servers[LDF_SERVER] = start_ldf(data, work, options.start_timeout)
            for server in servers.values():
                print(f"{server.name}: first answer after {server.first_answer_s:.2f} s", flush=True)
            runs: dict[str, list[list[QueryRun]]] = {SPACEGRAPH: [], LDF_SERVER: []}
            for round_ in range(options.rounds):
                order = [SPACEGRAPH, LDF_SERVER] if round_ % 2 == 0 else [LDF_SERVER, SPACEGRAPH]
                for name in order:
                    runs[name].append(comunica(servers[name], queries, options.timeout * 10))
            for position, query in enumerate(queries):
                ours, theirs = runs[SPACEGRAPH][0][position].rows, runs[LDF_SERVER][0][position].rows
                if ours != theirs or not ours:
                    raise BenchError(f"{query.name}: Comunica's answers differ between the servers (or are empty)")
            asked = list(dict.fromkeys(urlsplit(url).query for run in runs[SPACEGRAPH][0] for url in run.urls))
            last = last_page(servers[SPACEGRAPH], 100)
            crawl = [f"graph={quote(DEFAULT_GRAPH, safe='')}&page={n}" for n in range(1, last + 1)]
            pages: list[Pages] = []
            for workload, query_strings in ((f"Comunica's {len(asked)}", asked), (f"whole graph, {len(crawl)}", crawl)):
                for server in servers.values():
                    check_pages(server, query_strings)
                    pages += measure_pages(wrk, server, workload, query_strings, options)
            memory = {name: server.pss_mib() for name, server in servers.items()}
        except (BenchError, WrkError) as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(1)
        finally:
            for server in servers.values():
                server.stop()
    text, md = report(runs, pages)
    notes = [
        f"{name}: first answer {servers[name].first_answer_s:.2f} s, {memory[name]:.0f} MiB PSS" for name in servers
    ]
    print("\n" + "\n".join(text) + "\n\n" + "; ".join(notes))
    options.output.mkdir(parents=True, exist_ok=True)
    target = options.output / f"fragments-{label}.md"
    lines = [f"<!-- {line} -->" for line in header] + ["", *md, "", "; ".join(notes), ""]
    target.write_text("\n".join(lines), encoding="utf-8")
    print(f"\nwrote {target}")
    errors = sum(p.errors for p in pages)
    if errors:
        print(f"error: {errors} failed requests", file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
