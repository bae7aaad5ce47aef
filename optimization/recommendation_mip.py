"""Inventory-aware recommendation as a MIP (Pyomo + HiGHS), after Demirezen & Kumar (2016).

The seller of :mod:`des_supply.recommendation` chooses, every period, orders for its N
products and recommendation intensities ``alpha`` (N x M) for its M customers.  Demand is
a softmax of the ratings, so it is not linear in ``alpha``; this module makes the choice
discrete and keeps it exact:

**Patterns per customer.**  Customer j's purchase probabilities depend only on column j
of ``alpha`` (eq. 10 is a softmax over products, per customer).  A *pattern* k gives
customer j one intensity column ``a_k[:, j]``; its purchases are precomputed exactly,
``c[j] gamma_k[i, j]`` in expectation or ``d_k[i, j, t]`` on the engine's uniforms
(binomial inverse CDF, :meth:`RecommendationModel.demand`).  A binary ``y[j, k, t]``
picks one pattern per customer and period, so demand is linear in y, and so is the
normalisation: ``axis="customers"`` needs ``sum_j sum_k y[j, k, t] a_k[i, j] = 1`` for
every product i; with ``axis="products"`` every pattern column already sums to 1.

Pattern families (:func:`make_patterns`, K = ``levels``):

==========  ==================================================================  =============
family      columns a customer can be given                                     per customer
==========  ==================================================================  =============
``all``     every vector of levels {0, 1/K, ..., 1} over the products           (K+1)^N
            (axis="products": those summing to 1)                               (<= 1024)
``single``  nothing, or one product at level l/K (axis="products": level 1)      1 + N K
==========  ==================================================================  =============

plus *anchors*: whole recommendations (N x M matrices, default the uniform one) whose
column j is one more pattern of customer j.  Every customer taking the anchor gives the
anchor itself, so an anchor makes the normalisation feasible and puts the heuristic that
uses it (base stock + uniform) inside the set.  Without anchors, ``single`` with
``axis="customers"`` needs M >= N (one product per customer) and is refused otherwise.

**The period** (the engine's order, ``des_supply.sim``): receive (backlog filled first,
then stock), order (lead time L: available for demand L periods later, at once if L = 0),
demand, account.  Per product, with ``D`` the demand of the chosen patterns::

    profit = price * sales - (order_cost + edge unit_cost) * ordered - holding * on hand
             - penalty * (lost in the period | backlogged at its end)
             - transit_holding_cost * units of the model's orders in transit

Lost sales: ``sales <= D``, ``sales <= available``; backlog: net stock balance and
``sales = D + backlog before - backlog after`` (filled backlog earns the price when
filled, as in the engine).  For a fixed plan, selling as much as possible as early as
possible is optimal (price + penalty >= 0, holding >= 0), so the model's optimum prices
its plan as the engine's ledger does; the tests replay it to 1e-6.

**What is approximated.**  (1) Recommendations are restricted to the pattern set.  (2)
:class:`MIPRecommendationPolicy` plans on *expected* purchases (certainty equivalent:
sales <= expected demand, a fluid model), mean lead times and continuous orders by
default (the engine rounds them); ``relax_future`` also makes later periods' pattern
choices fractional.  (3) :func:`perfect_information_bound` is exact on the engine's own
uniforms and lead times: it bounds every policy whose recommendations lie in the pattern
set (not others, e.g. arbitrary continuous intensities).  It is loose: each product's
purchases are independent binomials, so a customer's realised total is not fixed at
``c[j]``, and foresight picks the patterns whose draws buy more.

**Two bounds.**  Besides the perfect-information bound (per sample path), the LP
relaxation of the *expected*-demand model from the initial state
(``solve_plan(..., relax=True)``) bounds the *expected* profit of every non-anticipative
policy in the pattern set when lead times are deterministic: the expectations of such a
policy's quantities satisfy its constraints (the pattern probabilities play the
fractional y; a period's uniforms are independent of its choice).  It is much tighter.

Networks: one unlimited supply node, each product a stocking node with one inbound edge
from it (``bom`` 1), reviewed every period, no fixed order cost, no storage limit,
order-before-demand.  Anything else is refused with a ValueError.
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyomo.environ as pyo
from scipy import stats

from des_supply.network import Network
from des_supply.policies import Action
from des_supply.problem import Problem
from des_supply.recommendation import (
    KEY,
    RecommendationMarket,
    RecommendationModel,
    binomial_inverse_cdf,
)
from des_supply.rng import SeedLike, replication_seed, root_sequence, stream

from .memory import check_memory
from .network_mip import engine_draws, model_size
from .solve import DirectHighs, SolveReport, new_solver, solve

__all__ = [
    "MAX_ALL_PATTERNS",
    "MIPRecommendationPolicy",
    "PatternSet",
    "Products",
    "RecommendationPlan",
    "RecommendationPlanPolicy",
    "build_recommendation_model",
    "check_model_size",
    "expected_purchases",
    "load_state",
    "make_patterns",
    "market_uniforms",
    "perfect_information_bound",
    "realised_purchases",
    "solve_plan",
]

#: most patterns per customer the "all" family may have (its size is (K+1)^N)
MAX_ALL_PATTERNS = 1024
#: HiGHS options of the MPC's re-solves, on top of :func:`~optimization.solve.solve`'s.
#: Feasibility jump, a primal heuristic HiGHS runs before the root LP, took 14-32% of
#: HiGHS's CPU time on the benchmark's recommendation models; without it the plans stayed
#: identical epoch by epoch (the four ``benchmarks/network_mip.py --recommendation-only``
#: instances: 52 epochs on seed 0, 30-104 on seed 1).  Other settings tried (presolve or
#: probing off, a start from the previous plan) were faster but changed plans, among ties
#: or within the 0.1% gap.
MPC_HIGHS_OPTIONS: dict[str, Any] = {"mip_heuristic_run_feasibility_jump": False}
#: most states the MPC remembers the answer of (a state seen again is not re-solved)
MPC_MEMO_SIZE = 4096
FAMILIES = ("all", "single")


# -- patterns -----------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class PatternSet:
    """Recommendation patterns: pattern k gives customer j column j of ``matrices[k]``.

    ``matrices`` is (P, N, M); a family pattern is the same column for every customer,
    an anchor (a whole recommendation) gives each customer its own column.
    """

    family: str
    levels: int
    axis: str  # the model's normalisation axis
    matrices: np.ndarray
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.matrices)

    def recommendation(self, choice: Sequence[int] | np.ndarray) -> np.ndarray:
        """The (N, M) intensities when customer j gets pattern ``choice[j]``."""
        idx = np.asarray(choice, dtype=int)
        return self.matrices[idx, :, np.arange(self.matrices.shape[2])].T.copy()


def _family_columns(model: RecommendationModel, family: str, K: int) -> tuple[list, list[str]]:
    n = model.shape[0]
    names = model.products
    if family == "single":
        if model.axis == "products":  # a column must sum to 1: one product, fully
            return [np.eye(n)[i] for i in range(n)], [f"{p}=1" for p in names]
        cols, labels = [np.zeros(n)], ["none"]
        for i, level in itertools.product(range(n), range(1, K + 1)):
            cols.append(np.eye(n)[i] * level / K)
            labels.append(f"{names[i]}={level}/{K}")
        return cols, labels
    count = math.comb(K + n - 1, n - 1) if model.axis == "products" else (K + 1) ** n
    if count > MAX_ALL_PATTERNS:
        raise ValueError(
            f"family='all' with levels={K} over {n} products has {count} patterns per "
            f"customer, above MAX_ALL_PATTERNS={MAX_ALL_PATTERNS}; use family='single' "
            "or fewer levels"
        )
    grid = (
        itertools.product(range(K + 1), repeat=n)
        if model.axis == "customers"
        else _compositions(K, n)
    )
    cols, labels = [], []
    for g in grid:
        cols.append(np.array(g, dtype=float) / K)
        labels.append("(" + ",".join(f"{v}/{K}" for v in g) + ")")
    return cols, labels


def _compositions(total: int, parts: int) -> Iterator[tuple[int, ...]]:
    """Every tuple of *parts* whole numbers >= 0 summing to *total*, in lexicographic order."""
    if parts == 1:
        yield (total,)
        return
    for first in range(total + 1):
        for rest in _compositions(total - first, parts - 1):
            yield (first, *rest)


def make_patterns(
    model: RecommendationModel,
    family: str = "single",
    levels: int = 2,
    *,
    anchors: Mapping[str, np.ndarray] | None = None,
) -> PatternSet:
    """The patterns of *family* with K = *levels*, plus *anchors* (default: uniform).

    Raises ValueError for an unknown family, ``levels < 1``, too many "all" patterns, an
    anchor that is not a valid recommendation, or a set that cannot satisfy the
    normalisation (see the module docstring).
    """
    if family not in FAMILIES:
        raise ValueError(f"family(={family!r}) must be one of {', '.join(FAMILIES)}")
    K = _positive_int("levels", levels)
    n, m = model.shape
    cols, labels = _family_columns(model, family, K)
    mats = [np.repeat(c[:, None], m, axis=1) for c in cols]
    anchors = {"uniform": model.uniform()} if anchors is None else dict(anchors)
    for name, a in anchors.items():
        a = model.check(a)
        if any(np.array_equal(a, b) for b in mats):
            continue  # already a family pattern (e.g. uniform in a fine "all" grid)
        mats.append(a)
        labels.append(name)
    if model.axis == "customers" and not anchors and family == "single" and m < n:
        raise ValueError(
            f"family='single' cannot satisfy sum_j alpha[i, j] = 1 for every product "
            f"(axis='customers'): one product per customer needs at least N={n} "
            f"customers, the model has M={m}; add an anchor (e.g. the uniform "
            "recommendation) or use family='all'"
        )
    return PatternSet(family, K, model.axis, np.stack(mats), tuple(labels))


def expected_purchases(model: RecommendationModel, patterns: PatternSet) -> np.ndarray:
    """``c[j] gamma_k[i, j]``: expected purchases under each pattern, (P, N, M)."""
    return np.stack([model.probabilities(a) * model.capacity[None, :] for a in patterns.matrices])


def realised_purchases(
    model: RecommendationModel,
    patterns: PatternSet,
    uniforms: np.ndarray,
    shifts: np.ndarray | None = None,
) -> np.ndarray:
    """Purchases ``d_k[i, j, t]`` under each pattern on given (T, N, M) uniforms, (T, P, N, M).

    The engine's own computation (``model.probabilities`` then the binomial inverse CDF),
    elementwise, so the market would draw the same numbers for the chosen patterns.
    """
    u = np.asarray(uniforms, dtype=float)
    cap = model.capacity[None, None, :]
    if shifts is not None and np.any(shifts):  # popularity trends: each period's own model
        models = [model.shifted(z) for z in np.asarray(shifts, dtype=float)]
        return np.stack(
            [
                np.stack(
                    [
                        binomial_inverse_cdf(u[t], model.capacity[None, :], m.probabilities(a))
                        for t, m in enumerate(models)
                    ]
                )
                for a in patterns.matrices
            ],
            axis=1,
        )
    out = [binomial_inverse_cdf(u, cap, model.probabilities(a)[None]) for a in patterns.matrices]
    return np.stack(out, axis=1)


def market_uniforms(
    model: RecommendationModel, periods: int, seed: SeedLike = 0, replication: int | None = None
) -> np.ndarray:
    """The (T, N, M) uniforms the market draws for *seed* (or replication k of it).

    Same stream and order as :class:`RecommendationMarket`: ``stream(root, "market")``,
    one ``1 - rng.random((N, M))`` block per period.
    """
    root = root_sequence(seed) if replication is None else replication_seed(seed, replication)
    rng = stream(root, "market")
    return np.stack([1.0 - rng.random(model.shape) for _ in range(int(periods))])


# -- the products -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Products:
    """Per-product data of a recommendation network, in the model's product order."""

    names: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    price: np.ndarray
    unit_cost: np.ndarray  # order_cost + the edge's unit_cost
    holding: np.ndarray
    penalty: np.ndarray
    lost: np.ndarray  # bool: lost sales (else backlog)
    transit: np.ndarray  # transit holding cost per unit and period
    capacity: np.ndarray  # most units ordered per period (inf: none)
    lead: np.ndarray  # rounded mean lead time
    initial_on_hand: np.ndarray  # initial_on_hand + initial_pipeline[0]
    initial_pipeline: tuple[tuple[float, ...], ...]
    continuous: bool
    review_period: np.ndarray  # the product orders in periods t with
    review_offset: np.ndarray  # (t - offset) % period == 0 (a selling season: period > 1)

    @classmethod
    def of(cls, network: Network, model: RecommendationModel) -> Products:
        """Read and check the network (see the module docstring for what is supported)."""
        if network.order_timing != "order-before-demand":
            raise ValueError("the recommendation MIP needs order_timing='order-before-demand'")
        stock = {n.name for n in network.stock_nodes}
        if stock != set(model.products):
            raise ValueError(
                f"the network's stocking nodes {sorted(stock)} must be the model's "
                f"products {list(model.products)}"
            )
        rows: dict[str, list] = {
            k: []
            for k in (
                "edges",
                "price",
                "unit_cost",
                "holding",
                "penalty",
                "lost",
                "transit",
                "capacity",
                "lead",
                "initial_on_hand",
                "initial_pipeline",
                "review_period",
                "review_offset",
            )
        }
        for name in model.products:
            nd = network.node(name)
            ins = network.suppliers(name)
            who = f"product {name!r}"
            if len(ins) != 1 or network.node(ins[0].source).kind != "supply":
                raise ValueError(f"{who}: needs exactly one supplier, a supply node")
            e, src = ins[0], network.node(ins[0].source)
            if math.isfinite(src.capacity) or e.bom != 1:
                raise ValueError(f"{who}: its supplier must be unlimited and bom 1")
            if nd.fixed_order_cost > 0 or math.isfinite(nd.storage_capacity):
                raise ValueError(f"{who}: needs no fixed order cost and no storage capacity")
            pipe = nd.initial_pipeline
            for k, v in (
                ("edges", e.key),
                ("price", nd.price),
                ("unit_cost", nd.order_cost + e.unit_cost),
                ("holding", nd.holding_cost),
                ("penalty", nd.shortage_cost),
                ("lost", nd.shortage == "lost"),
                ("transit", e.transit_holding_cost),
                ("capacity", nd.capacity),
                ("lead", round(e.lead_time.mean)),
                ("initial_on_hand", nd.initial_on_hand + (pipe[0] if pipe else 0.0)),
                ("initial_pipeline", tuple(pipe)),
                ("review_period", nd.review_period),
                ("review_offset", nd.review_offset),
            ):
                rows[k].append(v)
        arrays = {k: np.array(v) for k, v in rows.items() if k not in ("edges", "initial_pipeline")}
        return cls(
            names=model.products,
            edges=tuple(rows["edges"]),
            initial_pipeline=tuple(rows["initial_pipeline"]),
            continuous=bool(network.continuous),
            **arrays,
        )

    def order_allowed(self, periods: int, start: int = 0) -> np.ndarray:
        """(N, T) bool: whether each product may order in periods start .. start + T - 1."""
        t = np.arange(start, start + int(periods))[None, :]
        return (t - self.review_offset[:, None]) % self.review_period[:, None] == 0

    def initial_arrivals(self, periods: int) -> np.ndarray:
        """Initial-pipeline units reaching stock at the start of periods 0..T-1 (0 at t=0)."""
        out = np.zeros((len(self.names), periods))
        for i, pipe in enumerate(self.initial_pipeline):
            for k, q in enumerate(pipe[1:periods], start=1):
                out[i, k] = q
        return out


# -- the model ----------------------------------------------------------------------------------
#: Bytes of the model per pattern choice (customer x pattern x period: its binary and its terms)
#: and per purchase coefficient (x product); tracemalloc peaks of the build and of the
#: realised purchases on recommendation-small and -medium were 580-850 per choice in all.
BYTES_PER_CHOICE, BYTES_PER_COEFFICIENT = 768, 64


def check_model_size(
    periods: int, patterns: int, products: int, customers: int, memory_limit: float | None = None
) -> int:
    """Refuse a recommendation MIP over the memory limit before its arrays are built."""
    need = periods * patterns * customers * (BYTES_PER_CHOICE + BYTES_PER_COEFFICIENT * products)
    return check_memory(
        need,
        f"the recommendation MIP ({periods} periods x {patterns} patterns "
        f"x {customers} customers x {products} products)",
        f"lower the periods(={periods}), the number of patterns (family='single'"
        f", fewer levels) or of customers",
        memory_limit,
    )


def build_recommendation_model(
    products: Products,
    patterns: PatternSet,
    purchases: np.ndarray,
    leads: np.ndarray,
    *,
    integer: bool,
    binary_periods: int | None = None,
    safety: bool = False,
    order_allowed: np.ndarray | None = None,
    name: str = "recommendation-mip",
) -> pyo.ConcreteModel:
    """Patterns and orders over ``H`` periods, maximising profit [y, x, inv, B, sales].

    Parameters
    ----------
    purchases : (H, P, N, M) array
        Units of product i customer j buys in period t under pattern k (expected or
        realised; a (P, N, M) array applies to every period).
    leads : (N, H) int array
        Lead time of an order placed in each period (arrival at ``t + L``).
    integer : bool
        Whole-unit orders (the engine rounds them unless the network is continuous).
    binary_periods : int, optional
        Pattern choices are binary in the first *binary_periods* periods and in [0, 1]
        after them (1: the MPC's ``relax_future``; 0: the LP relaxation); None: all binary.
    safety : bool
        Add ``net stock at the end of period L_i >= ss[i]`` (mutable ``ss``).
    order_allowed : (N, H) bool array, optional
        Periods in which each product may order (a product reviewing every k periods, a
        selling season's one buy); None: every period.

    Mutable Params ``I0`` (on hand), ``B0`` (backlog), ``arr[i, t]`` (units already on the
    way arriving at the start of t) and ``ss`` hold the state; the rest is fixed.
    """
    leads = np.asarray(leads, dtype=int)
    N, H = leads.shape
    P, _, M = patterns.matrices.shape
    coef = np.broadcast_to(purchases, (H, P, N, M)) if np.ndim(purchases) == 3 else purchases
    if coef.shape != (H, P, N, M):
        raise ValueError(f"purchases must be (H, P, N, M) = {(H, P, N, M)}, got {coef.shape}")
    check_model_size(H, P, N, M)
    if leads.min(initial=0) < 0:
        raise ValueError("lead times must be >= 0")
    pr = products
    m = pyo.ConcreteModel(name=name)
    m.T = pyo.RangeSet(0, H - 1)
    m.N = pyo.RangeSet(0, N - 1)
    m.J = pyo.RangeSet(0, M - 1)
    m.K = pyo.RangeSet(0, P - 1)
    m.NB = pyo.Set(initialize=[i for i in range(N) if not pr.lost[i]])
    m.NL = pyo.Set(initialize=[i for i in range(N) if pr.lost[i]])
    mut = {"mutable": True, "initialize": 0.0, "within": pyo.Reals}
    m.I0 = pyo.Param(m.N, **mut)
    m.B0 = pyo.Param(m.NB, **mut)
    m.arr = pyo.Param(m.N, m.T, **mut)
    m.ss = pyo.Param(m.N, **mut)

    m.y = pyo.Var(m.J, m.K, m.T, domain=pyo.Binary)
    if binary_periods is not None:
        for j, k, t in m.y:
            if t >= binary_periods:
                m.y[j, k, t].domain = pyo.UnitInterval

    def order_bounds(m: pyo.ConcreteModel, i: int, t: int) -> tuple[float, float | None]:
        if order_allowed is not None and not order_allowed[i, t]:
            return (0, 0)
        return (0, pr.capacity[i] if math.isfinite(pr.capacity[i]) else None)

    m.x = pyo.Var(
        m.N,
        m.T,
        domain=pyo.NonNegativeIntegers if integer else pyo.NonNegativeReals,
        bounds=order_bounds,
    )
    m.inv = pyo.Var(m.N, m.T, domain=pyo.NonNegativeReals)
    m.B = pyo.Var(m.NB, m.T, domain=pyo.NonNegativeReals)
    m.sold = pyo.Var(m.NL, m.T, domain=pyo.NonNegativeReals)

    @m.Constraint(m.J, m.T)
    def one_pattern(m, j, t):
        return sum(m.y[j, k, t] for k in m.K) == 1

    mats = patterns.matrices

    @m.Constraint(m.N, m.T)
    def exposure(m, i, t):
        """axis='customers': each product's intensities sum to 1 over customers (with
        axis='products' every pattern column already sums to 1)."""
        if patterns.axis != "customers":
            return pyo.Constraint.Skip
        return (
            sum(float(mats[k, i, j]) * m.y[j, k, t] for j in m.J for k in m.K if mats[k, i, j] != 0)
            == 1
        )

    @m.Expression(m.N, m.T)
    def D(m, i, t):
        c = coef[t, :, i, :]
        return sum(float(c[k, j]) * m.y[j, k, t] for k, j in zip(*np.nonzero(c)))

    placed = [
        [[s for s in range(t + 1) if s + leads[i, s] == t] for t in range(H)] for i in range(N)
    ]
    moving = [
        [[s for s in range(t + 1) if s + leads[i, s] > t] for t in range(H)] for i in range(N)
    ]

    @m.Expression(m.N, m.T)
    def got(m, i, t):
        """Units reaching stock in t: earlier shipments and the model's own orders."""
        return m.arr[i, t] + sum(m.x[i, s] for s in placed[i][t])

    def prev_inv(m, i, t):
        return m.I0[i] if t == 0 else m.inv[i, t - 1]

    def prev_B(m, i, t):
        return m.B0[i] if t == 0 else m.B[i, t - 1]

    @m.Constraint(m.NL, m.T)
    def lost_stock(m, i, t):
        return m.inv[i, t] == prev_inv(m, i, t) + m.got[i, t] - m.sold[i, t]

    @m.Constraint(m.NL, m.T)
    def lost_demand(m, i, t):
        return m.sold[i, t] <= m.D[i, t]

    @m.Constraint(m.NB, m.T)
    def backlog_stock(m, i, t):
        return (
            m.inv[i, t] - m.B[i, t] == prev_inv(m, i, t) - prev_B(m, i, t) + m.got[i, t] - m.D[i, t]
        )

    @m.Expression(m.N, m.T)
    def sales(m, i, t):
        if i in m.NL:
            return m.sold[i, t]
        return m.D[i, t] + prev_B(m, i, t) - m.B[i, t]

    @m.Constraint(m.N)
    def safety_stock(m, i):
        L = int(leads[i, 0])
        if not safety or L >= H:
            return pyo.Constraint.Skip
        return m.inv[i, L] - (m.B[i, L] if i in m.NB else 0.0) >= m.ss[i]

    @m.Expression(m.N, m.T)
    def profit(m, i, t):
        short = m.D[i, t] - m.sold[i, t] if i in m.NL else m.B[i, t]
        total = (
            float(pr.price[i]) * m.sales[i, t]
            - float(pr.unit_cost[i]) * m.x[i, t]
            - float(pr.holding[i]) * m.inv[i, t]
            - float(pr.penalty[i]) * short
        )
        if pr.transit[i]:
            total -= float(pr.transit[i]) * sum(m.x[i, s] for s in moving[i][t])
        return total

    m.total = pyo.Objective(expr=sum(m.profit[i, t] for i in m.N for t in m.T), sense=pyo.maximize)
    m._patterns = patterns
    m._products = products
    return m


def load_state(
    m: pyo.ConcreteModel,
    on_hand: Sequence[float] | np.ndarray,
    backlog: Sequence[float] | np.ndarray,
    arrivals: np.ndarray,
    safety_stock: Sequence[float] | np.ndarray | None = None,
) -> None:
    """Set the state Params: on hand and backlog now, arrivals (N, H) by model period."""
    N, H = len(m.N), len(m.T)
    _check_backlog(m, backlog)
    for i in range(N):
        m.I0[i] = float(on_hand[i])
        if i in m.NB:
            m.B0[i] = float(backlog[i])
        for t in range(H):
            m.arr[i, t] = float(arrivals[i, t])
        m.ss[i] = 0.0 if safety_stock is None else float(safety_stock[i])


def _check_backlog(m: pyo.ConcreteModel, backlog: Sequence[float] | np.ndarray) -> None:
    for i in m.NL:
        if backlog[i] > 1e-9:
            raise ValueError(f"product {i} is lost-sales but has a backlog")


class _StateSlots:
    """Where the state Params of a recommendation model sit in a :class:`DirectHighs`'s
    value vector, and which columns hold the first period's orders and pattern choices:
    a re-solve is then a few numpy writes and one bulk push (no Pyomo in the loop)."""

    def __init__(self, m: pyo.ConcreteModel, highs: DirectHighs) -> None:
        pos, col = highs.position, highs.column
        N, H, M, P = len(m.N), len(m.T), len(m.J), len(m.K)
        self.m, self.highs = m, highs
        self.on_hand = np.array([pos(m.I0[i]) for i in range(N)], dtype=np.int64)
        self.nb = np.array(list(m.NB), dtype=np.int64)
        self.backlog = np.array([pos(m.B0[i]) for i in self.nb], dtype=np.int64)
        self.arrivals = np.array(
            [[pos(m.arr[i, t]) for t in range(H)] for i in range(N)], dtype=np.int64
        )
        self.safety = np.array([pos(m.ss[i]) for i in range(N)], dtype=np.int64)
        self.x0 = np.array([col(m.x[i, 0]) for i in range(N)], dtype=np.int64)
        self.y0 = np.array([[col(m.y[j, k, 0]) for k in range(P)] for j in range(M)], np.int64)

    def solve(
        self,
        on_hand: Sequence[float],
        backlog: Sequence[float],
        arrivals: np.ndarray,
        safety_stock: np.ndarray,
    ) -> SolveReport:
        """Write the state (as :func:`load_state` takes it) and re-solve."""
        _check_backlog(self.m, backlog)
        v = self.highs.values
        v[self.on_hand] = np.asarray(on_hand, dtype=float)
        v[self.backlog] = np.asarray(backlog, dtype=float)[self.nb]
        v[self.arrivals] = arrivals
        v[self.safety] = safety_stock
        return self.highs.solve()

    def first_period(self, integer: bool) -> tuple[np.ndarray, np.ndarray]:
        """Orders (N,) and pattern choices (M,) of period 0 of the last solve, as
        :func:`_solution` reads them from the Pyomo model."""
        values = np.asarray(self.highs.solution())
        x = np.maximum(0.0, values[self.x0])
        x = np.round(x) if integer else np.where(x < 1e-9, 0.0, x)
        return x, values[self.y0].argmax(axis=1)


def _solution(m: pyo.ConcreteModel, integer: bool) -> tuple[np.ndarray, np.ndarray]:
    """Orders (N, H) and pattern choices (H, M) of the loaded solution."""
    N, H, M, P = len(m.N), len(m.T), len(m.J), len(m.K)
    x = np.array([[max(0.0, pyo.value(m.x[i, t])) for t in range(H)] for i in range(N)])
    x = np.round(x) if integer else np.where(x < 1e-9, 0.0, x)
    y = np.array(
        [[[pyo.value(m.y[j, k, t]) for k in range(P)] for j in range(M)] for t in range(H)]
    )
    return x, y.argmax(axis=2)


# -- plans and the perfect-information bound ----------------------------------------------------
@dataclass(frozen=True)
class RecommendationPlan:
    """A solved plan: orders and pattern choices per period, with the solver's report.

    ``objective`` is the plan's profit in the model; ``bound`` the solver's best upper
    bound (``>= objective``; equal up to the gap when optimal).  With ``demand="realised"``
    (:func:`perfect_information_bound`) the bound holds for every policy whose
    recommendations lie in ``patterns`` on those draws; it is a bound, not a policy.
    """

    bound: float
    objective: float
    per_period_bound: float
    period_profits: tuple[float, ...]
    orders: dict[str, tuple[float, ...]]
    choices: np.ndarray  # (T, M) pattern index per period and customer
    recommendations: np.ndarray  # (T, N, M) intensities the engine receives
    patterns: PatternSet = field(repr=False)
    demand: str  # "expected" or "realised"
    termination: str
    status: str
    time: float  # solve seconds
    build_time: float
    gap: float | None
    periods: int
    integer_orders: bool
    relaxed: bool = False  # LP relaxation: a bound only, the plan is not runnable
    seed: Any = None
    replication: int | None = None
    size: dict[str, int] = field(default_factory=dict)

    def policy(self) -> RecommendationPlanPolicy:
        """The plan as an open-loop engine policy (not for an LP relaxation's plan)."""
        if self.relaxed:
            raise ValueError(
                "the LP relaxation's plan mixes patterns fractionally; it is a "
                "bound, not a plan the engine can run"
            )
        if not self.orders:
            raise ValueError(
                f"the solve stopped ({self.termination}) before finding a plan; "
                "only its bound is known"
            )
        return RecommendationPlanPolicy(self.orders, self.recommendations)

    def to_dict(self) -> dict[str, Any]:
        out = {
            k: v
            for k, v in self.__dict__.items()
            if k not in ("patterns", "choices", "recommendations", "orders")
        }
        out["period_profits"] = list(self.period_profits)
        out["orders"] = {n: list(r) for n, r in self.orders.items()}
        out["patterns"] = [[self.patterns.labels[k] for k in row] for row in self.choices]
        return out


@dataclass(frozen=True)
class RecommendationPlanPolicy:
    """Replays a plan: ``orders[n][t]`` and the (N, M) ``recommendations[t]`` in period t."""

    orders: Mapping[str, Sequence[float]]
    recommendations: np.ndarray

    def act(self, obs: Any) -> Action:
        t = obs.t
        orders = {
            n: float(self.orders[n][t])
            for n in obs.deciding
            if n in self.orders and t < len(self.orders[n])
        }
        rec = self.recommendations[min(t, len(self.recommendations) - 1)]
        return Action(orders=orders, extra={KEY: rec})


def _positive_int(name: str, value: Any) -> int:
    """*value* as an int >= 1, or ValueError naming the parameter."""
    try:
        ok = not isinstance(value, bool) and float(value).is_integer() and value >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name}(={value!r}) must be an integer >= 1")
    return int(value)


def model_of(market: object) -> RecommendationModel:
    """The customer model of a recommendation market (or the model itself); TypeError for
    anything else."""
    model = getattr(market, "model", market)
    if not isinstance(model, RecommendationModel):
        raise TypeError(
            f"need a RecommendationMarket or RecommendationModel, got {type(market).__name__}"
        )
    return model


def solve_plan(
    network: Network,
    market: RecommendationMarket | RecommendationModel,
    periods: int,
    *,
    uniforms: np.ndarray | None = None,
    lead_times: np.ndarray | None = None,
    shifts: np.ndarray | None = None,
    patterns: PatternSet | None = None,
    family: str = "single",
    levels: int = 2,
    integer: bool | None = None,
    relax: bool = False,
    time_limit: float = 60.0,
    rel_gap: float = 1e-6,
    threads: int = 1,
    solver_seed: int = 0,
    require_incumbent: bool = True,
) -> RecommendationPlan:
    """The best plan over *periods* from the network's initial state.

    Demand is expected (``uniforms=None``) or realised on (T, N, M) *uniforms*;
    *lead_times* (N, T) default to the rounded means; *shifts* (T, N) are the popularity
    trends in force with realised demand (:meth:`RecommendationMarket.trend_path`); products
    order only in the periods they review (a selling season: its first period);
    *integer* to the engine's rounding
    (``not network.continuous``).  ``relax=True`` solves the LP relaxation (fractional
    pattern choices and orders): a weaker bound, much faster beyond small instances,
    whose plan cannot be run.  Raises :class:`~optimization.solve.SolverError` naming
    the termination when the solver gives no solution (with ``require_incumbent=False``,
    a solve stopped by a limit before any plan returns its bound, with no plan).
    """
    T = _positive_int("periods", periods)
    model = model_of(market)
    pr = Products.of(network, model)
    pats = patterns if patterns is not None else make_patterns(model, family, levels)
    integer = False if relax else (not pr.continuous) if integer is None else bool(integer)
    check_model_size(T, len(pats), len(pr.names), model.shape[1])
    leads = (
        np.repeat(pr.lead[:, None], T, axis=1)
        if lead_times is None
        else np.asarray(lead_times, dtype=int)
    )
    if uniforms is None:
        coef, kind = expected_purchases(model, pats), "expected"
    else:
        u = np.asarray(uniforms, dtype=float)
        if u.shape != (T, *model.shape):
            raise ValueError(
                f"uniforms must be (periods, N, M) = {(T, *model.shape)}, got {u.shape}"
            )
        coef, kind = realised_purchases(model, pats, u, shifts), "realised"
    tick = time.perf_counter()
    m = build_recommendation_model(
        pr,
        pats,
        coef,
        leads,
        integer=integer,
        binary_periods=0 if relax else None,
        order_allowed=pr.order_allowed(T),
        name=f"recommendation-{kind}[{network.name}]",
    )
    load_state(m, pr.initial_on_hand, np.zeros(len(pr.names)), pr.initial_arrivals(T))
    built = time.perf_counter() - tick
    rep = solve(
        m,
        time_limit=time_limit,
        rel_gap=rel_gap,
        threads=threads,
        seed=solver_seed,
        require_incumbent=require_incumbent,
    )
    return _plan(m, rep, pats, pr, kind, integer, built, relax)


def _plan(
    m: pyo.ConcreteModel,
    rep: SolveReport,
    pats: PatternSet,
    pr: Products,
    kind: str,
    integer: bool,
    built: float,
    relaxed: bool,
) -> RecommendationPlan:
    T = len(m.T)
    if not rep.has_incumbent:  # stopped by a limit before any plan: the bound alone
        assert rep.bound is not None  # solve() keeps such a run only for a finite bound
        n, c = pats.matrices.shape[1], pats.matrices.shape[2]
        return RecommendationPlan(
            bound=float(rep.bound),
            objective=rep.objective,
            per_period_bound=float(rep.bound) / T,
            period_profits=(),
            orders={},
            choices=np.zeros((0, c), dtype=int),
            recommendations=np.zeros((0, n, c)),
            patterns=pats,
            demand=kind,
            termination=rep.termination,
            status=rep.status,
            time=rep.time,
            build_time=built,
            gap=None,
            periods=T,
            integer_orders=integer,
            relaxed=relaxed,
            size=model_size(m),
        )
    x, choices = _solution(m, integer)
    bound = max(rep.bound if rep.bound is not None else math.inf, rep.objective)
    profits = tuple(float(sum(pyo.value(m.profit[i, t]) for i in m.N)) for t in m.T)
    return RecommendationPlan(
        bound=bound,
        objective=rep.objective,
        per_period_bound=bound / T,
        period_profits=profits,
        orders={n: tuple(float(v) for v in x[i]) for i, n in enumerate(pr.names)},
        choices=choices,
        recommendations=np.stack([pats.recommendation(c) for c in choices]),
        patterns=pats,
        demand=kind,
        termination=rep.termination,
        status=rep.status,
        time=rep.time,
        build_time=built,
        gap=rep.gap,
        periods=T,
        integer_orders=integer,
        relaxed=relaxed,
        size=model_size(m),
    )


def perfect_information_bound(
    network: Network | Problem,
    market: Any = None,
    periods: int = 52,
    seed: SeedLike = 0,
    replication: int | None = None,
    *,
    patterns: PatternSet | None = None,
    family: str = "single",
    levels: int = 2,
    integer: bool | None = None,
    relax: bool = False,
    time_limit: float = 60.0,
    rel_gap: float = 1e-6,
    threads: int = 1,
    solver_seed: int = 0,
) -> RecommendationPlan:
    """An upper bound on the profit of any pattern-set policy on the engine's draws.

    *network* is a Network with its *market* (or model), or a Problem with its own
    market.  The model is given the uniforms the market draws for *seed* (replication
    k: ``Simulation(network, periods, replication_seed(seed, k), market)``, as in
    ``simulate``), the engine's lead times and the market's popularity trends (if any),
    so it knows every customer's purchases
    under every pattern in advance.  Its optimum is at least the profit of every policy,
    anticipative or not, whose recommendations lie in the pattern set (include the
    uniform anchor, the default, to cover base stock + uniform); it says nothing about
    recommendations outside the set.  It is a bound, not a policy: ``.policy()`` replays
    the foresighted plan on these draws only.  ``bound`` is the solver's best bound
    (valid under a time limit, though HiGHS may overrun the limit, and kept when the limit
    came before any plan: then ``objective`` is NaN and there is no plan); ``objective``
    the incumbent plan's profit.  ``relax=True``: the LP relaxation, a weaker bound that
    stays fast on the medium and large scenarios (see :func:`solve_plan`).
    """
    if isinstance(network, Problem):
        if market is not None:
            raise ValueError(f"problem {network.name!r} has its own market; do not pass another")
        net, market = network.network, network.new_market()
    else:
        net = network
    if market is None:
        raise ValueError("market is required with a Network (RecommendationMarket or model)")
    model = model_of(market)
    T = _positive_int("periods", periods)
    pr = Products.of(net, model)
    u = market_uniforms(model, T, seed, replication)
    _, draws = engine_draws(net, T, seed, replication)
    for e in pr.edges:
        edge = next(x for x in net.edges if x.key == e)
        if edge.sequential and len(set(draws[e].tolist())) > 1:
            raise ValueError(
                f"edge {e[0]!r}->{e[1]!r}: sequential (no-crossing) stochastic lead "
                "times are not supported by the recommendation MIP"
            )
    leads = np.stack([draws[e] for e in pr.edges])
    shifts = None
    if isinstance(market, RecommendationMarket) and market.trend_sd > 0:  # the run's trends
        root = root_sequence(seed) if replication is None else replication_seed(seed, replication)
        shifts = market.trend_path(stream(root, "market"), T)
    plan = solve_plan(
        net,
        model,
        T,
        uniforms=u,
        lead_times=leads,
        shifts=shifts,
        patterns=patterns,
        family=family,
        levels=levels,
        integer=integer,
        relax=relax,
        time_limit=time_limit,
        rel_gap=rel_gap,
        threads=threads,
        solver_seed=solver_seed,
        require_incumbent=False,
    )
    return replace(plan, seed=seed, replication=replication)


# -- rolling horizon ----------------------------------------------------------------------------
def _auto_safety_stock(model: RecommendationModel, pr: Products) -> np.ndarray:
    """Normal-approximation newsvendor safety stock over L+1 periods under uniform intensities.

    ``z * sqrt((L+1) var)``, ``var = sum_j c_j g (1 - g)``; critical ratio
    ``(price - unit_cost + penalty) / (... + holding)`` (lost sales) or
    ``penalty / (penalty + holding)`` (backlog).  A heuristic.
    """
    g = model.probabilities(model.uniform())
    var = (g * (1 - g) * model.capacity[None, :]).sum(axis=1)
    under = np.where(pr.lost, pr.price - pr.unit_cost + pr.penalty, pr.penalty)
    ratio = np.clip(under / np.maximum(under + pr.holding, 1e-12), 0.5, 0.999)
    return np.maximum(0.0, stats.norm.ppf(ratio) * np.sqrt((pr.lead + 1) * var))


class MIPRecommendationPolicy:
    """Model-predictive control: each period, solve the expected-demand MIP over ``horizon``
    periods from the observed state and apply its first period (orders and patterns).

    The state is read from the Observation: on hand, backlog and ``obs.pipeline(n, H-1)``
    (units already on their way, by arrival period, exact even with stochastic lead
    times); new orders are planned with rounded mean lead times.  Demand is the expected
    purchases of the chosen patterns (fluid, certainty equivalent).  Orders are continuous
    unless ``integer`` (the engine rounds them to whole units).  ``safety_stock`` (units,
    per-product sequence, or ``"auto"``: :func:`_auto_safety_stock`) requires planned net
    stock at the end of period ``L_i`` of at least that much.  The model is built once and
    re-solved on one persistent HiGHS instance with only the state changing: with
    ``resolve="direct"`` (the default) the state goes straight into HiGHS in bulk
    (:class:`~optimization.solve.DirectHighs`; the model's Pyomo Params are then left as
    built), with ``resolve="pyomo"`` through the Params and Pyomo's persistent interface
    (slower; the plans are the same, which the tests check epoch by epoch).  Both routes
    solve with :data:`MPC_HIGHS_OPTIONS`.  A state already solved (the same on hand,
    backlog and pipeline, which happens often with whole units) is answered with that
    solve's plan and report, without solving again: the model would be the same numbers,
    and HiGHS (one thread, fixed seed) returns the same plan for the same model.

    ``epoch_times`` (seconds per period), ``terminations`` and ``memo_hits`` (epochs
    answered from a solved state) are kept for reporting, and with ``resolve="direct"``
    ``solver_times`` (seconds of HiGHS's own run per solve).
    """

    def __init__(
        self,
        network: Network,
        market: RecommendationMarket | RecommendationModel,
        horizon: int = 3,
        *,
        patterns: PatternSet | None = None,
        family: str = "single",
        levels: int = 2,
        safety_stock: float | Sequence[float] | str = 0.0,
        integer: bool = False,
        relax_future: bool = False,
        time_limit: float = 10.0,
        rel_gap: float = 1e-3,
        threads: int = 1,
        seed: int = 0,
        resolve: str = "direct",
    ) -> None:
        if resolve not in ("direct", "pyomo"):
            raise ValueError(f"resolve(={resolve!r}) must be 'direct' or 'pyomo'")
        self.resolve = resolve
        self.horizon = H = _positive_int("horizon", horizon)
        self.model = model_of(market)
        self.products = Products.of(network, self.model)
        if np.any(self.products.review_period != 1):
            i = int(np.flatnonzero(self.products.review_period != 1)[0])
            raise ValueError(
                f"MIPRecommendationPolicy: product {self.products.names[i]!r} reviews every "
                f"{int(self.products.review_period[i])} periods; the MPC needs review_period 1 "
                "(a selling season: use optimization.recommendation_season)"
            )
        if H <= int(self.products.lead.max()):
            warnings.warn(
                f"MIPRecommendationPolicy: horizon={H} does not exceed the longest lead "
                f"time ({int(self.products.lead.max())}); orders cannot pay off inside "
                "the window",
                stacklevel=2,
            )
        self.patterns = (
            patterns if patterns is not None else make_patterns(self.model, family, levels)
        )
        if isinstance(safety_stock, str):
            if safety_stock != "auto":
                raise ValueError(
                    f"safety_stock(={safety_stock!r}) must be a number, a sequence or 'auto'"
                )
            self.safety_stock = _auto_safety_stock(self.model, self.products)
        else:
            ss = np.broadcast_to(np.asarray(safety_stock, dtype=float), (len(self.products.names),))
            if np.any(ss < 0) or not np.all(np.isfinite(ss)):
                raise ValueError(f"safety_stock(={safety_stock!r}) must be finite and >= 0")
            self.safety_stock = ss.copy()
        self.integer = bool(integer)
        self.solve_options: dict[str, Any] = {
            "time_limit": time_limit,
            "rel_gap": rel_gap,
            "threads": threads,
            "seed": seed,
            "options": dict(MPC_HIGHS_OPTIONS),
        }
        tick = time.perf_counter()
        leads = np.repeat(self.products.lead[:, None], H, axis=1)
        self.m = build_recommendation_model(
            self.products,
            self.patterns,
            expected_purchases(self.model, self.patterns),
            leads,
            integer=self.integer,
            binary_periods=1 if relax_future else None,
            safety=True,
            name=f"recommendation-mpc[{network.name}]",
        )
        self.build_time = time.perf_counter() - tick
        self._direct = (
            _StateSlots(self.m, DirectHighs(self.m, **self.solve_options))
            if resolve == "direct"
            else None
        )
        self.opt = new_solver(parameters_only=True) if resolve == "pyomo" else None
        self.epoch_times: list[float] = []
        self.solver_times: list[float] = []
        self.terminations: dict[str, int] = {}
        self.last_report: SolveReport | None = None
        self.memo_hits = 0
        self._memo: dict[bytes, tuple[SolveReport, np.ndarray, np.ndarray]] = {}

    def act(self, obs: Any) -> Action:
        tick = time.perf_counter()
        names, H = self.products.names, self.horizon
        arrivals = np.zeros((len(names), H))
        if H > 1:
            arrivals[:, 1:] = [obs.pipeline(n, H - 1) for n in names]
        on_hand = [obs.on_hand(n) for n in names]
        backlog = [obs.backlog(n) for n in names]
        key = np.concatenate([on_hand, backlog, arrivals.ravel()]).tobytes()
        if key in self._memo:
            rep, x0, choice0 = self._memo[key]
            self.memo_hits += 1
        else:
            rep, x0, choice0 = self._solve(on_hand, backlog, arrivals)
            if len(self._memo) < MPC_MEMO_SIZE:
                self._memo[key] = (rep, x0, choice0)
        self.last_report = rep
        self.terminations[rep.termination] = self.terminations.get(rep.termination, 0) + 1
        alpha = self.model.check(self.patterns.recommendation(choice0))
        orders = {n: float(x0[i]) for i, n in enumerate(names) if n in obs.deciding}
        self.epoch_times.append(time.perf_counter() - tick)
        return Action(orders=orders, extra={KEY: alpha})

    def _solve(
        self, on_hand: list[float], backlog: list[float], arrivals: np.ndarray
    ) -> tuple[SolveReport, np.ndarray, np.ndarray]:
        """Solve from this state: the report, period 0's orders (N,) and patterns (M,)."""
        if self._direct is None:
            load_state(self.m, on_hand, backlog, arrivals, self.safety_stock)
            rep = solve(self.m, opt=self.opt, **self.solve_options)
            x, choices = _solution(self.m, self.integer)
            return rep, x[:, 0], choices[0]
        rep = self._direct.solve(on_hand, backlog, arrivals, self.safety_stock)
        self.solver_times.append(self._direct.highs.run_time)
        return (rep, *self._direct.first_period(self.integer))

    def timing(self) -> dict[str, float]:
        """Epochs so far, mean, median and max seconds per epoch, and the build time."""
        x = np.asarray(self.epoch_times) if self.epoch_times else np.zeros(1)
        return {
            "epochs": len(self.epoch_times),
            "mean": float(x.mean()),
            "median": float(np.median(x)),
            "max": float(x.max()),
            "build": self.build_time,
        }


# -- heuristics and optimize() ------------------------------------------------------------------
