"""New cheap queries answered at once in the server process (``web/at_once.py``, ``engine/inline.py``),
over real HTTP: the same bytes as the ordinary way through a worker, for every results format; what may
not be answered so takes the ordinary way; a client out of budget is refused as before."""

from __future__ import annotations

import gzip
import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest

from spacegraph.config import Config
from spacegraph.web.app import create_app
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
def test_what_is_not_cheap_takes_the_ordinary_way(base: str, query: str) -> None:
    before = at_once(base)
    accept = "text/turtle" if query.startswith("CONSTRUCT") else FORMATS[0]
    response = httpx.get(
        f"{base}/sparql", params={"query": comment(query, "ordinary")}, headers={"Accept": accept}, timeout=10
    )
    assert response.status_code == 200 and at_once(base) == before


def test_errors_and_other_requests_take_the_ordinary_way(base: str) -> None:
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
