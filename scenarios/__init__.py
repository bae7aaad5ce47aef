"""Ready-made scenarios, registered by name (``des-supply scenarios`` lists them)."""

from . import assembly, beer_game, owmr, pricing, random_dag, serial, single_stage  # noqa: F401  (registration)
from .registry import ScenarioError, ScenarioSpec, get, make, make_market, names, parse_params

__all__ = ["ScenarioError", "ScenarioSpec", "get", "make", "make_market", "names", "parse_params"]
