"""Continuous-review single-stage optima: (r, Q) with Poisson demand, (S-1, S) by Palm's theorem.

Unit demands arrive as a Poisson process of rate lambda; backorders cost ``p`` per unit
per unit time, stock on hand ``h`` per unit per unit time, an order ``K``.  Under (r, Q)
the inventory position is uniform on r+1, ..., r+Q, and the inventory level L time
units after a moment with position y is y - D, D ~ Poisson(lambda L), so the long-run
cost per unit time is (Snyder & Shen, *Fundamentals of Supply Chain Theory*, 2nd ed.,
Ch. 5; Hadley & Whitin 1963):

    g(r, Q) = [K lambda + sum_{y=r+1}^{r+Q} G(y)] / Q,
    G(y) = h E[(y - D)^+] + p E[(D - y)^+].

G is convex, so the exact optimum is found by Federgruen & Zheng's (1992) algorithm:
start from the minimiser of G (Q = 1) and add, one at a time, the cheaper neighbour of
the current window while it costs less than the current g; the window then is
{r*+1, ..., r*+Q*}.

Palm's theorem: under (S-1, S) (every demand triggers an order of one unit) with i.i.d.
lead times of mean E[L] (crossing allowed), the number of outstanding orders is Poisson
with mean lambda E[L], whatever the lead-time distribution; so the cost of level S is
G(S) with D ~ Poisson(lambda E[L]), and the best level is the newsvendor's, the
smallest S with P(D <= S) >= p / (p + h).

One warehouse and N retailers, (S-1, S) everywhere, first come first served at the
warehouse, constant lead times (Graves 1985; Axsaeter 1990): the warehouse's outstanding
orders are O0 ~ Poisson(lambda_0 L_0) (lambda_0 = sum of the retailers' rates), its
backorders B0 = (O0 - S0)^+, and retailer i's outstanding orders are exactly
Binomial(B0, lambda_i / lambda_0) + Poisson(lambda_i L_i) (each backordered unit belongs to
retailer i with probability lambda_i / lambda_0).  METRIC (Sherbrooke 1968) replaces this
by a Poisson of the same mean, lambda_i (L_i + E[B0] / lambda_0): :func:`owmr_evaluation`
returns both.

>>> best = optimal_rq(rate=5, lead_time=2, holding=1, penalty=9, fixed_cost=20)
>>> best.r, best.Q, round(best.cost, 4) == round(rq_cost(best.r, best.Q, rate=5, lead_time=2,
...     holding=1, penalty=9, fixed_cost=20), 4)
(9, 16, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ._pmf import poisson_pmf

if TYPE_CHECKING:
    from des_supply.problem import Problem

__all__ = [
    "BaseStockResult",
    "ContinuousReviewError",
    "OWMREvaluation",
    "OWMROptimum",
    "RQResult",
    "base_stock_cost",
    "continuous_review_optimum",
    "loss_terms",
    "optimal_base_stock",
    "optimal_owmr",
    "optimal_rq",
    "outstanding_orders_pmf",
    "owmr_evaluation",
    "owmr_optimum",
    "rq_cost",
]


class ContinuousReviewError(ValueError):
    """The problem is not one these exact methods cover (the message says why)."""


def _check(name: str, value: float, positive: bool = False) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name}(={value}) must be a finite number {'>' if positive else '>='} 0")
    return value


@dataclass(frozen=True, slots=True)
class _Loss:
    """G(y) = h E[(y-D)^+] + p E[(D-y)^+] for D with probabilities ``pmf`` on 0..n."""

    pmf: np.ndarray
    holding: float
    penalty: float

    def __call__(self, y: int) -> float:
        over, under = loss_terms(self.pmf, np.array([y]))
        return float(self.holding * over[0] + self.penalty * under[0])


def loss_terms(pmf: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E[(y - D)^+] and E[(D - y)^+] for integer levels *y* (any sign), D ~ *pmf* on 0..n."""
    n = len(pmf)
    support = np.arange(n)
    F = np.concatenate([[0.0], np.cumsum(pmf)])  # F[k] = P(D <= k - 1)
    M = np.concatenate([[0.0], np.cumsum(support * pmf)])  # M[k] = E[D; D <= k - 1]
    k = np.clip(y, 0, n)
    over = np.where(y > 0, y * F[k] - M[k], 0.0)
    mean = M[-1]
    return over, mean - y + over


@dataclass(frozen=True, slots=True)
class RQResult:
    """An (r, Q) policy and its exact cost per unit time [g(r, Q)]."""

    r: int
    Q: int
    cost: float

    def policy(self) -> Any:
        """Engine policy: :class:`des_supply.policies.RQ`."""
        from des_supply.policies import RQ

        return RQ(self.r, self.Q)


@dataclass(frozen=True, slots=True)
class BaseStockResult:
    """An (S-1, S) level and its exact cost per unit time [G(S)]."""

    level: int
    cost: float

    def policy(self) -> Any:
        """Engine policy: :class:`des_supply.policies.BaseStock`."""
        from des_supply.policies import BaseStock

        return BaseStock(self.level)


def _loss(rate: float, lead_time: float, holding: float, penalty: float) -> _Loss:
    rate, lead_time = _check("rate", rate, positive=True), _check("lead_time", lead_time)
    return _Loss(
        poisson_pmf(rate * lead_time), _check("holding", holding), _check("penalty", penalty)
    )


def rq_cost(
    r: int,
    Q: int,
    *,
    rate: float,
    lead_time: float,
    holding: float,
    penalty: float,
    fixed_cost: float = 0.0,
) -> float:
    """g(r, Q): the long-run cost per unit time of (r, Q) [$/time]."""
    if Q < 1 or int(Q) != Q or int(r) != r:
        raise ValueError(f"need integers r(={r}) and Q(={Q}) >= 1")
    G = _loss(rate, lead_time, holding, penalty)
    y = np.arange(int(r) + 1, int(r) + int(Q) + 1)
    over, under = loss_terms(G.pmf, y)
    total = float((G.holding * over + G.penalty * under).sum())
    return (_check("fixed_cost", fixed_cost) * rate + total) / Q


def optimal_rq(
    *, rate: float, lead_time: float, holding: float, penalty: float, fixed_cost: float = 0.0
) -> RQResult:
    """The exact optimal (r, Q) (Federgruen & Zheng 1992)."""
    G = _loss(rate, lead_time, holding, penalty)
    K = _check("fixed_cost", fixed_cost)
    if G.holding == 0 or G.penalty == 0:
        raise ValueError("holding and penalty must both be > 0 for a finite optimum")
    lo = hi = _argmin(G)
    total = G(lo)
    cost = K * rate + total
    Q = 1
    left, right = G(lo - 1), G(hi + 1)
    while min(left, right) < cost:
        if left <= right:
            lo, total, left = lo - 1, total + left, G(lo - 2)
        else:
            hi, total, right = hi + 1, total + right, G(hi + 2)
        Q += 1
        cost = (K * rate + total) / Q
    return RQResult(lo - 1, Q, cost)


def _argmin(G: _Loss) -> int:
    """The smallest minimiser of the convex G: the newsvendor level (critical ratio)."""
    ratio = G.penalty / (G.penalty + G.holding)
    cdf = np.cumsum(G.pmf)
    return int(np.searchsorted(cdf, ratio - 1e-12))


def base_stock_cost(
    level: int, *, rate: float, mean_lead_time: float, holding: float, penalty: float
) -> float:
    """Cost per unit time of (S-1, S) at level *level* (Palm: any i.i.d. lead times)."""
    return _loss(rate, mean_lead_time, holding, penalty)(int(level))


def optimal_base_stock(
    *, rate: float, mean_lead_time: float, holding: float, penalty: float
) -> BaseStockResult:
    """The best (S-1, S) level and its cost (Palm's theorem and the critical ratio)."""
    G = _loss(rate, mean_lead_time, holding, penalty)
    S = _argmin(G)
    return BaseStockResult(S, G(S))


def outstanding_orders_pmf(rate: float, mean_lead_time: float) -> np.ndarray:
    """P(k orders outstanding), k = 0..n, under (S-1, S): Poisson(rate E[L]) (Palm)."""
    return poisson_pmf(
        _check("rate", rate, positive=True) * _check("mean_lead_time", mean_lead_time)
    )


def _unit_poisson_rate(node: Any, who: str) -> float:
    """The rate of *node*'s unit Poisson demand (ContinuousReviewError for anything else)."""
    from des_supply.arrivals import CompoundPoisson, PoissonProcess

    d = node.demand
    if isinstance(d, PoissonProcess) or (isinstance(d, CompoundPoisson) and d.size.constant == 1):
        return float(d.rate)
    raise ContinuousReviewError(
        f"{who}: node {node.name!r} needs unit Poisson demand (poisson_process), got "
        f"{d and d.to_dict()}"
    )


def continuous_review_optimum(problem: Problem) -> RQResult | BaseStockResult:
    """The exact optimum of a continuous-time single-stage backlog problem with unit
    Poisson demand: (r, Q) for a deterministic lead time (and any fixed cost), else the
    best (S-1, S) when there is no fixed cost (Palm: any i.i.d. lead times).  Raises
    :class:`ContinuousReviewError` naming what does not fit."""
    net = problem.network
    who = f"problem {problem.name!r}"
    if net.time != "continuous":
        raise ContinuousReviewError(f"{who} is periodic (time={net.time!r})")
    if problem.kind.shape != "single-stage":
        raise ContinuousReviewError(f"{who} is {problem.kind.shape}, not single-stage")
    (node,) = net.stock_nodes
    (edge,) = net.suppliers(node.name)
    rate = _unit_poisson_rate(node, who)
    if node.shortage != "backlog":
        raise ContinuousReviewError(
            f"{who}: node {node.name!r} loses sales; these methods are for backorders"
        )
    if node.initial_pipeline or node.storage_capacity < math.inf or node.price > 0:
        raise ContinuousReviewError(
            f"{who}: node {node.name!r} has an initial pipeline, a "
            "storage capacity or a price; the exact methods assume none"
        )
    terms = dict(rate=rate, holding=node.holding_cost, penalty=node.shortage_cost)
    if edge.lead_time.constant is not None:
        return optimal_rq(
            lead_time=edge.lead_time.constant, fixed_cost=node.fixed_order_cost, **terms
        )
    if node.fixed_order_cost > 0:
        raise ContinuousReviewError(
            f"{who}: (r, Q) with a fixed cost needs a deterministic "
            f"lead time on edge {edge.source!r}->{edge.target!r}"
        )
    return optimal_base_stock(mean_lead_time=edge.lead_time.mean, **terms)


@dataclass(frozen=True)
class OWMREvaluation:
    """Long-run figures of one warehouse and N retailers under (S-1, S), per unit time.

    Per retailer (lists in the order given): ``on_hand``, ``backorders`` (time averages),
    ``fill_rate`` (share of demand met from stock: P(O_i < S_i), PASTA), exact; and
    ``metric_on_hand``, ``metric_backorders``, ``metric_fill_rate``, METRIC's.
    ``warehouse_on_hand`` and ``warehouse_backorders`` are exact (Poisson O0).
    ``cost`` and ``metric_cost``: holding on hand everywhere plus penalty on retailer
    backorders [$ per unit time].
    """

    warehouse_on_hand: float
    warehouse_backorders: float
    on_hand: list[float]
    backorders: list[float]
    fill_rate: list[float]
    metric_on_hand: list[float]
    metric_backorders: list[float]
    metric_fill_rate: list[float]
    cost: float
    metric_cost: float


def _owmr_pmfs(
    rates: list[float], lead_times: list[float], warehouse_lead_time: float, warehouse_level: int
) -> tuple[float, float, list[np.ndarray], list[np.ndarray]]:
    """Warehouse on hand and backorders (means) at level S0, and per retailer the pmf of its
    outstanding orders: exact (Binomial(B0, lambda_i/lambda_0) + Poisson(lambda_i L_i)) and
    METRIC's (Poisson of the same mean)."""
    from scipy import stats

    lam0 = sum(_check("rate", r, positive=True) for r in rates)
    o0 = outstanding_orders_pmf(lam0, warehouse_lead_time)
    S0 = int(warehouse_level)
    w_over, w_under = loss_terms(o0, np.array([S0]))
    b0 = np.zeros(max(len(o0) - S0, 1))  # pmf of B0 = (O0 - S0)^+
    k = np.arange(len(o0))
    np.add.at(b0, np.maximum(k - S0, 0), o0)
    mean_b0 = float(w_under[0])
    exact, metric = [], []
    for rate, lead in zip(rates, lead_times):
        share = rate / lam0
        thinned = np.zeros(len(b0))  # Binomial(B0, share) mixed over B0
        for b, pb in enumerate(b0):
            if pb > 0:
                thinned[: b + 1] += pb * stats.binom.pmf(np.arange(b + 1), b, share)
        pmf = np.convolve(thinned, outstanding_orders_pmf(rate, lead))
        exact.append(pmf / pmf.sum())
        m = poisson_pmf(rate * (lead + mean_b0 / lam0))
        metric.append(m / m.sum())
    return float(w_over[0]), mean_b0, exact, metric


def owmr_evaluation(
    *,
    rates: list[float],
    lead_times: list[float],
    levels: list[int],
    warehouse_lead_time: float,
    warehouse_level: int,
    holding: list[float] | float,
    penalty: list[float] | float,
    warehouse_holding: float = 0.0,
) -> OWMREvaluation:
    """Exact (Graves/Axsaeter) and METRIC evaluation of (S-1, S) in one warehouse and N
    retailers with Poisson demand, FCFS and constant lead times."""
    n = len(rates)
    if not (len(lead_times) == len(levels) == n) or n == 0:
        raise ValueError(
            f"rates, lead_times and levels need one entry per retailer "
            f"(got {len(rates)}, {len(lead_times)}, {len(levels)})"
        )
    h, p = _per_retailer(holding, n), _per_retailer(penalty, n)
    w_on_hand, mean_b0, exact, metric = _owmr_pmfs(
        rates, lead_times, warehouse_lead_time, warehouse_level
    )
    cost = metric_cost = float(warehouse_holding) * w_on_hand
    out: dict[str, list[float]] = {
        key: []
        for key in (
            "on_hand",
            "backorders",
            "fill_rate",
            "metric_on_hand",
            "metric_backorders",
            "metric_fill_rate",
        )
    }
    for i in range(n):
        S = int(levels[i])
        for label, pmf in (("", exact[i]), ("metric_", metric[i])):
            over, under = loss_terms(pmf, np.array([S]))
            out[label + "on_hand"].append(float(over[0]))
            out[label + "backorders"].append(float(under[0]))
            out[label + "fill_rate"].append(float(pmf[: max(S, 0)].sum()))
        cost += h[i] * out["on_hand"][-1] + p[i] * out["backorders"][-1]
        metric_cost += h[i] * out["metric_on_hand"][-1] + p[i] * out["metric_backorders"][-1]
    return OWMREvaluation(w_on_hand, mean_b0, cost=cost, metric_cost=metric_cost, **out)


def _per_retailer(value: list[float] | float, n: int) -> list[float]:
    return [float(value)] * n if isinstance(value, (int, float)) else [float(v) for v in value]


def _best_level(pmf: np.ndarray, holding: float, penalty: float) -> tuple[int, float]:
    """The level S >= 0 minimising h E[(S-O)^+] + p E[(O-S)^+] for O ~ *pmf*, and that cost
    (the cost is convex in S; beyond the support it only grows)."""
    y = np.arange(len(pmf) + 1)
    over, under = loss_terms(pmf, y)
    cost = holding * over + penalty * under
    best = int(np.argmin(cost))
    return best, float(cost[best])


@dataclass(frozen=True)
class OWMROptimum:
    """The best (S-1, S) levels of one warehouse and N retailers under the exact
    (Graves/Axsaeter) cost, and METRIC's choice beside them.

    ``warehouse_level``, ``levels`` (per retailer) and ``cost`` [$ per unit time]: the
    exact optimum.  ``metric_warehouse_level``, ``metric_levels``: the levels METRIC picks
    (optimal under its Poisson approximation), ``metric_estimate`` the cost METRIC
    believes they have and ``metric_choice_cost`` their exact cost.  ``warehouse`` and
    ``retailers`` name the nodes.
    """

    warehouse: str
    retailers: list[str]
    warehouse_level: int
    levels: list[int]
    cost: float
    metric_warehouse_level: int
    metric_levels: list[int]
    metric_estimate: float
    metric_choice_cost: float
    levels_searched: int

    def policy(self, metric: bool = False) -> Any:
        """Engine policy: installation :class:`des_supply.policies.BaseStock` with these
        levels (METRIC's choice with *metric*)."""
        from des_supply.policies import BaseStock

        s0, levels = (
            (self.metric_warehouse_level, self.metric_levels)
            if metric
            else (self.warehouse_level, self.levels)
        )
        return BaseStock(
            {self.warehouse: float(s0), **{r: float(s) for r, s in zip(self.retailers, levels)}}
        )


def optimal_owmr(
    *,
    rates: list[float],
    lead_times: list[float],
    warehouse_lead_time: float,
    holding: list[float] | float,
    penalty: list[float] | float,
    warehouse_holding: float = 0.0,
    warehouse: str = "warehouse",
    retailers: list[str] | None = None,
) -> OWMROptimum:
    """Search every warehouse level S0 = 0, 1, ... up to the support of its outstanding
    orders (beyond it B0 = 0 and a higher S0 only adds holding); for each S0 the retailers'
    costs separate, each convex in its own S_i, so each S_i is its newsvendor minimiser
    under the exact pmf.  The same search under METRIC's pmfs gives METRIC's choice."""
    n = len(rates)
    if len(lead_times) != n or n == 0:
        raise ValueError(
            f"rates and lead_times need one entry per retailer (got {n}, {len(lead_times)})"
        )
    names = list(retailers) if retailers is not None else [f"r{i + 1}" for i in range(n)]
    h, p = _per_retailer(holding, n), _per_retailer(penalty, n)
    h0 = _check("warehouse_holding", warehouse_holding)
    top = len(outstanding_orders_pmf(sum(rates), warehouse_lead_time))
    best: dict[str, Any] = {"exact": (math.inf, 0, []), "metric": (math.inf, 0, [])}
    for S0 in range(top + 1):
        w_on_hand, _, exact, metric = _owmr_pmfs(rates, lead_times, warehouse_lead_time, S0)
        for label, pmfs in (("exact", exact), ("metric", metric)):
            picks = [_best_level(pmfs[i], h[i], p[i]) for i in range(n)]
            cost = h0 * w_on_hand + sum(c for _, c in picks)
            if cost < best[label][0] - 1e-12:
                best[label] = (cost, S0, [s for s, _ in picks])
    cost, S0, levels = best["exact"]
    estimate, m0, m_levels = best["metric"]
    check = owmr_evaluation(
        rates=rates,
        lead_times=lead_times,
        levels=m_levels,
        warehouse_lead_time=warehouse_lead_time,
        warehouse_level=m0,
        holding=h,
        penalty=p,
        warehouse_holding=h0,
    )
    return OWMROptimum(
        warehouse, names, S0, levels, cost, m0, m_levels, estimate, check.cost, top + 1
    )


def owmr_optimum(problem: Problem) -> OWMROptimum:
    """:func:`optimal_owmr` of a continuous-time network of one warehouse (one supplier of
    unlimited stock, constant lead time) and N retailers (unit Poisson demand, backorders,
    constant lead times from the warehouse).  Raises :class:`ContinuousReviewError` naming
    what does not fit (fixed or unit ordering costs, in-transit holding, a price, a
    warehouse penalty or demand, lost sales, an initial pipeline, capacities)."""
    net = problem.network
    who = f"problem {problem.name!r}"
    if net.time != "continuous":
        raise ContinuousReviewError(f"{who} is periodic (time={net.time!r})")
    stock = net.stock_nodes
    roots = [
        n
        for n in stock
        if all(e.source not in {m.name for m in stock} for e in net.suppliers(n.name))
    ]
    if len(roots) != 1 or len(stock) < 2:
        raise ContinuousReviewError(f"{who}: not one warehouse feeding retailers")
    wh = roots[0]
    retailers = [n for n in stock if n is not wh]
    leads: dict[str, float] = {}
    for node in stock:
        edges = net.suppliers(node.name)
        source = wh.name if node is not wh else None
        if len(edges) != 1 or (source is not None and edges[0].source != source):
            raise ContinuousReviewError(
                f"{who}: node {node.name!r} must have one supplier "
                f"({'the warehouse ' + repr(wh.name) if source else 'an outside supplier'})"
            )
        e = edges[0]
        lead = e.lead_time.constant
        if lead is None:
            raise ContinuousReviewError(
                f"{who}: edge {e.source!r}->{e.target!r} needs a constant lead time"
            )
        leads[node.name] = float(lead)
        if e.unit_cost or e.transit_holding_cost or e.bom != 1:
            raise ContinuousReviewError(
                f"{who}: edge {e.source!r}->{e.target!r} has a unit cost, in-transit "
                "holding or a bill of materials; the exact evaluation counts none"
            )
        if (
            node.fixed_order_cost
            or node.order_cost
            or node.price
            or node.initial_pipeline
            or node.storage_capacity < math.inf
            or node.shortage != "backlog"
        ):
            raise ContinuousReviewError(
                f"{who}: node {node.name!r} has an ordering cost, a price, an initial "
                "pipeline, a storage capacity or lost sales; the exact evaluation assumes "
                "none"
            )
    if wh.demand is not None or wh.shortage_cost:
        raise ContinuousReviewError(
            f"{who}: warehouse {wh.name!r} must have no demand and no penalty of its own"
        )
    rates = []
    for node in retailers:
        rates.append(_unit_poisson_rate(node, who))
        if net.customers(node.name):
            raise ContinuousReviewError(f"{who}: retailer {node.name!r} supplies other nodes")
    return optimal_owmr(
        rates=rates,
        lead_times=[leads[n.name] for n in retailers],
        warehouse_lead_time=leads[wh.name],
        holding=[n.holding_cost for n in retailers],
        penalty=[n.shortage_cost for n in retailers],
        warehouse_holding=wh.holding_cost,
        warehouse=wh.name,
        retailers=[n.name for n in retailers],
    )
