"""Standards' own files, run as their publishers say (``../shared/standards/README.md``): here, SEMIC's
DCAT-AP 3.0.0 SHACL shapes, as a European data portal runs them — with pyshacl, over the dataset
description alone, RDFS inference on, no vocabulary loaded beside it."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import pyshacl  # type: ignore[import-untyped]
import rdflib

from spacegraph import PROJECT_ROOT

STANDARDS = Path(os.environ.get("SPACEGRAPH_STANDARDS", PROJECT_ROOT.parent / "shared" / "standards"))
DCAT_AP_SHAPES = STANDARDS / "dcat-ap-3.0.0-SHACL.ttl"
SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")


@dataclass(frozen=True, order=True)
class Result:
    focus: str
    path: str
    severity: str
    message: str


@functools.cache
def dcat_ap_shapes() -> rdflib.Graph:
    if not DCAT_AP_SHAPES.is_file():
        raise FileNotFoundError(f"SEMIC's DCAT-AP shapes are needed at {DCAT_AP_SHAPES} (or set SPACEGRAPH_STANDARDS)")
    return rdflib.Graph().parse(DCAT_AP_SHAPES, format="turtle")


def dcat_ap_results(description: rdflib.Graph) -> list[Result]:
    """Every result (violation, warning or info) of DCAT-AP 3.0.0's shapes on ``description``."""
    _conforms, report, _text = pyshacl.validate(description, shacl_graph=dcat_ap_shapes(), inference="rdfs")
    assert isinstance(report, rdflib.Graph)
    results = []
    for node in report.subjects(rdflib.RDF.type, SH.ValidationResult):
        severity = report.value(node, SH.resultSeverity)
        results.append(
            Result(
                str(report.value(node, SH.focusNode)),
                str(report.value(node, SH.resultPath)),
                str(severity).rsplit("#", 1)[-1],
                str(report.value(node, SH.resultMessage)),
            )
        )
    return sorted(results)
