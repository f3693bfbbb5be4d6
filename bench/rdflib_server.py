"""rdflib-endpoint (PyPI) serving an N-Quads file, for the benchmark: an rdflib ``Dataset`` whose default
graph is the union of its named graphs, at ``/sparql``, under uvicorn.

    .venv/bin/python -m bench.rdflib_server FILE.nq PORT
"""

from __future__ import annotations

import sys

import uvicorn
from rdflib import Dataset
from rdflib_endpoint import SparqlEndpoint


def main() -> None:
    data, port = sys.argv[1], int(sys.argv[2])
    dataset = Dataset(default_union=True)
    dataset.parse(data, format="nquads")
    app = SparqlEndpoint(graph=dataset, path="/sparql", title="rdflib-endpoint (benchmark)")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
