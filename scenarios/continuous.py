"""Continuous-review systems: Poisson demand, a lead time per shipment, costs per unit time.

The textbook continuous-review system (Snyder & Shen, *Fundamentals of Supply Chain
Theory*, Ch. 5; Zipkin 2000, Ch. 6): unit demands arrive as a Poisson process of rate
``demand_rate``; the stage reviews its inventory position at every demand and orders
from an unlimited supplier; each shipment takes its own lead time (mean ``lead_time``,
``deterministic``, ``exponential`` or ``gamma``).  Costs accrue per unit time: holding
per unit on hand, penalty per unit backordered (or, under ``shortage="lost"``, per unit
lost), and ``fixed_cost`` per order.  The horizon and warm-up are in time units.

Run it with the ``rq`` (``reorder_point``, ``quantity``; ``r``, ``Q`` as aliases) or
``base-stock`` (``level``) policies; the exact optimum is
:func:`optimization.continuous_review.continuous_review_optimum`.

``des-supply train``, ``evaluate`` and ``compare`` run PPO on these problems through the
semi-Markov env (:mod:`rl.semi_markov_env`; preset in :mod:`scenarios.presets`), with
episode lengths given by ``--horizon`` (time units).

``continuous-owmr`` is one warehouse and N retailers with Poisson demand and constant
lead times (Graves 1985; Axsaeter 1990): under (S-1, S) everywhere, first come first
served at the warehouse, :func:`optimization.continuous_review.owmr_evaluation` gives
its exact figures and METRIC's, and ``optimize`` the best installation levels under the
exact cost (:func:`optimization.continuous_review.owmr_optimum`) with METRIC's choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from des_supply.arrivals import PoissonProcess
from des_supply.distributions import Deterministic, Distribution, Exponential, Gamma
from des_supply.network import Edge, Network, Node

from .registry import ScenarioError, register

LEAD_TIME_DISTS = ("deterministic", "exponential", "gamma")


def lead_time_distribution(kind: str, mean: float, shape: float = 2.0) -> Distribution:
    """A lead-time family by name with the given mean [time units]."""
    if mean < 0:
        raise ScenarioError(f"lead_time(={mean}) must be >= 0")
    if kind == "deterministic":
        return Deterministic(mean)
    if kind == "exponential":
        return Exponential(mean)
    if kind == "gamma":
        if shape <= 0:
            raise ScenarioError(f"lead_time_shape(={shape}) must be > 0")
        return Gamma(mean, shape)
    raise ScenarioError(f"lead_time_dist={kind!r} is not one of {', '.join(LEAD_TIME_DISTS)}")


@register("continuous-review", periods=10_000, warmup=100, time="continuous")
def continuous_review(
    demand_rate: float = 5.0,
    lead_time: float = 2.0,
    lead_time_dist: str = "deterministic",
    holding: float = 1.0,
    penalty: float = 9.0,
    fixed_cost: float = 0.0,
    shortage: Literal["backlog", "lost"] = "backlog",
    lead_time_shape: float = 2.0,
) -> Network:
    """Continuous review, Poisson demand, a lead time per shipment (time units, not periods).

    Parameters: demand_rate (unit demands per unit time), lead_time (mean, time units),
    lead_time_dist (deterministic|exponential|gamma), holding (per unit on hand per unit
    time), penalty (per unit backordered per unit time; per unit lost under
    shortage=lost), fixed_cost (per order), shortage (backlog|lost), lead_time_shape
    (gamma shape k: variance lead_time^2 / k).  Simulate with --horizon (time units).
    """
    if not demand_rate > 0:
        raise ScenarioError(f"demand_rate(={demand_rate}) must be > 0")
    if shortage not in ("backlog", "lost"):
        raise ScenarioError(f"shortage(={shortage!r}) must be 'backlog' or 'lost'")
    return Network(
        nodes=(
            Node("supplier", kind="supply"),
            Node(
                "stage",
                holding_cost=holding,
                shortage=shortage,
                shortage_cost=penalty,
                fixed_order_cost=fixed_cost,
                demand=PoissonProcess(demand_rate),
            ),
        ),
        edges=(
            Edge(
                "supplier",
                "stage",
                lead_time=lead_time_distribution(lead_time_dist, lead_time, lead_time_shape),
            ),
        ),
        name="continuous-review",
        time="continuous",
    )


@register("continuous-owmr", periods=10_000, warmup=100, time="continuous")
def continuous_owmr(
    retailer_rates: Sequence[float] = (1.0, 2.0, 3.0),
    retailer_lead_times: Sequence[float] = (1.0, 1.0, 2.0),
    warehouse_lead_time: float = 2.0,
    holding: float = 1.0,
    penalty: float = 9.0,
    warehouse_holding: float = 0.5,
) -> Network:
    """One warehouse, N retailers, continuous review, Poisson demand (Graves 1985; METRIC).

    Parameters: retailer_rates (comma-separated unit demands per unit time, one per
    retailer), retailer_lead_times (comma-separated, time units, warehouse to retailer),
    warehouse_lead_time (supplier to warehouse), holding and penalty (per unit per unit
    time at the retailers: on hand, backordered), warehouse_holding (per unit on hand per
    unit time at the warehouse).  Nodes: plant, warehouse, r1..rN.
    """
    rates, leads = tuple(retailer_rates), tuple(retailer_lead_times)
    if not rates or len(rates) != len(leads):
        raise ScenarioError(
            f"retailer_rates ({len(rates)} values) and retailer_lead_times "
            f"({len(leads)} values) need one value per retailer"
        )
    if min(rates) <= 0 or min(leads) < 0 or warehouse_lead_time < 0:
        raise ScenarioError("retailer_rates must be > 0 and lead times >= 0")
    names = [f"r{i + 1}" for i in range(len(rates))]
    return Network(
        nodes=(
            Node("plant", kind="supply"),
            Node("warehouse", holding_cost=warehouse_holding),
            *(
                Node(
                    n, holding_cost=holding, shortage_cost=penalty, demand=PoissonProcess(float(r))
                )
                for n, r in zip(names, rates)
            ),
        ),
        edges=(
            Edge("plant", "warehouse", lead_time=Deterministic(warehouse_lead_time)),
            *(
                Edge("warehouse", n, lead_time=Deterministic(float(L)))
                for n, L in zip(names, leads)
            ),
        ),
        name="continuous-owmr",
        time="continuous",
    )
