"""Reference runs of SupplyNetPy, produced by SupplyNetPy itself.

Run once in the peer venv (SupplyNetPy 0.5.1 on SimPy 4.1.2; never a project dependency):

    PEERS=/tmp/peers bash ../shared/peers/install-peers.sh
    /tmp/peers/venv/bin/python tests/reference/make_supplynetpy_reference.py

SupplyNetPy is a continuous-time SimPy simulator.  Each case below builds a small network
with its classes (``Supplier`` of type ``infinite_supplier`` -> ``InventoryNode`` ... ->
``Demand``), runs it for ``horizon`` time units and records, per time unit [k, k+1) and
stocking node, what SupplyNetPy reports: inventory level at the end (``on_hand``), units
owed to waiting customers and sites (``backlog``, its ``stats.backorder``), inventory
position (``node.position()``), units and number of replenishment orders placed
(``stats.demand_placed``), units received (``fulfillment_received``), customer units
delivered (``demand_fulfilled``) and lost (``lost_sales``), the integral of the inventory
level over the time unit (``Inventory.level_time``; times the holding cost it is
SupplyNetPy's ``inventory_carry_cost``) and the per-order link cost
(``transportation_cost``).  It also records every replenishment order as
``(time, node, units)`` (from ``LinkStatistics.record_order``).  State is read with
``env.run(until=k + 1)``, which stops before any event at time k + 1, so an event at a
bucket's end counts in the next bucket, as in ``des_supply.continuous``.

Inputs, all recorded in the JSON: the customers' times and sizes (drawn here with numpy's
PCG64; ``Demand`` gets them as ``order_arrival_model`` / ``order_quantity_model``
callables returning the next gap and size), and for random lead times every draw the
link made, in the order it made them (``Link`` calls ``lead_time()`` once per shipment,
when the units leave the supplier).  Calls the constructors make only to validate the
callables are not part of the run and are discarded.

Cases: one retailer under (s, S) or (R, Q), backlog or lost sales, reviewed at each drop
or every time unit, one customer a time unit or customers at exponential gaps, fixed or
U(1, 4) lead times, long stockouts; a distributor and a retailer reviewed at each drop or
every time unit; and two cases for the differences the tests state (lead time 1, a
distributor short of whole orders).

Conventions used (and mapped in ``test_supplynetpy.py``): continuous review on each
inventory drop (``period`` 0) or every ``period`` time units; backlog = customers with an
infinite ``tolerance`` taking partial deliveries (``order_min_split_ratio`` 1e-9); lost
sales = ``consume_available`` with no tolerance; capacities far above any order.

Output: ``tests/reference/data/supplynetpy_reference.json``.
"""

from __future__ import annotations

import itertools
import json
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import simpy
import SupplyNetPy.Components as scm

OUT = Path(__file__).with_name("data") / "supplynetpy_reference.json"
CAPACITY = 100_000  # far above any order: SupplyNetPy cuts orders to capacity - position
SPLIT = 1e-9  # smallest partial delivery a waiting customer accepts: any unit


def site(
    name: str, supplier: str, initial: float, h: float, k: float, lead: Any, **policy: Any
) -> dict[str, Any]:
    """One stocking node: its supplier, initial stock, holding cost h [per unit per time
    unit], cost k per order (on its link), lead time and replenishment policy."""
    return {
        "name": name,
        "supplier": supplier,
        "initial": initial,
        "holding_cost": h,
        "order_cost": k,
        "lead_time": lead,
        "policy": {"period": 0} | policy,
    }


def make_case(
    name: str, description: str, shortage: str, seed: int, gap: Any, size: float, *nodes: Any
) -> dict[str, Any]:
    """A case: customers at the last node every ``gap`` time units (or exponential gaps,
    ``"exponential mean"``) asking 1 + Poisson(size) units, from PCG64 seed ``seed``."""
    return {
        "name": name,
        "description": description,
        "horizon": 60 if gap == DAILY else 80,
        "shortage": shortage,
        "customers": {"seed": seed, "gap": gap, "size": size},
        "nodes": list(nodes),
    }


# The stocking nodes upstream first (each with its one supplier; SupplyNetPy runs reviews
# due at the same instant in the order the nodes were built); lead times a number or
# "uniform a b" (real draws).  Daily customers: gap 1.0; else "exponential mean".
DAILY, RANDOM = 1.0, "exponential 0.5"
DISTRIBUTOR = site("distributor", "supplier", 150, 0.2, 20.0, 3, kind="ss", s=80, S=200)
RETAILER = site("retailer", "distributor", 40, 0.5, 5.0, 2, kind="ss", s=15, S=45)
SS_BACKLOG = RETAILER | {"supplier": "supplier"}
RQ_LOST = site("retailer", "supplier", 30, 0.5, 5.0, 3, kind="rq", R=25, Q=40)
SS_RANDOM = site("retailer", "supplier", 30, 1.0, 2.0, "uniform 1 4", kind="ss", s=20, S=50)


def review1(node: dict[str, Any]) -> dict[str, Any]:
    """The same node reviewing every time unit instead of at each drop."""
    return node | {"policy": node["policy"] | {"period": 1}}


CASES: list[dict[str, Any]] = [
    make_case(
        "retailer-ss-backlog",
        "one retailer, (s, S) at each drop, backlog, lead time 2, daily customers",
        "backlog",
        1,
        DAILY,
        9,
        SS_BACKLOG,
    ),
    make_case(
        "retailer-rq-lost",
        "one retailer, (R, Q) at each drop, lost sales, lead time 3, daily customers",
        "lost",
        2,
        DAILY,
        9,
        RQ_LOST,
    ),
    make_case(
        "retailer-ss-stockouts",
        "one retailer, (s, S) at each drop, backlog, lead time 5: long stockouts",
        "backlog",
        6,
        DAILY,
        9,
        site("retailer", "supplier", 20, 0.5, 5.0, 5, kind="ss", s=10, S=40),
    ),
    make_case(
        "retailer-ss-review1",
        "one retailer, (s, S) every time unit, backlog, lead time 3, daily customers",
        "backlog",
        7,
        DAILY,
        9,
        review1(site("retailer", "supplier", 30, 0.5, 5.0, 3, kind="ss", s=35, S=70)),
    ),
    make_case(
        "retailer-rq-lost-review1",
        "one retailer, (R, Q) every time unit, lost sales, lead time 2, daily customers",
        "lost",
        8,
        DAILY,
        9,
        review1(RQ_LOST | {"lead_time": 2}),
    ),
    make_case(
        "retailer-ss-random",
        "one retailer, (s, S) at each drop, backlog, random lead times U(1, 4), customers "
        "at exponential gaps (mean 0.5) asking 1 + Poisson(3)",
        "backlog",
        3,
        RANDOM,
        3,
        SS_RANDOM,
    ),
    make_case(
        "retailer-ss-random-review1",
        "one retailer, (s, S) every time unit, backlog, lead time 2, customers at "
        "exponential gaps (mean 0.5) asking 1 + Poisson(3)",
        "backlog",
        4,
        RANDOM,
        3,
        review1(SS_RANDOM | {"lead_time": 2, "policy": SS_RANDOM["policy"] | {"s": 25}}),
    ),
    make_case(
        "two-echelon",
        "distributor -> retailer, (s, S) at both at each drop, backlog, lead times 3 and 2, "
        "daily customers; the distributor never lacks a whole order",
        "backlog",
        5,
        DAILY,
        9,
        DISTRIBUTOR,
        RETAILER,
    ),
    make_case(
        "two-echelon-review1",
        "as two-echelon, both nodes reviewing every time unit (the distributor first)",
        "backlog",
        9,
        DAILY,
        9,
        review1(DISTRIBUTOR),
        review1(RETAILER),
    ),
    make_case(
        "retailer-rq-lost-lead1",
        "as retailer-rq-lost with lead time 1: an order placed at t arrives at t + 1 after "
        "the customer of t + 1",
        "lost",
        2,
        DAILY,
        9,
        RQ_LOST | {"lead_time": 1, "policy": RQ_LOST["policy"] | {"R": 10, "Q": 30}},
    ),
    make_case(
        "two-echelon-short",
        "as two-echelon with a distributor too small to fill every order whole: SupplyNetPy "
        "ships an order only whole, after the units for all of it are there",
        "backlog",
        5,
        DAILY,
        9,
        DISTRIBUTOR | {"initial": 50, "policy": {"kind": "ss", "s": 20, "S": 70, "period": 0}},
        RETAILER,
    ),
]


def customers(spec: dict[str, Any], horizon: float) -> tuple[list[float], list[float]]:
    """Customer times (the first at 0, as SupplyNetPy's ``Demand``) and sizes (1 + Poisson)."""
    rng = np.random.default_rng(spec["seed"])
    times, t = [], 0.0
    while t < horizon:
        times.append(t)
        gap = spec["gap"]
        t += (
            float(gap)
            if not isinstance(gap, str)
            else float(rng.exponential(float(gap.split()[1])))
        )
    sizes = (1 + rng.poisson(spec["size"], len(times))).astype(float).tolist()
    return times, sizes


class Replay:
    """A zero-argument callable returning successive values (what SupplyNetPy calls)."""

    def __init__(self, values: list[float]) -> None:
        self.values, self.i = values, 0

    def __call__(self) -> float:
        value = self.values[min(self.i, len(self.values) - 1)]
        self.i += 1
        return value


class Draws:
    """A lead-time callable drawing U(a, b) from its own generator and keeping each draw."""

    def __init__(self, seed: int, low: float, high: float) -> None:
        self.rng, self.low, self.high, self.drawn = np.random.default_rng(seed), low, high, []

    def __call__(self) -> float:
        value = float(self.rng.uniform(self.low, self.high))
        self.drawn.append(value)
        return value


def run(case: dict[str, Any]) -> dict[str, Any]:
    env = simpy.Environment()
    horizon = case["horizon"]
    times, sizes = customers(case["customers"], horizon)
    gaps = [b - a for a, b in itertools.pairwise(times)] + [float(horizon)]
    supplier = scm.Supplier(
        env=env, ID="supplier", name="supplier", node_type="infinite_supplier", logging=False
    )
    sites: dict[str, Any] = {"supplier": supplier}
    links, draws, orders = {}, {}, []
    for k, spec in enumerate(case["nodes"]):
        policy = spec["policy"]
        if policy["kind"] == "ss":
            cls, params = scm.SSReplenishment, {"s": policy["s"], "S": policy["S"]}
        else:
            cls, params = scm.RQReplenishment, {"R": policy["R"], "Q": policy["Q"]}
        if policy["period"]:
            params["period"] = policy["period"]
        node = scm.InventoryNode(
            env=env,
            ID=spec["name"],
            name=spec["name"],
            node_type="distributor" if spec is not case["nodes"][-1] else "retailer",
            capacity=CAPACITY * (len(case["nodes"]) - k),
            initial_level=spec["initial"],
            inventory_holding_cost=spec["holding_cost"],
            replenishment_policy=cls,
            policy_param=params,
            product_sell_price=0,
            product_buy_price=0,
            logging=False,
        )
        lead = spec["lead_time"]
        if isinstance(lead, str):
            _, low, high = lead.split()
            lead = draws[spec["name"]] = Draws(100 + k, float(low), float(high))
        link = scm.Link(
            env=env,
            ID=f"{spec['supplier']}-{spec['name']}",
            source=sites[spec["supplier"]],
            sink=node,
            cost=spec["order_cost"],
            lead_time=lead,
        )
        record = link.stats.record_order
        link.stats.record_order = lambda q, name=spec["name"], record=record: (
            orders.append([env.now, name, q]),
            record(q),
        )[1]
        sites[spec["name"]], links[spec["name"]] = node, link
    retailer = sites[case["nodes"][-1]["name"]]
    backlog = case["shortage"] == "backlog"
    demand = scm.Demand(
        env=env,
        ID="customers",
        name="customers",
        order_arrival_model=Replay(gaps),
        order_quantity_model=Replay(sizes),
        demand_node=retailer,
        tolerance=float("inf") if backlog else 0.0,
        order_min_split_ratio=SPLIT if backlog else 1.0,
        consume_available=not backlog,
        logging=False,
    )
    # the constructors called the callables once to validate them: start the run afresh
    demand.order_arrival_model.i = demand.order_quantity_model.i = 0
    for d in draws.values():
        d.drawn.clear()

    names = [spec["name"] for spec in case["nodes"]]
    rows: dict[str, dict[str, list[float]]] = {n: {} for n in names}
    last: dict[str, dict[str, float]] = {n: {} for n in names}
    for k in range(horizon):
        env.run(until=k + 1)
        for n in names:
            node = sites[n]
            inv, st = node.inventory, node.stats
            level_time = inv.level_time + inv.inventory.level * (env.now - inv.last_update_t)
            totals = {
                "ordered": st.demand_placed[1],
                "orders": st.demand_placed[0],
                "received": st.fulfillment_received[1],
                "delivered": st.demand_fulfilled[1],
                "lost": st.lost_sales[1],
                "level_time": level_time,
                "transport_cost": st.transportation_cost,
            }
            row = {
                "on_hand": inv.inventory.level,
                "backlog": st.backorder[1],
                "position": node.position(),
                **{key: value - last[n].get(key, 0.0) for key, value in totals.items()},
            }
            last[n] = totals
            for key, value in row.items():
                rows[n].setdefault(key, []).append(float(value))
    short = {n: sites[n].stats.shortage[1] for n in names}
    return {
        **{key: case[key] for key in ("name", "description", "horizon", "shortage")},
        "nodes": [
            {key: value for key, value in spec.items() if key != "lead_time"}
            | {"lead_time": spec["lead_time"] if not isinstance(spec["lead_time"], str) else None}
            for spec in case["nodes"]
        ],
        "customers": {"times": times, "sizes": sizes},
        "lead_time_draws": {n: d.drawn for n, d in draws.items()},
        "record": rows,
        "orders": orders,
        "shortage_units": short,
    }


def main() -> None:
    warnings.simplefilter("ignore", UserWarning)  # SupplyNetPy's notes on unused features
    scm.global_logger.disable_logging()
    data = {
        "source": "SupplyNetPy (Components API), run by tests/reference/make_supplynetpy_reference.py",
        "versions": {"supplynetpy": version("supplynetpy"), "simpy": version("simpy")},
        "cases": [run(case) for case in CASES],
    }
    OUT.write_text(json.dumps(data) + "\n")
    for case in data["cases"]:
        print(
            case["name"], "orders:", len(case["orders"]), "shortage units:", case["shortage_units"]
        )
    print("wrote", OUT.name)


if __name__ == "__main__":
    main()
