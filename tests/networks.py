"""Small networks and settings shared by several test modules (tests/ is on sys.path)."""

from __future__ import annotations

from des_supply import Edge, Network, Node, Poisson
from des_supply.distributions import Shifted

#: Short settings of optimization.search.search_base_stock: the searches are tested in
#: tests/optimization; elsewhere they only have to run.
TINY_SEARCH = {
    "periods": 300,
    "warmup": 50,
    "replications": 1,
    "refine_nodes": 0,
    "factors": (0.8, 1.2, 1.7),
}
#: optimize's search on collaborative problems, cut down for tests of what uses it
TINY_COLLABORATIVE = {
    "periods": 40,
    "replications": 1,
    "price_factors": (1.0,),
    "multipliers": (1.0, 1.5),
}


def two_echelon() -> Network:
    """A plant, a DC and two stores with stochastic lead times, built in Python."""
    lead = Shifted(Poisson(0.5), 1)
    return Network(
        nodes=(
            Node("plant", kind="supply"),
            Node("dc", holding_cost=0.5, initial_on_hand=20.0),
            Node("a", holding_cost=1.0, shortage_cost=9.0, demand=Poisson(4), initial_on_hand=8.0),
            Node("b", holding_cost=1.0, shortage_cost=9.0, demand=Poisson(6), initial_on_hand=12.0),
        ),
        edges=(
            Edge("plant", "dc", lead_time=2),
            Edge("dc", "a", lead_time=lead),
            Edge("dc", "b", lead_time=lead),
        ),
        name="two-echelon",
    )
