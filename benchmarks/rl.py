"""RL benchmark: env throughput, and how well PPO learns Zipkin's lost-sales model.

(0) Start-up.  A PPO run's start-up, by phase, in fresh interpreters (medians of
    ``--startup-repeats`` processes): the interpreter, importing torch, the project's
    imports, the problem and preset, seeding (``torch.use_deterministic_algorithms``),
    env construction, network and optimizer init, the first reset; then the first
    rollout, update and the end of the run (checkpoint, log, learning curve).  Target
    (issue 15): spawn to first rollout under 2 s.  A variant without the deterministic
    flag runs interleaved.  (``torch.use_deterministic_algorithms`` and ``torch.optim``
    each import TorchDynamo, 1-3 s; ``rl.training`` sets the flag and runs Adam without
    it, so neither is paid any more; ``torch._dynamo`` loaded is recorded per run.)
    The env is whichever engine ``PPOConfig.engine="auto"`` picks: the batch engine here.

(1) Throughput.  The cost of one env step as a multiple of one engine period, on
    single-stage (lead time 2, penalty 9, lost sales) and on the 3-stage serial
    network of ``Serial-v0`` (sequential decisions: three node epochs a period).  The
    baseline is ``Simulation(net, periods, seed).run(BaseStock(S))`` on the same
    scenario in the same run; every case runs once per round, rounds interleaved, and
    a ratio is the median over rounds of (CPU time per step / engine CPU time per
    period in that round; CPU time of the process, which a busy machine disturbs
    less than wall time).  Cases: the engine driven from outside (``act``/``advance`` with fixed
    orders: the floor for any adapter), ``InventoryEnv`` in ``"quantity"`` and
    ``"base-stock"`` action modes (random actions drawn up front, resets included),
    single-stage's preset wrappers and ``SyncVectorEnv`` of 8 and 64 of them, and on
    serial OR-Gym's InvManagement env when the peer venv (``--orgym-python``) exists.
    Target (issue 15): an env step at most 2x an engine period.

(2) Learning quality.  For (lead_time, penalty) = (2, 9) and (4, 39) and each seed,
    train PPO with ``scenarios.presets.preset(scenarios.make("single-stage", ...))`` for a wall-clock budget
    (``--minutes``) and evaluate the deterministic policy on ``--eval-episodes``
    episodes of ``--eval-periods`` periods.  The DP-optimal policy
    (``optimization.optimize``) runs on the very same episodes (common random numbers:
    episode k of ``env.reset(seed=s, options={"episode": k})`` is replication k of
    ``des_supply.evaluate.simulate(..., seed=s)``), so the gap

        gap_opt = (cost_PPO - cost_DP_sim) / cost_DP_sim

    is a paired estimate with little noise.  ``gap_heur`` is the same against the best
    heuristic (the one with the lowest exact long-run cost, also simulated on the same
    episodes).  The first ``--warmup`` periods of each evaluation episode are dropped
    (the start state, on hand = mean demand over L + 1 periods and an empty pipeline, is
    not the steady state).  While training, a cheaper paired evaluation runs every
    ``--eval-every`` seconds of training; ``steps_to_2pct`` / ``time_to_2pct`` are the first
    check where it showed a gap below 2 % (training time only, checks excluded).

Usage::

    python benchmarks/rl.py --quick                      # smoke run, a few minutes
    python benchmarks/rl.py --skip-learning --json benchmarks/results/rl_throughput.json
    python benchmarks/rl.py --json benchmarks/results/rl.json --seeds 3 --minutes 15
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path, and this very file
# (benchmarks/rl.py) would shadow the `rl` package.  Drop that folder.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
_ROOT = str(_HERE.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import numpy as np  # noqa: E402
import torch  # noqa: E402

CASES = ((2, 9.0), (4, 39.0))


# -- start-up ------------------------------------------------------------------------------------
#: A fresh interpreter trains PPO for one iteration on single-stage (L = 2, p = 9) with the
#: preset and prints time.time() stamps: the phases of a run's start-up.  argv[1] "no-flag"
#: replaces the seeding block by one without torch.use_deterministic_algorithms (to see
#: where its cost goes when it is not paid there).
STARTUP_SCRIPT = r"""
import time
stamps = {"child": time.time(), "child_cpu": time.process_time()}
import sys, json, tempfile, dataclasses
import torch
stamps["torch"], stamps["torch_cpu"] = time.time(), time.process_time()
import scenarios
import rl.ppo as ppo
from scenarios.presets import make_thunk, preset
stamps["imports"], stamps["imports_cpu"] = time.time(), time.process_time()
problem = scenarios.make("single-stage", lead_time=2, penalty=9.0)
cfg, spec = preset(problem)
cfg = dataclasses.replace(cfg, total_steps=cfg.batch_size, seed=1)
thunk = make_thunk(problem, spec)
stamps["problem"] = time.time()

def timed(owner, name, key):
    fn = getattr(owner, name)
    def wrapper(*a, **k):
        if key + "_start" not in stamps:
            stamps[key + "_start"] = time.time()
            stamps[key + "_start_cpu"] = time.process_time()
        out = fn(*a, **k)
        if key + "_end" not in stamps:
            stamps[key + "_end"] = time.time()
        return out
    setattr(owner, name, wrapper)

if sys.argv[1] == "no-flag":
    def seed_run(config):
        import numpy as np
        torch.manual_seed(config.seed)
        if config.torch_threads > 0:
            torch.set_num_threads(config.torch_threads)
        return np.random.default_rng(config.seed)
    ppo.seed_run = seed_run
timed(ppo, "seed_run", "seed")
timed(ppo, "make_runner", "envs")
timed(ppo.EnvRunner, "start", "reset")
timed(ppo.BatchEnvRunner, "start", "reset")
timed(ppo.Agent, "__init__", "network")
timed(ppo.Adam, "__init__", "optimizer")
timed(ppo.EnvRunner, "collect", "rollout")

def callback(row):
    stamps.setdefault("update_end", time.time())
    return None

ppo.train(thunk, cfg, tempfile.mkdtemp(), progress=False, callback=callback)
stamps["done"] = time.time()
stamps["dynamo_loaded"] = float("torch._dynamo" in sys.modules)
print(json.dumps(stamps))
"""

#: (phase, from stamp, to stamp); "spawn" is the parent's time.time() before starting
STARTUP_PHASES = (
    ("interpreter", "spawn", "child"),
    ("import torch", "child", "torch"),
    ("import scenarios, rl", "torch", "imports"),
    ("problem + preset", "imports", "problem"),
    ("seeding (deterministic flag)", "seed_start", "seed_end"),
    ("env construction", "envs_start", "envs_end"),
    ("network init", "network_start", "network_end"),
    ("optimizer (Adam)", "optimizer_start", "optimizer_end"),
    ("first reset", "reset_start", "reset_end"),
    ("start-up: spawn to first rollout", "spawn", "rollout_start"),
    ("first rollout", "rollout_start", "rollout_end"),
    ("first update", "rollout_end", "update_end"),
    ("checkpoint, log, learning curve", "update_end", "done"),
)


#: CPU seconds of the child process (``time.process_time``: what a busy machine disturbs
#: least); a phase without a start stamp counts from the process's start.
STARTUP_CPU_PHASES = (
    ("CPU: interpreter", None, "child_cpu"),
    ("CPU: import torch", "child_cpu", "torch_cpu"),
    ("CPU: import scenarios, rl", "torch_cpu", "imports_cpu"),
    ("CPU: process start to first rollout", None, "rollout_start_cpu"),
)


def startup(repeats: int) -> dict[str, Any]:
    """Start-up of a PPO run, by phase: medians over *repeats* fresh interpreters, the
    project's seeding and a variant without the deterministic flag, interleaved."""
    import statistics
    import subprocess

    env = {**os.environ, "PYTHONPATH": _ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    runs: dict[str, list[dict[str, float]]] = {"project": [], "no-flag": []}
    for k in range(repeats):
        for variant in ("project", "no-flag") if k % 2 == 0 else ("no-flag", "project"):
            spawn = time.time()
            out = subprocess.run(
                [sys.executable, "-c", STARTUP_SCRIPT, variant],
                capture_output=True,
                text=True,
                env=env,
                cwd=_ROOT,
                check=True,
            )
            stamps = json.loads(out.stdout.strip().splitlines()[-1])
            stamps["spawn"] = spawn
            runs[variant].append(
                {
                    **{name: stamps[b] - stamps[a] for name, a, b in STARTUP_PHASES},
                    **{
                        name: stamps[b] - (stamps[a] if a else 0.0)
                        for name, a, b in STARTUP_CPU_PHASES
                    },
                    "dynamo_loaded": stamps["dynamo_loaded"],
                }
            )
    medians = {
        v: {
            name: statistics.median(r[name] for r in rs)
            for name, _, _ in (*STARTUP_PHASES, *STARTUP_CPU_PHASES)
        }
        for v, rs in runs.items()
    }
    return {
        "repeats": repeats,
        "load_average": os.getloadavg(),
        "median_s": medians,
        "runs": runs,
        "target_s": 2.0,
    }


def startup_table(result: dict[str, Any]) -> str:
    med = result["median_s"]
    lines = [
        f"PPO start-up (single-stage L=2 p=9, preset; medians of {result['repeats']} fresh "
        f"processes each, interleaved; load average {result['load_average'][0]:.2f})",
        f"{'phase':<36}{'project s':>10}{'no flag s':>10}",
    ]
    for name, _, _ in (*STARTUP_PHASES, *STARTUP_CPU_PHASES):
        lines.append(f"{name:<36}{med['project'][name]:>10.3f}{med['no-flag'][name]:>10.3f}")
    total = med["project"]["start-up: spawn to first rollout"]
    lines.append(
        f"target: start-up under {result['target_s']:g} s: "
        f"{'met' if total < result['target_s'] else 'NOT MET'} ({total:.2f} s)"
    )
    return "\n".join(lines)


# -- evaluation ---------------------------------------------------------------------------------
def _episode_costs(ledger_costs: list[list[float]], warmup: int) -> np.ndarray:
    return np.array([float(np.mean(c[warmup:])) for c in ledger_costs])


def evaluate_agent(
    policy: Any,
    problem: Any,
    spec: dict[str, Any],
    *,
    episodes: int = 20,
    periods: int = 1000,
    seed: int = 10_000,
    warmup: int = 100,
    deterministic: bool = True,
) -> np.ndarray:
    """Mean cost per period (after *warmup*) of a trained policy on episodes 0..episodes-1.

    *policy* is a :class:`rl.ppo.TorchPolicy`; the episodes are stepped in lockstep so
    the network runs on one batch per period.  Costs are the raw engine costs
    (``info["cost"]["total"]``), not the scaled rewards.
    """
    from scenarios.presets import make_thunk

    spec = {**spec, "env": {**spec["env"], "periods": periods}}
    thunk = make_thunk(problem, spec)
    envs = [thunk() for _ in range(episodes)]
    obs = np.stack(
        [
            np.asarray(e.reset(seed=seed, options={"episode": k})[0], dtype=np.float64)
            for k, e in enumerate(envs)
        ]
    )
    costs = [[] for _ in envs]
    agent, rms = policy.agent, policy.obs_rms
    from rl.buffers import CLIP_OBS

    for _ in range(periods):
        x = obs if rms is None else rms.normalize(obs, CLIP_OBS)
        flat = agent.act(torch.as_tensor(x, dtype=torch.float32), deterministic).numpy()
        for i, e in enumerate(envs):
            o, _, _, _, info = e.step(agent.layout.to_single(flat[i]))
            obs[i] = o
            costs[i].append(info["cost"]["total"])
    return _episode_costs(costs, warmup)


def evaluate_engine_policy(
    engine_policy: Any,
    problem: Any,
    *,
    episodes: int = 20,
    periods: int = 1000,
    seed: int = 10_000,
    warmup: int = 100,
) -> np.ndarray:
    """The same measurement for an engine policy (``policy.act(view)``), via the engine."""
    from des_supply.evaluate import simulate

    res = simulate(
        problem, engine_policy, periods=periods, replications=episodes, seed=seed, warmup=warmup
    )
    return np.asarray(res.per_replication, dtype=float)


class Reference:
    """DP optimum and best heuristic of a single-stage case, simulated on fixed episodes."""

    def __init__(
        self, params: dict[str, Any], *, episodes: int, periods: int, seed: int, warmup: int
    ) -> None:
        import scenarios
        from optimization.optimize import optimize

        self.problem = scenarios.make("single-stage", **params)
        res = optimize(self.problem)
        self.params = params
        self.optimal_value = float(res.optimal.value)
        best = min(res.policies, key=lambda b: b.value)
        self.heuristic_name, self.heuristic_value = best.name, float(best.value)
        self.heuristics = {b.name: float(b.value) for b in res.policies}
        kw = dict(episodes=episodes, periods=periods, seed=seed, warmup=warmup)
        self.eval_kw = kw
        self.dp = evaluate_engine_policy(res.optimal.policy, self.problem, **kw)
        self.heur = evaluate_engine_policy(best.policy, self.problem, **kw)

    def gaps(self, costs: np.ndarray) -> dict[str, float]:
        dp, heur = float(self.dp.mean()), float(self.heur.mean())
        diff = costs - self.dp
        half = 1.96 * float(diff.std(ddof=1)) / math.sqrt(len(diff)) if len(diff) > 1 else math.inf
        return {
            "cost": float(costs.mean()),
            "dp_sim": dp,
            "heur_sim": heur,
            "gap_opt": float(costs.mean()) / dp - 1.0,
            "gap_opt_ci95": half / dp,
            "gap_heur": float(costs.mean()) / heur - 1.0,
        }


# -- (1) throughput -------------------------------------------------------------------------------
#: The throughput scenarios: (name, scenario, parameters); serial is Serial-v0's problem.
THROUGHPUT_SCENARIOS = (
    ("single-stage", "single-stage", {"lead_time": 2, "penalty": 9.0}),
    ("serial", "serial", {}),
)
STEP_TARGET = 2.0  # issue 15: one env step costs at most 2x one engine period

#: Times OR-Gym's InvManagement env in the peer venv (gym 0.19, numpy < 2): random actions
#: drawn up front, resets at the end of each 30-period episode; prints CPU seconds per step.
_ORGYM_TIMER = """
import sys, time, numpy as np
from or_gym.envs.supply_chain.inventory_management import InvManagementBacklogEnv
steps = int(sys.argv[1])
env = InvManagementBacklogEnv()
rng = np.random.default_rng(0)
high = env.action_space.high
acts = [rng.integers(0, high + 1) for _ in range(1000)]
env.reset()
t = time.process_time()
for i in range(steps):
    _, _, done, _ = env.step(acts[i % 1000])
    if done:
        env.reset()
print((time.process_time() - t) / steps)
"""


def _per_step(fn: Any) -> float:
    """CPU seconds per step of ``fn()`` (which returns how many steps it ran).

    CPU time of this process, not wall time: on a shared machine a run is descheduled
    at random, and wall-clock ratios then drift with the load.
    """
    import gc

    gc.collect()
    t = time.process_time()
    n = fn()
    return (time.process_time() - t) / n


def _step_cases(problem: Any, steps: int, *, vectors: bool, spec: Any) -> dict[str, Any]:
    """The timed cases of one scenario: callables returning the number of steps they ran."""
    import gymnasium as gym

    from des_supply.policies import BaseStock
    from des_supply.sim import Simulation
    from rl.env import make_env
    from scenarios.presets import make_thunk

    net = problem.network
    levels = {n.name: 20.0 for n in net.stock_nodes}

    def engine() -> int:
        Simulation(net, steps, 0).run(BaseStock(levels))
        return steps

    def driven() -> int:  # the engine answered from outside (act/advance), no adapter
        sim = Simulation(net, steps, 0)
        view, k = sim.reset(0), 0
        while view is not None:
            sim.act({n: float(k % 7) for n in view.deciding})
            view, k = sim.advance(), k + 1
        return steps

    def env_case(build: Any) -> Any:
        probe = build()
        probe.action_space.seed(0)
        actions = [probe.action_space.sample() for _ in range(997)]

        def run() -> int:
            env = build()
            env.reset(seed=0)
            for i in range(steps):
                *_, truncated, _ = env.step(actions[i % 997])
                if truncated:
                    env.reset()
            return steps

        return run

    periods = int(spec["env"]["periods"]) if spec is not None else 200
    cases: dict[str, Any] = {
        "engine": engine,
        "engine driven from outside": driven,
        "env (quantity)": env_case(lambda: make_env(problem, periods=periods)),
        "env (base-stock)": env_case(
            lambda: make_env(problem, periods=periods, action_mode="base-stock")
        ),
    }
    if spec is not None:
        thunk = make_thunk(problem, spec)
        cases["env + preset wrappers"] = env_case(thunk)
        if vectors:
            for n in (8, 64):

                def vector(n: int = n) -> int:
                    envs = gym.vector.SyncVectorEnv([thunk] * n)
                    envs.action_space.seed(0)
                    acts = [envs.action_space.sample() for _ in range(16)]
                    envs.reset(seed=0)
                    k = max(1, steps // n)
                    for i in range(k):
                        envs.step(acts[i % 16])
                    envs.close()
                    return k * n

                cases[f"SyncVectorEnv x{n}"] = vector
    return cases


def _orgym(steps: int, python: Path) -> float | None:
    """Seconds per step of OR-Gym's InvManagement env (None if the peer venv fails)."""
    import subprocess

    try:
        out = subprocess.run(
            [str(python), "-c", _ORGYM_TIMER, str(steps)],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        return float(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def throughput(steps: int, repeats: int, orgym_python: Path | None = None) -> dict[str, Any]:
    """Seconds per env step against seconds per engine period, per scenario.

    Every case of every scenario runs once per round, ``repeats`` rounds (interleaved, so
    a change of machine load hits all cases alike); a case's ratio is the median over
    rounds of (its time per step / the engine's time per period in the same round).
    ``orgym_python``: a Python with OR-Gym (the peer venv), timed in the serial rounds.
    """
    import scenarios
    from scenarios.presets import preset

    plans = {}
    for label, name, params in THROUGHPUT_SCENARIOS:
        problem = scenarios.make(name, **params)
        spec = preset(problem)[1] if name == "single-stage" else None
        plans[label] = _step_cases(problem, steps, vectors=name == "single-stage", spec=spec)
    times: dict[str, dict[str, list[float]]] = {
        label: {case: [] for case in cases} for label, cases in plans.items()
    }
    if orgym_python is not None:
        times["serial"]["OR-Gym InvManagement (backlog)"] = []
    for _ in range(repeats):
        for label, cases in plans.items():
            for case, fn in cases.items():
                times[label][case].append(_per_step(fn))
            if label == "serial" and orgym_python is not None:
                t = _orgym(steps, orgym_python)
                if t is None:
                    del times[label]["OR-Gym InvManagement (backlog)"]
                    orgym_python = None
                else:
                    times[label]["OR-Gym InvManagement (backlog)"].append(t)
    out: dict[str, Any] = {
        "steps": steps,
        "repeats": repeats,
        "target": STEP_TARGET,
        "engine_policy": "BaseStock(20 at every stocking node)",
        "scenarios": {},
    }
    for label, name, params in THROUGHPUT_SCENARIOS:
        engine = np.array(times[label]["engine"])
        rows = {}
        for case, ts in times[label].items():
            arr = np.array(ts)
            rows[case] = {
                "seconds_per_step": float(np.median(arr)),
                "steps_per_second": float(1.0 / np.median(arr)),
                "x_engine_period": float(np.median(arr / engine)),
                "x_engine_period_all": (arr / engine).tolist(),
            }
        entry: dict[str, Any] = {"scenario": name, "params": params, "cases": rows}
        for mode in ("quantity", "base-stock"):
            ratio = rows[f"env ({mode})"]["x_engine_period"]
            entry[f"target_met_{mode}"] = bool(ratio <= STEP_TARGET)
        if "OR-Gym InvManagement (backlog)" in rows:
            entry["serial_v0_vs_orgym"] = (
                rows["OR-Gym InvManagement (backlog)"]["seconds_per_step"]
                / rows["env (quantity)"]["seconds_per_step"]
            )
        out["scenarios"][label] = entry
    return out


def throughput_table(result: dict[str, Any]) -> str:
    """The throughput result as text: per scenario, each case's cost per step."""
    lines = [
        f"Throughput: one env step as a multiple of one engine period (medians of "
        f"{result['repeats']} interleaved rounds of {result['steps']:,} steps; random "
        f"actions; target {result['target']:g}x)",
    ]
    for label, entry in result["scenarios"].items():
        lines.append(f"{label} ({entry['scenario']} {entry['params'] or 'defaults'})")
        lines.append(f"  {'case':<34}{'steps/s':>10}{'us/step':>9}{'x engine':>10}  (CPU time)")
        for case, r in entry["cases"].items():
            lines.append(
                f"  {case:<34}{r['steps_per_second']:>10,.0f}"
                f"{1e6 * r['seconds_per_step']:>9.1f}{r['x_engine_period']:>10.2f}"
            )
        for mode in ("quantity", "base-stock"):
            ratio = entry["cases"][f"env ({mode})"]["x_engine_period"]
            verdict = "MET" if entry[f"target_met_{mode}"] else "NOT MET"
            lines.append(
                f"  env ({mode}) step {ratio:.2f}x: target {result['target']:g}x {verdict}"
            )
        if "serial_v0_vs_orgym" in entry:
            lines.append(
                f"  Serial-v0 env steps/s = {entry['serial_v0_vs_orgym']:.2f}x OR-Gym's "
                "InvManagement env"
            )
    return "\n".join(lines)


# -- (2) learning quality ----------------------------------------------------------------------
def learn(
    params: dict[str, Any],
    seed: int,
    *,
    minutes: float,
    total_steps: int | None,
    check_every: float,
    check_ref: Reference,
    final_ref: Reference,
    out_dir: Path,
) -> dict[str, Any]:
    """Train PPO with the preset, check the gap on the way, evaluate at the end."""
    import dataclasses

    import scenarios
    from rl.ppo import TorchPolicy, train
    from scenarios.presets import make_thunk, preset

    problem = scenarios.make("single-stage", **params)
    cfg, spec = preset(problem)
    changes: dict[str, Any] = {"seed": seed}
    if total_steps is not None:
        changes["total_steps"] = max(total_steps, cfg.batch_size)
    cfg = dataclasses.replace(cfg, **changes)
    thunk = make_thunk(problem, spec)
    holder: dict[str, Any] = {}
    checks: list[dict[str, float]] = []
    clock = {"start": time.perf_counter(), "excluded": 0.0, "last": 0.0}

    def train_time() -> float:
        return time.perf_counter() - clock["start"] - clock["excluded"]

    def callback(row: dict[str, float]) -> bool | None:
        t = train_time()
        if check_every > 0 and t - clock["last"] >= check_every and "agent" in holder:
            clock["last"] = t
            s = time.perf_counter()
            pol = TorchPolicy(holder["agent"], None, holder.get("rms"))
            g = check_ref.gaps(evaluate_agent(pol, problem, spec, **check_ref.eval_kw))
            checks.append(
                {"train_seconds": t, "steps": int(row["global_step"]), "gap_opt": g["gap_opt"]}
            )
            clock["excluded"] += time.perf_counter() - s
        return False if t > minutes * 60 else None

    # reach the agent and the normaliser that train() builds, for the checks on the way
    import rl.ppo as ppo

    agent_init, runner_init = ppo.Agent.__init__, ppo.EnvRunner.__init__

    def _agent_init(self: Any, *a: Any, **k: Any) -> None:
        agent_init(self, *a, **k)
        holder["agent"] = self

    def _runner_init(self: Any, *a: Any, **k: Any) -> None:
        runner_init(self, *a, **k)
        holder["rms"] = self.obs_rms

    ppo.Agent.__init__, ppo.EnvRunner.__init__ = _agent_init, _runner_init  # type: ignore
    try:
        res = train(thunk, cfg, out_dir, progress=False, callback=callback)
    finally:
        ppo.Agent.__init__, ppo.EnvRunner.__init__ = agent_init, runner_init  # type: ignore
    seconds = train_time()
    s = time.perf_counter()
    costs = evaluate_agent(res.policy, problem, spec, **final_ref.eval_kw)
    g = final_ref.gaps(costs)
    eval_seconds = time.perf_counter() - s

    def first(th: float, key: str) -> float | None:
        hit = [c[key] for c in checks if c["gap_opt"] < th]
        return hit[0] if hit else None

    return {
        "seed": seed,
        **g,
        "gap_opt_exact": g["cost"] / final_ref.optimal_value - 1.0,
        "train_seconds": seconds,
        "steps": res.global_step,
        "steps_per_second": res.global_step / seconds,
        "stopped_by_budget": res.stopped_early,
        "eval_seconds": eval_seconds,
        "time_to_2pct": first(0.02, "train_seconds"),
        "steps_to_2pct": first(0.02, "steps"),
        "time_to_1pct": first(0.01, "train_seconds"),
        "steps_to_1pct": first(0.01, "steps"),
        "checks": checks,
        "config": dataclasses.asdict(cfg),
        "env_spec": {k: (list(v) if isinstance(v, tuple) else v) for k, v in spec.items()},
    }


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _num(x: float | None, fmt: str = "{:.0f}") -> str:
    return "-" if x is None else fmt.format(x)


def table(throughput_result: dict[str, Any] | None, learning: list[dict[str, Any]]) -> str:
    lines = []
    if throughput_result:
        lines += [throughput_table(throughput_result), ""]
    if learning:
        lines += [
            "Learning (PPO, deterministic policy; gaps paired with the DP policy on the "
            "same episodes)",
            f"{'L':>2} {'p':>4} {'seed':>4} {'PPO cost':>9} {'DP sim':>8} {'DP exact':>9} "
            f"{'gap opt':>8} {'±95%':>6} {'gap heur':>9} {'train s':>8} {'steps':>9} "
            f"{'t<2%':>6} {'steps<2%':>9} {'t<1%':>6}",
        ]
        for case in learning:
            L, p = case["params"]["lead_time"], case["params"]["penalty"]
            for r in case["runs"]:
                lines.append(
                    f"{L:>2} {p:>4g} {r['seed']:>4} {r['cost']:>9.4f} {r['dp_sim']:>8.4f} "
                    f"{case['optimal_value']:>9.4f} {_pct(r['gap_opt']):>8} "
                    f"{100 * r['gap_opt_ci95']:>5.2f}% {_pct(r['gap_heur']):>9} "
                    f"{r['train_seconds']:>8.0f} {r['steps']:>9,} {_num(r['time_to_2pct']):>6} "
                    f"{_num(r['steps_to_2pct'], '{:,.0f}'):>9} {_num(r['time_to_1pct']):>6}"
                )
            gaps = [r["gap_opt"] for r in case["runs"]]
            lines.append(
                f"   mean gap to optimum {_pct(float(np.mean(gaps)))}, best heuristic "
                f"{case['heuristic']} (exact {case['heuristic_value']:.4f}, "
                f"{_pct(case['heuristic_value'] / case['optimal_value'] - 1)} above the "
                f"optimum)"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument(
        "--quick", action="store_true", help="smoke run: 1 seed, 150k steps, small evaluations"
    )
    ap.add_argument("--seeds", type=int, default=3, help="PPO seeds per case (default 3)")
    ap.add_argument(
        "--minutes",
        type=float,
        default=15.0,
        help="wall-clock cap on each training run (default 15)",
    )
    ap.add_argument(
        "--total-steps",
        type=int,
        default=None,
        help="override the preset's total_steps (the LR anneals over it)",
    )
    ap.add_argument("--eval-episodes", type=int, default=20)
    ap.add_argument("--eval-periods", type=int, default=3000)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument(
        "--eval-every",
        type=float,
        default=60.0,
        help="seconds of training between gap checks (0: none)",
    )
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--throughput-steps", type=int, default=None, help="steps per timed run")
    ap.add_argument("--throughput-repeats", type=int, default=None, help="interleaved rounds")
    ap.add_argument(
        "--orgym-python",
        type=Path,
        default=Path("/tmp/peers/venv/bin/python"),
        help="a Python with OR-Gym 0.5 (the peer venv) for the Serial-v0 comparison",
    )
    ap.add_argument("--skip-learning", action="store_true")
    ap.add_argument("--skip-startup", action="store_true")
    ap.add_argument("--startup-repeats", type=int, default=None, help="fresh processes per variant")
    ap.add_argument("--cases", default="2:9,4:39", help="lead_time:penalty pairs")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.quick:
        args.seeds = 1 if args.seeds == 3 else args.seeds
        args.total_steps = args.total_steps or 150_000
        args.eval_episodes, args.eval_periods = (
            min(args.eval_episodes, 10),
            min(args.eval_periods, 1000),
        )
        args.eval_every = 30.0 if args.eval_every == 60.0 else args.eval_every
    cases = [(int(a), float(b)) for a, b in (c.split(":") for c in args.cases.split(","))]

    result: dict[str, Any] = {
        "benchmark": "rl",
        "argv": sys.argv[1:],
        "quick": args.quick,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
        },
    }
    if not args.skip_startup:
        result["startup"] = startup(args.startup_repeats or (3 if args.quick else 5))
        print(startup_table(result["startup"]), flush=True)
    if not args.skip_throughput:
        steps = args.throughput_steps or (2_000 if args.quick else 10_000)
        repeats = args.throughput_repeats or (3 if args.quick else 7)
        orgym = args.orgym_python if args.orgym_python.exists() else None
        if orgym is None:
            print(f"(no OR-Gym comparison: {args.orgym_python} not found)", flush=True)
        result["throughput"] = throughput(steps, repeats, orgym)
        print(throughput_table(result["throughput"]), flush=True)
    learning: list[dict[str, Any]] = []
    if not args.skip_learning:
        for L, p in cases:
            params = {"lead_time": L, "penalty": p}
            final_ref = Reference(
                params,
                episodes=args.eval_episodes,
                periods=args.eval_periods,
                seed=20_000,
                warmup=args.warmup,
            )
            check_ref = Reference(
                params,
                episodes=8 if args.quick else 16,
                periods=600 if args.quick else 1000,
                seed=30_000,
                warmup=args.warmup,
            )
            case = {
                "params": params,
                "optimal_value": final_ref.optimal_value,
                "heuristic": final_ref.heuristic_name,
                "heuristic_value": final_ref.heuristic_value,
                "heuristics": final_ref.heuristics,
                "dp_sim": float(final_ref.dp.mean()),
                "heuristic_sim": float(final_ref.heur.mean()),
                "eval": final_ref.eval_kw,
                "runs": [],
            }
            learning.append(case)
            for seed in range(1, args.seeds + 1):
                with tempfile.TemporaryDirectory() as tmp:
                    run = learn(
                        params,
                        seed,
                        minutes=args.minutes,
                        total_steps=args.total_steps,
                        check_every=args.eval_every,
                        check_ref=check_ref,
                        final_ref=final_ref,
                        out_dir=Path(tmp),
                    )
                case["runs"].append(run)
                print(
                    f"L={L} p={p:g} seed={seed}: gap {_pct(run['gap_opt'])} "
                    f"(±{100 * run['gap_opt_ci95']:.2f}%) in {run['train_seconds']:.0f}s, "
                    f"{run['steps']:,} steps",
                    flush=True,
                )
        result["learning"] = learning
    text = table(result.get("throughput"), learning)
    result["table"] = text
    if learning:
        print()
        print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
