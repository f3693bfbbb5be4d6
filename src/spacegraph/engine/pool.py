"""The pool of query worker processes, in the server (the processes themselves: ``workers.py``).

A pool starts one zygote process, which loads the graph, and forks its workers from it: they share the
graph's memory, and one more is ready in milliseconds. ``WorkerPool.run`` hands a job to an idle worker,
or to one forked for it when none is idle (up to the pool's cap), and waits for its reply at most the time
limit. When a query reaches the limit, its process is killed (SIGKILL) and, if the pool is below its
size, a fresh one is forked in the background; the other processes keep answering meanwhile. Workers
beyond the pool's size are retired once idle, and a worker that has come to hold too much memory of
its own (``weigh``) is replaced by a fresh fork. A worker busy with a long evaluation has its priority
lowered (nice 10) until it ends, so that runaway queries take the processor only when nothing else wants
it; where the system does not let the priority be raised again, that worker is replaced. This side runs
on asyncio; the worker processes import none of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import socket
import sys
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path

from spacegraph.engine.workers import (
    FORK,
    HEADER,
    MAX_FRAME,
    Exited,
    Failure,
    Forked,
    Job,
    QueryError,
    Ready,
    Settings,
)
from spacegraph.errors import SpacegraphError

log = logging.getLogger("spacegraph.engine.workers")  # the name it had before the pool had its own module

CLOSE_GRACE = 5.0  # seconds a closing pool waits for a replacement worker to finish starting
# What the zygote process runs (``python -m spacegraph.engine.workers`` would execute workers.py twice:
# once as ``__main__``, once as the module whose classes the pickles name); {fd}: its control socket.
ZYGOTE_COMMAND = "from spacegraph.engine.workers import serve_forever; serve_forever({fd})"
LONG = 0.25  # seconds: an evaluation running longer is a long one (its worker's priority is lowered)
LOWERED = 10  # the nice value of a worker busy with a long evaluation: a tenth of a normal one's share
RECYCLE_SHARE = 0.25  # a worker whose own memory passes this share of the zygote's (the graph) is replaced
RECYCLE_LEAST_MIB = 64.0  # ... and this many MiB
CHECK_EVERY = 1000  # jobs between two looks at a worker's memory, besides after every long evaluation


def restored(worker: Worker) -> bool:
    """Give a worker back its normal priority, where the system lets this process raise it."""
    try:
        os.setpriority(os.PRIO_PROCESS, worker.pid, 0)
    except OSError:
        return False
    worker.lowered = False
    return True


def private_mib(pid: int) -> float:
    """The memory a process holds alone (its private pages, from Linux's ``smaps_rollup``), in MiB; 0 where
    the system does not say."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            fields = rollup.read()
    except OSError:
        return 0.0
    kib = 0
    for line in fields.splitlines():
        if line.startswith((b"Private_Dirty:", b"Private_Clean:")):
            kib += int(line.split()[1])
    return kib / 1024


def died(code: int | None, memory_mb: int | None) -> str:
    if code == -signal.SIGABRT and memory_mb is not None:
        return f"the query needed more memory than an evaluation process may use ({memory_mb} MB)"
    return f"the query's evaluation process died (exit code {code}); it has been replaced"


async def receive(stream: asyncio.StreamReader) -> object:
    (size,) = HEADER.unpack(await stream.readexactly(HEADER.size))
    if size > MAX_FRAME:
        raise ConnectionError("frame too large")
    message: object = pickle.loads(await stream.readexactly(size))
    return message


def frame(message: object) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(payload)) + payload


@dataclass(eq=False)
class Worker:
    """A worker process, forked by the zygote, and the socket it takes jobs on."""

    pid: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    ready: Ready
    exited: asyncio.Future[int]  # its exit code, when the zygote has seen it end
    idle_since: float = 0.0
    lowered: bool = False  # its priority was lowered during a long evaluation
    jobs: int = 0  # evaluated since it was forked
    grown: bool = False  # it holds more memory of its own than the pool lets a worker keep

    async def call(self, job: Job) -> object:
        self.writer.write(frame(job))
        await self.writer.drain()
        return await receive(self.reader)

    async def kill(self) -> None:
        if not self.exited.done():  # once it has ended, its pid may be another process's
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.exited), 10)


class Zygote:
    """The process that loads the graph once and forks the workers (``workers.serve_forever``)."""

    def __init__(self, settings: Settings, startup_timeout: float, name: str) -> None:
        self.settings = settings
        self.startup_timeout = startup_timeout
        self.name = name
        self.process: asyncio.subprocess.Process | None = None
        self.control: socket.socket | None = None  # requests go out here, with their sockets
        self.writer: asyncio.StreamWriter | None = None
        self.listening: asyncio.Task[None] | None = None
        self.ready = Ready(False, None, 0)
        self.forking = asyncio.Lock()
        self.pending: deque[asyncio.Future[int]] = deque()
        self.exits: dict[int, asyncio.Future[int]] = {}
        self.alive = False

    async def start(self) -> Ready:
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])  # src/, holding spacegraph/
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        ours, theirs = socket.socketpair()
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                ZYGOTE_COMMAND.format(fd=theirs.fileno()),
                stdin=asyncio.subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env=env,
            )
        finally:
            theirs.close()
        self.control = ours
        ours.sendall(frame(self.settings))  # a few hundred bytes: the socket's buffer takes them at once
        reader, self.writer = await asyncio.open_unix_connection(sock=ours.dup())
        try:
            reply = await asyncio.wait_for(receive(reader), self.startup_timeout)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as error:
            await self.close()
            why = "did not start in time" if isinstance(error, TimeoutError) else "exited while starting"
            code = self.process.returncode
            raise SpacegraphError(f"the {self.name} workers' zygote {why} (exit code {code})") from None
        if not isinstance(reply, Ready):
            await self.close()
            raise SpacegraphError(reply.message if isinstance(reply, Failure) else "a worker failed to start")
        self.ready, self.alive = reply, True
        self.listening = asyncio.get_running_loop().create_task(self.listen(reader))
        return reply

    async def listen(self, reader: asyncio.StreamReader) -> None:
        """The zygote's answers: the pids of the workers forked, and the ends of workers."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                message = await receive(reader)
                if isinstance(message, Forked) and self.pending:
                    waiting = self.pending.popleft()
                    if not waiting.done():
                        waiting.set_result(message.pid)
                elif isinstance(message, Exited):
                    ended = self.exits.pop(message.pid, None) or loop.create_future()
                    if not ended.done():
                        ended.set_result(message.code)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.alive = False  # its workers die with it (each asked the kernel to)
            for waiting in self.pending:
                if not waiting.done():
                    waiting.set_exception(SpacegraphError(f"the {self.name} workers' zygote has ended"))
            for ended in self.exits.values():
                if not ended.done():
                    ended.set_result(-signal.SIGKILL)
            self.pending.clear()
            self.exits.clear()

    async def fork(self) -> Worker:
        """A new worker, forked with the graph already loaded."""
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        try:
            async with self.forking:
                if not self.alive or self.control is None:
                    raise SpacegraphError(f"the {self.name} workers' zygote has ended")
                forked: asyncio.Future[int] = loop.create_future()
                self.pending.append(forked)
                socket.send_fds(self.control, [FORK], [theirs.fileno()])
                pid = await asyncio.wait_for(forked, self.startup_timeout)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        exited = self.exits.setdefault(pid, loop.create_future())
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        return Worker(pid, reader, writer, self.ready, exited)

    async def close(self) -> None:
        self.alive = False
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), 10)
        if self.listening is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self.listening, 5)
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()
        if self.control is not None:
            self.control.close()


@dataclass
class WorkerPool:
    """``size`` worker processes kept started, and more started on demand, up to ``most``: ``run`` hands a
    job to an idle worker (forking one when none is idle and there is room) and kills it at the time
    limit. A worker beyond ``size`` that stays idle ``idle_seconds`` is retired. The scheduler
    (``scheduler.py``) never runs more jobs at once than there may be workers, so a job waits for a
    worker only while a killed one is being replaced."""

    settings: Settings
    size: int
    startup_timeout: float
    name: str = "query"
    most: int = 0  # at most this many workers; 0: ``size``
    idle_seconds: float = 30.0
    idle: list[Worker] = field(default_factory=list, init=False)  # the last one is the most recently used
    workers: set[Worker] = field(default_factory=set, init=False)
    waiters: deque[asyncio.Future[Worker]] = field(default_factory=deque, init=False)
    tasks: set[asyncio.Task[None]] = field(default_factory=set, init=False)
    zygote: Zygote | None = field(default=None, init=False)
    restarting: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    starting: int = field(default=0, init=False)
    started: int = field(default=0, init=False)  # processes started, in all
    killed: int = field(default=0, init=False)  # killed at the time limit, or died, and replaced
    retired: int = field(default=0, init=False)  # stopped: idle, after a long evaluation, or grown
    closed: bool = field(default=False, init=False)
    recycle_mib: float = field(default=0.0, init=False)  # a worker holding more alone is replaced; 0: never

    def __post_init__(self) -> None:
        self.most = max(self.most, self.size)

    @property
    def busy(self) -> int:
        return len(self.workers) - len(self.idle)

    async def start(self) -> None:
        async with self.restarting:
            ready = await self.restart_zygote()
        assert self.zygote is not None and self.zygote.process is not None
        graph = private_mib(self.zygote.process.pid)  # before any fork, all of the zygote's is its own
        self.recycle_mib = max(RECYCLE_LEAST_MIB, RECYCLE_SHARE * graph) if graph else 0.0
        started = await asyncio.gather(*(self.spawn() for _ in range(self.size)), return_exceptions=True)
        failures = [result for result in started if isinstance(result, BaseException)]
        for result in started:
            if isinstance(result, Worker):
                self.idle.append(result)
        if failures:
            await self.close()
            error = failures[0]
            raise error if isinstance(error, SpacegraphError) else SpacegraphError(f"cannot start workers: {error}")
        if self.settings.sandbox and not self.settings.network and not ready.sandboxed:
            log.warning("%s workers run without the network sandbox: %s", self.name, ready.note)

    async def restart_zygote(self) -> Ready:
        if self.zygote is not None:
            await self.zygote.close()
        self.zygote = Zygote(self.settings, self.startup_timeout, self.name)
        return await self.zygote.start()

    async def spawn(self) -> Worker:
        """A new worker, forked by the zygote (started again, loading the graph, should it have ended)."""
        async with self.restarting:
            if self.zygote is None or not self.zygote.alive:
                await self.restart_zygote()
        assert self.zygote is not None
        try:
            worker = await self.zygote.fork()
        except (TimeoutError, ConnectionError, OSError) as error:
            raise SpacegraphError(f"a {self.name} worker could not be started: {error}") from None
        self.workers.add(worker)
        self.started += 1
        return worker

    async def run(self, job: Job, timeout: float) -> object:
        """The worker's reply to ``job``; QueryError busy (no worker within ``timeout``), timeout (the
        evaluation took longer: its worker is killed and replaced) or failed (the worker died)."""
        worker = await self.acquire(timeout)
        long = asyncio.get_running_loop().call_later(LONG, self.lower, worker)
        try:
            async with asyncio.timeout(timeout):  # no task of its own, as wait_for makes on Python 3.11
                reply = await worker.call(job)
        except TimeoutError:
            log.warning("a query ran past %g s: its %s worker (pid %d) is killed", timeout, self.name, worker.pid)
            self.replace(worker)
            raise QueryError("timeout", f"the query ran longer than {timeout:g} s, this endpoint's limit") from None
        except (asyncio.IncompleteReadError, ConnectionError):
            code = None
            with contextlib.suppress(TimeoutError):
                code = await asyncio.wait_for(asyncio.shield(worker.exited), 2)
            self.replace(worker)
            raise QueryError("failed", died(code, self.settings.memory_mb)) from None
        except asyncio.CancelledError:
            self.replace(worker)  # the client went away mid-query: its worker's state is unknown
            raise
        finally:
            long.cancel()
        worker.jobs += 1
        was_long = worker.lowered
        if (was_long and not restored(worker)) or worker.grown:
            # at the lowest priority it would evaluate cheap queries slowly; grown, it holds memory a fresh
            # fork from the zygote does not (pages of the graph it has read, copied; its heap's high mark)
            self.workers.discard(worker)
            self.retired += 1
            self.background(self.respawn(worker))
            return reply
        self.release(worker)
        if self.recycle_mib and (was_long or worker.jobs % CHECK_EVERY == 0):
            self.background(self.weigh(worker))
        return reply

    async def weigh(self, worker: Worker) -> None:
        """Replace the worker if it holds more memory of its own than ``recycle_mib`` (looked at after a long
        evaluation and every ``CHECK_EVERY`` jobs; measured at a million triples, a count over the whole
        graph left 584 MiB of the pages the worker shared with the zygote copied into its own). The kernel
        takes ~20 ms to add up a large process's pages: in a thread, while the worker goes on working."""
        if await asyncio.to_thread(private_mib, worker.pid) <= self.recycle_mib or worker not in self.workers:
            return
        if worker not in self.idle:
            worker.grown = True  # busy again: replaced when its job ends
            return
        self.idle.remove(worker)
        self.workers.discard(worker)
        self.retired += 1
        await self.respawn(worker)

    def lower(self, worker: Worker) -> None:
        """A long evaluation: its worker yields the processor to short ones (the server's own work and
        other clients' cheap queries keep their latency beside runaway queries), and, should every worker
        now be busy, a spare one is started for the next client."""
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, worker.pid, LOWERED)
            worker.lowered = True
        if not self.idle and len(self.workers) + self.starting < self.most and not self.closed:
            self.starting += 1
            spawning = asyncio.get_running_loop().create_task(self.spawn())
            spawning.add_done_callback(self.started_one)
            spawning.add_done_callback(self.keep)

    async def acquire(self, timeout: float) -> Worker:
        """An idle worker, a new one if none is idle and there is room, else the next one freed."""
        if self.idle:
            return self.idle.pop()
        if len(self.workers) + self.starting < self.most and not self.closed:
            self.starting += 1
            spawning = asyncio.get_running_loop().create_task(self.spawn())
            spawning.add_done_callback(self.started_one)
            try:
                return await asyncio.shield(spawning)
            except SpacegraphError as error:
                raise QueryError("failed", f"no {self.name} worker could be started: {error}") from None
            except asyncio.CancelledError:  # the job was given up: the new worker joins the idle ones
                spawning.add_done_callback(self.keep)
                raise
        waiter: asyncio.Future[Worker] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await waiter
        except (TimeoutError, asyncio.CancelledError) as error:
            if waiter.done() and not waiter.cancelled():
                self.release(waiter.result())  # handed over just as we stopped waiting
            else:
                waiter.cancel()
            if isinstance(error, TimeoutError):
                message = f"every {self.name} worker has been busy for {timeout:g} s; try again later"
                raise QueryError("busy", message) from None
            raise

    def started_one(self, spawning: asyncio.Task[Worker]) -> None:
        self.starting -= 1
        if not spawning.cancelled():
            spawning.exception()  # seen: it is raised to the job that asked, if it still waits

    def keep(self, spawning: asyncio.Task[Worker]) -> None:
        if not spawning.cancelled() and spawning.exception() is None:
            self.release(spawning.result())

    def release(self, worker: Worker) -> None:
        """A worker done with its job: to the first job waiting, else idle (and retired if it stays so)."""
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        if self.closed:
            self.background(worker.kill())
            return
        worker.idle_since = asyncio.get_running_loop().time()
        self.idle.append(worker)
        if len(self.workers) > self.size:
            asyncio.get_running_loop().call_later(self.idle_seconds, self.retire)

    def retire(self) -> None:
        """Stop the workers beyond ``size`` that have been idle ``idle_seconds``, the longest idle first."""
        now = asyncio.get_running_loop().time()
        while len(self.workers) > self.size and self.idle and now - self.idle[0].idle_since >= self.idle_seconds:
            worker = self.idle.pop(0)
            self.workers.discard(worker)
            self.retired += 1
            self.background(worker.kill())

    def background(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def replace(self, worker: Worker) -> None:
        """Kill the worker now (a runaway query stops burning the processor at once), and replace it."""
        self.workers.discard(worker)
        self.killed += 1
        if not worker.exited.done():
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGKILL)
        self.background(self.respawn(worker))

    async def respawn(self, dead: Worker) -> None:
        """Kill the worker; start another if fewer than ``size`` are left, or jobs wait for one."""
        await dead.kill()
        for attempt in range(5):
            if self.closed or (len(self.workers) + self.starting >= self.size and not self.waiters):
                return
            self.starting += 1
            try:
                worker = await self.spawn()
            except SpacegraphError as error:
                log.error("could not restart a %s worker (attempt %d): %s", self.name, attempt + 1, error)
                await asyncio.sleep(0.5 * (attempt + 1))
                continue
            finally:
                self.starting -= 1
            self.release(worker)
            return

    async def close(self) -> None:
        self.closed = True
        if self.tasks:  # a replacement still being forked is let start, then stopped (respawn sees
            # closed): cancelled half-way, a worker could be left that nothing stops
            await asyncio.wait(list(self.tasks), timeout=CLOSE_GRACE)
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.gather(*(worker.kill() for worker in list(self.workers)))
        self.workers.clear()
        self.idle.clear()
        if self.zygote is not None:
            await self.zygote.close()
