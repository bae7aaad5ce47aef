"""The executor seam (des_supply.executors): the same numbers on every executor.

Serial and processes tests always run; the Ray ones run on one local 2-CPU cluster per
module and skip where Ray is not installed (``pip install 'des-supply[ray]'``).
"""

from __future__ import annotations

import argparse
import inspect
import sys
from functools import partial

import cloudpickle
import numpy as np
import pytest
from conftest import single
from networks import TINY_SEARCH, two_echelon
from ray_cluster import ray_cluster_fixture  # noqa: F401  (the module's Ray cluster)

from des_supply import BaseStock, Poisson, Simulation
from des_supply.evaluate import simulate
from des_supply.executors import (
    BACKENDS,
    ProcessExecutor,
    SerialExecutor,
    add_backend_arguments,
    chunks,
    executor_from_args,
    make_executor,
    use_executor,
)
from des_supply.problem import as_problem
from des_supply.rng import replication_seed
from optimization.search import search_base_stock

# Workers cannot import this test module by name: send its functions by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

NET = single(demand=Poisson(4), lead_time=2, initial_on_hand=10, shortage_cost=9)
PERIODS, WARMUP, SEED = 150, 20, 3


def replication(k: int) -> float:
    """Replication k of ``simulate(NET, BaseStock(14), seed=SEED)``, as one task."""
    problem = as_problem(NET)
    ledger = Simulation(
        problem.network, PERIODS, replication_seed(SEED, k), problem.new_market()
    ).run(BaseStock(14))
    return float(ledger.objective_series()[WARMUP:].mean())


def level_cost(level: float) -> float:
    """One candidate of a base-stock grid search (common random numbers: seed 7)."""
    return simulate(
        NET, BaseStock(level), periods=PERIODS, warmup=WARMUP, replications=2, seed=7
    ).mean


def grid_search(executor) -> tuple[float, list[float]]:
    levels = [8.0, 10.0, 12.0, 14.0, 16.0, 18.0]
    costs = executor.map(level_cost, levels)
    return levels[int(np.argmin(costs))], costs


def fails_on_two(x: int) -> int:
    if x == 2:
        raise ValueError(f"level {x} is not allowed")
    return x


def _check_executor(executor) -> None:
    """Replications equal simulate's, a grid search equals the serial one, errors are the
    task's own."""
    reference = simulate(
        NET, BaseStock(14), periods=PERIODS, warmup=WARMUP, replications=5, seed=SEED
    )
    seen: list[int] = []
    values = executor.map(replication, range(5), on_result=lambda i, _: seen.append(i))
    assert np.array_equal(values, reference.per_replication)  # bit for bit
    assert sorted(seen) == list(range(5))
    assert grid_search(executor) == grid_search(SerialExecutor())
    with pytest.raises(ValueError, match="level 2 is not allowed") as info:
        executor.map(fails_on_two, [0, 1, 2, 3])
    assert any("task 2 (2)" in note for note in info.value.__notes__)
    assert executor.map(fails_on_two, []) == []


def test_serial_executor() -> None:
    _check_executor(SerialExecutor())


def test_process_executor_reuses_its_pool_and_sends_closures() -> None:
    with ProcessExecutor(workers=2) as ex:
        _check_executor(ex)
        pool = ex._pool
        offset = 5
        assert ex.map(lambda x: x + offset, [1, 2]) == [6, 7]  # a closure travels
        assert ex._pool is pool  # one pool for every map
    assert ex._pool is None


def _wait_for(path_and_value: tuple[str, float]) -> float:
    """Task: return *value* once the file *path* exists (task 0 returns at once)."""
    import os
    import time

    path, value = path_and_value
    deadline = time.monotonic() + 60
    while path and not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared: on_result came only after every task")
        time.sleep(0.01)
    return value


def test_process_executor_reports_each_result_as_it_finishes(tmp_path) -> None:
    """``on_result`` runs as each task finishes, not once all have (progress bars move; the
    command wakes to see a Ctrl-C): task 1 finishes only after task 0's on_result ran."""
    flag = tmp_path / "task-0-reported"
    seen: list[int] = []

    def on_result(i: int, value: float) -> None:
        seen.append(i)
        if i == 0:
            flag.touch()

    with ProcessExecutor(workers=2) as ex:
        assert ex.map(_wait_for, [("", 1.0), (str(flag), 2.0)], on_result=on_result) == [1.0, 2.0]
    assert seen == [0, 1]


def test_make_executor_and_cli_options() -> None:
    assert isinstance(make_executor("serial"), SerialExecutor)
    assert make_executor("processes", workers=3).workers == 3
    with pytest.raises(ValueError, match="unknown backend 'dask'.*serial, processes, ray"):
        make_executor("dask")
    with pytest.raises(ValueError, match="address .* ray backend, not 'processes'"):
        make_executor("processes", address="auto")
    with pytest.raises(ValueError, match=r"workers\(=0\) must be >= 1"):
        make_executor("processes", workers=0)
    with pytest.raises(ValueError, match="sizes a local Ray cluster"):
        make_executor("ray", workers=2, address="auto")  # refused before Ray is imported
    parser = argparse.ArgumentParser()
    add_backend_arguments(parser)
    args = parser.parse_args(["--backend", "processes", "--workers", "2"])
    assert executor_from_args(args).workers == 2
    with pytest.raises(ValueError, match="--address applies to --backend ray"):
        executor_from_args(parser.parse_args(["--address", "auto"]))
    parser.add_argument("--processes", type=int, default=1)  # the older option
    assert executor_from_args(parser.parse_args(["--processes", "3"])).workers == 3
    assert isinstance(executor_from_args(parser.parse_args([])), SerialExecutor)
    with pytest.raises(ValueError, match="--processes 2 is --backend processes --workers 2"):
        executor_from_args(parser.parse_args(["--processes", "2", "--backend", "ray"]))
    assert set(BACKENDS) == {"serial", "processes", "ray"}


def test_use_executor_keeps_a_callers_executor_open() -> None:
    ex = ProcessExecutor(2)
    with use_executor(ex, processes=8) as got:
        assert got is ex
        got.map(abs, [-1])
    assert ex._pool is not None  # the caller's: not closed here
    ex.close()
    with use_executor(None, processes=1) as got:
        assert isinstance(got, SerialExecutor)
    with use_executor(None, processes=2) as got:
        assert isinstance(got, ProcessExecutor) and got.workers == 2


def test_chunks() -> None:
    assert chunks(10, 3) == [range(0, 3), range(3, 6), range(6, 10)]
    assert chunks(2, 5) == [range(0, 1), range(1, 2)]
    assert chunks(0, 4) == []
    with pytest.raises(ValueError, match="parts >= 1"):
        chunks(3, 0)


# -- the studies that take an executor ------------------------------------------------------------
def wired(fn) -> pytest.MarkDecorator:
    """Skip until *fn* takes ``executor=`` (the lead wires the seam into the studies)."""
    return pytest.mark.skipif(
        "executor" not in inspect.signature(fn).parameters,
        reason=f"{fn.__module__}.{fn.__name__} takes no executor yet",
    )


def studies(executor) -> list:
    """Event-engine and batch-engine replications and a base-stock search on *executor*."""
    event = simulate(
        NET,
        BaseStock(14),
        periods=PERIODS,
        warmup=WARMUP,
        replications=5,
        seed=SEED,
        executor=executor,
    )
    batch = simulate(
        two_echelon(),
        BaseStock({"dc": 30.0, "a": 12.0, "b": 16.0}),
        periods=PERIODS,
        warmup=WARMUP,
        replications=20,
        seed=SEED,
        executor=executor,
    )
    found = [
        search_base_stock(two_echelon(), **{**TINY_SEARCH, "replications": r}, executor=executor)
        for r in (6, 1)
    ]  # 3 candidates x 6: batch engine chunks; x 1: side by side
    return [event.to_dict(), batch.to_dict(), *((f.levels, f.value, f.evaluations) for f in found)]


@wired(simulate)
@wired(search_base_stock)
def test_simulate_and_search_on_processes() -> None:
    with ProcessExecutor(2) as ex:
        assert studies(ex) == studies(SerialExecutor())


# -- Ray ------------------------------------------------------------------------------------------
@wired(simulate)
@wired(search_base_stock)
def test_simulate_and_search_on_ray(ray_cluster) -> None:
    with make_executor("ray") as ex:
        assert studies(ex) == studies(SerialExecutor())


def test_ray_executor_matches_serial(ray_cluster) -> None:
    ray_cluster.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Ray's cloudpickle
    ex = make_executor("ray")
    _check_executor(ex)
    assert ex.workers == 2
    assert ex.map(abs, range(-200, 0)) == list(range(200, 0, -1))  # waited for in slices
    ex.close()
    assert ray_cluster.is_initialized()  # a cluster it did not start stays up
    with pytest.raises(ZeroDivisionError) as info:
        ex.map(partial(divmod, 1), [1, 0])
    assert "raised by task 1 (0) on a Ray worker" in info.value.__notes__[-1]
