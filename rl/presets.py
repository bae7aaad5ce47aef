"""Tuned PPO configurations and env settings per registered scenario.

``preset(scenario, params)`` returns ``(PPOConfig, spec)`` where *spec* is::

    {"env": {...make_env keyword arguments...},   # action_mode, discrete, periods, ...
     "scale_observation": bool,                    # rl.wrappers.scale_observation (fixed divisors)
     "scale_reward": bool}                         # rl.wrappers.scale_reward (fixed divisor)

``make_thunk(scenario, params, spec)`` builds the wrapped env (scenario parameters
*params* plus ``spec["env"]``) for training and for evaluation, with the same
wrappers in both.  The fixed wrappers keep no state, so a trained agent is
evaluated on exactly the function of the raw env it was trained on.

    >>> cfg, spec = preset("single-stage", {"lead_time": 2, "penalty": 9.0})
    >>> env = make_thunk("single-stage", {"lead_time": 2, "penalty": 9.0}, spec)()
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
from gymnasium.wrappers import TransformReward

from .env import make_env
from .ppo import PPOConfig
from .wrappers import scale_observation, scale_reward

__all__ = ["preset", "make_thunk", "scenario_params"]


def scenario_params(scenario: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The scenario's default parameters updated by *params* (unknown names raise ValueError)."""
    import scenarios

    defaults = dict(scenarios.get(scenario).parameters)
    params = dict(params or {})
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(map(repr, unknown))} for scenario "
                         f"{scenario!r} (parameters: {', '.join(defaults)})")
    defaults.update(params)
    return defaults


# -- defaults shared by all scenarios ---------------------------------------------------------
# Fixed scaling wrappers instead of PPO's running normaliser: no state, so evaluation and
# checkpoints need nothing extra (norm_obs=False below).
_BASE = PPOConfig(
    total_steps=500_000,
    n_envs=8,
    n_steps=256,
    gamma=0.99,
    gae_lambda=0.95,
    n_epochs=10,
    n_minibatches=8,
    ent_coef=0.0,
    learning_rate=3e-4,
    norm_obs=False,
    norm_reward=False,
    hidden_sizes=(64, 64),
)


def reference_cost(scenario: str, params: Mapping[str, Any], level: float,
                   periods: int = 5000) -> float:
    """Mean cost per period of ``BaseStock(level)`` over one engine run (seed 0, 100 warm-up
    periods); a cheap (~0.1 s) magnitude of the cost per period for the reward shift."""
    import scenarios
    from des_supply.evaluate import simulate
    from des_supply.policies import BaseStock

    net = scenarios.make(scenario, **dict(params))
    return float(simulate(net, BaseStock(level), periods=periods, seed=0, warmup=100).mean)


def _single_stage(p: dict[str, Any]) -> tuple[PPOConfig, dict[str, Any]]:
    from scipy import stats

    L, mean = int(p["lead_time"]), float(p["demand_mean"])
    ratio = p["penalty"] / (p["penalty"] + p["holding"])
    level = float(stats.poisson(mean * (L + 1)).ppf(ratio))  # newsvendor level over L+1 periods
    cfg = dataclasses.replace(_BASE)
    env = {"action_mode": "base-stock", "discrete": False, "periods": 128}
    extra = {"reward_shift": reference_cost("single-stage", p, level)}
    return cfg, env, extra


def _generic(scenario: str, p: dict[str, Any]) -> tuple[PPOConfig, dict[str, Any]]:
    periods = {"beer-game": 52}.get(scenario, 128)
    cfg = dataclasses.replace(_BASE)
    env = {"action_mode": "base-stock", "discrete": False, "periods": periods}
    return cfg, env, {}


def preset(scenario: str, params: Mapping[str, Any] | None = None) -> tuple[PPOConfig, dict[str, Any]]:
    """PPO config and env spec for *scenario* with scenario parameters *params*."""
    import scenarios

    if scenario not in scenarios.names():
        raise ValueError(f"unknown scenario {scenario!r} (known: {', '.join(scenarios.names())})")
    p = scenario_params(scenario, params)
    if scenario == "single-stage":
        cfg, env, extra = _single_stage(p)
    else:
        cfg, env, extra = _generic(scenario, p)
    return cfg, {"env": env, "scale_observation": True, "scale_reward": True, **extra}


def make_thunk(scenario: str, params: Mapping[str, Any] | None,
               env_kwargs: Mapping[str, Any]) -> Callable[[], gym.Env]:
    """A thunk building the wrapped env of ``preset`` (*env_kwargs* is its second value).

    *env_kwargs* may also be a plain dict of make_env keyword arguments (then both fixed
    scalings are applied).
    """
    spec = dict(env_kwargs)
    if "env" not in spec:
        spec = {"env": spec, "scale_observation": True, "scale_reward": True}
    kwargs = {**dict(params or {}), **dict(spec["env"])}
    obs, rew = bool(spec.get("scale_observation", True)), bool(spec.get("scale_reward", True))
    shift = float(spec.get("reward_shift", 0.0))

    def thunk() -> gym.Env:
        env: gym.Env = make_env(scenario, **kwargs)
        if obs:
            env = scale_observation(env)
        if shift:
            env = TransformReward(env, functools.partial(operator.add, shift))
        if rew:
            env = scale_reward(env)
        return env

    return thunk
