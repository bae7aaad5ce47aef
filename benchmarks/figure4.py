"""Figure 4 of the seed paper (Section VII): a Decision Transformer on ``collaborative``.

The seed paper trains a Decision Transformer on past trajectories of the collaborative
production-ordering-pricing-recommendation problem and reports that it "matches the
performance of state-of-the-art algorithms" and "stabilizes inventory".  Here:

1. Data.  A mixed dataset logged in the collaborative env (:mod:`rl.collaborative_env`,
   every decision in one action): the searched reference policy ``best-collab-base-stock``,
   the same with Gaussian noise of ``--noise`` on every action component (the env's
   [-1, 1] scale), a PPO run trained with the preset (``des-supply train collaborative``,
   or ``--ppo-run``) and a few episodes of uniform random actions.
2. Models.  The Decision Transformer for each ``--settings`` entry (return horizon H,
   context K; average return tokens), its target return chosen on validation episodes of
   a seed of their own (``test seed + 7919``), and the setting kept is the one with the
   best validation profit (never a test number); behaviour cloning and filtered BC (top
   10 % of episodes) on the same data.
3. Test.  DT, PPO, BC, filtered BC, every heuristic ``optimize`` lists for the problem and
   the data's noisy and random behaviours on the same ``--test-episodes`` episodes of
   ``--test-periods`` periods (common random numbers; by default the evaluation seed of
   ``des-supply compare collaborative --seed SEED``, so the numbers line up with its
   table); profit per period with 95 % CIs and paired differences against PPO and against
   the best heuristic.
4. Inventory.  Stock on hand per item at every decision epoch of DT, PPO and the
   reference on every test episode: the standard deviation over time (after ``--warmup``
   periods) per item and episode, paired DT - PPO and DT - reference; a plot of the
   paths on the first two test episodes.

Targets (issue 13): DT >= PPO - 1 % (paired CI) and above every heuristic.

Usage::

    python benchmarks/figure4.py --quick                       # smoke run, a few minutes
    python benchmarks/figure4.py --ppo-run runs/collab-ppo \\
        --json benchmarks/results/figure4.json --plot benchmarks/results/figure4_inventory.png
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
_ROOT = str(_HERE.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import scenarios  # noqa: E402
from des_supply.evaluate import confidence_interval, simulate  # noqa: E402
from rl.decision_transformer import DTConfig, OfflineData, choose_target, load_dt  # noqa: E402
from rl.decision_transformer import rollout as dt_rollout  # noqa: E402
from rl.evaluation import Evaluation, evaluate_agent, paired  # noqa: E402
from rl.offline import BCConfig, top_episodes, train_bc  # noqa: E402
from rl.ppo import load_agent  # noqa: E402
from rl.trajectories import load_episodes, merge, run_behaviour  # noqa: E402
from scenarios import offline  # noqa: E402
from scenarios.compare import EVAL_SEED_OFFSET  # noqa: E402
from scenarios.presets import make_thunk  # noqa: E402


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- stock on hand along episodes ----------------------------------------------------------------
class OnHandRecorder(gym.Wrapper):
    """Records the stock on hand of every item at every decision epoch (after the period's
    receipts, before its demand) into ``sink[episode]`` (a list of per-item rows)."""

    def __init__(self, env: gym.Env, sink: dict[int, list[list[float]]]) -> None:
        super().__init__(env)
        self.sink = sink
        self.base: Any = env.unwrapped  # a CollaborativeEnv
        self.rows: list[list[float]] = []

    def _record(self) -> None:
        view = self.base.view
        if view is not None:
            self.rows.append([float(view.on_hand(i)) for i in self.base.items])

    def reset(self, **kwargs: Any) -> Any:
        out = self.env.reset(**kwargs)
        self.rows = []
        self.sink[int(self.base.episode)] = self.rows
        self._record()
        return out

    def step(self, action: Any) -> Any:
        out = self.env.step(action)
        self._record()
        return out


def recorded(make: Callable[[], gym.Env], sink: dict[int, list[list[float]]]) -> Callable:
    return lambda: OnHandRecorder(make(), sink)


def stability(paths: dict[int, list[list[float]]], warmup: int) -> np.ndarray:
    """(episodes, items): standard deviation over time of the stock on hand after *warmup*."""
    return np.array([np.asarray(paths[k][warmup:]).std(axis=0) for k in sorted(paths)])


# -- steps -------------------------------------------------------------------------------------
def ppo_run(args: argparse.Namespace, work: Path) -> Path:
    if args.ppo_run:
        return Path(args.ppo_run)
    out = work / "ppo"
    if (out / "checkpoint.pt").exists():
        return out
    cmd = [sys.executable, "-m", "scenarios.cli", "train", "collaborative", "--algo", "ppo"]
    cmd += ["--seed", str(args.seed), "--out", str(out), "--overwrite", "--json"]
    cmd += ["--steps", str(args.ppo_steps)] if args.ppo_steps else []
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": _ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    log(f"PPO trained with the preset in {time.perf_counter() - t0:.0f} s")
    return out


def datasets(args: argparse.Namespace, problem: Any, ppo: Path, kwargs: dict, work: Path) -> Path:
    mix = work / "mix"
    if mix.exists():
        return mix
    plan = [
        ("ref", "best-collab-base-stock", 0.0, args.episodes),
        ("noisy", "best-collab-base-stock", args.noise, args.episodes),
        ("ppo", str(ppo), 0.0, args.episodes),
        ("random", "random", 0.0, args.random_episodes),
    ]
    sets = []
    for k, (name, policy, noise, n) in enumerate(plan):
        if n < 1:
            continue
        out = work / f"data-{name}"
        if not out.exists():
            t0 = time.perf_counter()
            s = offline.collect(
                problem,
                policy,
                {},
                out=out,
                episodes=n,
                periods=args.periods,
                seed=100 + k,
                noise=noise,
                env_kwargs=kwargs,
            )
            log(
                f"collected {n} x {args.periods} periods of {s['behaviour']}: mean profit "
                f"{s['mean_profit']:.1f} ({time.perf_counter() - t0:.0f} s)"
            )
        sets.append(out)
    merge(sets, mix)
    return mix


def dt_config(args: argparse.Namespace, horizon: int, context: int) -> DTConfig:
    return DTConfig(
        total_steps=args.dt_steps,
        context=context,
        embed_dim=64,
        n_layers=2,
        n_heads=4,
        batch_size=64,
        return_horizon=horizon,
        return_token="average",
        log_interval=100,
        checkpoint_interval=1000,
    )


def train_and_validate(
    args: argparse.Namespace, problem: Any, mix: Path, kwargs: dict, work: Path, val_seed: int
) -> list[dict[str, Any]]:
    """Each DT setting trained on *mix*, its target chosen on the validation episodes."""
    val_env = {**kwargs, "periods": args.val_periods}
    out = []
    for setting in args.settings.split(","):
        horizon, context, *more = (int(x) for x in setting.split(":"))
        steps = more[0] if more else args.dt_steps
        config = dataclasses.replace(dt_config(args, horizon, context), total_steps=steps)
        run = work / f"dt-H{horizon}-K{context}-S{steps}"
        if not (run / "run.json").exists():
            t0 = time.perf_counter()
            # a shorter run of the same setting goes on from its checkpoint (train_dt resumes
            # exactly: the weights an uninterrupted run of *steps* steps would have)
            shorter = sorted(
                (p for p in work.glob(f"dt-H{horizon}-K{context}-S*") if (p / "run.json").exists()),
                key=lambda p: int(p.name.rsplit("S", 1)[1]),
            )
            shorter = [p for p in shorter if int(p.name.rsplit("S", 1)[1]) < steps]
            if shorter:
                shutil.copytree(shorter[-1], run)
            offline.train_dt(
                mix, run, config=config, steps=steps, seed=args.seed, resume=bool(shorter)
            )
            log(f"DT H={horizon} K={context} trained in {time.perf_counter() - t0:.0f} s")
        policy = load_dt(run)
        t0 = time.perf_counter()
        target, scores = choose_target(
            policy,
            lambda: offline.make_dataset_env(problem, val_env),
            policy.extra["targets"],
            seed=val_seed,
            episodes=args.val_episodes,
        )
        log(
            f"DT H={horizon} K={context} ({policy.config.total_steps} steps): target "
            f"{target:.3f}, validation profit "
            f"{scores[target]:.1f} ({time.perf_counter() - t0:.0f} s)"
        )
        out.append(
            {
                "horizon": horizon,
                "context": context,
                "steps": policy.config.total_steps,
                "run": str(run),
                "target": target,
                "validation": {str(k): v for k, v in scores.items()},
                "validation_best": scores[target],
            }
        )
    return out


def heuristics(problem: Any) -> dict[str, Any]:
    """Every runnable policy ``optimize`` lists for the problem (the searched ones)."""
    import optimization.policies  # noqa: F401
    from optimization.policies import optimized

    res = optimized(problem)
    return {b.name: b.policy for b in res.policies if b.policy is not None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny budgets (smoke run)")
    ap.add_argument("--seed", type=int, default=1, help="training seed (PPO, DT, BC)")
    ap.add_argument("--ppo-run", default=None, metavar="DIR", help="a trained PPO run to use")
    ap.add_argument("--ppo-steps", type=int, default=None, help="default: the preset's")
    ap.add_argument("--episodes", type=int, default=24, help="episodes per behaviour")
    ap.add_argument("--random-episodes", type=int, default=4)
    ap.add_argument("--periods", type=int, default=500, help="periods per logged episode")
    ap.add_argument("--noise", type=float, default=0.1, help="std on the env's [-1, 1] scale")
    ap.add_argument("--dt-steps", type=int, default=3000)
    ap.add_argument("--bc-steps", type=int, default=3000)
    ap.add_argument(
        "--settings",
        default="0:10,10:10",
        help="DT settings H:K or H:K:STEPS (return horizon, 0 = to the end; context; "
        "training steps, default --dt-steps), comma-separated",
    )
    ap.add_argument("--test-episodes", type=int, default=20)
    ap.add_argument("--test-periods", type=int, default=1000)
    ap.add_argument("--test-seed", type=int, default=None, help="default: compare's eval seed")
    ap.add_argument("--val-episodes", type=int, default=8)
    ap.add_argument("--val-periods", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=50, help="periods left out of the std")
    ap.add_argument("--work", default=None, metavar="DIR", help="keep runs and data here")
    ap.add_argument("--json", default=None, metavar="FILE")
    ap.add_argument("--plot", default=None, metavar="FILE", help="inventory paths (PNG)")
    args = ap.parse_args()
    if args.quick:
        args.episodes, args.random_episodes, args.periods = 3, 1, 60
        args.ppo_steps = args.ppo_steps or 2048
        args.dt_steps, args.bc_steps, args.settings = 40, 60, "0:5"
        args.test_episodes, args.test_periods = 3, 80
        args.val_episodes, args.val_periods, args.warmup = 2, 40, 10
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    test_seed = EVAL_SEED_OFFSET + args.seed if args.test_seed is None else args.test_seed
    val_seed = test_seed + offline.VALIDATION_OFFSET
    problem = scenarios.make("collaborative")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        kwargs = offline.dataset_env_kwargs(problem, args.periods)
        ppo = ppo_run(args, work)
        mix = datasets(args, problem, ppo, kwargs, work)
        settings = train_and_validate(args, problem, mix, kwargs, work, val_seed)
        chosen = max(settings, key=lambda s: s["validation_best"])
        log(f"chosen on validation: H={chosen['horizon']} K={chosen['context']}")
        result = test(args, problem, ppo, mix, kwargs, chosen, test_seed)
    result.update(
        {
            "settings": vars(args),
            "test_seed": test_seed,
            "validation_seed": val_seed,
            "dt_settings": settings,
            "chosen": {k: chosen[k] for k in ("horizon", "context", "steps", "target")},
            "platform": platform.platform(),
            "torch": torch.__version__,
            "seconds": time.perf_counter() - t_start,
        }
    )
    report(result)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        paths = result.pop("paths")
        Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
        result["paths"] = paths
    if args.plot:
        plot(result, Path(args.plot))


def test(
    args: argparse.Namespace,
    problem: Any,
    ppo: Path,
    mix: Path,
    kwargs: dict,
    chosen: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    n, T = args.test_episodes, args.test_periods
    env_kw = {**kwargs, "periods": T}
    make = lambda: offline.make_dataset_env(problem, env_kw)
    paths: dict[str, dict[int, list[list[float]]]] = {"dt": {}, "ppo": {}, "reference": {}}
    per: dict[str, np.ndarray] = {}
    t0 = time.perf_counter()
    dt = load_dt(chosen["run"])
    res = dt_rollout(dt, recorded(make, paths["dt"]), chosen["target"], seed=seed, episodes=n)
    per["dt"] = res.per_episode
    log(f"DT on {n} test episodes: {res.per_episode.mean():.1f} ({time.perf_counter() - t0:.0f} s)")
    record = json.loads((ppo / "run.json").read_text())
    spec = {**record["spec"], "env": {**record["spec"]["env"], "periods": T}}
    per["ppo"] = evaluate_agent(
        recorded(make_thunk(problem, spec), paths["ppo"]), load_agent(ppo), seed=seed, episodes=n
    ).per_episode
    log(f"PPO: {per['ppo'].mean():.1f}")
    # the anchor (the zero action) is best-collab-base-stock: its paths, checked against simulate
    zero = np.zeros(make().action_space.shape, np.float32)
    anchor = evaluate_agent(
        recorded(make, paths["reference"]), lambda obs: zero, seed=seed, episodes=n
    ).per_episode
    heur = heuristics(problem)
    for name, policy in heur.items():
        per[name] = simulate(problem, policy, periods=T, replications=n, seed=seed).per_replication
        log(f"{name}: {per[name].mean():.1f}")
    np.testing.assert_allclose(anchor, per["best-collab-base-stock"], rtol=1e-9)
    extra = load_dt(chosen["run"]).extra
    env = make()
    for name, who in offline.rebuild_behaviours(extra, problem, T, True).items():
        if name not in per and not name.startswith("ppo:"):
            per[name] = run_behaviour(env, who, episodes=n, seed=seed)
            log(f"{name} (behaviour): {per[name].mean():.1f}")
    data = OfflineData.from_episodes(load_episodes(mix), env.action_space)
    for name, part in (("bc", data), ("filtered-bc", top_episodes(data, 0.1))):
        t1 = time.perf_counter()
        clone = train_bc(part, BCConfig(total_steps=args.bc_steps, seed=args.seed))
        per[name] = evaluate_agent(make, clone, seed=seed, episodes=n, name=name).per_episode
        log(f"{name}: {per[name].mean():.1f} ({time.perf_counter() - t1:.0f} s)")
    evs = {k: Evaluation.of(k, v) for k, v in per.items()}
    best_h = max(heur, key=lambda k: evs[k].mean)
    rows = []
    for k, ev in evs.items():
        row: dict[str, Any] = {"name": k, "mean": ev.mean, "ci95": list(ev.ci95)}
        for ref in ("ppo", best_h):
            if k != ref:
                d, lo, hi = paired(ev, evs[ref])
                scale = 100.0 / evs[ref].mean
                row[f"minus_{ref}"] = {
                    "mean": d,
                    "ci95": [lo, hi],
                    "pct": d * scale,
                    "pct_ci95": [lo * scale, hi * scale],
                }
        rows.append(row)
    stds = {k: stability(v, args.warmup) for k, v in paths.items()}
    items = list(make().items)
    inventory = {
        k: {
            "std_per_item": s.mean(axis=0).tolist(),
            "std_mean": float(s.mean()),
            "mean_on_hand_per_item": [
                float(np.mean([np.mean(np.asarray(p[j][args.warmup :])[:, i]) for j in p]))
                for i in range(len(items))
            ]
            if (p := paths[k])
            else [],
        }
        for k, s in stds.items()
    }
    for ref in ("ppo", "reference"):
        diff = stds["dt"].mean(axis=1) - stds[ref].mean(axis=1)
        inventory[f"dt_minus_{ref}_std"] = list(confidence_interval(diff))
    targets = {
        "dt_vs_ppo_pct_ci95": next(r for r in rows if r["name"] == "dt")["minus_ppo"]["pct_ci95"],
        "dt_within_1pct_of_ppo": bool(
            next(r for r in rows if r["name"] == "dt")["minus_ppo"]["pct_ci95"][1] >= -1.0
        ),
        "dt_above_every_heuristic": bool(
            next(r for r in rows if r["name"] == "dt")["minus_" + best_h]["ci95"][0] > 0
        ),
    }
    return {
        "problem": problem.describe(),
        "episodes": n,
        "periods": T,
        "items": items,
        "best_heuristic": best_h,
        "rows": rows,
        "inventory": inventory,
        "targets": targets,
        "data_mean_profit": {
            b: float(
                np.mean([e.meta["value"] for e in load_episodes(mix) if e.meta["behaviour"] == b])
            )
            for b in sorted({e.meta["behaviour"] for e in load_episodes(mix)})
        },
        "paths": {k: {j: v[j] for j in sorted(v)[:2]} for k, v in paths.items()},
    }


def report(out: dict[str, Any]) -> None:
    print(
        f"\nFigure 4: collaborative, {out['episodes']} test episodes x {out['periods']} periods "
        f"(seed {out['test_seed']}); DT H={out['chosen']['horizon']} K={out['chosen']['context']}"
        f" target {out['chosen']['target']:.3f} (chosen on seed {out['validation_seed']})"
    )
    best = out["best_heuristic"]
    print(f"{'policy':<32}{'profit':>9}  {'vs PPO (paired 95% CI)':>30}  vs {best}")
    for r in sorted(out["rows"], key=lambda r: -r["mean"]):
        cells = []
        for ref in ("ppo", best):
            d = r.get(f"minus_{ref}")
            cells.append(
                f"{d['pct']:+6.2f} % [{d['pct_ci95'][0]:+.2f}, {d['pct_ci95'][1]:+.2f}]"
                if d
                else ""
            )
        print(f"{r['name']:<32}{r['mean']:>9.1f}  {cells[0]:>30}  {cells[1]}")
    inv = out["inventory"]
    for k in ("dt", "ppo", "reference"):
        print(
            f"on-hand std over time ({k}): "
            + ", ".join(f"{i} {s:.2f}" for i, s in zip(out["items"], inv[k]["std_per_item"]))
        )
    for ref in ("ppo", "reference"):
        m, lo, hi = inv[f"dt_minus_{ref}_std"]
        print(f"DT - {ref}, mean std of on hand: {m:+.2f} [{lo:+.2f}, {hi:+.2f}] units")
    print(f"targets: {out['targets']}")
    print(f"{out['seconds']:.0f} s")


def plot(out: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = out["items"]
    episodes = sorted(next(iter(out["paths"].values())))
    fig, axes = plt.subplots(
        len(episodes), len(items), figsize=(4.2 * len(items), 3.0 * len(episodes)), squeeze=False
    )
    window = min(200, out["periods"])
    colors = {"dt": "tab:red", "ppo": "tab:orange", "reference": "tab:blue"}
    labels = {"dt": "Decision Transformer", "ppo": "PPO", "reference": "best-collab-base-stock"}
    for r, ep in enumerate(episodes):
        for c, item in enumerate(items):
            ax = axes[r][c]
            for k in ("reference", "ppo", "dt"):
                series = np.asarray(out["paths"][k][ep])[:window, c]
                ax.plot(series, color=colors[k], lw=1.0, label=labels[k])
            std = {k: out["inventory"][k]["std_per_item"][c] for k in colors}
            ax.set_title(
                f"item {item}, test episode {ep}\nstd over all test episodes: DT {std['dt']:.1f}, "
                f"PPO {std['ppo']:.1f}, ref {std['reference']:.1f}",
                fontsize=8,
            )
            ax.set_xlabel("period")
            ax.set_ylabel("stock on hand (units)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(
        f"collaborative: stock on hand per item, first {window} periods of test episodes "
        f"(DT vs PPO vs reference)",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    log(f"plot in {path}")


if __name__ == "__main__":
    try:
        main()
    except FileNotFoundError as exc:  # an input file named on the command line is not there
        raise SystemExit(f"{Path(__file__).name}: no such file: {exc.filename}") from None
