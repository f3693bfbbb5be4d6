"""Benchmarks of spacegraph's endpoint beside its peers (Oxigraph server, rdflib-endpoint).

``python -m bench --help``; ``python -m bench.generate`` makes graphs of our shape at any size.
"""
