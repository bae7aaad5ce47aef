"""Gymnasium ids of the scenario catalog (the application layer names problems; ``rl`` does not).

Importing this module registers, idempotently, every id of :data:`ENV_IDS` with
Gymnasium.  Each id builds ``scenarios.make(scenario, **params)`` and hands the
problem to :func:`rl.make_env` (or :func:`rl.make_recommendation_env`); keyword
arguments of ``gymnasium.make`` are split between the scenario's parameters and the
env's own, and anything else raises ValueError listing both::

    import gymnasium as gym
    import scenarios.gym_ids  # noqa: F401  (registers the ids)

    env = gym.make("des_supply/SingleStage-v0", lead_time=2, periods=50, action_mode="base-stock")

Without importing anything first, Gymnasium's own ``"module:id"`` form imports this
module and makes the env in one go::

    env = gym.make("scenarios.gym_ids:des_supply/SingleStage-v0", lead_time=2)

(Gymnasium 1.x no longer loads the ``gymnasium.envs`` entry-point plugins that gym
0.2x and Gymnasium 0.2x did, so an installed package cannot register ids on
``import gymnasium``.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym

from .registry import get, make

__all__ = [
    "ENV_IDS",
    "INVENTORY_ENV_IDS",
    "RECOMMENDATION_ENV_IDS",
    "SEMI_MARKOV_ENV_IDS",
    "make_inventory_env",
    "make_recommendation_env",
    "make_semi_markov_env",
    "register_envs",
]

#: Gymnasium id -> scenario of the inventory envs (:class:`rl.env.InventoryEnv`).
INVENTORY_ENV_IDS: dict[str, str] = {
    "des_supply/SingleStage-v0": "single-stage",
    "des_supply/Serial-v0": "serial",
    "des_supply/BeerGame-v0": "beer-game",
    "des_supply/OWMR-v0": "owmr",
    "des_supply/Assembly-v0": "assembly",
    "des_supply/RandomDAG-v0": "random-dag",
    "des_supply/PricingA-v0": "pricing-a",
    "des_supply/PricingB-v0": "pricing-b",
    "des_supply/PricingC-v0": "pricing-c",
    "des_supply/PricingD-v0": "pricing-d",
}

#: Gymnasium id -> scenario of the inventory-and-recommendation envs
#: (:class:`rl.recommendation_env.RecommendationEnv`).
RECOMMENDATION_ENV_IDS: dict[str, str] = {
    f"des_supply/Recommendation{size.title()}-v0": f"recommendation-{size}"
    for size in ("small", "medium", "large")
}

#: Gymnasium id -> scenario of the semi-Markov envs (:class:`rl.semi_markov_env.SemiMarkovEnv`:
#: continuous-time problems, a step per decision event, ``info["dt"]``).
SEMI_MARKOV_ENV_IDS: dict[str, str] = {
    "des_supply/ContinuousReview-v0": "continuous-review",
    "des_supply/ContinuousOWMR-v0": "continuous-owmr",
}

#: Every Gymnasium id registered here -> its scenario.
ENV_IDS: dict[str, str] = {**INVENTORY_ENV_IDS, **RECOMMENDATION_ENV_IDS, **SEMI_MARKOV_ENV_IDS}


def _split(
    scenario: str, kwargs: Mapping[str, Any], env_params: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """*kwargs* as (scenario parameters, env keyword arguments); unknown names raise
    ValueError listing both."""
    allowed = get(scenario).parameters
    clash = sorted(set(allowed) & set(env_params))
    if clash:  # pragma: no cover - a design error to catch when a scenario is added
        raise ValueError(f"scenario {scenario!r} parameter(s) {clash} clash with env parameters")
    unknown = sorted(set(kwargs) - set(allowed) - set(env_params))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))} for scenario "
            f"{scenario!r} (scenario parameters: {', '.join(allowed)}; "
            f"env parameters: {', '.join(env_params)})"
        )
    params = {k: v for k, v in kwargs.items() if k in allowed}
    return params, {k: v for k, v in kwargs.items() if k not in allowed}


def _build(
    scenario: str,
    kwargs: Mapping[str, Any],
    env_params: tuple[str, ...],
    constructor: Callable[..., Any],
) -> Any:
    params, env_kwargs = _split(scenario, kwargs, env_params)
    return constructor(make(scenario, **params), **env_kwargs)


def make_inventory_env(scenario: str, **kwargs: Any) -> Any:
    """:func:`rl.make_env` of ``scenarios.make(scenario, **params)``; *kwargs* are the
    scenario's parameters and the env's keyword arguments (``periods``, ``action_mode``,
    ``discrete``, ...), told apart by name."""
    from rl.env import InventoryEnv, env_parameters, make_env

    params = env_parameters(InventoryEnv, skip=("network", "market"))  # the problem has its market
    return _build(scenario, kwargs, params, make_env)


def make_recommendation_env(scenario: str, **kwargs: Any) -> Any:
    """:func:`rl.make_recommendation_env` of ``scenarios.make(scenario, **params)``;
    *kwargs* as for :func:`make_inventory_env` (``control``, ``periods``, ...)."""
    from rl.env import env_parameters
    from rl.recommendation_env import RecommendationEnv
    from rl.recommendation_env import make_recommendation_env as make_env

    params = env_parameters(RecommendationEnv, skip=("network", "market"))
    return _build(scenario, kwargs, params, make_env)


def make_semi_markov_env(scenario: str, **kwargs: Any) -> Any:
    """:func:`rl.semi_markov_env.make_semi_markov_env` of ``scenarios.make(scenario, **params)``;
    *kwargs* as for :func:`make_inventory_env` (``horizon``, ``epochs``, ``action_mode``, ...)."""
    from rl.env import env_parameters
    from rl.semi_markov_env import SemiMarkovEnv
    from rl.semi_markov_env import make_semi_markov_env as make_env

    return _build(scenario, kwargs, env_parameters(SemiMarkovEnv), make_env)


def register_envs() -> None:
    """Register the ids of :data:`ENV_IDS` with Gymnasium (idempotent: ids already in the
    registry are left as they are)."""
    for env_id, scenario in ENV_IDS.items():
        if env_id in gym.registry:
            continue
        if env_id in RECOMMENDATION_ENV_IDS:
            entry = "make_recommendation_env"
        elif env_id in SEMI_MARKOV_ENV_IDS:
            entry = "make_semi_markov_env"
        else:
            entry = "make_inventory_env"
        gym.register(env_id, entry_point=f"{__name__}:{entry}", kwargs={"scenario": scenario})


register_envs()
