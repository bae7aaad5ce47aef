"""Dynamic (inventory-aware) against static recommendation on a selling season.

On ``recommendation-fashion-<size>`` (one buy per season, no replenishment, a popularity
trend the seller does not see), every policy is simulated on the same ``--replications``
seasons (common random numbers: ``des_supply.evaluate.simulate`` with one seed), and each
is compared with the best static policy by paired 95% CIs over those seasons:

====================  =====================================================================
row                   policy
====================  =====================================================================
static-margin         margin-optimal intensities (ignores stock), exact best buy for them
static-best           the best static intensities and buy found: multi-start search on the
                      exact expected season profit
                      (:func:`optimization.recommendation_season.best_static`)
dynamic-resolve       inventory-aware: intensities re-solved every period for the stock on
                      hand (:class:`des_supply.recommendation_policies.SeasonResolve`), the
                      static-best buy
dynamic-learn         the same, planning with the trend estimated from the sales so far
====================  =====================================================================

``--sensitivity`` varies one parameter at a time from the scenario's defaults (trend_sd,
efficiency, salvage, season) and prints the gain of each dynamic policy over static-best.
``--json PATH`` writes every figure.  Profits are per season.

    python benchmarks/recommendation_fashion.py --size small --replications 100 --json out.json
    python benchmarks/recommendation_fashion.py --sensitivity --replications 40
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

SENSITIVITY: dict[str, tuple[Any, ...]] = {
    "trend_sd": (0.0, 0.5, 1.0, 1.5),
    "efficiency": (0.25, 0.5, 1.0),
    "salvage": (0.0, 1.0, 3.0),
    "season": (6, 12, 24),
}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="small", choices=("small", "medium"))
    ap.add_argument("--replications", type=int, default=100, help="seasons (default 100)")
    ap.add_argument("--seed", type=int, default=2026, help="evaluation seed")
    ap.add_argument("--param", action="append", default=[], metavar="K=V", help="scenario param")
    ap.add_argument("--sensitivity", action="store_true", help="one-at-a-time parameter table")
    ap.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    ap.add_argument("--bound", action="store_true", help="add the perfect-information bound")
    return ap.parse_args(argv)


def cell(
    size: str, params: dict[str, Any], replications: int, seed: int, bound: bool = False
) -> dict[str, Any]:
    """Every row of one scenario instance, with paired differences against static-best;
    with *bound*, the perfect-information MIP bound on the same seasons."""
    from des_supply.evaluate import paired_difference, simulate
    from des_supply.policies import BaseStock
    from des_supply.recommendation_policies import (
        MarginRecommender,
        RecommendAndReplenish,
        SeasonResolve,
        margins_of,
        season_economics,
    )
    from optimization.recommendation_season import best_static, static_season_profit
    from scenarios import make

    problem = make(f"recommendation-fashion-{size}", **params)
    market = problem.new_market()
    model, net = market.model, problem.network
    econ = season_economics(net, model.products)
    tick = time.perf_counter()
    static = best_static(model, econ, net, trend_sd=market.trend_sd)
    search_seconds = time.perf_counter() - tick
    from optimization.recommendation_season import trend_samples

    margin = MarginRecommender(margins_of(net, model.products))
    margin_profit, margin_buys = static_season_profit(
        model, econ, margin.recommend(None, model), trend_samples(model, market.trend_sd)
    )
    buys = static.levels(model)
    policies = {
        "static-margin": RecommendAndReplenish(
            BaseStock(dict(zip(model.products, map(float, margin_buys)))), margin
        ),
        "static-best": RecommendAndReplenish(
            BaseStock(buys), SeasonResolve(start=static.alpha, freeze=True)
        ),
        "dynamic-resolve": RecommendAndReplenish(
            BaseStock(buys), SeasonResolve(start=static.alpha, learn=False)
        ),
        "dynamic-learn": RecommendAndReplenish(
            BaseStock(buys), SeasonResolve(start=static.alpha, learn=True)
        ),
    }
    T = econ.season
    results, seconds = {}, {}
    for name, policy in policies.items():
        tick = time.perf_counter()
        results[name] = simulate(problem, policy, periods=T, replications=replications, seed=seed)
        seconds[name] = time.perf_counter() - tick
    ref = results["static-best"]
    rows = []
    for name, res in results.items():
        diff, low, high = paired_difference(res, ref)
        rows.append(
            {
                "policy": name,
                "season_profit": res.mean * T,
                "ci95": [res.ci95[0] * T, res.ci95[1] * T],
                "vs_static_best": [diff * T, low * T, high * T],
                "gain_pct": [100 * diff / ref.mean, 100 * low / ref.mean, 100 * high / ref.mean],
                "seconds": seconds[name],
            }
        )
    out_bound = None
    if bound:
        out_bound = pi_bound(problem, static.alpha, replications, seed, T)
    return {
        "bound": out_bound,
        "scenario": f"recommendation-fashion-{size}",
        "params": params,
        "season": T,
        "replications": replications,
        "seed": seed,
        "static_search": {
            "label": static.label,
            "exact_season_profit": static.profit,
            "exact_margin_season_profit": margin_profit,
            "candidates": static.candidates,
            "buys": static.buys.tolist(),
            "seconds": search_seconds,
        },
        "rows": rows,
    }


def pi_bound(problem: Any, alpha: Any, replications: int, seed: int, T: int) -> dict[str, Any]:
    """The perfect-information MIP (its LP relaxation above 5000 binaries) on each season:
    it knows the season's trend and every draw; it bounds every policy whose
    recommendations lie in its pattern set (single, 2 levels, anchors uniform, popularity,
    margin-optimal and the best static), so the static rows, not the re-solving ones."""
    import numpy as np

    from des_supply.evaluate import confidence_interval
    from des_supply.recommendation_policies import MarginRecommender, Popularity, margins_of
    from optimization.recommendation_mip import make_patterns, perfect_information_bound

    model, net = problem.market.model, problem.network
    anchors = {
        "uniform": model.uniform(),
        "popularity": Popularity().recommend(None, model),
        "margin": MarginRecommender(margins_of(net, model.products)).recommend(None, model),
        "best-static": alpha,
    }
    pats = make_patterns(model, "single", 2, anchors=anchors)
    relax = model.shape[1] * len(pats) * T > 5000
    tick = time.perf_counter()
    values = np.array(
        [
            perfect_information_bound(
                problem, periods=T, seed=seed, replication=k, patterns=pats, relax=relax
            ).bound
            for k in range(replications)
        ]
    )
    mean, low, high = confidence_interval(values)
    return {
        "season_bound": mean,
        "ci95": [low, high],
        "relaxed": relax,
        "patterns": len(pats),
        "per_season": values.tolist(),
        "seconds": time.perf_counter() - tick,
    }


def table(result: dict[str, Any]) -> str:
    head = (
        f"{result['scenario']} {result['params'] or ''}: {result['replications']} seasons of "
        f"{result['season']} periods, seed {result['seed']}; static search "
        f"{result['static_search']['label']} (exact {result['static_search']['exact_season_profit']:.1f})"
    )
    lines = [
        head,
        f"{'policy':<16} {'season profit':>14} {'95% CI':>19} {'vs static-best':>30} {'gain %':>22}",
    ]
    for r in result["rows"]:
        d, g = r["vs_static_best"], r["gain_pct"]
        lines.append(
            f"{r['policy']:<16} {r['season_profit']:>14.1f} "
            f"[{r['ci95'][0]:>7.1f}, {r['ci95'][1]:>7.1f}] "
            f"{d[0]:>+9.1f} [{d[1]:>+7.1f}, {d[2]:>+7.1f}] "
            f"{g[0]:>+6.1f} [{g[1]:>+5.1f}, {g[2]:>+5.1f}]"
        )
    b = result.get("bound")
    if b:
        kind = "LP relaxation" if b["relaxed"] else "MIP"
        lines.append(
            f"{'PI bound':<16} {b['season_bound']:>14.1f} [{b['ci95'][0]:>7.1f}, "
            f"{b['ci95'][1]:>7.1f}]  (perfect-information {kind}, {b['patterns']} patterns; "
            "bounds the static rows only)"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, Any]:
    # numpy reads the thread count when it loads: L-BFGS-B's BLAS threads contend badly
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from scenarios import parse_params

    base = parse_params(f"recommendation-fashion-{args.size}", args.param)
    out: dict[str, Any] = {
        "main": cell(args.size, base, args.replications, args.seed, bound=args.bound)
    }
    print(table(out["main"]), flush=True)
    if args.sensitivity:
        out["sensitivity"] = []
        print(
            "\nsensitivity (one parameter at a time; gain of each dynamic policy over static-best)"
        )
        print(
            f"{'parameter':<12} {'value':>6} {'static-best':>12} {'resolve %':>22} {'learn %':>22}"
        )
        for key, values in SENSITIVITY.items():
            for value in values:
                res = cell(args.size, {**base, key: value}, args.replications, args.seed)
                out["sensitivity"].append(res)
                rows = {r["policy"]: r for r in res["rows"]}
                g1, g2 = rows["dynamic-resolve"]["gain_pct"], rows["dynamic-learn"]["gain_pct"]
                print(
                    f"{key:<12} {value:>6} {rows['static-best']['season_profit']:>12.1f} "
                    f"{g1[0]:>+6.1f} [{g1[1]:>+5.1f}, {g1[2]:>+5.1f}] "
                    f"{g2[0]:>+6.1f} [{g2[1]:>+5.1f}, {g2[2]:>+5.1f}]",
                    flush=True,
                )
    if args.json:
        from scenarios.cli import versions

        out["versions"] = versions()
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, default=float))
    return out


if __name__ == "__main__":
    run(parse())
