"""Serial supply chain; defaults from Snyder & Shen, *Fundamentals of Supply Chain
Theory* (2nd ed.), Example 6.1 (the Clark-Scarf / Chen-Zheng model).

Three stages, numbered from downstream: stage 1 faces N(5, 1) demand per period
(continuous) and pays 37.12 per unit backordered per period; local holding costs
7, 4, 2; lead times 1, 1, 2 (stage 3 is supplied by an unlimited external
supplier).  Following the book, units in transit from a stage to its customer
are charged the shipping stage's local holding cost, orders are placed after the
period's demand (``order_timing="order-after-demand"``), upstream stages
backlog what they cannot ship, and decisions are sequential, downstream first
(``decisions="sequential"``): a stage orders after its customer's order of the
period is placed, as in the book and in stockpyl's simulator, so installation
base-stock at the local levels of the optimal echelon levels is the echelon
optimum (about 47.66 per period).  ``decisions="simultaneous"`` (the beer game's
convention) makes upstream stages see orders a period late.
"""

from __future__ import annotations

from typing import Literal

from des_supply.distributions import as_distribution
from des_supply.network import DECISIONS, Edge, Network, Node

from .registry import ScenarioError, register
from .single_stage import demand_distribution


@register("serial", periods=20_000, warmup=200)
def serial(
    holding: tuple[float, ...] = (7.0, 4.0, 2.0),
    lead_times: tuple[int, ...] = (1, 1, 2),
    stockout_cost: float = 37.12,
    demand: str = "normal_continuous",
    demand_mean: float = 5.0,
    demand_std: float = 1.0,
    decisions: Literal["simultaneous", "sequential"] = "sequential",
) -> Network:
    """Serial chain, stages numbered from downstream (Snyder & Shen Example 6.1).

    Parameters: holding (local holding cost per stage, comma list from downstream),
    lead_times (per stage, same order), stockout_cost (per unit backordered at stage 1
    per period), demand (normal_continuous|normal|poisson|...), demand_mean, demand_std,
    decisions (sequential, as in the book | simultaneous).
    Nodes are named stage1 (downstream) ... stageN and supplier.
    """
    if len(holding) != len(lead_times) or not holding:
        raise ScenarioError(f"holding has {len(holding)} stages, lead_times has {len(lead_times)}")
    n = len(holding)
    dist = demand_distribution(demand, demand_mean, demand_std)
    cont = not dist.integer
    nodes = [Node("supplier", kind="supply")]
    edges = []
    for i in range(n, 0, -1):
        local = holding[i - 1]
        start = demand_mean * lead_times[i - 1]
        nodes.append(
            Node(
                f"stage{i}",
                holding_cost=local,
                shortage_cost=stockout_cost if i == 1 else 0.0,
                demand=dist if i == 1 else None,
                initial_on_hand=start if cont else float(round(start)),
            )
        )
        upstream = "supplier" if i == n else f"stage{i + 1}"
        in_transit = 0.0 if i == n else holding[i]  # the shipping stage's local holding cost
        edges.append(
            Edge(
                upstream,
                f"stage{i}",
                lead_time=as_distribution(lead_times[i - 1]),
                transit_holding_cost=in_transit,
            )
        )
    if decisions not in DECISIONS:
        raise ScenarioError(f"decisions={decisions!r} is not one of {', '.join(DECISIONS)}")
    return Network(
        tuple(nodes),
        tuple(edges),
        name="serial",
        order_timing="order-after-demand",
        decisions=decisions,
    )
