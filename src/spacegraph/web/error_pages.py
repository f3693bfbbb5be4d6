"""Errors as a person sees them: a page of the site, in its chrome and the reader's language, for a
client that asks for HTML (a browser); one line of plain text for every other client.

Routes answer their errors in plain text (``sparql``, ``deref``, ``limits``); an unknown path or a
method a route does not take is answered in plain text here too (``plain_http_error``, instead of
FastAPI's JSON). ``ErrorPages``, a middleware just inside the security headers, turns those answers into
pages when the request's ``Accept`` names HTML — status and headers kept, the message shown on the page —
and answers a bug (an exception) with a page as well, its traceback in the server's log only. A request
that does not name HTML goes straight through, untouched: the cost on the query path is one look at the
``Accept`` header. Answers that are HTML already (the 404 page of an unknown IRI, with its suggestions)
are left as they are.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spacegraph.web.deref import shared_pages, site_of
from spacegraph.web.pages.chrome import WORDS, Chrome

log = logging.getLogger("spacegraph.errors")

HTML_TYPES = (b"text/html", b"application/xhtml+xml")
REWRITTEN = (b"text/plain", b"application/json")  # bodies of errors that become pages
DROPPED = frozenset({b"content-type", b"content-length", b"content-encoding", b"cache-control"})


def asks_for_html(scope: Scope) -> bool:
    """Whether the request's ``Accept`` names HTML with a quality above 0 (what browsers send)."""
    for name, value in scope.get("headers", ()):
        if name == b"accept":
            for part in value.lower().split(b","):
                media, *params = part.split(b";")
                if media.strip() in HTML_TYPES and not any(p.strip() in (b"q=0", b"q=0.0", b"q=0.00") for p in params):
                    return True
    return False


def message_of(body: bytes, content_type: bytes) -> str:
    """The explanation an error's body gives: its text, or a JSON error's ``detail``."""
    text = body.decode("utf-8", "replace").strip()
    if content_type.startswith(b"application/json"):
        try:
            detail = json.loads(text).get("detail", text)
        except (ValueError, AttributeError):
            return text
        return detail if isinstance(detail, str) else json.dumps(detail)
    return text


def render(scope: Scope, status: int, message: str) -> bytes:
    """The error page for ``status``, in the reader's language."""
    request = Request(scope)
    site = site_of(request)
    words = WORDS[site.language]
    heading = words.get(f"status_{status}") or HTTPStatus(status).phrase
    chrome = Chrome.of(site, heading, request.url.path, dict(request.query_params))
    body = shared_pages().render("error.html", chrome, heading=heading, status=status, message=message)
    return body.encode("utf-8")


class ErrorPages:
    """ASGI middleware: error answers as pages of the site for clients that ask for HTML."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") == "HEAD" or not asks_for_html(scope):
            await self.app(scope, receive, send)
            return
        held: Message | None = None  # the start of an error answer, kept until its body is complete
        body = bytearray()
        started = False

        async def paged_send(message: Message) -> None:
            nonlocal held, started
            if message["type"] == "http.response.start":
                started = True
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if message["status"] >= 400 and content_type.startswith(REWRITTEN):
                    held = message
                    return
            elif message["type"] == "http.response.body" and held is not None:
                body.extend(message.get("body", b""))
                if message.get("more_body", False):
                    return
                content_type = dict(held.get("headers", [])).get(b"content-type", b"")
                await send_page(send, scope, held["status"], message_of(bytes(body), content_type), held["headers"])
                return
            await send(message)

        try:
            await self.app(scope, receive, paged_send)
        except Exception:
            if started:
                raise
            log.exception("error while answering %s %s", scope.get("method"), scope.get("path"))
            await send_page(send, scope, 500, "Internal Server Error", [])


async def send_page(send: Send, scope: Scope, status: int, message: str, headers: list[tuple[bytes, bytes]]) -> None:
    """Send the page of an error answer, keeping the answer's own headers (``Allow``, ``Retry-After``…)."""
    page = render(scope, status, message)
    kept = [(k, v) for k, v in headers if k.lower() not in DROPPED]
    kept += [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(page)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": kept})
    await send({"type": "http.response.body", "body": page})


async def plain_http_error(request: Request, error: Exception) -> Response:
    """An unknown path or a method a route does not take: one line of text, like every other error."""
    assert isinstance(error, HTTPException)
    headers = {**(error.headers or {}), "Cache-Control": "no-store"}
    if error.status_code == 404:
        message = f"nothing at {request.url.path} on this server"
    elif error.status_code == 405:
        allowed = ", ".join(sorted(m.strip() for m in headers.get("Allow", "").split(",") if m.strip()))
        headers["Allow"] = allowed  # the router lists a set, in no fixed order
        message = f"{request.method} is not allowed on {request.url.path}"
        message += f"; allowed: {allowed}" if allowed else ""
    else:
        message = str(error.detail)
    return PlainTextResponse(message + "\n", error.status_code, headers=headers)


def install(app: FastAPI) -> None:
    """Plain-text answers for the router's own errors, and the pages for browsers (inside the security
    headers: call it just before adding them)."""
    app.add_exception_handler(HTTPException, plain_http_error)
    app.add_middleware(ErrorPages)
