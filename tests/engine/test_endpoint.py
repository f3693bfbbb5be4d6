"""The HTTP client of an external endpoint against a real HTTP server (the standard library's, on
127.0.0.1) answering in every way HTTP/1.1 allows: a length, chunks, the end of the connection, a closed
kept connection; and the answers it refuses (too large, cut short)."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

import pytest

from spacegraph.engine.endpoint import FORM_LARGEST, Client, EndpointError, TooLarge, encoded


class Store(BaseHTTPRequestHandler):
    """Echoes the form's ``query`` as the answer, in the way its path says."""

    protocol_version = "HTTP/1.1"
    connections: list[object]

    def setup(self) -> None:
        super().setup()
        self.connections.append(self.connection)

    def do_POST(self) -> None:
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        body = form["query"][0].encode() + b" " + self.headers["Accept"].encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        if self.path == "/chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (body[:3], body[3:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path == "/until-closed":
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
            return
        if self.path == "/cut":
            self.send_header("Content-Length", str(len(body) + 10))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body)))
        if self.path == "/once":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def store() -> Iterator[tuple[str, list[object]]]:
    connections: list[object] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (Store,), {"connections": connections}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", connections
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def post(url: str, *queries: str, limit: int = 1 << 20) -> list[tuple[int, str, bytes]]:
    async def asking() -> list[tuple[int, str, bytes]]:
        client = Client(url, connect_timeout=5)
        try:
            return [await client.post([("query", query)], "text/plain", limit) for query in queries]
        finally:
            await client.close()

    return asyncio.run(asking())


@pytest.mark.parametrize("path", ["/kept", "/chunked", "/until-closed", "/once"])
def test_every_way_an_answer_can_end(path: str) -> None:
    with store() as (base, connections):
        answers = post(base + path, "ASK {}", "SELECT é")
    assert answers == [
        (200, "text/plain; charset=utf-8", b"ASK {} text/plain"),
        (200, "text/plain; charset=utf-8", "SELECT é text/plain".encode()),
    ]
    kept = path in ("/kept", "/chunked")
    assert len(connections) == (1 if kept else 2)  # a connection the store keeps open is used again


def test_a_kept_connection_the_store_closed_is_replaced() -> None:
    with store() as (base, connections):

        async def asking() -> list[bytes]:
            client = Client(base + "/kept", connect_timeout=5)
            try:
                first = await client.post([("query", "one")], "text/plain", 1000)
                for connection in list(connections):  # the store drops its idle connections
                    connection.close()  # type: ignore[attr-defined]
                await asyncio.sleep(0.1)
                second = await client.post([("query", "two")], "text/plain", 1000)
                return [first[2], second[2]]
            finally:
                await client.close()

        assert asyncio.run(asking()) == [b"one text/plain", b"two text/plain"]


def test_a_kept_connection_the_store_reset_is_replaced() -> None:
    """A store that drops an idle connection with a reset (RST, not FIN), as a store under load may: the
    next request on it fails on writing (a broken pipe) or on reading (a reset), before any byte of an
    answer, and is sent again on a new connection (RFC 9112, 9.3.1: nothing has answered it)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:  # one answer per connection, kept alive, then a reset once the client is idle
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                received = b""
                while b"\r\n\r\n" not in received:
                    received += connection.recv(65536)
                head, _, body = received.partition(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
                while len(body) < length:
                    body += connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
                time.sleep(0.05)
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    async def asking() -> list[int]:
        client = Client(f"http://127.0.0.1:{listener.getsockname()[1]}/", connect_timeout=5)
        try:
            statuses = []
            for _ in range(10):
                statuses.append((await client.post([("query", "ASK {}")], "text/plain", 1000))[0])
                await asyncio.sleep(0.15)  # meanwhile the store resets the kept connection
            return statuses
        finally:
            await client.close()

    try:
        assert asyncio.run(asking()) == [200] * 10
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        listener.close()
        thread.join(10)


def test_refusals() -> None:
    with store() as (base, _):
        with pytest.raises(TooLarge):
            post(base + "/kept", "x" * 100, limit=50)
        with pytest.raises(TooLarge):
            post(base + "/chunked", "x" * 100, limit=50)
        with pytest.raises(EndpointError, match="closed before the answer was complete"):
            post(base + "/cut", "ASK {}")
    with pytest.raises(EndpointError, match="cannot connect"):
        post(base + "/kept", "ASK {}")  # nobody listens there any more


def test_a_small_form_is_encoded_once_and_a_large_one_each_time() -> None:
    """A client repeats its queries: the encoded form of a small one is kept (``FORMS``), the same bytes
    ``urlencode`` gives; a form past ``FORM_LARGEST`` characters is encoded anew and not kept."""
    small = [("query", "SELECT * WHERE { ?s ?p 'é & ü' }"), ("default-graph-uri", "http://example.org/g")]
    assert encoded(small) == urlencode(small).encode("ascii")
    assert encoded(list(small)) is encoded(small)
    large = [("query", "ASK { ?s ?p ?o } #" + "x" * FORM_LARGEST)]
    assert encoded(large) == urlencode(large).encode("ascii") and encoded(large) is not encoded(large)
