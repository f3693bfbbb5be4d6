"""``serve --public-url``: behind a proxy, the server names its public addresses — the pages' links, the
303s, the sitemap, robots.txt, the description's access URLs, the canonical links, schema.org's
addresses — and nothing else changes: the same page with its local links made public, byte for byte;
the same names (IRIs) in every description; the same answers, documents and files. Two servers on the
same build, one with a public URL, compared over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import lxml.html
import pyoxigraph as ox
import pytest

from spacegraph.config import Config
from spacegraph.errors import SpacegraphError
from spacegraph.namespaces import BASE
from spacegraph.web.app import create_app
from spacegraph.web.discovery import ADDRESSES
from tests.support import running

PUBLIC = "https://data.example.org/sg/"
ROOT = PUBLIC.rstrip("/")
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
PAGES = ["/", "/?lang=ja", "/id/jaxa.html", "/id/jaxa.html?lang=fr", "/def.html", "/id/dataset.html",
         "/search?q=hayabusa", "/sparql", "/id/jaxaa", "/no-such-page"]  # fmt: skip
SAME = ["/id/jaxa.ttl", "/id/jaxa.jsonld", "/dumps/void.ttl", "/void.ttl", "/dumps/SHA256SUMS", "/context.jsonld",
        "/sparql?query=SELECT%20*%20%7B%20%3Fs%20%3Fp%20%3Fo%20FILTER%20(isIRI(%3Fs)%20%26%26%20isIRI(%3Fo))%20%7D%20ORDER%20BY%20%3Fs%20%3Fp%20%3Fo",
        "/health"]  # fmt: skip
SAME_GRAPH = ["/def.ttl", "/shapes.ttl", "/id/press-release.ttl"]  # with blank nodes, labelled by each store


@pytest.fixture(scope="module")
def servers(linked_build: Path) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    data = (linked_build / "spacegraph.nq",)
    with (
        running(create_app(Config(data=data))) as plain_url,
        running(create_app(Config(data=data, public_url=ROOT))) as public_url,  # no slash: one is added
        httpx.Client(base_url=plain_url, timeout=30) as plain,
        httpx.Client(base_url=public_url, timeout=30) as public,
    ):
        yield plain, public


def made_public(page: str) -> str:
    """A page of the plain server as the public one must write it: its local links made public, and
    the public addresses (canonical, language versions, schema.org's url and downloads) moved from the
    IRIs' base to the public URL."""
    page = re.sub(r'(href|src|action|data-endpoint)="/', rf'\1="{ROOT}/', page)
    page = re.sub(r"<code>/(sparql|fragments)</code>", rf"<code>{ROOT}/\1</code>", page)  # the addresses for clients
    page = re.sub(
        rf'(<link rel="(?:canonical|alternate)" (?:hreflang="[^"]+" )?href="){re.escape(BASE)}', rf"\1{PUBLIC}", page
    )
    page = re.sub(rf'("(?:contentUrl|url)": "){re.escape(BASE)}(dumps/|")', rf"\1{PUBLIC}\2", page)
    return page


@pytest.mark.parametrize("path", PAGES)
def test_a_page_changes_only_its_addresses(servers: tuple[httpx.Client, httpx.Client], path: str) -> None:
    plain, public = (client.get(path, headers=BROWSER) for client in servers)
    assert plain.status_code == public.status_code
    assert public.text == made_public(plain.text)
    tree = lxml.html.fromstring(public.text)
    for attribute in ("href", "src", "action"):
        values = tree.xpath(f"//@{attribute}")
        assert not [v for v in values if v.startswith("/") or v.startswith(BASE)], attribute  # all public now


def test_the_303s_and_their_links_name_the_public_address(servers: tuple[httpx.Client, httpx.Client]) -> None:
    plain, public = (client.get("/id/jaxa", headers={"Accept": "text/turtle"}) for client in servers)
    assert (plain.headers["location"], public.headers["location"]) == ("/id/jaxa.ttl", ROOT + "/id/jaxa.ttl")
    assert public.headers["link"] == plain.headers["link"].replace("</", f"<{ROOT}/")
    landing = servers[1].get("/", headers={"Accept": "text/turtle"})
    assert landing.headers["location"] == ROOT + "/id/dataset"
    void = servers[1].get("/.well-known/void", headers=BROWSER)
    assert (void.status_code, void.headers["location"]) == (303, ROOT + "/")


@pytest.mark.parametrize("path", SAME)
def test_documents_answers_and_files_do_not_change(servers: tuple[httpx.Client, httpx.Client], path: str) -> None:
    plain, public = (client.get(path) for client in servers)
    assert plain.status_code == public.status_code == 200
    assert plain.content == public.content


@pytest.mark.parametrize("path", SAME_GRAPH)
def test_graphs_with_blank_nodes_do_not_change(servers: tuple[httpx.Client, httpx.Client], path: str) -> None:
    plain, public = (canonical(client.get(path, headers={"Accept": "text/turtle"}).content) for client in servers)
    assert plain == public and len(plain) > 10


def test_the_service_description_names_the_public_endpoint(servers: tuple[httpx.Client, httpx.Client]) -> None:
    plain, public = (client.get("/sparql", headers={"Accept": "text/turtle"}) for client in servers)
    local = str(servers[0].base_url).rstrip("/") + "/sparql"  # the address the plain server was asked at
    assert f"<{local}>" in plain.text and f"<{PUBLIC}sparql>" in public.text
    local_fragments = local.removesuffix("sparql") + "fragments"
    assert f"<{PUBLIC}fragments?subject=>" in public.text
    expected = plain.text.replace(local, PUBLIC + "sparql").replace(local_fragments, PUBLIC + "fragments")
    assert canonical(public.content) == canonical(expected.encode())


def canonical(data: bytes) -> ox.Dataset:
    dataset = ox.Dataset(ox.parse(data, format=ox.RdfFormat.TURTLE))
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return dataset


def test_the_sitemap_and_robots_name_the_public_addresses(servers: tuple[httpx.Client, httpx.Client]) -> None:
    plain, public = (client.get("/sitemap.xml") for client in servers)
    assert public.text == plain.text.replace(BASE, PUBLIC) and PUBLIC + "id/jaxa.html" in public.text
    plain, public = (client.get("/robots.txt") for client in servers)
    assert "Disallow: /sg/sparql?" in public.text and f"Sitemap: {PUBLIC}sitemap.xml" in public.text
    assert public.text == plain.text.replace("Disallow: /", "Disallow: /sg/").replace(
        "Allow: /", "Allow: /sg/"
    ).replace(BASE, PUBLIC)


def test_the_description_moves_its_access_urls_and_keeps_its_names(
    servers: tuple[httpx.Client, httpx.Client],
) -> None:
    plain, public = (
        [q.triple for q in ox.parse(client.get("/.well-known/void").content, format=ox.RdfFormat.TURTLE)]
        for client in servers
    )
    ground = {t for t in plain if not isinstance(t.subject, ox.BlankNode) and not isinstance(t.object, ox.BlankNode)}
    moved = [t for t in public if not {type(t.subject), type(t.object)} & {ox.BlankNode} and t not in ground]
    assert moved and [t for t in moved if t.predicate not in ADDRESSES and t.subject != ox.NamedNode(PUBLIC)] == []
    downloads = {t.object.value for t in public if t.predicate.value == "http://www.w3.org/ns/dcat#downloadURL"}
    assert len(downloads) == 12 and all(url.startswith(PUBLIC + "dumps/") for url in downloads)

    def back(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> ox.NamedNode | ox.BlankNode | ox.Literal:
        assert not isinstance(term, ox.Triple)
        if isinstance(term, ox.NamedNode) and term.value.startswith(PUBLIC):
            return ox.NamedNode(BASE + term.value[len(PUBLIC) :])
        return term

    returned = [ox.Triple(back(t.subject), t.predicate, back(t.object)) for t in public]  # type: ignore[arg-type]
    assert canonical_triples(returned) == canonical_triples(plain)  # the same description, its addresses aside


def canonical_triples(triples: list[ox.Triple]) -> ox.Dataset:
    dataset = ox.Dataset(ox.Quad(t.subject, t.predicate, t.object) for t in triples)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return dataset


@pytest.mark.parametrize("bad", ["ftp://example.org/", "https://example.org/?x=1", "example.org", "https:///x"])
def test_a_public_url_must_be_a_base_url(linked_build: Path, bad: str) -> None:
    with pytest.raises(SpacegraphError, match="public URL"):
        Config(data=(linked_build / "spacegraph.nq",), public_url=bad)
