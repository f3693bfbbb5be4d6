"""The pages in a real browser: Debian's Chromium, headless, driven by Playwright, against a real uvicorn
on 127.0.0.1 serving a real build. A reader starts on the landing page, follows links to JAXA and on to
Hayabusa-2, reads the evidence and the Wikidata link, switches language, and runs an example question in
the query UI. Screenshots of the key pages go to ``tests/artifacts/`` (git-ignored)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pyoxigraph as ox
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from spacegraph import PROJECT_ROOT
from spacegraph.config import Config
from spacegraph.web.app import create_app
from tests.support import QUERIES, running

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
TIMEOUT = 15_000  # ms, for any one wait


@pytest.fixture(scope="module")
def base(linked_build: Path) -> Iterator[str]:
    with running(create_app(Config(data=(linked_build / "spacegraph.nq",), timeout=10))) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists() or shutil.which("chromium"), "Debian's chromium is needed: apt-get install chromium"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, base: str) -> Iterator[Page]:
    """A fresh page that records every request: none may leave this machine's server."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    elsewhere: list[str] = []
    errors: list[str] = []
    host = urlsplit(base).netloc
    page.on("request", lambda request: elsewhere.append(request.url) if urlsplit(request.url).netloc != host else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Chromium reports a Content-Security-Policy violation as a console error: the policy must fit.
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    yield page
    context.close()
    assert elsewhere == [], f"requests left the server: {elsewhere}"
    assert errors == [], f"JavaScript or console errors: {errors}"


def shot(page: Page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def follow(page: Page, scope: str, text: str) -> None:
    """Click the link named ``text`` inside ``scope`` (a CSS selector) and wait for the next page."""
    link = page.locator(scope).get_by_role("link", name=text, exact=True).first
    with page.expect_navigation():
        link.click()


def test_from_the_landing_page_to_jaxa_and_on_to_hayabusa2(page: Page, base: str) -> None:
    page.goto(base + "/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text().startswith("spacegraph")
    assert page.locator("table.dumps tbody tr").count() == 15
    shot(page, "landing")

    follow(page, "main", "Japan Aerospace Exploration Agency")
    assert page.url == base + "/id/jaxa.html"  # via 303 from /id/jaxa
    assert page.locator("h1").inner_text() == "Japan Aerospace Exploration Agency"
    quotes = page.locator("section.evidence blockquote")
    assert any("his opposite number Naoki Okumura" in text for text in quotes.all_inner_texts())
    wikidata = page.locator("a.wikidata-link")
    assert wikidata.get_attribute("href") == "https://www.wikidata.org/wiki/Q179103"
    assert wikidata.is_visible()
    assert page.locator(".neighbourhood svg").is_visible()
    shot(page, "jaxa")

    # JAXA's country, a Japanese mission, its cooperation area, and the other mission of that area.
    follow(page, "table.facts", "Japan")
    follow(page, "table.facts", "MMX")
    follow(page, "table.facts", "Space exploration")
    follow(page, "table.facts", "Hayabusa-2")
    assert page.url == base + "/id/hayabusa2.html"
    assert page.locator("h1").inner_text() == "Hayabusa-2"
    evidence = page.locator("section.evidence")
    assert "Hayabusa-2 asteroid mission" in evidence.locator("blockquote").inner_text()
    assert "characters 1863\u20131960 of the release" in evidence.inner_text()
    assert page.locator("a.wikidata-link").get_attribute("href") == "https://www.wikidata.org/wiki/Q2113134"
    shot(page, "hayabusa2")

    # Switch language: French, then Japanese; the choice follows the links.
    with page.expect_navigation():
        page.locator("nav.languages a[hreflang=fr]").click()
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("#evidence-heading").inner_text() == "Dans le communiqué de presse"
    assert page.locator("p.comment").inner_text() == "Une mission vers un astéroïde."
    shot(page, "hayabusa2-fr")
    with page.expect_navigation():
        page.locator("nav.languages a[hreflang=ja]").click()
    assert page.locator("h1").inner_text() == "はやぶさ2"
    shot(page, "hayabusa2-ja")
    follow(page, "table.facts", "MASCOT")  # linked from Hayabusa-2: a part of it
    assert "/id/mascot.html" in page.url and "lang=ja" in page.url
    assert page.locator("html").get_attribute("lang") == "ja"


def test_the_browser_language_chooses_the_labels(browser: Browser, base: str) -> None:
    context = browser.new_context(locale="fr-FR", extra_http_headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    page = context.new_page()
    page.goto(base + "/id/jaxa")
    assert page.locator("h1").inner_text() == "Agence japonaise d'exploration aérospatiale"
    assert page.locator("html").get_attribute("lang") == "fr"
    context.close()


def answer(store: ox.Store, query: Path) -> tuple[list[str], list[list[str]]]:
    """The variables and rows (values as text) of a query, as plain lists: pyoxigraph's solutions must not
    outlive this call, since they cannot be dropped on another thread (the server's)."""
    solutions = store.query(query.read_text(), use_default_graph_as_union=True)
    assert isinstance(solutions, ox.QuerySolutions)
    variables = [v.value for v in solutions.variables]
    rows = [[term.value if term is not None else "" for term in (row[v] for v in variables)] for row in solutions]
    del solutions
    return variables, rows


def test_an_example_question_runs_in_the_query_ui(page: Page, base: str, linked_build: Path) -> None:
    first, second = QUERIES[0], QUERIES[1]
    store = ox.Store()
    store.bulk_load(path=linked_build / "spacegraph.nq", format=ox.RdfFormat.N_QUADS)
    variables, rows = answer(store, first)
    expected = sorted(row[variables.index("name")] for row in rows)
    assert len(expected) == 5

    page.goto(base + "/")
    with page.expect_navigation():
        page.locator(f"#example-{first.stem}").get_by_role("link", name="Run in the query UI").click()
    assert page.url == f"{base}/sparql?example={first.stem}"
    table = page.locator(".yasr table.dataTable tbody tr")
    table.first.wait_for()
    assert table.count() == len(expected)
    header = page.locator(".yasr table.dataTable thead th").all_inner_texts()
    column = [name.strip() for name in header].index("name")
    names = sorted(
        re.sub(r'^"(.*)"@en$', r"\1", row.locator("td").nth(column).inner_text().strip()) for row in table.all()
    )
    assert names == expected
    shot(page, "query")

    # Another example, from the list beside the editor: its query replaces the first and runs.
    variables, rows = answer(store, second)
    page.locator(f'a[data-example="{second.stem}"]').click()
    page.wait_for_function(
        "names => { const head = document.querySelector('.yasr table.dataTable thead');"
        " return head !== null && names.every(name => head.innerText.includes(name)); }",
        arg=variables,
    )
    assert page.locator(".yasr table.dataTable tbody tr").count() == len(rows)
    assert page.locator('a[data-example][aria-current="true"]').get_attribute("data-example") == second.stem


def test_pages_work_without_javascript(browser: Browser, base: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto(base + "/def")
    assert page.url == base + "/def.html"
    assert page.locator("#Meeting h3").inner_text().startswith("meeting")
    assert page.locator("figure.diagram img").evaluate("img => img.naturalWidth") > 500
    shot(page, "ontology")
    page.goto(base + "/id/jaxaa")
    assert page.locator("h1").inner_text() == "Not found"
    follow(page, ".suggestions", "Japan Aerospace Exploration Agency")
    assert page.url == base + "/id/jaxa.html"
    page.goto(base + "/id/nothing-here")
    page.locator("#q404").fill("hayabusa")
    with page.expect_navigation():
        page.locator("form.big button").click()
    follow(page, ".suggestions", "Hayabusa-2")
    assert page.locator("h1").inner_text() == "Hayabusa-2"
    shot(page, "search-no-js")
    context.close()


def test_a_wrong_address_shows_a_page_of_the_site_in_the_readers_language(browser: Browser, base: str) -> None:
    context = browser.new_context(locale="fr-FR", extra_http_headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    response = page.goto(base + "/telechargements/spacegraph.ttl")
    assert response is not None and response.status == 404
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("h1").inner_text() == "Introuvable"
    assert "/telechargements/spacegraph.ttl" in page.locator("pre.message").inner_text()
    assert page.locator("header.site nav").first.is_visible()  # the site's chrome: its menu, search, languages
    shot(page, "not-found-fr")
    page.locator("#q-error").fill("hayabusa")
    with page.expect_navigation():
        page.locator("article.error form button").click()
    follow(page, ".suggestions", "Hayabusa-2")
    assert page.locator("h1").inner_text() == "Hayabusa-2"
    context.close()


def test_the_fragments_in_a_browser(page: Page, base: str, linked_build: Path) -> None:
    """From the landing page to the fragments: the form, a pattern, the next page, then a term's own fragment."""
    quads = list(ox.parse(path=linked_build / "spacegraph.nq", format=ox.RdfFormat.N_QUADS))
    labels = {(q.subject, q.object) for q in quads if q.predicate.value.endswith("rdf-schema#label")}
    page.goto(base + "/")
    follow(page, "p.actions", "Triple Pattern Fragments")
    assert page.url == base + "/fragments"
    assert page.locator("p.count").inner_text().startswith(f"{len(quads):,} matches")
    assert page.locator("table.quads thead th").count() == 4  # every named graph: the graph column
    page.locator("#predicate").fill("http://www.w3.org/2000/01/rdf-schema#label")
    page.locator("#graph").select_option("urn:ldf:defaultGraph")
    with page.expect_navigation():
        page.locator("form.pattern button").click()
    assert page.locator("p.count").inner_text().startswith(f"{len(labels):,} matches")
    assert page.locator("table.quads tbody tr").count() == 100 and page.locator("table.quads thead th").count() == 3
    follow(page, "nav.paging", "Next page")
    assert "page=2" in page.url and "page 2 of" in page.locator("p.count").inner_text()
    shot(page, "fragments")
    first = page.locator("table.quads tbody tr").first.locator("td").first
    subject = first.locator("a").first.get_attribute("title")
    with page.expect_navigation():
        first.locator("a").first.click()
    assert page.locator("#subject").input_value() == subject
    shown = page.locator("table.quads tbody tr").count()
    assert shown == sum(1 for q in quads if q.subject.value == subject)
