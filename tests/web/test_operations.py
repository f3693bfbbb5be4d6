"""Operations: /health, /ready, /metrics and the JSON access log, in process against the real embedded
backend (and a remote one that cannot be reached)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from spacegraph import __version__
from spacegraph.config import Config
from spacegraph.web import accesslog
from spacegraph.web.accesslog import query_hash, query_kind
from spacegraph.web.app import create_app
from tests.servers import free_port
from tests.support import TestClient

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
ASK = "ASK { ?s ?p ?o }"


@pytest.fixture(scope="module")
def client(nquads: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Config(data=(nquads,), timeout=1.0))) as client:
        yield client


def sample(metrics: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the Prometheus text exposition, or None."""
    for line in metrics.splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(match.group(3))
    return None


def test_health_and_ready(client: TestClient, nquads: Path) -> None:
    health = client.get("/health")
    assert health.status_code == 200 and health.json() == {"status": "ok", "version": __version__}
    assert health.headers["cache-control"] == "no-store"
    ready = client.get("/ready")
    assert ready.status_code == 200, ready.text
    triples = client.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"}).json()
    assert ready.json()["triples"] == int(triples["results"]["bindings"][0]["n"]["value"]) > 1000
    assert client.head("/health").status_code == 200 and client.head("/ready").status_code == 200


def test_not_ready_while_the_remote_endpoint_is_unreachable() -> None:
    config = Config(endpoint=f"http://127.0.0.1:{free_port()}/query", timeout=2.0)
    with TestClient(create_app(config)) as client:
        assert client.get("/health").status_code == 200  # alive, but
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["status"] == "not ready" and "cannot reach the SPARQL endpoint" in ready.json()["reason"]
        metrics = client.get("/metrics").text
        assert "spacegraph_graph_triples" not in metrics  # unknown, so not reported
        assert sample(metrics, "spacegraph_info", version=__version__, data="remote") == 1


def test_metrics(client: TestClient) -> None:
    before = client.get("/metrics").text
    ok_before = sample(before, "spacegraph_http_requests_total", route="/sparql", method="GET", status="200") or 0
    assert client.get("/sparql", params={"query": ASK}).status_code == 200
    assert client.get("/sparql", params={"query": "SELECT nonsense"}).status_code == 400
    assert client.post("/sparql", data={"update": "CLEAR ALL"}).status_code == 403
    assert client.get("/sparql?" + "&".join(f"p{i}=1" for i in range(101))).status_code == 400
    assert client.get("/nowhere/at/all").status_code == 404
    assert client.request("BREW", "/sparql").status_code == 405
    timed_out = client.get("/sparql", params={"query": RUNAWAY})
    assert timed_out.status_code == 504
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain; version=")
    metrics = response.text
    assert sample(metrics, "spacegraph_http_requests_total", route="/sparql", method="GET", status="200") == (
        ok_before + 1
    )
    assert sample(metrics, "spacegraph_http_requests_total", route="/sparql", method="GET", status="400") == 2
    assert sample(metrics, "spacegraph_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert sample(metrics, "spacegraph_http_requests_total", route="/sparql", method="other", status="405") == 1
    assert sample(metrics, "spacegraph_rejected_requests_total", reason="too-many-parameters") == 1
    assert sample(metrics, "spacegraph_rejected_requests_total", reason="forbidden") == 1
    assert sample(metrics, "spacegraph_query_timeouts_total") == 1
    assert (sample(metrics, "spacegraph_query_workers_replaced_total") or 0) >= 1
    count = sample(metrics, "spacegraph_http_request_duration_seconds_count", route="/sparql")
    slow = sample(metrics, "spacegraph_http_request_duration_seconds_bucket", route="/sparql", le="0.5")
    assert count is not None and slow is not None and count - slow >= 1  # the runaway took a second
    assert (sample(metrics, "spacegraph_graph_triples") or 0) > 1000
    fingerprint = client.app.state.backend.fingerprint  # type: ignore[attr-defined]
    assert sample(metrics, "spacegraph_info", version=__version__, data=fingerprint[:16]) == 1
    assert sample(metrics, "spacegraph_http_requests_in_flight") == 1  # the scrape itself


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("PREFIX ex: <http://example.org/> BASE <http://example.org/> SELECT * { ?s ?p ?o }", "SELECT"),
        ("ask {}", "ASK"),
        ("# comment\nCONSTRUCT WHERE { ?s ?p ?o }", "CONSTRUCT"),
        ("DESCRIBE <http://example.org/x>", "DESCRIBE"),
        ("INSERT DATA { <x:a> <x:b> <x:c> }", "UPDATE"),
        ("", "unknown"),
        ("}{", "unknown"),
    ],
)
def test_query_kind(query: str, kind: str) -> None:
    assert query_kind(query) == kind


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [json.loads(record.getMessage()) for record in caplog.records if record.name == "spacegraph.access"]


def test_access_log(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    secret = "s3cr3t-t0ken"
    query = f"SELECT * WHERE {{ ?s ?p '{secret}' }}"
    with caplog.at_level(logging.INFO, logger="spacegraph.access"):
        client.get("/sparql", params={"query": ASK, "format": "json"}, headers={"Authorization": f"Bearer {secret}"})
        client.post("/sparql", data={"query": query, "api_key": secret}, headers={"Cookie": f"session={secret}"})
        client.post("/sparql", content=b"CLEAR ALL", headers={"Content-Type": "application/sparql-update"})
        client.get("/health")
    lines = access_lines(caplog)
    assert len(lines) == 4
    get, post, update, health = lines
    assert get["method"] == "GET" and get["route"] == "/sparql" and get["path"] == "/sparql"
    assert get["status"] == 200 and get["query_kind"] == "ASK" and get["query_hash"] == query_hash(ASK)
    assert get["client"] == "testclient" and isinstance(get["duration_ms"], float) and get["bytes"] > 0  # type: ignore[operator]
    assert str(get["time"]).endswith("Z")
    assert post["query_kind"] == "SELECT" and post["query_hash"] == query_hash(query)
    assert update["status"] == 403 and update["query_kind"] == "UPDATE"
    assert health["route"] == "/health" and "query_kind" not in health
    assert not any("query" in line for line in lines)  # no text without log_queries
    assert all(secret not in record.getMessage() for record in caplog.records)  # no body, header or parameter


def test_access_log_with_query_text_to_a_file(nquads: Path, tmp_path: Path) -> None:
    target = tmp_path / "access.log"
    config = Config(data=(nquads,), access_log=str(target), log_queries=True)
    try:
        with TestClient(create_app(config)) as client:
            client.get("/sparql", params={"query": ASK})
            client.post("/sparql", content="ASK { ?s ?p 'é' }", headers={"Content-Type": "application/sparql-query"})
    finally:
        accesslog.uninstall(str(target))
    first, second = (json.loads(line) for line in target.read_text().splitlines())
    assert first["query"] == ASK and first["query_kind"] == "ASK"
    assert second["query"] == "ASK { ?s ?p 'é' }" and second["method"] == "POST"


def test_options_and_documented_errors(client: TestClient) -> None:
    sparql = client.options("/sparql")
    assert sparql.status_code == 204 and sparql.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    assert client.options("/health").headers["allow"] == "GET, HEAD, OPTIONS"
    assert client.options("/nowhere").status_code == 404
    preflight = client.options(
        "/sparql", headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 200 and "POST" in preflight.headers["access-control-allow-methods"]
    paths = client.get("/openapi.json").json()["paths"]
    assert {"429", "431", "413", "414", "504", "503", "406"} <= set(paths["/sparql"]["get"]["responses"])
    assert {"429", "431"} <= set(paths["/health"]["get"]["responses"]) and "504" not in paths["/health"]["get"][
        "responses"
    ]
