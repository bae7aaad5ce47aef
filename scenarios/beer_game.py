"""The beer game: a four-stage serial chain (retailer, wholesaler, distributor, factory).

Classic settings after Sterman (1989), "Modeling managerial behavior", Management
Science 35(3): holding 0.5 and backorder 1.0 per case and week at every stage,
two weeks of shipping delay between stages and of production delay at the
factory, 12 cases on hand and 4 cases arriving in each of the next two weeks at
the start.  Customer demand is 4 cases a week, stepping to 8 from week 5
(``demand="step"``), or Poisson with mean ``demand_mean``.  Orders reach the
supplier at once (the game's two-week order-mailing delay is not modelled); they
are placed after the week's demand.
"""

from __future__ import annotations

from des_supply.distributions import Distribution, Poisson, Trace, as_distribution
from des_supply.network import Edge, Network, Node

from .registry import ScenarioError, register

STAGES = ("retailer", "wholesaler", "distributor", "factory")


@register("beer-game", periods=52, warmup=0)
def beer_game(
    demand: str = "step",
    demand_mean: float = 8.0,
    holding: float = 0.5,
    backorder: float = 1.0,
    lead_time: int = 2,
    initial_on_hand: float = 12.0,
) -> Network:
    """Four-stage beer game (Sterman 1989 costs and start).

    Parameters: demand (step|poisson), demand_mean (poisson mean), holding, backorder
    (per case per week at every stage), lead_time (shipping and production delay),
    initial_on_hand.
    """
    dist: Distribution
    if demand == "step":
        dist = Trace((4.0,) * 4 + (8.0,), after="hold")
    elif demand == "poisson":
        dist = Poisson(demand_mean)
    else:
        raise ScenarioError(f"demand(={demand!r}) must be 'step' or 'poisson'")
    pipeline = (4.0,) * lead_time
    nodes = [Node("brewery", kind="supply")]
    edges = []
    for i, name in enumerate(reversed(STAGES)):
        nodes.append(
            Node(
                name,
                holding_cost=holding,
                shortage_cost=backorder,
                initial_on_hand=initial_on_hand,
                initial_pipeline=pipeline,
                demand=dist if name == "retailer" else None,
            )
        )
        upstream = "brewery" if i == 0 else STAGES[len(STAGES) - i]
        edges.append(Edge(upstream, name, lead_time=as_distribution(lead_time)))
    return Network(tuple(nodes), tuple(edges), name="beer-game", order_timing="order-after-demand")
