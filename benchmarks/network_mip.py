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

Rolling horizon (``RollingHorizonPolicy``): the model is built once and every epoch
re-solves one persistent HiGHS instance, either through Pyomo (``resolve="pyomo"``:
mutable Params updated, Pyomo's persistent interface pushes the changes) or straight
into HiGHS (``resolve="direct"``, the default: the changed bounds and coefficients go
in bulk through highspy).  Both run ``--repeats`` times, interleaved, on the same
seed; the table gives the median seconds per epoch of each (first epochs included),
their ratio (target: direct at least 3x faster on owmr and random-dag), whether the
two runs' ledgers are identical (same orders every epoch), the time of building and
solving a fresh model for the same data (what a non-persistent implementation would
pay per epoch) and the mean cost per period.

Cases: single-stage (backlog, L=2), serial (Snyder & Shen Ex. 6.1), owmr with 3
and 10 retailers, random-dag with 20 stocking nodes; T in 26, 52, 104.

Recommendation MPC (``MIPRecommendationPolicy``, the ``mip-mpc`` policy): the same
comparison, Pyomo vs direct re-solves interleaved, on recommendation-small (lost sales,
backlog; horizon 4, auto safety stock), recommendation-small with patterns on the
products axis (family "all", whole units, relaxed future) and recommendation-medium.
Besides the medians and their ratio (target 3x), the table gives the median time of
HiGHS's own ``run`` in a direct solve and the ceiling pyomo ms / HiGHS ms: what any
re-solve route could gain with the solve itself unchanged (where HiGHS is most of the
epoch no route reaches 3x without changing the solve, and so perhaps the plans), the
ratio of process CPU seconds per epoch, which a busy machine disturbs less than wall time,
and the share of epochs answered from a state the policy had already solved ("memo").
To compare two versions of the library, run each one's script alternately with its own
``--json`` and compare the medians (same seed, so the plans must be the same).

Usage::

    python benchmarks/network_mip.py                       # all cases, T = 26, 52, 104
    python benchmarks/network_mip.py --quick               # T = 26 and 52, 12 MPC epochs
    python benchmarks/network_mip.py --mpc-only            # the rolling-horizon tables only
    python benchmarks/network_mip.py --recommendation-only # the recommendation MPC table only
    python benchmarks/network_mip.py --recommendation-only --recommendation-epochs 52
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

import numpy as np
import pyomo

ROOT = Path(__file__).resolve().parent.parent
# run as a script: benchmarks/ itself must not come first (benchmarks/rl.py would shadow rl)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import scenarios  # noqa: E402
from des_supply.sim import Simulation  # noqa: E402
from optimization.network_mip import (  # noqa: E402
    PlanPolicy,
    RollingHorizonPolicy,
    build_network_model,
    longest_lead_path,
    perfect_information_bound,
    state_from_observation,
)
from optimization.recommendation_mip import MIPRecommendationPolicy  # noqa: E402
from optimization.solve import solve  # noqa: E402

TARGET = 3.0  # direct re-solves at least 3x faster per epoch (issue 15, item 5)

CASES = (
    ("single-stage", {"shortage": "backlog"}),
    ("serial", {}),
    ("owmr", {"n_retailers": 3}),
    ("owmr", {"n_retailers": 10}),
    ("random-dag", {"n_nodes": 20}),
)

#: recommendation MPC cases: scenario, its parameters, the policy's keywords
REC_CASES: tuple[tuple[str, dict[str, Any], dict[str, Any]], ...] = (
    ("recommendation-small", {"shortage": "lost"}, {"horizon": 4, "safety_stock": "auto"}),
    ("recommendation-small", {"shortage": "backlog"}, {"horizon": 4, "safety_stock": "auto"}),
    (
        "recommendation-small",
        {"axis": "products"},
        {"horizon": 3, "family": "all", "integer": True, "relax_future": True},
    ),
    ("recommendation-medium", {}, {"horizon": 4, "safety_stock": "auto"}),
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


def rolling_horizon(net, epochs: int, seed: int, repeats: int) -> dict[str, Any]:
    """Pyomo and direct re-solves, interleaved: medians of all their epochs' seconds."""
    window = max(12, longest_lead_path(net) + 4)
    times: dict[str, list[float]] = {"pyomo": [], "direct": []}
    costs: dict[str, list[np.ndarray]] = {"pyomo": [], "direct": []}
    builds: dict[str, list[float]] = {"pyomo": [], "direct": []}
    fresh: list[float] = []
    terminations: dict[str, int] = {}
    for r in range(repeats):
        for mode in ("pyomo", "direct") if r % 2 == 0 else ("direct", "pyomo"):
            cls = _Timed if (mode == "direct" and r == 0) else RollingHorizonPolicy
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pol = cls(net, window, safety_stock="auto", resolve=mode)
            ledger = Simulation(net, epochs, seed).run(pol)
            times[mode] += pol.epoch_times
            costs[mode].append(ledger.cost())
            builds[mode].append(pol.build_time)
            fresh += getattr(pol, "fresh_times", [])
            for k, n in pol.terminations.items():
                terminations[f"{mode}:{k}"] = terminations.get(f"{mode}:{k}", 0) + n
    same = all(np.array_equal(costs["pyomo"][0], c) for c in costs["pyomo"] + costs["direct"])
    med = {mode: statistics.median(t) for mode, t in times.items()}
    return {
        "window": window,
        "epochs": epochs,
        "repeats": repeats,
        "build_s": statistics.median(builds["pyomo"]),
        "pyomo_median_s": med["pyomo"],
        "direct_median_s": med["direct"],
        "speedup": med["pyomo"] / med["direct"],
        "direct_mean_s": statistics.fmean(times["direct"]),
        "direct_max_s": max(times["direct"]),
        "same_ledgers": same,
        "fresh_build_solve_s": statistics.fmean(fresh),
        "mean_cost": float(costs["direct"][0].mean()),
        "terminations": terminations,
    }


def recommendation_mpc(
    name: str, params: dict[str, Any], kw: dict[str, Any], epochs: int, seed: int, repeats: int
) -> dict[str, Any]:
    """Pyomo and direct re-solves of the recommendation MPC, interleaved: medians of all
    their epochs' seconds, HiGHS's share of a direct epoch, identical ledgers or not."""
    times: dict[str, list[float]] = {"pyomo": [], "direct": []}
    profits: dict[str, list[np.ndarray]] = {"pyomo": [], "direct": []}
    solver: list[float] = []
    builds: list[float] = []
    cpu: dict[str, list[float]] = {"pyomo": [], "direct": []}  # CPU seconds per epoch, by run
    hits: list[int] = []  # epochs answered from an already solved state, per direct run
    for r in range(repeats):
        for mode in ("pyomo", "direct") if r % 2 == 0 else ("direct", "pyomo"):
            net = scenarios.make(name, **params).network
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tick = time.perf_counter()
                pol = MIPRecommendationPolicy(
                    net, scenarios.make_market(name, **params), resolve=mode, **kw
                )
                if mode == "direct":
                    builds.append(time.perf_counter() - tick)
            market = scenarios.make_market(name, **params)
            cpu0 = time.process_time()
            ledger = Simulation(net, epochs, seed, market).run(pol)
            cpu[mode].append((time.process_time() - cpu0) / epochs)
            times[mode] += pol.epoch_times
            solver += pol.solver_times
            if mode == "direct":
                hits.append(getattr(pol, "memo_hits", 0))
            profits[mode].append(ledger.profit())
    first = profits["pyomo"][0]
    same = all(np.array_equal(first, p) for p in profits["pyomo"] + profits["direct"])
    med = {mode: statistics.median(t) for mode, t in times.items()}
    return {
        "epochs": epochs,
        "repeats": repeats,
        "setup_s": statistics.median(builds),
        "pyomo_median_s": med["pyomo"],
        "direct_median_s": med["direct"],
        "speedup": med["pyomo"] / med["direct"],
        "pyomo_cpu_s": statistics.median(cpu["pyomo"]),
        "direct_cpu_s": statistics.median(cpu["direct"]),
        "cpu_speedup": statistics.median(cpu["pyomo"]) / statistics.median(cpu["direct"]),
        "highs_median_s": statistics.median(solver),
        "ceiling": med["pyomo"] / statistics.median(solver),
        "same_ledgers": same,
        "memo_share": statistics.fmean(hits) / epochs,
        "mean_profit": float(first.mean()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    ap.add_argument("--quick", action="store_true", help="T = 26 and 52 only, 12 MPC epochs")
    ap.add_argument("--horizons", type=int, nargs="+", help="horizons T (default 26 52 104)")
    ap.add_argument("--epochs", type=int, help="MPC epochs per case (default 52; quick 12)")
    ap.add_argument("--time-limit", type=float, default=120.0, help="seconds per MIP solve")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="interleaved MPC runs per mode")
    ap.add_argument(
        "--recommendation-epochs",
        type=int,
        help="recommendation MPC epochs per run (default: --epochs, at most 16)",
    )
    ap.add_argument("--mpc-only", action="store_true", help="skip the perfect-information table")
    ap.add_argument(
        "--recommendation-only", action="store_true", help="only the recommendation MPC table"
    )
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
    if args.recommendation_only:
        args.mpc_only = True
    if not args.mpc_only:
        print("\nPerfect information (exact = engine rules as binaries; relaxed = without them)")
        print(
            f"{'case':<26}{'T':>5}{'mode':>8}{'build s':>9}{'solve s':>9}{'bin':>6}{'int':>6}"
            f"{'cont':>7}{'cons':>7}  {'termination':<29}{'gap':>9}{'bound/T':>10}  replay =="
        )
    for name, params in () if args.mpc_only else CASES:
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
        f"\nRolling horizon: {epochs} epochs x {args.repeats} interleaved runs per mode, window "
        "max(12, longest lead path + 4), safety stock 'auto', continuous orders, relaxed model"
    )
    print(
        f"{'case':<26}{'window':>7}{'build s':>9}{'pyomo ms':>10}{'direct ms':>10}{'ratio':>7}"
        f"{'same plans':>11}{'fresh ms':>10}{'cost/period':>13}"
    )
    for name, params in () if args.recommendation_only else CASES:
        net = scenarios.make(name, **params).network
        r = rolling_horizon(net, epochs, args.seed, args.repeats)
        r.update(case=label(name, params), scenario=name, params=params)
        mpc.append(r)
        target = ""
        if name in ("owmr", "random-dag"):
            target = f"  target {TARGET:g}x {'met' if r['speedup'] >= TARGET else 'NOT MET'}"
        print(
            f"{r['case']:<26}{r['window']:>7}{r['build_s']:>9.2f}{1e3 * r['pyomo_median_s']:>10.2f}"
            f"{1e3 * r['direct_median_s']:>10.2f}{r['speedup']:>6.1f}x"
            f"{'yes' if r['same_ledgers'] else 'NO':>11}"
            f"{1e3 * r['fresh_build_solve_s']:>10.1f}{r['mean_cost']:>13.3f}{target}",
            flush=True,
        )
    print(
        "pyomo / direct ms = median seconds per epoch re-solving through Pyomo's persistent "
        "interface / straight into HiGHS; same plans = identical ledgers; fresh ms = building "
        "and solving a new model for the same epoch data (no persistence)"
    )

    rec: list[dict[str, Any]] = []
    rec_epochs = args.recommendation_epochs or min(epochs, 16)
    print(
        f"\nRecommendation MPC (mip-mpc): {rec_epochs} epochs x {args.repeats} interleaved runs "
        "per mode"
    )
    print(
        f"{'case':<44}{'setup s':>8}{'pyomo ms':>10}{'direct ms':>10}{'ratio':>7}"
        f"{'HiGHS ms':>9}{'ceiling':>8}{'CPU ratio':>10}{'memo':>6}{'same plans':>11}"
        f"{'profit/period':>15}"
    )
    for name, params, kw in REC_CASES:
        r = recommendation_mpc(name, params, kw, rec_epochs, args.seed, args.repeats)
        case = (
            name
            + "".join(f" {k}={v}" for k, v in params.items())
            + "".join(f" {k}={v}" for k, v in kw.items() if k in ("family", "integer"))
        )
        r.update(case=case, scenario=name, params=params, policy=kw)
        rec.append(r)
        print(
            f"{case:<44}{r['setup_s']:>8.2f}{1e3 * r['pyomo_median_s']:>10.2f}"
            f"{1e3 * r['direct_median_s']:>10.2f}{r['speedup']:>6.2f}x"
            f"{1e3 * r['highs_median_s']:>9.2f}{r['ceiling']:>7.2f}x{r['cpu_speedup']:>9.2f}x"
            f"{100 * r['memo_share']:>5.0f}%"
            f"{'yes' if r['same_ledgers'] else 'NO':>11}"
            f"{r['mean_profit']:>15.3f}  target {TARGET:g}x "
            f"{'met' if r['speedup'] >= TARGET else 'NOT MET'}",
            flush=True,
        )
    print(
        "setup s = building the model and laying it out in HiGHS; HiGHS ms = median seconds "
        "of highspy's own run in a direct solve; ceiling = pyomo ms / HiGHS ms, the most any "
        "re-solve route could gain with HiGHS unchanged; CPU ratio = pyomo / direct process "
        "CPU seconds per epoch (medians over runs; less disturbed by a busy machine); memo = "
        "direct epochs answered from a state already solved, not solved again"
    )

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
            "recommendation_mpc": rec,
        }
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2, default=float) + "\n")
        print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
