"""Serving the publication over HTTP: the application and everything it answers.

Here: the application and its server (``app``, ``server``), the SPARQL and Graph Store protocols
(``sparql``, and their fast lanes: ``lanes``), linked data — our IRIs, their documents and the
published files (``deref``, ``describe``, ``publication``) — the HTML pages (``pages/``, with
``templates/`` and ``static/``), content negotiation (``conneg``), the middleware in front of every
route (``limits``, ``replay``, ``headers``), operations (``operations``, ``metrics``, ``accesslog``) and
the server's cache (``caches``).

May import: the engine (to evaluate queries), publishing's ``diagram`` (to draw a neighbourhood), and
the shared modules. Nothing below imports the web layer. The rules are import-linter contracts in
``pyproject.toml``.
"""
