"""Dual sourcing: one stocking node, a regular (slow, cheap) and an expedited (fast, dear)
supplier, backlog, i.i.d. discrete demand.

The instance family is the one of Gijsbrechts, Boute, Van Mieghem & Zhang (2022), "Can
deep reinforcement learning improve inventory management? Performance on lost sales,
dual-sourcing and multi-echelon problems", Manufacturing & Service Operations Management
24(3), section on dual sourcing (their instances follow Sun & Van Mieghem 2019, "Robust
dual sourcing inventory management: optimality of capped dual index policies and smoothing",
M&SOM 21(4)), and is also the one of Böttcher, Asikis & Fragkos (2023), "Control of
dual-sourcing inventory systems using recurrent neural networks", INFORMS Journal on
Computing 35(6) (archive github.com/INFORMSJoC/2022.0136, whose README and parameter files
give ``h=5, b=495, cr=0, le=0`` and ``ce`` in 5, 10, 20, ``lr`` in 2, 3, 4):

==============================  =========  ==================================================
parameter                       default    source / meaning
==============================  =========  ==================================================
``regular_lead`` [l_r]          2          {2, 3, 4} in the grid (periods)
``expedited_lead`` [l_e]        0          0 in the grid (periods; arrives before demand)
``regular_cost`` [c_r]          0          0 (per unit; only c_e - c_r matters)
``expedited_cost`` [c_e]        20         c_e - c_r in {5, 10, 20}
``holding`` [h]                 5          5 (per unit on hand at period end)
``backorder`` [b]               495        495 (per unit backlogged at period end)
``demand_low``, ``demand_high`` 0, 4       demand uniform on {0, ..., 4}
==============================  =========  ==================================================

Order of events in a period (the engine's ``order-before-demand``, the papers' timing):
the orders placed l_r (regular) and l_e (expedited) periods ago arrive; both orders are
placed (an expedited order with l_e = 0 arrives at once); demand is met or backlogged;
cost = c_r q_r + c_e q_e + h (on hand at end) + b (backlog at end).  Unit costs sit on the
supplier edges (``Edge.unit_cost``), paid per unit shipped.  The node has
``supply_rule="choice"``: a policy answers ``{"store": {"regular": q_r, "expedited": q_e}}``
(:mod:`des_supply.sourcing_policies`).
"""

from __future__ import annotations

from des_supply.distributions import Deterministic, DiscreteUniform
from des_supply.network import Edge, Network, Node

from .registry import ScenarioError, register

#: The grid of Gijsbrechts et al. (2022): regular lead times and expedited-regular cost gaps.
GRID_LEADS = (2, 3, 4)
GRID_COSTS = (5.0, 10.0, 20.0)


@register("dual-sourcing", periods=20_000, warmup=200)
def dual_sourcing(
    regular_lead: int = 2,
    expedited_lead: int = 0,
    regular_cost: float = 0.0,
    expedited_cost: float = 20.0,
    holding: float = 5.0,
    backorder: float = 495.0,
    demand_low: int = 0,
    demand_high: int = 4,
) -> Network:
    """Dual sourcing, regular vs expedited supplier, backlog (Gijsbrechts et al. 2022 grid).

    Parameters: regular_lead, expedited_lead (periods, expedited_lead < regular_lead),
    regular_cost, expedited_cost (per unit), holding, backorder (per unit and period),
    demand_low, demand_high (demand uniform on {low..high}).  Defaults: l_r=2, l_e=0,
    c_r=0, c_e=20, h=5, b=495, demand U{0..4}.
    """
    if not 0 <= expedited_lead < regular_lead:
        raise ScenarioError(
            f"dual sourcing needs 0 <= expedited_lead(={expedited_lead}) < "
            f"regular_lead(={regular_lead})"
        )
    if not 0 <= demand_low <= demand_high:
        raise ScenarioError(
            f"demand_low(={demand_low}) and demand_high(={demand_high}) must satisfy "
            "0 <= low <= high"
        )
    mean = (demand_low + demand_high) / 2
    return Network(
        nodes=(
            Node("regular", kind="supply"),
            Node("expedited", kind="supply"),
            Node(
                "store",
                holding_cost=holding,
                shortage="backlog",
                shortage_cost=backorder,
                demand=DiscreteUniform(demand_low, demand_high),
                supply_rule="choice",
                initial_on_hand=float(round(mean * (regular_lead + 1))),
            ),
        ),
        edges=(
            Edge("regular", "store", Deterministic(regular_lead), unit_cost=regular_cost),
            Edge("expedited", "store", Deterministic(expedited_lead), unit_cost=expedited_cost),
        ),
        name="dual-sourcing",
    )
