"""Ready-made scenarios, registered by name (``des-supply scenarios`` lists them)."""

from . import (  # noqa: F401  (registration)
    assembly,
    beer_game,
    continuous,
    gym_ids,
    orgym,
    owmr,
    pricing,
    random_dag,
    recommendation,
    serial,
    single_stage,
)
from .registry import ScenarioError, ScenarioSpec, get, make, make_market, names, parse_params

__all__ = ["ScenarioError", "ScenarioSpec", "get", "make", "make_market", "names", "parse_params"]
