"""Errors as a person and as a program see them, over real HTTP: a page of the site, in its chrome and
the reader's language, for a client that asks for HTML (status and headers kept); one line of plain text
for every other client; a bug's page without its traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import lxml.html
import pytest

from spacegraph.config import Config
from spacegraph.engine.store import Answer, Backend, Job
from spacegraph.web.app import create_app
from tests.support import running

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
ASK_ALL = "SELECT * WHERE { ?s ?p ?o } LIMIT 1"


@pytest.fixture(scope="module")
def client(linked_build: Path) -> Iterator[httpx.Client]:
    app = create_app(Config(data=(linked_build / "spacegraph.nq",)))
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def page_of(response: httpx.Response) -> lxml.html.HtmlElement:
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    tree = lxml.html.fromstring(response.text)
    assert tree.xpath("//header[@class='site']//nav"), "not in the site's chrome"
    assert set(tree.xpath("//form[@role='search']/@action")) == {"/search"}
    return tree


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "heading", "message"),
    [
        ("GET", "/nope", {}, 404, "Not found", "nothing at /nope on this server"),
        ("DELETE", "/", {}, 405, "Method not allowed", "DELETE is not allowed on /; allowed: GET, HEAD"),
        ("GET", f"/sparql?query={ASK_ALL}", {"Accept": "text/html"}, 406, "No format fits the request",
         "none of the accepted media types fits; this endpoint offers: application/sparql-results+json"),
        ("GET", "/sparql?query=SELECT%20%3Fx%20WHERE%20%7B", {"Accept": "text/html, */*;q=0.1"}, 400, "Bad request",
         "syntax error at line 1, column 18"),
    ],
)  # fmt: skip
def test_a_browser_gets_a_page_a_program_gets_a_line(
    client: httpx.Client, method: str, path: str, headers: dict[str, str], status: int, heading: str, message: str
) -> None:
    plain = client.request(
        method, path, headers={"Accept": "*/*", **{k: v for k, v in headers.items() if k != "Accept"}}
    )
    if "Accept" in headers and status == 406:
        plain = client.request(method, path, headers={"Accept": "image/png"})
    assert plain.status_code == status
    assert plain.headers["content-type"].startswith("text/plain")
    assert plain.text.endswith("\n") and message.split(":")[0] in plain.text

    browser = client.request(method, path, headers={"Accept": BROWSER, **headers})
    assert browser.status_code == status
    tree = page_of(browser)
    assert tree.xpath("string(//h1)") == heading
    assert message in tree.xpath("string(//pre[@class='message'])")
    if status == 405:
        assert plain.headers["allow"] == browser.headers["allow"] == "GET, HEAD"


def test_the_page_speaks_the_readers_language(client: httpx.Client) -> None:
    for language, heading in (("fr", "Introuvable"), ("ja", "見つかりません")):
        response = client.get("/nope", headers={"Accept": BROWSER, "Accept-Language": language})
        tree = page_of(response)
        assert tree.xpath("string(/html/@lang)") == language
        assert tree.xpath("string(//h1)") == heading


def test_pages_that_are_html_already_and_head_requests_are_left_alone(client: httpx.Client) -> None:
    unknown = client.get("/id/jaxaa", headers={"Accept": BROWSER})  # the 404 of an IRI, with suggestions
    assert unknown.status_code == 404 and "Did you mean" in unknown.text
    head = client.head("/nope", headers={"Accept": BROWSER})
    assert (head.status_code, head.content) == (404, b"")


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


def test_a_bug_gives_a_page_without_its_traceback(linked_build: Path) -> None:
    config = Config(data=(linked_build / "spacegraph.nq",))
    with running(create_app(config, BrokenBackend(config))) as url:
        browser = httpx.get(
            url + "/sparql",
            params={"query": "ASK {}"},
            headers={"Accept": BROWSER + ",application/sparql-results+json"},
        )
        plain = httpx.get(url + "/sparql", params={"query": "ASK {}"})
    assert browser.status_code == plain.status_code == 500
    tree = page_of(browser)
    assert tree.xpath("string(//h1)") == "Something went wrong on the server"
    assert "secret" not in browser.text and "Traceback" not in browser.text
    assert browser.headers["content-security-policy"].startswith("default-src 'self'")
    assert plain.text == "Internal Server Error"
