"""Time the linked-data pages over real HTTP: a real uvicorn on 127.0.0.1 serving a build, N requests per
page after one warm-up (which fills the description cache and draws the neighbourhood picture).

    PYTHONPATH=. .venv/bin/python bench/page_latency.py --runs 100   # builds into a temporary folder first
    PYTHONPATH=. .venv/bin/python bench/page_latency.py --runs 100 --build dist
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from tests.support import running

from spacegraph import PROJECT_ROOT
from spacegraph.config import Config
from spacegraph.publish import dumps
from spacegraph.publish.graph import Sources
from spacegraph.web.app import create_app

PAGES = [
    ("entity page (HTML)", "/id/jaxa.html", "text/html"),
    ("entity page, French", "/id/hayabusa2.html?lang=fr", "text/html"),
    ("303 redirect", "/id/jaxa", "text/turtle"),
    ("description (Turtle)", "/id/jaxa.ttl", "text/turtle"),
    ("description (JSON-LD)", "/id/jaxa.jsonld", "application/ld+json"),
    ("landing page", "/", "text/html"),
    ("ontology documentation", "/def.html", "text/html"),
    ("dataset description (HTML)", "/id/dataset.html", "text/html"),
    ("/.well-known/void (Turtle)", "/.well-known/void", "text/turtle"),
    ("/.well-known/void (JSON-LD)", "/.well-known/void", "application/ld+json"),
    ("sitemap.xml", "/sitemap.xml", "application/xml"),
    ("robots.txt", "/robots.txt", "text/plain"),
    ("error page (404, HTML)", "/no-such-page", "text/html"),
    ("error (404, plain text)", "/no-such-page", "*/*"),
    ("health (for comparison)", "/health", "*/*"),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--build", type=Path, default=None, help="a build folder (default: build one now)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.build
        if folder is None:
            folder = dumps.build(
                Sources.in_project(),
                Path(scratch) / "dist",
                description=PROJECT_ROOT / "metadata" / "dataset.ttl",
                context=PROJECT_ROOT / "ontology" / "context.jsonld",
            ).folder
        with running(create_app(Config(data=(folder / "spacegraph.nq",)))) as base, httpx.Client() as client:
            for name, path, accept in PAGES:
                first = time.perf_counter()
                client.get(base + path, headers={"Accept": accept})
                cold = (time.perf_counter() - first) * 1000
                times = []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    response = client.get(base + path, headers={"Accept": accept})
                    times.append((time.perf_counter() - start) * 1000)
                    assert response.status_code == (404 if "404" in name else 303 if "303" in name else 200), path
                times.sort()
                p95 = times[int(len(times) * 0.95) - 1]
                print(
                    f"{name:<28} first {cold:7.1f} ms   median {statistics.median(times):6.2f} ms"
                    f"   p95 {p95:6.2f} ms   ({len(response.content):,} bytes)"
                )


if __name__ == "__main__":
    main()
