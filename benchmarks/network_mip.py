"""Network MIP speed: perfect-information solve time by network size and horizon, and
rolling-horizon (MPC) time per epoch.

Perfect information (``optimization.network_mip.perfect_information_bound``): the
engine's own demand and lead-time draws for ``--seed`` over T periods, solved by
HiGHS (1 thread, ``--time-limit`` seconds, relative gap 1e-6) with the engine's
rules enforced (``exact=True``) and as the plain relaxation (``exact=False``).
Reported: build and solve wall seconds, termination, gap, model size, the bound
per period, and whether the plan replayed in the engine costs exactly the MIP
objective ("replay ==": expected on single-stage and serial; owmr and random-dag
relax first-come-first-served allocation and split/priority sourcing, so there
it may differ, never below the bound).

Rolling horizon (``RollingHorizonPolicy``): the model is built once, each epoch
updates mutable Params and re-solves the persistent HiGHS instance; the table
gives mean / median / max seconds per epoch over ``--epochs`` epochs (first
epoch included), next to the time of building and solving a fresh model for the
same data (what a non-persistent implementation would pay per epoch), and the
mean cost per period of the run.

Cases: single-stage (backlog, L=2), serial (Snyder & Shen Ex. 6.1), owmr with 3
and 10 retailers, random-dag with 20 stocking nodes; T in 26, 52, 104.

Usage::

    python benchmarks/network_mip.py                       # all cases, T = 26, 52, 104
    python benchmarks/network_mip.py --quick               # T = 26 and 52, 12 MPC epochs
    python benchmarks/network_mip.py --json benchmarks/results/network_mip.json
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
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pyomo

import scenarios
from des_supply.sim import Simulation
from optimization.network_mip import (
    PlanPolicy,
    RollingHorizonPolicy,
    build_network_model,
    longest_lead_path,
    perfect_information_bound,
    state_from_observation,
)
from optimization.solve import solve

CASES = (
    ("single-stage", {"shortage": "backlog"}),
    ("serial", {}),
    ("owmr", {"n_retailers": 3}),
    ("owmr", {"n_retailers": 10}),
    ("random-dag", {"n_nodes": 20}),
)


def label(name: str, params: dict[str, Any]) -> str:
    return name + "".join(f" {k}={v}" for k, v in params.items() if k != "shortage")


def perfect_information(
    net, periods: int, seed: int, exact: bool, time_limit: float
) -> dict[str, Any]:
    b = perfect_information_bound(net, periods, seed=seed, exact=exact, time_limit=time_limit)
    replay = float(Simulation(net, periods, seed).run(PlanPolicy(b.orders)).cost().sum())
    return {
        "exact": exact,
        "build_s": b.build_time,
        "solve_s": b.time,
        "termination": b.termination,
        "gap": b.gap,
        "bound": b.bound,
        "objective": b.objective,
        "bound_per_period": b.per_period_bound,
        "replay_cost": replay,
        "replay_equal": abs(replay - b.objective) <= 1e-6 * max(1.0, abs(replay)),
        "size": b.size,
    }


class _Timed(RollingHorizonPolicy):
    """Also times, on every ``fresh_every``-th epoch, a fresh build + solve of the same data."""

    fresh_every = 4

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fresh_times: list[float] = []

    def act(self, obs: Any) -> dict[str, float]:
        out = super().act(obs)
        if obs.t % self.fresh_every == 0:
            tick = time.perf_counter()
            S = self._S
            state = state_from_observation(
                self.network, obs, S, self.leads, self._look, self._capacity_left(obs.t)
            )
            m = build_network_model(
                self.network,
                self._demand(obs.t),
                self.leads,
                self.horizon,
                state,
                integer=S.integer,
                exact=S.exact,
                start=obs.t,
            )
            solve(m, **self.solve_options)
            self.fresh_times.append(time.perf_counter() - tick)
        return out


def rolling_horizon(net, epochs: int, seed: int) -> dict[str, Any]:
    window = max(12, longest_lead_path(net) + 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pol = _Timed(net, window, safety_stock="auto")
    tick = time.perf_counter()
    ledger = Simulation(net, epochs, seed).run(pol)
    wall = time.perf_counter() - tick
    t = pol.epoch_times
    return {
        "window": window,
        "epochs": len(t),
        "build_s": pol.build_time,
        "mean_s": statistics.fmean(t),
        "median_s": statistics.median(t),
        "max_s": max(t),
        "fresh_build_solve_s": statistics.fmean(pol.fresh_times),
        "run_s": wall,
        "mean_cost": float(ledger.cost().mean()),
        "terminations": pol.terminations,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    ap.add_argument("--quick", action="store_true", help="T = 26 and 52 only, 12 MPC epochs")
    ap.add_argument("--horizons", type=int, nargs="+", help="horizons T (default 26 52 104)")
    ap.add_argument("--epochs", type=int, help="MPC epochs per case (default 52; quick 12)")
    ap.add_argument("--time-limit", type=float, default=120.0, help="seconds per MIP solve")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    horizons = args.horizons or ([26, 52] if args.quick else [26, 52, 104])
    epochs = args.epochs or (12 if args.quick else 52)
    info = {
        "python": platform.python_version(),
        "pyomo": pyomo.version.version,
        "highspy": version("highspy"),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
    }
    print(f"network MIP benchmark: seed {args.seed}, time limit {args.time_limit:g}s, 1 thread")
    print(
        f"python {info['python']}, pyomo {info['pyomo']}, highspy {info['highspy']}, "
        f"{info['platform']}, {info['cpu_count']} CPUs, {info['date']}"
    )

    rows: list[dict[str, Any]] = []
    print("\nPerfect information (exact = engine rules as binaries; relaxed = without them)")
    print(
        f"{'case':<26}{'T':>5}{'mode':>8}{'build s':>9}{'solve s':>9}{'bin':>6}{'int':>6}"
        f"{'cont':>7}{'cons':>7}  {'termination':<29}{'gap':>9}{'bound/T':>10}  replay =="
    )
    for name, params in CASES:
        net = scenarios.make(name, **params).network
        for T in horizons:
            for exact in (True, False):
                r = perfect_information(net, T, args.seed, exact, args.time_limit)
                r.update(case=label(name, params), scenario=name, params=params, periods=T)
                rows.append(r)
                sz = r["size"]
                gap = "n/a" if r["gap"] is None else f"{100 * r['gap']:.2g}%"
                mode = "exact" if exact else "relaxed"
                print(
                    f"{r['case']:<26}{T:>5}{mode:>8}"
                    f"{r['build_s']:>9.2f}{r['solve_s']:>9.2f}{sz['binary']:>6}{sz['integer']:>6}"
                    f"{sz['continuous']:>7}{sz['constraints']:>7}  {r['termination']:<29}"
                    f"{gap:>9}{r['bound_per_period']:>10.3f}  "
                    f"{'yes' if r['replay_equal'] else 'no'}",
                    flush=True,
                )

    mpc: list[dict[str, Any]] = []
    print(
        f"\nRolling horizon: {epochs} epochs, window max(12, longest lead path + 4), "
        "safety stock 'auto', continuous orders, relaxed model"
    )
    print(
        f"{'case':<26}{'window':>7}{'build s':>9}{'mean ms':>9}{'median ms':>10}{'max ms':>8}"
        f"{'fresh ms':>10}{'cost/period':>13}"
    )
    for name, params in CASES:
        net = scenarios.make(name, **params).network
        r = rolling_horizon(net, epochs, args.seed)
        r.update(case=label(name, params), scenario=name, params=params)
        mpc.append(r)
        print(
            f"{r['case']:<26}{r['window']:>7}{r['build_s']:>9.2f}{1e3 * r['mean_s']:>9.1f}"
            f"{1e3 * r['median_s']:>10.1f}{1e3 * r['max_s']:>8.1f}"
            f"{1e3 * r['fresh_build_solve_s']:>10.1f}{r['mean_cost']:>13.3f}",
            flush=True,
        )
    print("fresh ms = building and solving a new model for the same epoch data (no persistence)")

    if args.json:
        out = {
            "benchmark": "network_mip",
            "seed": args.seed,
            "time_limit_s": args.time_limit,
            "horizons": horizons,
            "epochs": epochs,
            "machine": info,
            "timer": "time.perf_counter wall seconds; solve_s is Pyomo+HiGHS wall time",
            "perfect_information": rows,
            "rolling_horizon": mpc,
        }
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2, default=float) + "\n")
        print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
