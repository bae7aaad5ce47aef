"""Dual sourcing: the exact DP against the four searched heuristics on Gijsbrechts' grid.

Instances (Gijsbrechts, Boute, Van Mieghem & Zhang 2022, M&SOM 24(3); the
``dual-sourcing`` scenario): h = 5, b = 495, c_r = 0, l_e = 0, demand uniform on
{0..4}, regular lead time l_r in {2, 3, 4} (``--leads``) and c_e - c_r in {5, 10, 20}
(``--costs``).  For each: the DP's optimal cost, states, iterations and seconds
(:func:`optimization.dual_sourcing.solve_dual_sourcing`), then single index, dual index,
capped dual index and tailored base-surge with their parameters searched by simulation
on common random numbers (:func:`optimization.dual_sourcing.best_heuristics`: ``--periods``
periods x ``--replications`` paths per candidate, event engine), each found policy's cost
(exact Markov-chain value where the policy is stationary; tailored base-surge with a
fractional base: a long simulation, ``--check-periods`` x 4 replications, with its 95 %
CI), its gap to the DP in percent, and the search's seconds.

Usage::

    python benchmarks/dual_sourcing.py                 # 9 instances (about 15 min, 1 core)
    python benchmarks/dual_sourcing.py --quick         # l_r = 2, c_e in {10, 20}
    python benchmarks/dual_sourcing.py --leads 2 3 --costs 20 --json out.json

Progress goes to stderr, one line per instance and heuristic (also when not a terminal).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# run as a script: benchmarks/ itself must not come first (benchmarks/rl.py would shadow rl)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HEURISTICS = ("single-index", "dual-index", "capped-dual-index", "tailored-base-surge")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="l_r = 2 and c_e in {10, 20} only")
    ap.add_argument("--leads", type=int, nargs="+", help="regular lead times (default 2 3 4)")
    ap.add_argument("--costs", type=float, nargs="+", help="c_e - c_r (default 5 10 20)")
    ap.add_argument(
        "--heuristics", nargs="+", choices=HEURISTICS, help="which heuristics (default: all)"
    )
    ap.add_argument("--periods", type=int, default=2_000, help="search: periods per path")
    ap.add_argument("--replications", type=int, default=4, help="search: paths per candidate")
    ap.add_argument("--seed", type=int, default=12345, help="search: seed of the paths")
    ap.add_argument(
        "--check-periods", type=int, default=20_000, help="long runs of non-stationary policies"
    )
    ap.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    return ap.parse_args(argv)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict:
    import numpy as np

    import scenarios
    from des_supply.evaluate import simulate
    from optimization.dual_sourcing import (
        best_heuristics,
        evaluate_policy,
        model_of,
        solve_dual_sourcing,
    )

    leads = args.leads or ([2] if args.quick else [2, 3, 4])
    costs = args.costs or ([10.0, 20.0] if args.quick else [5.0, 10.0, 20.0])
    rows = []
    for lr in leads:
        for ce in costs:
            problem = scenarios.make("dual-sourcing", regular_lead=lr, expedited_cost=ce)
            model = model_of(problem)
            t0 = time.perf_counter()
            sol = solve_dual_sourcing(model)
            row: dict = {
                "regular_lead": lr,
                "expedited_cost": ce,
                "optimal_cost": sol.average_cost,
                "states": sol.states,
                "iterations": sol.iterations,
                "dp_seconds": time.perf_counter() - t0,
                "boundary_mass": sol.boundary_mass,
                "heuristics": {},
            }
            log(
                f"l_r={lr} c_e={ce:g}: DP {sol.average_cost:.4f} ({sol.states:,} states, "
                f"{sol.iterations} iterations, {row['dp_seconds']:.2f} s)"
            )
            for name in args.heuristics or HEURISTICS:
                t1 = time.perf_counter()
                found = best_heuristics(
                    problem,
                    periods=args.periods,
                    replications=args.replications,
                    seed=args.seed,
                    names=(name,),
                )
                params, on_paths, policy = found[name]
                seconds = time.perf_counter() - t1
                entry: dict = {"params": params, "search_mean": on_paths, "search_seconds": seconds}
                try:
                    entry["cost"] = evaluate_policy(model, policy)
                    entry["how"] = "exact"
                except ValueError:  # a fractional base: simulate it long
                    res = simulate(
                        problem,
                        policy,
                        periods=args.check_periods,
                        warmup=200,
                        replications=4,
                        seed=args.seed + 1,
                    )
                    entry["cost"], entry["ci95"] = res.mean, list(res.ci95)
                    entry["how"] = f"simulated {args.check_periods} x 4"
                entry["gap_pct"] = 100 * (entry["cost"] - sol.average_cost) / sol.average_cost
                row["heuristics"][name] = entry
                log(
                    f"    {name:<20} {entry['cost']:8.4f} ({entry['how']}) "
                    f"gap {entry['gap_pct']:+6.2f}%  {params}  search {seconds:.1f} s"
                )
            rows.append(row)
    print_table(rows, tuple(args.heuristics or HEURISTICS))
    return {
        "benchmark": "dual_sourcing",
        "instances": "h=5, b=495, c_r=0, l_e=0, demand U{0..4} (Gijsbrechts et al. 2022)",
        "search": {"periods": args.periods, "replications": args.replications, "seed": args.seed},
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "rows": rows,
    }


def print_table(rows: list[dict], heuristics: tuple[str, ...] = HEURISTICS) -> None:
    head = "| l_r | c_e | DP optimum | DP s | " + " | ".join(f"{h} (gap)" for h in heuristics)
    print(head + " |")
    print("|---" * (4 + len(heuristics)) + "|")
    for r in rows:
        cells = [
            f"{r['heuristics'][h]['cost']:.3f} ({r['heuristics'][h]['gap_pct']:+.2f}%)"
            for h in heuristics
        ]
        print(
            f"| {r['regular_lead']} | {r['expedited_cost']:g} | {r['optimal_cost']:.3f} | "
            f"{r['dp_seconds']:.2f} | " + " | ".join(cells) + " |"
        )
    for h in heuristics:
        gaps = [r["heuristics"][h]["gap_pct"] for r in rows]
        print(f"{h}: mean gap {sum(gaps) / len(gaps):+.2f}%, max {max(gaps):+.2f}%")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
