"""Joint pricing and replenishment heuristics: engine policies returning prices and orders.

Each policy answers an epoch with ``Action(orders={node: q}, prices={node: p})`` for
the deciding node(s) of a single-stage network.  Its rule is a pure function
``decide(state, ctx) -> (price, order)`` of a :class:`PricingState` (inventory and
market state at the epoch) and a :class:`PricingContext` (costs, demand model,
price grid), so the exact DP (:mod:`optimization.pricing_dp`) can tabulate the very
rule the engine runs.  In the engine, ``act`` builds both from the observation
and the run's market (:func:`des_supply.market.market_of`).

========================  ===================================================  =========================
policy                    rule                                                  source
========================  ===================================================  =========================
``ListPriceBaseStock``    constant price p, order up to S in inventory          Thowsen (1975); Federgruen
(BSLP; with the list      position                                              & Heching (1999)
price: the naive
reference)
``SSP``                   (s, S) ordering; price p(y) = p0 + slope (S - y)      Chen & Simchi-Levi (2004)
                          of the inventory position y after ordering
``MyopicPricing``         base-stock S; price maximising the one-period         Bernstein, Li & Shang
                          expected profit given the stock on hand now           (2016)
========================  ===================================================  =========================

Their parameters are optimised on the model by :mod:`optimization.pricing_dp`
(exact evaluation on the discretised state where possible, else simulation with
common random numbers).  BSLP and (s, S, p) come from models without a competitor
and ignore the competitor's and the reference price; the myopic rule evaluates
the full demand model in the current market state.

References
----------
* Thowsen, G. T. (1975). A dynamic, nonstationary inventory problem for a
  price/quantity setting firm. Naval Research Logistics Quarterly 22(3), 461-476.
* Federgruen, A., Heching, A. (1999). Combined pricing and inventory control under
  uncertainty. Operations Research 47(3), 454-475.
* Chen, X., Simchi-Levi, D. (2004). Coordinating inventory control and pricing
  strategies with random demand and fixed ordering cost: the finite horizon case.
  Operations Research 52(6), 887-896.
* Bernstein, F., Li, Y., Shang, K. (2016). A simple heuristic for joint inventory
  and pricing models with lead time and backorders. Management Science 62(8),
  2358-2373.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .market import DemandModel, market_of
from .policies import Action

if TYPE_CHECKING:
    from .network import Network
    from .sim import Observation

__all__ = [
    "PRICING_POLICIES",
    "SSP",
    "ListPriceBaseStock",
    "MyopicPricing",
    "PricingContext",
    "PricingState",
    "myopic_price",
    "one_period_profit",
    "poisson_table",
]


@dataclass(frozen=True, slots=True)
class PricingState:
    """What a pricing rule sees at an epoch (units of the node's item, currency units)."""

    on_hand: float
    backlog: float
    on_order: float
    competitor_price: float
    reference_price: float

    @property
    def net(self) -> float:
        """Net inventory: on hand - backlog."""
        return self.on_hand - self.backlog

    @property
    def position(self) -> float:
        """Inventory position: on hand - backlog + on order."""
        return self.on_hand - self.backlog + self.on_order


@dataclass(frozen=True)
class PricingContext:
    """Costs, demand model and price grid a rule needs (static over a run)."""

    model: DemandModel
    prices: np.ndarray  # candidate prices, ascending (the grid, or a fine mesh)
    low: float
    high: float
    step: float  # 0: continuous prices
    unit_cost: float
    holding: float
    penalty: float
    fixed_cost: float
    lost: bool
    lead_zero: bool  # orders arrive before this period's demand

    def __post_init__(self) -> None:
        object.__setattr__(self, "_myopic", {})  # (x, o, r) -> myopic price

    @classmethod
    def of(cls, network: Network, market: Any, node: str) -> PricingContext:
        n = network.node(node)
        grid = market.price_grid
        values = grid.values
        if values is None:
            values = np.linspace(grid.low, grid.high, 61)
        edges = network.suppliers(node)
        lead_zero = all(
            getattr(e.lead_time, "kind", "") == "deterministic" and e.lead_time.mean == 0
            for e in edges
        )
        return cls(
            market.model,
            np.asarray(values, dtype=float),
            grid.low,
            grid.high,
            grid.step,
            n.order_cost + sum(e.unit_cost for e in edges[:1]),
            n.holding_cost,
            n.shortage_cost,
            n.fixed_order_cost,
            n.shortage == "lost",
            lead_zero,
        )

    def snap(self, price: float) -> float:
        price = min(max(float(price), self.low), self.high)
        if self.step == 0:
            return price
        return self.low + self.step * round((price - self.low) / self.step)


def _context(obs: Observation, cache: dict[int, Any]) -> tuple[PricingContext, Any, str]:
    market = market_of(obs)
    if market is None or not hasattr(market, "price_grid"):
        raise ValueError(
            "a pricing policy needs a run with a pricing market "
            "(pass market=scenarios.make_market(...))"
        )
    key = id(market)
    if key not in cache:
        network = obs.network
        cache.clear()
        cache[key] = (PricingContext.of(network, market, market.node), market)
    ctx, _ = cache[key]
    return ctx, market, market.node


def _state(obs: Observation, market: Any, node: str) -> PricingState:
    m = market.observation()
    return PricingState(
        obs.on_hand(node),
        obs.backlog(node),
        obs.on_order(node),
        m["competitor_price"],
        m["reference_price"],
    )


def poisson_table(lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(d, pmf)`` with ``pmf[i, k] = P(Poisson(lam[i]) = d[k])`` for d = 0..top, top far in
    the tail (mass beyond it < 1e-12 for means up to a few hundred)."""
    lam = np.asarray(lam, dtype=float)
    top = int(
        math.ceil(
            float(lam.max(initial=0.0)) + 12.0 * math.sqrt(float(lam.max(initial=0.0))) + 12.0
        )
    )
    d = np.arange(top + 1)
    ratios = np.empty((lam.size, top + 1))
    ratios[:, 0] = np.exp(-lam.reshape(-1))
    ratios[:, 1:] = lam.reshape(-1, 1) / d[1:]
    return d, np.cumprod(ratios, axis=1).reshape(*lam.shape, top + 1)


def one_period_profit(ctx: PricingContext, x: float, o: float, r: float) -> np.ndarray:
    """Expected profit of this period at each candidate price, with *x* units of net
    inventory to meet demand: (p - c) E[sales] - h E(x - D)^+ - b E[short], where sales
    are all demand (backlog: every unit is sold and replenished eventually) or
    min(D, x^+) (lost sales), and short units are those backlogged or lost."""
    lam = np.asarray(ctx.model.rate(ctx.prices, o, r), dtype=float)
    d, pmf = poisson_table(lam)
    over = (np.maximum(x - d, 0.0)[None, :] * pmf).sum(1)  # E(x - D)^+
    stock = max(x, 0.0)
    if ctx.lost:
        sold = stock - (np.maximum(stock - d, 0.0)[None, :] * pmf).sum(1)  # E min(D, x^+)
        short = lam - sold
    else:
        sold = lam
        short = lam - x + over  # E(D - x)^+
    return (ctx.prices - ctx.unit_cost) * sold - ctx.holding * over - ctx.penalty * short


def _checked(value: float, what: str, allow_negative: bool = False) -> float:
    value = float(value)
    if not math.isfinite(value) or (value < 0 and not allow_negative):
        raise ValueError(
            f"{what}(={value}) must be a finite number{'' if allow_negative else ' >= 0'}"
        )
    return value


class _PricingPolicy:
    """``act`` for every rule: read state and market, call ``decide``."""

    if TYPE_CHECKING:  # each rule's own

        def decide(self, s: PricingState, ctx: PricingContext) -> tuple[float, float]: ...

    def act(self, obs: Observation) -> Action:
        cache = self.__dict__.setdefault("_cache", {})
        ctx, market, node = _context(obs, cache)
        if node not in obs.deciding:
            return Action(prices={node: obs.price(node)})
        price, order = self.decide(_state(obs, market, node), ctx)
        return Action(orders={node: order}, prices={node: price})


@dataclass
class ListPriceBaseStock(_PricingPolicy):
    """Base-stock list-price (BSLP): a constant ``price`` and order up to ``level`` [S].

    Optimal for additive demand with PF2 noise (Federgruen & Heching 1999; Thowsen
    1975).  With the scenario's list price and the best level it is the naive
    reference "fixed list price + best base-stock".
    """

    price: float
    level: float

    def __post_init__(self) -> None:
        self.price = _checked(self.price, "price")
        self.level = _checked(self.level, "level", allow_negative=True)

    def decide(self, s: PricingState, ctx: PricingContext) -> tuple[float, float]:
        return self.price, max(0.0, self.level - s.position)


@dataclass
class SSP(_PricingPolicy):
    """(s, S, p): order up to ``S`` when the inventory position is at or below ``s``;
    price ``p(y) = price + slope * (S - y)`` (on the grid, within the bounds) of the
    position y after ordering (Chen & Simchi-Levi 2004: with a fixed ordering cost an
    (s, S, p) policy is optimal, the price depending on the stock after ordering;
    the linear form with slope >= 0, price rising as stock runs down, is ours)."""

    s: float
    S: float
    price: float
    slope: float = 0.0

    def __post_init__(self) -> None:
        self.s = _checked(self.s, "s", allow_negative=True)
        self.S = _checked(self.S, "S", allow_negative=True)
        self.price = _checked(self.price, "price")
        self.slope = _checked(self.slope, "slope", allow_negative=True)
        if self.S < self.s:
            raise ValueError(f"(s, S, p): S(={self.S}) must be >= s(={self.s})")

    def decide(self, s: PricingState, ctx: PricingContext) -> tuple[float, float]:
        ip = s.position
        order = self.S - ip if ip <= self.s else 0.0
        y = ip + order
        return ctx.snap(self.price + self.slope * (self.S - y)), order


@dataclass
class MyopicPricing(_PricingPolicy):
    """Myopic pricing with base-stock replenishment (Bernstein, Li & Shang 2016).

    Orders up to ``level`` [S] in inventory position; sets the price that maximises
    this period's expected profit (:func:`one_period_profit`) given the net inventory
    that will meet this period's demand (on hand - backlog, plus the order when it
    arrives at once) and the current competitor and reference prices.
    """

    level: float

    def __post_init__(self) -> None:
        self.level = _checked(self.level, "level", allow_negative=True)

    def decide(self, s: PricingState, ctx: PricingContext) -> tuple[float, float]:
        order = max(0.0, self.level - s.position)
        x = s.net + (order if ctx.lead_zero else 0.0)
        return myopic_price(ctx, x, s.competitor_price, s.reference_price), order


def myopic_price(ctx: PricingContext, x: float, o: float, r: float) -> float:
    """The price maximising :func:`one_period_profit` (the lowest such price on ties); cached
    per context, since states repeat."""
    # set in __post_init__ outside the dataclass fields (so not compared, printed or copied)
    cache = ctx._myopic  # type: ignore[attr-defined]
    key = (float(x), float(o), float(r))
    price = cache.get(key)
    if price is None:
        if len(cache) > 200_000:
            cache.clear()
        price = cache[key] = float(ctx.prices[int(np.argmax(one_period_profit(ctx, x, o, r)))])
    return price


# -- registration ----------------------------------------------------------------------------
from .policy_registry import Param, register_policy  # noqa: E402  (after the classes it builds)


def _pricing_reason(problem: Any) -> str | None:
    """Why a pricing rule does not apply to *problem* (None when it does)."""
    market = problem.market
    if problem.kind.market != "pricing" or not hasattr(market, "price_grid"):
        has = "no market" if market is None else f"a {problem.kind.market} market"
        return (
            f"it sets prices: it needs a problem with a pricing market (scenarios "
            f"pricing-a .. pricing-d); this one has {has}"
        )
    if market.node not in {n.name for n in problem.network.stock_nodes}:
        return f"the pricing market's node {market.node!r} is not a stocking node"
    return None


def _pricing(name: str, cls: type, summary: str, *params: Param, build: Any = None) -> type:
    """Register the pricing rule *cls* under *name* (one price and one node: scalar params)."""
    register_policy(
        name,
        build or (lambda problem, p: cls(**p)),
        summary=summary,
        params=params,
        applies=_pricing_reason,
        group="pricing",
        family=cls,
    )
    return cls


def _one(name: str, summary: str, **more: Any) -> Param:
    return Param(name, summary, per_node=False, **more)


def _list_price(problem: Any, p: dict[str, Any]) -> ListPriceBaseStock:
    price = p.get("price", problem.network.node(problem.market.node).price)
    return ListPriceBaseStock(price, p["level"])


#: Pricing rules by name: a view of their entries in :mod:`des_supply.policy_registry`
#: ("myopic-pricing" is the myopic price with base stock; "myopic" is Zipkin's lost-sales
#: myopic policy, a solved policy).
PRICING_POLICIES: dict[str, type] = {
    "bslp": _pricing(
        "bslp",
        ListPriceBaseStock,
        "base-stock list-price: a constant price and order up to level S",
        _one("price", "the constant price"),
        _one("level", "order-up-to level S"),
    ),
    "ssp": _pricing(
        "ssp",
        SSP,
        "(s, S, p): (s, S) orders, price p0 + slope (S - y) of the position y after ordering",
        _one("s", "reorder point"),
        _one("S", "order-up-to level (>= s)"),
        _one("price", "price p0 at y = S"),
        _one("slope", "price rise per unit below S", required=False, default=0.0),
    ),
    "myopic-pricing": _pricing(
        "myopic-pricing",
        MyopicPricing,
        "base-stock S and the price maximising this period's expected "
        "profit (Bernstein, Li & Shang 2016)",
        _one("level", "order-up-to level S"),
    ),
    "list-price": _pricing(
        "list-price",
        ListPriceBaseStock,
        "the fixed list price (the node's price) with base-stock level S: the naive reference",
        _one("level", "order-up-to level S"),
        _one("price", "the price", required=False, default="the node's list price"),
        build=_list_price,
    ),
}
