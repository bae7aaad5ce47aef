"""Dynamic pricing and replenishment under competition: the seed paper's Section V, cases a-d.

One seller ("store") buys from an unlimited supplier with a lead time and sells
against one competitor.  Every period it sets a price *p* and an order quantity
*q* (seed paper: a_t = {p_t, q_t}); demand follows the logit model of Schlosser &
Richly (2019) in :mod:`des_supply.market`, driven by *p*, the competitor's price
*o* and the customers' reference price *r*.  Period reward (seed paper eq. 7):

    revenue - holding x units on hand at period end
            - penalty x units backlogged at period end (a, c) or lost (b, d)
            - unit_cost x q  - fixed_cost x 1{q > 0}

=========  =========  ==========  ================================================
case       shortage   fixed cost  defaults
=========  =========  ==========  ================================================
pricing-a  backlog    0           penalty 2 per unit backlogged per period
pricing-b  lost       0           penalty 5 per unit lost (besides the lost margin)
pricing-c  backlog    50          penalty 2
pricing-d  lost       50          penalty 5
=========  =========  ==========  ================================================

How backlogged demand is paid: a unit of demand that cannot be served from stock
waits in the backlog with the price in force when it arrived, and that price is
received when the unit is delivered (first come, first served); the penalty is
charged for every period it waits.  Units still owed at the end of a run are
never paid.

Parameter choices (none is given in the seed paper; all are parameters):

* ``eta = 800``, ``delta = 1``, ``beta`` of the public implementation (see
  :mod:`des_supply.market`): 1.3 to 7 units per period over prices 20-50;
* prices on the grid 20, 22.5, ..., 50; list price 35; unit cost 10, so the
  margin-maximising price without inventory costs is near 40-45;
* competitor: undercuts our price by 2.5 with probability 0.8 per period, restarts
  at 50 when that would take it below 20; reference price rounded at random to
  the 2.5 grid (exact smoothing in expectation), which keeps the state space finite
  for the exact DP (``ref_step=0``: continuous reference price);
* lead time 1 period (``lead_time_max``: uniform lead times on
  [lead_time, lead_time_max], the exact DP then does not apply); storage capacity
  40 (orders are cut so that on hand + on order never exceeds it), which bounds
  the DP's state space without binding good policies.

Without its market the network alone (``scenarios.make``) has Poisson demand with
the mean at list price against a competitor at list price, and a fixed price.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from des_supply.distributions import Deterministic, DiscreteUniform, Poisson
from des_supply.market import BETA, CompetitiveMarket, Competitor, DemandModel, PriceGrid
from des_supply.network import Edge, Network, Node

from .registry import ScenarioError, register

__all__ = ["CASES", "pricing_market", "pricing_network"]

#: case -> (shortage rule, default penalty, default fixed cost, summary)
CASES: dict[str, tuple[Literal["backlog", "lost"], float, float, str]] = {
    "a": ("backlog", 2.0, 0.0, "backlogged demand, no fixed ordering cost"),
    "b": ("lost", 5.0, 0.0, "lost demand, no fixed ordering cost"),
    "c": ("backlog", 2.0, 50.0, "backlogged demand, fixed ordering cost"),
    "d": ("lost", 5.0, 50.0, "lost demand, fixed ordering cost"),
}

NODE = "store"


def _market_parts(p: dict[str, Any]) -> tuple[DemandModel, Competitor, PriceGrid, float]:
    try:
        grid = PriceGrid(p["price_low"], p["price_high"], p["price_step"])
        list_price = float(p["list_price"])
        if not grid.low <= list_price <= grid.high:
            raise ValueError(f"list_price(={list_price}) must be within [price_low, price_high]")
        model = DemandModel(p["eta"], p["delta"], tuple(p["beta"]), int(p["n_competitors"]))
        initial = list_price if p["comp_initial"] is None else float(p["comp_initial"])
        comp = Competitor(
            p["competitor"], p["comp_low"], p["comp_high"], p["comp_step"], p["comp_react"], initial
        )
    except ValueError as exc:
        raise ScenarioError(f"pricing: {exc}") from None
    return model, comp, grid, list_price


def pricing_network(case: str, p: dict[str, Any]) -> Network:
    """The network of pricing case *case* with the full parameter dict *p*."""
    shortage = CASES[case][0]
    if p["lead_time"] < 0:
        raise ScenarioError(f"lead_time(={p['lead_time']}) must be >= 0")
    if p["lead_time_max"] is None:
        lead: Any = Deterministic(p["lead_time"])
    elif p["lead_time_max"] < p["lead_time"]:
        raise ScenarioError(
            f"lead_time_max(={p['lead_time_max']}) must be >= lead_time(={p['lead_time']})"
        )
    else:
        lead = DiscreteUniform(p["lead_time"], p["lead_time_max"])
    model, _, _, list_price = _market_parts(p)
    fallback = Poisson(model.rate(list_price, list_price, list_price))
    return Network(
        nodes=(
            Node("supplier", kind="supply"),
            Node(
                NODE,
                holding_cost=p["holding"],
                shortage=shortage,
                shortage_cost=p["penalty"],
                fixed_order_cost=p["fixed_cost"],
                order_cost=p["unit_cost"],
                price=list_price,
                storage_capacity=p["storage_capacity"],
                initial_on_hand=p["initial_on_hand"],
                demand=fallback,
            ),
        ),
        edges=(Edge("supplier", NODE, lead_time=lead),),
        name=f"pricing-{case}",
    )


def pricing_market(**p: Any) -> CompetitiveMarket:
    """The market of a pricing case from its full parameter set (see the module docstring)."""
    model, comp, grid, list_price = _market_parts(p)
    ref = list_price if p["ref_initial"] is None else float(p["ref_initial"])
    try:
        return CompetitiveMarket(NODE, model, comp, grid, p["memory"], p["ref_step"], ref)
    except ValueError as exc:
        raise ScenarioError(f"pricing: {exc}") from None


def _case(case: str) -> Callable[..., Network]:
    shortage, penalty0, fixed0, summary = CASES[case]

    def build(
        lead_time: int = 1,
        lead_time_max: int | None = None,
        holding: float = 0.5,
        penalty: float = penalty0,
        unit_cost: float = 10.0,
        fixed_cost: float = fixed0,
        storage_capacity: float = 40.0,
        initial_on_hand: float = 10.0,
        list_price: float = 35.0,
        price_low: float = 20.0,
        price_high: float = 50.0,
        price_step: float = 2.5,
        eta: float = 800.0,
        delta: float = 1.0,
        beta: tuple[float, ...] = BETA,
        n_competitors: int = 1,
        memory: float = 0.9,
        ref_step: float = 2.5,
        ref_initial: float | None = None,
        competitor: str = "undercut",
        comp_low: float = 20.0,
        comp_high: float = 50.0,
        comp_step: float = 2.5,
        comp_react: float = 0.8,
        comp_initial: float | None = None,
    ) -> Network:
        return pricing_network(case, dict(locals()))

    build.__name__ = build.__qualname__ = f"pricing_{case}"
    build.__doc__ = f"""Pricing and replenishment under competition, case {case}: {summary}.

    Seed paper Section V; demand of Schlosser & Richly (2019), see scenarios/pricing.py.
    Parameters: lead_time (periods; lead_time_max for uniform random lead times),
    holding, penalty (per unit {"backlogged per period" if shortage == "backlog" else "lost"}),
    unit_cost, fixed_cost (per order), storage_capacity, initial_on_hand, list_price,
    price_low/price_high/price_step (the seller's price grid), eta, delta, beta (6
    coefficients), n_competitors, memory (reference-price smoothing), ref_step (0:
    continuous reference price), ref_initial, competitor (undercut|random-walk|fixed),
    comp_low/comp_high/comp_step/comp_react/comp_initial.
    """
    return register(f"pricing-{case}", periods=5_000, warmup=100, market=pricing_market)(build)


pricing_a = _case("a")
pricing_b = _case("b")
pricing_c = _case("c")
pricing_d = _case("d")
