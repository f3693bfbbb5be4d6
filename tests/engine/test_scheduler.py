"""The scheduler's policy on its own, with evaluations that take a known time: turns by cost between
clients, a client's share, the budget's Retry-After, single-flight, and what a client that goes away
leaves behind. (Over real HTTP with real workers: ``tests/web/test_fairness.py``.)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import pytest

from spacegraph.engine.scheduler import SERVER, Policy, Scheduler, calling
from spacegraph.engine.workers import QueryError

POLICY = Policy(capacity=1, per_client=1, queue=8, total_queue=16, budget=60.0)


def work(seconds: float, log: list[str], name: str) -> Callable[[], Awaitable[str]]:
    async def evaluate() -> str:
        log.append(name)
        await asyncio.sleep(seconds)
        return name

    return evaluate


async def ask(scheduler: Scheduler, client: str, key: str, evaluate: Callable[[], Awaitable[str]]) -> str:
    with calling(client):
        return await scheduler.run(key, False, evaluate)


def test_turns_go_to_the_client_that_has_used_the_least_time() -> None:
    """Client a has queued three slow evaluations before b asks for three quick ones: b's overtake a's
    second and third, since a has used more time; plain first-come order would run a, a, a, b, b, b."""

    async def scenario() -> list[str]:
        scheduler, log = Scheduler(POLICY), []
        slow = [asyncio.create_task(ask(scheduler, "a", f"a{i}", work(0.05, log, f"a{i}"))) for i in range(3)]
        await asyncio.sleep(0.01)
        quick = [asyncio.create_task(ask(scheduler, "b", f"b{i}", work(0.001, log, f"b{i}"))) for i in range(3)]
        await asyncio.gather(*slow, *quick)
        return log

    assert asyncio.run(scenario()) == ["a0", "b0", "b1", "b2", "a1", "a2"]


def test_a_client_runs_at_most_its_share_and_the_rest_is_left_to_others() -> None:
    async def scenario() -> tuple[int, int]:
        policy = Policy(capacity=3, per_client=2, queue=8, total_queue=16, budget=60.0)
        scheduler, log = Scheduler(policy), []
        heavy = [asyncio.create_task(ask(scheduler, "a", f"a{i}", work(0.2, log, f"a{i}"))) for i in range(4)]
        await asyncio.sleep(0.01)
        running, waiting = scheduler.running, scheduler.waiting
        assert await ask(scheduler, "b", "b", work(0.001, log, "b")) == "b"  # the third slot was free for b
        await asyncio.gather(*heavy)
        return running, waiting

    assert asyncio.run(scenario()) == (2, 2)


def test_past_the_budget_the_client_is_told_when_to_come_back() -> None:
    async def scenario() -> QueryError:
        policy = Policy(capacity=2, per_client=2, queue=8, total_queue=16, budget=0.6)  # 0.01 s a second
        scheduler, log = Scheduler(policy), []
        await ask(scheduler, "a", "a0", work(0.9, log, "a0"))  # 0.3 s over: 30 s to refill it
        assert await ask(scheduler, "b", "b0", work(0.001, log, "b0")) == "b0"  # others unaffected
        assert await ask(scheduler, SERVER, "s0", work(0.001, log, "s0")) == "s0"  # the server's own work too
        with pytest.raises(QueryError) as refused:
            await ask(scheduler, "a", "a1", work(0.001, log, "a1"))
        return refused.value

    error = asyncio.run(scenario())
    # 0.3 s over (more if the loop overslept), at 0.01 s a second
    assert error.kind == "throttled" and error.retry_after is not None and 29 <= error.retry_after <= 60


def test_identical_jobs_share_one_evaluation_and_its_error() -> None:
    async def scenario() -> tuple[list[object], int, int]:
        scheduler = Scheduler(POLICY)
        calls = 0

        async def failing() -> str:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.05)
            raise QueryError("timeout", "too long")

        results = await asyncio.gather(
            *(ask(scheduler, f"c{i}", "same", failing) for i in range(5)), return_exceptions=True
        )
        return [type(result).__name__ for result in results], calls, scheduler.shared

    kinds, calls, shared = asyncio.run(scenario())
    assert kinds == ["QueryError"] * 5 and calls == 1 and shared == 4


def test_the_first_asker_going_away_has_the_others_ask_again() -> None:
    """The evaluation runs in its first asker's task: when that client goes away, the evaluation stops
    (its worker would be killed), and one of those that waited for it evaluates in its turn."""

    async def scenario() -> tuple[bool, str, list[str]]:
        scheduler, log = Scheduler(POLICY), []
        first = asyncio.create_task(ask(scheduler, "a", "same", work(0.1, log, "x")))
        await asyncio.sleep(0.01)
        second = asyncio.create_task(ask(scheduler, "b", "same", work(0.1, log, "y")))
        await asyncio.sleep(0.01)
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        return first.cancelled(), await second, log

    assert asyncio.run(scenario()) == (True, "y", ["x", "y"])


def test_a_client_going_away_frees_its_turn_and_its_slot() -> None:
    """A waiting evaluation given up leaves the queue; a running one given up (the last asker gone) is
    cancelled and frees its slot for the next client."""

    async def scenario() -> tuple[int, int, str]:
        scheduler, log = Scheduler(POLICY), []
        running = asyncio.create_task(ask(scheduler, "a", "a0", work(10, log, "a0")))
        waiting = asyncio.create_task(ask(scheduler, "a", "a1", work(10, log, "a1")))
        await asyncio.sleep(0.01)
        waiting.cancel()
        await asyncio.sleep(0.01)
        queued = scheduler.waiting
        running.cancel()
        answer = await asyncio.wait_for(ask(scheduler, "b", "b0", work(0.001, log, "b0")), 1)
        return queued, scheduler.running, answer

    assert asyncio.run(scenario()) == (0, 0, "b0")


def test_a_full_queue_is_refused_at_once() -> None:
    async def scenario() -> list[str]:
        policy = Policy(capacity=1, per_client=1, queue=2, total_queue=16, budget=60.0)
        scheduler, log = Scheduler(policy), []
        tasks = [asyncio.create_task(ask(scheduler, "a", f"a{i}", work(0.05, log, f"a{i}"))) for i in range(5)]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        return [r.kind if isinstance(r, QueryError) else str(r) for r in results]

    assert asyncio.run(scenario()) == ["a0", "a1", "a2", "queue-full", "queue-full"]
