"""The query engine, under both publishing and serving: reading a query, and evaluating it.

Here: the one analysis of a query text (``analysis``: form, nesting, SERVICE calls, volatility), the
SERVICE policy and the network sandbox (``security``), the backends behind one interface (``store``:
embedded pyoxigraph or a remote SPARQL endpoint), the pool of killable worker processes (``pool``),
what runs inside them (``workers``), and the cheap queries evaluated without them (``inline``).

May import: the shared modules (``spacegraph``, ``config``, ``errors``, ``formats``, ``namespaces``).
Never imports publishing or the web layer. The worker processes import only ``workers``, ``analysis``,
``security`` and the shared modules, so that they start quickly. The rules are import-linter contracts
in ``pyproject.toml``.
"""
