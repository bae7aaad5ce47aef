"""Dual sourcing: the exact average-cost DP on small instances, and the searched heuristics.

The model (one stocking node, backlog; a regular supplier with lead time ``l_r`` and
an expedited one with ``l_e < l_r``; i.i.d. integer demand with finite support, or
Poisson cut at a tail of 1e-16) in the engine's order of events (``order-before-demand``):
arrivals, both orders (an expedited order with ``l_e = 0`` arrives at once), demand,
costs on the period's end (``h`` per unit on hand, ``b`` per unit backlogged) plus
``c_r`` and ``c_e`` per unit ordered.

State at a decision epoch: ``x`` = net inventory after the period's arrivals, and
``v_1, ..., v_{l_r-1}`` = units arriving at the start of periods t+1, ..., t+l_r-1 (both
suppliers together: arrivals of one period merge, so this is exact and has ``l_r - 1``
pipeline dimensions whatever ``l_e``).  An expedited order adds to ``x`` (``l_e = 0``) or
to ``v_{l_e}``; a regular order becomes ``v_{l_r}``.  Relative value iteration
(:func:`solve_dual_sourcing`) runs one Bellman step in three array passes: the expected
value after demand (a sum over the demand's support), the best regular order for each
post-decision state (a minimum over ``0..B``), and the best expedited order (a running
minimum along one axis, since ``c_e q_e + G(x + q_e)`` is minimised over ``y = x + q_e >= x``).

Truncation: ``x`` lives in ``[x_min, x_max]`` and pipeline entries in ``[0, P]`` (``P = B``
with ``l_e = 0``, else ``B + E``), ``B`` the largest regular and ``E`` the largest expedited
order.  The defaults (a few maximal demands around the lead times) hold the optimal
policy's recurrent states well inside; :class:`DualSourcingSolution` reports
``boundary_mass``, the stationary probability of states on the truncation boundary under
the optimal policy (0 up to rounding for the default grid).  A size guard
(:mod:`optimization.memory`) refuses grids over the memory limit before allocating.

The returned :class:`DualSourcingPolicy` is a lookup table the engine runs: it reads ``x``
and the pipeline (``Observation.pipeline``) and answers both orders.

Heuristics (:mod:`des_supply.sourcing_policies`): single index, dual index, capped dual
index and tailored base-surge, their integer parameters searched by simulation on common
random numbers (:func:`optimization.search.search_integers`): :func:`best_heuristics`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from scipy import sparse
from tqdm.auto import tqdm

from des_supply.distributions import (
    Deterministic,
    DiscreteUniform,
    Distribution,
    Empirical,
    Poisson,
)
from des_supply.network import Network
from des_supply.problem import Problem, as_problem
from des_supply.sourcing_policies import (
    CappedDualIndex,
    DualIndex,
    SingleIndex,
    TailoredBaseSurge,
    dual_sourcing_nodes,
)

from ._pmf import poisson_pmf
from .memory import check_memory
from .search import search_integers

__all__ = [
    "ARRAYS_PER_STATE",
    "BYTES_PER_STATE",
    "HEURISTICS",
    "DualSourcingModel",
    "DualSourcingPolicy",
    "DualSourcingSolution",
    "NotDualSourcing",
    "best_heuristics",
    "evaluate_policy",
    "model_of",
    "optimize_dual_sourcing",
    "solve_dual_sourcing",
]

#: Bytes per state of the DP grid and per point of the demand's support (the expectation
#: pass gathers the value at every next state for every demand) ...
BYTES_PER_STATE = 8
#: ... plus this many float arrays of the grid's size (value, Bellman update, differences,
#: running minimum, policy tables).
ARRAYS_PER_STATE = 16


class NotDualSourcing(ValueError):
    """A problem the dual-sourcing DP does not model (the message says which assumption)."""


@dataclass(frozen=True)
class DualSourcingModel:
    """The DP's data, read from a network (:func:`model_of`) or given directly."""

    regular_lead: int  # l_r
    expedited_lead: int  # l_e
    regular_cost: float  # c_r per unit (order cost + edge unit cost + transit holding x l_r)
    expedited_cost: float  # c_e per unit
    holding: float  # h per unit on hand at period end
    backorder: float  # b per unit backlogged at period end
    pmf: np.ndarray = field(repr=False)  # P(D = d), d = 0..len-1
    node: str = "store"
    regular: str = "regular"
    expedited: str = "expedited"

    def __post_init__(self) -> None:
        if not 0 <= self.expedited_lead < self.regular_lead:
            raise NotDualSourcing(
                f"need 0 <= expedited lead time (={self.expedited_lead}) < regular lead time "
                f"(={self.regular_lead})"
            )
        for name in ("regular_cost", "expedited_cost", "holding", "backorder"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise NotDualSourcing(f"{name}(={value}) must be a finite number >= 0")
        pmf = np.asarray(self.pmf, dtype=float)
        if pmf.ndim != 1 or len(pmf) == 0 or (pmf < 0).any() or abs(pmf.sum() - 1) > 1e-9:
            raise NotDualSourcing("pmf must be probabilities of demand 0, 1, ... summing to 1")
        object.__setattr__(self, "pmf", pmf / pmf.sum())

    @property
    def max_demand(self) -> int:
        return len(self.pmf) - 1

    @property
    def mean_demand(self) -> float:
        return float(self.pmf @ np.arange(len(self.pmf)))


def _demand_pmf(dist: Any, who: str) -> np.ndarray:
    if isinstance(dist, DiscreteUniform):
        pmf = np.zeros(dist.high + 1)
        pmf[dist.low :] = 1.0 / (dist.high - dist.low + 1)
        return pmf
    if isinstance(dist, Poisson):
        return poisson_pmf(dist.mean)
    if isinstance(dist, Deterministic) and float(dist.value).is_integer():
        pmf = np.zeros(int(dist.value) + 1)
        pmf[-1] = 1.0
        return pmf
    if isinstance(dist, Empirical) and all(float(v).is_integer() for v in dist.values):
        probs = dist.probabilities or (1 / len(dist.values),) * len(dist.values)
        pmf = np.zeros(int(max(dist.values)) + 1)
        for v, p in zip(dist.values, probs):
            pmf[int(v)] += p
        return pmf
    kind = dist.to_dict() if hasattr(dist, "to_dict") else dist
    raise NotDualSourcing(
        f"{who}: the DP takes uniform, Poisson, deterministic or empirical integer demand, "
        f"got {kind}"
    )


def model_of(problem: Problem | Network) -> DualSourcingModel:
    """The DP model of a dual-sourcing problem; :class:`NotDualSourcing` names the first
    assumption that fails (one stocking node choosing between two unlimited external
    suppliers with deterministic lead times, backlog, periodic review every period,
    order-before-demand, no capacities, no fixed order cost, no revenue)."""
    problem = as_problem(problem)
    net = problem.network
    if problem.market is not None:
        raise NotDualSourcing("the DP has no model of a market")
    if net.time != "periodic" or net.order_timing != "order-before-demand":
        raise NotDualSourcing(
            "the DP assumes periodic time and order_timing='order-before-demand' "
            f"(got time={net.time!r}, order_timing={net.order_timing!r})"
        )
    try:
        nodes = dual_sourcing_nodes(net)
    except ValueError as exc:
        raise NotDualSourcing(str(exc)) from None
    if len(net.stock_nodes) != 1 or len(nodes) != 1:
        raise NotDualSourcing(
            "the DP takes one stocking node choosing between two suppliers "
            "(supply_rule='choice' with two supplier edges)"
        )
    d = next(iter(nodes.values()))
    node = net.node(d.node)
    who = f"node {node.name!r}"
    if node.shortage != "backlog":
        raise NotDualSourcing(f"{who} loses sales; the DP assumes backlog")
    if node.fixed_order_cost or node.price:
        raise NotDualSourcing(f"{who} has a fixed order cost or a price; the DP has neither")
    if math.isfinite(node.capacity) or math.isfinite(node.storage_capacity):
        raise NotDualSourcing(f"{who} has an order or storage capacity; the DP has none")
    if node.review_period != 1:
        raise NotDualSourcing(f"{who} reviews every {node.review_period} periods; the DP every 1")
    costs = {}
    for name in (d.regular, d.expedited):
        edge = next(e for e in net.suppliers(node.name) if e.source == name)
        where = f"edge {edge.source!r}->{edge.target!r}"
        if edge.lead_time.constant is None:
            raise NotDualSourcing(f"{where} has a stochastic lead time; the DP needs a fixed one")
        if math.isfinite(net.node(name).capacity) or net.node(name).kind != "supply":
            raise NotDualSourcing(f"{where}: the DP needs an unlimited external supplier")
        lead = float(edge.lead_time.constant)
        costs[name] = node.order_cost + edge.unit_cost + edge.transit_holding_cost * lead
    return DualSourcingModel(
        regular_lead=d.regular_lead,
        expedited_lead=d.expedited_lead,
        regular_cost=costs[d.regular],
        expedited_cost=costs[d.expedited],
        holding=node.holding_cost,
        backorder=node.shortage_cost,
        pmf=_demand_pmf(node.demand, who),
        node=node.name,
        regular=d.regular,
        expedited=d.expedited,
    )


# -- the DP -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Grid:
    x_min: int
    x_max: int
    regular_max: int  # B
    expedite_max: int  # E
    pipeline_max: int  # P

    @property
    def X(self) -> int:
        return self.x_max - self.x_min + 1


@dataclass(frozen=True)
class DualSourcingPolicy:
    """The DP's optimal policy as lookup tables (the engine runs it).

    ``expedite[x - x_min, v_1, ..., v_{L-1}]`` is the expedited order at the decision state;
    ``regular[s - x_min, u_2, ..., u_{L-1}]`` the regular order after it, where ``s = y +
    w_1`` is the post-decision net inventory plus next period's arrivals (``L = 1``:
    ``regular[y - x_min]``).  States outside the grid are clipped to it.
    """

    model: DualSourcingModel = field(repr=False)
    grid: _Grid
    expedite: np.ndarray = field(repr=False)
    regular: np.ndarray = field(repr=False)

    def orders(self, x: int, pipeline: tuple[int, ...]) -> tuple[int, int]:
        """``(q_r, q_e)`` at net inventory *x* and pipeline ``(v_1, ..., v_{L-1})``."""
        g, m = self.grid, self.model
        P = g.pipeline_max
        xi = min(max(int(x), g.x_min), g.x_max) - g.x_min
        v = [min(max(int(q), 0), P) for q in pipeline]
        q_e = int(self.expedite[(xi, *v)])
        L, le = m.regular_lead, m.expedited_lead
        if L == 1:
            y = min(xi + q_e, g.X - 1)
            return int(self.regular[y]), q_e
        w = list(v)
        y = xi
        if le == 0:
            y = min(xi + q_e, g.X - 1)
        else:
            w[le - 1] = min(w[le - 1] + q_e, P)
        s = y + w[0]
        return int(self.regular[(s, *w[1:])]), q_e

    def act(self, obs: Any) -> dict[str, dict[str, float]]:
        m = self.model
        out: dict[str, dict[str, float]] = {}
        for n in obs.deciding:
            if n != m.node:
                raise ValueError(f"DualSourcingPolicy decides for node {m.node!r}, not {n!r}")
            x = obs.on_hand(n) - obs.backlog(n)
            pipeline = obs.pipeline(n, m.regular_lead - 1)
            q_r, q_e = self.orders(int(round(x)), tuple(int(round(q)) for q in pipeline))
            out[n] = {m.regular: float(q_r), m.expedited: float(q_e)}
        return out


@dataclass(frozen=True)
class DualSourcingSolution:
    """The optimum of a :class:`DualSourcingModel`: average cost per period and its policy."""

    average_cost: float
    policy: DualSourcingPolicy = field(repr=False)
    iterations: int
    span: float  # final span of T h - h (the bound on the error in average_cost)
    states: int
    seconds: float
    boundary_mass: float  # stationary probability on the truncation boundary (optimal policy)


def _default_grid(m: DualSourcingModel, regular_max: int | None, expedite_max: int | None) -> _Grid:
    dmax = max(1, m.max_demand)
    L = m.regular_lead
    B = 2 * dmax if regular_max is None else int(regular_max)
    E = (L + 2) * dmax if expedite_max is None else int(expedite_max)
    x_min = -(L + 2) * dmax
    x_max = (L + 3) * dmax
    P = B if m.expedited_lead == 0 else B + E
    return _Grid(x_min, x_max, B, E, P)


def solve_dual_sourcing(
    model: DualSourcingModel,
    *,
    regular_max: int | None = None,
    expedite_max: int | None = None,
    x_range: tuple[int, int] | None = None,
    tol: float = 1e-7,
    max_iterations: int = 100_000,
    memory_limit: float | None = None,
    progress: bool = False,
) -> DualSourcingSolution:
    """Relative value iteration for the average cost of *model* (module docstring).

    *regular_max* (B) and *expedite_max* (E) bound the orders (defaults ``2 d_max`` and
    ``(l_r + 2) d_max``); *x_range* the net inventory (default ``[-(l_r + 2) d_max,
    (l_r + 3) d_max]``).  Stops when the span of ``T h - h`` is below *tol* (then the
    average cost is within *tol* of the grid's optimum).  Raises
    :class:`~optimization.memory.SizeLimitError` when the grid would not fit the memory
    limit (lower ``l_r``, the demand's support, or the bounds).
    """
    g = _default_grid(model, regular_max, expedite_max)
    if x_range is not None:
        g = _Grid(int(x_range[0]), int(x_range[1]), g.regular_max, g.expedite_max, g.pipeline_max)
    L, le = model.regular_lead, model.expedited_lead
    X, P, B = g.X, g.pipeline_max, g.regular_max
    states = X * (P + 1) ** (L - 1)
    check_memory(
        BYTES_PER_STATE * states * (len(model.pmf) + ARRAYS_PER_STATE),
        f"the dual-sourcing DP ({states:,} states: net inventory {X} x pipeline {P + 1}^{L - 1})",
        "lower the regular lead time, the demand's support or the order bounds",
        limit=memory_limit,
    )
    pmf = model.pmf
    D = len(pmf)
    xs = np.arange(g.x_min, g.x_max + 1, dtype=float)
    # expected holding and backorder cost at post-decision net inventory y
    ds = np.arange(D, dtype=float)
    left = xs[:, None] - ds[None, :]
    C = (np.where(left > 0, model.holding * left, -model.backorder * left) @ pmf).astype(float)
    S = X + (P if L >= 2 else B)  # s = y + u_1 in [x_min, x_max + P] (L = 1: y + q_r)
    # next x index for s index and demand d, clipped to the grid
    next_x = np.clip(np.arange(S)[:, None] - np.arange(D)[None, :], 0, X - 1)
    pipe_shape = (P + 1,) * (L - 1)
    h = np.zeros((X, *pipe_shape))
    ce, cr = model.expedited_cost, model.regular_cost
    qr_cost = cr * np.arange(B + 1, dtype=float)
    axis = 0 if le == 0 else le  # where an expedited order goes
    coord = np.arange(X if le == 0 else P + 1, dtype=float)
    coord_shape = [1] * (1 + len(pipe_shape))
    coord_shape[axis] = len(coord)
    ce_coord = ce * coord.reshape(coord_shape)
    # gather indices for G(y, w_1, ...) = C(y) + M(y + w_1, w_2, ...)
    if L >= 2:
        s_index = np.arange(X)[:, None] + np.arange(P + 1)[None, :]  # (X, P+1)
    t0 = time.perf_counter()
    bar = tqdm(desc="dual-sourcing DP", disable=not progress, leave=False, unit="it")
    span = math.inf
    g_avg = math.nan
    it = 0
    best_r = None
    for it in range(1, max_iterations + 1):
        # Z(s, u_2..u_L) = E h(clip(s - D), u_2..u_L)
        Z = np.tensordot(pmf, h[next_x.T], axes=(0, 0))  # (S, pipe...)
        if L >= 2:
            # M(s, u_2..u_{L-1}) = min over u_L = q_r in 0..B
            Zr = Z[..., : B + 1] + qr_cost
            best_r = Zr.argmin(axis=-1)
            M = np.take_along_axis(Zr, best_r[..., None], axis=-1)[..., 0]
            # G(y, w_1, ..., w_{L-1}) = C(y) + M(y + w_1, w_2, ...)
            G = M[s_index]  # (X, P+1, P+1^(L-2))
            G = G + C.reshape((X,) + (1,) * (L - 1))
        else:
            # G(y) = C(y) + min over q_r of c_r q_r + Z(y + q_r)
            cand = Z[np.arange(X)[:, None] + np.arange(B + 1)[None, :]] + qr_cost
            best_r = cand.argmin(axis=1)
            G = C + cand.min(axis=1)
        # V(x, v) = min over q_e >= 0 of c_e q_e + G(post(x, v, q_e)): a running minimum
        # of c_e * coord + G from the top of the expedited order's axis down
        K = ce_coord + G
        flipped = np.flip(K, axis=axis)
        run = np.minimum.accumulate(flipped, axis=axis)
        Tv = np.flip(run, axis=axis) - ce_coord
        diff = Tv - h
        lo, hi = float(diff.min()), float(diff.max())
        span = hi - lo
        g_avg = (lo + hi) / 2
        h = Tv - Tv.flat[0]
        if it % 50 == 0:
            bar.set_postfix(span=f"{span:.2e}")
            bar.update(50)
        if span < tol:
            break
    bar.close()
    # the policy tables from the final h
    K = np.flip(ce_coord + G, axis=axis)  # from the top of the axis down
    n = K.shape[axis]
    best_above = np.flip(n - 1 - _running_argmin(K, axis), axis=axis)  # argmin over c' >= c
    expedite = best_above - np.arange(n).reshape(coord_shape)
    regular = best_r
    assert regular is not None
    policy = DualSourcingPolicy(model, g, expedite.astype(np.int64), regular.astype(np.int64))
    seconds = time.perf_counter() - t0
    mass = _boundary_mass(policy, model, g)
    return DualSourcingSolution(float(g_avg), policy, it, span, states, seconds, mass)


def _running_argmin(a: np.ndarray, axis: int) -> np.ndarray:
    """Index of the minimum of ``a[..., :i+1, ...]`` along *axis*, for every i (ties: the
    last, which is the smallest order once the axis is flipped back)."""
    a = np.moveaxis(a, axis, 0)
    out = np.zeros(a.shape, dtype=np.int64)
    best = a[0].copy()
    arg = np.zeros(a.shape[1:], dtype=np.int64)
    for i in range(a.shape[0]):
        better = a[i] <= best + 1e-9
        best = np.where(better, a[i], best)
        arg = np.where(better, i, arg)
        out[i] = arg
    return np.moveaxis(out, 0, axis)


def _chain(
    m: DualSourcingModel, g: _Grid, orders: Callable[[int, tuple[int, ...]], tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Successor state of every grid state for every demand, and the expected cost of a
    period from it, under ``orders(x, pipeline) -> (q_r, q_e)`` (clipped to the grid)."""
    L, le, P = m.regular_lead, m.expedited_lead, g.pipeline_max
    shape = (g.X, *(P + 1,) * (L - 1))
    states = int(np.prod(shape))
    check_memory(
        8 * states * (2 * len(m.pmf) + 4),
        f"the dual-sourcing Markov chain ({states:,} states)",
        "lower the regular lead time or the order bounds",
    )
    succ = np.zeros((states, len(m.pmf)), dtype=np.int64)
    cost = np.zeros(states)
    ds = np.arange(len(m.pmf))
    for flat in range(states):
        idx = np.unravel_index(flat, shape)
        xi, v = int(idx[0]), [int(i) for i in idx[1:]]
        q_r, q_e = orders(xi + g.x_min, tuple(v))
        q_r, q_e = int(round(q_r)), int(round(q_e))
        y, w = xi, list(v)
        if le == 0:
            y = min(y + q_e, g.X - 1)
        else:
            w[le - 1] = min(w[le - 1] + q_e, P)
        u = [*w, min(q_r, P)]
        left = y + g.x_min - ds
        cost[flat] = (
            m.expedited_cost * q_e
            + m.regular_cost * q_r
            + float(np.where(left > 0, m.holding * left, -m.backorder * left) @ m.pmf)
        )
        x2 = np.clip(y - ds + u[0], 0, g.X - 1)
        succ[flat] = np.ravel_multi_index((x2, *(np.full(len(ds), q) for q in u[1:])), shape)
    return succ, cost, shape


def _stationary(m: DualSourcingModel, g: _Grid, succ: np.ndarray) -> np.ndarray:
    """The long-run state distribution from the state (x=0, empty pipeline), by power
    iteration on the sparse transition matrix (until the L1 change is below 1e-13)."""
    states = succ.shape[0]
    rows = np.repeat(np.arange(states), len(m.pmf))
    T = sparse.csr_matrix(
        (np.tile(m.pmf, states), (rows, succ.ravel())), shape=(states, states)
    ).T.tocsr()
    pi = np.zeros(states)
    pi[np.ravel_multi_index((-g.x_min, *(0,) * (m.regular_lead - 1)), succ_shape(m, g))] = 1.0
    for _ in range(20_000):
        new = np.asarray(T @ pi, dtype=float).ravel()
        done = np.abs(new - pi).sum() < 1e-13
        pi = new
        if done:
            break
    return pi


def succ_shape(m: DualSourcingModel, g: _Grid) -> tuple[int, ...]:
    return (g.X, *(g.pipeline_max + 1,) * (m.regular_lead - 1))


def _boundary_mass(policy: DualSourcingPolicy, m: DualSourcingModel, g: _Grid) -> float:
    """Stationary probability of the grid's boundary states under *policy*."""
    succ, _, shape = _chain(m, g, policy.orders)
    pi = _stationary(m, g, succ).reshape(shape)
    edge = np.zeros(shape, dtype=bool)
    edge[0] = edge[-1] = True
    for k in range(1, len(shape)):
        sl: list[Any] = [slice(None)] * len(shape)
        sl[k] = g.pipeline_max
        edge[tuple(sl)] = True
    return float(pi[edge].sum())


def evaluate_policy(
    model: DualSourcingModel,
    policy: Any,
    *,
    regular_max: int | None = None,
    expedite_max: int | None = None,
) -> float:
    """Exact long-run average cost per period of a dual-sourcing *policy* on *model*: the
    stationary distribution of its Markov chain on the DP's grid (from x = 0, empty
    pipeline).  *policy* is a :class:`DualSourcingPolicy` or has ``orders(position,
    expedite_position) -> (q_r, q_e)`` (:mod:`des_supply.sourcing_policies`)."""
    g = _default_grid(model, regular_max, expedite_max)
    if isinstance(policy, TailoredBaseSurge) and not float(policy.base).is_integer():
        raise ValueError(
            f"tailored base-surge with a fractional base (={policy.base:g}) orders by the "
            "period, not by the state: its long-run cost is not a stationary chain's"
        )
    orders: Callable[[int, tuple[int, ...]], tuple[float, float]]
    if isinstance(policy, DualSourcingPolicy):
        orders = policy.orders
    else:
        le = model.expedited_lead

        def by_positions(x: int, pipeline: tuple[int, ...]) -> tuple[float, float]:
            q_r, q_e = policy.orders(float(x + sum(pipeline)), float(x + sum(pipeline[:le])))
            return float(q_r), float(q_e)

        orders = by_positions

    succ, cost, _ = _chain(model, g, orders)
    return float(_stationary(model, g, succ) @ cost)


# -- heuristics ------------------------------------------------------------------------------
#: The searched heuristics: registry name -> (family, parameters searched).
HEURISTICS = ("single-index", "dual-index", "capped-dual-index", "tailored-base-surge")


def best_heuristics(
    problem: Problem | Network,
    *,
    periods: int = 2_000,
    replications: int = 4,
    seed: int = 12345,
    names: tuple[str, ...] = HEURISTICS,
    progress: bool = False,
) -> dict[str, tuple[dict[str, float], float, Any]]:
    """The dual-sourcing heuristics with their parameters searched by simulation on common
    random numbers (:func:`optimization.search.search_integers`: every candidate on the same
    *replications* paths of *periods* periods from the problem's initial state).

    Returns ``{name: (params, mean cost per period on those paths, policy)}``; parameters
    are the registry's (``make_policy(name, problem, params)`` builds the same policy).
    Levels are whole units, the capped dual index's cap too, the tailored base-surge's base
    a multiple of 1/10.  Each search starts from the best point of a coarse grid around
    levels covering mean demand over the lead times (the landscapes have local optima:
    single index on the default instance has one at 29.0 against 26.0 at the best).
    """
    problem = as_problem(problem)
    nodes = dual_sourcing_nodes(problem.network)
    if len(nodes) != 1:
        raise NotDualSourcing("the heuristics search takes one dual-sourcing node")
    d = next(iter(nodes.values()))
    if problem.network.node(d.node).demand is None:
        raise NotDualSourcing(f"node {d.node!r} has no demand")
    # a periodic network's demand is a distribution (dual_sourcing_nodes: periodic only)
    demand = cast(Distribution, problem.network.node(d.node).demand)
    mu = float(demand.mean)
    top = int(
        math.ceil(
            demand.upper_bound
            if math.isfinite(demand.upper_bound)
            else mu + 3 * math.sqrt(demand.variance)
        )
    )
    top = max(top, 1)
    se0 = int(round(mu * (d.expedited_lead + 1) + top / 2))
    delta0 = int(round(mu * (d.regular_lead - d.expedited_lead)))
    common: dict[str, Any] = {
        "periods": periods,
        "replications": replications,
        "seed": seed,
        "progress": progress,
    }
    half = max(1, top // 2)
    out: dict[str, tuple[dict[str, float], float, Any]] = {}
    for name in names:
        label = f"{name} search"
        if name in ("single-index", "dual-index"):
            cls: Any = SingleIndex if name == "single-index" else DualIndex
            sr0 = se0 + delta0
            if name == "dual-index":
                starts = [
                    {"Se": se, "Sr": sr}
                    for se in range(se0 - top, se0 + top + 1, half)
                    for sr in range(sr0 - top, sr0 + top + 1, half)
                    if sr >= se
                ]
            else:  # single index: its good points have S_r - S_e small, S_e anywhere
                starts = [
                    {"Se": se, "Sr": se + gap}
                    for se in range(se0 - top, sr0 + top + 1)
                    for gap in range(0, top + 1)
                ]

            def build(p: dict[str, int], cls: Any = cls) -> Any:
                return cls(p["Se"], p["Sr"])

            res = search_integers(
                problem,
                build,
                starts,
                label=label,
                descents=1 if name == "dual-index" else 3,
                **common,
            )
            params = {
                "expedite_level": float(res.params["Se"]),
                "regular_level": float(res.params["Sr"]),
            }
        elif name == "capped-dual-index":
            starts = [
                {"Se": se, "delta": dl, "cap": cap}
                for se in (se0 - half, se0, se0 + half)
                for dl in (delta0, delta0 + top)
                for cap in sorted({int(math.ceil(mu)), top})
            ]
            res = search_integers(
                problem,
                lambda p: CappedDualIndex(p["Se"], p["Se"] + p["delta"], p["cap"]),
                starts,
                lower={"delta": 0, "cap": 0},
                label=label,
                **common,
            )
            se, dl = res.params["Se"], res.params["delta"]
            params = {
                "expedite_level": float(se),
                "regular_level": float(se + dl),
                "cap": float(res.params["cap"]),
            }
        elif name == "tailored-base-surge":
            starts = [
                {"base10": int(round(10 * mu * f)), "Se": se}
                for f in (0.5, 0.75, 0.9)
                for se in (se0, se0 + top, se0 + 2 * top)
            ]
            res = search_integers(
                problem,
                lambda p: TailoredBaseSurge(p["base10"] / 10, p["Se"]),
                starts,
                lower={"base10": 0},
                label=label,
                **common,
            )
            params = {
                "base": res.params["base10"] / 10,
                "expedite_level": float(res.params["Se"]),
            }
        else:
            raise ValueError(f"unknown dual-sourcing heuristic {name!r} (known: {HEURISTICS})")
        out[name] = (params, res.value, res.policy)
    return out


# -- optimize ------------------------------------------------------------------------------
def optimize_dual_sourcing(
    problem: Problem | Network,
    *,
    progress: bool = False,
    periods: int = 2_000,
    replications: int = 4,
    seed: int = 12345,
    memory_limit: float | None = None,
) -> Any:
    """The optimum of a dual-sourcing problem and its four searched heuristics
    (:func:`optimization.optimize.optimize` routes ``multi-sourcing`` problems here).

    When the DP applies (:func:`model_of`) and fits the memory limit, ``optimal`` is its
    average cost and lookup-table policy, and each heuristic's value is its exact long-run
    cost (:func:`evaluate_policy`) at the parameters the simulation search found.
    Otherwise ``details["exact_method_skipped"]`` says why, the heuristics' values are
    their means on the search's sampled paths, and ``optimal`` is the best of them.
    """
    from .memory import SizeLimitError
    from .optimize import Benchmark, OptimizeResult

    problem = as_problem(problem)
    details: dict[str, Any] = {"periods": periods, "replications": replications, "seed": seed}
    model: DualSourcingModel | None = None
    solution: DualSourcingSolution | None = None
    try:
        model = model_of(problem)
        solution = solve_dual_sourcing(model, memory_limit=memory_limit, progress=progress)
    except (NotDualSourcing, SizeLimitError) as exc:
        details["exact_method_skipped"] = str(exc)
    found = best_heuristics(
        problem, periods=periods, replications=replications, seed=seed, progress=progress
    )
    search = "parameters searched by simulation (common random numbers)"
    policies = []
    for name, (params, on_paths, policy) in found.items():
        value, method = on_paths, search + "; value on the sampled paths"
        measured: int | None = periods
        if solution is not None and model is not None:
            try:
                value = evaluate_policy(model, policy)
                method, measured = search + "; exact long-run value (Markov chain)", None
            except ValueError:  # a fractional tailored base-surge base: not a stationary chain
                pass
        policies.append(Benchmark(f"best-{name}", value, params, method, policy, measured))
    if solution is not None and model is not None:
        optimal = Benchmark(
            "optimal",
            solution.average_cost,
            {},
            "relative value iteration on (net inventory, pipeline), lookup table",
            solution.policy,
        )
        details.update(
            iterations=solution.iterations,
            span=solution.span,
            states=solution.states,
            boundary_mass=solution.boundary_mass,
            solve_seconds=solution.seconds,
            inputs={
                "node": model.node,
                "regular": model.regular,
                "expedited": model.expedited,
                "regular_lead": model.regular_lead,
                "expedited_lead": model.expedited_lead,
                "regular_cost": model.regular_cost,
                "expedited_cost": model.expedited_cost,
                "holding_cost": model.holding,
                "backorder_cost": model.backorder,
                "demand_mean": model.mean_demand,
            },
        )
    else:
        top = min(policies, key=lambda b: b.value)
        optimal = Benchmark(
            top.name,
            top.value,
            top.params,
            f"no exact method ({details['exact_method_skipped']}): best heuristic on the "
            "sampled paths",
            top.policy,
            periods,
        )
    return OptimizeResult(problem, problem.objective, optimal, policies, details)
