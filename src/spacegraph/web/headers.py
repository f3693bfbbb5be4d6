"""The security headers every response carries, in one place.

``CONTENT_SECURITY_POLICY`` fits our own pages and the query UI: scripts, styles, fonts and fetches from
our own origin only, images also as ``data:`` URIs, no plugins, no framing, forms posted only to us.
Inline ``<script type="application/ld+json">`` blocks are data, not scripts: a CSP does not block them.
Inline scripts and ``style`` attributes are blocked: pages keep their scripts and styles in files under
our origin (``/static``), except that the query UI at ``/sparql`` may apply inline styles, which YASGUI
inserts at run time. FastAPI's ``/docs`` page loads Swagger UI from a CDN with an inline script, so
the documentation paths get ``DOCS_CONTENT_SECURITY_POLICY`` instead, and the reconciliation previews,
which clients frame, ``EMBEDDABLE_CONTENT_SECURITY_POLICY``.
"""

from __future__ import annotations

import logging

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("spacegraph.errors")

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SWAGGER_CDN = "https://cdn.jsdelivr.net"
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        f"script-src 'self' 'unsafe-inline' {SWAGGER_CDN}",
        f"style-src 'self' {SWAGGER_CDN}",
        "img-src 'self' data: https://fastapi.tiangolo.com",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    )
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
# YASGUI's results table injects a <style> element when it sizes its columns; the query UI's page is the
# one place that may apply inline styles (scripts stay 'self' only).
QUERY_UI_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)
QUERY_UI_PATH = "/sparql"
# A reconciliation client (OpenRefine) shows an entity's preview in an <iframe> of its own page.
EMBEDDABLE_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", "frame-ancestors *")
EMBEDDABLE_PATH = "/reconcile/preview"
REFERRER_POLICY = "strict-origin-when-cross-origin"

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", REFERRER_POLICY.encode()),
)
REPLACED = frozenset({b"content-security-policy", b"x-content-type-options", b"referrer-policy", b"server"})


def policy_for(path: str) -> str:
    if path in DOCS_PATHS:
        return DOCS_CONTENT_SECURITY_POLICY
    if path == EMBEDDABLE_PATH:
        return EMBEDDABLE_CONTENT_SECURITY_POLICY
    return QUERY_UI_CONTENT_SECURITY_POLICY if path == QUERY_UI_PATH else CONTENT_SECURITY_POLICY


class SecurityHeaders:
    """ASGI middleware: sets the security headers on every HTTP response (errors included), replacing any
    the app set, and drops a ``server`` header should anything inside add one. An exception inside (a bug)
    becomes a bare 500 with these headers, its traceback logged on the server, never sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = policy_for(scope.get("path", "")).encode()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in REPLACED]
                headers += [(b"content-security-policy", policy), *SECURITY_HEADERS]
                message = {**message, "headers": headers}
            await send(message)

        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_with_headers(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception:
            # A bug: the traceback goes to the server's log, the client gets one line and our headers.
            log.exception("error while answering %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await PlainTextResponse("Internal Server Error", 500)(scope, receive, send_with_headers)
