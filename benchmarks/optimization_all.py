"""Optimization benchmarks in one run: the lost-sales DP and the network MIP.

Runs ``benchmarks/lost_sales_dp.py`` (DP solve time and memory for L = 1..4,
p = 4..39, with the heuristics' gaps) and ``benchmarks/network_mip.py`` (MIP
solve time by network size and horizon, rolling-horizon time per epoch), prints
both tables and, with ``--json DIR``, writes ``lost_sales_dp.json`` and
``network_mip.json`` into DIR.

    python benchmarks/optimization_all.py [--quick] [--json benchmarks/results]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# benchmarks/ must not come first on sys.path: benchmarks/rl.py would shadow the rl package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))  # run from a checkout


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small instances only")
    ap.add_argument("--json", metavar="DIR", help="write one JSON file per benchmark into DIR")
    args = ap.parse_args(argv)
    common = ["--quick"] if args.quick else []
    status = 0
    for name in ("lost_sales_dp", "network_mip"):
        print(f"\n== {name} ==")
        extra = ["--json", str(Path(args.json) / f"{name}.json")] if args.json else []
        if args.json:
            Path(args.json).mkdir(parents=True, exist_ok=True)
        status |= _load(name).main(common + extra) or 0
    return status


if __name__ == "__main__":
    sys.exit(main())
