"""rl: Gymnasium and PettingZoo adapters over the engine, and PyTorch agents.

Importing ``rl`` registers the Gymnasium ids ``des_supply/SingleStage-v0``,
``des_supply/Serial-v0``, ``des_supply/BeerGame-v0``, ``des_supply/OWMR-v0``,
``des_supply/Assembly-v0`` and ``des_supply/RandomDAG-v0`` (see :mod:`rl.env`), and
those of :data:`RECOMMENDATION_ENV_IDS` (see :mod:`rl.recommendation_env`).
It imports neither torch nor PettingZoo: the agents live in ``rl.ppo`` and friends,
the multi-agent adapters in :mod:`rl.multi_agent` and :mod:`rl.recommendation_env`
(loaded on first use of ``rl.parallel_env`` / ``rl.aec_env`` /
``rl.make_recommendation_env`` / ...).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from .env import ENV_IDS, InventoryEnv, make_env, register_envs
from .wrappers import make_vector_env, scale_observation, scale_reward

__all__ = [
    "ENV_IDS",
    "RECOMMENDATION_ENV_IDS",
    "InventoryAECEnv",
    "InventoryEnv",
    "InventoryParallelEnv",
    "RecommendationEnv",
    "RecommendationParallelEnv",
    "aec_env",
    "make_env",
    "make_recommendation_env",
    "make_vector_env",
    "parallel_env",
    "recommendation_parallel_env",
    "register_envs",
    "scale_observation",
    "scale_reward",
]

_MULTI_AGENT = ("InventoryAECEnv", "InventoryParallelEnv", "aec_env", "parallel_env")
_RECOMMENDATION = ("RecommendationEnv", "RecommendationParallelEnv", "make_recommendation_env",
                   "recommendation_parallel_env")

#: Gymnasium id -> scenario of the inventory-and-recommendation envs (entry point imported on make).
RECOMMENDATION_ENV_IDS = {f"des_supply/Recommendation{size.title()}-v0": f"recommendation-{size}"
                          for size in ("small", "medium", "large")}
for _env_id, _scenario in RECOMMENDATION_ENV_IDS.items():
    if _env_id not in gym.registry:
        gym.register(_env_id, entry_point="rl.recommendation_env:make_recommendation_env",
                     kwargs={"scenario": _scenario})


def __getattr__(name: str) -> Any:
    if name in _MULTI_AGENT:  # PettingZoo is imported only when asked for
        from . import multi_agent

        return getattr(multi_agent, name)
    if name in _RECOMMENDATION:
        from . import recommendation_env

        return getattr(recommendation_env, name)
    raise AttributeError(f"module 'rl' has no attribute {name!r}")
