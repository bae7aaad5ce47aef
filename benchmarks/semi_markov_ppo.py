"""PPO through the semi-Markov env on ``continuous-review``, against the exact optimum.

The problem is ``scenarios.make("continuous-review")`` with its default parameters
(unit Poisson demand of rate 5, constant lead time 2, holding 1, backlog penalty 9 per
unit per unit time, no fixed cost), whose exact optimum is the (r, Q) of
:func:`optimization.continuous_review.continuous_review_optimum` (with K = 0: Q = 1, the
(S-1, S) base stock).  The agent is :func:`rl.ppo.train` on
:class:`rl.semi_markov_env.SemiMarkovEnv` (a step per demand arrival, ``gamma ** dt``
discounting), for a small budget.

Evaluation is paired: the trained agent runs episodes k = 0..n-1 of
``reset(seed=EVAL_SEED)``, once with its mean action and once sampling its actions (the
randomised policy it was trained as); the exact optimum runs replications k = 0..n-1
of ``simulate_continuous(..., seed=EVAL_SEED)``: the same customers (common random
numbers).  Both report the cost per unit time over the whole horizon (no warm-up: both
start with the same empty state), and the gap is the mean of the paired differences
with a 95% t interval.

Usage::

    python benchmarks/semi_markov_ppo.py --out /tmp/smdp   # 400k steps: 17 min on a busy core
    python benchmarks/semi_markov_ppo.py --quick           # a smoke run

Measured (30 paired episodes of 200 time units; exact (r, Q) = (13, 1) simulated: 6.22
per unit time): 400k steps, log_std_init -2: mean action 7.44 (+1.22 [1.02, 1.42],
+20%), sampled 7.24 (+16%); 250k steps, log_std_init -1.5: 10.30 (+66%), sampled 9.05.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path and benchmarks/rl.py would
# shadow the `rl` package (as in benchmarks/ppo_networks.py).  Drop that folder.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy import stats  # noqa: E402

import scenarios  # noqa: E402
from des_supply.continuous import simulate_continuous  # noqa: E402
from optimization.continuous_review import continuous_review_optimum  # noqa: E402
from rl.ppo import PPOConfig, load_agent, train  # noqa: E402
from rl.semi_markov_env import make_semi_markov_env  # noqa: E402

EVAL_SEED = 12345


def evaluate(policy: Any, env: Any, episodes: int) -> np.ndarray:
    """Cost per unit time of *policy* on episodes 0..episodes-1 of ``reset(seed=EVAL_SEED)``."""
    rates = []
    obs, _ = env.reset(seed=EVAL_SEED)
    for _ in range(episodes):
        total, done = 0.0, False
        while not done:
            obs, reward, _, done, _ = env.step(policy(obs))
            total -= reward
        rates.append(total / env.horizon)
        obs, _ = env.reset()
    return np.array(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400_000, help="PPO environment steps")
    parser.add_argument("--horizon", type=float, default=200.0, help="episode length [time]")
    parser.add_argument("--episodes", type=int, default=30, help="paired evaluation episodes")
    parser.add_argument("--action-mode", default="base-stock")
    parser.add_argument("--gamma", type=float, default=0.99, help="discount per unit time")
    parser.add_argument("--average-cost", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--log-std-init", type=float, default=-2.0, help="initial log std of the action noise"
    )
    parser.add_argument("--lr", type=float, default=3e-4, help="Adam step size")
    parser.add_argument(
        "--norm-reward",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="PPOConfig.norm_reward",
    )
    parser.add_argument(
        "--evaluate-only", action="store_true", help="evaluate the agent already in --out"
    )
    parser.add_argument("--out", default="benchmarks/results/semi_markov_ppo")
    parser.add_argument("--quick", action="store_true", help="4k steps, 3 episodes")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.episodes, args.horizon = 4096, 3, 50.0
    problem = scenarios.make("continuous-review")
    best = continuous_review_optimum(problem)

    def make() -> Any:
        return make_semi_markov_env(problem, horizon=args.horizon, action_mode=args.action_mode)

    config = PPOConfig(
        total_steps=args.steps,
        n_envs=4,
        n_steps=512,
        n_minibatches=4,
        gamma=args.gamma,
        reward_scale=0.1,
        average_cost=args.average_cost,
        log_std_init=args.log_std_init,
        learning_rate=args.lr,
        norm_reward=args.norm_reward,
        seed=args.seed,
        log_interval=1,
        checkpoint_interval=1000,
    )
    start = time.perf_counter()

    def progress(row: dict[str, float]) -> None:
        ret = row["episodic_return_mean"]
        rate = -ret / args.horizon if row["episodes"] and math.isfinite(ret) else math.nan
        print(
            f"step {int(row['global_step']):>8}  cost/time {rate:8.3f}  "
            f"sps {row['sps']:7.0f}  elapsed {time.perf_counter() - start:6.0f}s",
            flush=True,
        )

    if args.evaluate_only:
        policy, seconds = load_agent(args.out), math.nan
    else:
        policy = train(make, config, args.out, progress=False, callback=progress).policy
        seconds = time.perf_counter() - start
    agent = evaluate(lambda obs: policy(obs), make(), args.episodes)
    torch.manual_seed(EVAL_SEED)  # the sampled policy's draws
    sampled = evaluate(lambda obs: policy(obs, deterministic=False), make(), args.episodes)
    exact = simulate_continuous(
        problem,
        best.policy(),
        horizon=args.horizon,
        replications=args.episodes,
        seed=EVAL_SEED,
        warmup=0.0,
    ).per_replication

    def gap(rates: np.ndarray) -> dict[str, Any]:
        diff = rates - exact
        half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / math.sqrt(len(diff))
        return {
            "cost_rate": float(rates.mean()),
            "gap": float(diff.mean()),
            "gap_ci95": [float(diff.mean() - half), float(diff.mean() + half)],
            "gap_percent": float(100 * diff.mean() / exact.mean()),
        }

    report = {
        "problem": "continuous-review (defaults)",
        "exact_policy": repr(best.policy()),
        "exact_cost_rate_formula": best.cost,
        "exact_cost_rate_simulated": float(exact.mean()),
        "ppo_mean_action": gap(agent),
        "ppo_sampled_action": gap(sampled),
        "episodes": args.episodes,
        "horizon": args.horizon,
        "steps": args.steps,
        "train_seconds": seconds,
        "config": {
            "action_mode": args.action_mode,
            "gamma": args.gamma,
            "average_cost": args.average_cost,
            "log_std_init": args.log_std_init,
            "learning_rate": args.lr,
            "norm_reward": args.norm_reward,
        },
    }
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
