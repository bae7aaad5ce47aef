"""Evaluate agents and engine policies on the same demand and lead-time draws.

Episode k of an env reset with ``reset(seed=s, options={"episode": k})`` runs
on ``replication_seed(s, k)``, exactly like replication k of
``des_supply.evaluate.simulate(..., seed=s)``.  So a trained agent, the
heuristics and the DP policy can be compared episode by episode (common random
numbers) and their differences judged with paired confidence intervals, which
are far tighter than the separate ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from des_supply.evaluate import confidence_interval, simulate
from des_supply.executors import Executor, SerialExecutor, chunks
from des_supply.network import Network
from des_supply.problem import Problem

__all__ = ["Evaluation", "evaluate_agent", "evaluate_policy", "paired"]


@dataclass(frozen=True)
class Evaluation:
    """Mean cost (or profit) per period of one policy, per episode and overall."""

    name: str
    per_episode: np.ndarray
    mean: float
    ci95: tuple[float, float]

    @classmethod
    def of(cls, name: str, per_episode: np.ndarray) -> Evaluation:
        mean, lo, hi = confidence_interval(per_episode)
        return cls(name, np.asarray(per_episode, dtype=float), mean, (lo, hi))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mean": self.mean,
            "ci95": list(self.ci95),
            "per_episode": self.per_episode.tolist(),
        }


def _episodes(
    make_env: Callable[[], gym.Env], act: Callable[[Any], Any], seed: int, ks: range
) -> list[float]:
    """Mean cost (or profit) per period (per unit time on a semi-Markov env: its steps'
    ``dt`` add up to the horizon) of episodes *ks* (one executor task)."""
    env = make_env()
    base: Any = env.unwrapped  # a des_supply env: its engine is base.sim
    objective = base.sim.objective
    values = []
    for k in ks:
        obs, _ = env.reset(seed=seed, options={"episode": k})
        cost = revenue = 0.0
        periods = 0
        while True:
            obs, _, terminated, truncated, info = env.step(act(obs))
            step_cost = info["cost"]  # the semi-Markov env's is one number (cost - revenue)
            cost += step_cost["total"] if isinstance(step_cost, dict) else step_cost
            revenue += info.get("revenue", 0.0)
            periods += info["dt"]
            if terminated or truncated:
                break
        values.append((cost if objective == "cost" else revenue - cost) / max(periods, 1))
    env.close()
    return values


def evaluate_agent(
    make_env: Callable[[], gym.Env],
    act: Callable[[Any], Any],
    *,
    seed: int,
    episodes: int,
    name: str = "agent",
    progress: bool = False,
    executor: Executor | None = None,
) -> Evaluation:
    """Run *act* (observation -> action) for *episodes* episodes of the env from *make_env*.

    The value of an episode is its mean cost per period (or profit when the env's
    objective is profit), taken from the engine's accounting in ``info`` so that
    reward scaling wrappers do not change it.  The episodes run in chunks on *executor*
    (default serial; *make_env* and *act* must pickle with cloudpickle for the others);
    episode k is the same whichever ran it.
    """
    ex = executor or SerialExecutor()
    bar = tqdm(total=episodes, desc=f"evaluate {name}", disable=not progress, leave=False)
    parts = ex.map(
        partial(_episodes, make_env, act, seed),
        chunks(episodes, ex.workers),
        on_result=lambda i, part: bar.update(len(part)),
    )
    bar.close()
    return Evaluation.of(name, np.array([v for part in parts for v in part]))


def evaluate_policy(
    problem: Problem | Network,
    policy: Any,
    *,
    periods: int,
    seed: int,
    episodes: int,
    name: str = "policy",
    processes: int = 1,
    market: Any = None,
    executor: Executor | None = None,
    review: str | float | None = None,
) -> Evaluation:
    """An engine policy on the same episodes (replication k = episode k), with the
    problem's market (decision-dependent demand; or *market* with a plain Network).
    *review*: when a continuous-time problem's nodes review (``simulate``'s *review*)."""
    res = simulate(
        problem,
        policy,
        periods=periods,
        replications=episodes,
        seed=seed,
        processes=processes,
        market=market,
        executor=executor,
        review=review,
    )
    return Evaluation.of(name, res.per_replication)


def paired(a: Evaluation, b: Evaluation) -> tuple[float, float, float]:
    """Mean of ``a - b`` over common episodes, with its 95% CI."""
    if len(a.per_episode) != len(b.per_episode):
        raise ValueError(
            f"{a.name} has {len(a.per_episode)} episodes, {b.name} "
            f"{len(b.per_episode)}: paired differences need the same episodes"
        )
    return confidence_interval(a.per_episode - b.per_episode)
