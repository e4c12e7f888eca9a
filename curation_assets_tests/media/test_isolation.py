"""run_isolated: a hang, a crash or an exception costs only its own item."""

from __future__ import annotations

import os
import signal
import time

import pytest

from curation_assets.media.isolation import Failed, run_isolated

# The pool uses forkserver: workers import these by module name, so they live at module level.


def work(item: str) -> str:
    """``ok:x`` -> ``x``; the other prefixes misbehave in the ways a hostile file can."""
    kind, _, value = item.partition(":")
    if kind == "hang":
        time.sleep(60)
    elif kind == "exit":
        os._exit(3)
    elif kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif kind == "raise":
        raise ValueError(f"bad item {value}")
    elif kind == "slow":
        time.sleep(float(value))
    return value


def pid(_: object) -> int:
    return os.getpid()


def _timeout(_: object) -> float:
    return 4.0  # generous: CI machines are loaded; a hang still ends in seconds


def _run(items, workers=1):
    results = dict(run_isolated(work, items, _timeout, workers=workers))
    assert sorted(results) == list(range(len(items))), "every item gets exactly one result"
    return results


@pytest.mark.parametrize("workers", [1, 2])
def test_all_good(workers):
    assert _run(["ok:a", "ok:b", "ok:c"], workers) == {0: "a", 1: "b", 2: "c"}


def test_empty():
    assert list(run_isolated(work, [], _timeout)) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_hang_times_out_alone(workers):
    started = time.monotonic()
    results = _run(["ok:a", "hang:", "ok:b", "ok:c"], workers)
    assert results[1] == Failed("timeout", results[1].detail)
    assert "4 s" in results[1].detail
    assert {i: r for i, r in results.items() if i != 1} == {0: "a", 2: "b", 3: "c"}
    assert time.monotonic() - started < 15  # the hung child is killed, not waited for


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("how", ["exit", "kill"])
def test_crash_is_that_item_only(workers, how):
    results = _run(["ok:a", f"{how}:", "ok:b", "ok:c", "ok:d"], workers)
    assert isinstance(results[1], Failed) and results[1].kind == "crashed"
    assert {i: r for i, r in results.items() if i != 1} == {0: "a", 2: "b", 3: "c", 4: "d"}


@pytest.mark.parametrize("workers", [1, 2])
def test_exception_is_an_error(workers):
    results = _run(["raise:x", "ok:b"], workers)
    assert results[0] == Failed("error", "ValueError: bad item x")
    assert results[1] == "b"


def test_everything_at_once():
    items = ["hang:", "ok:a", "kill:", "raise:y", "exit:", "ok:b", "slow:0.2"]
    results = _run(items, workers=2)
    kinds = {i: r.kind for i, r in results.items() if isinstance(r, Failed)}
    assert kinds == {0: "timeout", 2: "crashed", 3: "error", 4: "crashed"}
    assert (results[1], results[5], results[6]) == ("a", "b", "0.2")


def test_work_runs_in_a_child_process():
    results = dict(run_isolated(pid, [None, None], _timeout))
    assert os.getpid() not in results.values()


def test_slow_start_is_not_a_timeout():
    """The first item is not charged for starting the worker (forkserver, preloaded modules)."""
    results = _run(["slow:1.0", "slow:1.0"])
    assert results == {0: "1.0", 1: "1.0"}


def test_workers_that_cannot_start_raise_instead_of_blaming_the_items(monkeypatch) -> None:
    from curation_assets.media import isolation

    monkeypatch.setattr(isolation, "_ready", _explode_on_start)
    with pytest.raises(isolation.WorkerStartError, match="could not start"):
        list(isolation.run_isolated(_identity_for_start_test, [1, 2], lambda _: 5.0))


def _explode_on_start() -> None:
    raise OSError("no processes left")


def _identity_for_start_test(x):
    return x


def test_costliest_items_start_first():
    """One worker runs items in submission order: by cost, largest first, ties as given."""
    items = ["ok:short", "ok:long", "ok:mid", "ok:also-mid"]
    cost = {"ok:short": 1.0, "ok:long": 9.0, "ok:mid": 5.0, "ok:also-mid": 5.0}
    order = [i for i, _ in run_isolated(work, items, _timeout, workers=1, cost=cost.__getitem__)]
    assert order == [1, 2, 3, 0]
