"""A seeded random general network: layered DAG with multi-sourcing and stochastic lead times.

Layer 0 holds ``n_suppliers`` external suppliers; the other stocking nodes are
spread over ``n_layers`` layers.  Each node gets one supplier in the layer above
and, with probability ``extra_supplier_prob``, a second one from any layer above
(then it splits orders 50/50 or by priority, alternately).  Nodes in the last
layer face Poisson demand; lead times are 1 plus a Poisson(``lead_time_noise``)
delay; costs increase downstream.  The structure depends only on ``seed`` (the
simulation seed is separate).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from des_supply.distributions import Deterministic, Poisson, Shifted
from des_supply.network import Edge, Network, Node

from .registry import ScenarioError, register


@register("random-dag", periods=5_000, warmup=100)
def random_dag(
    n_nodes: int = 20,
    n_layers: int = 4,
    n_suppliers: int = 2,
    seed: int = 0,
    extra_supplier_prob: float = 0.3,
    lead_time_noise: float = 0.5,
    demand_mean: float = 5.0,
    shortage: Literal["backlog", "lost"] = "backlog",
) -> Network:
    """Seeded random layered DAG (general network) with multi-sourcing.

    Parameters: n_nodes (stocking nodes), n_layers, n_suppliers (external), seed
    (structure), extra_supplier_prob, lead_time_noise (mean of the Poisson delay added
    to 1 period; 0 = deterministic), demand_mean (per sink node), shortage (backlog|lost).
    """
    if n_layers < 1 or n_nodes < n_layers:
        raise ScenarioError(f"need 1 <= n_layers(={n_layers}) <= n_nodes(={n_nodes})")
    if n_suppliers < 1:
        raise ScenarioError(f"n_suppliers(={n_suppliers}) must be >= 1")
    if not 0 <= extra_supplier_prob <= 1:
        raise ScenarioError(f"extra_supplier_prob(={extra_supplier_prob}) must be in [0, 1]")
    if shortage not in ("lost", "backlog"):
        raise ScenarioError(f"shortage(={shortage!r}) must be 'lost' or 'backlog'")
    rng = np.random.default_rng(seed)
    layers = [[f"supplier{i}" for i in range(1, n_suppliers + 1)]]
    sizes = np.full(n_layers, n_nodes // n_layers)
    sizes[: n_nodes % n_layers] += 1
    k = 0
    for size in sizes:
        layers.append([f"n{k + j}" for j in range(size)])
        k += size
    lead = Shifted(Poisson(lead_time_noise), 1) if lead_time_noise > 0 else Deterministic(1)
    nodes = [Node(name, kind="supply") for name in layers[0]]
    edges: list[Edge] = []
    for depth, layer in enumerate(layers[1:], start=1):
        sink = depth == len(layers) - 1
        for j, name in enumerate(layer):
            parents = [str(rng.choice(layers[depth - 1]))]
            if depth > 1 and rng.random() < extra_supplier_prob:
                above = [p for lay in layers[:depth] for p in lay if p not in parents]
                parents.append(str(rng.choice(above)))
            rule: Literal["split", "priority"] | None = (
                None if len(parents) == 1 else ("split" if j % 2 == 0 else "priority")
            )
            nodes.append(
                Node(
                    name,
                    holding_cost=0.5 + 0.5 * depth,
                    shortage_cost=10.0 if sink else 1.0,
                    shortage=shortage,
                    demand=Poisson(demand_mean) if sink else None,
                    supply_rule=rule,
                    initial_on_hand=float(round(demand_mean * 3)),
                )
            )
            for i, p in enumerate(parents):
                edges.append(
                    Edge(
                        p,
                        name,
                        lead_time=lead,
                        unit_cost=0.1 * depth,
                        share=0.5 if rule == "split" else None,
                        priority=i,
                    )
                )
    return Network(tuple(nodes), tuple(edges), name="random-dag")
