"""Run per-file work in child processes so a hostile file can hang or crash only its child.

The shard goes on: a call that times out or kills its worker becomes a ``Failed`` result for
that item alone, the pool is rebuilt, and the other items are resubmitted.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Failed:
    """Why an isolated call produced no result."""

    kind: str  # "timeout" | "crashed" | "error"
    detail: str


# Modules the forkserver imports once, so each worker starts with them (its users add theirs:
# ``signals/runner.py`` adds the analyzer modules).
PRELOAD = [
    "curation_assets.media.probe",
    "curation_assets.media.decode",
    "curation_assets.signals.runner",
]


def preload(*modules: str) -> None:
    """Have the forkserver import these too (before its first worker starts in this process)."""
    PRELOAD.extend(m for m in modules if m not in PRELOAD)


def _context() -> mp.context.BaseContext:
    # forkserver: cheap restarts, and children never inherit the threads of a Dagster process.
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(list(PRELOAD))
    return ctx


# Starting workers (the forkserver and its preloads the first time) can take seconds on a busy
# machine; that must not be charged to the first item's timeout.
_STARTUP_TIMEOUT_S = 120.0


def _ready() -> None:
    """A no-op run once per worker before any item, so item clocks start on a live worker."""


class WorkerStartError(RuntimeError):
    """Worker processes could not start: a problem of this machine, not of any input file."""


def _start(workers: int) -> ProcessPoolExecutor:
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_context())
    warmups = [pool.submit(_ready) for _ in range(workers)]
    done, _ = wait(warmups, timeout=_STARTUP_TIMEOUT_S)
    problem = None
    if len(done) < len(warmups):
        problem = f"not started within {_STARTUP_TIMEOUT_S:g} s"
    else:
        errors = [f.exception() for f in done if f.exception() is not None]
        problem = f"{type(errors[0]).__name__}: {errors[0]}" if errors else None
    if problem:
        # Recording every file as "crashed" here would blame the inputs for a setup fault.
        _kill(pool)
        raise WorkerStartError(f"worker processes could not start ({problem})")
    return pool


def _kill(pool: ProcessPoolExecutor) -> None:
    for proc in list(getattr(pool, "_processes", {}).values()):
        if proc.is_alive():
            proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def run_isolated(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    timeout_s: Callable[[Any], float],
    workers: int = 1,
    cost: Callable[[Any], float] | None = None,
) -> Iterator[tuple[int, Any | Failed]]:
    """Yield ``(index, result or Failed)`` for every item, in completion order.

    With ``cost`` (e.g. seconds of video), the costliest items start first, so a long video is
    not left running alone on one core at the end while the others sit idle."""
    pending = list(range(len(items)))
    if cost is not None:
        pending.sort(key=lambda i: -cost(items[i]))  # stable: ties keep their order
    suspects: set[int] = set()  # items in flight when a worker died; retried one at a time
    while pending:
        solo = [i for i in pending if i in suspects]
        batch = solo[:1] if solo else pending
        width = 1 if solo else max(1, min(workers, len(batch)))
        pool = _start(width)
        futures: dict[Future, int] = {}
        started: dict[Future, float] = {}
        queue = list(batch)
        broken = crashed = False
        try:
            while queue or futures:
                while queue and len(futures) < width:
                    index = queue.pop(0)
                    future = pool.submit(fn, items[index])
                    futures[future] = index
                    started[future] = time.monotonic()
                deadline = min(started[f] + timeout_s(items[futures[f]]) for f in futures)
                done, _ = wait(
                    futures,
                    timeout=max(0.0, deadline - time.monotonic()),
                    return_when=FIRST_COMPLETED,
                )
                if not done:
                    now = time.monotonic()
                    late = [f for f in futures if now >= started[f] + timeout_s(items[futures[f]])]
                    for future in late:
                        index = futures.pop(future)
                        pending.remove(index)
                        limit = timeout_s(items[index])
                        yield index, Failed("timeout", f"no result within {limit:g} s")
                    broken = True  # the hung child must die; the rest are resubmitted
                    break
                for future in done:
                    index = futures.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        if solo:
                            pending.remove(index)
                            yield index, Failed("crashed", "worker process died")
                        else:
                            suspects.add(index)
                        broken = crashed = True
                        continue
                    except Exception as exc:  # noqa: BLE001 - recorded per item, shard goes on
                        pending.remove(index)
                        yield index, Failed("error", f"{type(exc).__name__}: {exc}"[:500])
                        continue
                    pending.remove(index)
                    yield index, result
                if broken:
                    if crashed:  # any child still in flight may be the one that died
                        suspects.update(futures.values())
                    break
        finally:
            _kill(pool)
