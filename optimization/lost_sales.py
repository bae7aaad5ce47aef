"""Optimal and heuristic policies for the single-stage lost-sales system with lead time.

The model (Zipkin 2008, "Old and new methods for lost-sales inventory systems",
Operations Research 56(5):1256-1263) is described in
:mod:`optimization.lost_sales_model`: periodic review, i.i.d. integer demand,
lead time ``L``, holding ``h`` on stock left at the end of a period, penalty
``p`` per unit lost, optional fixed cost ``K`` per order.

* :func:`solve_lost_sales` -- average-cost optimum by relative value iteration
  over the pipeline state, with the optimal policy as a :class:`LookupPolicy`.
* :func:`heuristics` -- myopic, myopic-2, best base-stock, capped base-stock and
  best constant order, each evaluated exactly by its stationary distribution.
* :func:`evaluate_policy` -- exact long-run cost of any policy the engine can run.

Every policy returned here runs in the engine: ``policy.act(obs)`` returns
``{node: order}`` for each node in ``obs.deciding``.

Example (Zipkin 2008, Table 3(a): Poisson demand of mean 5, L = 2, h = 1, p = 4)

>>> sol = solve_lost_sales(2, 1.0, 4.0)
>>> round(sol.average_cost, 2), sol.boundary_mass < 1e-12
(4.4, True)
>>> sol.policy.order(on_hand=3, pipeline=(4,))     # 3 on hand, 4 arriving next period
6
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from . import lost_sales_heuristics as _h
from .blas import limit_blas_threads
from .lost_sales_model import (
    ChainEvaluation,
    GridBlocks,
    LostSalesModel,
    StateSpace,
    Truncation,
    block_floats,
    chain_bytes,
    evaluate_orders,
    expect_next,
    grid_chain,
    state_count,
)

__all__ = [
    "HEURISTICS",
    "ChainEvaluation",
    "HeuristicResult",
    "LookupPolicy",
    "LostSalesModel",
    "LostSalesSolution",
    "Truncation",
    "evaluate_policy",
    "heuristics",
    "solve_lost_sales",
]

#: Names of the heuristics returned by :func:`heuristics`, in order.
HEURISTICS = (
    "myopic",
    "myopic-2",
    "best-base-stock",
    "capped-base-stock",
    "best-constant",
    "best-constant-rate",
)

GiB = 2**30
#: Up to this many Q-values (32 MiB) one Bellman update is a few whole-grid array operations
#: (:func:`_rvi_dense`); above, it goes block by block (:func:`_rvi_blocks`), whose Python
#: loop costs more on small grids but whose memory does not grow with the Q-values.
DENSE_Q = 2**22


def _size(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= 0.1 * scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


@dataclass(frozen=True, slots=True, eq=False)
class LookupPolicy:
    """Order from a table indexed by the pipeline state (engine-runnable).

    ``table[x_0, x_1, ..., x_{L-1}]`` is the order when ``x_0`` is on hand and
    ``x_l`` arrives in ``l`` periods (just ``table[x_0]`` for ``L <= 1``); -1 marks
    grid points outside the truncated region.  In the engine the state is
    ``(obs.on_hand(n),) + obs.pipeline(n, L - 1)``.

    Outside the region (Zipkin's truncation, see :class:`Truncation`): if the
    inventory position is at or above ``max_position`` the policy orders 0; else
    pipeline entries above ``max_order`` are clamped to it for the look-up and the
    order is cut so the position stays within ``max_position``.  Quantities are
    rounded to whole units first.
    """

    table: np.ndarray
    lead_time: int
    truncation: Truncation

    def __post_init__(self) -> None:
        table = np.array(self.table, dtype=np.int64)
        if table.ndim != max(self.lead_time, 1):
            raise ValueError(
                f"table has {table.ndim} dimensions; lead_time={self.lead_time} "
                f"needs {max(self.lead_time, 1)}"
            )
        table.setflags(write=False)
        object.__setattr__(self, "table", table)

    def orders(self, states: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`act`: orders for an ``(n, max(L, 1))`` array of states."""
        x = np.maximum(np.rint(np.asarray(states, dtype=float)), 0).astype(np.int64)
        S, Z = self.truncation.max_position, self.truncation.max_order
        position = x.sum(axis=1)
        inside = position < S
        look = x.copy()
        look[:, 0] = np.minimum(look[:, 0], S)
        look[:, 1:] = np.minimum(look[:, 1:], Z)
        z = np.maximum(self.table[tuple(look.T)], 0)
        return np.where(inside, np.minimum(z, S - position), 0)

    def order(self, on_hand: float, pipeline: Sequence[float] = ()) -> int:
        """Order for one state: ``on_hand`` and the ``L - 1`` quantities due next."""
        k = max(self.lead_time - 1, 0)
        due = tuple(pipeline)[:k]
        state = (on_hand,) + due + (0.0,) * (k - len(due))
        return int(self.orders(np.array([state]))[0])

    def act(self, obs: Any) -> dict[str, float]:
        k = max(self.lead_time - 1, 0)
        return {
            n: float(self.order(obs.on_hand(n), obs.pipeline(n, k) if k else ()))
            for n in obs.deciding
        }


@dataclass(frozen=True, slots=True, eq=False)
class LostSalesSolution:
    """Result of :func:`solve_lost_sales`.

    ``average_cost`` is the midpoint of the relative-value-iteration bounds
    ``lower_bound <= g <= upper_bound`` on the optimal cost of the truncated
    problem; that optimum is an upper bound on the true one, and equals it when
    the caps never bind.  ``boundary_mass`` is the stationary probability of the
    states where the optimal order sits at a cap of the truncation (0 means no cap
    is active in steady state).  ``stationary_cost`` is the same policy's cost
    recomputed from its stationary distribution, a check on the solver.
    """

    model: LostSalesModel
    average_cost: float  # $ per period [g*]
    lower_bound: float
    upper_bound: float
    iterations: int
    converged: bool
    policy: LookupPolicy
    truncation: Truncation
    states: int
    boundary_mass: float
    stationary_cost: float
    evaluation: ChainEvaluation
    solve_seconds: float
    #: relative values V on the grid ``(S+1, (Z+1)**(L-1))`` (``V[0, 0] = 0``): the
    #: optimal cost-to-go up to a constant, for Q-values and expected-return labels
    values: np.ndarray | None = None

    @property
    def span(self) -> float:
        """``upper_bound - lower_bound``: the last span of the value difference."""
        return self.upper_bound - self.lower_bound

    @property
    def table(self) -> np.ndarray:
        return self.policy.table


@dataclass(frozen=True, slots=True, eq=False)
class HeuristicResult:
    """A heuristic's exact long-run cost, its parameters and its engine policy."""

    value: float  # $ per period
    params: Mapping[str, float] = field(default_factory=dict)
    policy: Any = None
    evaluation: ChainEvaluation | None = None


def _model(
    lead_time: int,
    holding: float,
    penalty: float,
    demand: str,
    demand_mean: float,
    fixed_cost: float,
) -> LostSalesModel:
    return LostSalesModel(lead_time, holding, penalty, demand, demand_mean, fixed_cost)


def _memory_needed(lead_time: int, trunc: Truncation) -> int:
    """Bytes :func:`solve_lost_sales` allocates at its peak: the relative value iteration
    (whole-grid Q-values on small grids, else a few value grids and bounded blocks), then
    the evaluation of its policy (:func:`~optimization.lost_sales_model.chain_bytes`), with
    the value grid and the policy table alive throughout."""
    S, Z = trunc.max_position, trunc.max_order
    n_v = (S + 1) * (Z + 1) ** max(lead_time - 1, 0)
    n_q = n_v * (S + 1 if lead_time == 0 else Z + 1)
    if lead_time >= 2 and n_q > DENSE_Q:
        rvi = 8 * 3 * n_v + 2 * n_v + 8 * 4 * block_floats(lead_time, trunc)  # grids, a block
    else:
        rvi = 8 * (3 * n_q + 6 * n_v)
    return max(rvi, chain_bytes(lead_time, trunc)) + 8 * 3 * n_v + 2**20


def _dense_memory_needed(lead_time: int, trunc: Truncation) -> int:
    """Bytes of the whole-grid Q-value arrays (myopic tables, :func:`_bellman`) plus the
    evaluation of a policy on the space."""
    S, Z = trunc.max_position, trunc.max_order
    n_v = (S + 1) * (Z + 1) ** max(lead_time - 1, 0)
    n_q = n_v * (S + 1 if lead_time == 0 else Z + 1)
    return 8 * (6 * n_q + 6 * n_v) + chain_bytes(lead_time, trunc) + 2**20


def check_memory(lead_time: int, trunc: Truncation, limit: float, *, dense: bool = False) -> int:
    """Raise ValueError if the truncated problem needs more than ``limit`` bytes
    (``dense``: for whole-grid Q-values, as the myopic tables build them)."""
    need = (_dense_memory_needed if dense else _memory_needed)(lead_time, trunc)
    if need > limit:
        states, _ = state_count(lead_time, trunc)
        raise ValueError(
            f"lead_time={lead_time}: the state space ({states:,} states; position cap "
            f"{trunc.max_position}, order cap {trunc.max_order}) would need about "
            f"{_size(need)}, over memory_limit={_size(limit)}; pass a smaller "
            "truncation or raise memory_limit"
        )
    return need


class _Operator(Protocol):
    def __call__(self, V: np.ndarray, argmin: bool = False) -> np.ndarray: ...


def _bellman(model: LostSalesModel, trunc: Truncation) -> _Operator:
    """The operator ``T`` on relative values ``V`` of shape ``(S+1, R)``.

    ``T(V)`` returns ``TV``; ``T(V, True)`` returns the minimising orders instead.
    For ``L >= 1``, ``(TV)(x) = c(x_0) + min_z [K 1{z>0} + E V(x_+)]`` with
    ``x_+ = ((x_0 - D)^+ + x_1, x_2, ..., x_{L-1}, z)``; the expectation for all
    ``(x, z)`` at once is :func:`expect_next` of ``V``, whose output
    ``[x_0, x_1, (x_2..x_{L-1}, z)]`` is already the grid of Q-values.
    """
    S, Z, L = trunc.max_position, trunc.max_order, model.lead_time
    M, c = model.outcomes(S + 1), model.period_cost(S + 1)
    K = model.fixed_cost
    if L == 0:
        w = np.arange(S + 1)[:, None] + np.arange(S + 1)[None, :]
        add = np.where(w <= S, K * (np.arange(S + 1) > 0)[None, :], np.inf)
        w = np.minimum(w, S)

        def T0(V: np.ndarray, argmin: bool = False) -> np.ndarray:
            q = (c + M @ V[:, 0])[w] + add
            return (q.argmin(axis=1) if argmin else q.min(axis=1))[:, None]

        return T0

    R = (Z + 1) ** (L - 1)
    add = _h.order_grid_costs(model, trunc)  # (x_0, (x_1..x_{L-1}), z)

    def T(V: np.ndarray, argmin: bool = False) -> np.ndarray:
        q = expect_next(V, M, Z).reshape(S + 1, R, Z + 1)  # E V(x_+) by (x_0, x_1.., z)
        q += add
        return q.argmin(axis=2) if argmin else c[:, None] + q.min(axis=2)

    return T


def _progress(bar: Any, it: int, lower: float, upper: float) -> None:
    bar.update()
    if it % 10 == 0:
        bar.set_postfix(gap=f"{upper - lower:.2e}", cost=f"{(lower + upper) / 2:.5f}")


def _rvi_dense(
    model: LostSalesModel, trunc: Truncation, tol: float, max_iter: int, bar: Any
) -> tuple[np.ndarray, np.ndarray, int, float, float]:
    """Relative value iteration with :func:`_bellman` on the whole grid (small grids).
    Returns ``(V, table, iterations, lower, upper)``."""
    space = StateSpace.build(model.lead_time, trunc)
    T = _bellman(model, trunc)
    feasible = np.zeros(space.shape, dtype=bool)
    feasible[tuple(space.states.T)] = True
    feasible = feasible.reshape(trunc.max_position + 1, -1)
    V = np.zeros(feasible.shape)
    lower, upper, it = -math.inf, math.inf, 0
    while it < max_iter and upper - lower > tol:
        TV = np.where(feasible, T(V), 0.0)
        diff = (TV - V)[feasible]
        lower, upper = float(diff.min()), float(diff.max())
        V = TV - TV[0, 0]
        it += 1
        _progress(bar, it, lower, upper)
    table = np.where(feasible, T(V, True), -1).reshape(space.shape)
    return V, table, it, lower, upper


def _rvi_blocks(
    model: LostSalesModel, trunc: Truncation, tol: float, max_iter: int, bar: Any
) -> tuple[np.ndarray, np.ndarray, int, float, float]:
    """Relative value iteration on the grid, block by block (:class:`GridBlocks`), in
    place: two value grids, no Q-value array.  Same iterates as :func:`_rvi_dense`."""
    blocks = GridBlocks(model, trunc)
    feasible, outside = blocks.feasible, ~blocks.feasible
    c = model.period_cost(trunc.max_position + 1)
    V, TV = blocks.grid(), blocks.grid()
    lower, upper, it = -math.inf, math.inf, 0
    while it < max_iter and upper - lower > tol:
        blocks.bellman(V, c, TV)
        TV[outside] = 0.0
        np.subtract(TV, V, out=V)  # V is free now: it holds TV - V
        diff = V[feasible]
        lower, upper = float(diff.min()), float(diff.max())
        del diff
        np.subtract(TV, TV[0, 0, 0], out=V)
        it += 1
        _progress(bar, it, lower, upper)
    del TV
    table = blocks.argmin(V, blocks.grid(np.int64))
    shape = (trunc.max_position + 1,) + (trunc.max_order + 1,) * (model.lead_time - 1)
    return V.reshape(trunc.max_position + 1, -1), table.reshape(shape), it, lower, upper


def solve_lost_sales(
    lead_time: int,
    holding: float,
    penalty: float,
    demand: str = "poisson",
    demand_mean: float = 5.0,
    fixed_cost: float = 0.0,
    *,
    tol: float = 1e-6,
    max_iter: int = 20_000,
    truncation: Truncation | None = None,
    memory_limit: float = 4 * GiB,
    progress: bool = False,
    blas_threads: int | None = 1,
) -> LostSalesSolution:
    """Average-cost optimal policy of the lost-sales system, by relative value iteration.

    Parameters
    ----------
    lead_time : int -- periods from ordering to arrival [L]
    holding : float -- $ per unit left at the end of a period [h] (> 0)
    penalty : float -- $ per unit of demand lost [p]
    demand : str -- ``"poisson"`` or ``"geometric"``
        (geometric of mean m: P(k) = (1 - q) q^k, q = m / (1 + m))
    demand_mean : float -- mean demand per period
    fixed_cost : float -- $ per order placed [K]
    tol : float -- stop when the RVI bounds on the optimal cost are within ``tol``
    max_iter : int -- iteration limit (a RuntimeWarning is issued if reached)
    truncation : Truncation, optional -- caps on position and order; default
        :meth:`Truncation.default` (Zipkin's bound on optimal orders + 2 units)
    memory_limit : float -- bytes; larger problems raise ValueError before allocating
    progress : bool -- show a tqdm progress bar
    blas_threads : int or None -- BLAS threads during the solve (default 1: its matrix
        products are small, and on busy cores two threads made L = 5, p = 39 ten times
        slower, see :mod:`optimization.blas`); None leaves numpy's setting

    Returns
    -------
    LostSalesSolution

    Raises
    ------
    ValueError
        For bad parameters (the message names the parameter) or when the state
        space would need more than ``memory_limit``.

    Notes
    -----
    Relative value iteration ``V <- TV - (TV)(0)`` with the bounds
    ``min(TV - V) <= g* <= max(TV - V)`` (Odoni 1969; Puterman 1994, Sec. 8.5).
    The expectation over demand is a matrix product over all states at once
    (:func:`~optimization.lost_sales_model.expect_next`) on small grids; on large ones
    (``L >= 5`` at Zipkin's penalties) the update goes block by block over the states
    with the same ``x_2 + ... + x_{L-1}``, in place, with no Q-value array
    (:class:`~optimization.lost_sales_model.GridBlocks`): L = 6, p = 39 (7.4 million
    states) fits in about 2 GiB.  The policy's chain is a sparse matrix up to
    20 million transitions, else it is stepped on the grid the same way.
    Demand is not truncated (see :mod:`optimization.lost_sales_model`); the state
    space is, and the solution reports how much the caps matter.
    """
    t0 = time.perf_counter()
    model = _model(lead_time, holding, penalty, demand, demand_mean, fixed_cost)
    if not (tol > 0):
        raise ValueError(f"tol(={tol}) must be > 0")
    if max_iter < 1:
        raise ValueError(f"max_iter(={max_iter}) must be >= 1")
    trunc = truncation if truncation is not None else Truncation.default(model)
    if model.lead_time == 0 and trunc.max_order != trunc.max_position:
        trunc = Truncation(trunc.max_position, trunc.max_position)
    check_memory(model.lead_time, trunc, memory_limit)

    L = model.lead_time
    with limit_blas_threads(blas_threads):
        bar = tqdm(disable=not progress, desc=f"RVI L={L} p={model.penalty:g}", unit="it")
        if L >= 2 and (trunc.max_position + 1) * (trunc.max_order + 1) ** L > DENSE_Q:
            V, table, it, lower, upper = _rvi_blocks(model, trunc, tol, max_iter, bar)
        else:
            V, table, it, lower, upper = _rvi_dense(model, trunc, tol, max_iter, bar)
        bar.close()
        converged = upper - lower <= tol
        if not converged:
            warnings.warn(
                f"solve_lost_sales: no convergence in {max_iter} iterations "
                f"(bounds {lower:.6g}..{upper:.6g})",
                RuntimeWarning,
                stacklevel=2,
            )
        policy = LookupPolicy(table, L, trunc)
        states = int((table >= 0).sum())
        if grid_chain(L, trunc):  # no state list: the table is already on the grid
            blocks = GridBlocks(model, trunc)
            grid = table.reshape(blocks.feasible.shape)
            evaluation, pi = blocks.evaluate(model, grid)
            boundary = float(pi[blocks.feasible & (grid == blocks.order_cap())].sum())
        else:
            space = StateSpace.build(L, trunc)
            orders = table[tuple(space.states.T)]
            evaluation, pi = evaluate_orders(model, space, orders)
            boundary = float(pi[orders == space.order_cap()].sum())
    return LostSalesSolution(
        model=model,
        average_cost=(lower + upper) / 2,
        lower_bound=lower,
        upper_bound=upper,
        iterations=it,
        converged=converged,
        policy=policy,
        truncation=trunc,
        states=states,
        boundary_mass=boundary,
        stationary_cost=evaluation.average_cost,
        evaluation=evaluation,
        solve_seconds=time.perf_counter() - t0,
        values=V,
    )


class _StateObservation:
    """A one-node observation of a pipeline state, for policies written for the engine."""

    __slots__ = ("node", "state")

    def __init__(self, node: str, state: Sequence[int]) -> None:
        self.node, self.state = node, tuple(float(v) for v in state)

    @property
    def deciding(self) -> tuple[str, ...]:
        return (self.node,)

    def on_hand(self, node: str) -> float:
        return self.state[0]

    def pipeline(self, node: str, n: int) -> tuple[float, ...]:
        rest = self.state[1:]
        return tuple(rest[:n]) + (0.0,) * max(n - len(rest), 0)

    def inventory_position(self, node: str) -> float:
        return sum(self.state)

    def on_order(self, node: str) -> float:
        return sum(self.state[1:])

    def backlog(self, node: str) -> float:
        return 0.0


def _param(policy: Any, name: str, node: str) -> float:
    from des_supply.policies import value_for  # optimizers run without the engine loaded

    return value_for(getattr(policy, name), node, name)


def evaluate_policy(
    policy: Any,
    lead_time: int,
    holding: float,
    penalty: float,
    demand: str = "poisson",
    demand_mean: float = 5.0,
    fixed_cost: float = 0.0,
    *,
    truncation: Truncation | None = None,
    node: str = "stage",
) -> ChainEvaluation:
    """Exact long-run average cost of a policy, from the stationary law of its chain.

    ``policy`` may be a :class:`LookupPolicy`, an engine ``BaseStock``,
    ``CappedBaseStock`` or ``ConstantOrder`` (read as the parameters for ``node``),
    any other object with ``act(obs)`` (asked once per state, through a one-node
    observation named ``node``), or a vectorised rule ``f(states) -> orders`` on an
    ``(n, max(L, 1))`` array.  Orders are rounded to whole units.

    The state space is the policy's own when it has one (a base-stock level bounds
    the position; a constant order reduces the chain to on hand, see
    :func:`~optimization.lost_sales_heuristics.evaluate_constant`), else
    ``truncation`` (default: :meth:`Truncation.default` with no separate order
    cap).  Orders the space cannot hold are cut, and their stationary mass is
    reported as ``clipped_mass``.
    """
    model = _model(lead_time, holding, penalty, demand, demand_mean, fixed_cost)
    kind = type(policy).__name__
    rule: Callable[[np.ndarray], np.ndarray]
    default: Truncation
    if isinstance(policy, LookupPolicy):
        if policy.lead_time != model.lead_time:
            raise ValueError(
                f"policy was built for lead_time={policy.lead_time}, "
                f"not lead_time={model.lead_time}"
            )
        rule, default = policy.orders, policy.truncation
    elif kind in ("BaseStock", "CappedBaseStock") and hasattr(policy, "level"):
        level = _param(policy, "level", node)
        cap = _param(policy, "cap", node) if kind == "CappedBaseStock" else math.inf
        top = max(0, math.ceil(level))
        default = Truncation(top, top if math.isinf(cap) else min(top, max(0, math.ceil(cap))))

        def rule(x: np.ndarray) -> np.ndarray:
            return _h.base_stock_orders(x, level, cap)
    elif kind == "ConstantOrder" and hasattr(policy, "quantity") and truncation is None:
        r = _param(policy, "quantity", node)
        if r != int(r):
            raise ValueError(f"quantity(={r}) must be a whole number for integer demand")
        return _h.evaluate_constant(model, int(r))
    elif hasattr(policy, "act"):

        def rule(x: np.ndarray) -> np.ndarray:
            out = np.zeros(len(x), dtype=np.int64)
            for i, s in enumerate(x.tolist()):
                action = policy.act(_StateObservation(node, s))
                orders = getattr(action, "orders", action)  # an Action or a mapping
                out[i] = round(float(orders.get(node, 0.0)))
            return out

        auto = Truncation.default(model)
        default = Truncation(auto.max_position, auto.max_position)
    elif callable(policy):
        rule = policy
        auto = Truncation.default(model)
        default = Truncation(auto.max_position, auto.max_position)
    else:
        raise ValueError(f"policy(={policy!r}) must have act(obs) or be a callable on states")
    trunc = truncation if truncation is not None else default
    check_memory(model.lead_time, trunc, 4 * GiB)
    space = StateSpace.build(model.lead_time, trunc)
    return evaluate_orders(model, space, np.rint(rule(space.states)))[0]


def heuristics(
    lead_time: int,
    holding: float,
    penalty: float,
    demand: str = "poisson",
    demand_mean: float = 5.0,
    fixed_cost: float = 0.0,
    *,
    truncation: Truncation | None = None,
    progress: bool = False,
    names: Sequence[str] = HEURISTICS,
    blas_threads: int | None = 1,
) -> dict[str, HeuristicResult]:
    """The heuristics of :data:`HEURISTICS` (or those in ``names``), each with its exact
    long-run cost.

    Myopic policies are computed and evaluated on the truncated space of
    :func:`solve_lost_sales` (``truncation``, default :meth:`Truncation.default`;
    block by block where whole-grid Q-values would not fit, as at L = 6)
    and returned as :class:`LookupPolicy`; base-stock policies are evaluated on
    the space their level bounds and returned as ``des_supply.policies.BaseStock``
    / ``CappedBaseStock``; the constant order as ``ConstantOrder`` (whole units) and
    ``ConstantRate`` (a rate on a grid of step 1/20, realised in whole units).  See
    :mod:`optimization.lost_sales_heuristics` for definitions and sources.  BLAS runs on
    ``blas_threads`` threads (as in :func:`solve_lost_sales`).
    """
    with limit_blas_threads(blas_threads):
        return _heuristics(
            lead_time,
            holding,
            penalty,
            demand,
            demand_mean,
            fixed_cost,
            truncation,
            progress,
            names,
        )


def _heuristics(
    lead_time: int,
    holding: float,
    penalty: float,
    demand: str,
    demand_mean: float,
    fixed_cost: float,
    truncation: Truncation | None,
    progress: bool,
    names: Sequence[str],
) -> dict[str, HeuristicResult]:
    from des_supply.policies import BaseStock, CappedBaseStock, ConstantOrder, ConstantRate

    model = _model(lead_time, holding, penalty, demand, demand_mean, fixed_cost)
    trunc = truncation if truncation is not None else Truncation.default(model)
    L = model.lead_time
    out: dict[str, HeuristicResult] = {}
    unknown = [n for n in names if n not in HEURISTICS]
    if unknown:
        raise ValueError(f"unknown heuristic(s) {unknown}; choose from {', '.join(HEURISTICS)}")
    steps = tqdm(list(names), disable=not progress, desc=f"heuristics L={L}")
    tables: tuple[np.ndarray, np.ndarray] | None = None
    space: StateSpace | None = None
    for name in steps:
        steps.set_postfix_str(name)
        if name in ("myopic", "myopic-2"):
            if tables is None or space is None:
                try:
                    check_memory(L, trunc, 4 * GiB, dense=True)
                except ValueError:  # whole-grid Q-values do not fit: block by block
                    if L < 2:
                        raise
                    check_memory(L, trunc, 4 * GiB)
                    tables = _h.myopic_tables_blocks(model, trunc)
                else:
                    tables = _h.myopic_tables(model, trunc)
                space = StateSpace.build(L, trunc)
            policy = LookupPolicy(tables[name == "myopic-2"], L, trunc)
            ev = evaluate_orders(model, space, policy.table[tuple(space.states.T)])[0]
            out[name] = HeuristicResult(ev.average_cost, {}, policy, ev)
        elif name == "best-base-stock":
            S, ev = _h.best_base_stock(model)
            out[name] = HeuristicResult(ev.average_cost, {"level": S}, BaseStock(S), ev)
        elif name == "capped-base-stock":
            S, r, ev = _h.best_capped_base_stock(model)
            out[name] = HeuristicResult(
                ev.average_cost, {"level": S, "cap": r}, CappedBaseStock(S, r), ev
            )
        elif name == "best-constant":
            r, ev = _h.best_constant(model)
            out[name] = HeuristicResult(ev.average_cost, {"quantity": r}, ConstantOrder(r), ev)
        else:
            rate, ev = _h.best_constant_rate(model)
            out[name] = HeuristicResult(
                ev.average_cost, {"rate": float(rate)}, ConstantRate(float(rate)), ev
            )
    return out
