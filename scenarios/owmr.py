"""One warehouse, N retailers (distribution network), backlogged demand.

A warehouse is supplied by an unlimited external supplier and ships to N
identical retailers, each facing Poisson demand; retailers backlog unmet demand
and pay a penalty per unit per period; the warehouse backlogs retailer orders it
cannot ship (first come first served; within a period retailers are served in
name order).  The defaults are a textbook-style instance, not a published one.
"""

from __future__ import annotations

from des_supply.distributions import as_distribution
from des_supply.network import Edge, Network, Node

from .registry import ScenarioError, register
from .single_stage import demand_distribution


@register("owmr", periods=20_000, warmup=200)
def owmr(
    n_retailers: int = 3,
    warehouse_lead_time: int = 2,
    retailer_lead_time: int = 1,
    warehouse_holding: float = 0.5,
    retailer_holding: float = 1.0,
    penalty: float = 9.0,
    demand: str = "poisson",
    demand_mean: float = 5.0,
) -> Network:
    """One warehouse, N retailers with Poisson demand and backlog.

    Parameters: n_retailers, warehouse_lead_time, retailer_lead_time, warehouse_holding,
    retailer_holding, penalty (retailer backorder cost), demand, demand_mean.
    Nodes: supplier, warehouse, retailer1..retailerN.
    """
    if n_retailers < 1:
        raise ScenarioError(f"n_retailers(={n_retailers}) must be >= 1")
    dist = demand_distribution(demand, demand_mean)
    nodes = [
        Node("supplier", kind="supply"),
        Node(
            "warehouse",
            holding_cost=warehouse_holding,
            initial_on_hand=float(round(n_retailers * demand_mean * warehouse_lead_time)),
        ),
    ]
    edges = [Edge("supplier", "warehouse", lead_time=as_distribution(warehouse_lead_time))]
    for i in range(1, n_retailers + 1):
        name = f"retailer{i}"
        nodes.append(
            Node(
                name,
                holding_cost=retailer_holding,
                shortage_cost=penalty,
                demand=dist,
                initial_on_hand=float(round(demand_mean * (retailer_lead_time + 1))),
            )
        )
        edges.append(Edge("warehouse", name, lead_time=as_distribution(retailer_lead_time)))
    return Network(tuple(nodes), tuple(edges), name="owmr")
