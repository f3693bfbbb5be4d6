"""Replay: answers of the immutable embedded graph sent again as they were kept — over real HTTP, with the
metrics telling a replayed answer from an evaluated one."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from spacegraph.config import Config
from spacegraph.web import accesslog, deref
from spacegraph.web.accesslog import query_hash
from spacegraph.web.app import create_app
from tests.servers import oxigraph_server
from tests.support import running
from tests.web.test_operations import sample

# Not a query answered at once (a FILTER: see test_lanes.py), which replay keeps on its second coming.
POINT = "SELECT ?p ?o WHERE { <https://w3id.org/spacegraph/id/jaxa> ?p ?o FILTER(BOUND(?o)) }"
JSON = {"Accept": "application/sparql-results+json", "Accept-Encoding": "identity"}  # httpx asks for gzip


@pytest.fixture(scope="module")
def base(nquads: Path) -> Iterator[str]:
    with running(create_app(Config(data=(nquads,), max_headers=20, client_queries=64))) as base:
        yield base


def replayed(base: str) -> float:
    return sample(httpx.get(f"{base}/metrics").text, "spacegraph_replayed_responses_total") or 0.0


def without_date(response: httpx.Response) -> list[tuple[str, str]]:
    return [(name, value) for name, value in response.headers.multi_items() if name != "date"]


def test_a_repeated_request_gets_the_same_answer_without_running_the_app(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        first = client.get("/sparql", params={"query": POINT}, headers=JSON)
        before = replayed(base)
        again = [client.get("/sparql", params={"query": POINT}, headers=JSON) for _ in range(3)]
        assert replayed(base) == before + 3
    assert first.status_code == 200 and len(first.json()["results"]["bindings"]) > 5
    for response in again:
        assert response.content == first.content and without_date(response) == without_date(first)
    metrics = httpx.get(f"{base}/metrics").text  # each replayed answer is still counted under its route
    assert (sample(metrics, "spacegraph_http_requests_total", route="/sparql", method="GET", status="200") or 0) >= 4


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "application/sparql-results+xml"},
        {"Accept": "text/csv"},
        {**JSON, "Accept-Encoding": "gzip"},
        {**JSON, "Origin": "https://example.org"},
        {**JSON, "Accept-Language": "ja"},
    ],
    ids=["xml", "csv", "gzip", "cors", "language"],
)
def test_what_can_change_an_answer_gets_its_own(base: str, headers: dict[str, str]) -> None:
    """Warm the plain JSON answer first: a request differing in a header that matters is answered anew."""
    plain = httpx.get(f"{base}/sparql", params={"query": POINT}, headers=JSON)
    other = httpx.get(f"{base}/sparql", params={"query": POINT}, headers=headers)
    fresh = httpx.get(f"{base}/sparql", params={"query": POINT}, headers=headers, timeout=10)
    assert other.status_code == fresh.status_code == 200
    assert without_date(fresh) == without_date(other) and fresh.content == other.content
    if "Accept" in headers and headers["Accept"] != JSON["Accept"]:
        assert other.headers["content-type"] != plain.headers["content-type"]
    if "Origin" in headers:
        assert (
            other.headers["access-control-allow-origin"] == "*" and "access-control-allow-origin" not in plain.headers
        )
    if headers.get("Accept-Encoding") == "gzip":
        assert other.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers


def test_the_software_and_connection_of_a_client_do_not_matter(base: str) -> None:
    first = httpx.get(f"{base}/sparql", params={"query": POINT + " LIMIT 3"}, headers=JSON)
    before = replayed(base)
    other = httpx.get(
        f"{base}/sparql", params={"query": POINT + " LIMIT 3"}, headers={**JSON, "User-Agent": "another/1.0"}
    )
    assert replayed(base) == before + 1 and other.content == first.content


@pytest.mark.parametrize(
    "query",
    ["SELECT (RAND() AS ?r) (STRUUID() AS ?u) WHERE {}", "SELECT (NOW() AS ?t) WHERE {}"],
    ids=["rand", "now"],
)
def test_answers_that_change_between_runs_are_never_replayed(base: str, query: str) -> None:
    before = replayed(base)
    answers = [httpx.get(f"{base}/sparql", params={"query": query}, headers=JSON) for _ in range(2)]
    assert all(answer.headers["cache-control"] == "no-store" for answer in answers)
    assert replayed(base) == before
    if "RAND" in query:
        assert answers[0].content != answers[1].content


def test_errors_redirects_and_operations_are_never_replayed(base: str) -> None:
    before = replayed(base)
    for _ in range(2):
        assert httpx.get(f"{base}/sparql", params={"query": "SELECT * WHERE {"}).status_code == 400
        assert httpx.get(f"{base}/id/jaxa", headers={"Accept": "text/turtle"}).status_code == 303
        assert httpx.get(f"{base}/health").status_code == 200
        assert httpx.get(f"{base}/ready").status_code == 200
    assert replayed(base) == before


def test_pages_and_files_are_replayed_whole(base: str) -> None:
    for path in ("/id/jaxa.html", "/id/jaxa.ttl", "/dumps/spacegraph.ttl"):
        first = httpx.get(base + path)
        if first.status_code == 404:  # no dumps beside the data in this fixture
            continue
        before = replayed(base)
        again = httpx.get(base + path)
        assert first.status_code == 200, path
        assert replayed(base) == before + 1, path
        assert again.content == first.content and without_date(again) == without_date(first), path


def test_the_request_limits_hold_for_a_request_that_would_be_replayed(base: str) -> None:
    assert httpx.get(f"{base}/sparql", params={"query": POINT}, headers=JSON).status_code == 200
    # the same request, but with more header fields than the limit (20 here): ignored fields, same key
    too_many = list(JSON.items()) + [("User-Agent", f"agent-{i}") for i in range(25)]
    refused = httpx.get(f"{base}/sparql", params={"query": POINT}, headers=too_many)
    assert refused.status_code == 431 and "more than 20 header fields" in refused.text


def test_a_remote_store_is_never_replayed(tmp_path: Path, nquads: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Behind --endpoint the data can change under us: a page shows the store's data once its freshness
    (``REMOTE_FRESH``, 1 s here) has passed, says so in Cache-Control, and is never replayed."""
    monkeypatch.setattr(deref, "REMOTE_FRESH", 1)
    with oxigraph_server(tmp_path / "oxigraph", "--union-default-graph") as store:
        httpx.post(f"{store}/store", content=nquads.read_bytes(), headers={"Content-Type": "application/n-quads"})
        with running(create_app(Config(endpoint=f"{store}/query"))) as base:
            first = httpx.get(f"{base}/id/jaxa.ttl")
            added = (
                "<https://w3id.org/spacegraph/id/jaxa> <http://www.w3.org/2000/01/rdf-schema#comment> 'marker-1f7e' ."
            )
            httpx.post(f"{store}/update", content=f"INSERT DATA {{ {added} }}",
                       headers={"Content-Type": "application/sparql-update"})  # fmt: skip
            time.sleep(1.1)
            second = httpx.get(f"{base}/id/jaxa.ttl")
            page = httpx.get(f"{base}/id/jaxa.html")
            assert first.status_code == second.status_code == page.status_code == 200
            assert "marker-1f7e" not in first.text and "marker-1f7e" in second.text and "marker-1f7e" in page.text
            assert second.headers["cache-control"] == "public, max-age=1"
            assert replayed(base) == 0


def test_what_is_kept_stays_within_its_budget_counting_long_keys(nquads: Path) -> None:
    """Small answers to long query texts: the texts are counted, or a client could fill the memory."""
    budget = 128 * 1024  # replay keeps half, the answer cache the other
    with running(create_app(Config(data=(nquads,), cache_bytes=budget, client_queries=64))) as base:
        for i in range(40):
            answer = httpx.get(f"{base}/sparql", params={"query": f"ASK {{}} # {i} {'x' * 4000}"}, headers=JSON)
            assert answer.status_code == 200 and len(answer.content) < 100
        held = sample(httpx.get(f"{base}/metrics").text, "spacegraph_replay_bytes")
        assert held is not None and 4000 < held <= budget // 2
        again = httpx.get(f"{base}/sparql", params={"query": f"ASK {{}} # 39 {'x' * 4000}"}, headers=JSON)
        before = replayed(base)
        assert (
            httpx.get(f"{base}/sparql", params={"query": f"ASK {{}} # 39 {'x' * 4000}"}, headers=JSON).content
            == again.content
        )
        assert replayed(base) == before + 1  # the newest are still kept


def exchange(base: str, *requests: bytes, until: int) -> bytes:
    """Send the requests on one connection (all at once: pipelined) and read until ``until`` answers."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"".join(requests))
        received = b""
        while received.count(b"HTTP/1.1 ") < until or not complete(received, until):
            part = sock.recv(65536)
            if not part:
                break
            received += part
        return received


def complete(received: bytes, answers: int) -> bool:
    """Whether the last of ``answers`` answers has all of its body (every answer has a Content-Length)."""
    last = received.rsplit(b"HTTP/1.1 ", 1)[1]
    head, _, body = last.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    return received.count(b"HTTP/1.1 ") >= answers and len(body) >= length


def answers(received: bytes) -> list[tuple[list[bytes], bytes]]:
    """Each answer's header lines (without the date) and body."""
    found = []
    for part in received.split(b"HTTP/1.1 ")[1:]:
        head, _, body = part.partition(b"\r\n\r\n")
        lines = [line for line in head.split(b"\r\n")[1:] if not line.startswith(b"date:")]
        found.append((head.split(b"\r\n")[:1] + lines, body))
    return found


def test_the_server_answers_a_replay_itself_exactly_as_the_app_would(nquads: Path, tmp_path: Path) -> None:
    """The server's protocol answers a kept answer as soon as the request's head is in (``server.py``):
    the same bytes as the app's answer, pipelined requests in order, a closing request through the app,
    every one counted and logged, with the client a trusted proxy names."""
    log = tmp_path / "access.log"
    target = "/sparql?query=" + quote(POINT)
    get = f"GET {target} HTTP/1.1\r\nHost: x\r\nAccept: application/sparql-results+json\r\n".encode()
    try:
        with running(create_app(Config(data=(nquads,), access_log=str(log)))) as server:
            first = exchange(server, get + b"\r\n", until=1)  # evaluated, and kept
            before = replayed(server)
            forwarded = get + b"X-Forwarded-For: 203.0.113.5\r\n\r\n"
            pipelined = exchange(server, forwarded, get + b"\r\n", until=2)  # both from what was kept
            closing = exchange(server, get + b"Connection: close\r\n\r\n", until=1)  # through the app's replay
            assert replayed(server) == before + 3
    finally:
        accesslog.uninstall(str(log))
    kept = answers(first)[0]
    assert kept[0][0] == b"200 OK" and len(json.loads(kept[1])["results"]["bindings"]) > 5
    assert answers(pipelined) == [kept, kept]
    closed = answers(closing)[0]
    assert closed[1] == kept[1] and [line for line in closed[0] if line != b"connection: close"] == kept[0]
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    sparql = [line for line in lines if line["route"] == "/sparql"]
    assert len(sparql) == 4 and {line["status"] for line in sparql} == {200}
    assert [line["client"] for line in sparql] == ["127.0.0.1", "203.0.113.5", "127.0.0.1", "127.0.0.1"]
    times = [line["time"] for line in sparql]  # replayed lines are made when written: each at its own time
    assert times == sorted(times) and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", t) for t in times)
    for line in sparql:
        assert set(line) == {"time", "method", "route", "path", "status", "duration_ms", "wait_ms", "bytes", "client",
                             "query_kind", "query_hash"}  # fmt: skip
        assert (
            line["bytes"] == len(kept[1]) and line["query_kind"] == "SELECT" and line["query_hash"] == query_hash(POINT)
        )
