"""The multi-timescale study (second seed paper, Jiang, Han, Peng & Zhang 2025): issue 16, items 4-5.

Subcommands (each writes JSON/markdown/figures into ``--out``):

``study``   :func:`scenarios.recommendation_study.run_study` on one scenario: trains the
            chosen agents (Joint IM-RS, IM-only, RS-only, the two-timescale MAPPO pair)
            and evaluates them with the heuristic references on common random numbers
            (paired 95% CIs vs Joint IM-RS).  With ``--k K > 1`` the MAPPO replenishment
            agent decides every K periods and the table gets the periodic-review
            reference (base stock with review period K, levels covering L + K periods,
            searched on CRN, with the margin-optimal static recommendation).  On a
            selling season (``recommendation-fashion-*``) the references are the season
            policies (``base-stock-season-static/-resolve/-learn``) and the MAPPO
            replenishment agent decides once per season.
``heuristics``  only the heuristic rows, for review periods ``--ks`` (no training).
``trace``   recommendation intensity against stock over time per product for the
            trained agents of a ``study`` folder (Joint and MAPPO), a few episodes:
            ``trace.png`` and ``trace.json`` (with the correlation of each product's
            exposure with its stock).
``pairs``   paired 95% CIs between any two rows of ``study.json`` files that share
            their evaluation episodes (e.g. MAPPO vs base-stock-season-learn).

Commands of the README figures (one at a time, ``nice -n 10``)::

    python benchmarks/multi_timescale.py heuristics --scenario recommendation-small --ks 1 3
    python benchmarks/multi_timescale.py study --scenario recommendation-small --k 3 \\
        --agents joint mappo --out runs/multi/small-k3
    python benchmarks/multi_timescale.py trace --scenario recommendation-small \\
        --run runs/multi/small-k3 --episodes 3
    python benchmarks/multi_timescale.py study --scenario recommendation-fashion-small \\
        --periods 12 --episodes 200 --gamma 0.99 --steps 100000 --out runs/multi/fashion-s1
    python benchmarks/multi_timescale.py study --scenario recommendation-large \\
        --score-mode structured --agents joint --steps 60000 --mpc 0 --out runs/multi/large-structured
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np


def _settings(args: argparse.Namespace) -> Any:
    from scenarios.recommendation_study import StudySettings

    return StudySettings(
        steps=args.steps,
        seed=args.seed,
        episodes=args.episodes,
        periods=args.periods,
        replenishment_period=args.k,
        agents=tuple(args.agents),
        mpc=bool(args.mpc),
        gamma=args.gamma,
        score_mode=args.score_mode,
        search_periods=args.search_periods,
        search_replications=args.search_replications,
    )


def _problem(args: argparse.Namespace) -> Any:
    import scenarios

    params = dict(p.split("=", 1) for p in args.param)
    parsed = {k: json.loads(v) if v[:1] in "0123456789-[{tfn" else v for k, v in params.items()}
    return scenarios.make(args.scenario, **parsed)


def cmd_study(args: argparse.Namespace) -> None:
    from scenarios.recommendation_study import run_study

    result = run_study(_problem(args), _settings(args), args.out, progress=True)
    print(result.table())


def cmd_heuristics(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from scenarios.recommendation_study import run_study

    out = {}
    for k in args.ks:
        settings = replace(_settings(args), agents=(), replenishment_period=k)
        res = run_study(_problem(args), settings, Path(args.out) / f"k{k}", progress=False)
        print(f"k = {k}\n{res.table()}\n")
        out[str(k)] = res.to_dict()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "heuristics.json").write_text(json.dumps(out, indent=2, default=str) + "\n")


def cmd_trace(args: argparse.Namespace) -> None:
    from scenarios.recommendation_study import trace_agents

    path = trace_agents(_problem(args), args.run, episodes=args.episodes, seed=args.trace_seed)
    print(f"wrote {path}")
    summary = json.loads((Path(args.run) / "trace.json").read_text())["summary"]
    for agent, rows in summary.items():
        for product, s in rows.items():
            print(f"{agent:>6} {product:>5}: corr(exposure, stock) {s['corr_stock']:+.2f}")


def cmd_pairs(args: argparse.Namespace) -> None:
    from rl.evaluation import Evaluation, paired

    rows: dict[str, Any] = {}
    for f in args.files:
        data = json.loads(Path(f).read_text())
        periods = data["settings"]["periods"]
        for r in data["rows"]:
            rows[r["name"]] = (np.asarray(r["per_episode"]) / periods, data["eval_seed"])
    a, b = rows[args.a], rows[args.b]
    if a[1] != b[1]:
        raise SystemExit(f"{args.a!r} and {args.b!r} were evaluated on different seeds")
    d = paired(Evaluation.of(args.a, a[0]), Evaluation.of(args.b, b[0]))
    print(f"{args.a} - {args.b}: {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] per period")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("study", "heuristics", "trace"):
        p = sub.add_parser(name)
        p.add_argument("--scenario", default="recommendation-small")
        p.add_argument("--param", action="append", default=[], metavar="K=V")
        p.add_argument("--out", default="runs/multi")
        p.add_argument("--steps", type=int, default=150_000)
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--episodes", type=int, default=30)
        p.add_argument("--periods", type=int, default=128)
        p.add_argument("--k", type=int, default=1, help="MAPPO replenishment decision period")
        p.add_argument("--ks", type=int, nargs="+", default=[1, 3])
        p.add_argument("--agents", nargs="+", default=["joint", "im", "rs", "mappo"])
        p.add_argument("--mpc", type=int, default=1)
        p.add_argument("--gamma", type=float, default=0.95)
        p.add_argument("--search-periods", type=int, default=600, help="base-stock search")
        p.add_argument("--search-replications", type=int, default=4)
        p.add_argument("--score-mode", default="free", choices=("free", "structured"))
        p.add_argument("--run", default="runs/multi", help="trace: a study folder")
        p.add_argument("--episodes-trace", dest="episodes_trace", type=int, default=3)
        p.add_argument("--trace-seed", type=int, default=4242)
    p = sub.add_parser("pairs")
    p.add_argument("files", nargs="+")
    p.add_argument("--a", required=True)
    p.add_argument("--b", required=True)
    args = ap.parse_args(argv)
    if args.command == "trace":
        args.episodes = args.episodes_trace
    return args


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    args = parse(argv)
    {
        "study": cmd_study,
        "heuristics": cmd_heuristics,
        "trace": cmd_trace,
        "pairs": cmd_pairs,
    }[args.command](args)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
