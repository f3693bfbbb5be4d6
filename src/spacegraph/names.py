"""How two names are compared, in one place: the Wikidata link record, the candidates ``links suggest``
ranks and the ``/reconcile`` service all read "Hayabusa-2", "Hayabusa 2" and "HAYABUSA2" as one name.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

QUALIFIER = re.compile(r"\s*\([^)]*\)\s*$")  # a trailing qualifier: "Cabinet Office (Japan)"


def normalise(label: str) -> str:
    """A name by its letters and digits only, case and accents folded (NFKD, so full-width Latin and
    half-width kana fold too): "Hayabusa-2" and "Hayabusa2", "162173 Ryugu" and "(162173) Ryugu",
    "Cabinet Office (Japan)" and "Cabinet Office" all agree."""
    label = QUALIFIER.sub("", label)
    decomposed = unicodedata.normalize("NFKD", label.casefold())
    return "".join(c for c in decomposed if c.isalnum())


def words(label: str) -> list[str]:
    """The words of a name, folded as ``normalise`` folds them (kanji and kana make one word each run)."""
    decomposed = unicodedata.normalize("NFKD", QUALIFIER.sub("", label).casefold())
    kept = "".join(c if c.isalnum() else " " for c in decomposed if not unicodedata.combining(c))
    return kept.split()


def similarity(a: str, b: str) -> float:
    """How alike two names are, from 0 to 1: 1 when they normalise to the same text, else the best of a
    character ratio (typos, spacing) and the share of words in common (order, extra words)."""
    left, right = normalise(a), normalise(b)
    if not left or not right:
        return 0.0
    if left == right:
        return 1.0
    characters = difflib.SequenceMatcher(None, left, right, autojunk=False).ratio()
    first, second = set(words(a)), set(words(b))
    shared = len(first & second) / max(len(first | second), 1)
    return round(max(characters, shared) * 0.95, 4)  # below an exact match, whatever the ratio
