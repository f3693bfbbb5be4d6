"""The query backends: the embedded engine in killable worker processes, and a remote SPARQL endpoint
(a real ``oxigraph serve`` on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pyoxigraph as ox
import pytest
import uvloop

from spacegraph.config import Config
from spacegraph.engine import pool as pool_module
from spacegraph.engine.analysis import analyse
from spacegraph.engine.pool import WorkerPool
from spacegraph.engine.store import Backend, EmbeddedBackend, Job, QueryError, RemoteBackend
from spacegraph.engine.workers import Answer, Failure, Settings, data_files, evaluate, load_store
from spacegraph.errors import SpacegraphError
from tests.servers import oxigraph_server
from tests.support import (
    QUERIES,
    Listener,
    canonical,
    json_rows,
    multiset,
    reference_rows,
    reference_store,
)

T = TypeVar("T")
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"  # 1860³ solutions
SIMPLE = "SELECT (COUNT(*) AS ?n) WHERE { ?s a ?type }"


def run(make: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(make())  # type: ignore[arg-type]


async def started(backend: Backend) -> Backend:
    await backend.start()
    return backend


def rows(answer_body: bytes) -> list[dict[str, tuple[str, str, str | None, str | None]]]:
    return json_rows(answer_body)


# --- the embedded engine


def test_a_runaway_query_is_killed_at_the_limit_while_others_are_answered(nquads: Path) -> None:
    async def scenario() -> tuple[QueryError, float, list[float], int, int | None]:
        backend = EmbeddedBackend(Config(data=(nquads,), timeout=1.0, query_workers=2))
        await backend.start()
        try:
            pids = {worker.pid for worker in backend.pool.workers}
            start = time.monotonic()
            runaway = asyncio.create_task(backend.query(Job(analyse(RUNAWAY), results_format="json")))
            await asyncio.sleep(0)  # let it take a worker first
            latencies = []
            while not runaway.done():  # the other worker keeps answering
                begin = time.monotonic()
                await backend.query(Job(analyse(SIMPLE), results_format="json", max_rows=10))
                latencies.append(time.monotonic() - begin)
            try:
                await runaway
            except QueryError as caught:
                error = caught
            elapsed = time.monotonic() - start
            killed = next(w for w in pids if w not in {x.pid for x in backend.pool.workers})
            await backend.query(Job(analyse(SIMPLE), results_format="json"))  # the pool is whole again…
            deadline = time.monotonic() + 10
            while len(backend.pool.workers) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            with_replacement = len(backend.pool.workers)
            exit_code = None
            for _ in range(100):  # its zygote reaps it within milliseconds
                try:
                    os.kill(killed, 0)
                except ProcessLookupError:
                    exit_code = -9
                    break
                await asyncio.sleep(0.05)
            return error, elapsed, latencies, with_replacement, exit_code
        finally:
            await backend.close()

    error, elapsed, latencies, workers, exit_code = asyncio.run(scenario())
    assert error.kind == "timeout" and "longer than 1 s" in error.message
    assert 1.0 <= elapsed < 2.5
    assert len(latencies) >= 10 and sorted(latencies)[len(latencies) // 2] < 0.05
    assert workers == 2
    assert exit_code == -9  # the runaway's process is gone


def test_busy_when_no_worker_frees_in_time(nquads: Path) -> None:
    async def scenario() -> str:
        pool = WorkerPool(Settings(data=(str(nquads),)), 1, 60)
        await pool.start()
        try:
            held = await pool.acquire(1.0)  # the only worker, taken
            try:
                await pool.run(Job(analyse(SIMPLE), results_format="json"), timeout=0.2)
            except QueryError as error:
                return error.kind
            finally:
                pool.release(held)
            return "answered"
        finally:
            await pool.close()

    assert asyncio.run(scenario()) == "busy"


def test_a_dead_worker_is_reported_and_replaced(nquads: Path) -> None:
    async def scenario() -> tuple[str, str, bytes]:
        backend = EmbeddedBackend(Config(data=(nquads,), query_workers=1, worker_memory_mb=300))
        await backend.start()
        try:
            worker = next(iter(backend.pool.workers))
            os.kill(worker.pid, signal.SIGKILL)
            await worker.exited
            try:
                await backend.query(Job(analyse(SIMPLE), results_format="json"))
                first = "answered"
            except QueryError as error:
                first = error.kind
            hungry = "SELECT ?a ?b ?c ?d WHERE { ?a ?b ?c . ?d ?e ?f } ORDER BY ?a ?d ?f ?c LIMIT 1"
            try:
                await backend.query(Job(analyse(hungry), results_format="json"))
                memory = "answered"
            except QueryError as error:
                memory = error.message
            answer = await backend.query(Job(analyse("ASK {}"), results_format="json"))
            return first, memory, answer.body
        finally:
            await backend.close()

    first, memory, body = asyncio.run(scenario())
    assert first == "failed"
    assert memory == "the query needed more memory than an evaluation process may use (300 MB)"
    assert body == b'{"head":{},"boolean":true}'


def test_data_from_files_and_folders(nquads: Path, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "extra.ttl").write_text("<https://example.org/a> <https://example.org/b> 'c' .\n")
    (folder / "graph.nq").write_bytes(nquads.read_bytes())
    (folder / "notes.txt").write_text("not RDF")
    assert data_files([folder]) == [folder / "graph.nq", folder / "sub" / "extra.ttl"]

    async def summary() -> tuple[int, int]:
        backend = await started(EmbeddedBackend(Config(data=(folder,), query_workers=1)))
        try:
            info = await backend.summary()
            return info.default_triples, len(info.graphs)
        finally:
            await backend.close()

    store = reference_store(nquads)
    assert asyncio.run(summary()) == (len({q.triple for q in store}) + 1, len(list(store.named_graphs())))
    with pytest.raises(SpacegraphError, match="no such file"):
        data_files([tmp_path / "missing.nq"])
    with pytest.raises(SpacegraphError, match="not a file extension"):
        data_files([folder / "notes.txt"])


def test_broken_data_stops_the_start_with_its_place(tmp_path: Path) -> None:
    broken = tmp_path / "broken.nq"
    broken.write_text('<https://example.org/a> <https://example.org/b> "c" .\n<https://example.org/a> oops .\n')

    async def start() -> None:
        backend = EmbeddedBackend(Config(data=(broken,), query_workers=2))
        await backend.start()
        await backend.close()

    with pytest.raises(SpacegraphError) as raised:
        asyncio.run(start())
    assert str(raised.value) == f"{broken}:2:25: The predicate of a triple must be an IRI"


# --- a remote endpoint: a real Oxigraph server


@pytest.fixture(scope="module")
def oxigraph(tmp_path_factory: pytest.TempPathFactory, nquads: Path) -> Iterator[str]:
    location = tmp_path_factory.mktemp("oxigraph")
    with oxigraph_server(location, "--union-default-graph") as base:
        response = httpx.post(
            f"{base}/store", content=nquads.read_bytes(), headers={"Content-Type": "application/n-quads"}, timeout=30
        )
        assert response.status_code in (200, 201, 204), response.text
        yield base


def remote_config(endpoint: str, **options: object) -> Config:
    return Config(endpoint=endpoint, timeout=float(options.pop("timeout", 5.0)), **options)  # type: ignore[arg-type]


def test_remote_answers_like_the_embedded_engine(oxigraph: str, nquads: Path) -> None:
    reference = reference_store(nquads)
    graph = "https://w3id.org/spacegraph/graph/ontology"
    construct = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"

    async def answers() -> tuple[list[bytes], bytes, bytes, str]:
        backend = await started(RemoteBackend(remote_config(f"{oxigraph}/query", max_rows=100)))
        try:
            selects = [await backend.query(Job(analyse(q.read_text()), results_format="json")) for q in QUERIES]
            as_turtle = await backend.query(Job(analyse(construct), rdf_format="turtle"))
            as_quads = await backend.query(Job(analyse(construct), rdf_format="nquads", graph_name=graph))
            try:
                await backend.query(Job(analyse("SELECT * WHERE { ?s ?p ?o }"), results_format="json", max_rows=100))
                too_many = "answered"
            except QueryError as error:
                too_many = error.kind
            return [a.body for a in selects], as_turtle.body, as_quads.body, too_many
        finally:
            await backend.close()

    selects, as_turtle, as_quads, too_many = asyncio.run(answers())
    assert len(selects) == len(QUERIES) >= 5
    for query, body in zip(QUERIES, selects, strict=True):
        assert multiset(rows(body)) == multiset(reference_rows(reference, query.read_text())), query.name
    expected = canonical(reference.query(construct))
    assert canonical(t.triple for t in ox.parse(as_turtle, format=ox.RdfFormat.TURTLE)) == expected
    named = canonical(reference.quads_for_pattern(None, None, None, ox.NamedNode(graph)))
    assert canonical(ox.parse(as_quads, format=ox.RdfFormat.N_QUADS)) == named
    assert too_many == "too-large"


def test_remote_answers_are_passed_on_as_they_come_within_the_row_limit(oxigraph: str) -> None:
    """An answer in the format asked, whose rows are bounded within the limit by the bytes each row is
    written with (``store.within``), is passed on byte for byte; at the limit its rows are counted."""
    query = "SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o LIMIT 40"
    direct = {
        fmt: httpx.post(f"{oxigraph}/query", data={"query": query}, headers={"Accept": media}).content
        for fmt, media in (("json", "application/sparql-results+json"), ("tsv", "text/tab-separated-values"))
    }
    triples = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o LIMIT 40"
    direct["ntriples"] = httpx.post(
        f"{oxigraph}/query", data={"query": triples}, headers={"Accept": "application/n-triples"}
    ).content

    async def answers() -> dict[str, object]:
        backend = await started(RemoteBackend(remote_config(f"{oxigraph}/query")))
        found: dict[str, object] = {}
        try:
            for fmt in ("json", "tsv"):
                found[fmt] = (await backend.query(Job(analyse(query), results_format=fmt, max_rows=1000))).body
                for limit in (40, 39):  # the bound passed: the rows are counted
                    try:
                        await backend.query(Job(analyse(query + f" #{limit}"), results_format=fmt, max_rows=limit))
                        found[f"{fmt} {limit}"] = "answered"
                    except QueryError as error:
                        found[f"{fmt} {limit}"] = error.kind
            found["ntriples"] = (await backend.query(Job(analyse(triples), rdf_format="ntriples", max_rows=1000))).body
        finally:
            await backend.close()
        return found

    found = asyncio.run(answers())
    assert found["json"] == direct["json"] and found["tsv"] == direct["tsv"] and found["ntriples"] == direct["ntriples"]
    assert [found[f"{fmt} {limit}"] for fmt in ("json", "tsv") for limit in (40, 39)] == ["answered", "too-large"] * 2


def test_remote_service_is_refused_before_it_is_forwarded(oxigraph: str) -> None:
    with Listener() as listener:
        query = f"SELECT * WHERE {{ SERVICE SILENT <http://127.0.0.1:{listener.port}/sparql> {{ ?s ?p ?o }} }}"

        async def ask() -> str:
            backend = await started(RemoteBackend(remote_config(f"{oxigraph}/query")))
            try:
                await backend.query(Job(analyse(query), results_format="json"))
                return "forwarded"
            except QueryError as error:
                return error.kind
            finally:
                await backend.close()

        assert asyncio.run(ask()) == "refused"
        assert listener.connections == 0
        # the control: Oxigraph's own server, asked directly, does connect
        httpx.post(f"{oxigraph}/query", data={"query": query}, timeout=10)
        deadline = time.monotonic() + 5
        while listener.connections == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert listener.connections >= 1


def test_remote_errors(oxigraph: str) -> None:
    async def kinds() -> list[tuple[str, str]]:
        backend = await started(RemoteBackend(remote_config(f"{oxigraph}/query")))
        found = []
        try:
            for query in ("SELECT * WHERE { ?s ?p ", "INSERT DATA { <x:a> <x:b> <x:c> }"):
                try:
                    await backend.query(Job(analyse(query), results_format="json"))
                except QueryError as error:
                    found.append((error.kind, error.message))
        finally:
            await backend.close()
        return found

    (syntax, syntax_message), (update, update_message) = asyncio.run(kinds())
    assert syntax == "syntax" and "error at 1:" in syntax_message
    assert update == "read-only" and "read-only" in update_message


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("situation", ["refused", "silent"])
def test_remote_that_cannot_answer_gives_a_clear_error_in_bounded_time(situation: str) -> None:
    """A closed port: 'unavailable' at once. A server that accepts and never answers: 'timeout'."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1] if situation == "silent" else closed_port()

    async def ask() -> tuple[str, str, float]:
        backend = await started(RemoteBackend(remote_config(f"http://127.0.0.1:{port}/sparql", timeout=1.0)))
        begin = time.monotonic()
        try:
            await backend.query(Job(analyse(SIMPLE), results_format="json"))
            return "answered", "", 0.0
        except QueryError as error:
            return error.kind, error.message, time.monotonic() - begin
        finally:
            await backend.close()

    try:
        kind, message, elapsed = asyncio.run(ask())
    finally:
        silent.close()
    if situation == "refused":
        assert kind == "unavailable" and message.startswith(f"cannot reach the SPARQL endpoint http://127.0.0.1:{port}")
        assert elapsed < 1.0
    else:
        assert kind == "timeout" and "did not answer within 1 s" in message
        assert 1.0 <= elapsed < 2.0


def test_the_pool_closes_every_process(nquads: Path) -> None:
    async def scenario() -> list[int]:
        pool = WorkerPool(Settings(data=(str(nquads),)), 2, 60)
        await pool.start()
        assert pool.zygote is not None and pool.zygote.process is not None
        pids = [worker.pid for worker in pool.workers] + [pool.zygote.process.pid]
        await pool.close()
        return pids

    for pid in asyncio.run(scenario()):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def descendants(pid: int | None = None) -> set[int]:
    """This process's descendants: its children, theirs, and so on (Linux /proc)."""
    found: set[int] = set()
    tasks = Path(f"/proc/{pid or os.getpid()}/task")
    with contextlib.suppress(FileNotFoundError):
        for task in tasks.iterdir():
            for child in map(int, (task / "children").read_text().split()):
                found |= {child} | descendants(child)
    return found


def test_the_pool_closes_a_replacement_that_is_still_starting(nquads: Path) -> None:
    """A worker killed at the time limit is replaced in the background; a pool closed while the
    replacement is being forked must stop it too. On uvloop, the server's event loop, one left running
    kept the loop from closing: uvicorn's shutdown hung. The zygote is held stopped while the pool asks it
    for the replacement and starts closing, so the fork ends only after ``close`` has begun."""

    async def scenario() -> set[int]:
        others = descendants()
        pool = WorkerPool(Settings(data=(str(nquads),)), 1, 60)
        try:
            await pool.start()
            assert pool.zygote is not None and pool.zygote.process is not None
            zygote = pool.zygote.process.pid
            os.kill(zygote, signal.SIGSTOP)
            try:
                pool.replace(pool.idle.pop())  # as at the time limit: killed, and a replacement asked for
                closing = asyncio.create_task(pool.close())
                await asyncio.sleep(0.2)
                assert not closing.done() and not pool.workers  # closing, the replacement not forked yet
            finally:
                with contextlib.suppress(ProcessLookupError):  # closed already, should close not wait
                    os.kill(zygote, signal.SIGCONT)
            await asyncio.wait_for(closing, 20)
        finally:
            await asyncio.wait_for(pool.close(), 20)  # whatever failed above, no process is left behind
        return descendants() - others

    assert not uvloop.run(scenario())


def test_a_worker_holding_too_much_memory_of_its_own_is_replaced(nquads: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers share the graph's pages with the zygote until they write to them; one that has come to hold
    more memory of its own than the pool's bound (a quarter of the graph's, at least 64 MiB) is replaced by
    a fresh fork. Here the bound is looked at after every job, and lowered so that any worker passes it."""
    monkeypatch.setattr(pool_module, "CHECK_EVERY", 1)

    async def scenario() -> tuple[float, bool, int, int]:
        pool = WorkerPool(Settings(data=(str(nquads),)), 1, 60)
        await pool.start()
        try:
            bound = pool.recycle_mib
            (first,) = {worker.pid for worker in pool.workers}
            await pool.run(Job(analyse(SIMPLE), results_format="json"), 10)
            await asyncio.wait(list(pool.tasks), timeout=10)
            kept = {worker.pid for worker in pool.workers} == {first}
            pool.recycle_mib = 0.001
            await pool.run(Job(analyse(SIMPLE), results_format="json"), 10)
            deadline = asyncio.get_running_loop().time() + 10
            while (
                first in {w.pid for w in pool.workers} or not pool.idle
            ) and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            answer = await pool.run(Job(analyse(SIMPLE), results_format="json"), 10)  # the new one answers
            assert isinstance(answer, Answer)
            return bound, kept, pool.retired, len({w.pid for w in pool.workers} - {first})
        finally:
            await pool.close()

    bound, kept, retired, fresh = asyncio.run(scenario())
    assert bound >= 64 and kept and retired >= 1 and fresh == 1


def test_a_worker_starts_without_asyncio_the_sources_or_an_http_client(nquads: Path) -> None:
    """What a query worker imports to load the graph, in a fresh interpreter: not the pool's asyncio side,
    nor the source loader (``graph.py``), nor httpx; it starts the sooner."""
    code = (
        "import sys\n"
        "from spacegraph.engine.security import die_with_parent, forbid_network\n"
        "from spacegraph.engine.workers import load_store, serve_forever\n"
        f"load_store([{str(nquads)!r}])\n"
        "print(' '.join(sys.modules))\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    unwanted = {
        "asyncio",
        "httpx",
        "rdflib",
        "spacegraph.publish.graph",
        "spacegraph.publish.links",
        "spacegraph.engine.pool",
    }
    assert not set(output.split()) & unwanted


def test_threads_are_not_left_behind(nquads: Path) -> None:
    before = threading.active_count()

    async def scenario() -> None:
        backend = await started(EmbeddedBackend(Config(data=(nquads,), query_workers=1)))
        await backend.query(Job(analyse(SIMPLE), results_format="json"))
        await backend.close()

    asyncio.run(scenario())
    assert threading.active_count() <= before + 1  # asyncio's child watcher thread may linger briefly


@pytest.mark.parametrize("fmt", ["json", "xml", "tsv", "csv"])
def test_the_row_limit_is_exact_in_every_results_format(tmp_path: Path, fmt: str) -> None:
    """Rows are counted as the answer is written (``workers.solutions_answer``), from markers that values
    cannot fake or that only bound the rows: values full of braces, tags, tabs and line breaks change
    nothing at the limit."""
    tricky = ['{"a":{"b":[{}]}}', "<result><binding/></result>", "tab\there", "line\nbreak", 'quote "q"', "{,}"]
    quads = [
        ox.Quad(ox.NamedNode(f"https://example.org/s{n}"), ox.NamedNode("https://example.org/p"),
                ox.Literal(f"{tricky[n % len(tricky)]}{n}"), ox.NamedNode("https://example.org/g"))
        for n in range(60)
    ]  # fmt: skip
    data = tmp_path / "tricky.nq"
    data.write_bytes(ox.serialize(quads, format=ox.RdfFormat.N_QUADS) or b"")
    store = load_store([str(data)])
    query = analyse("SELECT ?s ?o WHERE { ?s ?p ?o }")
    for limit, expected in ((60, "answer"), (59, "too-large"), (1000, "answer"), (1, "too-large")):
        reply = evaluate(store, Job(query, results_format=fmt, max_rows=limit), Settings(data=()))
        assert (reply.kind if isinstance(reply, Failure) else "answer") == expected, limit
        if isinstance(reply, Answer) and fmt != "csv":  # pyoxigraph does not read CSV results back
            rows = ox.parse_query_results(reply.body, format=RESULTS[fmt])
            assert isinstance(rows, ox.QuerySolutions) and len(list(rows)) == 60


RESULTS = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "tsv": ox.QueryResultsFormat.TSV,
}
