"""rl: Gymnasium and PettingZoo adapters over the engine, and PyTorch agents.

Every constructor takes a problem (:class:`des_supply.problem.Problem`, or a
:class:`~des_supply.network.Network`) plus the env's own keyword arguments:
``rl.make_env(problem, periods=..., action_mode=...)``, ``rl.parallel_env``,
``rl.aec_env``, ``rl.make_recommendation_env``, ``rl.recommendation_parallel_env``,
``rl.make_semi_markov_env`` (continuous-time problems: a step per decision event).
``rl`` knows no scenario names: named problems, and the Gymnasium ids
(``des_supply/SingleStage-v0``, ...), live in the application layer
(:mod:`scenarios`, :mod:`scenarios.gym_ids`).
It imports neither torch nor PettingZoo: the agents live in ``rl.ppo`` and friends,
the multi-agent adapters in :mod:`rl.multi_agent` and :mod:`rl.recommendation_env`
(loaded on first use of ``rl.parallel_env`` / ``rl.aec_env`` /
``rl.make_recommendation_env`` / ...).
"""

from __future__ import annotations

from typing import Any

from .env import InventoryEnv, make_env
from .semi_markov_env import SemiMarkovEnv, make_semi_markov_env
from .wrappers import make_vector_env, scale_observation, scale_reward

__all__ = [
    "InventoryAECEnv",
    "InventoryEnv",
    "InventoryParallelEnv",
    "RecommendationEnv",
    "RecommendationParallelEnv",
    "SemiMarkovEnv",
    "SemiMarkovParallelEnv",
    "aec_env",
    "make_env",
    "make_recommendation_env",
    "make_semi_markov_env",
    "make_vector_env",
    "parallel_env",
    "recommendation_parallel_env",
    "scale_observation",
    "scale_reward",
]

_MULTI_AGENT = (
    "InventoryAECEnv",
    "InventoryParallelEnv",
    "SemiMarkovParallelEnv",
    "aec_env",
    "parallel_env",
)
_RECOMMENDATION = (
    "RecommendationEnv",
    "RecommendationParallelEnv",
    "make_recommendation_env",
    "recommendation_parallel_env",
)


def __getattr__(name: str) -> Any:
    if name in _MULTI_AGENT:  # PettingZoo is imported only when asked for
        from . import multi_agent

        return getattr(multi_agent, name)
    if name in _RECOMMENDATION:
        from . import recommendation_env

        return getattr(recommendation_env, name)
    raise AttributeError(f"module 'rl' has no attribute {name!r}")
