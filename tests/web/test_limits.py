"""Request limits: URI, parameters, headers, body (declared and streamed) and body time — in process, and
over a real uvicorn with raw sockets where timing matters. (Queries per client: ``test_fairness.py``.)"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spacegraph.config import Config
from spacegraph.web.app import create_app
from spacegraph.web.limits import body_limit, uri_limit
from tests.support import TestClient, running

MAX_QUERY_BYTES = 4096
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def config(nquads: Path) -> Config:
    return Config(data=(nquads,), max_query_bytes=MAX_QUERY_BYTES, body_timeout=0.5, timeout=3)


@pytest.fixture(scope="module")
def client(config: Config) -> Iterator[TestClient]:
    with TestClient(create_app(config)) as client:
        yield client


@pytest.fixture(scope="module")
def server(config: Config) -> Iterator[str]:
    with running(create_app(config)) as base:
        yield base


def test_uri_length(client: TestClient, config: Config) -> None:
    limit = uri_limit(config)
    over = client.get("/sparql?query=" + "a" * limit)
    assert over.status_code == 414 and f"limit of {limit} bytes" in over.text
    assert over.headers["connection"] == "close"
    elsewhere = client.get("/nowhere?" + "a" * limit)  # on every route, before routing
    assert elsewhere.status_code == 414


def test_parameters(client: TestClient, config: Config) -> None:
    many = "&".join(f"format=json{i}" for i in range(config.max_parameters + 1))
    refused = client.get("/sparql?" + many)
    assert refused.status_code == 400 and f"more than {config.max_parameters} parameters" in refused.text
    allowed = "&".join(["query=ASK%7B%7D"] + ["default-graph-uri=x:g"] * (config.max_parameters - 1))
    assert client.get("/sparql?" + allowed).status_code == 200


def test_headers(client: TestClient, config: Config) -> None:
    many = {f"x-h{i}": "1" for i in range(config.max_headers + 1)}
    refused = client.get("/sparql", params={"query": "ASK {}"}, headers=many)
    assert refused.status_code == 431 and f"more than {config.max_headers} header fields" in refused.text
    large = client.get("/health", headers={"x-large": "a" * config.max_header_bytes})
    assert large.status_code == 431 and f"limit of {config.max_header_bytes} bytes" in large.text
    bad = client.post("/sparql", content=b"ASK {}", headers={"Content-Length": "6x", **FORM})
    assert bad.status_code == 400 and "Content-Length" in bad.text


def test_a_large_body_streamed_without_length_gets_413(client: TestClient, config: Config) -> None:
    limit = body_limit(config)
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b"query="
        while sent < 4 * limit:  # bounded: the server stops reading at the limit
            sent += 8192
            yield b"a" * 8192

    response = client.post("/sparql", content=chunks(), headers=FORM)
    assert response.status_code == 413 and f"limit of {limit} bytes" in response.text
    metrics = client.get("/metrics").text
    assert 'spacegraph_rejected_requests_total{reason="body-too-large"}' in metrics


def raw_request(base: str, head: str, body: bytes = b"", wait: float = 10.0) -> tuple[bytes, float]:
    """Send ``head`` (and ``body``) on a fresh connection; the answer's first bytes and the seconds they took."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        begin = time.monotonic()
        sock.sendall(head.encode("latin-1") + body)
        answer = sock.recv(65536)
        seconds = time.monotonic() - begin
        for _ in range(100):  # the rest, until the server closes the connection (it does after a refusal)
            part = sock.recv(65536)
            if not part:
                break
            answer += part
        return answer, seconds


def test_a_declared_large_body_gets_413_before_it_is_sent(server: str, config: Config) -> None:
    head = (
        "POST /sparql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {body_limit(config) + 1}\r\n\r\n"
    )
    answer, seconds = raw_request(server, head)  # not a byte of the body is sent
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert seconds < 1.0


@pytest.mark.parametrize(
    ("head", "status", "message"),
    [
        (f"GET /sparql?query={'a' * 70_000} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 414, b"limit of 65535 bytes"),
        (f"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {'a' * 70_000}\r\n\r\n", 431, b"limit of 65536 bytes"),
        ("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "X-A: aaaaaaaa\r\n" * 6000 + "\r\n", 431, b"65536 bytes"),
    ],
    ids=["uri", "one-header", "many-headers"],
)
def test_heads_the_parser_will_not_hold_get_414_or_431(server: str, head: str, status: int, message: bytes) -> None:
    """Past what the app's own limits see: the server's protocol refuses them, and closes the connection."""
    answer, _ = raw_request(server, head)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    assert message in answer and b"connection: close" in answer.lower()


def test_a_body_too_slow_gets_408(server: str, config: Config) -> None:
    head = (
        "POST /sparql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/sparql-query\r\n"
        "Content-Length: 100\r\n\r\n"
    )
    answer, seconds = raw_request(server, head, b"ASK")
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"did not arrive within 0.5 s" in answer
    assert config.body_timeout <= seconds < config.body_timeout + 1.0
