"""What crawlers, data portals and linked-data tools look for first, where they look for it.

* ``/.well-known/void``: the dataset description (VoID and DCAT, conforming to DCAT-AP 3.0), the
  well-known address of *Describing Linked Datasets with the VoID Vocabulary* (§7). It is the build's
  ``void.ttl`` by content negotiation, like every other document: Turtle (the file itself), JSON-LD,
  N-Triples or RDF/XML; a browser is sent (303) to the landing page, which shows the same description.
* ``/robots.txt``: pages, documents and dumps welcome; query answers (``/sparql?…``), graph-store
  exports (``/store``) and search results are not crawled; where the sitemap is.
* ``/sitemap.xml``: the landing page, the ontology documentation and every entity page at their public
  addresses, each with its versions in the other languages, and the date of the dataset's version as
  ``lastmod`` (a build carries no clock time: it is byte-identical from the same sources).

The description names things by their IRIs; it also gives addresses (where to download a dump, where
the endpoint is, the landing page). When the server knows a public address of its own (``serve
--public-url``), the addresses under our IRIs' base are rewritten to it, and nothing else is.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import pyoxigraph as ox
from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from spacegraph.engine.store import QueryError
from spacegraph.namespaces import BASE, ID, PREFIXES
from spacegraph.web.conneg import negotiate
from spacegraph.web.deref import (
    MAX_AGE,
    OFFERS,
    BackendDependency,
    DocumentFormat,
    LinkedDataRouter,
    head_or,
    link_root,
    max_age,
    not_acceptable,
    plain,
    public_base,
    query_failed,
    resource_path,
)
from spacegraph.web.pages.chrome import LANGUAGES, Site
from spacegraph.web.publication import VOID_FILE

VOID_PATH = "/.well-known/void"
DCAT = PREFIXES["dcat"]
DCTERMS = PREFIXES["dcterms"]
FOAF = PREFIXES["foaf"]
VOID = PREFIXES["void"]

# The properties of the description whose values are addresses (where to download, query, read), not
# names of things: what a server with a public address of its own rewrites.
ADDRESSES = frozenset(
    ox.NamedNode(p)
    for p in (
        DCAT + "accessURL",
        DCAT + "downloadURL",
        DCAT + "endpointURL",
        DCAT + "endpointDescription",
        DCAT + "landingPage",
        FOAF + "homepage",
        VOID + "dataDump",
        VOID + "sparqlEndpoint",
        VOID + "uriLookupEndpoint",
    )
)
ROBOTS = """\
# spacegraph: every page, document and dump is welcome. Query answers, graph-store exports, triple
# pattern fragments and search results are not worth crawling: they repeat what the pages and the dumps
# hold, in endless combinations.
User-agent: *
Disallow: {root}/sparql?
Disallow: {root}/store
Disallow: {root}/fragments
Disallow: {root}/search
Allow: {root}/

Sitemap: {public}sitemap.xml
"""


def readdressed(triples: list[ox.Triple], public: str) -> list[ox.Triple]:
    """The description with every address under our IRIs' base moved to ``public``: the values of the
    address properties, and what the description says of those addresses (a landing page is a
    ``foaf:Document``). Names of things stay as they are."""
    moved = {
        t.object: ox.NamedNode(public + t.object.value[len(BASE) :])
        for t in triples
        if t.predicate in ADDRESSES and isinstance(t.object, ox.NamedNode) and t.object.value.startswith(BASE)
    }
    out = []
    for triple in triples:
        subject = (
            moved.get(triple.subject, triple.subject) if isinstance(triple.subject, ox.NamedNode) else triple.subject
        )
        value = moved.get(triple.object, triple.object) if isinstance(triple.object, ox.NamedNode) else triple.object
        out.append(ox.Triple(subject, triple.predicate, value))
    return out


class DiscoveryRouter(APIRouter):
    """``/.well-known/void``, ``/robots.txt`` and ``/sitemap.xml``, over the linked-data router's state."""

    def __init__(self, linked: LinkedDataRouter) -> None:
        super().__init__()
        self.state = linked.state
        self.bodies: dict[tuple[str, str], bytes | None] = {}  # (format, public base) -> the description
        methods = ["GET", "HEAD"]
        self.add_api_route(VOID_PATH, self.void, methods=methods, include_in_schema=False)
        self.add_api_route("/robots.txt", self.robots, methods=methods, include_in_schema=False)
        self.add_api_route("/sitemap.xml", self.sitemap, methods=methods, include_in_schema=False)

    def description(self, document: DocumentFormat, public: str) -> bytes | None:
        """The build's description in ``document``'s format, its addresses under ``public``; None when the
        server publishes no build beside its data."""
        key = (document.name, public)
        if key not in self.bodies:
            path = self.state.publication.path(VOID_FILE)
            if path is None:
                self.bodies[key] = None
            elif document.name == "turtle" and public == BASE:
                self.bodies[key] = path.read_bytes()  # the published file, byte for byte
            else:
                triples = [quad.triple for quad in ox.parse(path=path, format=ox.RdfFormat.TURTLE)]
                if public != BASE:
                    triples = readdressed(triples, public)
                assert document.rdf is not None
                self.bodies[key] = ox.serialize(triples, format=document.rdf.rdf_format, prefixes=PREFIXES) or b""
        return self.bodies[key]

    async def void(self, request: Request) -> Response:
        chosen = negotiate(request.headers.get("accept"), OFFERS)
        if chosen is None:
            return not_acceptable()
        root = link_root(request)
        if chosen.rdf is None:  # a browser: the landing page shows the description
            headers = {"Location": f"{root}/", "Vary": "Accept", "Cache-Control": f"public, max-age={MAX_AGE}"}
            return head_or(request, Response(f"303 See Other: {root}/\n".encode(), 303, headers=headers))
        body = self.description(chosen, public_base(request))
        if body is None:
            return plain(404, "this server publishes no build beside its data, so no dataset description")
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        headers = {
            "ETag": etag,
            "Vary": "Accept",
            "Cache-Control": f"public, max-age={MAX_AGE}",
            "Link": f'<{root}/dumps/{VOID_FILE}>; rel="alternate"; type="text/turtle"',
        }
        if LinkedDataRouter.etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return head_or(request, Response(body, headers=headers, media_type=chosen.media_type))

    async def robots(self, request: Request) -> Response:
        root = urlsplit(link_root(request)).path.rstrip("/")
        body = ROBOTS.format(root=root, public=public_base(request))
        return head_or(request, PlainTextResponse(body, headers={"Cache-Control": f"public, max-age={MAX_AGE}"}))

    async def sitemap(self, request: Request, backend: BackendDependency) -> Response:
        try:
            entries = (await self.state.get_index(backend)).entries
            dataset = await self.state.describe(backend, self.state.config.dataset_iri)
        except QueryError as error:
            return query_failed(error)
        dates = sorted(
            t.object.value
            for t in dataset.triples
            if t.subject == ox.NamedNode(dataset.iri)
            and t.predicate.value in (DCTERMS + "issued", DCTERMS + "modified")
            and isinstance(t.object, ox.Literal)
        )
        pages = ["/", "/def.html"]
        pages += [f"/{resource_path(iri)}.html" for iri in entries if iri.startswith(ID) and "#" not in iri]
        body = sitemap_xml(pages, public_base(request), dates[-1] if dates else None)
        headers = {"Cache-Control": f"public, max-age={max_age(backend)}"}
        return head_or(request, Response(body, headers=headers, media_type="application/xml"))


def sitemap_xml(paths: list[str], public: str, lastmod: str | None) -> bytes:
    """The sitemaps.org document for ``paths``, each with its versions in our languages (``hreflang``)."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml">',
    ]
    for path in paths:
        site = Site(public=public)
        lines.append(
            f"  <url><loc>{escape(site.address(path))}</loc>" + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "")
        )
        for language in LANGUAGES:
            href = Site(language=language, public=public).address(path, explicit=True)
            lines.append(f'    <xhtml:link rel="alternate" hreflang="{language}" href="{escape(href)}"/>')
        lines.append(f'    <xhtml:link rel="alternate" hreflang="x-default" href="{escape(site.address(path))}"/>')
        lines.append("  </url>")
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode("utf-8")
