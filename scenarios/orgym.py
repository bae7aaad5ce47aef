"""OR-Gym's InvManagement system (Hubbs et al. 2020, ``or_gym`` 0.5.0), backlog and lost sales.

A serial chain of three stocking stages and a raw-material source, numbered from
downstream as in OR-Gym: ``retailer`` (stage 0, faces Poisson(20) demand),
``distributor`` (1), ``manufacturer`` (2) and ``source`` (3, unlimited raw material).
Defaults are OR-Gym's ``InvManagementMasterEnv``: initial inventory 100, 100, 200; lead
times 3, 5, 10; production capacities 100, 90, 80 (what stages 1, 2, 3 can ship per
period); retail price 2; replenishment costs 1.5, 1.0, 0.75, 0.5; unfulfilled-demand
penalties 0.10, 0.075, 0.05, 0.025; holding costs 0.15, 0.10, 0.05; 30 periods;
discount factor 0.97.

Conventions, read from OR-Gym's ``_STEP``:

* **Ship before receipt** (``shipping_timing="ship-before-receipt"``): a supplier
  ships to its customer only from the stock it held at the start of the period;
  that period's receipts can be shipped the period after (they serve retail demand at
  once).
* **Production capacity caps shipments, backlog included**: a stage's
  ``shipping_capacity`` (the source's ``capacity``) bounds new orders plus the
  backlogged ones it ships per period; what it cannot ship is backlogged (re-requested
  next period, penalised every period it is owed) or lost, by the variant.
* **Simultaneous decisions**, orders before demand: all stages order at the start of a
  period, on the same state.  OR-Gym receives after ordering; the engine receives
  first, which leaves every inventory position, hence every order, unchanged.
* **Money.** OR-Gym's period profit is ``sum_i p_i S_i - r_i R_i - k_i U_i - h_i I_i``
  with the price of stage ``i`` equal to the replenishment cost of stage ``i-1``: every
  internal transfer cancels, so the network's profit is the retail revenue minus the
  source's cost ``r_3`` per unit it ships (the ``source -> manufacturer`` edge's unit
  cost), minus penalties on units owed at period end (backlog) or lost, minus holding
  on stock at period end.  OR-Gym's reward is that profit times ``0.97**t``
  (:data:`DISCOUNT`); the engine's ledger is undiscounted.
* Lost sales (``orgym-inventory-lost``) apply to replenishment orders too: what a
  supplier cannot ship is lost, with its penalty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from des_supply.distributions import Distribution, Poisson, Trace, as_distribution
from des_supply.network import Edge, Network, Node

from .registry import ScenarioError, register

#: OR-Gym's discount factor: its reward in period t is ``DISCOUNT**t`` times the profit.
DISCOUNT = 0.97
STAGES = ("retailer", "distributor", "manufacturer")


def _network(
    shortage: Literal["backlog", "lost"],
    initial_inventory: tuple[float, ...],
    price: float,
    unit_cost: tuple[float, ...],
    penalty: tuple[float, ...],
    holding: tuple[float, ...],
    capacity: tuple[float, ...],
    lead_times: tuple[int, ...],
    demand_mean: float,
    demand_trace: tuple[float, ...],
    name: str,
) -> Network:
    sizes = {
        "initial_inventory": len(initial_inventory),
        "holding": len(holding),
        "capacity": len(capacity),
        "lead_times": len(lead_times),
    }
    if set(sizes.values()) != {3} or len(unit_cost) != 4 or len(penalty) != 4:
        raise ScenarioError(
            f"OR-Gym's system has 3 stages and a source: initial_inventory, "
            f"holding, capacity and lead_times need 3 values, unit_cost and "
            f"penalty 4 (got {sizes}, unit_cost {len(unit_cost)}, "
            f"penalty {len(penalty)})"
        )
    demand: Distribution = (
        Trace(tuple(demand_trace), after="stop") if demand_trace else Poisson(demand_mean)
    )
    nodes = [
        Node(
            "source",
            kind="supply",
            shortage=shortage,
            shortage_cost=penalty[3],
            capacity=capacity[2],
        )
    ]
    edges = []
    upstream = "source"
    for i in (2, 1, 0):
        nodes.append(
            Node(
                STAGES[i],
                holding_cost=holding[i],
                shortage=shortage,
                shortage_cost=penalty[i],
                price=price if i == 0 else 0.0,
                initial_on_hand=initial_inventory[i],
                shipping_capacity=capacity[i - 1] if i else float("inf"),
                demand=demand if i == 0 else None,
            )
        )
        # internal transfers cancel (stage i's price is stage i-1's cost); the source's
        # production cost is paid per unit it ships
        edges.append(
            Edge(
                upstream,
                STAGES[i],
                lead_time=as_distribution(lead_times[i]),
                unit_cost=unit_cost[3] if upstream == "source" else 0.0,
            )
        )
        upstream = STAGES[i]
    return Network(
        tuple(nodes),
        tuple(edges),
        name=name,
        order_timing="order-before-demand",
        continuous=False,
        decisions="simultaneous",
        shipping_timing="ship-before-receipt",
    )


def _variant(shortage: Literal["backlog", "lost"], name: str, doc: str) -> Callable[..., Network]:
    """The scenario function of one variant (OR-Gym's defaults as keyword defaults)."""

    def build(
        initial_inventory: tuple[float, ...] = (100.0, 100.0, 200.0),
        price: float = 2.0,
        unit_cost: tuple[float, ...] = (1.5, 1.0, 0.75, 0.5),
        penalty: tuple[float, ...] = (0.10, 0.075, 0.05, 0.025),
        holding: tuple[float, ...] = (0.15, 0.10, 0.05),
        capacity: tuple[float, ...] = (100.0, 90.0, 80.0),
        lead_times: tuple[int, ...] = (3, 5, 10),
        demand_mean: float = 20.0,
        demand_trace: tuple[float, ...] = (),
    ) -> Network:
        return _network(
            shortage,
            initial_inventory,
            price,
            unit_cost,
            penalty,
            holding,
            capacity,
            lead_times,
            demand_mean,
            demand_trace,
            name,
        )

    build.__name__ = build.__qualname__ = name.replace("-", "_")
    build.__doc__ = doc
    return register(name, periods=30, warmup=0)(build)


orgym_inventory = _variant(
    "backlog",
    "orgym-inventory",
    """OR-Gym InvManagement with backlog (or_gym 0.5.0 defaults; ship-before-receipt).

    Parameters (stages from the retailer up, as in OR-Gym): initial_inventory (I0),
    price (p, retail), unit_cost (r, 4 values incl. the source), penalty (k, 4 values),
    holding (h), capacity (c: what stages 1, 2, 3 ship per period), lead_times (L),
    demand_mean (Poisson), demand_trace (fixed demands per period instead, e.g. OR-Gym's
    user_D).  OR-Gym discounts its reward by 0.97 per period; the ledger does not.
    """,
)
orgym_inventory_lost = _variant(
    "lost",
    "orgym-inventory-lost",
    """OR-Gym InvManagement with lost sales (unmet demand and replenishment orders lost).

    Parameters as for ``orgym-inventory``.
    """,
)
