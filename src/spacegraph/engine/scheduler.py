"""Fair evaluation: whose query runs next, who waits and who is refused, whatever route asks.

Every evaluation goes through ``Backend.query``, and so through the backend's one ``Scheduler``: the
SPARQL protocol, the graph store, the linked-data pages, and any route added later. A route needs to do
nothing for it: the client is carried by the context variable ``CALLER``, which the server's request
limits (``web/limits.py``) set for every HTTP request from the address they already resolve (the
connection's peer, or a trusted proxy's ``X-Forwarded-For``). Tasks a route starts copy the context, so
they ask as the same client. Work without a caller (the service description's counts at start, the
readiness probe) is the server's own: scheduled as the client ``SERVER``, outside any budget.

The policy, in the order a request meets it:

1. **One evaluation for identical jobs in flight** (single-flight). A job equal to one already queued or
   running (same query text, dataset, formats, limits) waits for that one's answer (or error) instead of
   being evaluated again. Not for volatile queries (``RAND()``, ``NOW()``…, ``SERVICE``): each run of
   those may answer differently.
2. **A budget of evaluation time per client**, a token bucket in the spirit of Wikidata's query service:
   ``budget`` seconds of evaluation a minute, and at most ``budget`` in reserve. Every evaluation is
   charged its time from start to answer (a runaway query: the time limit). A client whose reserve is
   used up (evaluations running count as they go) is refused, ``throttled``, with a ``retry_after``
   telling when the reserve is positive again. A cheap query costs about a millisecond of it.
3. **A bounded queue per client** (``queue`` evaluations waiting), and all queues together at most
   ``total_queue``: past either, ``queue-full``, with a ``retry_after`` estimated from what waits ahead.
4. **Turns by cost.** A client runs at most ``per_client`` evaluations at once; the rest wait in its
   queue. When an evaluation ends, the next one goes to the client, among those with work waiting and a
   free share, that has used the least evaluation time so far (running evaluations counted as they go):
   start-time fair queueing by cost, so a client of cheap queries overtakes one of slow queries, and a
   client's burst waits a few milliseconds instead of being refused. A client arriving after a pause
   starts level with the least-served active client, neither at zero (it would overtake everyone for
   as long as others had run) nor with its old debt.
5. **Capacity.** At most ``capacity`` evaluations run at once; the embedded backend starts a worker
   process on demand for each beyond those kept warm, and retires it when it has been idle (``pool.py``).
   With ``per_client`` below ``capacity``, one client, however many queries it sends, never holds every
   worker: the others always find one.

The queue has no deadline of its own: a waiting evaluation is bounded by those ahead of it (at most
``queue / per_client`` turns of at most the time limit each), and the time limit still stops each one.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

from spacegraph.engine.workers import QueryError

T = TypeVar("T")
SERVER = "server"  # the client name of work the endpoint does for itself
WINDOW = 60.0  # seconds: the budget is this many seconds' worth of evaluation time per window
WAIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
FORGET_AFTER = 4096  # accounts kept before idle, fully refilled ones are forgotten


@dataclass(eq=False)
class Caller:
    """One request as the scheduler sees it: who asks, and what its evaluations cost it (for the log)."""

    client: str
    waited: float = 0.0  # seconds its evaluations waited for their turn
    evaluations: int = 0  # evaluations it asked for (shared ones included)
    refused: str | None = None  # why the scheduler refused one: budget, queue-full


CALLER: ContextVar[Caller | None] = ContextVar("spacegraph_caller", default=None)


@contextmanager
def calling(client: str) -> Iterator[Caller]:
    """Evaluations asked within this block are ``client``'s."""
    caller = Caller(client)
    token = CALLER.set(caller)
    try:
        yield caller
    finally:
        CALLER.reset(token)


@dataclass(frozen=True)
class Policy:
    capacity: int  # evaluations running at once, all clients together
    per_client: int  # evaluations one client may have running at once
    queue: int  # evaluations one client may have waiting
    total_queue: int  # evaluations waiting, all clients together
    budget: float  # seconds of evaluation per client per WINDOW, and at most that much in reserve


@dataclass(eq=False)
class Turn:
    """One evaluation's place: in its client's queue until ``start``, then holding a slot."""

    account: Account
    arrived: float
    began: float | None = None  # when it was given its slot
    future: asyncio.Future[None] | None = None  # set when it has to wait; resolved at its turn
    over: bool = False


@dataclass(eq=False)
class Account:
    """What the scheduler knows of one client."""

    name: str
    budgeted: bool
    reserve: float  # seconds of evaluation it may still use, as of ``updated``
    updated: float
    served: float = 0.0  # evaluation time used, for turns (a virtual clock)
    running: int = 0
    started: float = 0.0  # the sum of the start times of its running evaluations
    waiting: deque[Turn] = field(default_factory=deque)

    def running_time(self, now: float) -> float:
        return self.running * now - self.started

    def available(self, now: float, policy: Policy) -> float:
        """Seconds of evaluation it may still start, its running evaluations counted as they go."""
        refilled = min(policy.budget, self.reserve + (now - self.updated) * policy.budget / WINDOW)
        return refilled - self.running_time(now)

    def charge(self, seconds: float, now: float, policy: Policy) -> None:
        refilled = min(policy.budget, self.reserve + (now - self.updated) * policy.budget / WINDOW)
        self.reserve = max(refilled - seconds, -policy.budget)  # a debt of at most one window
        self.updated = now
        self.served += seconds


@dataclass(eq=False)
class Flight:
    """An evaluation in flight, run in its first asker's task; the others wait for its outcome."""

    outcome: asyncio.Future[object] | None = None  # made when a second asker comes


class Gone(Exception):
    """The first asker of an evaluation went away before its answer (the evaluation was cancelled)."""


class Scheduler:
    """The policy above, for one backend. ``run(key, volatile, evaluate)`` gives ``evaluate()``'s result
    when the caller's turn has come, or raises ``QueryError`` (throttled, queue-full)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.accounts: dict[str, Account] = {}
        self.queued: dict[Account, None] = {}  # accounts with evaluations waiting, in order of arrival
        self.active: set[Account] = set()  # accounts with evaluations waiting or running
        self.flights: dict[Hashable, Flight] = {}
        self.running = 0
        self.waiting = 0
        self.clock = 0.0  # the virtual time a client arriving after a pause starts at
        # figures for the metrics
        self.evaluations = 0  # evaluations started
        self.at_once = 0  # of which run at once, outside the turns (``charge``)
        self.shared = 0  # jobs answered by an identical evaluation already in flight
        self.throttled: Counter[str] = Counter()  # refusals by reason: budget, queue-full
        self.wait_counts = [0] * (len(WAIT_BUCKETS) + 1)  # waits per bucket (the last: above them all)
        self.wait_sum = 0.0

    # --- asking

    async def run(self, key: Hashable, volatile: bool, evaluate: Callable[[], Awaitable[T]]) -> T:
        caller = CALLER.get()
        if caller is not None:
            caller.evaluations += 1
        loop = asyncio.get_running_loop()
        while not volatile and (flight := self.flights.get(key)) is not None:
            if flight.outcome is None:
                flight.outcome = loop.create_future()
            self.shared += 1
            try:
                return await asyncio.shield(flight.outcome)  # type: ignore[arg-type]
            except Gone:  # its first asker went away before the answer: ask again (and maybe evaluate)
                self.shared -= 1
        account = self.account(caller.client if caller is not None else SERVER)
        self.admit(account, caller)
        turn = self.enter(account)  # its slot, or its place in the queue, taken now: the next asker sees it
        own = Flight()
        if not volatile:
            self.flights[key] = own
        try:
            result = await self.take_turn(turn, evaluate, caller)
        except asyncio.CancelledError:
            self.land(key, own, Gone())
            raise
        except BaseException as error:
            self.land(key, own, error)
            raise
        self.land(key, own, None, result)
        return result

    def may_run_at_once(self, client: str) -> bool:
        """Whether ``client`` may have a cheap evaluation run at once, outside the turns (``inline.py``):
        it has budget left. Its time is then charged with ``charge``; a client without budget is sent
        the ordinary way, to be refused there."""
        account = self.accounts.get(client)
        if account is None or not account.budgeted:
            return True
        return account.available(asyncio.get_running_loop().time(), self.policy) > 0

    def charge(self, client: str, seconds: float) -> None:
        """An evaluation run at once, charged to ``client``'s budget and counted in its turns."""
        account = self.account(client)
        account.charge(seconds, asyncio.get_running_loop().time(), self.policy)
        self.evaluations += 1
        self.at_once += 1

    def land(self, key: Hashable, flight: Flight, error: BaseException | None, result: object = None) -> None:
        """The evaluation is over: identical jobs asked from now on are evaluated anew, and those that
        waited for this one get its outcome."""
        if self.flights.get(key) is flight:
            del self.flights[key]
        if flight.outcome is not None and not flight.outcome.done():
            if error is not None:
                flight.outcome.set_exception(error)
            else:
                flight.outcome.set_result(result)

    def account(self, client: str) -> Account:
        account = self.accounts.get(client)
        if account is None:
            if len(self.accounts) >= FORGET_AFTER:
                self.forget()
            now = asyncio.get_running_loop().time()
            account = self.accounts[client] = Account(client, client != SERVER, self.policy.budget, now)
        return account

    def forget(self) -> None:
        """Drop the accounts with nothing in flight and a full reserve: they would be made anew the same."""
        now = asyncio.get_running_loop().time()
        for name, account in list(self.accounts.items()):
            full = account.available(now, self.policy) >= self.policy.budget
            if full and account not in self.active:
                del self.accounts[name]

    def admit(self, account: Account, caller: Caller | None) -> None:
        """Refuse an evaluation the budget or the queues have no room for."""
        now = asyncio.get_running_loop().time()
        policy = self.policy
        if account.budgeted and (available := account.available(now, policy)) <= 0:
            # the reserve refills at budget/WINDOW seconds a second
            retry = max(1.0, math.ceil(-available * WINDOW / policy.budget))
            self.refuse(
                caller,
                "budget",
                QueryError(
                    "throttled",
                    f"{account.name} has used its budget of {policy.budget:g} s of evaluation time a minute; "
                    f"try again in {retry:g} s",
                    retry_after=retry,
                ),
            )
        if self.may_start(account):
            return
        if len(account.waiting) >= policy.queue or self.waiting >= policy.total_queue:
            ahead = len(account.waiting) if len(account.waiting) >= policy.queue else self.waiting
            retry = max(1.0, math.ceil(self.mean_evaluation() * (ahead + 1) / policy.per_client))
            whose = f"{account.name}'s queue" if len(account.waiting) >= policy.queue else "every queue"
            self.refuse(
                caller,
                "queue-full",
                QueryError(
                    "queue-full",
                    f"{whose} of queries waiting to be evaluated is full; try again in {retry:g} s",
                    retry_after=retry,
                ),
            )

    def refuse(self, caller: Caller | None, reason: str, error: QueryError) -> None:
        self.throttled[reason] += 1
        if caller is not None:
            caller.refused = reason
        raise error

    def mean_evaluation(self) -> float:
        served = sum(account.served for account in self.accounts.values())
        return served / self.evaluations if self.evaluations else 0.0

    # --- turns

    def may_start(self, account: Account) -> bool:
        return self.running < self.policy.capacity and account.running < self.policy.per_client and not account.waiting

    def enter(self, account: Account) -> Turn:
        """A slot for the evaluation if one is free and the client has its share left, else a place at the
        end of the client's queue."""
        now = asyncio.get_running_loop().time()
        turn = Turn(account, now)
        if account not in self.active:
            account.served = max(account.served, self.level())
            self.active.add(account)
        if self.may_start(account):
            self.start(turn, now)
        else:
            turn.future = asyncio.get_running_loop().create_future()
            account.waiting.append(turn)
            self.waiting += 1
            self.queued.setdefault(account, None)
        return turn

    async def take_turn(self, turn: Turn, evaluate: Callable[[], Awaitable[T]], caller: Caller | None) -> T:
        try:
            if turn.future is not None:
                await turn.future
            assert turn.began is not None
            self.record_wait(turn.began - turn.arrived, caller)
            return await evaluate()
        finally:
            self.leave(turn)

    def leave(self, turn: Turn) -> None:
        """The evaluation is over, however it ended (given up in the queue included): free its place."""
        if turn.over:
            return
        turn.over = True
        account = turn.account
        now = asyncio.get_running_loop().time()
        if turn.began is None:  # still waiting
            account.waiting.remove(turn)
            self.waiting -= 1
            if not account.waiting:
                self.queued.pop(account, None)
            if not account.running and not account.waiting:
                self.active.discard(account)
            return
        account.running -= 1
        account.started -= turn.began
        self.running -= 1
        if account.budgeted:
            account.charge(now - turn.began, now, self.policy)
        else:
            account.served += now - turn.began
        if not account.running and not account.waiting:
            self.active.discard(account)
        self.dispatch(now)

    def level(self) -> float:
        """Where a client arriving after a pause starts: the least-served active client's time."""
        if self.active:
            self.clock = max(self.clock, min(account.served for account in self.active))
        return self.clock

    def start(self, turn: Turn, now: float) -> None:
        turn.began = now
        turn.account.running += 1
        turn.account.started += now
        self.running += 1
        self.evaluations += 1

    def dispatch(self, now: float) -> None:
        """Give free capacity to the waiting clients, the least served first."""
        while self.running < self.policy.capacity and self.queued:
            best: Account | None = None
            best_key = (0.0, 0.0)
            for account in self.queued:
                if account.running >= self.policy.per_client:
                    continue
                key = (account.served + account.running_time(now), account.waiting[0].arrived)
                if best is None or key < best_key:
                    best, best_key = account, key
            if best is None:
                return
            turn = best.waiting.popleft()
            self.waiting -= 1
            if not best.waiting:
                del self.queued[best]
            self.start(turn, now)
            assert turn.future is not None
            turn.future.set_result(None)

    def record_wait(self, seconds: float, caller: Caller | None) -> None:
        if caller is not None:
            caller.waited += seconds
        self.wait_sum += seconds
        for index, bound in enumerate(WAIT_BUCKETS):
            if seconds <= bound:
                self.wait_counts[index] += 1
                return
        self.wait_counts[-1] += 1
