"""spacegraph: a CNES press release of July 2016, modelled as RDF, validated and published.

The package has three rooms, one per phase of the product, and a few shared modules beneath them:

- ``spacegraph.publish``: from the sources to the publication (load, validate, build the dumps and their
  description, the diagrams, the Wikidata link record);
- ``spacegraph.engine``: evaluating queries (the query analysis, the backends, the worker processes);
- ``spacegraph.web``: serving the publication over HTTP (the application and everything it answers);
- shared: ``config``, ``errors``, ``formats``, ``names``, ``namespaces``, and this module (the version and the
  project's folder). ``cli`` is the command over all of them.

The rules between them are contracts in ``pyproject.toml`` ([tool.importlinter]), checked by ``make test``.
"""

from pathlib import Path

__version__ = "1.0.0"
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the folder holding ontology/, data/, queries/, dist/
