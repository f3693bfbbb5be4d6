"""The server's lanes (``web/lanes.py``), over real HTTP. New cheap queries answered at once in the server
process (``engine/inline.py``): the same bytes as the ordinary way through a worker, for every results
format; what may not be answered so takes the ordinary way; a client out of budget is refused as before.
Queries relayed to an external endpoint from the protocol: the same bytes as the ordinary way, errors
included; pipelined requests in order; counted, logged and charged as before."""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest

from spacegraph.config import Config
from spacegraph.engine.analysis import analyse
from spacegraph.web import lanes
from spacegraph.web.app import create_app
from spacegraph.web.lanes import Relay
from tests.servers import free_port, oxigraph_server
from tests.support import running
from tests.web.test_operations import sample

ID = "https://w3id.org/spacegraph/id/"
CHEAP = [
    f"SELECT ?p ?o WHERE {{ <{ID}cnes> ?p ?o }} LIMIT 4",
    f"PREFIX id: <{ID}> SELECT DISTINCT ?p WHERE {{ id:cnes ?p ?o }} LIMIT 5",
    f"PREFIX id: <{ID}> ASK {{ id:jaxa a ?class ; ?p ?o }}",
    f"SELECT * WHERE {{ <{ID}nothing-here> ?p ?o }}",
    f"SELECT ?p ?o WHERE {{ <{ID}jaxa> ?p ?o }}",  # large enough to be compressed (1,795 bytes in JSON)
]
ORDINARY = [
    f"SELECT ?p ?o WHERE {{ <{ID}cnes> ?p ?o FILTER(isIRI(?o)) }}",  # a FILTER
    "SELECT ?s WHERE { ?s a ?c } LIMIT 3",  # a variable subject
    f"CONSTRUCT {{ <{ID}cnes> ?p ?o }} WHERE {{ <{ID}cnes> ?p ?o }}",  # not SELECT or ASK
]
FORMATS = ["application/sparql-results+json", "application/sparql-results+xml", "text/csv", "text/tab-separated-values"]


@pytest.fixture(scope="module")
def base(nquads: Path) -> Iterator[str]:
    with running(create_app(Config(data=(nquads,)))) as base:
        yield base


def at_once(base: str) -> float:
    return sample(httpx.get(f"{base}/metrics").text, "spacegraph_evaluations_at_once_total") or 0.0


def raw_get(base: str, target: str, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
    """A GET with exactly these header fields (and Host), its status, header fields but the date, body."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", target, headers=headers)
        response = connection.getresponse()
        fields = [(name.lower(), value) for name, value in response.getheaders() if name.lower() != "date"]
        return response.status, fields, response.read()
    finally:
        connection.close()


def comment(text: str, mark: str) -> str:
    return f"{text}\n# {mark}"  # a new text each time: neither replay nor the answer cache has seen it


@pytest.mark.parametrize("encoding", [None, "gzip, deflate"])
@pytest.mark.parametrize("accept", FORMATS)
@pytest.mark.parametrize("query", CHEAP)
def test_a_new_cheap_query_is_answered_at_once_with_the_ordinary_answer(
    base: str, query: str, accept: str, encoding: str | None
) -> None:
    """The same request twice: at once (counted), then with an ``If-None-Match`` no answer matches, which
    sends it the ordinary way through a worker: the same status, header fields and bytes (compressed
    alike when the answer is large enough and the client asks for it)."""
    text = comment(query, f"{accept} {encoding} at once")
    target = f"/sparql?{urlencode({'query': text})}"
    headers = {"Accept": accept} if encoding is None else {"Accept": accept, "Accept-Encoding": encoding}
    before = at_once(base)
    answered = raw_get(base, target, headers)
    assert at_once(base) == before + 1
    ordinary = raw_get(base, target, {**headers, "If-None-Match": '"no-such-answer"'})
    assert at_once(base) == before + 1  # the ordinary way: a worker's evaluation
    assert answered == ordinary and answered[0] == 200
    assert ("content-type", accept) in [(name, value.split(";")[0]) for name, value in answered[1]]


def test_the_answer_is_a_users_answer(base: str) -> None:
    """Read by a client as any answer: rows, ETag and caching, a 304 to a conditional request."""
    text = comment(CHEAP[0], "user")
    with httpx.Client(base_url=base, headers={"Accept-Encoding": "identity"}) as client:
        response = client.get("/sparql", params={"query": text}, headers={"Accept": FORMATS[0]})
        rows = response.json()["results"]["bindings"]
        assert response.status_code == 200 and rows and all({"p", "o"} <= set(row) for row in rows)
        assert response.headers["cache-control"].startswith("public") and response.headers["etag"].startswith('W/"')
        again = client.get(
            "/sparql",
            params={"query": text},
            headers={"Accept": FORMATS[0], "If-None-Match": response.headers["etag"]},
        )
        assert again.status_code == 304


@pytest.mark.parametrize("query", ORDINARY)
def test_what_is_not_cheap_is_not_answered_at_once(base: str, query: str) -> None:
    before = at_once(base)
    accept = "text/turtle" if query.startswith("CONSTRUCT") else FORMATS[0]
    response = httpx.get(
        f"{base}/sparql", params={"query": comment(query, "ordinary")}, headers={"Accept": accept}, timeout=10
    )
    assert response.status_code == 200 and at_once(base) == before


def test_errors_and_other_requests_are_not_answered_at_once(base: str) -> None:
    before = at_once(base)
    broken = f"SELECT ?p WHERE {{ <{ID}cnes> ?p ?o }} LIMIT 1.5"  # read as cheap; pyoxigraph's syntax error
    refused = httpx.get(f"{base}/sparql", params={"query": broken})
    assert refused.status_code == 400 and "line 1, column" in refused.text
    head = httpx.head(f"{base}/sparql", params={"query": comment(CHEAP[0], "head")}, headers={"Accept": FORMATS[0]})
    assert head.status_code == 200 and head.content == b""
    graph = httpx.get(
        f"{base}/sparql",
        params={"query": comment(CHEAP[0], "graph"), "default-graph-uri": f"{ID}nothing"},
        headers={"Accept": FORMATS[0]},
    )
    assert graph.status_code == 200 and json.loads(graph.content)["results"]["bindings"] == []
    unacceptable = httpx.get(
        f"{base}/sparql", params={"query": comment(CHEAP[0], "406")}, headers={"Accept": "image/png"}
    )
    assert unacceptable.status_code == 406
    assert at_once(base) == before


def test_one_off_queries_are_not_kept_and_a_repeat_is_replayed(base: str) -> None:
    """The doorkeeper: an answer given at once is kept for replay on its request's second coming."""
    metrics = httpx.get(f"{base}/metrics").text
    held = sample(metrics, "spacegraph_replay_bytes") or 0.0
    replayed = sample(metrics, "spacegraph_replayed_responses_total") or 0.0
    target = f"/sparql?query={quote(comment(CHEAP[0], 'doorkeeper'))}"
    answers = []
    for _ in range(3):
        status, _fields, body = raw_get(base, target, {"Accept": FORMATS[0]})
        answers.append((status, body))
        if len(answers) == 1:
            assert (sample(httpx.get(f"{base}/metrics").text, "spacegraph_replay_bytes") or 0.0) == held
    metrics = httpx.get(f"{base}/metrics").text
    assert answers[0] == answers[1] == answers[2] and answers[0][0] == 200
    assert (sample(metrics, "spacegraph_replay_bytes") or 0.0) > held  # kept on the second
    assert (sample(metrics, "spacegraph_replayed_responses_total") or 0.0) == replayed + 1  # replayed on the third


def test_a_client_out_of_budget_is_refused_as_before(nquads: Path) -> None:
    """A budget of 1 ms of evaluation a minute: the at-once evaluations are charged to it, and once it
    is used the client gets the scheduler's 429 from the ordinary way."""
    with running(create_app(Config(data=(nquads,), client_budget=0.001))) as base:
        statuses = []
        for number in range(200):
            response = httpx.get(
                f"{base}/sparql",
                params={"query": comment(CHEAP[0], f"budget {number}")},
                headers={"Accept": FORMATS[0]},
            )
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert "budget" in response.text and int(response.headers["retry-after"]) >= 1
                break
        assert statuses[0] == 200 and statuses[-1] == 429
        assert (sample(httpx.get(f"{base}/metrics").text, "spacegraph_evaluations_at_once_total") or 0) >= 1


def test_an_answer_compressed_in_a_thread_takes_the_ordinary_way(tmp_path: Path) -> None:
    """GZip compresses a body of 128 KiB or more in a thread, which the lane cannot wait for: such an
    answer, evaluated at once, is sent the ordinary way, compressed, from the answer cache."""
    long = "x" * 200
    lines = [f'<http://example.org/s> <http://example.org/p{n}> "{long}" .\n' for n in range(900)]
    data = tmp_path / "wide.nt"
    data.write_text("".join(lines), encoding="utf-8")
    with running(create_app(Config(data=(data,)))) as base:
        query = "SELECT ?p ?o WHERE { <http://example.org/s> ?p ?o }"
        target = f"/sparql?{urlencode({'query': query})}"

        def evaluations() -> float:
            return sample(httpx.get(f"{base}/metrics").text, "spacegraph_evaluations_total") or 0.0

        before, evaluated = at_once(base), evaluations()
        status, fields, body = raw_get(base, target, {"Accept": FORMATS[0], "Accept-Encoding": "gzip"})
        assert status == 200 and ("content-encoding", "gzip") in fields
        assert at_once(base) == before + 1 and evaluations() == evaluated + 1  # not evaluated again by a worker
        plain = raw_get(base, target, {"Accept": FORMATS[0]})
        assert plain[0] == 200 and len(plain[2]) >= 128 * 1024 and gzip.decompress(body) == plain[2]


# --- the relay: queries passed on to an external endpoint (``--endpoint``) from the protocol

STORE_QUERIES = [
    (f"SELECT ?p ?o WHERE {{ <{ID}jaxa> ?p ?o }}", FORMATS),  # large enough to be compressed
    ("SELECT ?s ?label WHERE { ?s a ?c ; <http://www.w3.org/2000/01/rdf-schema#label> ?label } LIMIT 3", FORMATS),
    (f"ASK {{ <{ID}jaxa> ?p ?o }}", FORMATS[:2]),
    (f"CONSTRUCT {{ <{ID}cnes> ?p ?o }} WHERE {{ <{ID}cnes> ?p ?o }}", ["text/turtle", "application/n-triples"]),
]


def both_ways(
    base: str, target: str, headers: dict[str, str], relayed: Counted
) -> tuple[tuple[int, list[tuple[str, str]], bytes], tuple[int, list[tuple[str, str]], bytes], tuple[int, int]]:
    """The request, then the same the ordinary way (an ``If-None-Match`` no answer matches), and how many
    requests the relay took for each."""
    before = relayed.count
    answered = raw_get(base, target, headers)
    first = relayed.count - before
    ordinary = raw_get(base, target, {**headers, "If-None-Match": '"no-such-answer"'})
    return answered, ordinary, (first, relayed.count - before - first)


class Counted:
    """How many requests the relay took (``Relay.given`` called)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        given = Relay.given

        def counted(relay: Relay, *args: Any) -> Any:
            self.count += 1
            return given(relay, *args)

        monkeypatch.setattr(Relay, "given", counted)


@pytest.fixture(scope="module")
def store(nquads: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with oxigraph_server(tmp_path_factory.mktemp("oxigraph"), "--union-default-graph") as store:
        loaded = httpx.post(
            f"{store}/store", content=nquads.read_bytes(), headers={"Content-Type": "application/n-quads"}, timeout=30
        )
        assert loaded.status_code in (200, 201, 204)
        yield store


@pytest.fixture(scope="module")
def relayed() -> Iterator[Counted]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield Counted(monkeypatch)


@pytest.fixture(scope="module")
def fronting(store: str, relayed: Counted) -> Iterator[str]:
    with running(create_app(Config(endpoint=f"{store}/query"))) as base:
        yield base


@pytest.mark.parametrize("encoding", [None, "gzip"])
@pytest.mark.parametrize(("query", "accept"), [(q, a) for q, accepts in STORE_QUERIES for a in accepts])
def test_a_query_to_the_store_is_relayed_with_the_ordinary_answer(
    fronting: str, relayed: Counted, query: str, accept: str, encoding: str | None
) -> None:
    """The same request relayed, then the ordinary way (an ``If-None-Match``, which nothing matches
    behind --endpoint): the same status, header fields and bytes, compressed alike."""
    target = f"/sparql?{urlencode({'query': query})}"
    headers = {"Accept": accept} if encoding is None else {"Accept": accept, "Accept-Encoding": encoding}
    answered, ordinary, took = both_ways(fronting, target, headers, relayed)
    assert took == (1, 0)
    assert answered == ordinary and answered[0] == 200 and ("cache-control", "no-store") in answered[1]
    assert ("content-type", accept) in [(name, value.split(";")[0]) for name, value in answered[1]]
    if encoding and len(gzip.decompress(answered[2]) if ("content-encoding", "gzip") in answered[1] else b"") > 0:
        assert gzip.decompress(answered[2]) == raw_get(fronting, target, {"Accept": accept})[2]


@pytest.mark.parametrize(
    ("accept", "given"),
    [(FORMATS[0], "text/plain"), (f"text/html, {FORMATS[0]};q=0.9", "text/html")],  # a browser's: a page
)
def test_the_stores_refusal_is_relayed_as_the_ordinary_error(
    fronting: str, relayed: Counted, accept: str, given: str
) -> None:
    """A query the store finds malformed: its message in our 400, as plain text or as a page of the site,
    the same bytes both ways."""
    target = f"/sparql?{urlencode({'query': 'SELECT ?s WHERE { ?s ?p }'})}"
    answered, ordinary, took = both_ways(fronting, target, {"Accept": accept}, relayed)
    assert took == (1, 0) and answered == ordinary and answered[0] == 400
    assert ("content-type", f"{given}; charset=utf-8") in answered[1]


def test_a_store_out_of_reach_is_relayed_as_the_ordinary_502(relayed: Counted) -> None:
    port = free_port()  # nothing listens there
    with running(create_app(Config(endpoint=f"http://127.0.0.1:{port}/query"))) as base:
        target = f"/sparql?{urlencode({'query': 'ASK {}'})}"
        answered, ordinary, took = both_ways(base, target, {"Accept": FORMATS[0]}, relayed)
        assert took == (1, 0) and answered == ordinary and answered[0] == 502
        assert b"cannot reach the SPARQL endpoint" in answered[2]


def test_what_the_relay_does_not_take_goes_the_ordinary_way(fronting: str, relayed: Counted) -> None:
    """SERVICE (checked in a worker first), an update, a query nested too deep, POST, HEAD, other
    parameters, CORS: the ordinary way, with its answers."""
    before = relayed.count
    service = "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }"
    assert httpx.get(f"{fronting}/sparql", params={"query": service}).status_code == 403
    update = httpx.get(f"{fronting}/sparql", params={"query": "INSERT DATA { <a:b> <a:c> <a:d> }"})
    assert update.status_code == 403 and "read-only" in update.text
    deep = "SELECT * WHERE " + "{ " * 200 + "}" * 200
    assert httpx.get(f"{fronting}/sparql", params={"query": deep}).status_code == 400
    ask = "ASK { ?s ?p ?o }"
    assert httpx.post(f"{fronting}/sparql", data={"query": ask}, headers={"Accept": FORMATS[0]}).json()["boolean"]
    assert httpx.head(f"{fronting}/sparql", params={"query": ask}, headers={"Accept": FORMATS[0]}).status_code == 200
    formatted = httpx.get(f"{fronting}/sparql", params={"query": ask, "format": "json"})
    assert formatted.json()["boolean"] is True
    cors = httpx.get(f"{fronting}/sparql", params={"query": ask}, headers={"Origin": "https://example.org"})
    assert cors.status_code == 200 and cors.headers["access-control-allow-origin"] == "*"
    assert relayed.count == before


def test_pipelined_requests_are_answered_in_order(fronting: str, relayed: Counted) -> None:
    """Three requests in one write on one connection: the first relayed, the two behind it the ordinary
    way once it is answered (uvicorn's pipeline); three answers, in the order asked."""
    host, port = fronting.removeprefix("http://").split(":")
    asks = [f"ASK {{ <{ID}jaxa> ?p ?o }}", "ASK { <http://example.org/nothing> ?p ?o }", f"ASK {{ <{ID}cnes> ?p ?o }}"]
    heads = [
        f"GET /sparql?{urlencode({'query': ask})} HTTP/1.1\r\nHost: {host}\r\nAccept: {FORMATS[0]}\r\n"
        + ('If-None-Match: "none"\r\n' if number == 1 else "")
        + "\r\n"
        for number, ask in enumerate(asks)
    ]
    before = relayed.count
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall("".join(heads).encode("ascii"))
        received = b""
        booleans: list[bool] = []
        while len(booleans) < len(asks):
            head, blank, rest = received.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                None,
            )
            if blank and length is not None and len(rest) >= length:
                assert head.startswith(b"HTTP/1.1 200 ")
                booleans.append(json.loads(rest[:length])["boolean"])
                received = rest[length:]
                continue
            data = connection.recv(65536)
            assert data, f"the connection was closed after {len(booleans)} answers"
            received += data
    assert booleans == [True, False, True] and relayed.count == before + 1


def test_a_relayed_query_is_counted_and_logged(fronting: str, caplog: pytest.LogCaptureFixture) -> None:
    query = f"ASK {{ <{ID}jaxa> ?p ?o }} # logged"
    with caplog.at_level(logging.INFO, logger="spacegraph.access"):
        response = httpx.get(f"{fronting}/sparql", params={"query": query}, headers={"Accept": FORMATS[0]})
    assert response.status_code == 200
    lines = [json.loads(record.getMessage()) for record in caplog.records if record.name == "spacegraph.access"]
    line = next(line for line in lines if line.get("route") == "/sparql")
    assert line["status"] == 200 and line["query_kind"] == "ASK" and line["bytes"] == len(response.content)
    assert line["client"] == "127.0.0.1"
    metrics = httpx.get(f"{fronting}/metrics").text
    requests = sample(metrics, "spacegraph_http_requests_total", route="/sparql", method="GET", status="200")
    assert requests is not None and requests >= 1


def test_a_client_out_of_budget_is_refused_by_the_relay_as_before(store: str, relayed: Counted) -> None:
    """Relayed queries take the client's turn and budget: once 1 ms of the store's time is used, a 429."""
    with running(create_app(Config(endpoint=f"{store}/query", client_budget=0.001))) as base:
        before = relayed.count
        statuses = []
        for number in range(200):
            response = httpx.get(f"{base}/sparql", params={"query": f"ASK {{ ?s ?p ?o }} # {number}"})
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert "budget" in response.text and int(response.headers["retry-after"]) >= 1
                break
        assert statuses[0] == 200 and statuses[-1] == 429 and relayed.count == before + len(statuses)


def test_a_bug_in_the_relay_is_a_500_and_a_closed_connection(
    store: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """As uvicorn answers an exception in the app: a plain 500, the connection closed, the traceback in
    the server's log only."""

    async def broken(relay: Relay, *args: Any) -> Any:
        raise RuntimeError("a bug in the relay")

    monkeypatch.setattr(Relay, "given", broken)
    with running(create_app(Config(endpoint=f"{store}/query"))) as base:
        uvicorn_log = logging.getLogger("uvicorn.error")  # configured by uvicorn: not propagated to the root's
        monkeypatch.setattr(uvicorn_log, "handlers", [*uvicorn_log.handlers, caplog.handler])
        status, fields, body = raw_get(base, f"/sparql?{urlencode({'query': 'ASK {}'})}", {"Accept": FORMATS[0]})
        assert (status, body) == (500, b"Internal Server Error") and ("connection", "close") in fields
        assert b"a bug" not in body
        assert any("a bug in the relay" in str(record.exc_info) for record in caplog.records)
        assert httpx.get(f"{base}/health").status_code == 200


def test_a_repeated_query_string_is_read_once(fronting: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The relay keeps its reading (decoded, analysed) of a query string for the next request with it."""
    read: list[str] = []

    def counted(text: str) -> Any:
        read.append(text)
        return analyse(text)

    monkeypatch.setattr(lanes, "analyse", counted)
    query = f"ASK {{ <{ID}jaxa> ?p ?o }} # read once"
    answers = [httpx.get(f"{fronting}/sparql", params={"query": query}).json()["boolean"] for _ in range(3)]
    assert answers == [True, True, True] and read == [query]


# --- the relay: new queries evaluated by a worker, from the protocol


@pytest.mark.parametrize("encoding", [None, "gzip"])
@pytest.mark.parametrize("query", ORDINARY)
def test_a_new_query_for_a_worker_is_relayed_with_the_ordinary_answer(
    base: str, relayed: Counted, query: str, encoding: str | None
) -> None:
    """Not cheap: evaluated by a worker, from the protocol. The same request again the ordinary way (an
    ``If-None-Match`` no answer matches): the same status, header fields and bytes."""
    accept = "text/turtle" if query.startswith("CONSTRUCT") else FORMATS[0]
    target = f"/sparql?{urlencode({'query': comment(query, f'relayed {encoding}')})}"
    headers = {"Accept": accept} if encoding is None else {"Accept": accept, "Accept-Encoding": encoding}
    evaluated = evaluations(base)
    answered, ordinary, took = both_ways(base, target, headers, relayed)
    assert took == (1, 0) and evaluations(base) == evaluated + 1  # the ordinary way's from the answer cache
    assert answered == ordinary and answered[0] == 200
    assert dict(answered[1])["cache-control"].startswith("public") and dict(answered[1])["etag"].startswith('W/"')


def test_a_relayed_answer_is_replayed_next_time_and_a_volatile_one_is_not(base: str, relayed: Counted) -> None:
    """Kept for replay as the ordinary way keeps it: the same request next is replayed; a volatile query
    (``RAND()``) is answered ``no-store`` and relayed again."""
    target = f"/sparql?{urlencode({'query': comment(ORDINARY[1], 'replayed next')})}"
    before, replays = relayed.count, replayed(base)
    first, second = raw_get(base, target, {"Accept": FORMATS[0]}), raw_get(base, target, {"Accept": FORMATS[0]})
    assert first == second and relayed.count == before + 1 and replayed(base) == replays + 1
    volatile = f"/sparql?{urlencode({'query': 'SELECT (RAND() AS ?r) WHERE {} # relayed'})}"
    answers = [raw_get(base, volatile, {"Accept": FORMATS[0]}) for _ in range(2)]
    assert [answer[0] for answer in answers] == [200, 200] and answers[0][2] != answers[1][2]
    assert all(("cache-control", "no-store") in answer[1] for answer in answers)
    assert relayed.count == before + 3 and replayed(base) == replays + 1


def test_the_workers_refusal_is_relayed_as_the_ordinary_error(base: str, relayed: Counted) -> None:
    target = f"/sparql?{urlencode({'query': 'SELECT ?s WHERE { ?s ?p } # relayed'})}"
    answered, ordinary, took = both_ways(base, target, {"Accept": FORMATS[0]}, relayed)
    assert took == (1, 0) and answered == ordinary and answered[0] == 400
    assert b"line 1, column" in answered[2]


def evaluations(base: str) -> float:
    return sample(httpx.get(f"{base}/metrics").text, "spacegraph_evaluations_total") or 0.0


def replayed(base: str) -> float:
    return sample(httpx.get(f"{base}/metrics").text, "spacegraph_replayed_responses_total") or 0.0
