"""Single stage with a lead time: Zipkin (2008), "Old and new methods for lost-sales
inventory systems", Operations Research 56(5), with lost sales or backlog.

One external supplier (unlimited) ships to one stocking node after ``lead_time``
periods.  Each period: the order placed ``lead_time`` periods earlier arrives;
the new order is placed; demand is met from stock and the rest is lost (or
backlogged); cost = holding x stock at the end of the period + penalty x units
lost (or backlogged at the end of the period) + fixed_cost per order placed.
"""

from __future__ import annotations

import math
from typing import Literal

from des_supply.distributions import (
    DiscreteUniform,
    Distribution,
    Geometric,
    NegativeBinomial,
    Normal,
    Poisson,
    as_distribution,
)
from des_supply.network import Edge, Network, Node

from .registry import ScenarioError, register

DEMANDS = ("poisson", "geometric", "negative_binomial", "normal", "normal_continuous", "uniform")


def demand_distribution(demand: str, mean: float, std: float | None = None) -> Distribution:
    """A demand family by name, with the given mean (and std where it has one).

    ``negative_binomial`` uses variance ``std**2`` (default 2 x mean); ``normal`` is
    rounded to integers and ``normal_continuous`` is not; ``uniform`` is discrete on
    ``0..2 x mean``.
    """
    if demand == "poisson":
        return Poisson(mean)
    if demand == "geometric":
        return Geometric(mean)
    if demand == "negative_binomial":
        var = (std if std is not None else math.sqrt(2 * mean)) ** 2
        if var <= mean:
            raise ScenarioError(f"negative_binomial needs variance > mean (std={std}, mean={mean})")
        return NegativeBinomial(mean, mean**2 / (var - mean))
    if demand in ("normal", "normal_continuous"):
        return Normal(mean, std if std is not None else math.sqrt(mean), integer=demand == "normal")
    if demand == "uniform":
        if not float(2 * mean).is_integer():
            raise ScenarioError(f"uniform demand needs 2 x mean to be whole, got mean={mean}")
        return DiscreteUniform(0, int(2 * mean))
    raise ScenarioError(f"demand={demand!r} is not one of {', '.join(DEMANDS)}")


@register("single-stage", periods=20_000, warmup=200)
def single_stage(
    lead_time: int = 2,
    holding: float = 1.0,
    penalty: float = 9.0,
    fixed_cost: float = 0.0,
    demand: str = "poisson",
    demand_mean: float = 5.0,
    demand_std: float | None = None,
    shortage: Literal["lost", "backlog"] = "lost",
    initial_on_hand: float | None = None,
) -> Network:
    """Single stage, lead time, lost sales or backlog (Zipkin 2008).

    Parameters: lead_time (int >= 0, periods), holding (per unit left at period end),
    penalty (per unit lost, or backlogged at period end), fixed_cost (per order),
    demand (poisson|geometric|negative_binomial|normal|normal_continuous|uniform),
    demand_mean, demand_std (normal/negative binomial), shortage (lost|backlog),
    initial_on_hand (default: mean demand over lead_time + 1 periods).
    """
    if lead_time < 0:
        raise ScenarioError(f"lead_time(={lead_time}) must be >= 0")
    if shortage not in ("lost", "backlog"):
        raise ScenarioError(f"shortage(={shortage!r}) must be 'lost' or 'backlog'")
    dist = demand_distribution(demand, demand_mean, demand_std)
    start = demand_mean * (lead_time + 1) if initial_on_hand is None else initial_on_hand
    if not dist.integer:
        start = float(start)
    else:
        start = float(round(start))
    return Network(
        nodes=(
            Node("supplier", kind="supply"),
            Node(
                "stage",
                holding_cost=holding,
                shortage=shortage,
                shortage_cost=penalty,
                fixed_order_cost=fixed_cost,
                demand=dist,
                initial_on_hand=start,
            ),
        ),
        edges=(Edge("supplier", "stage", lead_time=as_distribution(lead_time)),),
        name="single-stage",
    )
