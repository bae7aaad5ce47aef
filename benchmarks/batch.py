"""Batch engine speed: replication-periods per second against baselines measured in the same run.

Contenders, on two systems of the same model (backlog, order-before-demand,
Poisson(5) demand, deterministic lead time 2, installation base-stock, whole units):

* ``single stage``: one stocking node fed by an unlimited supplier, S = 18,
  holding 1, penalty 9, 15 units on hand at the start;
* ``serial chain``: three stages in a line, demand at the last, levels 12, 12, 14,
  holding 1 everywhere, penalty 9 at the last stage.

(a) ``event``: the event engine, ``Simulation(net, T, seed).run(policy)`` once per
    replication (few replications: its rate does not depend on R);
(b) ``batch``: the batch engine, ``BatchSimulation(net, T, seeds).run(policy)``
    (R replications in lockstep; its draws come from R separate streams, as the
    event engine's);
(c) ``hand loop``: a hand-written numpy lockstep loop of the same model, state as
    [R] arrays (per stage for the chain), demand from one generator per period.

Before timing, the hand loops are run on the batch engine's own demand draws and
must give the same cost per replication (they are the same model).  Then the
vector env: env steps per second of :class:`rl.vector_env.BatchVectorEnv` (N envs
in lockstep) and of ``rl.wrappers.make_vector_env`` (N event-engine envs in a
``SyncVectorEnv``), against one :class:`rl.env.InventoryEnv`.

Every contender is timed K times, repetitions interleaved round robin (a change in
machine load hits all alike); the table shows medians and ratios of medians.

Usage::

    python benchmarks/batch.py                 # R = 1024, T = 1000, 5 repeats
    python benchmarks/batch.py --quick         # R = 256, T = 300, 3 repeats
    python benchmarks/batch.py --json benchmarks/results/batch.json
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# run as a script: benchmarks/ itself must not come first (benchmarks/rl.py would shadow rl)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from des_supply import BaseStock, Edge, Network, Node, Poisson, Simulation  # noqa: E402
from des_supply.batch import BatchSimulation  # noqa: E402
from des_supply.rng import replication_seed  # noqa: E402

TARGET = 0.3  # batch engine >= 0.3x the hand loop (issue 15)
MEAN, LEAD = 5.0, 2


def single_stage() -> tuple[Network, list[float]]:
    net = Network(
        (
            Node("plant", kind="supply"),
            Node(
                "stage", holding_cost=1, shortage_cost=9, initial_on_hand=15, demand=Poisson(MEAN)
            ),
        ),
        (Edge("plant", "stage", lead_time=LEAD),),
        name="single-stage",
    )
    return net, [18.0]


def serial_chain() -> tuple[Network, list[float]]:
    names = ["s1", "s2", "s3"]
    nodes = [Node("plant", kind="supply")]
    for k, n in enumerate(names):
        last = k == len(names) - 1
        nodes.append(
            Node(
                n,
                holding_cost=1,
                shortage_cost=9 if last else 0,
                initial_on_hand=10,
                demand=Poisson(MEAN) if last else None,
            )
        )
    edges = [Edge(a, b, lead_time=LEAD) for a, b in zip(["plant", *names], names)]
    return Network(tuple(nodes), tuple(edges), name="serial-3"), [12.0, 12.0, 14.0]


def hand_loop(
    net: Network, levels: list[float], R: int, T: int, demand: Callable[[int], np.ndarray]
) -> np.ndarray:
    """The model by hand: stages in a line (stage 0 fed by an unlimited supplier), base-stock
    orders placed downstream first on the positions before any order, lead time LEAD,
    backlogs filled first come first served.  Returns the total cost per replication."""
    stock = net.stock_nodes
    K, H = len(stock), LEAD + 1
    h = np.array([n.holding_cost for n in stock])[:, None]
    p = np.array([n.shortage_cost for n in stock])[:, None]
    S = np.array(levels)[:, None]
    on_hand = np.array([n.initial_on_hand for n in stock])[:, None].repeat(R, 1)
    backlog = np.zeros((K, R))  # owed by stage k (to stage k+1, or to customers at the last)
    transit = np.zeros((K, R))  # on the way to stage k
    pending = np.zeros((K, R))  # ordered by stage k, backlogged at stage k-1
    pipe = np.zeros((H, K, R))
    total = np.zeros(R)
    for t in range(T):
        arrived = pipe[t % H].copy()
        pipe[t % H] = 0.0
        transit -= arrived
        due = (t + LEAD) % H
        for k in range(K):  # receive, fill the backlog, ship it on
            x = np.minimum(arrived[k], backlog[k])
            backlog[k] -= x
            on_hand[k] += arrived[k] - x
            if k + 1 < K:
                pending[k + 1] -= x
                transit[k + 1] += x
                pipe[due, k + 1] += x
        q = np.maximum(0.0, S - (on_hand - backlog + transit + pending))
        for k in range(K - 1, -1, -1):  # orders, downstream first
            if k == 0:
                x = q[0]
            else:
                x = np.where(backlog[k - 1] > 0, 0.0, np.minimum(q[k], on_hand[k - 1]))
                on_hand[k - 1] -= x
                backlog[k - 1] += q[k] - x
                pending[k] += q[k] - x
            transit[k] += x
            pipe[due, k] += x
        d = demand(t)  # demand at the last stage
        x = np.where(backlog[-1] > 0, 0.0, np.minimum(d, on_hand[-1]))
        on_hand[-1] -= x
        backlog[-1] += d - x
        total += (h * on_hand + p * backlog).sum(axis=0)
    return total


def check_hand_loop(net: Network, levels: list[float], R: int, T: int) -> bool:
    """The hand loop on the batch engine's draws gives the batch engine's costs."""
    sim = BatchSimulation(net, T, [replication_seed(0, k) for k in range(R)])
    name = net.stock_nodes[-1].name
    draws = []

    class Record:
        def act_batch(self, s: BatchSimulation) -> np.ndarray:
            draws.append(None)
            return np.maximum(0.0, np.array(levels) - s.inventory_position())

    run = sim.run(Record(), record=True)
    engine = np.array([ledger.cost().sum() for ledger in run.ledgers])
    demand = np.stack([ledger.column("demand", name) for ledger in run.ledgers], axis=1)
    hand = hand_loop(net, levels, R, T, lambda t: demand[t])
    return bool(np.allclose(engine, hand, rtol=1e-12))


def contenders(
    net: Network, levels: list[float], R: int, R_event: int, T: int
) -> dict[str, tuple[Callable[[], Any], int]]:
    """name -> (a timed run, replication-periods it simulates)."""
    policy = BaseStock({n.name: v for n, v in zip(net.stock_nodes, levels)})

    def event() -> None:
        for k in range(R_event):
            Simulation(net, T, replication_seed(1, k)).run(policy)

    def batch() -> None:
        BatchSimulation(net, T, [replication_seed(1, k) for k in range(R)]).run(policy)

    def hand() -> None:
        rng = np.random.default_rng(1)
        hand_loop(net, levels, R, T, lambda t: rng.poisson(MEAN, R).astype(float))

    return {"event": (event, R_event * T), "batch": (batch, R * T), "hand loop": (hand, R * T)}


def env_contenders(N: int, steps: int) -> dict[str, tuple[Callable[[], Any], int]]:
    import scenarios
    from rl.env import make_env
    from rl.vector_env import BatchVectorEnv
    from rl.wrappers import make_vector_env

    problem = scenarios.make("single-stage")

    def one() -> None:
        env = make_env(problem, periods=100)
        env.reset(seed=0)
        a = np.zeros(1, np.float32)
        for _ in range(steps):
            if env.step(a)[3]:
                env.reset()

    def batch() -> None:
        venv = BatchVectorEnv(problem, N, seed=0, periods=100)
        venv.reset()
        a = np.zeros((N, 1), np.float32)
        for _ in range(steps):
            venv.step(a)

    def sync() -> None:
        venv = make_vector_env(problem, 8, seed=0, periods=100)
        venv.reset()
        a = np.zeros((8, 1), np.float32)
        for _ in range(steps // 8):
            venv.step(a)
        venv.close()

    return {
        "one env": (one, steps),
        f"batch vector env (N={N})": (batch, steps * N),
        "sync vector env (N=8)": (sync, (steps // 8) * 8),
    }


def measure(
    cases: dict[str, tuple[Callable[[], Any], int]], repeats: int
) -> dict[str, dict[str, Any]]:
    """Median seconds and rate of each case over *repeats* interleaved repetitions."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, (run, _) in cases.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {
        name: {
            "median_s": statistics.median(times[name]),
            "work": cases[name][1],
            "rate": cases[name][1] / statistics.median(times[name]),
            "times_s": times[name],
        }
        for name in cases
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    ap.add_argument("--quick", action="store_true", help="R = 256, T = 300, 3 repeats")
    ap.add_argument("--replications", type=int, help="R of the batch engine and the hand loop")
    ap.add_argument("--periods", type=int, help="T")
    ap.add_argument("--repeats", type=int, help="interleaved repetitions (median kept)")
    args = ap.parse_args(argv)
    R = args.replications or (256 if args.quick else 1024)
    T = args.periods or (300 if args.quick else 1000)
    repeats = args.repeats or (3 if args.quick else 5)
    for what, v in (("replications", R), ("periods", T), ("repeats", repeats)):
        if v < 1:
            print(f"error: --{what} must be >= 1", file=sys.stderr)
            return 2
    import gymnasium

    info = {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "gymnasium": gymnasium.__version__,
        "cpus": os.cpu_count(),
        "load": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "replications": R,
        "periods": T,
        "repeats": repeats,
    }
    print(f"des-supply batch benchmark: R = {R}, T = {T}, median of {repeats} interleaved repeats")
    print(
        f"python {info['python']}, numpy {info['numpy']}, gymnasium {info['gymnasium']}, "
        f"{info['cpus']} cpus, load {info['load'][0]:.2f}"
        if info["load"]
        else ""
    )
    systems = {"single stage": single_stage(), "serial chain (3)": serial_chain()}
    results: dict[str, Any] = {"info": info, "systems": {}, "env": {}}
    print(
        f"\n{'system':<18}{'contender':<12}{'median s':>10}{'rep-periods/s':>15}"
        f"{'vs hand':>9}{'vs event':>10}"
    )
    met = True
    for name, (net, levels) in systems.items():
        same = check_hand_loop(net, levels, 64, 200)
        rows = measure(contenders(net, levels, R, max(2, R // 128), T), repeats)
        hand, event = rows["hand loop"]["rate"], rows["event"]["rate"]
        for who, row in rows.items():
            row["vs_hand"], row["vs_event"] = row["rate"] / hand, row["rate"] / event
            print(
                f"{name:<18}{who:<12}{row['median_s']:>10.3f}{row['rate']:>15,.0f}"
                f"{row['vs_hand']:>8.2f}x{row['vs_event']:>9.1f}x"
            )
        met &= rows["batch"]["vs_hand"] >= TARGET
        results["systems"][name] = {"hand_loop_checked": same, **rows}
        if not same:
            print(f"  WARNING: the hand loop does not reproduce the batch engine's costs on {name}")
    steps = 2000 if args.quick else 5000
    rows = measure(env_contenders(64, steps), repeats)
    base = rows["one env"]["rate"]
    print(f"\n{'env':<28}{'median s':>10}{'env steps/s':>14}{'vs one env':>12}")
    for who, row in rows.items():
        row["vs_one_env"] = row["rate"] / base
        print(f"{who:<28}{row['median_s']:>10.3f}{row['rate']:>14,.0f}{row['vs_one_env']:>11.1f}x")
    results["env"] = rows
    results["target"] = {"batch_vs_hand": TARGET, "met": met}
    print(
        f"\nTarget: batch engine >= {TARGET}x the hand loop on both systems: "
        f"{'met' if met else 'NOT MET'}"
        + (
            ""
            if (R, T) == (1024, 1000)
            else f" (at R = {R}, T = {T}; the target is stated for R = 1024, T = 1000, where the "
            "fixed cost of R random streams weighs less)"
        )
    )
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
