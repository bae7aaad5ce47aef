"""Assembly network: two components, one assembly plant, one retailer.

Component plants A and B are supplied externally (lead times 2 and 3); the
assembly plant needs 1 unit of A and 2 units of B per product (bill of
materials on the edges) and its components wait in an input buffer, charged a
holding cost, until a complete kit is there; the retailer faces Poisson demand
and backlogs.  A textbook-style instance, not a published one.
"""

from __future__ import annotations

from des_supply.distributions import as_distribution
from des_supply.network import Edge, Network, Node

from .registry import register
from .single_stage import demand_distribution


@register("assembly", periods=20_000, warmup=200)
def assembly(
    demand: str = "poisson",
    demand_mean: float = 5.0,
    penalty: float = 19.0,
    bom_a: float = 1.0,
    bom_b: float = 2.0,
    lead_time_a: int = 2,
    lead_time_b: int = 3,
    assembly_lead_time: int = 1,
) -> Network:
    """Two components -> assembly plant -> retailer (bill of materials on edges).

    Parameters: demand, demand_mean, penalty (retailer backorder cost), bom_a, bom_b
    (component units per product), lead_time_a, lead_time_b, assembly_lead_time.
    Nodes: supplier, component_a, component_b, plant, retailer.
    """
    dist = demand_distribution(demand, demand_mean)
    m = demand_mean
    return Network(
        nodes=(
            Node("supplier", kind="supply"),
            Node("component_a", holding_cost=0.2, initial_on_hand=round(bom_a * m * lead_time_a)),
            Node("component_b", holding_cost=0.1, initial_on_hand=round(bom_b * m * lead_time_b)),
            Node(
                "plant",
                holding_cost=0.6,
                supply_rule="assembly",
                initial_on_hand=round(m * assembly_lead_time),
            ),
            Node(
                "retailer",
                holding_cost=1.0,
                shortage_cost=penalty,
                demand=dist,
                initial_on_hand=round(2 * m),
            ),
        ),
        edges=(
            Edge("supplier", "component_a", lead_time=as_distribution(lead_time_a)),
            Edge("supplier", "component_b", lead_time=as_distribution(lead_time_b)),
            Edge(
                "component_a",
                "plant",
                lead_time=as_distribution(0),
                bom=bom_a,
                transit_holding_cost=0.2,
            ),
            Edge(
                "component_b",
                "plant",
                lead_time=as_distribution(0),
                bom=bom_b,
                transit_holding_cost=0.1,
            ),
            Edge(
                "plant",
                "retailer",
                lead_time=as_distribution(assembly_lead_time),
                transit_holding_cost=0.6,
            ),
        ),
        name="assembly",
    )
