"""Solved policies: registry entries built by running the optimizer on the problem.

Importing this module registers, in :mod:`des_supply.policy_registry`, one entry per
benchmark name that :func:`optimization.optimize.optimize` reports with a policy of its
own (a DP lookup table, a searched level, an MPC):

========================  =====================================================================
name                      policy
========================  =====================================================================
``optimal``               the optimum's policy (lost-sales DP table, optimal (s, S), newsvendor
                          or Clark-Scarf levels, pricing DP); when the optimum is only a bound,
                          a :class:`~des_supply.policy_registry.PolicyError` naming the best
                          runnable benchmark
``myopic``, ``myopic-2``  Zipkin's one- and two-period myopic lost-sales policies (DP tables)
``best-base-stock``       base stock with the level(s) the optimizer found best
``best-capped-base-stock``  capped base stock, best level and cap
``best-constant``         the best constant order in whole units
``best-constant-rate``    the best constant rate (grid of step 1/20; whole orders tracking it)
``best-echelon-base-stock``  echelon base stock, levels searched by simulation
``rolling-horizon``       MPC re-solving the network MIP on mean forecasts (built directly,
                          no solve; optional ``horizon``, default as optimize chooses it)
``mip-mpc``               MPC re-solving the recommendation MIP (recommendation problems)
``best-single-index``,    dual sourcing (:mod:`optimization.dual_sourcing`): the heuristic with
``best-dual-index``,      the parameters optimize searched by simulation on common random
``best-capped-dual-index``, numbers
``best-tailored-base-surge``
========================  =====================================================================

Each but ``rolling-horizon`` takes no parameters: ``make_policy("best-base-stock", problem)`` runs
``optimize(problem)`` (once per problem and process: results are cached by the problem's
content) and returns the policy of the benchmark of that name, the very object the
optimizer evaluated.  A name the optimizer did not produce for the problem is refused
with the names it did produce.  Benchmarks named after an engine family (``ss``,
``echelon-base-stock``, the pricing rules ``bslp``, ``ssp``, ``myopic-pricing``,
``list-price``, the recommendation rules ``base-stock-<recommender>``) need no entry
here: ``make_policy(benchmark.name, problem, benchmark.params)`` builds them.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from des_supply.network import Network
from des_supply.policy_registry import Param, PolicyError, register_policy
from des_supply.problem import Problem, as_problem

if TYPE_CHECKING:
    from .optimize import OptimizeResult

__all__ = ["SOLVED", "clear_cache", "optimized", "rolling_horizon"]

#: Solved policies: name -> one-line summary.
SOLVED: dict[str, str] = {
    "optimal": "the optimum's policy from optimize(problem) (DP table, optimal (s,S), "
    "newsvendor or Clark-Scarf levels, pricing DP, dual-sourcing DP)",
    "myopic": "Zipkin's myopic lost-sales policy (one-period lookahead; DP table)",
    "myopic-2": "Zipkin's two-period myopic lost-sales policy (DP table)",
    "best-base-stock": "base stock with the best level(s) optimize(problem) found",
    "best-capped-base-stock": "capped base stock with the best level and cap optimize found",
    "best-constant": "the best whole-unit constant order optimize(problem) found",
    "best-constant-rate": "the best constant (fractional) rate optimize found, on a grid of "
    "step 1/20, as whole orders tracking it",
    "best-echelon-base-stock": "echelon base stock with the levels optimize(problem) searched",
    "mip-mpc": "MPC re-solving the recommendation MIP (recommendation problems)",
    "best-single-index": "dual sourcing: single index with the levels optimize searched",
    "best-dual-index": "dual sourcing: dual index with the levels optimize searched",
    "best-capped-dual-index": "dual sourcing: capped dual index with the levels and cap "
    "optimize searched",
    "best-tailored-base-surge": "dual sourcing: tailored base-surge with the base and level "
    "optimize searched",
    "best-collab-base-stock": "collab-base-stock with the price factor and levels optimize "
    "searched (collaborative problems)",
}


def _lost_sales_single_stage(problem: Problem) -> str | None:
    kind = problem.kind
    if (kind.shape, kind.shortage, kind.market) != ("single-stage", "lost", None):
        return f"it comes from the lost-sales DP of a single stage without a market ({kind})"
    if problem.network.time == "continuous":
        return "it comes from the periodic lost-sales DP (this problem is in continuous time)"
    return None


def _no_market_requirement(problem: Problem) -> str | None:
    kind = problem.kind
    return None if kind.market is None else f"optimize searches it without a market ({kind})"


def _market_requirement(market: str) -> Callable[[Problem], str | None]:
    def requirement(problem: Problem) -> str | None:
        kind = problem.kind
        return None if kind.market == market else f"it needs a {market} market ({kind})"

    return requirement


def _multi_sourcing(problem: Problem) -> str | None:
    kind = problem.kind
    if (kind.shape, kind.market) != ("multi-sourcing", None):
        return f"it needs one node choosing among suppliers, without a market ({kind})"
    return None


#: What a solved name needs of a problem's structure, checked before any solve: a name whose
#: requirement fails is refused at once (and not listed for the problem).  Meeting it does not
#: mean optimize produces the name; that is known after solving.
_REQUIRES: dict[str, Callable[[Problem], str | None]] = {
    **dict.fromkeys(
        ("myopic", "myopic-2", "best-capped-base-stock", "best-constant", "best-constant-rate"),
        _lost_sales_single_stage,
    ),
    **dict.fromkeys(("best-base-stock", "best-echelon-base-stock"), _no_market_requirement),
    "mip-mpc": _market_requirement("recommendation"),
    **dict.fromkeys(
        ("best-single-index", "best-dual-index", "best-capped-dual-index"),
        _multi_sourcing,
    ),
    "best-tailored-base-surge": _multi_sourcing,
    "best-collab-base-stock": _market_requirement("collaborative"),
}

_CACHE: OrderedDict[tuple, OptimizeResult] = OrderedDict()
_CACHE_SIZE = 8


def _key(problem: Problem, options: dict[str, Any]) -> tuple:
    """The problem's content (network JSON, pickled market) and the optimizer options that
    change the result (all but ``progress``)."""
    try:
        market: Any = pickle.dumps(problem.market)
    except Exception:  # an unpicklable market: this very object (kept alive by the cache)
        market = ("id", id(problem.market))
    return (
        problem.network.to_json(),
        market,
        tuple(sorted((k, v) for k, v in options.items() if k != "progress")),
    )


def optimized(problem: Problem | Network, **options: Any) -> OptimizeResult:
    """``optimize(problem, **options)``, cached per problem content within the process (the
    last 8 problems).  The solved entries call ``optimized(problem)``: a command line may call
    ``optimized(problem, progress=True)`` first to show the solve, then build from the cache."""
    from .optimize import optimize

    problem = as_problem(problem)
    key = _key(problem, options)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    result = optimize(problem, **options)
    _CACHE[key] = result
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return result


def clear_cache() -> None:
    """Forget every cached :func:`optimized` result."""
    _CACHE.clear()


def _produced(result: Any) -> list[str]:
    """Names of the runnable benchmarks of *result* (the optimum first, when it has a policy)."""
    names = ["optimal"] if result.optimal.policy is not None else []
    return names + [b.name for b in result.policies if b.policy is not None]


def _best_runnable(result: Any) -> Any:
    runnable = [b for b in result.policies if b.policy is not None]
    if not runnable:
        return None
    pick = max if result.objective == "profit" else min
    return pick(runnable, key=lambda b: b.value)


def _how_to_run(b: Any) -> str:
    if b.name in SOLVED or b.name == "rolling-horizon" or not b.params:
        return repr(b.name)
    params = " ".join(f"{k}={_text(v)}" for k, v in b.params.items())
    return f"{b.name!r} ({params})"


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(
            f"{k}:{v:g}" if isinstance(v, float) else f"{k}:{v}" for k, v in value.items()
        )
    return f"{value:g}" if isinstance(value, float) else str(value)


def _solve(name: str, problem: Problem) -> Any:
    from .errors import SolverError
    from .optimize import OptimizeError

    try:
        return optimized(problem)
    except OptimizeError as exc:
        raise PolicyError(
            f"policy {name!r}: optimize found no method for problem {problem.name!r}: {exc}"
        ) from None
    except SolverError as exc:  # e.g. an MPC solve stopped by its time limit, no incumbent
        raise PolicyError(
            f"policy {name!r}: optimize failed on problem {problem.name!r}: {exc}"
        ) from None


def _refusal(name: str, problem: Problem, result: Any) -> str | None:
    """Why *result* (of *problem*) has no policy *name* to run (None when it has)."""
    if name == "optimal":
        if result.optimal.policy is not None:
            return None
        best = _best_runnable(result)
        alternative = (
            f"the best runnable benchmark is {_how_to_run(best)} "
            f"({result.objective} {best.value:.6g})"
            if best is not None
            else "no benchmark has a policy"
        )
        return (
            f"the optimum is {result.optimal.name!r}, a value ({result.optimal.value:.6g}) "
            f"with no policy to run; {alternative}"
        )
    for b in result.policies:
        if b.name == name:
            return None if b.policy is not None else ("optimize reports it without a policy to run")
    return (
        f"optimize did not produce it for this {problem.kind} problem; it produced: "
        f"{', '.join(_produced(result)) or 'no runnable policy'}"
    )


def _policy(name: str, result: Any) -> Any:
    if name == "optimal":
        return result.optimal.policy
    return next(b.policy for b in result.policies if b.name == name)


def _register(name: str, summary: str) -> None:
    requirement = _REQUIRES.get(name)

    def build(problem: Problem, params: dict[str, Any]) -> Any:
        # make_policy asked applies() first: the structural requirement holds here
        result = _solve(name, problem)
        reason = _refusal(name, problem, result)
        if reason is not None:
            raise PolicyError(f"policy {name!r} on problem {problem.name!r}: {reason}")
        return _policy(name, result)

    def applies(problem: Problem) -> str | None:
        """Rules the name out by the problem's structure, or once the problem's result is
        cached (never solves to find out)."""
        reason = requirement(problem) if requirement is not None else None
        if reason is not None:
            return reason
        result = _CACHE.get(_key(problem, {}))
        return None if result is None else _refusal(name, problem, result)

    register_policy(name, build, summary=summary, applies=applies, group="solved")


for _entry in SOLVED.items():
    _register(*_entry)


def rolling_horizon(problem: Problem | Network, horizon: int | None = None) -> Any:
    """The rolling-horizon MPC that :func:`~optimization.optimize.optimize` evaluates on
    problems without a market: the network MIP re-solved every period on mean forecasts,
    auto safety stock, window ``horizon`` (default: the longest lead-time path + 4)."""
    from .network_mip import RollingHorizonPolicy, longest_lead_path

    net = as_problem(problem).network
    if horizon is None:
        horizon = longest_lead_path(net) + 4
    elif float(horizon) != int(horizon) or horizon < 1:
        raise ValueError(f"horizon(={horizon}) must be a whole number of periods >= 1")
    return RollingHorizonPolicy(net, int(horizon), safety_stock="auto")


def _no_market(problem: Problem) -> str | None:
    if problem.market is not None:
        return (
            f"the network MIP has no model of a {problem.kind.market} market "
            f"(recommendation problems have 'mip-mpc')"
        )
    return None


def _build_rolling(problem: Problem, params: dict[str, Any]) -> Any:
    try:
        return rolling_horizon(problem, params.get("horizon"))
    except RuntimeError as exc:  # no MIP solver
        raise PolicyError(f"policy 'rolling-horizon': {exc}") from None


register_policy(
    "rolling-horizon",
    _build_rolling,
    summary="MPC re-solving the network MIP every period on mean forecasts, auto "
    "safety stock (optimize's rolling-horizon)",
    params=(
        Param(
            "horizon",
            "window in periods (default: longest lead-time path + 4)",
            required=False,
            per_node=False,
            default="L_max + 4",
        ),
    ),
    applies=_no_market,
    group="solved",
)
