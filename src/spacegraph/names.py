"""How two names are compared, in one place: the Wikidata link record, the candidates ``links suggest``
ranks and the ``/reconcile`` service all read "Hayabusa-2", "Hayabusa 2" and "HAYABUSA2" as one name.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

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


def bigrams(folded: str) -> Counter[str]:
    """The pairs of adjacent characters of a normalised name (one character makes one "pair")."""
    return Counter(folded[i : i + 2] for i in range(max(len(folded) - 1, 1)))


def dice(left: Counter[str], right: Counter[str]) -> float:
    """Sørensen-Dice coefficient of two bigram multisets: 2 |A ∩ B| / (|A| + |B|)."""
    total = left.total() + right.total()
    return 2 * (left & right).total() / total if total else 0.0


def similarity(a: str, b: str) -> float:
    """How alike two names are, from 0 to 1: 1 when they normalise to the same text, else the best of
    the Dice coefficient of their character pairs (typos, spacing) and the share of words in common
    (order, extra words), times 0.95 so that only an exact match reaches 1."""
    left, right = normalise(a), normalise(b)
    if not left or not right:
        return 0.0
    if left == right:
        return 1.0
    first, second = set(words(a)), set(words(b))
    shared = len(first & second) / max(len(first | second), 1)
    return round(max(dice(bigrams(left), bigrams(right)), shared) * 0.95, 4)
