"""The one in-memory cache of the server: least recently used out first, within a budget counted in
items or, with a ``weight``, in bytes. Descriptions and pages count items; answers (``sparql``) and
replayed responses (``replay``) count bytes. The data is immutable while it is served (or kept only for
a bounded period, ``deref.epoch``), so an entry never needs invalidating."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


def one(_: object) -> int:
    return 1


class LruCache(Generic[K, V]):
    """At most ``budget`` in total ``weight`` (1 per entry by default); an entry weighing more than
    ``largest`` is not kept."""

    def __init__(self, budget: int, weight: Callable[[V], int] = one, largest: int | None = None) -> None:
        self.budget = budget
        self.weight = weight
        self.largest = budget if largest is None else largest
        self.used = 0
        self.items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        weight = self.weight(value)
        if weight > self.largest:
            return
        old = self.items.pop(key, None)
        if old is not None:
            self.used -= self.weight(old)
        self.items[key] = value
        self.used += weight
        while self.used > self.budget:
            _, dropped = self.items.popitem(last=False)
            self.used -= self.weight(dropped)
