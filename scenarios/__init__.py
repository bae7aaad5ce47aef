"""Ready-made scenarios, registered by name (``des-supply scenarios`` lists them).

``import scenarios`` registers every scenario and, when Gymnasium is installed (the
``[rl]`` extra), the Gymnasium ids (:mod:`scenarios.gym_ids`).
"""

from . import command

command.guard_imports()  # the des-supply process: Ctrl-C is one line from here on

from . import (  # noqa: E402, F401  (registration)
    assembly,
    beer_game,
    collaborative,
    continuous,
    dual_sourcing,
    orgym,
    owmr,
    pricing,
    random_dag,
    recommendation,
    serial,
    single_stage,
)
from .registry import (  # noqa: E402
    ScenarioError,
    ScenarioSpec,
    get,
    make,
    make_market,
    names,
    parse_params,
)

try:  # the Gymnasium ids, where Gymnasium is installed
    from . import gym_ids  # noqa: F401
except ModuleNotFoundError as exc:  # a core install (no [rl] extra): simulate needs none
    if exc.name != "gymnasium":
        raise

__all__ = ["ScenarioError", "ScenarioSpec", "get", "make", "make_market", "names", "parse_params"]
