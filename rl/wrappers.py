"""Observation and reward scaling, and vector envs, for :class:`rl.env.InventoryEnv`.

The env returns raw physical units (STYLE 2.5); scaling belongs here.  Two kinds:

* **Fixed** (:func:`scale_observation`, :func:`scale_reward`): Gymnasium's own
  ``TransformObservation``/``TransformReward`` with divisors computed once from the
  network's demand, lead times and costs.  No running statistics, so the wrapped
  env is a fixed function of the raw one: evaluation is deterministic and
  checkpoints need no normaliser state.
* **Running** (:func:`normalize_running`): Gymnasium's ``NormalizeObservation`` and
  ``NormalizeReward``.  They keep state across episodes; freeze them for evaluation
  with ``update_running_mean = False``.

Divisors of the fixed observation scaling, per stocking node with mean demand ``d``
per period reaching it, review period ``R`` and lead-time bound ``L`` (see
:class:`rl.env.InventoryEnv`; each at least 1):

==========================================  ====================
``on_hand``, ``backlog``, ``on_order``       ``d * (R + L)``
``pipeline[j]``                              ``d * R``
``last_demand``                              ``d``
``cycle<P>.sin``/``.cos``                    1
``trace<m>.period``                          ``m - 1``
==========================================  ====================

The fixed reward divisor is ``NetworkLayout.cost_scale()``: per stocking node
``d * (holding + shortage + order cost + price)`` plus ``fixed order cost / R``, a
rough magnitude of the cost per period, not an estimate of it.

:func:`make_vector_env` builds a ``SyncVectorEnv`` or ``AsyncVectorEnv`` whose
episodes line up with the engine's replications (see its docstring).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv, VectorWrapper
from gymnasium.wrappers import (
    NormalizeObservation,
    NormalizeReward,
    TransformObservation,
    TransformReward,
)

from des_supply.network import Network
from des_supply.problem import Problem

from .env import InventoryEnv, make_env

__all__ = [
    "SharedRootSeed",
    "make_vector_env",
    "normalize_running",
    "observation_scale",
    "reward_scale",
    "scale_observation",
    "scale_reward",
]


def _inventory_env(env: gym.Env) -> InventoryEnv:
    base = env.unwrapped
    if not isinstance(base, InventoryEnv):
        raise TypeError(f"expected an InventoryEnv (possibly wrapped), got {type(base).__name__}")
    return base


def observation_scale(env: gym.Env) -> np.ndarray:
    """The fixed per-feature divisors of *env*'s observation (table in the module docstring)."""
    return _inventory_env(env).layout.feature_scale()


def reward_scale(env: gym.Env) -> float:
    """The fixed reward divisor of *env* (``NetworkLayout.cost_scale()``)."""
    return _inventory_env(env).layout.cost_scale()


def scale_observation(env: gym.Env, scale: np.ndarray | None = None) -> TransformObservation:
    """Divide each observation feature by a fixed *scale* (default :func:`observation_scale`)."""
    space = env.observation_space
    if not isinstance(space, spaces.Box):
        raise TypeError(f"scale_observation needs a Box observation space, got {space}")
    scale = observation_scale(env) if scale is None else np.asarray(scale, dtype=np.float32)
    if scale.shape != space.shape or not np.all(scale > 0):
        raise ValueError(
            f"scale must be positive with shape {space.shape}, got shape {scale.shape}"
        )
    factor = (1.0 / scale).astype(np.float32)
    scaled = spaces.Box(space.low * factor, space.high * factor, dtype=np.float32)
    return TransformObservation(env, functools.partial(np.multiply, factor), scaled)


def scale_reward(env: gym.Env, scale: float | None = None) -> TransformReward:
    """Divide the reward by a fixed *scale* (default :func:`reward_scale`)."""
    scale = reward_scale(env) if scale is None else float(scale)
    if not scale > 0:
        raise ValueError(f"scale(={scale}) must be > 0")
    return TransformReward(env, functools.partial(operator.mul, 1.0 / scale))


def normalize_running(env: gym.Env, gamma: float = 0.99) -> gym.Env:
    """Gymnasium's running normalisation of observations and of the discounted return."""
    return NormalizeReward(NormalizeObservation(env), gamma=gamma)


class SharedRootSeed(VectorWrapper):
    """Give every sub-env the same root seed: ``reset(seed=s)`` sends ``[s] * n``.

    Gymnasium's vector envs expand ``seed=s`` to ``[s, s + 1, ...]``; here the
    sub-envs share the root *s* and differ by their episode numbers instead.  The
    first reset without a seed uses *default_seed* (if not None).
    """

    def __init__(self, env: VectorEnv, default_seed: int | None = None) -> None:
        super().__init__(env)
        self._pending_seed = default_seed

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        if seed is None and self._pending_seed is not None:
            seed = self._pending_seed
        self._pending_seed = None
        if isinstance(seed, (int, np.integer)):
            seed = [int(seed)] * self.num_envs
        # gymnasium types VectorEnv.reset's seed as an int; Sync/AsyncVectorEnv take a list
        return self.env.reset(seed=seed, options=options)  # type: ignore[arg-type]


def _sub_env(
    scenario: Problem | Network,
    index: int,
    n_envs: int,
    wrappers: Sequence[Callable[[gym.Env], gym.Env]],
    kwargs: dict[str, Any],
) -> gym.Env:
    env: gym.Env = make_env(scenario, episode_offset=index, episode_stride=n_envs, **kwargs)
    for wrap in wrappers:
        env = wrap(env)
    return env


def make_vector_env(
    scenario: Problem | Network,
    n_envs: int,
    seed: int | None = None,
    asynchronous: bool = False,
    *,
    autoreset_mode: AutoresetMode = AutoresetMode.NEXT_STEP,
    wrappers: Sequence[Callable[[gym.Env], gym.Env]] = (),
    **kwargs: Any,
) -> SharedRootSeed:
    """*n_envs* copies of ``make_env(scenario, **kwargs)`` as one Gymnasium vector env.

    Seeds and episodes
        All sub-envs share the root seed *seed*, and sub-env ``i`` plays the episodes
        ``i, i + n_envs, i + 2 n_envs, ...`` of it; episode ``k`` runs on
        ``des_supply.rng.replication_seed(seed, k)``.  Episodes all last the same
        number of steps (epochs depend on the review schedules, not on random
        draws), so the sub-envs stay in step, and after ``m`` episodes each the
        vector env has played exactly episodes ``0 .. m * n_envs - 1``: the
        replications ``0 .. R - 1`` of ``des_supply.evaluate.simulate(..., seed=seed,
        replications=R)`` with ``R = m * n_envs``, draw for draw.  ``reset(seed=s)``
        re-roots every sub-env at ``s`` (not Gymnasium's ``s + i``; see
        :class:`SharedRootSeed`); ``reset()`` first uses *seed*.  Don't pass
        ``options={"episode": k}`` to the vector env: every sub-env would play k.

    Autoreset
        Gymnasium 1.x's default ``AutoresetMode.NEXT_STEP``: when sub-env ``i``
        returns ``truncated=True`` (with the true last observation), the *next*
        ``step`` ignores its action, resets it and returns the first observation of
        its next episode with reward 0 and ``terminated = truncated = False``.
        Training code must drop that transition and bootstrap from the last
        observation of the finished episode (the horizon is a truncation, not a
        terminal state).  Pass ``autoreset_mode=AutoresetMode.SAME_STEP`` to get the
        reset observation at once and the last one in ``info["final_obs"]``.

    Parameters
    ----------
    scenario : Problem or Network
        What :func:`rl.make_env` takes (rl resolves no scenario names:
        ``scenarios.make(name, **params)`` gives the problem of one).
    wrappers : sequence of callables
        Applied in order to each sub-env, e.g. ``(scale_observation, scale_reward)``.
    asynchronous : bool
        ``AsyncVectorEnv`` (one process per sub-env) instead of ``SyncVectorEnv``.
    kwargs
        Env arguments, as for :func:`rl.make_env`.
    """
    if isinstance(n_envs, bool) or not isinstance(n_envs, (int, np.integer)) or n_envs < 1:
        raise ValueError(f"n_envs(={n_envs!r}) must be an integer >= 1")
    for reserved in ("episode_offset", "episode_stride"):
        if reserved in kwargs:
            raise ValueError(
                f"{reserved} is set by make_vector_env (sub-env i plays episodes "
                "i, i + n_envs, ...)"
            )
    make_env(scenario, **kwargs).close()  # refuse bad arguments here, not in a worker process
    thunks = [
        functools.partial(_sub_env, scenario, i, int(n_envs), tuple(wrappers), dict(kwargs))
        for i in range(n_envs)
    ]
    cls = AsyncVectorEnv if asynchronous else SyncVectorEnv
    return SharedRootSeed(cls(thunks, autoreset_mode=autoreset_mode), default_seed=seed)
