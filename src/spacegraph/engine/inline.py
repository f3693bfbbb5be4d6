"""Cheap queries evaluated in the server process itself, without the hop to a worker.

A worker process is what makes a query killable at its time limit, and the hop to one (the scheduler,
pickling the job and the answer, two context switches) is most of what a new point lookup costs the
server: ~0.5 ms against ~40 µs of evaluation. A query whose cost is known to be small before it runs
does not need to be killable. ``Inline`` holds a copy of the graph in the server process, when the graph
is small enough that a second copy costs little (``INLINE_QUADS`` in the workers' store), and evaluates there
the queries ``analysis.read_simple`` reads — triple patterns with IRI subjects — when they are bounded:

- one pattern, whose rows are not dropped after being made (DISTINCT, REDUCED, OFFSET): the answer stops
  being written past ``INLINE_ROWS`` rows, and the query then goes to a worker as any other;
- otherwise, the counts of each pattern's matches multiply to at most ``BOUND`` (counted in the store,
  each count stopped as soon as the product passes): the rows the join can make, and the work to count
  them, are bounded by it.

Anything the evaluation refuses (a syntax error, too many rows…) gives None: the query then takes the
ordinary path, through the scheduler to a worker, which gives its answer or its error.
"""

from __future__ import annotations

import time
from pathlib import Path

import pyoxigraph as ox

from spacegraph.engine.analysis import Simple
from spacegraph.engine.workers import Answer, Job, Settings, evaluate, load_store

# Quads in the workers' store (each triple of a named graph twice: there and in the union) up to which the
# graph is loaded again in the server process: 35 MiB at most (measured; the real graph has 6,074).
INLINE_QUADS = 100_000
INLINE_ROWS = 1000  # rows a pattern's answer may have here (~2 ms of writing); more: a worker's job
BOUND = 1000  # matches of several patterns, multiplied (counting costs ~0.5 µs a match)


class Inline:
    """The graph, loaded in the server process, for the cheap queries (see the module's docstring)."""

    def __init__(self, store: ox.Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    @classmethod
    def load(cls, files: list[Path], settings: Settings, quads: int) -> Inline | None:
        """The files loaded as the workers load them, or None when the graph (``quads`` in the workers'
        store) is too large to hold twice."""
        if quads > INLINE_QUADS:
            return None
        return cls(load_store(str(path) for path in files), settings)

    def bounded(self, simple: Simple) -> bool:
        if len(simple.patterns) == 1 and not simple.dropping:
            return True
        product = 1
        default = ox.DefaultGraph()
        for subject, predicate, obj in simple.patterns:
            try:
                matches = self.store.quads_for_pattern(
                    ox.NamedNode(subject),
                    None if predicate is None else ox.NamedNode(predicate),
                    None if obj is None else ox.NamedNode(obj),
                    default,
                )
            except ValueError:  # not a valid IRI: the parser's error, given the ordinary way
                return False
            count = 0
            for _ in matches:
                count += 1
                if product * count > BOUND:
                    return False
            if count == 0:
                return True  # no rows at all
            product *= count
        return True

    def answer(self, job: Job, simple: Simple) -> tuple[Answer, float] | None:
        """The answer and the seconds it took, or None if the query is not bounded or the evaluation
        refused it (the ordinary path answers it)."""
        begin = time.perf_counter()
        if not self.bounded(simple):
            return None
        rows = INLINE_ROWS if job.max_rows is None else min(job.max_rows, INLINE_ROWS)
        answer = evaluate(self.store, job, self.settings, rows)
        return (answer, time.perf_counter() - begin) if isinstance(answer, Answer) else None
