"""``compare``: the optimum (or a bound), the heuristics and PPO of any problem, on one
table and one plot.

1. Benchmarks: every entry of :func:`optimization.optimize.optimize` that carries a policy
   (the exact optimum where a method applies, the heuristics beside it).  An entry without
   a policy -- a perfect-information bound -- is shown with its value, never evaluated.
2. The searched heuristics (:func:`optimization.search.search_base_stock`, installation and
   echelon levels) where ``optimize`` did not list them (problems without a market), and
   for any problem when ``optimize`` failed (no method, or a solver that gave up; the
   reason is in ``details["optimize_error"]``).
3. PPO trained with :func:`scenarios.presets.preset` for ``steps`` steps (the generic
   preset starts from the cheaper searched base-stock policy).  A problem with no preset
   (a node that orders per supplier: dual sourcing) is compared without PPO, and
   ``details["ppo_skipped"]`` says why.
4. Everything evaluated on the same ``episodes`` episodes of ``periods`` periods from the
   problem's start (common random numbers; an evaluation seed disjoint from training),
   with 95 % CIs and paired differences against the reference: the optimum where it is
   exact, else the best heuristic.  A policy whose evaluation would take longer than
   ``policy_seconds`` (one MIP per period, e.g. ``rolling-horizon``) is evaluated on the
   first episodes that fit the budget (at least 2), and its paired difference is taken
   on those.
5. With a dataset (``dt_data``: a folder ``des-supply collect`` wrote for this problem,
   e.g. a merge of the reference, a noisy reference and a PPO run), a Decision Transformer
   (:data:`DT_CONFIG`) trained on it in ``out_dir/dt``, its target return chosen on
   validation episodes of another seed, evaluated on the same episodes as everything
   else (row ``dt``).  Not by default: collecting a useful dataset (a PPO run among the
   behaviours) and training on it would double the command's time (benchmarks/figure4.py
   does the whole study).
6. ``compare.json``, ``compare.md`` (the table) and ``compare.png`` in ``out_dir``, the
   training run in ``out_dir/ppo`` (with the ``run.json`` that ``des-supply evaluate``
   and ``train --resume`` read).  :func:`figure` puts several results side by side
   (``des-supply compare pricing-a pricing-b pricing-c pricing-d``: the seed paper's
   Figure 1).

Problems with a recommendation market work here too (the optimizer's MIP policies and
base-stock + recommender heuristics, and the Joint IM-RS agent); the seed paper's
Figure 2 study with all its agents is :func:`scenarios.recommendation_study.run_figure2`.
"""

from __future__ import annotations

import json
import math
import textwrap
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
from tqdm.auto import tqdm

from des_supply.evaluate import simulate
from des_supply.executors import Executor
from des_supply.network import Network
from des_supply.policy_registry import policy_entry
from des_supply.problem import Problem, as_problem
from rl.decision_transformer import DTConfig
from rl.evaluation import Evaluation, evaluate_agent, paired
from rl.ppo import PPOConfig

from .extras import flat_rows, optimize_failure_text, optimize_failures, pandas
from .presets import (
    Anchor,
    NoPreset,
    make_thunk,
    preset,
    problem_record,
    search_anchor,
    selection_thunk,
    with_steps,
)

__all__ = ["CompareResult", "compare", "figure"]

EVAL_SEED_OFFSET = 1_000_003  # evaluation episodes never share a root seed with training
DEFAULT_PERIODS = 1_000
DEFAULT_HORIZON = 200.0  # continuous time: evaluation episodes of this many time units
#: The Decision Transformer of the ``dt`` row (``dt_data``): the setting benchmarks/figure4.py
#: kept on validation episodes of ``collaborative`` (return tokens: the mean reward per
#: period over the rest of the episode; context 10; 5,000 steps).  Validation profit per
#: period: this 387.7, 2,500 steps 383.0, 10,000 steps 386.8, tokens over the next 10
#: periods 368.3.
DT_CONFIG = DTConfig(
    total_steps=5_000,
    context=10,
    embed_dim=64,
    n_layers=2,
    n_heads=4,
    return_horizon=0,
    return_token="average",
)


@dataclass
class CompareResult:
    """The rows of one comparison (see :meth:`table`) and where they were written."""

    name: str
    problem: dict[str, Any]  # scenarios.presets.problem_record
    objective: str
    rows: list[dict[str, Any]]
    reference: str
    out_dir: Path
    exact_optimum: float | None = None
    bound: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "problem": self.problem,
            "objective": self.objective,
            "exact_optimum": self.exact_optimum,
            "bound": self.bound,
            "reference": self.reference,
            "rows": self.rows,
            "out_dir": str(self.out_dir),
            **self.details,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CompareResult:
        """Read a result back from ``compare.json``."""
        known = {
            "name",
            "problem",
            "objective",
            "exact_optimum",
            "bound",
            "reference",
            "rows",
            "out_dir",
        }
        return cls(
            data["name"],
            dict(data["problem"]),
            data["objective"],
            list(data["rows"]),
            data["reference"],
            Path(data.get("out_dir", ".")),
            data.get("exact_optimum"),
            data.get("bound"),
            {k: v for k, v in data.items() if k not in known},
        )

    def row(self, name: str) -> dict[str, Any]:
        try:
            return next(r for r in self.rows if r["name"] == name)
        except StopIteration:
            names = ", ".join(r["name"] for r in self.rows)
            raise KeyError(f"no row {name!r} (rows: {names})") from None

    def table(self) -> str:
        """A Markdown table of the rows (and the bound, if any, on the last line)."""
        lines = [
            f"| policy | mean {self.objective}/{self.unit} | 95% CI | vs {self.reference} "
            f"(paired, 95% CI) | gap | optimizer's value |",
            "|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            d = r["vs_reference"]
            vs = f"{d[0]:+.4f} [{d[1]:+.4f}, {d[2]:+.4f}]" if d is not None else "-"
            if d is not None and r["episodes"] < len(self.reference_row["per_episode"]):
                vs += f" (first {r['episodes']} episodes)"
            gap = f"{r['gap_pct']:+.2f}%" if r.get("gap_pct") is not None else "-"
            lines.append(
                f"| {r['name']} | {r['mean']:.4f} | [{r['ci95'][0]:.4f}, "
                f"{r['ci95'][1]:.4f}] | {vs} | {gap} | {_value(r)} |"
            )
        if self.bound is not None:
            lines.append(
                f"| {self.bound['name']} (no policy) | - | - | - | - | {_value(self.bound)} |"
            )
        if self.details.get("ppo_skipped"):
            lines.append(f"\nPPO not trained: {self.details['ppo_skipped']}")
        selected = (self.details.get("ppo") or {}).get("selected")
        if selected:
            start = selected["iteration"] == 0
            lines.append(
                f"\nppo plays the best of its judged policies on {selected['episodes']} "
                f"selection episodes (seed {selected['seed']}): iteration "
                f"{selected['iteration']} of {selected['iterations']}"
                + (
                    ", its starting policy (u = 0 of its action window): no trained policy "
                    "scored better"
                    if start
                    else ""
                )
            )
        return "\n".join(lines)

    @property
    def unit(self) -> str:
        """What the means are per: ``"period"``, or ``"unit time"`` in continuous time."""
        return "unit time" if self.details.get("time") == "continuous" else "period"

    @property
    def reference_row(self) -> dict[str, Any]:
        return self.row(self.reference)

    def to_pandas(self) -> Any:
        """The rows as a pandas DataFrame indexed by policy: ``mean``, ``ci95_low``,
        ``ci95_high``, ``vs_reference`` (paired difference) with its ``_low``/``_high``,
        ``gap_pct``, the optimizer's value, ``episodes`` and ``per_episode`` (a list), and
        the problem's name and objective as columns (pandas is imported here; it comes
        with ``des-supply[all]``)."""
        frame = pandas().DataFrame(flat_rows(self.rows))
        frame.insert(0, "problem", self.name)
        frame.insert(1, "objective", self.objective)
        return frame.set_index("name")


def _value(r: Mapping[str, Any]) -> str:
    v = r.get("optimizer_value")
    if v is None:
        return "-"
    n = r.get("optimizer_periods")
    return f"{v:.4f}" + ("" if n is None else f" ({n}-period paths)")


# -- benchmarks --------------------------------------------------------------------------------
@dataclass
class _Row:
    name: str
    policy: Any
    value: float | None  # what the optimizer promised (None: not computed)
    periods: int | None  # None: a long-run value; else on sampled paths of this length
    method: str
    params: dict[str, Any]


def _benchmarks(
    problem: Problem,
    progress: bool,
    optimize_options: Mapping[str, Any],
    search: Mapping[str, Any] | None,
) -> tuple[list[_Row], bool, dict[str, Any] | None, Anchor | None, dict[str, Any]]:
    """(rows, exact optimum?, bound, anchor of the generic preset, details)."""
    from optimization.optimize import optimize
    from optimization.search import search_base_stock

    details: dict[str, Any] = {}
    rows: list[_Row] = []
    exact, bound = False, None
    try:
        res = optimize(problem, progress=progress, **dict(optimize_options))
    except optimize_failures() as exc:  # no method applies, a solver gave up, or is missing
        details["optimize_error"] = optimize_failure_text(exc)
        res = None
    if res is not None:
        exact = res.optimal.policy is not None and "exact_method_skipped" not in res.details
        details["optimize"] = {
            "optimal": res.optimal.to_dict(),
            **{
                k: v for k, v in res.details.items() if isinstance(v, (str, int, float, list, dict))
            },
        }
        if res.optimal.policy is None:
            b = res.optimal
            bound = {
                "name": b.name,
                "optimizer_value": b.value,
                "optimizer_periods": b.periods,
                "method": b.method,
            }
        seen: list[tuple[str, str, float]] = []
        # continuous time without an exact method: the best searched family leads (a policy)
        lead = exact or problem.network.time == "continuous"
        entries = [res.optimal, *res.policies] if lead else res.policies
        for b in entries:
            # same method, parameters and value: the same policy under a second name; rules
            # without parameters (myopic, myopic-2) share a method but differ in value
            key = (b.method, json.dumps(b.params, sort_keys=True, default=str), b.value)
            if b.policy is None or any(r.name == b.name for r in rows):
                continue
            if key in seen:  # the same policy under a second name (Clark-Scarf's optimum)
                details.setdefault("same_as_listed", []).append(b.name)
                continue
            seen.append(key)
            rows.append(_Row(b.name, b.policy, b.value, b.periods, b.method, dict(b.params)))
    # the searched heuristics, where optimize did not list them (and whenever it failed)
    anchor = None
    if problem.network.time == "continuous" and res is not None:
        # optimize listed the exact optima (and base stock beside them) or levels searched
        # on the continuous engine: the continuous preset starts from those
        from .presets import continuous_anchor

        return rows, exact, bound, continuous_anchor(problem, res), details
    # the searched base-stock heuristics, where they apply (not to a node that orders per
    # supplier: dual sourcing has its own searched heuristics in optimize)
    searchable = policy_entry("base-stock").reason(problem) is None
    if searchable and (problem.kind.market is None or res is None):
        families = ["base-stock"] + (
            ["echelon-base-stock"] if problem.kind.shape not in ("single-stage", "parallel") else []
        )
        known: dict[str, dict[str, float]] = {}
        for family in families:
            listed = next((r for r in rows if r.name == f"best-{family}"), None)
            if listed is not None and isinstance(listed.params.get("level"), Mapping):
                known[family] = dict(listed.params["level"])
                continue
            if listed is not None:
                continue
            found = search_base_stock(
                problem,
                echelon=family == "echelon-base-stock",
                progress=progress,
                **dict(search or {}),
            )
            rows.append(
                _Row(
                    f"best-{family}",
                    found.policy,
                    None,
                    None,
                    "levels searched by simulation (common random numbers)",
                    {"level": dict(found.levels)},
                )
            )
            known[family] = dict(found.levels)
        if problem.kind.market is None and problem.kind.shape != "single-stage":
            # the generic preset's anchor
            anchor = search_anchor(problem, levels=known, search=search)
    return rows, exact, bound, anchor, details


# -- evaluation --------------------------------------------------------------------------------
def _evaluate(
    problem: Problem,
    row: _Row,
    *,
    periods: int,
    seed: int,
    episodes: int,
    processes: int,
    budget: float | None,
    executor: Executor | None = None,
    progress: bool = False,
) -> Evaluation:
    """Row's policy on episodes 0..k-1 (k = episodes, or fewer when over *budget* seconds);
    *progress* names the policy and shows a bar over its episodes."""
    k = episodes
    if budget is not None:
        probe = max(1, min(periods, 20))
        t0 = time.perf_counter()
        simulate(problem, row.policy, periods=probe, replications=1, seed=seed)
        per_episode = (time.perf_counter() - t0) * periods / probe
        workers = executor.workers if executor is not None else max(processes, 1)
        if per_episode * episodes / workers > budget:
            k = int(min(episodes, max(2, budget * workers // max(per_episode, 1e-9))))
    if progress:
        tqdm.write(f"evaluating {row.name} on {k} episodes of {periods:,} periods")
    res = simulate(
        problem,
        row.policy,
        periods=periods,
        replications=k,
        seed=seed,
        processes=processes,
        executor=executor,
        progress=progress,
    )
    return Evaluation.of(row.name, res.per_replication)


def compare(
    problem: Problem | Network,
    *,
    steps: int | None = None,
    seed: int = 1,
    episodes: int = 20,
    periods: float | None = None,
    out_dir: str | Path = "runs",
    progress: bool = True,
    processes: int = 1,
    optimize_options: Mapping[str, Any] | None = None,
    search: Mapping[str, Any] | None = None,
    policy_seconds: float | None = 300.0,
    executor: Executor | None = None,
    dt_data: str | Path | None = None,
    engine: str | None = None,
) -> CompareResult:
    """Train PPO on *problem* and compare it with the optimum (or bound) and the heuristics.

    Parameters
    ----------
    problem : Problem or Network
    steps : int, optional
        PPO training steps (default: the preset's).
    seed : int
        Training seed; the evaluation episodes use ``EVAL_SEED_OFFSET + seed``.
    episodes, periods : int
        Evaluation episodes, and their length (default ``min(1000, problem.periods)``; for
        a continuous-time problem a horizon in time units, default ``min(200,
        problem.periods)``, and PPO runs on the semi-Markov env: costs per unit time).
    processes : int
        Worker processes for the policies' evaluations (without *executor*).
    executor : Executor, optional
        Runs the searches' candidates and the evaluations' episodes
        (:mod:`des_supply.executors`); the numbers do not depend on it.
    optimize_options : mapping, optional
        Keyword arguments of :func:`optimization.optimize.optimize` (``bound_periods``, ...).
    search : mapping, optional
        Keyword arguments of :func:`optimization.search.search_base_stock` for the searched
        heuristics and the generic preset's anchor (``periods``, ``replications``, ...).
    policy_seconds : float or None
        Time budget of one policy's evaluation (module docstring); None: no limit.
    dt_data : path, optional
        A dataset of this problem: adds the Decision Transformer row (module docstring).
    engine : str, optional
        PPO's rollout engine (``PPOConfig.engine``: event, batch or auto); None: the preset's.
    """
    from rl.ppo import load_agent, train

    problem = as_problem(problem)
    if dt_data is not None:
        _check_dt_data(problem, dt_data)
    continuous = problem.network.time == "continuous"
    # continuous time: a horizon in time units (simulate and the semi-Markov env read it so)
    length: Any = (
        float(periods or min(DEFAULT_HORIZON, problem.periods))
        if continuous
        else int(periods or min(DEFAULT_PERIODS, problem.periods))
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    record = problem_record(problem)
    bench, exact, bound, anchor, details = _benchmarks(
        problem,
        progress,
        optimize_options or {},
        {**(search or {}), "executor": executor} if executor is not None else search,
    )
    details["benchmark_seconds"] = time.perf_counter() - started

    eval_seed = EVAL_SEED_OFFSET + seed
    config: PPOConfig | None = None
    spec: dict[str, Any] | None = None
    try:
        config, spec = preset(problem, anchor=anchor, search=search)
    except NoPreset as why:  # compared without PPO, and the table says why
        details["ppo_skipped"] = str(why)
    if config is not None and spec is not None:
        config = replace(with_steps(config, steps), seed=seed)
        if engine is not None:  # PPO's rollout engine (PPOConfig.engine); None: the preset's
            config = replace(config, engine=engine)
        t0 = time.perf_counter()
        (out / "ppo").mkdir(parents=True, exist_ok=True)
        # what `des-supply evaluate DIR` and `train --resume` read (as `des-supply train`
        # writes it)
        (out / "ppo" / "run.json").write_text(
            json.dumps(
                {"problem": record, "algo": "ppo", "spec": spec, "config": asdict(config)},
                indent=2,
                default=str,
            )
            + "\n"
        )
        trained = train(
            make_thunk(problem, spec),
            config,
            out / "ppo",
            progress=progress,
            select_env=selection_thunk(problem, spec),
        )
        details["ppo"] = {
            "steps": trained.global_step,
            "train_seconds": time.perf_counter() - t0,
            "config": asdict(trained.config),
            "anchor": spec.get("anchor"),
        }
        if trained.best is not None:  # PPOConfig.select_every: the row plays the kept policy
            details["ppo"]["selected"] = {
                **trained.best,
                "iterations": trained.config.num_iterations,
            }
        agent = load_agent(trained.out_dir)  # best.pt when the preset keeps the best policy

    evals: list[tuple[Evaluation, _Row | None]] = []
    for row in bench:
        evals.append(
            (
                _evaluate(
                    problem,
                    row,
                    periods=length,
                    seed=eval_seed,
                    episodes=episodes,
                    processes=processes,
                    budget=policy_seconds,
                    executor=executor,
                    progress=progress,
                ),
                row,
            )
        )
    if spec is not None:
        eval_spec = {**spec, "env": {**spec["env"], "horizon" if continuous else "periods": length}}
        evals.append(
            (
                evaluate_agent(
                    make_thunk(problem, eval_spec),
                    agent,
                    seed=eval_seed,
                    episodes=episodes,
                    name="ppo",
                    progress=progress,
                    executor=executor,
                ),
                None,
            )
        )

    methods = {"ppo": "PPO (scenarios.presets)"}
    if dt_data is not None:
        dt_eval, methods["dt"] = _dt_row(
            problem, dt_data, out / "dt", seed, eval_seed, episodes, length, progress
        )
        details["dt"] = {k: v for k, v in dt_eval.items() if k not in ("rows", "per_episode")}
        evals.append((Evaluation.of("dt", np.asarray(dt_eval["per_episode"])), None))

    sign = 1.0 if problem.objective == "cost" else -1.0
    full = [(e, r) for e, r in evals if r is not None and len(e.per_episode) == episodes]
    if exact:
        reference = evals[0][0]  # the optimum is the first benchmark when it is exact
    elif full:
        reference = min((e for e, _ in full), key=lambda e: sign * e.mean)
    else:
        reference = evals[-1][0]
    rows = []
    for e, r in evals:
        if e is reference:
            diff = None
        else:
            n = min(len(e.per_episode), len(reference.per_episode))
            diff = paired(
                Evaluation.of(e.name, e.per_episode[:n]),
                Evaluation.of(reference.name, reference.per_episode[:n]),
            )
        ref_mean = float(np.mean(reference.per_episode[: len(e.per_episode)]))
        gap = (
            100 * sign * diff[0] / abs(ref_mean)
            if diff is not None and ref_mean
            else 0.0
            if e is reference
            else None
        )
        rows.append(
            {
                "name": e.name,
                "mean": e.mean,
                "ci95": list(e.ci95),
                "episodes": len(e.per_episode),
                "optimizer_value": r.value if r is not None else None,
                "optimizer_periods": r.periods if r is not None else None,
                "method": r.method if r is not None else methods[e.name],
                "params": r.params if r is not None else {},
                "vs_reference": list(diff) if diff is not None else None,
                "gap_pct": gap,
                "per_episode": e.per_episode.tolist(),
            }
        )
    result = CompareResult(
        problem.name,
        record,
        problem.objective,
        rows,
        reference.name,
        out,
        rows[0]["optimizer_value"] if exact else None,
        bound,
        {
            "kind": str(problem.kind),
            "time": problem.network.time,
            "seed": seed,
            "eval_seed": eval_seed,
            "episodes": episodes,
            "periods": length,
            **details,
            "seconds": time.perf_counter() - started,
        },
    )
    (out / "compare.json").write_text(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    (out / "compare.md").write_text(result.table() + "\n")
    _plot(result, out / "compare.png", out / "ppo" / "progress.csv", details.get("ppo_skipped"))
    return result


def _check_dt_data(problem: Problem, data: str | Path) -> None:
    """Refuse, before anything runs, a dataset that cannot give *problem* a DT row."""
    from rl.trajectories import load_episodes

    if problem.network.time == "continuous":
        raise ValueError("the Decision Transformer row needs a periodic problem")
    record = problem_record(problem)
    if all(e.problem != record for e in load_episodes(data)):
        raise ValueError(f"dataset {data} holds no episode of {problem.name} ({record})")


def _dt_row(
    problem: Problem,
    data: str | Path,
    run: Path,
    seed: int,
    eval_seed: int,
    episodes: int,
    periods: int,
    progress: bool,
) -> tuple[dict[str, Any], str]:
    """The Decision Transformer trained on *data* (into *run*) and evaluated on the compare
    episodes (``offline.evaluate_dt``, no baselines: they are the other rows); its method."""
    from . import offline

    offline.train_dt(data, run, config=DT_CONFIG, seed=seed, progress=progress)
    res = offline.evaluate_dt(
        run,
        episodes=episodes,
        seed=eval_seed,
        problem=problem,
        baselines=False,
        periods=periods,
        progress=progress,
    )
    method = (
        f"Decision Transformer on {Path(data).name} (target {res['target']:.4g} per period, "
        f"chosen on seed {res['validation']['seed']})"
    )
    return res, method


# -- plots -------------------------------------------------------------------------------------
def _bars(ax: Any, result: CompareResult) -> str | None:
    """Bars with 95% CIs on *ax*; returns a note for the axis label when the bound is not
    drawn (it was computed on other paths)."""
    names = [r["name"] for r in result.rows]
    means = np.array([r["mean"] for r in result.rows])
    lo = means - np.array([r["ci95"][0] for r in result.rows])
    hi = np.array([r["ci95"][1] for r in result.rows]) - means
    colors = [
        "tab:orange" if n == "ppo" else "tab:gray" if n == "optimal" else "tab:blue" for n in names
    ]
    ax.barh(
        names,
        means,
        xerr=[np.nan_to_num(lo), np.nan_to_num(hi)],
        color=colors,
        alpha=0.85,
        capsize=3,
    )
    for i, r in enumerate(result.rows):
        if r.get("optimizer_value") is not None and r.get("optimizer_periods") is None:
            ax.plot([r["optimizer_value"]], [i], marker="|", color="black", markersize=14)
    if result.exact_optimum is not None:
        ax.axvline(
            result.exact_optimum,
            ls="--",
            color="black",
            lw=1,
            label=f"exact optimum {result.exact_optimum:.3f}",
        )
    # a bound on shorter sampled paths from the start state carries more of the start-up per
    # period than these episodes do: it bounds those paths, not the bars, so it is not drawn
    bound, note = result.bound, None
    paths = bound.get("optimizer_periods") if bound is not None else None
    if bound is not None and paths is not None and paths != result.details.get("periods"):
        note = (
            f"{bound['name']} {bound['optimizer_value']:.3f} is on {paths}-period paths from "
            "the start state, not these episodes: not drawn (see the table)"
        )
        bound = None
    if bound is not None:
        ax.axvline(
            bound["optimizer_value"],
            ls=":",
            color="black",
            lw=1,
            label=f"{bound['name']} {bound['optimizer_value']:.3f}",
        )
    if result.exact_optimum is not None or bound is not None:
        ax.legend(fontsize="small", loc="lower right")
    ordinary = _ordinary(means, result.reference_row["mean"])
    lines = [
        v
        for v in (result.exact_optimum, bound["optimizer_value"] if bound is not None else None)
        if v is not None and np.isfinite(v)
    ]
    shown = np.concatenate([means[ordinary], lines])
    if len(shown):
        low, high = shown.min(), shown.max()
        span = high - low
        ax.set_xlim(low - 0.5 * span - 1e-9, high + 0.3 * span + 1e-9)
        right = ax.get_xlim()[1]
        for j in np.flatnonzero(~ordinary & np.isfinite(means)):  # far off: say so, with the value
            ax.annotate(
                f"off scale: {means[j]:.4g}",
                (right, j),
                xytext=(-4, 0),
                textcoords="offset points",
                ha="right",
                va="center",
                fontsize="small",
                bbox={"boxstyle": "round", "fc": "white", "ec": "tab:red"},
            )
    ax.invert_yaxis()
    return note


def _ordinary(means: np.ndarray, reference: float, factor: float = 10.0) -> np.ndarray:
    """Rows whose distance to the reference is at most *factor* times the median distance:
    the axis is scaled to them, so one policy far off (e.g. an MPC that lets backlog grow)
    does not flatten every other bar; the others are marked off scale."""
    distance = np.abs(means - reference)
    typical = np.median(distance[np.isfinite(distance)]) if np.isfinite(distance).any() else 0.0
    if typical <= 0:
        return np.isfinite(means)
    return np.isfinite(means) & (distance <= factor * typical)


def _plot(result: CompareResult, path: Path, progress_csv: Path, no_ppo: str | None = None) -> None:
    """Bars with 95% CIs for every policy, and PPO's learning curve."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    fig = Figure(figsize=(11, 4.5))
    ax, curve = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
    note = _bars(ax, result)
    params = result.problem.get("params") or {}
    ax.set(
        xlabel=f"mean {result.objective} per {result.unit}, cost units (bars: 95% CI; |: long-run value)"
        + (f"\n{textwrap.fill(note, 60)}" if note else ""),
        title=f"{result.name}: {', '.join(f'{k}={v}' for k, v in params.items())}"
        if params
        else f"{result.name}: default parameters",
    )
    points = 0
    if progress_csv.exists():
        data = np.genfromtxt(progress_csv, delimiter=",", names=True)
        names = data.dtype.names  # a structured array (names=True)
        if data.size > 1 and "episodic_return_mean" in cast(tuple[str, ...], names):
            ok = np.isfinite(data["episodic_return_mean"])
            curve.plot(data["global_step"][ok], data["episodic_return_mean"][ok], marker=".")
            points = int(ok.sum())
            selected = (result.details.get("ppo") or {}).get("selected")
            if selected and points >= 2:  # where the policy the ppo row plays was judged best
                curve.axvline(
                    selected["global_step"],
                    ls=":",
                    color="tab:orange",
                    label=f"kept policy (iteration {selected['iteration']})",
                )
                curve.legend(fontsize="small", loc="lower right")
    if points < 2:  # say why the panel is empty rather than leave blank axes
        curve.text(
            0.5,
            0.5,
            "PPO not trained:\n" + textwrap.fill(no_ppo, 38)
            if no_ppo
            else "too few finished episodes\nfor a learning curve\n(train longer: --steps)",
            ha="center",
            va="center",
            transform=curve.transAxes,
            color="0.4",
        )
    curve.set(
        xlabel="training steps",
        ylabel="episodic return (shifted, scaled)",
        title="PPO learning curve",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def figure(results: list[CompareResult], out_dir: str | Path) -> Path:
    """One panel per result (mean per period with 95% CIs, long-run values as ticks) in
    ``out_dir/figure.png``, and the tables in ``out_dir/figure.md``."""
    from matplotlib.figure import Figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n = len(results)
    cols = min(n, 2)
    rows_n = math.ceil(n / cols)
    fig = Figure(figsize=(6.5 * cols, 3.6 * rows_n))
    axes = np.atleast_1d(fig.subplots(rows_n, cols)).ravel()
    for ax, res in zip(axes, results):
        note = _bars(ax, res)
        ax.set(
            xlabel=f"mean {res.objective} per {res.unit}, cost units (95% CI; |: long-run value)"
            + (f"\n{textwrap.fill(note, 60)}" if note else ""),
            title=res.name,
        )
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    path = out / "figure.png"
    fig.savefig(path, dpi=110)
    (out / "figure.md").write_text(
        "\n\n".join(f"## {r.name}\n\n{r.table()}" for r in results) + "\n"
    )
    return path
