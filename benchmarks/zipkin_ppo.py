"""PPO on the batch engine against the DP optimum on Zipkin's 16 lost-sales cells.

Zipkin (2008, "Old and new methods for lost-sales inventory systems", Oper. Res. 56(5))
tabulates a single-stage lost-sales system with Poisson(5) demand, holding cost 1 and
lead times L = 1..4 against lost-sales penalties p = 4, 9, 19, 39.  Per cell this script

1. solves the cell exactly (``optimization.optimize``: the lost-sales DP, and the
   heuristics with their exact long-run costs); the best heuristic is the one with the
   lowest exact cost;
2. trains PPO (``rl.ppo.train``, ``engine="batch"``: the n_envs copies advance in lockstep
   on the batch engine) for each seed with the single-stage preset of
   ``scenarios.presets.preset``.  The preset is a function of (L, p) only (an order-up-to
   window around the best searched base-stock level; from L = 3 a level and a cap around
   the exact best capped base-stock policy; 600k steps for L <= 2 and 1.5M otherwise);
   it was set on (L, p) = (2, 9) and (4, 39) and on the validation episodes
   (``--validation``), and nothing here is tuned on the evaluation episodes below.  A
   run stops early, with ``stopped_by_budget``, if it reaches ``--budget-minutes`` of
   wall time;
3. evaluates the deterministic PPO policy, the DP policy and the best heuristic on the
   same ``--eval-episodes`` episodes of ``--eval-periods`` periods (common random
   numbers: episode k is replication k of ``des_supply.evaluate.simulate(..., seed=
   EVAL_SEED)``; the training episodes come from other seeds), dropping the first
   ``--warmup`` periods of each.  The gap is

       gap = mean(cost_PPO) / mean(cost_DP) - 1,

   with a paired 95 % confidence interval from the per-episode differences
   (``gap_ci95`` is its half-width, relative to the DP's mean cost); ``gap_exact`` is
   against the DP's exact long-run cost instead of its simulated one.

Wall time and CPU time (this process, ``time.process_time``) of training are reported
side by side: the machine is shared, so wall time depends on the load (``load_average``
is recorded with every run).

Usage::

    python benchmarks/zipkin_ppo.py --quick                         # smoke run, ~20 s
    python benchmarks/zipkin_ppo.py --seeds 1 --json benchmarks/results/zipkin_ppo_s1.json
    python benchmarks/zipkin_ppo.py --seeds 2, --cells 1:4,2:9 --json part.json   # seed 2 only
    python benchmarks/zipkin_ppo.py --report benchmarks/results/zipkin_ppo_*.json

``--json`` is rewritten after every run (a stopped sweep keeps what finished, and
running again with the same file skips the (cell, seed) pairs it already holds);
``--report`` merges any number of such files and prints the table (Markdown with
``--markdown``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path and benchmarks/rl.py would
# shadow the `rl` package.  Drop that folder.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
_ROOT = str(_HERE.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import numpy as np  # noqa: E402

from des_supply.evaluate import confidence_interval  # noqa: E402

LEAD_TIMES = (1, 2, 3, 4)
PENALTIES = (4.0, 9.0, 19.0, 39.0)
EVAL_SEED = 10_000  # evaluation episodes: replications of this root (PPO trains on others)
#: validation episodes (``--validation``): settings are chosen on these, never on EVAL_SEED's
VALIDATION_SEED = 20_000
#: selection episodes (``--select-every``): the best policy of a run is chosen on these
SELECT_SEED = 30_000
TARGET_GAP = 0.01  # issue 15: within 1 % of the DP optimum
TARGET_MINUTES = 15.0  # issue 15: each run at most 15 minutes on 2 cores


def cell_key(L: int, p: float) -> str:
    return f"L={L},p={p:g}"


def parse_cells(text: str | None) -> list[tuple[int, float]]:
    """``"1:4,2:9"`` -> [(1, 4.0), (2, 9.0)]; None -> all 16 cells."""
    if not text:
        return [(L, p) for L in LEAD_TIMES for p in PENALTIES]
    cells = []
    for part in text.split(","):
        try:
            L_text, p_text = part.split(":")
            cell = (int(L_text), float(p_text))
        except ValueError:
            raise SystemExit(f"--cells: {part!r} is not L:p (e.g. 2:9)") from None
        if cell[0] < 1 or cell[1] <= 0:
            raise SystemExit(f"--cells: {part!r} needs L >= 1 and p > 0")
        cells.append(cell)
    return cells


def parse_seeds(text: str) -> list[int]:
    """``"3"`` -> [1, 2, 3]; ``"2,3"`` -> [2, 3]; ``"2,"`` -> [2] (one seed)."""
    try:
        if "," not in text:
            n = int(text)
            if n < 1:
                raise ValueError
            return list(range(1, n + 1))
        seeds = [int(s) for s in text.split(",") if s.strip()]
        if not seeds:
            raise ValueError
    except ValueError:
        raise SystemExit(f"--seeds: {text!r} is a count (3) or a list (2,3)") from None
    if any(s < 0 for s in seeds):
        raise SystemExit(f"--seeds: {text!r} has a negative seed")
    return seeds


def log(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)


# -- the references: DP optimum and the best heuristic ------------------------------------------
@dataclasses.dataclass
class Reference:
    """One cell solved exactly, and its DP policy and best heuristic simulated on the
    evaluation episodes (mean cost per period after the warm-up, per episode)."""

    L: int
    p: float
    problem: Any
    optimal_value: float
    heuristic: str
    heuristic_value: float
    heuristics: dict[str, float]
    params: dict[str, dict[str, float]]
    dp: np.ndarray
    heur: np.ndarray
    seconds: float

    @classmethod
    def solve(cls, L: int, p: float, eval_kw: dict[str, int]) -> Reference:
        import scenarios
        from des_supply.evaluate import simulate
        from optimization.optimize import optimize

        t0 = time.perf_counter()
        problem = scenarios.make("single-stage", lead_time=L, penalty=p)
        res = optimize(problem)
        best = min(res.policies, key=lambda b: b.value)

        def run(policy: Any) -> np.ndarray:
            out = simulate(
                problem,
                policy,
                periods=eval_kw["periods"],
                replications=eval_kw["episodes"],
                seed=eval_kw["seed"],
                warmup=eval_kw["warmup"],
            )
            return np.asarray(out.per_replication, dtype=float)

        return cls(
            L,
            p,
            problem,
            float(res.optimal.value),
            best.name,
            float(best.value),
            {b.name: float(b.value) for b in res.policies},
            {b.name: {k: float(v) for k, v in b.params.items()} for b in res.policies},
            run(res.optimal.policy),
            run(best.policy),
            time.perf_counter() - t0,
        )

    def record(self) -> dict[str, Any]:
        return {
            "optimal_value": self.optimal_value,
            "heuristic": self.heuristic,
            "heuristic_value": self.heuristic_value,
            "heuristics": self.heuristics,
            "dp_sim": float(self.dp.mean()),
            "heuristic_sim": float(self.heur.mean()),
            "seconds": self.seconds,
        }

    def gaps(self, costs: np.ndarray) -> dict[str, float]:
        """PPO's mean cost and its paired gaps to the DP policy and the best heuristic."""
        dp = float(self.dp.mean())
        mean, lo, _ = confidence_interval(costs - self.dp)  # the project's paired Student-t CI
        half = mean - lo
        hmean, hlo, _ = confidence_interval(costs - self.heur)
        hhalf = hmean - hlo
        heur = float(self.heur.mean())
        return {
            "cost": float(costs.mean()),
            "gap": float(costs.mean()) / dp - 1.0,
            "gap_ci95": half / dp,
            "gap_exact": float(costs.mean()) / self.optimal_value - 1.0,
            "gap_heuristic": float(costs.mean()) / heur - 1.0,
            "gap_heuristic_ci95": hhalf / heur,
        }


# -- PPO ------------------------------------------------------------------------------------------
def evaluate_ppo(
    policy: Any, problem: Any, spec: dict[str, Any], eval_kw: dict[str, int]
) -> np.ndarray:
    """Mean cost per period after the warm-up of the deterministic *policy* (a
    :class:`rl.ppo.TorchPolicy`) on the evaluation episodes, all stepped in one batch
    (:class:`rl.vector_env.WrappedBatchEnv`; raw engine costs, not the scaled rewards)."""
    import torch
    from gymnasium.vector import AutoresetMode

    from rl.buffers import CLIP_OBS
    from rl.vector_env import WrappedBatchEnv
    from scenarios.presets import make_thunk

    periods, episodes, warmup = eval_kw["periods"], eval_kw["episodes"], eval_kw["warmup"]
    spec = {**spec, "env": {**spec["env"], "periods": periods}}
    envs = WrappedBatchEnv(
        make_thunk(problem, spec)(),
        episodes,
        seed=eval_kw["seed"],
        autoreset_mode=AutoresetMode.NEXT_STEP,
    )
    agent, rms = policy.agent, policy.obs_rms
    obs, _ = envs.reset()
    costs = np.zeros((periods, episodes))
    with torch.no_grad():
        for t in range(periods):
            x = np.asarray(obs, dtype=np.float64)
            if rms is not None:
                x = rms.normalize(x, CLIP_OBS)
            flat = agent.act(torch.as_tensor(x, dtype=torch.float32), True).numpy()
            obs, _, _, truncated, info = envs.step(agent.layout.to_env(flat))
            costs[t] = info["cost"]["total"]
    envs.close()
    if not truncated.all():
        raise RuntimeError(f"evaluation episodes did not end after {periods} periods")
    return costs[warmup:].mean(axis=0)


def run_preset(
    ref: Reference, *, capped: bool = False, exact_center: bool = False
) -> tuple[Any, dict[str, Any]]:
    """The preset's PPO settings and env spec for *ref*'s cell, with the experiments'
    changes of the action window (``--exact-center``, ``--capped``)."""
    from scenarios.presets import preset

    cfg, spec = preset(ref.problem)
    preset_capped = spec["env"]["action_mode"] == "capped-base-stock"
    if exact_center:
        if preset_capped:
            raise SystemExit(
                f"--exact-center moves the order-up-to window; the preset of "
                f"{cell_key(ref.L, ref.p)} already sets a level and a cap"
            )
        spec = exact_center_spec(ref, spec)
    if capped and not preset_capped:
        spec = capped_spec(ref, spec)
    return cfg, spec


def train_ppo(
    ref: Reference,
    seed: int,
    *,
    budget_minutes: float,
    total_steps: int | None,
    eval_kw: dict[str, int],
    out_dir: Path,
    n_envs: int | None = None,
    progress_every: float = 60.0,
    capped: bool = False,
    exact_center: bool = False,
    select: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One PPO run on *ref*'s cell with the preset, then its paired evaluation.

    *select* (keys every, episodes, periods, warmup): keep the best policy judged on
    that many SELECT_SEED episodes (``PPOConfig.select_every``) and evaluate it; the last
    policy and the starting one (iteration 0) are evaluated too, for the record."""
    import shutil

    from rl.ppo import train
    from scenarios.presets import make_thunk

    cfg, spec = run_preset(ref, capped=capped, exact_center=exact_center)
    cfg = dataclasses.replace(cfg, seed=seed, engine="batch")
    select_env = None
    if select is None and cfg.select_every:  # the preset's selection
        select = {
            "every": cfg.select_every,
            "episodes": cfg.select_episodes,
            "periods": spec["select_env"]["periods"],
            "warmup": cfg.select_warmup,
        }
    if select is not None:
        cfg = dataclasses.replace(
            cfg,
            select_every=select["every"],
            select_episodes=select["episodes"],
            select_warmup=select["warmup"],
            select_seed=SELECT_SEED,
        )
        select_env = make_thunk(
            ref.problem, {**spec, "env": {**spec["env"], "periods": select["periods"]}}
        )
    if n_envs is not None:  # the same rollout batch, split over more sub-envs
        if cfg.batch_size % n_envs:
            raise SystemExit(
                f"--n-envs(={n_envs}) must divide the preset's batch ({cfg.batch_size})"
            )
        cfg = dataclasses.replace(cfg, n_envs=n_envs, n_steps=cfg.batch_size // n_envs)
    if total_steps is not None:
        from scenarios.presets import with_steps

        cfg = with_steps(cfg, total_steps)
    thunk = make_thunk(ref.problem, spec)
    clock = {"start": time.perf_counter(), "last": time.perf_counter()}

    def callback(row: dict[str, float]) -> bool | None:
        if select is not None and row["iteration"] == 1:
            # the first judgement is of the starting policy, the next comes after this
            # callback: best.pt is the starting policy now
            shutil.copyfile(out_dir / "best.pt", out_dir / "start.pt")
        now = time.perf_counter()
        if now - clock["last"] >= progress_every and row["episodes"]:
            clock["last"] = now
            log(
                f"  {cell_key(ref.L, ref.p)} seed {seed}: {int(row['global_step']):,} / "
                f"{cfg.total_steps:,} steps, {now - clock['start']:.0f} s, "
                f"{row['sps']:.0f} steps/s, return {row['episodic_return_mean']:.4g}"
            )
        return False if now - clock["start"] > budget_minutes * 60 else None

    load0 = os.getloadavg()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    res = train(thunk, cfg, out_dir, progress=False, callback=callback, select_env=select_env)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    engine = json.loads((out_dir / "config.json").read_text()).get("engine")
    t0 = time.perf_counter()
    costs = evaluate_ppo(res.best_policy or res.policy, ref.problem, spec, eval_kw)
    extra = {}
    if select is not None:
        assert res.best is not None
        extra["selection"] = {
            **select,
            "seed": SELECT_SEED,
            "iteration": res.best["iteration"],
            "global_step": res.best["global_step"],
            "cost": -res.best["score"],
            **policy_gaps(ref, out_dir, spec, eval_kw, res.policy),
        }
    return {
        "seed": seed,
        **ref.gaps(costs),
        "train_wall_seconds": wall,
        "train_cpu_seconds": cpu,
        "steps": res.global_step,
        "total_steps": cfg.total_steps,
        "stopped_by_budget": res.stopped_early,
        "engine": engine,
        "eval_seed": eval_kw["seed"],
        "eval_seconds": time.perf_counter() - t0,
        "load_average": [load0[0], os.getloadavg()[0]],
        "config": {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()
        },
        "env_spec": spec,
        **extra,
    }


def policy_gaps(
    ref: Reference, run_dir: Path, spec: dict[str, Any], eval_kw: dict[str, int], last: Any = None
) -> dict[str, float]:
    """Gaps to the DP, on these evaluation episodes, of a selection run's last policy and
    of its starting policy (``start.pt``), beside the selected one's ``gap``."""
    from rl.ppo import load_agent

    last = last or load_agent(run_dir, best=False)
    start = load_agent(run_dir / "start.pt")
    return {
        "gap_last": ref.gaps(evaluate_ppo(last, ref.problem, spec, eval_kw))["gap"],
        "gap_start": ref.gaps(evaluate_ppo(start, ref.problem, spec, eval_kw))["gap"],
    }


def parse_window(text: str) -> tuple[float, float]:
    """``"2,2"`` -> (2.0, 2.0): half-widths below and above the window's centre [sd]."""
    try:
        below, above = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not BELOW,ABOVE (e.g. 2,2)") from None
    if below <= 0 or above <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: both half-widths must be > 0")
    return below, above


def set_window(window: tuple[float, float]) -> None:
    """Use *window* as the single-stage preset's half-widths in this process."""
    import scenarios.presets as presets

    presets.SINGLE_STAGE_WINDOW = window


def presets_window() -> tuple[float, float]:
    import scenarios.presets as presets

    return presets.SINGLE_STAGE_WINDOW


# -- where the DP's order-up-to levels lie ---------------------------------------------------------
def implied_levels(L: int, p: float) -> dict[str, Any]:
    """The DP's implied order-up-to levels ``IP + q*(x)`` over the states where it orders,
    weighted by the optimal policy's stationary law (quantiles, and the range over states of
    probability > 1e-6), next to the exact best base-stock level, the newsvendor level over
    L + 1 periods (the old window's centre, +-ceil(2 sd)) and the preset's window."""
    import math

    from scipy import stats

    import scenarios
    from optimization.lost_sales import heuristics, solve_lost_sales
    from optimization.lost_sales_model import StateSpace, evaluate_orders
    from scenarios.presets import preset

    t0 = time.perf_counter()
    sol = solve_lost_sales(L, 1.0, p)
    dp_seconds = time.perf_counter() - t0
    space = StateSpace.build(L, sol.truncation)
    orders = sol.table[tuple(space.states.T)]
    _, pi = evaluate_orders(sol.model, space, orders)
    level = space.states.sum(axis=1) + orders
    ordering = orders > 0
    idx = np.argsort(level, kind="stable")
    cum = np.cumsum((pi * ordering)[idx])
    cum /= cum[-1]

    def quantile(q: float) -> int:
        return int(level[idx][min(np.searchsorted(cum, q), len(idx) - 1)])

    live = ordering & (pi > 1e-6)
    best = int(heuristics(L, 1.0, p, names=("best-base-stock",))["best-base-stock"].params["level"])
    newsvendor = float(stats.poisson(5.0 * (L + 1)).ppf(p / (p + 1.0)))
    half = math.ceil(2 * math.sqrt(5.0 * (L + 1)))
    t0 = time.perf_counter()
    _, spec = preset(scenarios.make("single-stage", lead_time=L, penalty=p))
    preset_seconds = time.perf_counter() - t0
    window = spec["action_window"]
    return {
        "L": L,
        "p": p,
        "q01": quantile(0.01),
        "q50": quantile(0.5),
        "q99": quantile(0.99),
        "min": int(level[live].min()),
        "max": int(level[live].max()),
        "order_probability": float(pi @ ordering),
        "best_base_stock": best,
        "old_window": [newsvendor - half, newsvendor + half],
        "old_center": newsvendor,
        "window": [window["low"][0], window["high"][0]],
        "center": (window.get("center") or [None])[0],
        "dp_seconds": dp_seconds,
        "preset_seconds": preset_seconds,
    }


def levels_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "L",
        "p",
        "DP levels 1%/50%/99%",
        "DP range (pi>1e-6)",
        "best base-stock",
        "old window (centre)",
        "window (centre)",
        "preset s",
    )
    out = []
    for r in rows:
        out.append(
            (
                str(r["L"]),
                f"{r['p']:g}",
                f"{r['q01']}/{r['q50']}/{r['q99']}",
                f"[{r['min']}, {r['max']}]",
                str(r["best_base_stock"]),
                f"[{r['old_window'][0]:g}, {r['old_window'][1]:g}] ({r['old_center']:g})",
                f"[{r['window'][0]:g}, {r['window'][1]:g}] ({r['center']:g})",
                f"{r['preset_seconds']:.2f}",
            )
        )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in out])


def capped_spec(ref: Reference, spec: dict[str, Any]) -> dict[str, Any]:
    """``--capped``: the agent sets an order-up-to level *and* a cap per period,
    ``min(cap, (S - IP)^+)``, in windows around the exact best capped base-stock policy
    (Xin 2021; +1.5 % from the DP at (4, 4), where the best base-stock level is +9.9 %), so
    u = 0 plays that policy (``scenarios.presets.capped_window``): what the preset itself
    does on lost-sales cells with L in ``SINGLE_STAGE_CAPPED_LEADS``, at any L."""
    from scenarios.presets import capped_window

    best = ref.params["best-capped-base-stock"]
    cost = ref.heuristics["best-capped-base-stock"]
    return capped_window(spec, best["level"], best["cap"], cost)


def exact_center_spec(ref: Reference, spec: dict[str, Any]) -> dict[str, Any]:
    """An experiment (``--exact-center``): the preset's window moved to centre on the exact
    best base-stock level (optimization's chain search) instead of the simulated search's
    level (one unit above it on 6 of the 16 cells), same half-widths."""
    level = ref.params["best-base-stock"]["level"]
    window = spec["action_window"]
    below = window["center"][0] - window["low"][0]
    above = window["high"][0] - window["center"][0]
    low, high = max(0.0, level - below), level + above
    return {
        **spec,
        "env": {**spec["env"], "max_level": high},
        "action_window": {"low": [low], "high": [high], "center": [level]},
    }


def reevaluate(
    ref: Reference,
    prior: dict[str, Any],
    run_dir: Path,
    eval_kw: dict[str, int],
    *,
    capped: bool = False,
    exact_center: bool = False,
) -> dict[str, Any]:
    """A finished run of another file (*prior*, e.g. a validation run) evaluated on these
    episodes instead of trained again: the same preset (and experiment flags) and seed
    train the same policy whatever the evaluation episodes, so its training figures are
    kept."""
    from rl.ppo import load_agent

    _, spec = run_preset(ref, capped=capped, exact_center=exact_center)
    spec.pop("select_env", None)  # the selection episodes are the run's own (in its record)
    if spec != {k: v for k, v in prior["env_spec"].items() if k != "select_env"}:
        raise SystemExit(
            f"--reuse: {cell_key(ref.L, ref.p)} seed {prior['seed']} was trained with another "
            f"preset ({prior['env_spec']['action_window']} vs {spec['action_window']})"
        )
    t0 = time.perf_counter()
    selected = "selection" in prior
    costs = evaluate_ppo(load_agent(run_dir, best=selected), ref.problem, spec, eval_kw)
    keep = {k: v for k, v in prior.items() if k not in ("eval_seconds", "load_average")}
    if selected:  # the last and starting policies' gaps on these episodes too
        keep["selection"] = {**prior["selection"], **policy_gaps(ref, run_dir, spec, eval_kw)}
    return {
        **keep,
        **ref.gaps(costs),
        "eval_seconds": time.perf_counter() - t0,
        "eval_seed": eval_kw["seed"],
        "trained_in": str(run_dir),
        "chosen_on_eval_seed": prior.get("chosen_on_eval_seed"),
    }


def compare_orders(L: int, p: float, run_dir: Path, periods: int = 5000) -> dict[str, Any]:
    """Where a trained PPO policy (*run_dir*) departs from the DP: one episode of *periods*
    periods on the validation root (never the benchmark's episodes), PPO acting; at each
    period the DP's order at the same state next to PPO's, ``(round(S_PPO) - IP)^+``.
    Per inventory-position bucket of 2 units: frequency, mean orders and their difference.
    The run's env spec is its ``run.json``'s (``des-supply train`` / ``compare`` runs), else
    the current preset's."""
    import collections

    import scenarios
    from optimization.lost_sales import solve_lost_sales
    from rl.ppo import load_agent
    from scenarios.presets import ActionWindow, make_thunk, preset

    problem = scenarios.make("single-stage", lead_time=L, penalty=p)
    recorded = run_dir / "run.json"  # des-supply train / compare record the run's spec
    if recorded.exists():
        spec = json.loads(recorded.read_text())["spec"]
    else:  # a run of this script: the preset's spec
        _, spec = preset(problem)
    env = make_thunk(problem, {**spec, "env": {**spec["env"], "periods": periods}})()
    window: Any = env
    while not isinstance(window, ActionWindow):
        window = window.env
    base: Any = env.unwrapped
    node = base.layout.names[0]
    policy = load_agent(run_dir)
    dp = solve_lost_sales(L, 1.0, p).policy
    obs, _ = env.reset(seed=VALIDATION_SEED)
    rows = []
    for _ in range(periods):
        action = policy(obs)
        view = base.view
        position = view.inventory_position(node)
        level = float(window.levels(action)[0])
        dp_order = dp.order(view.on_hand(node), view.pipeline(node, max(L - 1, 0)))
        rows.append((position, dp_order, max(0.0, round(level - position)), level))
        obs, _, _, truncated, _ = env.step(action)
        if truncated:
            break
    r = np.array(rows[100:])
    diff = r[:, 2] - r[:, 1]
    buckets = []
    for lo in range(int(r[:, 0].min()), int(r[:, 0].max()) + 1, 2):
        m = (r[:, 0] >= lo) & (r[:, 0] < lo + 2)
        if m.sum() >= 0.01 * len(r):
            buckets.append(
                {
                    "position": [lo, lo + 1],
                    "share": float(m.mean()),
                    "dp_order": float(r[m, 1].mean()),
                    "ppo_order": float(r[m, 2].mean()),
                }
            )
    return {
        "L": L,
        "p": p,
        "run": str(run_dir),
        "periods": len(r),
        "mean_difference": float(diff.mean()),
        "differs": float(np.mean(diff != 0)),
        "differences": {int(k): int(v) for k, v in sorted(collections.Counter(diff).items())},
        "buckets": buckets,
    }


def orders_text(res: dict[str, Any]) -> str:
    lines = [
        f"L={res['L']} p={res['p']:g} ({res['run']}), {res['periods']} periods: PPO order - DP "
        f"order at the same state {res['mean_difference']:+.3f} on average, different in "
        f"{res['differs']:.1%} of periods; counts {res['differences']}",
        "inventory position   share   DP order   PPO order",
    ]
    for b in res["buckets"]:
        lines.append(
            f"{b['position'][0]:>8}-{b['position'][1]:<10}{b['share']:>7.1%}{b['dp_order']:>11.2f}"
            f"{b['ppo_order']:>12.2f}"
        )
    return "\n".join(lines)


# -- training speed by engine ----------------------------------------------------------------------
#: (label, engine, n_envs): the preset's layout (8 x 256) on each engine, and the batch
#: engine's layout of the sweep (64 x 32); the rollout batch is 2048 steps in each.
SPEED_CASES = (
    ("event, 8 envs", "event", 8),
    ("batch, 8 envs", "batch", 8),
    ("batch, 64 envs", "batch", 64),
)


def speed(steps: int, repeats: int, L: int = 4, p: float = 39.0) -> dict[str, Any]:
    """CPU and wall seconds per 1,000 training steps of the preset on (L, p), per
    :data:`SPEED_CASES`; cases interleaved in each round, medians over rounds (one process:
    start-up paid once before, not timed)."""
    import statistics

    import scenarios
    from rl.ppo import train
    from scenarios.presets import make_thunk, preset

    problem = scenarios.make("single-stage", lead_time=L, penalty=p)
    cfg, spec = preset(problem)
    thunk = make_thunk(problem, spec)
    warm = dataclasses.replace(cfg, total_steps=cfg.batch_size)
    train(thunk, warm, tempfile.mkdtemp(), progress=False)  # imports, first-use costs
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in SPEED_CASES}
    for k in range(repeats):
        order = SPEED_CASES if k % 2 == 0 else SPEED_CASES[::-1]
        for label, engine, n in order:
            c = dataclasses.replace(
                cfg, total_steps=steps, engine=engine, n_envs=n, n_steps=cfg.batch_size // n
            )
            cpu0, wall0 = time.process_time(), time.perf_counter()
            train(thunk, c, tempfile.mkdtemp(), progress=False)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            runs[label].append((1000 * cpu / steps, 1000 * wall / steps))
            log(f"speed round {k + 1}: {label}: {runs[label][-1][0]:.2f} CPU s per 1k steps")
    med = {
        label: {
            "cpu_s_per_1k": statistics.median(r[0] for r in rs),
            "wall_s_per_1k": statistics.median(r[1] for r in rs),
        }
        for label, rs in runs.items()
    }
    return {
        "L": L,
        "p": p,
        "steps": steps,
        "repeats": repeats,
        "median": med,
        "runs": runs,
        "load_average": os.getloadavg(),
    }


def speed_table(result: dict[str, Any]) -> str:
    med = result["median"]
    base = med[SPEED_CASES[0][0]]["cpu_s_per_1k"]
    lines = [
        f"PPO training speed, single-stage L={result['L']} p={result['p']:g} preset, "
        f"{result['steps']:,} steps, medians of {result['repeats']} interleaved rounds "
        f"(load average {result['load_average'][0]:.1f})",
        f"{'case':<16}{'CPU s/1k steps':>16}{'wall s/1k steps':>17}{'CPU vs event':>14}",
    ]
    for label, m in med.items():
        lines.append(
            f"{label:<16}{m['cpu_s_per_1k']:>16.3f}{m['wall_s_per_1k']:>17.3f}"
            f"{base / m['cpu_s_per_1k']:>13.2f}x"
        )
    return "\n".join(lines)


# -- results files --------------------------------------------------------------------------------
def provenance() -> dict[str, Any]:
    import gymnasium
    import torch

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "gymnasium": gymnasium.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from several files: cells united, runs of one (cell, seed) kept once
    (the later file wins).  Files with different evaluation settings are refused."""
    merged: dict[str, Any] = {"cells": {}}
    for r in results:
        if "settings" in merged and r["settings"]["eval"] != merged["settings"]["eval"]:
            raise SystemExit(
                f"cannot merge runs evaluated differently: {merged['settings']['eval']} vs "
                f"{r['settings']['eval']}"
            )
        merged.setdefault("settings", r["settings"])
        merged.setdefault("versions", r.get("versions"))
        for key, cell in r["cells"].items():
            into = merged["cells"].setdefault(
                key, {"L": cell["L"], "p": cell["p"], "reference": cell["reference"], "runs": []}
            )
            seeds = {run["seed"] for run in cell["runs"]}
            into["runs"] = [x for x in into["runs"] if x["seed"] not in seeds] + cell["runs"]
            into["runs"].sort(key=lambda x: x["seed"])
    return merged


def _pct(x: float) -> str:
    return f"{100 * x:+.2f}%"


#: the table's name of a run's action setting, by its env's action mode
ACTION_SETTINGS = {"base-stock": "window", "capped-base-stock": "capped"}


def action_setting(run: dict[str, Any]) -> str:
    """How the run's agent acted: ``window`` (an order-up-to level in the preset's window)
    or ``capped`` (a level and a cap, ``--capped``); runs recorded without their env spec
    are the preset's window."""
    mode = run.get("env_spec", {}).get("env", {}).get("action_mode", "base-stock")
    return ACTION_SETTINGS.get(mode, mode)


def table(result: dict[str, Any], markdown: bool = False) -> str:
    """Per cell: DP and heuristic costs, the action setting of its runs, PPO's mean gap
    over seeds (each seed's paired CI), training time (wall and CPU, minutes) and steps."""
    head = (
        "L",
        "p",
        "DP cost",
        "best heuristic (gap)",
        "seeds",
        "action",
        "PPO gap to DP [95% CI] per seed",
        "mean gap",
        "PPO vs heuristic",
        "wall min",
        "CPU min",
        "steps",
    )
    rows = []
    cells = sorted(result["cells"].values(), key=lambda c: (c["L"], c["p"]))
    within = total = 0
    per_L: dict[int, list[int]] = {}  # L -> [within, runs]
    for c in cells:
        ref, runs = c["reference"], c["runs"]
        if not runs:
            continue
        heur = f"{ref['heuristic']} ({_pct(ref['heuristic_value'] / ref['optimal_value'] - 1)})"
        per_seed = "; ".join(
            f"{_pct(r['gap'])} [{_pct(r['gap'] - r['gap_ci95'])}, {_pct(r['gap'] + r['gap_ci95'])}]"
            + ("*" if r["stopped_by_budget"] else "")
            for r in runs
        )
        hits = sum(r["gap"] <= TARGET_GAP for r in runs)
        within, total = within + hits, total + len(runs)
        counts = per_L.setdefault(c["L"], [0, 0])
        counts[0], counts[1] = counts[0] + hits, counts[1] + len(runs)
        rows.append(
            (
                str(c["L"]),
                f"{c['p']:g}",
                f"{ref['optimal_value']:.3f}",
                heur,
                ",".join(str(r["seed"]) for r in runs),
                "/".join(sorted({action_setting(r) for r in runs})),
                per_seed,
                _pct(float(np.mean([r["gap"] for r in runs]))),
                _pct(float(np.mean([r["gap_heuristic"] for r in runs]))),
                "/".join(f"{r['train_wall_seconds'] / 60:.1f}" for r in runs),
                "/".join(f"{r['train_cpu_seconds'] / 60:.1f}" for r in runs),
                "/".join(f"{r['steps'] / 1e6:.2f}M" for r in runs),
            )
        )
    ev = result["settings"]["eval"]
    foot = (
        f"{total} runs in {len(rows)} cells; {within} within {TARGET_GAP:.0%} of the DP "
        f"(point estimate; "
        + ", ".join(f"L={L} {w}/{n}" for L, (w, n) in sorted(per_L.items()))
        + f").  Gaps paired with the DP policy on {ev['episodes']} episodes x "
        f"{ev['periods']} periods (first {ev['warmup']} dropped); * = stopped by the time budget."
    )
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join([*lines, "", foot])
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)
    ]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head), *(fmt.format(*r) for r in rows), foot])


def compare_table(a: dict[str, Any], b: dict[str, Any], name_a: str, name_b: str) -> str:
    """Markdown: two settings' gaps on the (cell, seed) pairs both results hold, per cell
    (each seed's gap, the mean, runs within TARGET_GAP) and per lead time; results evaluated
    on different episodes are refused."""
    if a["settings"]["eval"] != b["settings"]["eval"]:
        raise SystemExit("--compare: the two files were evaluated on different episodes")
    head = ["L", "p", "seeds", f"{name_a} gaps", f"{name_b} gaps", "mean A", "mean B"]
    lines = ["| " + " | ".join([*head, "within 1% A", "within 1% B"]) + " |"]
    lines.append("|" + "---|" * (len(head) + 2))
    per_L: dict[int, list[list[float]]] = {}  # L -> [gaps of A, gaps of B]
    common = set(a["cells"]) & set(b["cells"])
    for key in sorted(common, key=lambda k: (a["cells"][k]["L"], a["cells"][k]["p"])):
        runs_a = {r["seed"]: r["gap"] for r in a["cells"][key]["runs"]}
        runs_b = {r["seed"]: r["gap"] for r in b["cells"][key]["runs"]}
        seeds = sorted(set(runs_a) & set(runs_b))
        if not seeds:
            continue
        ga, gb = [runs_a[s] for s in seeds], [runs_b[s] for s in seeds]
        L, p = a["cells"][key]["L"], a["cells"][key]["p"]
        into = per_L.setdefault(L, [[], []])
        into[0] += ga
        into[1] += gb
        lines.append(
            f"| {L} | {p:g} | {','.join(map(str, seeds))} | "
            f"{' / '.join(_pct(g) for g in ga)} | {' / '.join(_pct(g) for g in gb)} | "
            f"{_pct(float(np.mean(ga)))} | {_pct(float(np.mean(gb)))} | "
            f"{sum(g <= TARGET_GAP for g in ga)}/{len(ga)} | "
            f"{sum(g <= TARGET_GAP for g in gb)}/{len(gb)} |"
        )
    for L, (ga, gb) in sorted(per_L.items()):
        lines.append(
            f"| {L} | all | {len(ga)} runs | | | {_pct(float(np.mean(ga)))} | "
            f"{_pct(float(np.mean(gb)))} | {sum(g <= TARGET_GAP for g in ga)}/{len(ga)} | "
            f"{sum(g <= TARGET_GAP for g in gb)}/{len(gb)} |"
        )
    return "\n".join(lines)


def write(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(result, indent=1, default=float) + "\n")
    tmp.replace(path)


# -- main -----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--cells", help="L:p pairs, e.g. 1:4,4:39 (default: all 16)")
    ap.add_argument(
        "--seeds", default="3", help="a count (3: seeds 1..3) or a list (2,3; one seed: 2,)"
    )
    ap.add_argument(
        "--budget-minutes",
        type=float,
        default=TARGET_MINUTES,
        help="wall-time budget of one training run (default 15)",
    )
    ap.add_argument("--steps", type=int, help="training steps (default: the preset's)")
    ap.add_argument(
        "--n-envs",
        type=int,
        default=64,
        help="sub-envs of the batch engine; the preset's rollout batch (8 x 256 = "
        "2048 steps) is kept, n_steps = 2048 / n_envs (default 64 x 32; 0: the "
        "preset's 8 x 256)",
    )
    ap.add_argument("--eval-episodes", type=int, default=40)
    ap.add_argument("--eval-periods", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--json", type=Path, help="write (and keep updating) the results here")
    ap.add_argument("--out", type=Path, help="folder for the PPO runs (default: a temp folder)")
    ap.add_argument(
        "--report",
        nargs="+",
        type=Path,
        metavar="JSON",
        help="merge these result files (only --cells, if given) and print the table; train nothing",
    )
    ap.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("A", "B"),
        help="compare two settings' result files (e.g. merged --validation runs of two "
        "arms) on the (cell, seed) pairs both hold; train nothing",
    )
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: cell 1:4, one seed, 2048 steps, 4 x 300-period episodes",
    )
    ap.add_argument(
        "--speed",
        action="store_true",
        help="only time training per engine (SPEED_CASES) on L=4, p=39",
    )
    ap.add_argument(
        "--validation",
        action="store_true",
        help=f"evaluate on the validation episodes (root seed {VALIDATION_SEED}) instead of "
        f"the benchmark's ({EVAL_SEED}): for choosing settings",
    )
    ap.add_argument(
        "--window",
        type=parse_window,
        help="BELOW,ABOVE: the single-stage preset's window half-widths in demand standard "
        "deviations (scenarios.presets.SINGLE_STAGE_WINDOW; default: the preset's)",
    )
    ap.add_argument(
        "--reuse",
        type=Path,
        metavar="JSON",
        help="runs of this file (e.g. --validation runs of the setting chosen) are evaluated "
        "here from their checkpoints in --reuse-dir instead of trained again",
    )
    ap.add_argument(
        "--reuse-dir", type=Path, help="the PPO runs folder of --reuse (default: --out)"
    )
    ap.add_argument(
        "--capped",
        action="store_true",
        help="the agent sets a level and a cap (capped-base-stock actions) around the best "
        "capped base-stock policy (capped_spec), at every L; the preset does so itself "
        "for L in scenarios.presets.SINGLE_STAGE_CAPPED_LEADS",
    )
    ap.add_argument(
        "--exact-center",
        action="store_true",
        help="experiment: centre the window on the exact best base-stock level (exact_center_spec)",
    )
    ap.add_argument(
        "--compare-orders",
        type=Path,
        metavar="RUN_DIR",
        help="only compare the orders of the PPO run in RUN_DIR with the DP's, state by "
        "state, on a validation episode (one --cells cell)",
    )
    ap.add_argument(
        "--levels",
        action="store_true",
        help="only print, per cell, the DP's implied order-up-to levels against the best "
        "base-stock level and the preset's window (old: newsvendor-centred)",
    )
    ap.add_argument(
        "--select-every",
        type=int,
        default=0,
        metavar="K",
        help="keep the best policy, judged every K iterations (and at iteration 0) on the "
        f"selection episodes (root seed {SELECT_SEED}), and evaluate it instead of the last "
        "(PPOConfig.select_every; 0: off)",
    )
    ap.add_argument("--select-episodes", type=int, default=128, metavar="N")
    ap.add_argument("--select-periods", type=int, default=2000, metavar="T")
    ap.add_argument(
        "--select-warmup", type=int, default=100, help="periods dropped from each selection episode"
    )
    ap.add_argument("--speed-steps", type=int, default=40_960)
    ap.add_argument("--speed-repeats", type=int, default=3)
    args = ap.parse_args(argv)

    if args.compare_orders:
        cells = parse_cells(args.cells)
        if len(cells) != 1:
            raise SystemExit("--compare-orders needs one cell: --cells L:p")
        print(orders_text(compare_orders(*cells[0], args.compare_orders)), flush=True)
        return 0
    if args.levels:
        if args.window:
            set_window(args.window)
        rows = [implied_levels(L, p) for L, p in parse_cells(args.cells)]
        print(levels_table(rows), flush=True)
        if args.json:
            write(args.json, {"levels": rows, "versions": provenance()})
        return 0
    if args.speed:
        res = speed(args.speed_steps, args.speed_repeats)
        print(speed_table(res), flush=True)
        if args.json:
            write(args.json, {"speed": res, "versions": provenance()})
        return 0
    if args.compare:
        a, b = (json.loads(p.read_text()) for p in args.compare)
        print(compare_table(a, b, *(p.stem for p in args.compare)), flush=True)
        return 0
    if args.report:
        merged = merge([json.loads(p.read_text()) for p in args.report])
        if args.cells:  # only these cells
            keep = {cell_key(L, p) for L, p in parse_cells(args.cells)}
            merged["cells"] = {k: c for k, c in merged["cells"].items() if k in keep}
        print(table(merged, args.markdown))
        if args.json:
            write(args.json, merged)
        return 0

    cells, seeds = parse_cells(args.cells), parse_seeds(args.seeds)
    steps = args.steps
    eval_seed = VALIDATION_SEED if args.validation else EVAL_SEED
    eval_kw = {
        "episodes": args.eval_episodes,
        "periods": args.eval_periods,
        "warmup": args.warmup,
        "seed": eval_seed,
    }
    if args.quick:
        cells, seeds, steps = cells[:1] if args.cells else [(1, 4.0)], seeds[:1], 2048
        eval_kw = {"episodes": 4, "periods": 300, "warmup": 50, "seed": eval_seed}
    if args.window:
        set_window(args.window)
    if eval_kw["warmup"] >= eval_kw["periods"] or eval_kw["episodes"] < 2:
        raise SystemExit("--eval-periods must exceed --warmup, and --eval-episodes be >= 2")
    select = None
    if args.select_every:
        select = {
            "every": args.select_every,
            "episodes": args.select_episodes,
            "periods": args.select_periods,
            "warmup": args.select_warmup,
        }
        if args.select_every < 0 or args.select_episodes < 1:
            raise SystemExit("--select-every must be >= 0 and --select-episodes >= 1")
        if not 0 <= args.select_warmup < args.select_periods:
            raise SystemExit("--select-periods must exceed --select-warmup (>= 0)")

    result: dict[str, Any] = {
        "settings": {
            "eval": eval_kw,
            "budget_minutes": args.budget_minutes,
            "steps": steps,
            "n_envs": args.n_envs,
            "quick": args.quick,
            "window_sd": list(presets_window()),
            "capped": args.capped,
            "exact_center": args.exact_center,
            "select": select,
        },
        "versions": provenance(),
        "cells": {},
    }
    if args.json and args.json.exists():
        old = json.loads(args.json.read_text())
        if old["settings"]["eval"] != result["settings"]["eval"]:
            raise SystemExit(f"{args.json} holds runs evaluated differently; use another file")
        result["cells"] = old["cells"]
    out_root = args.out or Path(tempfile.mkdtemp(prefix="zipkin_ppo_"))
    reuse: dict[tuple[str, int], dict[str, Any]] = {}
    if args.reuse:
        other = json.loads(args.reuse.read_text())
        for key, cell in other["cells"].items():
            for run in cell["runs"]:
                seed_of_eval = other["settings"]["eval"].get("seed", EVAL_SEED)
                reuse[(key, run["seed"])] = {**run, "chosen_on_eval_seed": seed_of_eval}
    reuse_dir = args.reuse_dir or out_root
    log(f"{len(cells)} cells x seeds {seeds}; PPO runs in {out_root}")
    for L, p in cells:
        key = cell_key(L, p)
        todo = [
            s
            for s in seeds
            if s not in {r["seed"] for r in result["cells"].get(key, {}).get("runs", [])}
        ]
        if not todo:
            log(f"{key}: seeds {seeds} already in {args.json}")
            continue
        ref = Reference.solve(L, p, eval_kw)
        log(
            f"{key}: DP {ref.optimal_value:.4f} (simulated {ref.dp.mean():.4f}), best heuristic "
            f"{ref.heuristic} {ref.heuristic_value:.4f}; {ref.seconds:.1f} s"
        )
        cell = result["cells"].setdefault(
            key, {"L": L, "p": p, "reference": ref.record(), "runs": []}
        )
        cell["reference"] = ref.record()
        for seed in todo:
            name = f"L{L}_p{p:g}_s{seed}"
            prior = reuse.get((key, seed))
            if prior is not None and (reuse_dir / name / "checkpoint.pt").exists():
                log(f"{key} seed {seed}: evaluating the run in {reuse_dir / name}")
                run = reevaluate(
                    ref,
                    prior,
                    reuse_dir / name,
                    eval_kw,
                    capped=args.capped,
                    exact_center=args.exact_center,
                )
            else:
                log(f"{key} seed {seed}: training")
                run = train_ppo(
                    ref,
                    seed,
                    budget_minutes=args.budget_minutes,
                    total_steps=steps,
                    eval_kw=eval_kw,
                    out_dir=out_root / name,
                    n_envs=args.n_envs or None,
                    capped=args.capped,
                    exact_center=args.exact_center,
                    select=select,
                )
            cell["runs"] = sorted(
                [r for r in cell["runs"] if r["seed"] != seed] + [run], key=lambda r: r["seed"]
            )
            log(
                f"{key} seed {seed}: gap {_pct(run['gap'])} +- {100 * run['gap_ci95']:.2f}% "
                f"(exact DP {_pct(run['gap_exact'])}, heuristic {_pct(run['gap_heuristic'])}); "
                f"{run['steps']:,} steps, {run['train_wall_seconds']:.0f} s wall, "
                f"{run['train_cpu_seconds']:.0f} s CPU ({run['engine']} engine)"
                + (
                    f"; selected iteration {run['selection']['iteration']} (last "
                    f"{_pct(run['selection']['gap_last'])}, start "
                    f"{_pct(run['selection']['gap_start'])})"
                    if "selection" in run
                    else ""
                )
            )
            if args.json:
                write(args.json, result)
    print(table(result, args.markdown), flush=True)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except FileNotFoundError as exc:  # an input file named on the command line is not there
        raise SystemExit(f"{Path(__file__).name}: no such file: {exc.filename}") from None
