"""Compare recommendation-MPC epoch times of two library versions from their benchmark JSONs.

Each JSON is one ``python benchmarks/network_mip.py --recommendation-only --json ...`` run
(Pyomo and direct re-solves interleaved inside it); run the two versions alternately,
several times, and pass the "before" and "after" files.  Per case, the medians over runs
of each run's median seconds per epoch (wall) and CPU seconds per epoch, the ratios
before-Pyomo / after-direct (the issue's target: 3x, judged on CPU seconds per epoch, a
mean: a median epoch says little once many epochs are answered from memory) and
before-direct / after-direct, and
whether every run's mean profit per period is the same to the last bit (same seed, so the
same plans give the same ledger).

Usage::

    python benchmarks/network_mip_compare.py --before b1.json b2.json --after a1.json a2.json \\
        --json benchmarks/results/network_mip_recommendation_mipwarm.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

TARGET = 3.0


def cases(paths: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Rows of every run, by case name."""
    out: dict[str, list[dict[str, Any]]] = {}
    for p in paths:
        for row in json.loads(Path(p).read_text())["recommendation_mpc"]:
            out.setdefault(row["case"], []).append(row)
    return out


def median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", nargs="+", required=True, help="JSONs of the old version")
    ap.add_argument("--after", nargs="+", required=True, help="JSONs of the new version")
    ap.add_argument("--json", metavar="PATH", help="write the comparison as JSON to PATH")
    args = ap.parse_args(argv)
    before, after = cases(args.before), cases(args.after)
    rows = []
    print(
        f"{'case':<44}{'old pyomo':>10}{'old direct':>11}{'new direct':>11}{'vs pyomo':>9}"
        f"{'vs direct':>10}{'CPU old pyomo':>14}{'CPU new':>8}{'ratio':>7}{'memo':>6}"
        f"{'same plans':>11}"
    )
    for case, old in before.items():
        new = after.get(case)
        if not new:
            continue
        profits = {r["mean_profit"] for r in old + new}
        row = {
            "case": case,
            "runs": [len(old), len(new)],
            "before_pyomo_s": median(old, "pyomo_median_s"),
            "before_direct_s": median(old, "direct_median_s"),
            "after_direct_s": median(new, "direct_median_s"),
            "after_pyomo_s": median(new, "pyomo_median_s"),
            "before_pyomo_cpu_s": median(old, "pyomo_cpu_s"),
            "before_direct_cpu_s": median(old, "direct_cpu_s"),
            "after_direct_cpu_s": median(new, "direct_cpu_s"),
            "memo_share": median(new, "memo_share") if "memo_share" in new[0] else 0.0,
            "same_plans": len(profits) == 1 and all(r["same_ledgers"] for r in old + new),
        }
        row["speedup_vs_pyomo"] = row["before_pyomo_s"] / row["after_direct_s"]
        row["speedup_vs_direct"] = row["before_direct_s"] / row["after_direct_s"]
        row["cpu_speedup_vs_pyomo"] = row["before_pyomo_cpu_s"] / row["after_direct_cpu_s"]
        rows.append(row)
        print(
            f"{case:<44}{1e3 * row['before_pyomo_s']:>10.2f}{1e3 * row['before_direct_s']:>11.2f}"
            f"{1e3 * row['after_direct_s']:>11.2f}{row['speedup_vs_pyomo']:>8.2f}x"
            f"{row['speedup_vs_direct']:>9.2f}x{1e3 * row['before_pyomo_cpu_s']:>14.2f}"
            f"{1e3 * row['after_direct_cpu_s']:>8.2f}{row['cpu_speedup_vs_pyomo']:>6.2f}x"
            f"{100 * row['memo_share']:>5.0f}%{'yes' if row['same_plans'] else 'NO':>11}"
            f"  target {TARGET:g}x (CPU) "
            f"{'met' if row['cpu_speedup_vs_pyomo'] >= TARGET else 'NOT MET'}"
        )
    print(
        "ms per epoch, medians over runs of each run's median; vs pyomo = old Pyomo route / "
        "new direct route; CPU = process CPU ms per epoch (a mean over each run: the fairer "
        "figure when many epochs are answered from memory); memo = epochs answered from "
        "an already solved state; same plans = every run's ledger gives the same mean profit"
    )
    if args.json:
        out = {
            "benchmark": "network_mip_compare",
            "before": [Path(p).name for p in args.before],
            "after": [Path(p).name for p in args.after],
            "cases": rows,
        }
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except FileNotFoundError as exc:  # an input file named on the command line is not there
        raise SystemExit(f"{Path(__file__).name}: no such file: {exc.filename}") from None
