"""PPO with the generic preset against the best searched base-stock heuristic, per network.

For each network (``serial``, ``owmr``, ``assembly``, ``random-dag`` and the two-echelon
distribution network with stochastic lead times ``scenarios/examples/two_echelon_stochastic.json``):

1. search installation and echelon base-stock levels by simulation
   (:func:`scenarios.presets.search_anchor`; the cheaper is the agent's anchor);
2. train PPO with :func:`scenarios.presets.preset` (the generic preset: order-up-to
   windows around the anchor, rewards relative to its cost) for ``--steps`` steps;
3. evaluate the deterministic agent, both searched heuristics and, where ``optimize``
   has an exact method (serial: Clark-Scarf), the optimum, all on the same
   ``--episodes`` episodes of ``--periods`` periods from the start state (common random
   numbers, an evaluation seed no training episode uses);
4. report PPO's mean cost per period, the best heuristic's (the one with the lowest mean
   on these episodes), their paired difference with a 95 % CI and the gap in percent.

Prints a Markdown table and writes JSON (``--json``).  Run one network at a time on a
busy machine (``nice -n 5``); each takes the preset's budget (``--steps``).

Usage::

    python benchmarks/ppo_networks.py --networks serial --steps 300000 --json /tmp/serial.json
    python benchmarks/ppo_networks.py --set learning_rate=1e-3 --set window=3 --networks owmr
    python benchmarks/ppo_networks.py --table benchmarks/results/ppo_networks/*.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path and benchmarks/rl.py would
# shadow the `rl` package.  Drop that folder.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
_ROOT = _HERE.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))


NETWORKS = (
    "serial",
    "owmr",
    "assembly",
    "random-dag",
    "scenarios/examples/two_echelon_stochastic.json",
)
EVAL_SEED = 7_000_001
PPO_KEYS = {
    f.name for f in dataclasses.fields(__import__("rl.ppo", fromlist=["PPOConfig"]).PPOConfig)
}


def load(target: str) -> Any:
    import scenarios
    from des_supply.problem import Problem, is_network_file

    if is_network_file(target):
        return Problem.from_json(_ROOT / target if not Path(target).is_absolute() else target)
    return scenarios.make(target)


def parse_sets(pairs: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``key=value`` overrides: PPOConfig fields, and GenericSettings fields."""
    from scenarios.presets import GenericSettings

    generic_keys = {f.name for f in dataclasses.fields(GenericSettings)}
    ppo, generic = {}, {}
    for pair in pairs:
        key, _, text = pair.partition("=")
        value: Any = text
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            pass
        if key == "hidden_sizes":
            value = tuple(value)
        if key in PPO_KEYS:
            ppo[key] = value
        elif key in generic_keys:
            generic[key] = value
        else:
            raise SystemExit(f"--set {key}: not a PPOConfig or GenericSettings field")
    return ppo, generic


def run(
    target: str, args: argparse.Namespace, ppo_over: dict[str, Any], generic_over: dict[str, Any]
) -> dict[str, Any]:
    from des_supply.evaluate import simulate
    from rl.evaluation import Evaluation, evaluate_agent, paired
    from rl.ppo import load_agent, train
    from scenarios.presets import GenericSettings, make_thunk, preset, search_anchor

    problem = load(target)
    t0 = time.perf_counter()
    anchor = search_anchor(problem)
    search_seconds = time.perf_counter() - t0
    config, spec = preset(problem, anchor=anchor, generic=GenericSettings(**generic_over))
    config = dataclasses.replace(
        config, seed=args.seed, **ppo_over, **({"total_steps": args.steps} if args.steps else {})
    )
    out = Path(args.out) / problem.name
    t0 = time.perf_counter()
    trained = train(make_thunk(problem, spec), config, out, progress=args.progress)
    train_seconds = time.perf_counter() - t0
    agent = load_agent(out)

    # evaluation on common episodes
    from des_supply.policies import BaseStock, EchelonBaseStock

    evals: dict[str, Evaluation] = {}
    for family, levels in anchor.candidates.items():
        cls = EchelonBaseStock if family == "echelon-base-stock" else BaseStock
        res = simulate(
            problem, cls(levels), periods=args.periods, replications=args.episodes, seed=EVAL_SEED
        )
        evals[f"best-{family}"] = Evaluation.of(f"best-{family}", res.per_replication)
    optimum = None
    if problem.kind.shape in ("single-stage", "serial"):
        from optimization.optimize import optimize

        opt = optimize(problem)
        if opt.optimal.policy is not None and "exact_method_skipped" not in opt.details:
            res = simulate(
                problem,
                opt.optimal.policy,
                periods=args.periods,
                replications=args.episodes,
                seed=EVAL_SEED,
            )
            optimum = Evaluation.of("optimal", res.per_replication)
    eval_spec = {**spec, "env": {**spec["env"], "periods": args.periods}}
    t0 = time.perf_counter()
    ppo = evaluate_agent(
        make_thunk(problem, eval_spec), agent, seed=EVAL_SEED, episodes=args.episodes, name="ppo"
    )
    eval_seconds = time.perf_counter() - t0
    best = min(evals.values(), key=lambda e: e.mean)
    diff = paired(ppo, best)
    row = {
        "network": problem.name,
        "target": target,
        "kind": str(problem.kind),
        "ppo": ppo.mean,
        "ppo_ci95": list(ppo.ci95),
        "best_heuristic": best.name,
        "best_heuristic_mean": best.mean,
        "best_heuristic_levels": anchor.candidates[best.name.removeprefix("best-")],
        "paired_diff": list(diff),
        "gap_pct": 100 * diff[0] / best.mean,
        "heuristics": {k: {"mean": e.mean, "ci95": list(e.ci95)} for k, e in evals.items()},
        "anchor": {"family": anchor.family, "search_values": anchor.values},
        "steps": trained.global_step,
        "train_seconds": train_seconds,
        "search_seconds": search_seconds,
        "eval_seconds": eval_seconds,
        "config": {k: v for k, v in dataclasses.asdict(config).items()},
        "generic": generic_over,
        "spec_window": spec.get("action_window"),
        "episodes": args.episodes,
        "periods": args.periods,
        "eval_seed": EVAL_SEED,
        "seed": args.seed,
        "last_rows": trained.history[-3:],
    }
    if optimum is not None:
        d = paired(ppo, optimum)
        row["optimal"] = {
            "mean": optimum.mean,
            "ci95": list(optimum.ci95),
            "ppo_minus_optimal": list(d),
            "gap_pct": 100 * d[0] / optimum.mean,
        }
    return row


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| network | PPO cost/period | best heuristic (which) | PPO - heuristic "
        "(paired, 95% CI) | gap | steps | train s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        d = r["paired_diff"]
        lines.append(
            f"| {r['network']} | {r['ppo']:.3f} | {r['best_heuristic_mean']:.3f} "
            f"({r['best_heuristic']}) | {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] | "
            f"{r['gap_pct']:+.2f}% | {r['steps']:,} | {r['train_seconds']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--networks", nargs="+", default=list(NETWORKS))
    p.add_argument("--steps", type=int, default=None, help="PPO steps (default: the preset's)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--episodes", type=int, default=30)
    p.add_argument("--periods", type=int, default=1000)
    p.add_argument("--set", action="append", default=[], help="PPOConfig/GenericSettings key=value")
    p.add_argument("--out", default="/tmp/ppo_networks")
    p.add_argument("--json", default=None, help="write the rows here")
    p.add_argument("--progress", action="store_true")
    p.add_argument("--table", nargs="+", default=None, help="only print the table of JSON files")
    args = p.parse_args(argv)
    if args.table:
        rows = [r for f in args.table for r in json.loads(Path(f).read_text())["rows"]]
        print(table(rows))
        return 0
    ppo_over, generic_over = parse_sets(args.set)
    rows = []
    for target in args.networks:
        row = run(target, args, ppo_over, generic_over)
        rows.append(row)
        print(table([row]).splitlines()[-1], flush=True)
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(
                json.dumps(
                    {"rows": rows, "argv": sys.argv, "machine": platform.platform()},
                    indent=2,
                    default=str,
                )
                + "\n"
            )
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except FileNotFoundError as exc:  # an input file named on the command line is not there
        raise SystemExit(f"{Path(__file__).name}: no such file: {exc.filename}") from None
