"""rl: Gymnasium and PettingZoo adapters over the engine, and PyTorch agents.

Importing ``rl`` registers the Gymnasium ids ``des_supply/SingleStage-v0``,
``des_supply/Serial-v0``, ``des_supply/BeerGame-v0``, ``des_supply/OWMR-v0``,
``des_supply/Assembly-v0`` and ``des_supply/RandomDAG-v0`` (see :mod:`rl.env`).
It imports neither torch nor PettingZoo: the agents live in ``rl.ppo`` and friends,
the multi-agent adapters in :mod:`rl.multi_agent` (loaded on first use of
``rl.parallel_env`` / ``rl.aec_env``).
"""

from __future__ import annotations

from typing import Any

from .env import ENV_IDS, InventoryEnv, make_env, register_envs
from .wrappers import make_vector_env, scale_observation, scale_reward

__all__ = [
    "ENV_IDS",
    "InventoryAECEnv",
    "InventoryEnv",
    "InventoryParallelEnv",
    "aec_env",
    "make_env",
    "make_vector_env",
    "parallel_env",
    "register_envs",
    "scale_observation",
    "scale_reward",
]

_MULTI_AGENT = ("InventoryAECEnv", "InventoryParallelEnv", "aec_env", "parallel_env")


def __getattr__(name: str) -> Any:
    if name in _MULTI_AGENT:  # PettingZoo is imported only when asked for
        from . import multi_agent

        return getattr(multi_agent, name)
    raise AttributeError(f"module 'rl' has no attribute {name!r}")
