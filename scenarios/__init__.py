"""Ready-made scenarios, registered by name (``des-supply scenarios`` lists them)."""

from . import (  # noqa: F401  (registration)
    assembly, beer_game, continuous, orgym, owmr, pricing, random_dag, recommendation, serial,
    single_stage)
from . import gym_ids  # noqa: F401,E402  (Gymnasium ids des_supply/...-v0)
from .registry import ScenarioError, ScenarioSpec, get, make, make_market, names, parse_params

__all__ = ["ScenarioError", "ScenarioSpec", "get", "make", "make_market", "names", "parse_params"]
