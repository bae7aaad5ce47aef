"""Trajectory datasets and the Decision Transformer on problems: collect, train, evaluate.

    des-supply collect SCENARIO|network.json --policy NAME|RUN_DIR|random [--policy-param k=v]...
                       [--noise STD] [--episodes N] [--periods T] [--seed S] [--max-order Q]
                       --out DIR [--json]
    des-supply train SCENARIO --algo dt --data DIR [--steps N] [--out RUN] [--relabel expected]
    des-supply evaluate RUN          (a DT run: target return chosen on validation seeds)

A dataset (``DIR``) is a Minari dataset (:mod:`rl.trajectories`) that also records the problem
and the env it was logged in; ``train --algo dt`` rebuilds both from it, and ``evaluate``
rolls the model out on common random numbers with every behaviour policy of its data and the
exact optimum where one exists, with paired confidence intervals.

A collaborative problem (seed Section VII) is logged in its PPO env
(:class:`rl.collaborative_env.CollaborativeEnv` with the preset's anchor: the searched
``best-collab-base-stock``), whose action holds every decision (levels, prices, supplier
use, recommendation scores); behaviours give full engine actions and the env encodes them
(:mod:`rl.trajectories`).  ``--noise`` is then in action units (the env's [-1, 1] scale)
and ``random`` draws uniform env actions.  Pricing and recommendation problems are refused
in one line (their envs have no ``encode`` yet).

A multi-task dataset (:func:`rl.trajectories.merge` of datasets of several problems) trains
one model for all of them: each episode's problem parameters that differ between the
problems become task features (log of positive values, standardised over the training
problems), appended to the state.  ``evaluate_dt(run, problem=...)`` evaluates it on any
problem with the same parameters, seen or not.

The functions take and return plain values; the ``add_*`` / ``cmd_*`` pairs are the argparse
side for :mod:`scenarios.cli`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from des_supply.distributions import Distribution
from des_supply.problem import Problem

__all__ = [
    "DEFAULT_PERIODS",
    "add_collect_command",
    "add_dt_train_arguments",
    "behaviour",
    "cmd_collect",
    "cmd_evaluate_dt",
    "cmd_train_dt",
    "collect",
    "dataset_env_kwargs",
    "evaluate_dt",
    "is_dt_run",
    "lost_sales_solution",
    "make_dataset_env",
    "rebuild_behaviours",
    "task_features",
    "train_dt",
]

DEFAULT_PERIODS = 100  # periods per logged episode
VALIDATION_OFFSET = 7_919  # validation seed = test seed + this (targets never see test seeds)
BC_STEPS = 3_000  # training steps of the BC and filtered-BC rows of evaluate_dt


# -- problems and envs --------------------------------------------------------------------------
def dataset_env_kwargs(
    problem: Problem, periods: int, max_order: float | None = None
) -> dict[str, Any]:
    """The env a dataset is logged in: order quantities, whole units (a Discrete or
    MultiDiscrete action) when every demand is integer, else a Box; for a collaborative
    problem the PPO preset's env (anchored on ``best-collab-base-stock``, searched: about
    20 s) with *periods*.  Other markets: ValueError in one line."""
    market = problem.kind.market
    if market == "collaborative":
        if max_order is not None:
            raise ValueError(
                "--max-order does not apply to a collaborative problem (its env orders up to "
                "twice the anchor's level)"
            )
        from .presets import preset

        return {**preset(problem)[1]["env"], "periods": int(periods)}
    if market is not None:
        raise ValueError(
            f"collect on {problem.name!r}: a {market} market is not supported yet (its env "
            "has no encode(Action) for prices or recommendations; collaborative problems are)"
        )
    integer = all(n.demand is None or n.demand.integer for n in problem.network.stock_nodes)
    kwargs: dict[str, Any] = {"periods": int(periods), "discrete": bool(integer)}
    if max_order is not None:
        kwargs["max_order"] = float(max_order) if not integer else int(max_order)
    return kwargs


def _record(problem: Problem) -> dict[str, Any]:
    from .presets import problem_record

    return problem_record(problem)


def _problem(record: Mapping[str, Any]) -> Problem:
    from .presets import problem_from_record

    return problem_from_record(record)


def make_dataset_env(problem: Problem, env_kwargs: Mapping[str, Any]) -> Any:
    """The unwrapped env a dataset of *problem* is logged in (and its DT acts in): a
    :class:`~rl.collaborative_env.CollaborativeEnv` for a collaborative problem, else
    :func:`rl.make_env`; *env_kwargs* as :func:`dataset_env_kwargs` gives them."""
    if problem.kind.market == "collaborative":
        from rl.collaborative_env import make_collaborative_env

        return make_collaborative_env(problem, **env_kwargs)
    import rl

    return rl.make_env(problem, **env_kwargs)


def _make_env(problem: Problem, env_kwargs: Mapping[str, Any]) -> Any:
    return lambda: make_dataset_env(problem, env_kwargs)


def behaviour(
    problem: Problem,
    policy: str,
    params: Mapping[str, Any] | None = None,
    *,
    noise: float = 0.0,
    periods: int = DEFAULT_PERIODS,
    integer: bool = True,
) -> Any:
    """The behaviour policy *policy*: ``random``, a PPO run folder, or a registered policy name
    with *params*; with Gaussian *noise* (units) on its orders when ``noise > 0``."""
    from rl.trajectories import EnginePolicy, NoisyPolicy, RandomOrders

    params = dict(params or {})
    if policy == "random":
        if params:
            raise ValueError(f"policy 'random' takes no parameters, got {sorted(params)}")
        base: Any = RandomOrders(integer=integer)
    elif Path(policy).is_dir():
        base = _run_behaviour(problem, Path(policy), periods)
    else:
        import optimization.policies  # noqa: F401  (registers optimal, myopic, best-...)
        from des_supply.policy_registry import make_policy

        base = EnginePolicy(make_policy(policy, problem, params), policy, params)
    if noise < 0 or not math.isfinite(noise):
        raise ValueError(f"noise(={noise}) must be a finite number >= 0")
    return NoisyPolicy(base, noise, integer) if noise > 0 else base


def _run_behaviour(problem: Problem, run: Path, periods: int) -> Any:
    from rl.ppo import load_agent
    from rl.trajectories import MirroredAgent

    from .presets import make_thunk

    try:
        record = json.loads((run / "run.json").read_text())
    except (OSError, json.JSONDecodeError):
        raise ValueError(f"{run} is not a training run (no readable run.json)") from None
    if record.get("algo", "ppo") != "ppo":
        raise ValueError(f"{run}: only PPO runs act as behaviour policies, not {record['algo']!r}")
    if record["problem"] != _record(problem):
        raise ValueError(f"{run} was trained on {record['problem']}, not on {_record(problem)}")
    spec = {**record["spec"], "env": {**record["spec"]["env"], "periods": int(periods)}}
    return MirroredAgent(
        make_thunk(problem, spec), load_agent(run), f"ppo:{run.name}", {"run": str(run)}
    )


def collect(
    problem: Problem,
    policy: str,
    params: Mapping[str, Any] | None = None,
    *,
    out: str | Path,
    episodes: int = 100,
    periods: int = DEFAULT_PERIODS,
    seed: int = 0,
    noise: float = 0.0,
    max_order: float | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Log *episodes* episodes of *policy* on *problem* into the dataset folder *out*.

    *env_kwargs* override the dataset env's keyword arguments (:func:`dataset_env_kwargs`),
    e.g. ``pipeline_length`` so that datasets of several lead times share one observation
    layout and can be merged."""
    from rl.trajectories import collect as collect_episodes
    from rl.trajectories import load_episodes

    if periods < 1:
        raise ValueError(f"periods(={periods}) must be >= 1")
    if env_kwargs is not None and problem.kind.market == "collaborative":
        kwargs = {**dict(env_kwargs), "periods": int(periods)}  # no search: given
    else:
        kwargs = {**dataset_env_kwargs(problem, periods, max_order), **dict(env_kwargs or {})}
    who = behaviour(
        problem,
        policy,
        params,
        noise=noise,
        periods=periods,
        integer=bool(kwargs.get("discrete", True)),
    )
    env = make_dataset_env(problem, kwargs)
    collect_episodes(
        env,
        who,
        episodes=episodes,
        seed=seed,
        out=out,
        problem=_record(problem),
        env_kwargs=kwargs,
        progress=progress,
    )
    values = [e.meta["value"] for e in load_episodes(out)]
    return {
        "out": str(out),
        "problem": problem.describe(),
        "behaviour": who.name,
        "params": dict(who.params),
        "episodes": episodes,
        "periods": periods,
        "seed": seed,
        "env": kwargs,
        f"mean_{problem.objective}": float(np.mean(values)),
    }


# -- task features and relabelling ----------------------------------------------------------------
def _numeric_params(record: Mapping[str, Any]) -> dict[str, float]:
    from . import registry

    if "scenario" not in record:
        return {}
    defaults = registry.get(str(record["scenario"])).parameters
    full = {**defaults, **dict(record.get("params") or {})}
    return {
        k: float(v)
        for k, v in full.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def task_features(records: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """How to turn a problem into task features, from the training problems *records*: the
    numeric scenario parameters that differ between them, as ``log`` (when all positive)
    standardised over the distinct problems.  None when all problems are the same."""
    distinct = {json.dumps(r, sort_keys=True): r for r in records}
    if len(distinct) < 2:
        return None
    values = [_numeric_params(r) for r in distinct.values()]
    keys = sorted(
        k
        for k in set().union(*values)
        if len({v.get(k) for v in values}) > 1 and all(k in v for v in values)
    )
    if not keys:
        raise ValueError(
            "the dataset mixes problems that differ in no numeric scenario "
            "parameter; a multi-task model needs them as task features"
        )
    logs = [k for k in keys if all(v[k] > 0 for v in values)]
    raw = np.array([[math.log(v[k]) if k in logs else v[k] for k in keys] for v in values])
    std = raw.std(axis=0)
    return {
        "keys": keys,
        "log": logs,
        "mean": raw.mean(axis=0).tolist(),
        "std": np.where(std > 0, std, 1.0).tolist(),
    }


def _features(spec: Mapping[str, Any], record: Mapping[str, Any]) -> np.ndarray:
    values = _numeric_params(record)
    missing = [k for k in spec["keys"] if k not in values]
    if missing:
        raise ValueError(f"problem {record} lacks the task parameter(s) {', '.join(missing)}")
    raw = np.array([math.log(values[k]) if k in spec["log"] else values[k] for k in spec["keys"]])
    return (raw - np.asarray(spec["mean"])) / np.asarray(spec["std"])


def lost_sales_solution(problem: Problem) -> Any:
    """The exact DP solution (with its value function) of a single-stage lost-sales problem
    with Poisson or geometric demand and no unit costs; ValueError naming what does not fit."""
    from optimization.lost_sales import solve_lost_sales

    net = problem.network
    stock = net.stock_nodes
    if len(stock) != 1 or problem.market is not None:
        raise ValueError(
            f"expected-return labels need a single stocking node and no market; "
            f"{problem.name!r} has {len(stock)} stocking nodes"
        )
    node = stock[0]
    edge = net.suppliers(node.name)[0]
    kind = getattr(node.demand, "kind", None)
    if node.shortage != "lost" or kind not in ("poisson", "geometric"):
        raise ValueError(
            f"node {node.name!r}: expected-return labels need lost sales and Poisson "
            f"or geometric demand (shortage {node.shortage!r}, demand {kind!r})"
        )
    if edge.lead_time.constant is None or node.order_cost or edge.unit_cost:
        raise ValueError(
            f"edge {edge.source!r}->{edge.target!r}: expected-return labels need a "
            "deterministic lead time and no unit costs"
        )
    return solve_lost_sales(
        int(edge.lead_time.constant),
        node.holding_cost,
        node.shortage_cost,
        kind,
        float(cast(Distribution, node.demand).mean),  # Poisson or geometric (checked)
        node.fixed_order_cost,
    )


# -- train ----------------------------------------------------------------------------------------
def train_dt(
    data: str | Path,
    out: str | Path,
    *,
    steps: int | None = None,
    seed: int = 1,
    relabel: str = "none",
    config: Any = None,
    resume: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Train a Decision Transformer on the dataset folder *data*; the run goes to *out*
    (``run.json``, ``checkpoint.pt``, ``progress.csv``, ``learning_curve.png``).

    *relabel* ``"expected"`` conditions on expected-return labels
    (:class:`rl.offline.ExpectedReturnLabels`, single-stage lost sales only) instead of the
    realised returns.  *config* is a :class:`rl.decision_transformer.DTConfig` (default: its
    defaults, with the context cut to the episode length); *steps* and *seed* override it."""
    from rl.decision_transformer import DTConfig, OfflineData
    from rl.decision_transformer import train_dt as train
    from rl.trajectories import info, load_episodes

    if relabel not in ("none", "expected"):
        raise ValueError(f"relabel(={relabel!r}) must be 'none' or 'expected'")
    meta = info(data)
    episodes = load_episodes(data)
    if config is None:  # the default context, or the whole episode when episodes are shorter
        config = DTConfig(context=min(DTConfig.context, min(len(e.rewards) for e in episodes)))
    config = dataclasses.replace(
        config, seed=seed, **({"total_steps": int(steps)} if steps is not None else {})
    )
    records = [e.problem for e in episodes]
    tasks = task_features(records)
    first = _problem(records[0])
    kwargs = dict(meta.get("env") or dataset_env_kwargs(first, len(episodes[0].rewards)))
    env = make_dataset_env(first, kwargs)
    rewards = None
    if relabel == "expected":
        from rl.offline import ExpectedReturnLabels
        from rl.offline import relabel as relabelled

        by_problem = {json.dumps(r, sort_keys=True): r for r in records}
        labels = {
            k: ExpectedReturnLabels(lost_sales_solution(_problem(r))) for k, r in by_problem.items()
        }
        fns = {
            k: relabelled(
                [e for e in episodes if json.dumps(e.problem, sort_keys=True) == k], lab, env
            )
            for k, lab in labels.items()
        }
        rewards = lambda e: fns[json.dumps(e.problem, sort_keys=True)](e)
    data_ = OfflineData.from_episodes(
        episodes,
        env.action_space,
        rewards,
        None if tasks is None else (lambda e: _features(tasks, e.problem)),
    )
    # candidate targets: mean reward per epoch of the data's episodes (quantiles), one above
    per_epoch = data_.returns / np.array([len(r) for r in data_.rewards])
    top, q90 = float(per_epoch.max()), float(np.quantile(per_epoch, 0.9))
    targets = sorted(
        {float(np.quantile(per_epoch, q)) for q in (0.1, 0.25, 0.5, 0.75, 0.9, 0.97, 1.0)}
        | {top + 0.5 * (top - q90)}
    )
    extra = {
        "algo": "dt",
        "data": str(Path(data).resolve()),
        "env": kwargs,
        "problem": records[0] if tasks is None else None,
        "tasks": tasks,
        "relabel": relabel,
        "targets": targets,
        "behaviours": sorted(
            {json.dumps([e.meta["behaviour"], e.behaviour_params]) for e in episodes}
        ),
    }
    result = train(data_, config, out, resume=resume, progress=progress, extra=extra)
    from .cli import versions

    run = {
        "algo": "dt",
        "problem": extra["problem"],
        "data": extra["data"],
        "config": dataclasses.asdict(config),
        "relabel": relabel,
        "env": kwargs,
        "tasks": tasks,
        "versions": versions(),
    }
    Path(out, "run.json").write_text(json.dumps(run, indent=2, default=str) + "\n")
    return {
        "out": str(out),
        "steps": result.global_step,
        "seed": config.seed,
        "relabel": relabel,
        "episodes": len(episodes),
        "final_loss": result.history[-1]["loss"] if result.history else None,
    }


def is_dt_run(path: str | Path) -> bool:
    """Whether *path* is a Decision Transformer run folder."""
    try:
        run = json.loads(Path(path, "run.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False  # not a run folder: the caller's own checks say what is wrong
    return isinstance(run, dict) and run.get("algo") == "dt"


# -- evaluate ------------------------------------------------------------------------------------
def rebuild_behaviours(
    extra: Mapping[str, Any], problem: Problem, periods: int, integer: bool
) -> dict[str, Any]:
    """The data's behaviour policies, rebuilt (those that cannot be are skipped)."""
    out = {}
    for text in extra.get("behaviours", []):
        name, params = json.loads(text)
        params = dict(params)
        noise = float(params.pop("noise_std", 0.0))
        base = name[len("noisy-") :] if noise and name.startswith("noisy-") else name
        policy = params.pop("run", None) or base
        try:
            out[name] = behaviour(
                problem, policy, params, noise=noise, periods=periods, integer=integer
            )
        except (ValueError, KeyError) as exc:
            print(f"des-supply: note: behaviour {name!r} not rebuilt: {exc}", file=sys.stderr)
    return out


def evaluate_dt(
    run: str | Path,
    *,
    episodes: int = 20,
    seed: int = 0,
    validation_seed: int | None = None,
    validation_episodes: int | None = None,
    problem: Problem | None = None,
    baselines: bool = True,
    targets: Sequence[float] | None = None,
    bc_steps: int | None = None,
    periods: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Roll the Decision Transformer of *run* out on *episodes* episodes of seed *seed*.

    The target (a mean reward per epoch) is the run's candidate (quantiles of the data's
    episodes, and one above the best) with the best mean on *validation_episodes* episodes of
    *validation_seed* (default ``seed + 7919``; never the test seed).  With *baselines* the
    data's behaviour policies, the exact optimum (where ``optimal`` applies), and behaviour
    cloning and filtered BC (top 10 % of episodes) trained for *bc_steps* steps on the run's
    data (default :data:`BC_STEPS`; 0: none; skipped when the data are gone) run on the same episodes and the result
    has paired 95 % CIs of DT minus each.  *periods* overrides the episode length of
    the run's env (validation and test; default: the data's).  *problem* overrides the run's (required
    for a multi-task run: any problem with the task parameters)."""
    from des_supply.policy_registry import PolicyError
    from rl.decision_transformer import choose_target, load_dt, rollout
    from rl.evaluation import Evaluation, paired
    from rl.trajectories import EnginePolicy, run_behaviour

    policy = load_dt(run)
    extra = policy.extra
    if problem is None:
        if extra.get("problem") is None:
            raise ValueError(f"{run} is a multi-task run: give the problem to evaluate it on")
        problem = _problem(extra["problem"])
    tasks = extra.get("tasks")
    task = None if tasks is None else _features(tasks, _record(problem))
    kwargs = dict(extra["env"])
    if periods is not None:
        kwargs["periods"] = int(periods)
    make_env = _make_env(problem, kwargs)
    label = None
    if extra.get("relabel") == "expected":
        from rl.offline import ExpectedReturnLabels

        label = ExpectedReturnLabels(lost_sales_solution(problem)).step
    vseed = seed + VALIDATION_OFFSET if validation_seed is None else validation_seed
    if vseed == seed:
        raise ValueError("the validation seed must differ from the test seed")
    vepisodes = validation_episodes or min(episodes, 10)
    target, scores = choose_target(
        policy,
        make_env,
        list(targets or extra["targets"]),
        seed=vseed,
        episodes=vepisodes,
        task=task,
        label=label,
    )
    res = rollout(policy, make_env, target, seed=seed, episodes=episodes, task=task, label=label)
    dt = Evaluation.of("dt", res.per_episode)
    rows = [dt]
    if baselines:
        env = make_env()
        others = rebuild_behaviours(
            extra, problem, int(kwargs["periods"]), bool(kwargs.get("discrete", True))
        )
        import optimization.policies  # noqa: F401
        from des_supply.policy_registry import make_policy

        try:
            others.setdefault(
                "optimal", EnginePolicy(make_policy("optimal", problem, {}), "optimal")
            )
        except PolicyError:
            pass
        for name, who in others.items():
            rows.append(
                Evaluation.of(
                    name, run_behaviour(env, who, episodes=episodes, seed=seed, progress=progress)
                )
            )
        bc_steps = BC_STEPS if bc_steps is None else int(bc_steps)
        if bc_steps > 0:
            rows += _cloning_rows(
                extra,
                env.action_space,
                make_env,
                task,
                bc_steps,
                policy.config.seed,
                episodes=episodes,
                seed=seed,
                progress=progress,
            )
    table = []
    for ev in rows:
        row = {"name": ev.name, "mean": ev.mean, "ci95": list(ev.ci95)}
        if ev is not dt:
            mean, lo, hi = paired(dt, ev)
            row["dt_minus"] = {"mean": mean, "ci95": [lo, hi]}
        table.append(row)
    return {
        "run": str(run),
        "problem": problem.describe(),
        "objective": problem.objective,
        "episodes": episodes,
        "seed": seed,
        "periods": int(kwargs["periods"]),
        "validation": {
            "seed": vseed,
            "episodes": vepisodes,
            "scores": {str(k): v for k, v in scores.items()},
        },
        "target": target,
        "achieved": res.achieved,
        "achieved_reward_per_epoch": float(res.returns.mean() / res.epochs),
        "relabel": extra.get("relabel"),
        "rows": table,
        "per_episode": res.per_episode.tolist(),
    }


def _cloning_rows(
    extra: Mapping[str, Any],
    action_space: Any,
    make_env: Any,
    task: np.ndarray | None,
    steps: int,
    train_seed: int,
    *,
    episodes: int,
    seed: int,
    progress: bool,
) -> list[Any]:
    """BC and filtered BC (top 10 %) trained on the DT run's data, evaluated on the test
    episodes; none (with a note) when the data folder is gone."""
    from rl.decision_transformer import OfflineData
    from rl.evaluation import evaluate_agent
    from rl.offline import BCConfig, top_episodes, train_bc
    from rl.trajectories import load_episodes

    try:
        logged = load_episodes(extra["data"])
    except (FileNotFoundError, OSError) as exc:
        print(f"des-supply: note: no BC rows: {exc}", file=sys.stderr)
        return []
    tasks = extra.get("tasks")
    data = OfflineData.from_episodes(
        logged,
        action_space,
        None,
        None if tasks is None else (lambda e: _features(tasks, e.problem)),
    )
    rows = []
    for name, part in (("bc", data), ("filtered-bc", top_episodes(data, 0.1))):
        clone = train_bc(part, BCConfig(total_steps=steps, seed=train_seed)).with_task(task)
        rows.append(
            evaluate_agent(
                make_env, clone, seed=seed, episodes=episodes, name=name, progress=progress
            )
        )
    return rows


# -- argparse -----------------------------------------------------------------------------------
def add_collect_command(subparsers: Any) -> argparse.ArgumentParser:
    """``des-supply collect``: log episodes of a behaviour policy as a Minari dataset."""
    p = subparsers.add_parser("collect", help="log episodes of a policy as a Minari dataset")
    p.add_argument("scenario", help="scenario name or path to a network .json file")
    p.add_argument("--param", action="append", default=[], metavar="K=V")
    p.add_argument(
        "--policy", required=True, help="a registered policy, 'random', or a PPO run folder"
    )
    p.add_argument("--policy-param", action="append", default=[], metavar="K=V")
    p.add_argument(
        "--noise",
        type=float,
        default=0.0,
        help="std of Gaussian noise on the orders (units; on a collaborative problem on the "
        "env's [-1, 1] action scale): a noisy policy",
    )
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--periods", type=int, default=DEFAULT_PERIODS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--max-order",
        type=float,
        default=None,
        help="largest order the dataset's action space holds (default: the env's)",
    )
    p.add_argument("--out", required=True, help="dataset folder (Minari storage in OUT/data)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_collect)
    return p


def add_merge_command(subparsers: Any) -> argparse.ArgumentParser:
    """``des-supply merge``: one mixed dataset from several collects (``rl.trajectories.merge``)."""
    p = subparsers.add_parser(
        "merge", help="one mixed dataset from several datasets (des-supply collect)"
    )
    p.add_argument("datasets", nargs="+", metavar="DIR", help="dataset folders, in order")
    p.add_argument("--out", required=True, help="the merged dataset's folder (must not exist)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_merge)
    return p


def cmd_merge(args: argparse.Namespace) -> None:
    from rl.trajectories import info, load_episodes, merge

    out = Path(args.out)
    if out.exists():
        raise _cli_error(ValueError(f"--out {out} exists: give a new folder"))
    try:
        merge(args.datasets, out)
    except (ValueError, FileNotFoundError, OSError) as exc:
        raise _cli_error(exc) from None
    summary = {**info(out), "episodes": len(load_episodes(out)), "out": str(out)}
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        behaviours = ", ".join(summary.get("behaviours", []))
        print(f"{out}: {summary['episodes']} episodes ({behaviours})")


def add_dt_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The options ``train --algo dt`` adds to the ``train`` parser (``--data``, ``--relabel``)."""
    parser.add_argument("--data", default=None, metavar="DIR", help="dataset folder (--algo dt)")
    parser.add_argument(
        "--relabel",
        choices=["none", "expected"],
        default="none",
        help="--algo dt: condition on realised or expected returns",
    )


def _cli_error(exc: Exception) -> Exception:
    from .cli import CliError

    return CliError(str(exc))


def cmd_collect(args: argparse.Namespace) -> None:
    from rl.env import OrderOutOfRange

    from .cli import load_problem, parse_policy_params

    problem = load_problem(args.scenario, args.param)
    if args.episodes < 1 or args.periods < 1:
        raise _cli_error(ValueError("--episodes and --periods must be >= 1"))
    try:
        from des_supply.policy_registry import PolicyError

        summary = collect(
            problem,
            args.policy,
            parse_policy_params(args.policy_param),
            out=args.out,
            episodes=args.episodes,
            periods=args.periods,
            seed=args.seed,
            noise=args.noise,
            max_order=args.max_order,
            progress=not args.json,
        )
    except OrderOutOfRange as exc:
        raise _cli_error(
            ValueError(
                f"{args.policy} orders {exc.order:g} at node {exc.node!r}, above the dataset "
                f"env's largest order there ({exc.max_order:g}; by default 4 x the mean demand "
                f"reaching the node per review); rerun with --max-order "
                f"{math.ceil(exc.order)} or more"
            )
        ) from None
    except (ValueError, PolicyError, FileNotFoundError) as exc:
        raise _cli_error(exc) from None
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(
            f"collected {args.episodes} episodes of {summary['behaviour']} on {problem.name} "
            f"(mean {problem.objective} per period "
            f"{summary[f'mean_{problem.objective}']:.4f}) in {args.out}"
        )


def cmd_train_dt(args: argparse.Namespace) -> None:
    """``train --algo dt``: the SCENARIO, if given, must be the dataset's problem; with
    ``--resume RUN`` the run goes on from its checkpoint (its data, relabelling and
    configuration; ``--steps`` may raise the total)."""
    from rl.decision_transformer import DTConfig
    from rl.trajectories import load_episodes

    from .cli import load_problem

    if args.steps is not None and args.steps < 1:
        raise _cli_error(ValueError(f"--steps(={args.steps}) must be >= 1"))
    if getattr(args, "resume", None):
        out = Path(args.resume)
        if not is_dt_run(out):
            raise _cli_error(ValueError(f"{out} is not a Decision Transformer run"))
        run = json.loads((out / "run.json").read_text())
        config = DTConfig(**run["config"])
        try:
            summary = train_dt(
                run["data"],
                out,
                steps=args.steps,
                seed=config.seed,
                relabel=run["relabel"],
                config=config,
                resume=True,
                progress=not args.json,
            )
        except (ValueError, FileNotFoundError) as exc:
            raise _cli_error(exc) from None
        _print_trained(args, summary, run["data"], out)
        return
    if not args.data:
        raise _cli_error(ValueError("train --algo dt needs --data DIR (a collected dataset)"))
    name = Path(args.data).name
    out = Path(args.out or f"runs/{name}__dt__{1 if args.seed is None else args.seed}")
    if out.exists() and any(out.iterdir()) and not getattr(args, "overwrite", False):
        raise _cli_error(
            ValueError(
                f"run folder {out} exists; --resume it, --overwrite it or choose another --out"
            )
        )
    try:
        episodes = load_episodes(args.data)
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise _cli_error(exc) from None
    if args.scenario:
        problem = load_problem(args.scenario, getattr(args, "param", []))
        if all(e.problem != _record(problem) for e in episodes):
            raise _cli_error(
                ValueError(f"{args.data} holds no episode of {problem.name} {problem.params or ''}")
            )
    try:
        summary = train_dt(
            args.data,
            out,
            steps=args.steps,
            seed=1 if args.seed is None else args.seed,
            relabel=getattr(args, "relabel", "none"),
            progress=not args.json,
        )
    except ValueError as exc:
        raise _cli_error(exc) from None
    _print_trained(args, summary, args.data, out)


def _print_trained(args: argparse.Namespace, summary: dict[str, Any], data: str, out: Path) -> None:
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(
            f"trained dt on {data} for {summary['steps']} steps (final loss "
            f"{summary['final_loss']:.4f}); checkpoint, progress.csv and learning_curve.png "
            f"in {out}"
        )


def cmd_evaluate_dt(args: argparse.Namespace) -> None:
    """``evaluate RUN`` for a DT run (``is_dt_run(RUN)``); ``--scenario`` picks the problem
    of a multi-task run."""
    from .cli import load_problem

    problem = load_problem(args.scenario, args.param) if getattr(args, "scenario", None) else None
    try:
        res = evaluate_dt(
            args.target,
            episodes=args.episodes,
            seed=args.seed,
            problem=problem,
            progress=not args.json,
        )
    except ValueError as exc:
        raise _cli_error(exc) from None
    if args.json:
        print(json.dumps(res, indent=2, default=str))
        return
    print(
        f"{args.target} on {res['problem']['name']} {res['problem']['params'] or ''}: "
        f"target {res['target']:.4f} per period (chosen on seed {res['validation']['seed']}), "
        f"achieved {res['achieved']:.4f}"
    )
    print(f"{'policy':<24}{'mean':>10}{'95% CI':>22}{'dt - policy (paired)':>34}")
    for row in res["rows"]:
        lo, hi = row["ci95"]
        diff = row.get("dt_minus")
        d = f"{diff['mean']:+.4f} [{diff['ci95'][0]:+.4f}, {diff['ci95'][1]:+.4f}]" if diff else ""
        print(f"{row['name']:<24}{row['mean']:>10.4f}   [{lo:.4f}, {hi:.4f}]{d:>34}")
