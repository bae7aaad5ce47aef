"""Decision Transformer benchmark (issue 13): offline RL on Zipkin's lost-sales model.

(A) Single stage, lost sales, Poisson(5), h = 1, (L, p) = (2, 9).  A mixed dataset of
    three behaviour policies on the same number of episodes each: the myopic policy
    (``myopic``, about 2 % above the optimum), a noisy base-stock policy (the best
    base-stock level, Gaussian noise of ``--noise`` units on every order) and PPO trained
    online with the preset (``scenarios.presets.preset``), logged from its run folder.
    On it: the Decision Transformer conditioned on realised returns to go ("dt"), the same
    conditioned on exact expected-return labels from the DP ("dt-expected",
    :class:`rl.offline.ExpectedReturnLabels`), behaviour cloning, filtered BC (top 10 %),
    every behaviour policy and the DP optimum, all on the same test episodes (common random
    numbers; seed ``--seed``), gaps to the optimum as paired 95 % CIs.  The DTs' target
    returns are chosen on validation episodes of another seed.  Tracking: for every
    candidate target, the return the DT achieved on the validation episodes, in the units it
    was conditioned on (realised, or expected-return labels) and in realised returns.

(B) One model, many tasks.  One DT on the merged datasets of a grid of training cells
    (L, p) (optimal, myopic and noisy base-stock episodes in each; lead time and penalty as
    task features, see :func:`scenarios.offline.task_features`), evaluated on every
    training cell and on held-out cells it never saw, against each cell's DP optimum on
    the same episodes.  Targets are chosen per cell on validation episodes (no weights
    change: no fine-tuning).

Targets of issue 13: (A) the DT within 1 % of the DP optimum and above the best behaviour
policy in the data; (B) within 3 % of each held-out cell's optimum.  Costs are the mean
cost per period over whole episodes of ``--periods`` periods from the scenario's start
state (the same for every policy).

Usage::

    python benchmarks/decision_transformer.py --quick          # smoke run, a few minutes
    python benchmarks/decision_transformer.py --json benchmarks/results/decision_transformer.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
_ROOT = str(_HERE.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import scenarios  # noqa: E402
from rl.decision_transformer import DTConfig, OfflineData, load_dt, rollout  # noqa: E402
from rl.evaluation import Evaluation, evaluate_agent, paired  # noqa: E402
from rl.offline import BCConfig, ExpectedReturnLabels, top_episodes, train_bc  # noqa: E402
from rl.trajectories import EnginePolicy, load_episodes, merge, run_behaviour  # noqa: E402
from scenarios import offline  # noqa: E402

TRAIN_CELLS = (
    (1, 4.0),
    (1, 39.0),
    (2, 9.0),
    (2, 39.0),
    (4, 4.0),
    (4, 9.0),
    (4, 39.0),
    (1, 9.0),
    (2, 4.0),
)
HELD_OUT = ((3, 9.0), (2, 19.0), (3, 19.0))


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def gap_row(name: str, ev: Evaluation, opt: Evaluation) -> dict[str, Any]:
    """Mean cost, and the paired gap to the optimum in % of the optimum's mean."""
    d, lo, hi = paired(ev, opt)
    scale = 100.0 / opt.mean
    return {
        "name": name,
        "mean": ev.mean,
        "ci95": list(ev.ci95),
        "gap_pct": d * scale,
        "gap_ci95": [lo * scale, hi * scale],
    }


def dt_config(args: argparse.Namespace, steps: int) -> DTConfig:
    return DTConfig(
        total_steps=steps,
        context=args.context,
        embed_dim=64,
        n_layers=2,
        n_heads=4,
        batch_size=64,
        dropout=0.1,
        log_interval=100,
        checkpoint_interval=1000,
        return_horizon=args.horizon,
        return_token=args.token,
    )


def best_level(problem: Any) -> float:
    """The best base-stock level of a single-stage problem (from the registry's solver)."""
    import optimization.policies  # noqa: F401
    from des_supply.policies import value_for
    from des_supply.policy_registry import make_policy

    return float(value_for(make_policy("best-base-stock", problem, {}).level, "stage", "level"))


def train_ppo(problem: Any, steps: int | None, out: Path, seed: int) -> Path:
    from rl.ppo import train
    from scenarios.presets import make_thunk, preset, problem_record, with_steps

    config, spec = preset(problem)
    config = with_steps(dataclasses.replace(config, seed=seed), steps)
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(
        json.dumps(
            {
                "problem": problem_record(problem),
                "algo": "ppo",
                "spec": spec,
                "config": dataclasses.asdict(config),
            },
            default=str,
        )
    )
    t0 = time.perf_counter()
    train(make_thunk(problem, spec), config, out, progress=False)
    log(f"PPO trained for {config.total_steps} steps in {time.perf_counter() - t0:.0f} s")
    return out


def tracking(run: Path, problem: Any, seed: int, episodes: int, label: Any) -> list[dict]:
    """Target vs achieved for every candidate target of *run* (validation episodes)."""
    policy = load_dt(run)
    kwargs = policy.extra["env"]
    out = []
    for target in policy.extra["targets"]:
        res = rollout(
            policy,
            lambda: __import__("rl").make_env(problem, **kwargs),
            target,
            seed=seed,
            episodes=episodes,
            label=label,
        )
        out.append(
            {"target": target, "achieved": res.achieved, "mean_cost": float(res.per_episode.mean())}
        )
    return out


def single_stage(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    problem = scenarios.make("single-stage", lead_time=2, penalty=9.0)
    env_kw = {"max_order": 30}
    n, T = args.episodes, args.periods
    ppo_run = work / "ppo"
    if not (ppo_run / "checkpoint.pt").exists():  # --work keeps it between runs
        train_ppo(problem, args.ppo_steps, ppo_run, args.seed)
    import optimization.policies  # noqa: F401
    from des_supply.policy_registry import make_policy

    level = best_level(problem)
    sets = []
    for k, (policy, params, noise) in enumerate(
        (("myopic", {}, 0.0), ("base-stock", {"level": level}, args.noise), (str(ppo_run), {}, 0.0))
    ):
        out = work / f"data-{k}"
        if out.exists():
            sets.append(out)
            continue
        t0 = time.perf_counter()
        summary = offline.collect(
            problem,
            policy,
            params,
            out=out,
            episodes=n,
            periods=T,
            seed=100 + k,
            noise=noise,
            env_kwargs=env_kw,
        )
        log(
            f"collected {summary['behaviour']}: mean cost {summary['mean_cost']:.3f} "
            f"({time.perf_counter() - t0:.0f} s)"
        )
        sets.append(out)
    mix = work / "mix"
    if not mix.exists():
        merge(sets, mix)
    config = dt_config(args, args.dt_steps)
    runs = {}
    for relabel in ("none", "expected"):
        t0 = time.perf_counter()
        shutil.rmtree(work / f"dt-{relabel}", ignore_errors=True)
        offline.train_dt(
            mix, work / f"dt-{relabel}", config=config, seed=args.seed, relabel=relabel
        )
        log(f"DT ({relabel}) trained in {time.perf_counter() - t0:.0f} s")
        runs[relabel] = work / f"dt-{relabel}"
    # test episodes: seed args.seed; every policy on the same ones
    res_plain = offline.evaluate_dt(
        runs["none"],
        episodes=args.test_episodes,
        seed=args.seed,
        validation_episodes=args.val_episodes,
    )
    res_exp = offline.evaluate_dt(
        runs["expected"],
        episodes=args.test_episodes,
        seed=args.seed,
        validation_episodes=args.val_episodes,
        baselines=False,
    )
    per = {
        "dt": np.array(res_plain["per_episode"]),
        "dt-expected": np.array(res_exp["per_episode"]),
    }
    env = __import__("rl").make_env(problem, **load_dt(runs["none"]).extra["env"])
    behaviours = offline.rebuild_behaviours(load_dt(runs["none"]).extra, problem, T, True)
    behaviours["optimal"] = EnginePolicy(make_policy("optimal", problem, {}), "optimal")
    for name, who in behaviours.items():
        per[name] = run_behaviour(env, who, episodes=args.test_episodes, seed=args.seed)
    episodes = load_episodes(mix)
    data = OfflineData.from_episodes(episodes, env.action_space)
    bc_cfg = BCConfig(total_steps=args.bc_steps, seed=args.seed)
    dt_env = load_dt(runs["none"]).extra["env"]
    make = lambda: __import__("rl").make_env(problem, **dt_env)
    for name, d in (("bc", data), ("filtered-bc", top_episodes(data, 0.1))):
        t0 = time.perf_counter()
        pol = train_bc(d, bc_cfg)
        per[name] = evaluate_agent(
            make, pol, seed=args.seed, episodes=args.test_episodes, name=name
        ).per_episode
        log(f"{name} trained and evaluated in {time.perf_counter() - t0:.0f} s")
    evs = {k: Evaluation.of(k, v) for k, v in per.items()}
    opt = evs["optimal"]
    rows = [gap_row(k, ev, opt) for k, ev in evs.items()]
    behaviour_names = [
        k for k in per if k not in ("dt", "dt-expected", "bc", "filtered-bc", "optimal")
    ]
    best_b = min(behaviour_names, key=lambda k: evs[k].mean)
    vs_best = {
        k: dict(zip(("mean", "lo", "hi"), paired(evs[k], evs[best_b])))
        for k in ("dt", "dt-expected")
    }
    sol = offline.lost_sales_solution(problem)
    label = ExpectedReturnLabels(sol).step
    vseed = args.seed + offline.VALIDATION_OFFSET
    track = {
        "dt": tracking(runs["none"], problem, vseed, args.val_episodes, None),
        "dt-expected": tracking(runs["expected"], problem, vseed, args.val_episodes, label),
    }
    data_returns = {
        b: float(np.mean([e.ret for e in episodes if e.meta["behaviour"] == b]))
        for b in sorted({e.meta["behaviour"] for e in episodes})
    }
    return {
        "problem": problem.describe(),
        "episodes_per_behaviour": n,
        "periods": T,
        "dp_average_cost": sol.average_cost,
        "rows": rows,
        "best_behaviour": best_b,
        "dt_minus_best_behaviour": vs_best,
        "targets": {"dt": res_plain["target"], "dt-expected": res_exp["target"]},
        "validation_scores": {
            "dt": res_plain["validation"]["scores"],
            "dt-expected": res_exp["validation"]["scores"],
        },
        "tracking": track,
        "data_mean_returns": data_returns,
    }


def multi_task(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import optimization.policies  # noqa: F401
    from des_supply.policy_registry import make_policy

    env_kw = {"max_order": 30, "pipeline_length": 4}
    n, T = args.mt_episodes, args.periods
    sets = []
    for L, p in TRAIN_CELLS:
        problem = scenarios.make("single-stage", lead_time=L, penalty=p)
        level = best_level(problem)
        for k, (policy, params, noise) in enumerate(
            (
                ("optimal", {}, 0.0),
                ("myopic", {}, 0.0),
                ("base-stock", {"level": level}, args.noise),
            )
        ):
            out = work / f"mt-{L}-{p:g}-{k}"
            sets.append(out)
            if out.exists():
                continue
            offline.collect(
                problem,
                policy,
                params,
                out=out,
                episodes=n,
                periods=T,
                seed=200 + k,
                noise=noise,
                env_kwargs=env_kw,
            )
        log(f"collected cell ({L}, {p:g})")
    mix = work / "mt-mix"
    if not mix.exists():
        merge(sets, mix)
    config = dt_config(args, args.mt_steps)
    shutil.rmtree(work / "dt-mt", ignore_errors=True)
    t0 = time.perf_counter()
    offline.train_dt(mix, work / "dt-mt", config=config, seed=args.seed)
    log(f"multi-task DT trained in {time.perf_counter() - t0:.0f} s")
    rows = []
    for cells, kind in ((TRAIN_CELLS, "train"), (HELD_OUT, "held-out")):
        for L, p in cells:
            problem = scenarios.make("single-stage", lead_time=L, penalty=p)
            res = offline.evaluate_dt(
                work / "dt-mt",
                episodes=args.test_episodes,
                seed=args.seed,
                validation_episodes=args.val_episodes,
                problem=problem,
                baselines=False,
            )
            env = __import__("rl").make_env(problem, **{**env_kw, "periods": T, "discrete": True})
            opt = Evaluation.of(
                "optimal",
                run_behaviour(
                    env,
                    EnginePolicy(make_policy("optimal", problem, {}), "optimal"),
                    episodes=args.test_episodes,
                    seed=args.seed,
                ),
            )
            row = gap_row(f"({L}, {p:g})", Evaluation.of("dt", np.array(res["per_episode"])), opt)
            row.update(
                {"cell": [L, p], "kind": kind, "optimal_mean": opt.mean, "target": res["target"]}
            )
            rows.append(row)
            log(f"cell ({L}, {p:g}) {kind}: gap {row['gap_pct']:+.2f} %")
    return {
        "train_cells": TRAIN_CELLS,
        "held_out": HELD_OUT,
        "episodes_per_behaviour": n,
        "rows": rows,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny budgets (smoke run)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--episodes", type=int, default=200, help="episodes per behaviour (A)")
    ap.add_argument(
        "--mt-episodes", type=int, default=60, help="episodes per behaviour and cell (B)"
    )
    ap.add_argument("--periods", type=int, default=100)
    ap.add_argument("--noise", type=float, default=2.0)
    ap.add_argument("--ppo-steps", type=int, default=None, help="default: the preset's")
    ap.add_argument("--dt-steps", type=int, default=3000)
    ap.add_argument("--mt-steps", type=int, default=5000)
    ap.add_argument("--bc-steps", type=int, default=3000)
    ap.add_argument("--context", type=int, default=10)
    ap.add_argument(
        "--horizon",
        type=int,
        default=10,
        help="return tokens over the next H epochs (0: to the end of the episode)",
    )
    ap.add_argument("--token", choices=["sum", "average"], default="average")
    ap.add_argument(
        "--work",
        default=None,
        metavar="DIR",
        help="keep datasets and the PPO run here (reused when present)",
    )
    ap.add_argument("--test-episodes", type=int, default=100)
    ap.add_argument("--val-episodes", type=int, default=10)
    ap.add_argument("--skip", choices=["single", "multi"], default=None)
    ap.add_argument("--json", default=None, metavar="FILE")
    args = ap.parse_args()
    if args.quick:
        args.episodes, args.mt_episodes, args.periods = 12, 4, 40
        args.ppo_steps, args.dt_steps, args.mt_steps, args.bc_steps = 4096, 60, 60, 100
        args.test_episodes, args.val_episodes = 6, 3
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    out: dict[str, Any] = {
        "settings": vars(args),
        "platform": platform.platform(),
        "torch": torch.__version__,
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.skip != "single":
            out["single_stage"] = single_stage(args, work)
        if args.skip != "multi":
            out["multi_task"] = multi_task(args, work)
    out["seconds"] = time.perf_counter() - t0
    report(out)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n")


def report(out: dict[str, Any]) -> None:
    if "single_stage" in out:
        s = out["single_stage"]
        print(
            f"\n(A) single stage, lost sales, (L, p) = (2, 9); {s['episodes_per_behaviour']} "
            f"episodes x {s['periods']} periods per behaviour; DP g* = "
            f"{s['dp_average_cost']:.4f}"
        )
        print(f"{'policy':<22}{'mean cost':>10}  {'gap to optimum (paired 95% CI)':>34}")
        for r in sorted(s["rows"], key=lambda r: r["mean"]):
            print(
                f"{r['name']:<22}{r['mean']:>10.4f}  {r['gap_pct']:>+8.2f} % "
                f"[{r['gap_ci95'][0]:+.2f}, {r['gap_ci95'][1]:+.2f}]"
            )
        for k, v in s["dt_minus_best_behaviour"].items():
            print(f"{k} - {s['best_behaviour']}: {v['mean']:+.4f} [{v['lo']:+.4f}, {v['hi']:+.4f}]")
        for k, rows in s["tracking"].items():
            print(
                f"tracking {k}: "
                + "; ".join(f"{r['target']:.3f} -> {r['achieved']:.3f}" for r in rows)
            )
    if "multi_task" in out:
        m = out["multi_task"]
        print(f"\n(B) multi-task DT on {len(m['train_cells'])} Zipkin cells")
        print(f"{'cell (L, p)':<14}{'kind':<10}{'DT':>9}{'optimal':>9}  gap (paired 95% CI)")
        for r in m["rows"]:
            print(
                f"{r['name']:<14}{r['kind']:<10}{r['mean']:>9.4f}{r['optimal_mean']:>9.4f}  "
                f"{r['gap_pct']:+.2f} % [{r['gap_ci95'][0]:+.2f}, {r['gap_ci95'][1]:+.2f}]"
            )
    print(f"\n{out['seconds']:.0f} s")


if __name__ == "__main__":
    main()
