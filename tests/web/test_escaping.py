"""Markup in the data is shown as text, never run: labels and comments with <script> in them, served on
real pages (entity page, a neighbour's page, search), through the real build and app."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest

from spacegraph import PROJECT_ROOT
from spacegraph.config import Config
from spacegraph.publish import dumps
from spacegraph.publish.graph import Sources
from spacegraph.web.app import create_app
from tests.support import TestClient

HOSTILE = PROJECT_ROOT / "tests" / "data" / "hostile-labels.ttl"
LABEL = "<script>alert('label')</script> \"quoted\" & <b>bold</b>"
COMMENT = "</script><script>alert('comment')</script>"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    built = dumps.build(
        Sources.in_project(data=(PROJECT_ROOT / "data", HOSTILE)),
        tmp_path_factory.mktemp("hostile") / "dist",
        description=PROJECT_ROOT / "metadata" / "dataset.ttl",
        context=PROJECT_ROOT / "ontology" / "context.jsonld",
    )
    with TestClient(create_app(Config(data=(built.folder / "spacegraph.nq",), timeout=10))) as client:
        yield client


@pytest.mark.parametrize("path", ["/id/hostile.html", "/id/tokyo.html", "/search?q=alert"])
def test_markup_in_the_data_is_shown_as_text(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200, response.text
    page = response.text
    for needle in ("<script>alert(", "<b>bold</b>", "</script><script>"):
        assert needle not in page, f"{path} lets markup through: {needle}"
    assert LABEL in html.unescape(page), f"{path} does not show the label as text"


def test_the_comment_is_escaped_on_its_page(client: TestClient) -> None:
    page = client.get("/id/hostile.html").text
    assert COMMENT not in page
    assert COMMENT in html.unescape(page)
