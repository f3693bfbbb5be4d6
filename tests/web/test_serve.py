"""The endpoint over real HTTP, on a real uvicorn on 127.0.0.1, used by real clients: SPARQLWrapper,
rdflib's SPARQLStore, the Comunica engine (Node.js) and an Oxigraph server federating into it with
SERVICE. Each runs the competency queries (queries/*.rq) and must get the embedded engine's answers.
Then: a runaway query does not slow the others down, and ``spacegraph serve`` itself."""

from __future__ import annotations

import http.client
import json
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pyoxigraph as ox
import pytest
import rdflib
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import JSON, POST, TURTLE, SPARQLWrapper

from spacegraph import PROJECT_ROOT
from spacegraph.config import DATASET_IRI, Config
from spacegraph.engine.analysis import tokens
from spacegraph.web.app import create_app
from tests.servers import oxigraph_server
from tests.support import (
    QUERIES,
    Row,
    canonical,
    comunica_term,
    free_port,
    json_rows,
    multiset,
    rdflib_term,
    reference_rows,
    running,
)

NODE = shutil.which("node")
COMUNICA_SCRIPT = PROJECT_ROOT / "tests" / "node" / "comunica-select.mjs"
COMUNICA_CLI = PROJECT_ROOT / "node_modules" / "@comunica" / "query-sparql" / "bin" / "query.js"
SPACEGRAPH = Path(sys.executable).parent / "spacegraph"
TIMEOUT = 2.0
SIMPLE = "SELECT (COUNT(*) AS ?n) WHERE {{ ?s a ?type }} # {}"  # the comment defeats the answer cache
VOID = "http://rdfs.org/ns/void#"
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


@pytest.fixture(scope="module")
def endpoint(nquads: Path) -> Iterator[str]:
    with running(create_app(Config(data=(nquads,), timeout=TIMEOUT))) as base:
        yield f"{base}/sparql"


def test_there_are_competency_queries() -> None:
    assert len(QUERIES) >= 5


@pytest.mark.parametrize("query", QUERIES, ids=lambda path: path.stem)
def test_sparqlwrapper(endpoint: str, reference: ox.Store, query: Path) -> None:
    text = query.read_text()
    client = SPARQLWrapper(endpoint)
    client.setQuery(text)
    client.setReturnFormat(JSON)
    by_get = client.queryAndConvert()
    client.setMethod(POST)
    by_post = client.queryAndConvert()
    expected = reference_rows(reference, text)
    assert json_rows(by_get) == json_rows(by_post) == expected  # type: ignore[arg-type]
    assert expected  # every competency query has an answer


def test_sparqlwrapper_construct(endpoint: str, reference: ox.Store) -> None:
    query = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH <https://w3id.org/spacegraph/graph/enrichment> { ?s ?p ?o } }"
    client = SPARQLWrapper(endpoint)
    client.setQuery(query)
    client.setReturnFormat(TURTLE)
    turtle = client.queryAndConvert()
    assert isinstance(turtle, bytes)
    got = canonical(t.triple for t in ox.parse(turtle, format=ox.RdfFormat.TURTLE))
    assert got == canonical(reference.query(query)) and len(got) > 10


@pytest.mark.parametrize("query", QUERIES, ids=lambda path: path.stem)
def test_rdflib_sparqlstore(endpoint: str, reference: ox.Store, query: Path) -> None:
    store = SPARQLStore(query_endpoint=endpoint, returnFormat="xml")
    text = query.read_text()
    result = store.query(text)
    got: list[Row] = [
        {str(name): rdflib_term(value) for name, value in row.asdict().items()}  # type: ignore[union-attr]
        for row in result
    ]
    assert got == reference_rows(reference, text)


def test_comunica(endpoint: str, reference: ox.Store) -> None:
    """Comunica 4.5 (its engine and its command line); 5.x needs Node.js >= 22.19 through undici 8."""
    assert NODE is not None, "Node.js is needed (make test installs the npm packages it runs)"
    command = [NODE, str(COMUNICA_SCRIPT), endpoint, *map(str, QUERIES)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [answer["file"] for answer in answers] == list(map(str, QUERIES))
    for query, answer in zip(QUERIES, answers, strict=True):
        rows = [{name: comunica_term(value) for name, value in row.items()} for row in answer["rows"]]
        assert multiset(rows) == multiset(reference_rows(reference, query.read_text())), query.name
    # and its command line, once
    cli = [NODE, str(COMUNICA_CLI), f"sparql@{endpoint}", "-f", str(QUERIES[0])]
    cli += ["-t", "application/sparql-results+json"]
    printed = subprocess.run(cli, capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT)
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert multiset(json_rows(printed.stdout)) == multiset(reference_rows(reference, QUERIES[0].read_text()))


def federated(query: str, endpoint: str) -> str:
    """The query, its prologue kept, with everything else run inside SERVICE <endpoint> as a subquery."""
    stream = tokens(query)
    index = 0
    while index < len(stream) and stream[index][1].lower() in ("prefix", "base"):
        index += 3 if stream[index][1].lower() == "prefix" else 2
    start = stream[index][2]
    return f"{query[:start]}SELECT * WHERE {{ SERVICE <{endpoint}> {{ {query[start:]} }} }}"


def test_oxigraph_federates_into_ours(endpoint: str, reference: ox.Store, tmp_path: Path) -> None:
    with oxigraph_server(tmp_path / "oxigraph") as base:
        for query in QUERIES:
            text = query.read_text()
            response = httpx.post(
                f"{base}/query",
                data={"query": federated(text, endpoint)},
                headers={"Accept": "application/sparql-results+json"},
                timeout=30,
            )
            assert response.status_code == 200, (query.name, response.text)
            assert multiset(json_rows(response.content)) == multiset(reference_rows(reference, text)), query.name


def test_a_runaway_query_does_not_slow_the_others(endpoint: str) -> None:
    with httpx.Client(timeout=30) as client:

        def simple(i: int) -> float:
            begin = time.perf_counter()
            response = client.get(endpoint, params={"query": SIMPLE.format(i)})
            assert response.status_code == 200
            return time.perf_counter() - begin

        baseline = statistics.median(simple(i) for i in range(40))
        outcome: dict[str, object] = {}

        def runaway() -> None:
            begin = time.perf_counter()
            with httpx.Client(timeout=30) as own:
                response = own.get(endpoint, params={"query": RUNAWAY})
            outcome["status"], outcome["text"] = response.status_code, response.text
            outcome["seconds"] = time.perf_counter() - begin

        thread = threading.Thread(target=runaway)
        thread.start()
        during = []
        for i in range(1000, 1400):
            if not thread.is_alive():
                break
            during.append(simple(i))
        thread.join(30)
    assert outcome["status"] == 504 and "ran longer than 2 s" in str(outcome["text"])
    assert TIMEOUT <= float(outcome["seconds"]) < TIMEOUT + 1.5  # type: ignore[arg-type]
    assert len(during) >= 20
    median = statistics.median(during)
    print(f"\nsimple query: median {baseline * 1000:.1f} ms alone, {median * 1000:.1f} ms beside a runaway query")
    assert median < max(3 * baseline, baseline + 0.02)


# --- the remote backend, over HTTP

RESULTS_MEDIA_TYPES = (
    "application/sparql-results+json",
    "application/sparql-results+xml",
    "text/csv",
    "text/tab-separated-values",
)


def test_fronting_a_remote_oxigraph_server(
    nquads: Path, reference: ox.Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with oxigraph_server(tmp_path / "oxigraph", "--union-default-graph") as base:
        loaded = httpx.post(
            f"{base}/store", content=nquads.read_bytes(), headers={"Content-Type": "application/n-quads"}, timeout=30
        )
        assert loaded.status_code in (200, 201, 204)
        with running(create_app(Config(endpoint=f"{base}/query", timeout=TIMEOUT))) as ours:
            for query in QUERIES[:3]:
                client = SPARQLWrapper(f"{ours}/sparql")
                client.setQuery(query.read_text())
                client.setReturnFormat(JSON)
                got = json_rows(client.queryAndConvert())  # type: ignore[arg-type]
                assert multiset(got) == multiset(reference_rows(reference, query.read_text()))
            description = httpx.get(f"{ours}/sparql", headers={"Accept": "text/turtle"}, timeout=10)
            assert "https://w3id.org/spacegraph/graph/data" in description.text
            answer = httpx.get(f"{ours}/sparql", params={"query": "ASK {}"}, timeout=10)
            assert answer.headers["cache-control"] == "no-store" and "etag" not in answer.headers
            # every results format, as the embedded engine writes it (CSV cannot be read back: the remote
            # store is asked for SPARQL JSON, which we write again in the format asked for)
            with running(create_app(Config(data=(nquads,), timeout=TIMEOUT))) as embedded:
                for accept in RESULTS_MEDIA_TYPES:
                    for query in (QUERIES[0].read_text(), "ASK { ?s a ?class }"):
                        remote = httpx.get(f"{ours}/sparql", params={"query": query}, headers={"Accept": accept})
                        local = httpx.get(f"{embedded}/sparql", params={"query": query}, headers={"Accept": accept})
                        assert remote.status_code == local.status_code == 200, (accept, remote.text)
                        assert remote.headers["content-type"] == local.headers["content-type"], accept
                        assert sorted(remote.content.splitlines()) == sorted(local.content.splitlines()), accept
    # the server is gone now
    with running(create_app(Config(endpoint=f"{base}/query", timeout=TIMEOUT))) as ours:
        begin = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="spacegraph.web"):
            gone = httpx.get(f"{ours}/sparql", params={"query": "ASK {}"}, timeout=10)
            page = httpx.get(f"{ours}/id/jaxa", headers={"Accept": "text/turtle"}, timeout=10)
        assert gone.status_code == 502 and gone.text.startswith("cannot reach the SPARQL endpoint")
        assert time.monotonic() - begin < 2 * TIMEOUT
        assert page.status_code == 502 and "cannot reach the SPARQL endpoint" in page.text
        logged = [record.getMessage() for record in caplog.records]  # the operator sees why
        assert any(message.startswith("a query failed (unavailable): cannot reach") for message in logged)
        assert any(message.startswith("a description could not be read (unavailable): cannot") for message in logged)


# --- the command


def wait_for_answer(url: str, process: subprocess.Popen[str], seconds: float = 60.0) -> float:
    begin = time.monotonic()
    while time.monotonic() - begin < seconds:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(url, params={"query": "ASK {}"}, timeout=2).status_code == 200:
                return time.monotonic() - begin
        except httpx.TransportError:
            time.sleep(0.02)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def children(pid: int) -> set[int]:
    """The process's descendants: the query workers' zygote and the workers it forked."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found | {grandchild for child in found for grandchild in children(child)}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def serve(log: Path, *args: str) -> subprocess.Popen[str]:
    """``spacegraph serve``; its output goes to a file (a pipe nobody reads would fill and block it)."""
    with log.open("w") as output:
        return subprocess.Popen(
            [str(SPACEGRAPH), "serve", *args], stdout=output, stderr=output, text=True, cwd=PROJECT_ROOT
        )


def stop(process: subprocess.Popen[str], log: Path) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)
    return process.returncode, log.read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_serve_answers_and_stops_cleanly(nquads: Path, reference: ox.Store, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    process = serve(log, "--data", str(nquads), "--port", str(port), "--timeout", "3")
    try:
        startup = wait_for_answer(f"http://127.0.0.1:{port}/sparql", process)
        workers = children(process.pid)
        response = httpx.get(f"http://127.0.0.1:{port}/sparql", params={"query": QUERIES[0].read_text()}, timeout=10)
        assert json_rows(response.content) == reference_rows(reference, QUERIES[0].read_text())
        # a URI over the HTTP parser's 65,535 bytes (httpx refuses such URLs; http.client sends them): 414
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/sparql?" + urlencode({"query": "ASK {} #" + "x" * 70_000}))
        too_long = connection.getresponse()
        assert too_long.status == 414 and b"65535 bytes: send long queries by POST" in too_long.read()
        connection.close()
    finally:
        code, stderr = stop(process, log)
    print(f"\nspacegraph serve: first answer {startup:.2f} s after start")
    assert code in (0, -signal.SIGTERM), stderr  # uvicorn re-raises SIGTERM once it has shut down gracefully
    assert "Application shutdown complete" in stderr
    assert f"serving {nquads} at http://127.0.0.1:{port}/sparql" in stderr
    assert len(workers) >= 3 and not any(alive(pid) for pid in workers)  # the zygote and its two workers


def test_serve_reports_broken_data_in_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.nq"
    broken.write_text('<https://example.org/a> <https://example.org/b> "c" .\n<https://example.org/a> oops .\n')
    result = subprocess.run(
        [str(SPACEGRAPH), "serve", "--data", str(broken), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == f"error: {broken}:2:25: The predicate of a triple must be an IRI\n"
    usage = subprocess.run(
        [str(SPACEGRAPH), "serve", "--data", str(broken), "--endpoint", "http://127.0.0.1:1/sparql"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert usage.returncode == 2 and "give --data or --endpoint, not both" in usage.stderr


def test_serve_builds_the_dumps_when_they_are_missing(tmp_path: Path) -> None:
    root = tmp_path / "project"
    for folder in ("ontology", "data", "metadata"):
        shutil.copytree(PROJECT_ROOT / folder, root / folder)
    port = free_port()
    log = tmp_path / "serve.log"
    process = serve(log, "--root", str(root), "--port", str(port), "--workers", "2", "--query-workers", "1")
    try:
        wait_for_answer(f"http://127.0.0.1:{port}/sparql", process, seconds=120)
        dump = root / "dist" / "spacegraph.nq"
        assert dump.exists()
        graphs = httpx.get(
            f"http://127.0.0.1:{port}/sparql",
            params={"query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"},
            timeout=10,
        )
        served = {row["g"][1] for row in json_rows(graphs.content)}
        store = ox.Store()
        store.bulk_load(path=dump, format=ox.RdfFormat.N_QUADS)
        assert served == {graph.value for graph in store.named_graphs()}
        assert "https://w3id.org/spacegraph/graph/metadata" in served
        # the service description's dataset is described, with VoID, in the metadata graph it serves
        description = httpx.get(f"http://127.0.0.1:{port}/sparql", headers={"Accept": "text/turtle"}, timeout=10)
        assert "sd:defaultDataset id:dataset" in description.text  # id: is https://w3id.org/spacegraph/id/
        void = f"ASK {{ GRAPH <https://w3id.org/spacegraph/graph/metadata> {{ <{DATASET_IRI}> a <{VOID}Dataset> }} }}"
        asked = httpx.get(f"http://127.0.0.1:{port}/sparql", params={"query": void}, timeout=10)
        assert asked.json()["boolean"] is True
    finally:
        code, stderr = stop(process, log)
    assert code in (0, -signal.SIGTERM), stderr
    assert "is missing: building" in stderr and "with 2 processes" in stderr


def test_rdflib_graph_over_the_endpoint(endpoint: str, reference: ox.Store) -> None:
    """rdflib's Graph on a SPARQLStore: triple patterns are answered from the union default graph."""
    jaxa = "https://w3id.org/spacegraph/id/jaxa"
    graph = rdflib.Graph(store=SPARQLStore(query_endpoint=endpoint))
    labels = {rdflib_term(label) for label in graph.objects(rdflib.URIRef(jaxa), rdflib.RDFS.label)}
    expected = {
        row["l"] for row in reference_rows(reference, f"SELECT ?l WHERE {{ <{jaxa}> <{rdflib.RDFS.label}> ?l }}")
    }
    assert labels == expected and len(expected) >= 2


def test_a_versioned_endpoint_is_cached_and_replayed(nquads: Path, tmp_path: Path) -> None:
    """``--endpoint-version``: the operator vouches that the store's data is fixed, so answers get ETags,
    are cached and replayed; the store sees a repeated query once. Without it, every answer is no-store."""
    with oxigraph_server(tmp_path / "oxigraph", "--union-default-graph") as store:
        httpx.post(f"{store}/store", content=nquads.read_bytes(), headers={"Content-Type": "application/n-quads"})
        port = free_port()
        log = tmp_path / "serve.log"
        process = serve(log, "--endpoint", f"{store}/query", "--endpoint-version", "v1", "--port", str(port))
        try:
            wait_for_answer(f"http://127.0.0.1:{port}/sparql", process)
            query = {"query": QUERIES[0].read_text()}
            first, second = (httpx.get(f"http://127.0.0.1:{port}/sparql", params=query) for _ in range(2))
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        finally:
            stop(process, log)
    assert first.status_code == second.status_code == 200 and first.content == second.content
    assert first.headers["etag"] == second.headers["etag"] and "public" in first.headers["cache-control"]
    assert "spacegraph_replayed_responses_total 1.0" in metrics


def test_an_endpoint_version_needs_an_endpoint(nquads: Path) -> None:
    result = subprocess.run(
        [str(SPACEGRAPH), "serve", "--data", str(nquads), "--endpoint-version", "v1"],
        capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert result.returncode == 2 and "endpoint version" in result.stderr and "Traceback" not in result.stderr
