"""Security headers on every response, errors included, and no server stack details in any answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from spacegraph.config import Config
from spacegraph.engine.store import Answer, Backend, Job
from spacegraph.web.app import create_app
from spacegraph.web.headers import CONTENT_SECURITY_POLICY, DOCS_CONTENT_SECURITY_POLICY, REFERRER_POLICY, policy_for
from tests.support import TestClient, write_nquads

METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    nquads = write_nquads(tmp_path_factory.mktemp("graph") / "spacegraph.nq")
    with TestClient(create_app(Config(data=(nquads,)))) as client:
        yield client


def paths(client: TestClient) -> list[str]:
    """Every documented path (with its parameters filled in), the documentation and a path nobody serves."""
    documented = client.get("/openapi.json").json()["paths"]
    filled = [path.replace("{", "").replace("}", "") for path in documented]
    return sorted({*filled, "/docs", "/redoc", "/openapi.json", "/nowhere", "/sparql?query=ASK%7B%7D"})


def check(response_headers: dict[str, str] | object, path: str) -> None:
    headers = response_headers
    assert isinstance(headers, dict)
    expected = DOCS_CONTENT_SECURITY_POLICY if path in ("/docs", "/redoc") else CONTENT_SECURITY_POLICY
    if path == "/sparql":  # the query UI's page: inline styles allowed, nothing else loosened
        expected = expected.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
    assert headers.get("content-security-policy") == expected, path
    assert headers.get("x-content-type-options") == "nosniff", path
    assert headers.get("referrer-policy") == REFERRER_POLICY, path
    assert "server" not in headers, path


def test_every_route_and_method_carries_the_headers(client: TestClient) -> None:
    statuses = set()
    for path in paths(client):
        for method in METHODS:
            response = client.request(method, path, headers={"Origin": "https://example.org"})
            statuses.add(response.status_code)
            check(dict(response.headers), path.split("?")[0])
            assert response.headers.get_list("x-content-type-options") == ["nosniff"]  # once, never twice
    assert {200, 400, 404, 405} <= statuses  # answers and errors alike


def test_the_policy_fits_our_pages() -> None:
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["img-src"] == "'self' data:" and directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY and "unsafe-eval" not in CONTENT_SECURITY_POLICY
    query_ui = dict(part.split(" ", 1) for part in policy_for("/sparql").split("; "))
    assert query_ui["style-src"] == "'self' 'unsafe-inline'" and query_ui["script-src"] == "'self'"
    assert policy_for("/id/jaxa") == CONTENT_SECURITY_POLICY


class BrokenBackend(Backend):
    """A backend with a bug: every query raises an exception the routes do not expect."""

    def __init__(self, config: Config) -> None:
        self.config = config

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        pass

    async def query(self, job: Job) -> Answer:
        raise RuntimeError("secret internals at /srv/spacegraph/store.py line 42")


def test_a_bug_gives_500_without_a_traceback(tmp_path: Path) -> None:
    nquads = write_nquads(tmp_path / "g.nq")
    config = Config(data=(nquads,))
    with TestClient(create_app(config, BrokenBackend(config)), raise_server_exceptions=False) as client:
        response = client.get("/sparql", params={"query": "ASK {}"})
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert "secret" not in response.text and "Traceback" not in response.text
    check(dict(response.headers), "/sparql")
