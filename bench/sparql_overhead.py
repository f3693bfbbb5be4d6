"""What the endpoint's safety costs: each query evaluated in a killable worker process, against the same
query evaluated in this process; then over HTTP; start-up to first answer; a runaway query beside others.

    .venv/bin/python bench/sparql_overhead.py [--runs 2000] [--data FILE.nq]

Every loop is bounded by its count; every server is started on a free port of 127.0.0.1 and stopped.
Prints medians (and p90) in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pyoxigraph as ox

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from spacegraph.config import Config  # noqa: E402
from spacegraph.engine.analysis import analyse  # noqa: E402
from spacegraph.engine.store import EmbeddedBackend, Job  # noqa: E402
from spacegraph.engine.workers import Settings, evaluate, load_store  # noqa: E402
from spacegraph.publish.graph import Sources, load  # noqa: E402
from spacegraph.web.app import create_app  # noqa: E402

QUERIES = {
    "ASK": "ASK { ?s ?p ?o }",
    "count": "SELECT (COUNT(*) AS ?n) WHERE { ?s a ?type }",
    "competency 01": (ROOT / "queries" / "01-who-met-in-tokyo.rq").read_text(),
    "1000 rows": "SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 1000",
}
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(len(ordered) * 0.9)]
    return f"median {statistics.median(ordered) * 1000:8.3f} ms   p90 {p90 * 1000:8.3f} ms"


def timed(action: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        begin = time.perf_counter()
        action()
        samples.append(time.perf_counter() - begin)
    return samples


def in_process(nquads: Path, runs: int) -> None:
    print("\n1. In this process (pyoxigraph: query + JSON serialisation), then with our checks and row count")
    plain = ox.Store()
    plain.bulk_load(path=nquads, format=ox.RdfFormat.N_QUADS)
    ours = load_store([str(nquads)])
    settings = Settings(data=())
    for name, query in QUERIES.items():

        def direct(query: str = query) -> object:
            result = plain.query(query, use_default_graph_as_union=True)
            assert not isinstance(result, ox.QueryTriples)
            return result.serialize(format=ox.QueryResultsFormat.JSON)

        def checked(query: str = query) -> object:
            return evaluate(ours, Job(analyse(query), results_format="json", max_rows=10_000), settings)

        print(f"   {name:<14} pyoxigraph     {summary(timed(direct, runs))}")
        print(f"   {name:<14} + evaluate()   {summary(timed(checked, runs))}")


def in_workers(nquads: Path, runs: int) -> None:
    print("\n2. The same, sent to a worker process and back (pickle over a pipe)")

    async def measure() -> None:
        backend = EmbeddedBackend(Config(data=(nquads,), query_workers=2))
        await backend.start()
        try:
            for name, query in QUERIES.items():
                samples = []
                for _ in range(runs):
                    begin = time.perf_counter()
                    await backend.query(Job(analyse(query), results_format="json", max_rows=10_000))
                    samples.append(time.perf_counter() - begin)
                print(f"   {name:<14} worker         {summary(samples)}")
        finally:
            await backend.close()

    asyncio.run(measure())


class Server:
    """uvicorn in a thread on a free port (IPPROTO_TCP, so that asyncio sets TCP_NODELAY)."""

    def __init__(self, config: Config) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/sparql"
        self.server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


def over_http(nquads: Path, runs: int) -> None:
    print("\n3. Over HTTP (uvicorn, httpx keep-alive client, GET)")
    with Server(Config(data=(nquads,))) as server, httpx.Client(timeout=30) as client:
        counter = iter(range(10**9))
        for name, query in QUERIES.items():

            def uncached_query(query: str = query) -> object:
                return client.get(server.url, params={"query": f"{query}\n# {next(counter)}"})

            def cached_query(query: str = query) -> object:
                return client.get(server.url, params={"query": query})

            uncached = timed(uncached_query, runs)
            cached = timed(cached_query, runs)
            print(f"   {name:<14} evaluated      {summary(uncached)}")
            print(f"   {name:<14} from the cache {summary(cached)}")


def runaway(nquads: Path, runs: int) -> None:
    print("\n4. A runaway query (timeout 10 s) beside a client sending simple queries, 2 query workers")
    with Server(Config(data=(nquads,), timeout=10)) as server, httpx.Client(timeout=30) as client:
        counter = iter(range(10**9))

        def simple() -> object:
            return client.get(server.url, params={"query": f"{QUERIES['count']}\n# {next(counter)}"})

        alone = timed(simple, runs)
        outcome: dict[str, float | int] = {}

        def run_away() -> None:
            begin = time.perf_counter()
            with httpx.Client(timeout=60) as own:
                outcome["status"] = own.get(server.url, params={"query": RUNAWAY}).status_code
            outcome["seconds"] = time.perf_counter() - begin

        thread = threading.Thread(target=run_away)
        thread.start()
        time.sleep(0.2)  # let it start
        beside: list[float] = []
        while thread.is_alive() and len(beside) < 20 * runs:
            beside.extend(timed(simple, 1))
        thread.join(60)
        print(f"   simple query alone          {summary(alone)}")
        print(f"   beside the runaway          {summary(beside)}   ({len(beside)} queries)")
        print(f"   runaway: HTTP {outcome['status']} after {outcome['seconds']:.2f} s")


def startup(nquads: Path, repeats: int = 5) -> None:
    print("\n5. `spacegraph serve --data …`: from the command to the first answer")
    samples = []
    for _ in range(repeats):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        command = [str(Path(sys.executable).parent / "spacegraph"), "serve", "--data", str(nquads)]
        begin = time.perf_counter()
        process = subprocess.Popen([*command, "--port", str(port), "--log-level", "warning"], stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/sparql", params={"query": "ASK {}"}, timeout=2)
                    break
                except httpx.TransportError:
                    time.sleep(0.005)
            samples.append(time.perf_counter() - begin)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
    print(f"   first answer                {summary(samples)}   ({repeats} starts)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000, help="queries per measure (default 2000)")
    parser.add_argument("--data", type=Path, help="N-Quads file (default: the project's graph, loaded now)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        nquads = args.data
        if nquads is None:
            nquads = Path(folder) / "spacegraph.nq"
            nquads.write_bytes(ox.serialize(load(Sources.in_project()).store, format=ox.RdfFormat.N_QUADS) or b"")
        quads = sum(1 for _ in ox.parse(path=nquads, format=ox.RdfFormat.N_QUADS))
        machine = f"{platform.node()}, {platform.machine()}, Python {platform.python_version()}"
        print(f"spacegraph endpoint overhead — {machine}")
        print(f"data: {nquads.name}, {quads} quads; {args.runs} runs per measure")
        in_process(nquads, args.runs)
        in_workers(nquads, args.runs)
        over_http(nquads, max(args.runs // 4, 50))
        runaway(nquads, max(args.runs // 10, 50))
        startup(nquads)


if __name__ == "__main__":
    main()
