"""Executor overheads: one call of R replications on serial, a fresh pool, a reused pool, Ray.

Each call maps the same R independent replications (event engine, single stage, Poisson(5)
demand, lead time 2, base stock 18, T periods; replication k on seed k) through:

(a) ``serial``: :class:`des_supply.executors.SerialExecutor` (the baseline);
(b) ``fresh pool``: a new ``ProcessPoolExecutor`` per call, what ``simulate(processes=N)``
    does today (start-up paid on every call);
(c) ``reused pool``: one :class:`~des_supply.executors.ProcessExecutor` for every call;
(d) ``ray``: one :class:`~des_supply.executors.RayExecutor` on a local cluster (if Ray is
    installed; its start-up is reported apart).

All give the same numbers (checked before timing).  Calls are repeated K times,
interleaved round robin; the table shows medians and ratios of medians to serial.

Usage::

    python benchmarks/executors.py                 # R = 8, T = 1000, 2 workers, 7 repeats
    python benchmarks/executors.py --quick         # R = 4, T = 300, 3 repeats
    python benchmarks/executors.py --json benchmarks/results/executors.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# run as a script: benchmarks/ itself must not come first (benchmarks/rl.py would shadow rl)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from des_supply import BaseStock, Edge, Network, Node, Poisson  # noqa: E402
from des_supply.evaluate import simulate  # noqa: E402
from des_supply.executors import ProcessExecutor, RayExecutor, SerialExecutor  # noqa: E402

NET = Network(
    nodes=(
        Node("plant", kind="supply"),
        Node("store", holding_cost=1.0, shortage_cost=9.0, demand=Poisson(5), initial_on_hand=15.0),
    ),
    edges=(Edge("plant", "store", lead_time=2),),
    name="single",
)


def replication(periods: int, k: int) -> float:
    """One replication's mean cost per period (seed k)."""
    return simulate(NET, BaseStock(18), periods=periods, replications=1, seed=k).mean


def fresh_pool(workers: int, fn: Callable[[int], float], tasks: list[int]) -> list[float]:
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, tasks))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    reps, periods, repeats = (4, 300, 3) if args.quick else (8, 1000, 7)
    fn = partial(replication, periods)
    tasks = list(range(reps))
    serial, reused = SerialExecutor(), ProcessExecutor(args.workers)
    contenders: dict[str, Callable[[], list[float]]] = {
        "serial": lambda: serial.map(fn, tasks),
        "fresh pool": lambda: fresh_pool(args.workers, fn, tasks),
        "reused pool": lambda: reused.map(fn, tasks),
    }
    ray_start = None
    try:
        import ray

        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
        t0 = time.perf_counter()
        ray_ex = RayExecutor(args.workers)
        ray_ex.map(abs, [0])
        ray_start = time.perf_counter() - t0
        contenders["ray"] = lambda: ray_ex.map(fn, tasks)
    except ImportError:
        ray_ex = None
    reference = contenders["serial"]()
    for name, run in contenders.items():
        if run() != reference:
            raise SystemExit(f"{name} gives other numbers than serial")
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    reused.close()
    if ray_ex is not None:
        ray_ex.close()
    base = statistics.median(times["serial"])
    rows = [
        {
            "contender": n,
            "median_s": statistics.median(t),
            "ratio_to_serial": statistics.median(t) / base,
        }
        for n, t in times.items()
    ]
    print(
        f"R = {reps} replications of T = {periods} periods per call, {args.workers} workers, "
        f"{repeats} interleaved repeats ({platform.node()})"
    )
    print(f"{'contender':<14}{'median [ms]':>12}{'x serial':>10}")
    for r in rows:
        print(f"{r['contender']:<14}{1000 * r['median_s']:>12.1f}{r['ratio_to_serial']:>10.2f}")
    if ray_start is not None:
        print(f"ray local cluster start-up (once): {ray_start:.1f} s")
    out = {
        "replications": reps,
        "periods": periods,
        "workers": args.workers,
        "repeats": repeats,
        "rows": rows,
        "ray_startup_s": ray_start,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
