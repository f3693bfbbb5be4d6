"""Linked data: every IRI we mint answers where it is served, in the form the client asks for.

Our IRIs are slash IRIs under ``https://w3id.org/spacegraph/``; the server answers each at the matching
local path (``https://w3id.org/spacegraph/id/jaxa`` at ``/id/jaxa``), wherever it runs. An IRI names a
thing (an agency, a mission, a class), not a document, so following it gets **303 See Other** to a
document about it, chosen by ``Accept`` (``Vary: Accept``), whose URL is the IRI plus the format's
extension:

=====================  =====================================================================
``/id/jaxa``           303 → ``/id/jaxa.html`` (browsers), ``.ttl``, ``.jsonld``, ``.nt``, ``.rdf``
``/id/jaxa.ttl``       the description in Turtle (each extension is one format, no negotiation)
``/id/quote/x#text``   the fragment is the client's: ``/id/quote/x``'s document describes ``#text``
``/def``, ``/def/``    the ontology: its documentation (``/def.html``) or the whole ontology graph
``/def/Meeting``       a term of the ontology; ``/graph/data``, ``/shapes/…``, ``/id/dataset`` alike
=====================  =====================================================================

Without ``Accept`` or with ``*/*`` the answer is Turtle: HTML goes to clients that ask for it, as every
browser does. A description is what ``describe.py`` asks the backend; an unknown IRI is a 404 page with
the IRIs it may have meant and a search box. Beside them: ``/`` (the landing page), ``/search``, the files
of the build at ``/dumps/<file>`` (and ``/void.ttl``), the JSON-LD context at ``/context.jsonld``, our
static files and the query UI's (YASGUI, from ``node_modules``) under ``/static/``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pyoxigraph as ox
from fastapi import APIRouter, Depends, Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from spacegraph import PROJECT_ROOT, __version__
from spacegraph.config import Config
from spacegraph.engine.store import Backend, QueryError
from spacegraph.errors import SpacegraphError
from spacegraph.formats import RDF_FORMATS, RdfFormat, bare
from spacegraph.namespaces import BASE, ID, ONTOLOGY_IRI, PREFIXES, SHAPES_GRAPH, SOURCE_BASE, rebase_text
from spacegraph.publish.diagram import DIAGRAM_FILE, neighbourhood_svg
from spacegraph.web.caches import LruCache
from spacegraph.web.conneg import negotiate
from spacegraph.web.describe import Description, Index, describe, graph_triples, index, ontology_and_shapes
from spacegraph.web.pages.chrome import WORDS, Chrome, Pages, Site, choose_language, json_script
from spacegraph.web.pages.landing import example_links, landing_page, licence_of
from spacegraph.web.pages.ontology import OntologyPage, ontology_page
from spacegraph.web.pages.reading import Labels
from spacegraph.web.pages.resource import FormatLink, entries_as_values, neighbourhood, resource_page
from spacegraph.web.publication import (
    CONTEXT,
    SUMS_FILE,
    VOID_FILE,
    Example,
    Publication,
    build_folder,
    media_type,
    read_examples,
)

log = logging.getLogger("spacegraph.web.deref")

STATIC = Path(__file__).parent / "static"
YASGUI = PROJECT_ROOT / "node_modules" / "@zazuko" / "yasgui" / "build"
YASGUI_FILES = {
    "yasgui.min.js": "text/javascript",
    "yasgui.min.css": "text/css",
    "yasgui.min.js.map": "application/json",
}
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
STATIC_FILES = {p.name: STATIC_TYPES[p.suffix] for p in sorted(STATIC.iterdir()) if p.suffix in STATIC_TYPES}
SHAPES_IRI = BASE + "shapes"
VERSION_IRI = ox.NamedNode(PREFIXES["owl"] + "versionIRI")
MAX_AGE = 3600


@dataclass(frozen=True)
class DocumentFormat:
    """A kind of document a resource IRI redirects to: HTML or one of the RDF formats."""

    name: str
    media_type: str
    extension: str
    aliases: tuple[str, ...] = ()
    label: str = ""
    rdf: RdfFormat | None = None


HTML = DocumentFormat("html", "text/html", "html", ("application/xhtml+xml",), "HTML")
RDF_LABELS = {"turtle": "Turtle", "jsonld": "JSON-LD", "ntriples": "N-Triples", "rdfxml": "RDF/XML"}
RDF_DOCUMENTS = tuple(
    DocumentFormat(f.name, f.media_type, f.extension, f.aliases, RDF_LABELS[f.name], f)
    for f in RDF_FORMATS
    if f.name in RDF_LABELS
)
# Ties (``*/*``, no Accept) go to the first: Turtle. HTML is for clients that ask for it.
OFFERS: tuple[DocumentFormat, ...] = (*RDF_DOCUMENTS, HTML)
BY_EXTENSION = {f.extension: f for f in OFFERS}


def prefers_html(accept: str | None) -> bool:
    """True when the client prefers HTML to every RDF format (a browser); ties go to RDF."""
    return negotiate(accept, OFFERS) is HTML


def resource_path(iri: str) -> str:
    """``https://w3id.org/spacegraph/id/jaxa`` → ``id/jaxa`` (no leading slash)."""
    return iri[len(BASE) :]


def document_links(root: str, path: str) -> list[FormatLink]:
    return [
        FormatLink(f.label, f"{root}/{path}.{f.extension}", f.media_type, f.extension) for f in (HTML, *RDF_DOCUMENTS)
    ]


def link_header(root: str, path: str, iri: str) -> str:
    links = [f'<{iri}>; rel="describes"']
    links += [f'<{root}/{path}.{f.extension}>; rel="alternate"; type="{f.media_type}"' for f in (HTML, *RDF_DOCUMENTS)]
    return ", ".join(links)


def head_or(request: Request, response: Response) -> Response:
    """For HEAD, the same headers without the body."""
    if request.method == "HEAD":
        response.headers["content-length"] = str(len(response.body))
        response.body = b""
    return response


async def get_backend(request: Request) -> Backend:
    """The app's backend. A coroutine: FastAPI runs a plain function dependency in a thread, which cost
    a thread hop on every request."""
    backend: Backend = request.app.state.backend
    return backend


BackendDependency = Annotated[Backend, Depends(get_backend)]


# --- Shared state: rendered pages and descriptions, kept while the data is the same ---------------------


def immutable(backend: Backend) -> bool:
    """Whether the backend's data is known not to change while we serve it (the embedded engine's is)."""
    return backend.fingerprint is not None


REMOTE_FRESH = 60  # seconds an external store's descriptions are kept, and pages say they are fresh


def max_age(backend: Backend) -> int:
    return MAX_AGE if immutable(backend) else REMOTE_FRESH


def epoch(backend: Backend) -> int:
    """What cached entries are filed under: always 0 for immutable data; for an external store, which can
    change, the current period of ``REMOTE_FRESH`` seconds, so that nothing is kept longer."""
    return 0 if immutable(backend) else int(time.monotonic() // REMOTE_FRESH)


class SiteState:
    """Caches of one server: descriptions, the index, the ontology and its shapes, pictures, the ontology page.
    Kept for the server's life when the data cannot change (a fingerprint); for an external store, at most
    ``REMOTE_FRESH`` seconds (each entry is filed under the period it was made in)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.pages = shared_pages()
        self.publication = Publication(build_folder(config))
        self.examples = examples()
        self.descriptions: LruCache[tuple[int, str], Description] = LruCache(512)
        self.pictures: LruCache[tuple[int, str, str, str], str] = LruCache(256)
        self.ontology_pages: LruCache[tuple[int, Site], OntologyPage] = LruCache(16)
        self.index: tuple[int, Index] | None = None
        self.ontology: tuple[int, tuple[list[ox.Triple], list[ox.Triple]]] | None = None
        self.lock = asyncio.Lock()

    async def describe(self, backend: Backend, iri: str) -> Description:
        key = (epoch(backend), iri)
        found = self.descriptions.get(key)
        if found is None:
            found = await describe(backend, iri, self.config.max_rows)
            self.descriptions.put(key, found)
        return found

    async def get_index(self, backend: Backend) -> Index:
        now = epoch(backend)
        if self.index is None or self.index[0] != now:
            self.index = (now, await index(backend))
        return self.index[1]

    async def get_ontology(self, backend: Backend) -> tuple[list[ox.Triple], list[ox.Triple]]:
        now = epoch(backend)
        if self.ontology is None or self.ontology[0] != now:
            self.ontology = (now, await ontology_and_shapes(backend))
        return self.ontology[1]

    async def version_iri(self, backend: Backend) -> str | None:
        """The ontology's ``owl:versionIRI``: the IRI of the version this server publishes."""
        try:
            ontology, _ = await self.get_ontology(backend)
        except QueryError:
            return None
        found = [t.object for t in ontology if t.subject == ox.NamedNode(ONTOLOGY_IRI) and t.predicate == VERSION_IRI]
        return found[0].value if found and isinstance(found[0], ox.NamedNode) else None

    async def picture(self, description: Description, labels: Labels, site: Site, backend: Backend) -> str | None:
        key = (epoch(backend), description.iri, site.language, site.root + ("?" if site.explicit else ""))
        svg = self.pictures.get(key)
        if svg is None:
            nodes, edges = neighbourhood(description, labels, site, await self.get_index(backend))
            if len(nodes) < 2:
                return None
            try:
                svg = await asyncio.to_thread(neighbourhood_svg, nodes, edges, labels.text(description.iri))
            except SpacegraphError as error:
                log.warning("no neighbourhood picture for %s: %s", description.iri, error)
                return None
            self.pictures.put(key, svg)
        return svg


@functools.cache
def shared_pages() -> Pages:
    return Pages()


@functools.cache
def examples() -> list[Example]:
    return read_examples()


# --- Responses --------------------------------------------------------------------------------------


def html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body.encode("utf-8"), status, headers=headers, media_type="text/html; charset=utf-8")


def plain(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(f"{message}\n", status, headers={"Cache-Control": "no-store", **(headers or {})})


def not_acceptable() -> Response:
    offered = ", ".join(bare(f.media_type) for f in OFFERS)
    return plain(406, f"none of the accepted media types fits; this resource is described as: {offered}")


SERVER_SIDE = frozenset({"failed", "unavailable"})  # failures the operator should see in the log, with why


def query_failed(error: QueryError) -> Response:
    status = {"timeout": 504, "busy": 503, "queue-full": 503, "throttled": 429, "unavailable": 502}.get(error.kind, 500)
    if error.kind in SERVER_SIDE:
        log.warning("a description could not be read (%s): %s", error.kind, error.message)
    retry = {"Retry-After": str(math.ceil(error.retry_after))} if error.retry_after is not None else None
    return plain(status, f"the description could not be read: {error.message}", retry)


class LinkedDataRouter(APIRouter):
    """Dereferencing, the pages and the published files."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.state = SiteState(config)
        methods = ["GET", "HEAD"]
        self.add_api_route("/", self.landing, methods=methods, include_in_schema=False)
        for prefix in ("id", "def", "graph", "shapes"):
            self.add_api_route(
                f"/{prefix}/{{path:path}}", self.prefixed(prefix + "/"), methods=methods, include_in_schema=False
            )
        for top in ("def", "shapes"):
            self.add_api_route(f"/{top}", self.prefixed(top), methods=methods, include_in_schema=False)
            self.add_api_route(f"/{top}.{{extension}}", self.extension(top), methods=methods, include_in_schema=False)
        self.add_api_route("/search", self.search, methods=methods, include_in_schema=False)
        self.add_api_route("/dumps/{name}", self.dump, methods=methods, include_in_schema=False)
        self.add_api_route("/void.ttl", self.void, methods=methods, include_in_schema=False)
        self.add_api_route("/context.jsonld", self.context, methods=methods, include_in_schema=False)
        self.add_api_route("/static/yasgui/{name}", self.yasgui, methods=methods, include_in_schema=False)
        self.add_api_route("/static/{name}", self.static, methods=methods, include_in_schema=False)

    def prefixed(self, prefix: str) -> Callable[[Request, Backend], Awaitable[Response]]:
        async def route(request: Request, backend: BackendDependency) -> Response:
            rest = request.path_params.get("path", "")
            return await self.dereference(request, backend, prefix + rest)

        return route

    def extension(self, top: str) -> Callable[[Request, Backend], Awaitable[Response]]:
        async def route(request: Request, backend: BackendDependency) -> Response:
            return await self.dereference(request, backend, f"{top}.{request.path_params['extension']}")

        return route

    # --- resources and their documents

    async def dereference(self, request: Request, backend: Backend, path: str) -> Response:
        stem, dot, extension = path.rpartition(".")
        document = BY_EXTENSION.get(extension) if dot and "/" not in extension else None
        if document is not None:
            path = stem
        if path == "def/" or (path.startswith("def/") and BASE + path == await self.state.version_iri(backend)):
            path = "def"  # the namespace IRI, or the IRI of the current version: the ontology
        iri = BASE + path
        try:
            description = await self.state.describe(backend, iri)
        except QueryError as error:
            return query_failed(error)
        if not description.found:
            return await self.unknown(request, backend, iri)
        root = link_root(request)
        if document is None:
            chosen = negotiate(request.headers.get("accept"), OFFERS)
            if chosen is None:
                return not_acceptable()
            location = f"{root}/{path}.{chosen.extension}"
            if request.url.query:
                location += "?" + request.url.query
            headers = {
                "Location": location,
                "Vary": "Accept",
                "Cache-Control": f"public, max-age={max_age(backend)}",
                "Link": link_header(root, path, iri),
            }
            body = f"303 See Other: {location}\n".encode()
            return head_or(request, Response(body, 303, headers=headers, media_type="text/plain; charset=utf-8"))
        if document is HTML:  # the page depends on the language and on where links point
            language, explicit = choose_language(
                request.headers.get("accept-language"), request.query_params.get("lang")
            )
            etag = self.etag(backend, path, "html", language, str(explicit), root)
        else:
            etag = self.etag(backend, path, document.name)
        headers = {"Link": link_header(root, path, iri), "Cache-Control": f"public, max-age={max_age(backend)}"}
        if document is HTML and not request.query_params.get("lang"):
            headers["Vary"] = "Accept-Language"
        if etag is not None:
            headers["ETag"] = etag
            if self.etag_matches(request.headers.get("if-none-match"), etag):
                return Response(status_code=304, headers=headers)
        try:
            if document.rdf is not None:
                triples = await self.document_triples(backend, iri, description)
                body = ox.serialize(triples, format=document.rdf.rdf_format, prefixes=PREFIXES) or b""
                return head_or(request, Response(body, headers=headers, media_type=document.media_type))
            page = await self.html_document(request, backend, path, description)
        except QueryError as error:
            return query_failed(error)
        return head_or(request, html(page, headers=headers))

    async def document_triples(self, backend: Backend, iri: str, description: Description) -> list[ox.Triple]:
        """The ontology's and the shapes' IRIs give their whole graph; any other IRI its description."""
        if iri == ONTOLOGY_IRI:
            return (await self.state.get_ontology(backend))[0]
        if iri == SHAPES_IRI:
            return await graph_triples(backend, SHAPES_GRAPH, self.config.max_rows)
        return list(description.triples)

    def etag(self, backend: Backend, *key: str | None) -> str | None:
        if backend.fingerprint is None:
            return None
        digest = hashlib.sha256(repr((__version__, backend.fingerprint, key)).encode("utf-8", "surrogatepass"))
        return f'W/"{digest.hexdigest()[:32]}"'

    @staticmethod
    def etag_matches(if_none_match: str | None, etag: str) -> bool:
        if not if_none_match:
            return False
        ours = etag.removeprefix("W/")
        return any(tag.strip() == "*" or tag.strip().removeprefix("W/") == ours for tag in if_none_match.split(","))

    def site(self, request: Request) -> Site:
        return site_of(request)

    async def html_document(self, request: Request, backend: Backend, path: str, description: Description) -> str:
        site = self.site(request)
        ontology, shapes = await self.state.get_ontology(backend)
        if description.iri == ONTOLOGY_IRI:
            model = self.state.ontology_pages.get((epoch(backend), site))
            if model is None:
                model = ontology_page(ontology, shapes, site)
                self.state.ontology_pages.put((epoch(backend), site), model)
            diagram = self.state.publication.path(DIAGRAM_FILE)
            return self.state.pages.render(
                "ontology.html",
                Chrome.of(site, model.title, "/def.html", indexed=True),
                page=model,
                formats=document_links(site.root, path),
                diagram=site.root + "/dumps/" + DIAGRAM_FILE if diagram is not None else None,
            )
        page = resource_page(description, site, document_links(site.root, path), ontology)
        labels = Labels(description.triples, site.language, ontology)
        picture = await self.state.picture(description, labels, site, backend)
        return self.state.pages.render(
            "resource.html", Chrome.of(site, page.title, f"/{path}.html", indexed=True), page=page, picture=picture
        )

    async def unknown(self, request: Request, backend: Backend, iri: str) -> Response:
        site = self.site(request)
        try:
            suggestions = (await self.state.get_index(backend)).suggest(iri)
        except QueryError:
            suggestions = []
        headers = {"Cache-Control": "no-store"}
        if not prefers_html(request.headers.get("accept")):  # curl, RDF clients: one line of text
            lines = [f"nothing in this graph is named <{iri}>"] + [f"did you mean <{s.iri}>?" for s in suggestions]
            return head_or(request, plain(404, "\n".join(lines), headers))
        body = self.state.pages.render(
            "notfound.html",
            Chrome.of(site, site_words(site)["not_found"], request.url.path),
            iri=iri,
            suggestions=entries_as_values(suggestions, site),
        )
        return head_or(request, html(body, 404, headers))

    # --- pages

    async def landing(self, request: Request, backend: BackendDependency) -> Response:
        chosen = negotiate(request.headers.get("accept"), (HTML, *RDF_DOCUMENTS))
        if chosen is not None and chosen is not HTML:
            headers = {"Location": f"{link_root(request)}/{resource_path(ID + 'dataset')}", "Vary": "Accept"}
            return head_or(request, Response(b"", 303, headers=headers))
        site = self.site(request)
        try:
            dataset = await self.state.describe(backend, self.config.dataset_iri)
            release = await self.state.describe(backend, ID + "press-release")
            licence_iri = licence_of(dataset)
            licence = await self.state.describe(backend, licence_iri) if licence_iri else None
            summary = await backend.summary()
            ontology, _ = await self.state.get_ontology(backend)
        except QueryError as error:
            return query_failed(error)
        model = landing_page(
            dataset, release, summary, self.state.publication, self.state.examples, site, ontology, licence
        )
        body = self.state.pages.render("landing.html", Chrome.of(site, model.title, "/", indexed=True), page=model)
        headers = {"Cache-Control": f"public, max-age={max_age(backend)}", "Vary": "Accept"}
        if not request.query_params.get("lang"):
            headers["Vary"] = "Accept, Accept-Language"
        return head_or(request, html(body, headers=headers))

    async def search(self, request: Request, backend: BackendDependency) -> Response:
        site = self.site(request)
        text = request.query_params.get("q", "")[:200]
        try:
            found = (await self.state.get_index(backend)).search(text) if text.strip() else []
        except QueryError as error:
            return query_failed(error)
        words = site_words(site)
        body = self.state.pages.render(
            "search.html",
            Chrome.of(site, f"{words['search']}: {text}" if text else words["search"], "/search", {"q": text}),
            q=text,
            results=entries_as_values(found, site),
        )
        return head_or(request, html(body, headers={"Cache-Control": "no-store"}))

    # --- files

    async def dump(self, request: Request, name: str) -> Response:
        path = self.state.publication.path(name)
        if path is None:
            return plain(404, f"no file {name!r} in this build; the files are listed in /dumps/{SUMS_FILE}")
        known = self.state.publication.files.get(name)
        etag = f'"{known.sha256}"' if known is not None else None
        return self.file(request, path, media_type(name), etag=etag)

    async def void(self, request: Request) -> Response:
        return await self.dump(request, VOID_FILE)

    async def context(self, request: Request) -> Response:
        if BASE == SOURCE_BASE:
            return self.file(request, CONTEXT, "application/ld+json")
        # minted under a base of the publisher's own (spacegraph.toml): the context says so too
        body = rebase_text(CONTEXT.read_text(encoding="utf-8")).encode("utf-8")
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        headers = {"ETag": etag, "Cache-Control": f"public, max-age={MAX_AGE}", "X-Content-Type-Options": "nosniff"}
        if self.etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return head_or(request, Response(body, media_type="application/ld+json", headers=headers))

    async def static(self, request: Request, name: str) -> Response:
        """Our own files, by name from a list made at start: no name is joined to a path unchecked."""
        if name not in STATIC_FILES:
            return plain(404, "no such file")
        return self.file(request, STATIC / name, STATIC_FILES[name], max_age=86400)

    async def yasgui(self, request: Request, name: str) -> Response:
        if name not in YASGUI_FILES or not (YASGUI / name).is_file():
            return plain(404, "no such file (the query UI's files come from node_modules: run npm ci)")
        return self.file(request, YASGUI / name, YASGUI_FILES[name], max_age=86400)

    def file(
        self, request: Request, path: Path, media_type: str, max_age: int = MAX_AGE, etag: str | None = None
    ) -> Response:
        """A file, streamed (Starlette's FileResponse answers HEAD and ranges too), with an ETag: the
        SHA-256 when the build lists it, else one from the file's size and time."""
        stat = path.stat()
        etag = etag or f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
        headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}", "X-Content-Type-Options": "nosniff"}
        if self.etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        if media_type.startswith("text/") and "charset" not in media_type:
            media_type += "; charset=utf-8"
        return FileResponse(path, media_type=media_type, headers=headers, stat_result=stat)


def site_words(site: Site) -> dict[str, str]:
    return WORDS[site.language]


def link_root(request: Request) -> str:
    """Where this server's links start: its public URL when it has one (``serve --public-url``), else the
    ASGI root path (empty unless mounted under a prefix)."""
    config: Config = request.app.state.config
    if config.public_url is not None:
        return config.public_url.rstrip("/")
    root: str = request.scope.get("root_path", "")
    return root


def public_base(request: Request) -> str:
    """The absolute public address of the site, ending with a slash: the server's public URL, else the
    base of our IRIs, which w3id.org redirects to the server."""
    config: Config = request.app.state.config
    return config.public_url or BASE


def site_of(request: Request) -> Site:
    """How a page answering ``request`` writes its links, in the reader's language."""
    language, explicit = choose_language(request.headers.get("accept-language"), request.query_params.get("lang"))
    return Site(link_root(request), language, explicit, public_base(request))


# --- The query UI at /sparql (the SPARQL router calls this for browsers) --------------------------------


async def query_ui(request: Request) -> Response:
    """The YASGUI page, with the example queries; ``?example=NAME`` loads one and runs it."""
    known = examples()
    site = site_of(request)
    chosen = request.query_params.get("example")
    names = {e.name for e in known}
    body = shared_pages().render(
        "query.html",
        Chrome.of(site, site_words(site)["query_ui"], "/sparql", {"example": chosen} if chosen in names else {}),
        examples=example_links(known, site),
        chosen=chosen if chosen in names else None,
        endpoint=site.root + "/sparql",
        yasgui=(YASGUI / "yasgui.min.js").is_file(),
        examples_json=json_script([{"name": e.name, "question": e.question, "query": e.text} for e in known]),
    )
    headers = {"Vary": "Accept, Accept-Language", "Cache-Control": "no-cache"}
    return head_or(request, html(body, headers=headers))
