"""Time the lost-sales DP on Zipkin's (2008) grid and compare it with the heuristics.

Instances: h = 1, Poisson demand of mean 5, lead time L in 1..4 (``--leads``: any,
e.g. 5 6), penalty p in {4, 9, 19, 39} (Zipkin 2008, "Old and new methods for
lost-sales inventory systems", OR 56(5), Sec. 5).  For each: states, RVI
iterations, wall seconds of :func:`~optimization.lost_sales.solve_lost_sales`
(relative value iteration and the exact evaluation of its policy), its peak traced
memory (tracemalloc) next to the size guard's estimate, the optimal cost, every
heuristic the DP module evaluates (:data:`~optimization.lost_sales.HEURISTICS`), the
best one and its gap, and Zipkin's published optimum where we have it.

A heuristic the machine cannot evaluate is reported as such (``n/a``) with the
reason: the myopic tables hold whole-grid Q-values (refused by their size guard at
L = 6), and the base-stock searches evaluate chains on the position simplex with no
order cap (skipped from L = 6: tens of millions of states per level tried).

``--compare N`` also times, N times each and interleaved (old, new, old, new, ...), the
solver as it ran before BLAS was capped (``blas_threads=None``: numpy's own thread count,
one per core unless ``--threads`` says otherwise) against the current one (one BLAS
thread inside the solve), prints both medians, their ratio, the load average, and
whether the two give the same optimal cost (to 1e-6, and bit for bit) and the same
policy table.  The timed solves run without tracemalloc; the memory column comes from
one more traced solve.

Usage::

    python benchmarks/lost_sales_dp.py                 # full grid (about a minute)
    python benchmarks/lost_sales_dp.py --quick         # L in {1, 2}, p in {4, 19}
    python benchmarks/lost_sales_dp.py --leads 5 6 --penalties 4 39
    python benchmarks/lost_sales_dp.py --leads 5 --penalties 39 --compare 5 --no-heuristics
    python benchmarks/lost_sales_dp.py --json out.json --threads 1

``--threads`` sets numpy's BLAS threads for the whole process (default: numpy's own);
:func:`~optimization.lost_sales.solve_lost_sales` itself runs on one BLAS thread.
"""

from __future__ import annotations

import argparse
import contextlib
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

#: Zipkin (2008) Table 3 optimal costs (Poisson, mean 5, h = 1) that we could check.
PUBLISHED = {(2, 4): 4.40, (4, 4): 4.73, (2, 19): 7.66, (4, 19): 8.89}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small grid: L in {1, 2}, p in {4, 19}")
    ap.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    ap.add_argument(
        "--threads", type=int, default=None, help="numpy's BLAS threads (default: numpy's own)"
    )
    ap.add_argument(
        "--compare",
        type=int,
        default=0,
        metavar="N",
        help="time N interleaved solves each of the uncapped (before) and capped (now) solver",
    )
    ap.add_argument("--no-heuristics", action="store_true", help="time the DP only")
    ap.add_argument("--demand", default="poisson", choices=("poisson", "geometric"))
    ap.add_argument("--leads", type=int, nargs="+", help="lead times (default 1 2 3 4)")
    ap.add_argument("--penalties", type=float, nargs="+", help="penalties (default 4 9 19 39)")
    ap.add_argument(
        "--baseline",
        action="store_true",
        help="also time the whole-grid relative value iteration (the algorithm before the "
        "block-by-block one) on the same instance, in the same run",
    )
    return ap.parse_args(argv)


@contextlib.contextmanager
def _whole_grid():
    """The solver as it was before the block-by-block update: whole-grid Q-values."""
    import optimization.lost_sales as ls

    saved = ls.DENSE_Q
    ls.DENSE_Q = float("inf")
    try:
        yield
    finally:
        ls.DENSE_Q = saved


def run(args: argparse.Namespace) -> dict:
    # numpy reads the thread count when it loads, so import after setting it
    if args.threads is not None:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    import statistics
    import tracemalloc

    import numpy as np
    import scipy

    from optimization.lost_sales import HEURISTICS, check_memory, heuristics, solve_lost_sales
    from optimization.lost_sales_model import LostSalesModel, Truncation

    leads = args.leads or ((1, 2) if args.quick else (1, 2, 3, 4))
    penalties = args.penalties or ((4, 19) if args.quick else (4, 9, 19, 39))
    rows = []
    header = (
        f"{'L':>2} {'p':>3} {'states':>10} {'iter':>5} {'seconds':>8} {'peak MiB':>9} "
        f"{'guard MiB':>9} {'optimal':>8} {'Zipkin':>7}  {'best heuristic':<18} {'cost':>8} "
        f"{'gap %':>6}"
    )
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}, {os.cpu_count()} CPUs")
    print(header)
    print("-" * len(header))
    for L in leads:
        for p in penalties:
            base = None
            if args.baseline:
                tracemalloc.start()
                with _whole_grid():
                    old = solve_lost_sales(L, 1.0, p, args.demand, 5.0)
                base = (old.solve_seconds, tracemalloc.get_traced_memory()[1], old.average_cost)
                tracemalloc.stop()
                del old
            compare = None
            if args.compare:
                times: dict[str, list[float]] = {"before": [], "now": []}
                cpu_times: dict[str, list[float]] = {"before": [], "now": []}
                answers = {}
                for k in range(args.compare):
                    for mode in ("before", "now") if k % 2 == 0 else ("now", "before"):
                        threads = None if mode == "before" else 1
                        t0, c0 = time.perf_counter(), time.process_time()
                        s = solve_lost_sales(L, 1.0, p, args.demand, 5.0, blas_threads=threads)
                        times[mode].append(time.perf_counter() - t0)
                        cpu_times[mode].append(time.process_time() - c0)
                        answers[mode] = (s.average_cost, s.policy.table)
                        del s
                med = {m: statistics.median(t) for m, t in times.items()}
                (ca, ta), (cb, tb) = answers["before"], answers["now"]
                compare = {
                    "repeats": args.compare,
                    "before_median_s": med["before"],
                    "now_median_s": med["now"],
                    "before_s": times["before"],
                    "now_s": times["now"],
                    "before_cpu_s": cpu_times["before"],
                    "now_cpu_s": cpu_times["now"],
                    "speedup": med["before"] / med["now"],
                    "same_cost_1e-6": abs(ca - cb) <= 1e-6,
                    "same_cost_bits": ca == cb,
                    "same_policy": bool(np.array_equal(ta, tb)),
                    "load_average": os.getloadavg(),
                }
                del answers
            cpu0 = time.process_time()
            tracemalloc.start()
            sol = solve_lost_sales(L, 1.0, p, args.demand, 5.0)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            cpu = time.process_time() - cpu0
            trunc = Truncation.default(LostSalesModel(L, 1.0, p, args.demand))
            guard = check_memory(L, trunc, float("inf"))  # the size guard's estimate
            row = {
                "lead_time": L,
                "penalty": p,
                "demand": args.demand,
                "states": sol.states,
                "iterations": sol.iterations,
                "seconds": sol.solve_seconds,
                "cpu_seconds_traced": cpu,
                "load_average": os.getloadavg(),
                "peak_mib": peak / 2**20,
                "guard_mib": guard / 2**20,
                "optimal_cost": sol.average_cost,
                "stationary_cost": sol.stationary_cost,
                "bounds": [sol.lower_bound, sol.upper_bound],
                "boundary_mass": sol.boundary_mass,
                "truncation": [sol.truncation.max_position, sol.truncation.max_order],
                "published": PUBLISHED.get((L, p)) if args.demand == "poisson" else None,
            }
            if base is not None:
                row["baseline"] = {
                    "seconds": base[0],
                    "peak_mib": base[1] / 2**20,
                    "optimal_cost": base[2],
                    "speedup": base[0] / row["seconds"],
                }
            if compare is not None:
                row["compare"] = compare
            del sol
            if not args.no_heuristics:
                t0 = time.perf_counter()
                res, skipped = {}, {}
                groups = [HEURISTICS[:2]] + [(name,) for name in HEURISTICS[2:]]  # myopic pair
                for names in groups:
                    if L >= 6 and "base-stock" in names[0]:
                        skipped[names[0]] = "not run: chains on the position simplex too large"
                        continue
                    try:
                        res.update(heuristics(L, 1.0, p, args.demand, 5.0, names=names))
                    except ValueError as exc:  # a size guard
                        skipped.update({name: f"n/a: {exc}" for name in names})
                best = min(res, key=lambda k: res[k].value)
                row.update(
                    heuristics={
                        k: {"cost": r.value, "params": dict(r.params)} for k, r in res.items()
                    },
                    heuristics_skipped=skipped,
                    heuristics_seconds=time.perf_counter() - t0,
                    best_heuristic=best,
                    best_heuristic_cost=res[best].value,
                    gap_percent=100 * (res[best].value / row["optimal_cost"] - 1),
                )
            rows.append(row)
            pub = f"{row['published']:7.2f}" if row["published"] else f"{'':>7}"
            tail = (
                f"  {row['best_heuristic']:<18} {row['best_heuristic_cost']:8.4f} "
                f"{round(row['gap_percent'], 2) + 0.0:6.2f}"
                if "best_heuristic" in row
                else ""
            )
            print(
                f"{L:>2} {p:>3g} {row['states']:>10,} {row['iterations']:>5} "
                f"{row['seconds']:>8.3f} {row['peak_mib']:>9.1f} {row['guard_mib']:>9.1f} "
                f"{row['optimal_cost']:>8.4f} {pub}{tail}",
                flush=True,
            )
            if base is not None:
                b = row["baseline"]
                print(
                    f"{'':>8}whole-grid RVI (before): {b['seconds']:.3f} s, {b['peak_mib']:.1f} "
                    f"MiB, optimal {b['optimal_cost']:.6f}; block by block {b['speedup']:.1f}x "
                    "faster"
                )
            if compare is not None:
                c = row["compare"]
                print(
                    f"{'':>8}{c['repeats']} interleaved solves each: before (numpy's BLAS "
                    f"threads) {c['before_median_s']:.3f} s, now (1 BLAS thread) "
                    f"{c['now_median_s']:.3f} s median, {c['speedup']:.1f}x (CPU "
                    f"{statistics.median(c['before_cpu_s']):.2f} vs "
                    f"{statistics.median(c['now_cpu_s']):.2f} s); same cost "
                    f"{'yes' if c['same_cost_1e-6'] else 'NO'} (bit for bit "
                    f"{'yes' if c['same_cost_bits'] else 'no'}), same policy "
                    f"{'yes' if c['same_policy'] else 'NO'}; load average "
                    f"{c['load_average'][0]:.2f}"
                )
            for name, h in row.get("heuristics", {}).items():
                print(f"{'':>8}{name:<20} {h['cost']:9.4f}  {h['params']}")
            for name, why in row.get("heuristics_skipped", {}).items():
                print(f"{'':>8}{name:<20} {why[:90]}")
    return {
        "benchmark": "lost_sales_dp",
        "holding": 1.0,
        "demand_mean": 5.0,
        "threads": args.threads,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "rows": rows,
    }


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
