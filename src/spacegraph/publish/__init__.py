"""Publishing: from the sources to the publication, before anything is served.

Here: loading the ontology, shapes and data into named graphs (``graph``), validating them with SHACL and
the integrity checks (``validate``), building the dumps and their VoID/DCAT description (``dumps``,
``metadata``) and switching them into place atomically (``folders``), drawing the ontology's diagram and a
resource's neighbourhood with Graphviz (``diagram``), and the Wikidata link record with its checks
(``links``).

May import: the shared modules (``spacegraph``, ``config``, ``errors``, ``formats``, ``namespaces``).
Never imports the engine or the web layer: a build needs no server. (The web layer imports ``diagram``
to draw a neighbourhood.) The rule is an import-linter contract in ``pyproject.toml``.
"""
