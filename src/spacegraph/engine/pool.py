"""The pool of query worker processes, in the server (the processes themselves: ``workers.py``).

``WorkerPool.run`` hands a job to an idle worker and waits for its reply at most the time limit. When a
query reaches the limit, its process is killed (SIGKILL) and a fresh one is started in the background;
the other processes keep answering meanwhile. This side runs on asyncio; the worker processes import
none of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from spacegraph.engine.workers import HEADER, MAX_FRAME, Failure, Job, QueryError, Ready, Settings
from spacegraph.errors import SpacegraphError

log = logging.getLogger("spacegraph.engine.workers")  # the name it had before the pool had its own module

CLOSE_GRACE = 5.0  # seconds a closing pool waits for a replacement worker to finish starting

# What a worker process runs (``python -m spacegraph.engine.workers`` would execute workers.py twice: once as
# ``__main__``, once as the module whose classes the pickles name).
WORKER_COMMAND = "from spacegraph.engine.workers import serve_forever; serve_forever()"


def died(code: int | None, memory_mb: int | None) -> str:
    if code == -signal.SIGABRT and memory_mb is not None:
        return f"the query needed more memory than an evaluation process may use ({memory_mb} MB)"
    return f"the query's evaluation process died (exit code {code}); it has been replaced"


@dataclass(eq=False)
class Worker:
    process: asyncio.subprocess.Process
    ready: Ready

    async def call(self, job: Job) -> object:
        assert self.process.stdin is not None and self.process.stdout is not None
        payload = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        self.process.stdin.write(HEADER.pack(len(payload)) + payload)
        await self.process.stdin.drain()
        return await receive(self.process.stdout)

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        if self.process.stdin is not None:
            self.process.stdin.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), 10)
        # Read the dead worker's stdout to its end: at EOF asyncio closes the pipe. Left open, it is closed
        # only by the garbage collector, with a ResourceWarning, whenever that happens to run.
        if self.process.stdout is not None:
            with contextlib.suppress(TimeoutError, ConnectionError, asyncio.IncompleteReadError):
                await asyncio.wait_for(self.process.stdout.read(), 5)


async def receive(stream: asyncio.StreamReader) -> object:
    (size,) = HEADER.unpack(await stream.readexactly(HEADER.size))
    if size > MAX_FRAME:
        raise ConnectionError("frame too large")
    message: object = pickle.loads(await stream.readexactly(size))
    return message


@dataclass
class WorkerPool:
    """``size`` worker processes; ``run`` hands a job to an idle one and kills it at the time limit."""

    settings: Settings
    size: int
    startup_timeout: float
    name: str = "query"
    idle: asyncio.Queue[Worker] = field(init=False)
    workers: set[Worker] = field(default_factory=set, init=False)
    respawns: set[asyncio.Task[None]] = field(default_factory=set, init=False)
    killed: int = field(default=0, init=False)
    closed: bool = field(default=False, init=False)

    async def start(self) -> None:
        self.idle = asyncio.Queue()
        started = await asyncio.gather(*(self.spawn() for _ in range(self.size)), return_exceptions=True)
        failures = [result for result in started if isinstance(result, BaseException)]
        for result in started:
            if isinstance(result, Worker):
                self.idle.put_nowait(result)
        if failures:
            await self.close()
            error = failures[0]
            raise error if isinstance(error, SpacegraphError) else SpacegraphError(f"cannot start workers: {error}")
        ready = next(iter(self.workers)).ready
        if self.settings.sandbox and not self.settings.network and not ready.sandboxed:
            log.warning("%s workers run without the network sandbox: %s", self.name, ready.note)

    async def spawn(self) -> Worker:
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])  # src/, holding spacegraph/
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WORKER_COMMAND,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        assert process.stdin is not None and process.stdout is not None
        payload = pickle.dumps(self.settings, protocol=pickle.HIGHEST_PROTOCOL)
        process.stdin.write(HEADER.pack(len(payload)) + payload)
        try:
            await process.stdin.drain()
            reply = await asyncio.wait_for(receive(process.stdout), self.startup_timeout)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as error:
            await Worker(process, Ready(False, None, 0)).kill()
            why = "did not start in time" if isinstance(error, TimeoutError) else "exited while starting"
            raise SpacegraphError(f"a {self.name} worker {why} (exit code {process.returncode})") from None
        except asyncio.CancelledError:  # the pool closes while a replacement starts: it goes too
            await Worker(process, Ready(False, None, 0)).kill()
            raise
        if not isinstance(reply, Ready):
            await Worker(process, Ready(False, None, 0)).kill()
            raise SpacegraphError(reply.message if isinstance(reply, Failure) else "a worker failed to start")
        worker = Worker(process, reply)
        self.workers.add(worker)
        return worker

    async def run(self, job: Job, timeout: float) -> object:
        """The worker's reply to ``job``; QueryError busy (no idle worker within ``timeout``), timeout
        (the evaluation took longer: its worker is killed and replaced) or failed (the worker died)."""
        try:
            worker = await asyncio.wait_for(self.idle.get(), timeout)
        except TimeoutError:
            raise QueryError("busy", f"every query worker has been busy for {timeout:g} s; try again later") from None
        try:
            reply = await asyncio.wait_for(worker.call(job), timeout)
        except TimeoutError:
            log.warning(
                "a query ran past %g s: its %s worker (pid %d) is killed", timeout, self.name, worker.process.pid
            )
            self.replace(worker)
            raise QueryError("timeout", f"the query ran longer than {timeout:g} s, this endpoint's limit") from None
        except (asyncio.IncompleteReadError, ConnectionError):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.process.wait(), 2)
            self.replace(worker)
            raise QueryError("failed", died(worker.process.returncode, self.settings.memory_mb)) from None
        except asyncio.CancelledError:
            self.replace(worker)  # the client went away mid-query: its worker's state is unknown
            raise
        self.idle.put_nowait(worker)
        return reply

    def replace(self, worker: Worker) -> None:
        self.workers.discard(worker)
        self.killed += 1
        task = asyncio.get_running_loop().create_task(self.respawn(worker))
        self.respawns.add(task)
        task.add_done_callback(self.respawns.discard)

    async def respawn(self, dead: Worker) -> None:
        await dead.kill()
        for attempt in range(5):
            if self.closed:
                return
            try:
                worker = await self.spawn()
            except SpacegraphError as error:
                log.error("could not restart a %s worker (attempt %d): %s", self.name, attempt + 1, error)
                await asyncio.sleep(0.5 * (attempt + 1))
                continue
            if self.closed:
                await worker.kill()
                return
            self.idle.put_nowait(worker)
            return

    async def close(self) -> None:
        self.closed = True
        if self.respawns:  # a replacement still starting is let start, then killed (respawn sees closed):
            # cancelled while its process is being created, nothing would stop that process, and on
            # uvloop its pipes keep the event loop from closing
            await asyncio.wait(list(self.respawns), timeout=CLOSE_GRACE)
        for task in list(self.respawns):
            task.cancel()
        for task in list(self.respawns):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.gather(*(worker.kill() for worker in list(self.workers)))
        self.workers.clear()
