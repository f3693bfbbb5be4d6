"""Dereferencing our IRIs with plain HTTP clients, in process (TestClient) against the real embedded
backend serving a real build: 303 to a document per format by ``Accept``, the documents themselves, what
a description holds, unknown IRIs, the published files, and every IRI of our namespace in the dumps."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest

from spacegraph import PROJECT_ROOT
from spacegraph.config import Config
from spacegraph.namespaces import BASE, ONTOLOGY_GRAPH, SHAPES_GRAPH
from spacegraph.publish.graph import Sources, load
from spacegraph.web.app import create_app
from tests.support import TestClient, running

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
JAXA = BASE + "id/jaxa"
RDFS_LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
OA_EXACT = ox.NamedNode("http://www.w3.org/ns/oa#exact")
ORG_POST_IN = ox.NamedNode("http://www.w3.org/ns/org#postIn")
RDF_FORMATS = {
    "ttl": ("text/turtle", ox.RdfFormat.TURTLE),
    "jsonld": ("application/ld+json", ox.RdfFormat.JSON_LD),
    "nt": ("application/n-triples", ox.RdfFormat.N_TRIPLES),
    "rdf": ("application/rdf+xml", ox.RdfFormat.RDF_XML),
}


@pytest.fixture(scope="module")
def client(linked_build: Path) -> Iterator[TestClient]:
    config = Config(data=(linked_build / "spacegraph.nq",), timeout=10)
    with TestClient(create_app(config), follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="module")
def reference(linked_build: Path) -> ox.Store:
    store = ox.Store()
    store.bulk_load(path=linked_build / "spacegraph.nq", format=ox.RdfFormat.N_QUADS)
    return store


def media(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


def triples(response: httpx.Response, extension: str) -> set[ox.Triple]:
    assert response.status_code == 200, response.text
    return {quad.triple for quad in ox.parse(response.content, format=RDF_FORMATS[extension][1])}


def canonical(items: set[ox.Triple]) -> ox.Dataset:
    dataset = ox.Dataset(ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in items)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return dataset


# --- 303: the table of Accept headers -------------------------------------------------------------------

NEGOTIATION = [
    ("/id/jaxa", "text/turtle", 303, "/id/jaxa.ttl"),
    ("/id/jaxa", "application/ld+json", 303, "/id/jaxa.jsonld"),
    ("/id/jaxa", "application/n-triples", 303, "/id/jaxa.nt"),
    ("/id/jaxa", "application/rdf+xml", 303, "/id/jaxa.rdf"),
    ("/id/jaxa", "text/html", 303, "/id/jaxa.html"),
    ("/id/jaxa", "application/xhtml+xml", 303, "/id/jaxa.html"),
    ("/id/jaxa", BROWSER, 303, "/id/jaxa.html"),
    ("/id/jaxa", "*/*", 303, "/id/jaxa.ttl"),
    ("/id/jaxa", None, 303, "/id/jaxa.ttl"),
    ("/id/jaxa", "text/html;q=0.5, text/turtle", 303, "/id/jaxa.ttl"),
    ("/id/jaxa", "text/turtle;q=0.2, application/ld+json;q=0.9", 303, "/id/jaxa.jsonld"),
    ("/id/jaxa", "application/json", 303, "/id/jaxa.jsonld"),
    ("/id/jaxa", "text/*", 303, "/id/jaxa.ttl"),
    ("/id/jaxa", "image/png", 406, None),
    ("/id/quote/hayabusa2", "text/turtle", 303, "/id/quote/hayabusa2.ttl"),
    ("/id/dataset", BROWSER, 303, "/id/dataset.html"),
    ("/def", BROWSER, 303, "/def.html"),
    ("/def", "text/turtle", 303, "/def.ttl"),
    ("/def/", BROWSER, 303, "/def.html"),
    ("/def/Meeting", "application/rdf+xml", 303, "/def/Meeting.rdf"),
    ("/def/participant", BROWSER, 303, "/def/participant.html"),
    ("/graph/data", "text/turtle", 303, "/graph/data.ttl"),
    ("/shapes", "text/turtle", 303, "/shapes.ttl"),
    ("/shapes/Labelled", BROWSER, 303, "/shapes/Labelled.html"),
    ("/id/jaxaa", "text/turtle", 404, None),
    ("/def/Meting", BROWSER, 404, None),
    ("/", BROWSER, 200, None),
    ("/", "text/turtle", 303, "/id/dataset"),
]


@pytest.mark.parametrize(("path", "accept", "status", "location"), NEGOTIATION)
def test_negotiation(client: TestClient, path: str, accept: str | None, status: int, location: str | None) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    response = client.get(path, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers.get("location") == location
    if status == 303:
        assert "Accept" in response.headers["vary"]
        if path != "/":
            assert f'<{BASE}{path.lstrip("/").removesuffix("/")}>; rel="describes"' in response.headers["link"]


DOCUMENTS = [
    ("/id/jaxa.ttl", "text/turtle"),
    ("/id/jaxa.jsonld", "application/ld+json"),
    ("/id/jaxa.nt", "application/n-triples"),
    ("/id/jaxa.rdf", "application/rdf+xml"),
    ("/id/jaxa.html", "text/html"),
    ("/def.html", "text/html"),
    ("/def.ttl", "text/turtle"),
    ("/graph/enrichment.html", "text/html"),
    ("/id/dataset.jsonld", "application/ld+json"),
    ("/void.ttl", "text/turtle"),
    ("/context.jsonld", "application/ld+json"),
    ("/dumps/spacegraph.nq", "application/n-quads"),
    ("/dumps/spacegraph.ttl.gz", "application/gzip"),
    ("/dumps/ontology.svg", "image/svg+xml"),
    ("/dumps/SHA256SUMS", "text/plain"),
    ("/static/style.css", "text/css"),
    ("/static/yasgui/yasgui.min.js", "text/javascript"),
    ("/static/yasgui/yasgui.min.css", "text/css"),
]


@pytest.mark.parametrize(("path", "content_type"), DOCUMENTS)
def test_documents_answer_in_their_own_format_whatever_the_client_accepts(
    client: TestClient, path: str, content_type: str
) -> None:
    for accept in ("text/turtle", BROWSER, "image/png"):
        response = client.get(path, headers={"Accept": accept})
        assert response.status_code == 200, (path, accept, response.text[:200])
        assert media(response) == content_type
    head = client.head(path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == response.headers["content-type"]


def test_a_revalidated_document_is_not_sent_again(client: TestClient) -> None:
    for path in ("/id/jaxa.ttl", "/id/jaxa.html", "/dumps/void.ttl"):
        first = client.get(path)
        etag = first.headers["etag"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"", path


# --- What a description holds ------------------------------------------------------------------------


def test_a_description_holds_the_resource_its_incoming_links_labels_and_quotes(
    client: TestClient, reference: ox.Store
) -> None:
    got = triples(client.get("/id/jaxa.ttl"), "ttl")
    jaxa = ox.NamedNode(JAXA)
    own = {q.triple for q in reference.quads_for_pattern(jaxa, None, None)}
    incoming = {q.triple for q in reference.quads_for_pattern(None, None, jaxa) if isinstance(q.subject, ox.NamedNode)}
    assert own and own <= got
    assert incoming and incoming <= got
    assert ox.Triple(ox.NamedNode(BASE + "id/president-of-jaxa"), ORG_POST_IN, jaxa) in got
    # Labels of what it mentions: its country, and a property of the ontology, in every language.
    japan = {t for t in got if t.subject == ox.NamedNode(BASE + "id/japan") and t.predicate == RDFS_LABEL}
    assert {t.object.language for t in japan if isinstance(t.object, ox.Literal)} >= {"en", "fr", "ja"}
    assert any(t.subject == ox.NamedNode(BASE + "def/country") and t.predicate == RDFS_LABEL for t in got)
    # The words of its evidence.
    quotes = {t.object.value for t in got if t.predicate == OA_EXACT and isinstance(t.object, ox.Literal)}
    assert any("his opposite number Naoki Okumura" in quote for quote in quotes)
    # Nothing about unrelated resources.
    assert not any(t.subject == ox.NamedNode(BASE + "id/hayabusa2") for t in got)


def test_every_format_holds_the_same_description(client: TestClient) -> None:
    for path in ("/id/jaxa", "/id/dataset", "/shapes/Labelled", "/def/Meeting"):
        graphs = [canonical(triples(client.get(f"{path}.{ext}"), ext)) for ext in RDF_FORMATS]
        assert all(graph == graphs[0] for graph in graphs[1:]), path
        assert len(graphs[0]) > 5


def test_blank_nodes_are_described_with_the_resource(client: TestClient) -> None:
    """A shape's property shapes and lists are blank nodes: they come with it (concise bounded description)."""
    got = triples(client.get("/shapes/Labelled.ttl"), "ttl")
    in_lists = [t.object for t in got if t.predicate.value.endswith("#first") and isinstance(t.object, ox.Literal)]
    assert [literal.value for literal in in_lists if isinstance(literal, ox.Literal)] == ["en"]  # sh:languageIn


def test_hash_iris_are_described_by_their_document(client: TestClient, reference: ox.Store) -> None:
    got = triples(client.get("/id/quote/hayabusa2.ttl"), "ttl")
    for fragment in ("text", "position"):
        node = ox.NamedNode(f"{BASE}id/quote/hayabusa2#{fragment}")
        expected = {q.triple for q in reference.quads_for_pattern(node, None, None)}
        assert expected and expected <= got
    page = client.get("/id/quote/hayabusa2.html")
    assert 'id="text"' in page.text and 'id="position"' in page.text


def test_the_ontology_iri_gives_the_whole_ontology(client: TestClient) -> None:
    loaded = load(Sources.in_project())
    ontology = {q.triple for q in loaded.quads(ONTOLOGY_GRAPH)}
    shapes = {q.triple for q in loaded.quads(SHAPES_GRAPH)}
    assert canonical(triples(client.get("/def.ttl"), "ttl")) == canonical(ontology)
    assert canonical(triples(client.get("/shapes.ttl"), "ttl")) == canonical(shapes)
    assert client.get("/def/", headers={"Accept": "text/turtle"}).headers["location"] == "/def.ttl"


def test_an_unknown_iri_is_a_404_with_suggestions(client: TestClient) -> None:
    page = client.get("/id/jaxaa", headers={"Accept": BROWSER})
    assert page.status_code == 404 and media(page) == "text/html"
    assert 'href="/id/jaxa"' in page.text
    assert 'action="/search"' in page.text
    text = client.get("/id/hayabusa-2.ttl", headers={"Accept": "text/turtle"})
    assert text.status_code == 404 and media(text) == "text/plain"
    assert f"did you mean <{BASE}id/hayabusa2>?" in text.text
    for path in ("/id/", "/id/%20x", "/graph/nothing", "/def/jaxa.html", "/shapes/x.ttl"):
        assert client.get(path, headers={"Accept": BROWSER}).status_code == 404, path


def test_search_finds_by_label_in_any_language(client: TestClient) -> None:
    for words in ("hayabusa", "はやぶさ", "exploration spatiale"):
        page = client.get("/search", params={"q": words})
        assert page.status_code == 200
        assert "/id/hayabusa2" in page.text or "/id/exploration-area" in page.text, words
    nothing = client.get("/search", params={"q": "zzzz nothing"}).text
    assert "/id/" not in nothing.split("<main", 1)[1].split("</main>")[0]


# --- Every IRI of ours in the dumps dereferences ---------------------------------------------------------


def our_iris(nquads: Path) -> list[str]:
    found = {
        node.value
        for quad in ox.parse(path=nquads, format=ox.RdfFormat.N_QUADS)
        for node in (quad.subject, quad.predicate, quad.object, quad.graph_name)
        if isinstance(node, ox.NamedNode) and node.value.startswith(BASE)
    }
    return sorted(found)


def test_every_iri_of_ours_in_the_dumps_dereferences(client: TestClient, linked_build: Path) -> None:
    iris = our_iris(linked_build / "spacegraph.nq")
    assert len(iris) > 250
    subjects = {
        q.subject.value
        for q in ox.parse(path=linked_build / "spacegraph.nq", format=ox.RdfFormat.N_QUADS)
        if isinstance(q.subject, ox.NamedNode)
    }
    for iri in iris:
        path = "/" + iri[len(BASE) :].partition("#")[0]
        for accept in ("text/turtle", BROWSER):
            response = client.get(path, headers={"Accept": accept}, follow_redirects=True)
            assert response.status_code == 200, (iri, accept, response.status_code)
        if "#" in iri and iri in subjects:
            assert f"<{iri}>" in response.text or f'about="{iri}"' in response.text, iri
        # The namespace IRI /def/ is the ontology's other name: its document is the ontology's. The
        # endpoints (/sparql, the fragments' subject lookup) answer, and describe no resource of that name.
        if not path.startswith(("/dumps/", "/sparql", "/fragments")) and path not in ("/", "/def/"):
            described = client.get(path, headers={"Accept": "application/n-triples"}, follow_redirects=True)
            assert f"<{iri}>" in described.text, iri


# --- The published files ------------------------------------------------------------------------------


def test_the_dumps_are_served_as_built(client: TestClient, linked_build: Path) -> None:
    sums = (linked_build / "SHA256SUMS").read_text().splitlines()
    assert len(sums) == 14  # 12 dumps, void.ttl, ontology.svg
    for line in sums:
        digest, name = line.split("  ")
        response = client.get(f"/dumps/{name}")
        assert response.status_code == 200
        assert hashlib.sha256(response.content).hexdigest() == digest, name
    assert client.get("/void.ttl").content == (linked_build / "void.ttl").read_bytes()
    context = json.loads(client.get("/context.jsonld").content)
    assert context["@context"]["sg"] == BASE + "def/"


@pytest.mark.parametrize(
    "path",
    [
        "/dumps/pyproject.toml",
        "/dumps/..%2Fspacegraph.nq",
        "/dumps/..%2F..%2F..%2Fpyproject.toml",
        "/dumps/%2Fetc%2Fpasswd",
        "/dumps/%2e%2e%2fvoid.ttl",
        "/dumps/spacegraph.nq%00",
        "/dumps/.",
        "/dumps/",
        "/static/..%2Fderef.py",
        "/static/%2e%2e%2fderef.py",
        "/static/yasgui/package.json",
        "/static/yasgui/..%2F..%2Fpackage.json",
    ],
)
def test_no_file_outside_the_published_ones(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, (path, response.status_code)


def test_no_file_outside_the_published_ones_over_a_raw_connection(linked_build: Path) -> None:
    """The request line as sent, with no client normalising ``..`` away first."""
    app = create_app(Config(data=(linked_build / "spacegraph.nq",)))
    with running(app) as base:
        host, port = base.removeprefix("http://").split(":")
        for target in (
            "/dumps/../pyproject.toml",
            "/dumps/../../../../etc/passwd",
            "/dumps/..%2f..%2fpyproject.toml",
            "/dumps//etc/passwd",
            "/static/../deref.py",
            "/static/yasgui/../../../package.json",
        ):
            connection = http.client.HTTPConnection(host, int(port), timeout=10)
            connection.putrequest("GET", target, skip_accept_encoding=True)
            connection.endheaders()
            response = connection.getresponse()
            body = response.read()
            connection.close()
            assert response.status == 404, (target, response.status)
            assert b"[project]" not in body and b"root:" not in body and b"devDependencies" not in body


# --- The pages, read as HTML ----------------------------------------------------------------------------


def test_the_landing_page(client: TestClient, linked_build: Path) -> None:
    page = client.get("/", headers={"Accept": BROWSER})
    assert page.status_code == 200 and media(page) == "text/html"
    text = page.text
    assert '<html lang="en">' in text
    for line in (linked_build / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert f'href="/dumps/{name}"' in text
        assert digest in text or name == "SHA256SUMS"
    size = (linked_build / "spacegraph.nq").stat().st_size
    assert f"{size / 1000:.1f} KB" in text
    assert "https://creativecommons.org/licenses/by/4.0/" in text
    queries = sorted((PROJECT_ROOT / "queries").glob("*.rq"))
    for query in queries:
        question = query.read_text().splitlines()[0].lstrip("# ")
        assert question.replace("'", "&#39;") in text
        assert f'href="/sparql?example={query.stem}"' in text
    for link in ('href="/def.html"', 'href="/sparql"', 'href="/id/jaxa"', 'href="/id/hayabusa2"'):
        assert link in text
    document = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', text, re.DOTALL)[1])  # type: ignore[index]
    assert document["@type"] == "Dataset" and len(document["distribution"]) == 12


def test_a_resource_page(client: TestClient) -> None:
    text = " ".join(client.get("/id/jaxa.html").text.split())
    assert "<h1>Japan Aerospace Exploration Agency</h1>" in text
    assert 'href="https://www.wikidata.org/wiki/Q179103"' in text
    assert "his opposite number Naoki Okumura, President of the Japan Aerospace Exploration Agency (JAXA)" in text
    assert "characters 229\u2013323 of the release" in text
    assert 'href="/id/japan"' in text and 'href="/id/president-of-jaxa"' in text  # out and in
    assert ">country</a>" in text and ">post in</a>" in text  # property labels: ours, and the table's
    assert "<svg" in text and 'xlink:href="/id/isas"' in text  # the neighbourhood, linked
    document = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', text, re.DOTALL)[1])  # type: ignore[index]
    assert document["@id"] == JAXA and document["sameAs"] == ["https://www.wikidata.org/wiki/Q179103"]
    assert document["@type"] == ["GovernmentOrganization", "Organization"]
    for extension in ("ttl", "jsonld", "nt", "rdf"):
        assert f'href="/id/jaxa.{extension}"' in text


@pytest.mark.parametrize(
    ("accept_language", "query", "lang", "title"),
    [
        (None, {}, "en", "Japan Aerospace Exploration Agency"),
        ("fr-FR,fr;q=0.9,en;q=0.8", {}, "fr", "Agence japonaise d&#39;exploration aérospatiale"),
        ("ja", {}, "ja", "宇宙航空研究開発機構"),
        ("de, ja;q=0.5, fr;q=0.7", {}, "fr", "Agence japonaise d&#39;exploration aérospatiale"),
        ("de", {}, "en", "Japan Aerospace Exploration Agency"),
        ("fr", {"lang": "ja"}, "ja", "宇宙航空研究開発機構"),
    ],
)
def test_the_language_of_a_page(
    client: TestClient, accept_language: str | None, query: dict[str, str], lang: str, title: str
) -> None:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    page = client.get("/id/jaxa.html", params=query, headers=headers)
    assert f'<html lang="{lang}">' in page.text
    assert f"<h1>{title}</h1>" in page.text
    if query:  # the reader chose: links keep the language
        assert f'href="/id/japan?lang={lang}"' in page.text
    else:
        assert "Accept-Language" in page.headers["vary"]


def test_the_ontology_documentation(client: TestClient) -> None:
    text = client.get("/def.html").text
    loaded = load(Sources.in_project())
    terms = {
        q.subject.value
        for q in loaded.quads(ONTOLOGY_GRAPH)
        if isinstance(q.subject, ox.NamedNode) and q.subject.value.startswith(BASE + "def/")
        and q.predicate.value.endswith("#type")
    }  # fmt: skip
    assert len(terms) == 46
    for term in terms:
        assert f'id="{term.rsplit("/", 1)[1]}"' in text, term
    assert 'src="/dumps/ontology.svg"' in text
    assert 'href="https://www.wikidata.org/wiki/Q2761147"' in text  # sg:Meeting exactMatch
    assert 'href="https://www.wikidata.org/wiki/Property:P710"' in text  # sg:participant exactMatch
    assert "A meeting needs at least two participants (sg:participant)." in text  # a shape's message
    assert "at least 2 value(s)" in text


def test_the_query_ui_is_for_browsers_only(client: TestClient) -> None:
    ui = client.get("/sparql", headers={"Accept": BROWSER})
    assert ui.status_code == 200 and media(ui) == "text/html"
    assert 'src="/static/yasgui/yasgui.min.js"' in ui.text and 'id="example-queries"' in ui.text
    examples = json.loads(re.search(r'id="example-queries">(.*?)</script>', ui.text, re.DOTALL)[1])  # type: ignore[index]
    assert [e["name"] for e in examples] == sorted(p.stem for p in PROJECT_ROOT.glob("queries/*.rq"))
    for accept in ("*/*", "text/turtle", "application/ld+json"):
        description = client.get("/sparql", headers={"Accept": accept})
        assert media(description) != "text/html", accept
    assert media(client.get("/sparql", params={"format": "turtle"}, headers={"Accept": BROWSER})) == "text/turtle"
