"""``compare``: the optimum (or bound), each heuristic and PPO on one table and one plot.

1. Benchmarks: the exact optimum and heuristics of :func:`optimization.optimize.optimize`
   where the scenario has an exact method, otherwise base-stock levels searched by
   simulation (:func:`optimization.search.search_base_stock`).  Scenarios with a
   market model (pricing) get :func:`optimization.pricing_dp.optimize_pricing`: the
   DP optimum where the state is finite and the tuned pricing heuristics, all run
   with the scenario's market; the objective is then profit.
2. PPO trained with the scenario's preset (:mod:`rl.presets`) for ``steps`` steps.
3. Everything evaluated on the same ``episodes`` evaluation episodes of ``periods``
   periods (common random numbers; an evaluation seed disjoint from training),
   with 95% CIs and paired differences against the optimal policy (or the best
   heuristic).
4. ``compare.json``, ``compare.md`` (the table) and ``compare.png`` in ``out_dir``,
   the training run in ``out_dir/ppo``.  :func:`figure` puts several results side by
   side (``des-supply compare pricing-a pricing-b pricing-c pricing-d``: the seed
   paper's Figure 1).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from des_supply.sim import objective_of

from .evaluation import Evaluation, evaluate_agent, evaluate_policy, paired

__all__ = ["CompareResult", "compare", "figure"]

EVAL_SEED_OFFSET = 1_000_003  # evaluation episodes never share a root seed with training


@dataclass
class CompareResult:
    scenario: str
    params: dict[str, Any]
    objective: str
    rows: list[dict[str, Any]]
    exact_optimum: float | None
    reference: str
    out_dir: Path
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "params": self.params, "objective": self.objective,
                "exact_optimum": self.exact_optimum, "reference": self.reference,
                "rows": self.rows, "out_dir": str(self.out_dir), **self.details}

    def table(self) -> str:
        """A Markdown table of the rows."""
        head = (f"| policy | mean {self.objective}/period | 95% CI | vs {self.reference} "
                f"(paired, 95% CI) | gap | long-run value |\n|---|---|---|---|---|---|")
        lines = [head]
        for r in self.rows:
            d = r["vs_reference"]
            vs = f"{d[0]:+.4f} [{d[1]:+.4f}, {d[2]:+.4f}]" if d is not None else "-"
            exact = f"{r['exact']:.4f}" if r.get("exact") is not None else "-"
            gap = f"{r['gap_pct']:+.2f}%" if r.get("gap_pct") is not None else "-"
            lines.append(f"| {r['name']} | {r['mean']:.4f} | [{r['ci95'][0]:.4f}, "
                         f"{r['ci95'][1]:.4f}] | {vs} | {gap} | {exact} |")
        return "\n".join(lines)


def _benchmarks(scenario: str, params: dict[str, Any], network: Any,
                progress: bool) -> tuple[list[tuple[str, Any, float | None]], float | None, str]:
    """(name, engine policy, exact long-run value) for the optimum and heuristics."""
    from optimization.optimize import OptimizeError, optimize

    try:
        res = optimize(scenario, params, progress=progress)
    except OptimizeError:
        from optimization.search import search_base_stock

        found = search_base_stock(network, progress=progress)
        return [("best-base-stock (searched)", found.policy, None)], None, "best-base-stock (searched)"
    rows = [("optimal", res.optimal.policy, res.optimal.value)]
    rows += [(b.name, b.policy, b.value) for b in res.policies if b.policy is not None]
    return rows, res.optimal.value, "optimal"


def _pricing_benchmarks(scenario: str, params: dict[str, Any],
                        progress: bool) -> tuple[list[tuple[str, Any, float | None]], float | None,
                                                 str, dict[str, Any]]:
    """DP optimum (where the state is finite) and the tuned pricing heuristics."""
    from optimization.pricing_dp import optimize_pricing

    res = optimize_pricing(scenario, params, progress=progress)
    exact = "no_exact_method" not in res.details
    rows: list[tuple[str, Any, float | None]] = []
    if exact:
        rows.append(("optimal (DP)", res.optimal.policy, res.optimal.value))
    labels = {"bslp": "BSLP", "ssp": "(s,S,p)", "myopic": "Myopic",
              "list-price": "list price + base-stock"}
    for b in res.policies:
        rows.append((labels.get(b.name, b.name), b.policy, b.value if exact else None))
    if exact:
        reference = "optimal (DP)"
    else:
        reference = labels.get(max(res.policies, key=lambda b: b.value).name)
    details = {"benchmarks": [b.to_dict() for b in [res.optimal, *res.policies]], **res.details}
    return rows, (res.optimal.value if exact else None), reference, details


def compare(scenario: str, params: dict[str, Any] | None = None, *, steps: int | None = None,
            seed: int = 1, episodes: int = 20, periods: int = 1_000, out_dir: str | Path = "runs",
            progress: bool = True, processes: int = 1) -> CompareResult:
    """Train PPO on *scenario* and compare it with the optimum and the heuristics."""
    import scenarios

    from .ppo import load_agent, train
    from .presets import make_thunk, preset

    params = dict(params or {})
    network = scenarios.make(scenario, **params).network
    market = scenarios.make_market(scenario, **params)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    extra: dict[str, Any] = {}
    if market is None:
        bench, optimum, reference = _benchmarks(scenario, params, network, progress)
    else:
        bench, optimum, reference, extra = _pricing_benchmarks(scenario, params, progress)

    config, spec = preset(scenario, params)
    config = replace(config, seed=seed, **({"total_steps": steps} if steps else {}))
    t0 = time.perf_counter()
    (out / "ppo").mkdir(parents=True, exist_ok=True)
    # what `des-supply evaluate DIR` and `train --resume` read (as `des-supply train` writes it)
    (out / "ppo" / "run.json").write_text(json.dumps(
        {"scenario": scenario, "params": params, "algo": "ppo", "spec": spec,
         "config": asdict(config)}, indent=2, default=str) + "\n")
    trained = train(make_thunk(scenario, params, spec), config, out / "ppo", progress=progress)
    train_seconds = time.perf_counter() - t0
    agent = load_agent(trained.out_dir)

    eval_seed = EVAL_SEED_OFFSET + seed
    eval_spec = {**spec, "env": {**spec["env"], "periods": periods}}
    evals: list[tuple[Evaluation, float | None]] = []
    for name, policy, exact in bench:
        ev = evaluate_policy(network, policy, periods=periods, seed=eval_seed, episodes=episodes,
                             name=name, processes=processes,
                             market=scenarios.make_market(scenario, **params))
        evals.append((ev, exact))
    evals.append((evaluate_agent(make_thunk(scenario, params, eval_spec), agent, seed=eval_seed,
                                 episodes=episodes, name="ppo", progress=progress), None))
    ref = next(e for e, _ in evals if e.name == reference)
    objective = objective_of(network, market)
    sign = 1.0 if objective == "cost" else -1.0
    rows = []
    for e, exact in evals:
        diff = paired(e, ref) if e is not ref else None
        gap = 100 * sign * diff[0] / abs(ref.mean) if diff is not None and ref.mean else (
            0.0 if e is ref else None)
        rows.append({"name": e.name, "mean": e.mean, "ci95": list(e.ci95), "exact": exact,
                     "vs_reference": list(diff) if diff is not None else None, "gap_pct": gap,
                     "per_episode": e.per_episode.tolist()})
    result = CompareResult(scenario, params, objective, rows, optimum, reference, out, {
        "seed": seed, "eval_seed": eval_seed, "episodes": episodes, "periods": periods,
        "ppo": {"steps": trained.global_step, "train_seconds": train_seconds,
                "config": asdict(trained.config)},
        **extra,
        "seconds": time.perf_counter() - started})
    (out / "compare.json").write_text(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    (out / "compare.md").write_text(result.table() + "\n")
    _plot(result, out / "compare.png", out / "ppo" / "progress.csv")
    return result


def _plot(result: CompareResult, path: Path, progress_csv: Path) -> None:
    """Bars with 95% CIs for every policy, and PPO's learning curve."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    fig = Figure(figsize=(11, 4.5))
    ax, curve = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
    names = [r["name"] for r in result.rows]
    means = np.array([r["mean"] for r in result.rows])
    lo = means - np.array([r["ci95"][0] for r in result.rows])
    hi = np.array([r["ci95"][1] for r in result.rows]) - means
    colors = ["tab:orange" if n == "ppo" else "tab:blue" for n in names]
    ax.barh(names, means, xerr=[lo, hi], color=colors, alpha=0.8, capsize=3)
    if result.exact_optimum is not None:
        ax.axvline(result.exact_optimum, ls="--", color="black", lw=1,
                   label=f"exact optimum {result.exact_optimum:.3f}")
        ax.legend(fontsize="small", loc="lower right")
    finite = means[np.isfinite(means)]
    if len(finite):
        span = finite.max() - finite.min()
        ax.set_xlim(finite.min() - 0.5 * span - 1e-9, finite.max() + 0.3 * span + 1e-9)
    ax.set(xlabel=f"mean {result.objective} per period (95% CI)",
           title=f"{result.scenario} {result.params or ''}")
    ax.invert_yaxis()
    if progress_csv.exists():
        data = np.genfromtxt(progress_csv, delimiter=",", names=True)
        if data.size and "episodic_return_mean" in data.dtype.names:
            ok = np.isfinite(data["episodic_return_mean"])
            curve.plot(data["global_step"][ok], data["episodic_return_mean"][ok])
    curve.set(xlabel="training steps", ylabel="episodic return (scaled)", title="PPO learning curve")
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
    rows_n = (n + cols - 1) // cols
    fig = Figure(figsize=(6.5 * cols, 3.6 * rows_n))
    axes = np.atleast_1d(fig.subplots(rows_n, cols)).ravel()
    for ax, res in zip(axes, results):
        names = [r["name"] for r in res.rows]
        means = np.array([r["mean"] for r in res.rows])
        lo = means - np.array([r["ci95"][0] for r in res.rows])
        hi = np.array([r["ci95"][1] for r in res.rows]) - means
        colors = ["tab:orange" if nm == "ppo" else "tab:gray" if nm.startswith("optimal")
                  else "tab:blue" for nm in names]
        ax.barh(names, means, xerr=[lo, hi], color=colors, alpha=0.85, capsize=3)
        for i, r in enumerate(res.rows):
            if r.get("exact") is not None:
                ax.plot([r["exact"]], [i], marker="|", color="black", markersize=14)
        ax.invert_yaxis()
        ax.set(xlabel=f"mean {res.objective} per period (95% CI; | long-run value)",
               title=res.scenario)
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    path = out / "figure.png"
    fig.savefig(path, dpi=110)
    (out / "figure.md").write_text("\n\n".join(f"## {r.scenario}\n\n{r.table()}" for r in results)
                                   + "\n")
    return path
