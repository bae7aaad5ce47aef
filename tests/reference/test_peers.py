"""Peer simulators reproduced: OR-Gym's InvManagement and stockpyl's Snyder & Shen Example 6.1.

The reference data in ``tests/reference/data/`` was produced once by the peers themselves
(``make_orgym_trajectories.py``, ``make_stockpyl_example_6_1.py``, run in the scratch venv of
``../shared/peers/install-peers.sh``); neither peer is a dependency of the project.

* OR-Gym 0.5.0 (Hubbs et al. 2020, ``InvManagementMasterEnv``), backlog and lost sales,
  fixed demand traces, installation base-stock at two level sets, constant and random
  orders: the ``orgym-inventory`` scenarios match every period exactly (sales and
  shipments per stage, stock on hand, orders, unfulfilled units and the discounted
  profit OR-Gym rewards).
* stockpyl 1.0.2 (``sim.run_multiple_trials`` on ``example_6_1``): installation
  base-stock at the local levels of the optimal echelon levels.  Under sequential
  decisions (the ``serial`` scenario's default) our estimate lies within stockpyl's 95 %
  confidence interval and agrees with the Clark-Scarf optimum, and installation equals
  echelon base-stock.

SupplyNetPy 0.5.1 (continuous-time SimPy) is reproduced in ``test_supplynetpy.py``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

import scenarios
from des_supply import BaseStock, EchelonBaseStock, Simulation
from des_supply.evaluate import simulate
from optimization.serial import serial_base_stock
from scenarios.orgym import DISCOUNT, STAGES

DATA = Path(__file__).with_name("data")
ORGYM = json.loads((DATA / "orgym_trajectories.json").read_text())
STOCKPYL = json.loads((DATA / "stockpyl_example_6_1.json").read_text())
SHIPPERS = ("distributor", "manufacturer", "source")  # OR-Gym's stages 1, 2, 3


class Replay:
    """Place the recorded orders of each period (OR-Gym's actions)."""

    def __init__(self, actions: list[list[int]]) -> None:
        self.actions = actions

    def act(self, obs):
        row = self.actions[obs.t]
        return {n: float(row[i]) for i, n in enumerate(STAGES) if n in obs.deciding}


def _orgym_run(run: dict, shipping_timing: str | None = None):
    name = "orgym-inventory" if run["backlog"] else "orgym-inventory-lost"
    problem = scenarios.make(name, demand_trace=tuple(run["demand"]))
    net = problem.network
    if shipping_timing is not None:
        net = dataclasses.replace(net, shipping_timing=shipping_timing)
    levels = ORGYM["levels"].get(run["rule"])
    policy = BaseStock(dict(zip(STAGES, map(float, levels)))) if levels else Replay(run["action"])
    return Simulation(net, len(run["demand"]), seed=0).run(policy)


IDS = [
    f"{'backlog' if r['backlog'] else 'lost'}-{r['rule']}-{i}" for i, r in enumerate(ORGYM["runs"])
]


@pytest.mark.parametrize("run", ORGYM["runs"], ids=IDS)
def test_orgym_trajectories_are_matched_period_by_period(run):
    ledger = _orgym_run(run)
    periods = len(run["demand"])
    sold = np.column_stack(
        [ledger.column("sales", "retailer")] + [ledger.column("shipped", n) for n in SHIPPERS]
    )
    np.testing.assert_array_equal(sold, run["S"])
    np.testing.assert_array_equal(
        np.column_stack([ledger.column("on_hand", n) for n in STAGES]), run["I"]
    )
    np.testing.assert_array_equal(
        np.column_stack([ledger.column("ordered", n) for n in STAGES]), run["action"]
    )
    owed = "backlog" if run["backlog"] else "lost"
    unfulfilled = np.column_stack([ledger.column(owed, n) for n in (*STAGES[:1], *SHIPPERS)])
    np.testing.assert_array_equal(unfulfilled, run["U"])
    assert run["discount"] == DISCOUNT
    profit = ledger.profit() * DISCOUNT ** np.arange(periods)
    np.testing.assert_allclose(profit, run["P"], rtol=0, atol=1e-9)


def test_orgym_reference_exercises_capacities_and_the_timing_convention():
    """The data is not trivial: production capacities bind in some runs, and with
    receive-then-ship (receipts shippable at once) the profits differ from OR-Gym's."""
    short = [_orgym_run(r)["capacity_short"].sum() for r in ORGYM["runs"]]
    assert sum(s > 0 for s in short) >= 4
    differ = 0
    for run in ORGYM["runs"]:
        other = _orgym_run(run, shipping_timing="receive-then-ship")
        profit = other.profit() * DISCOUNT ** np.arange(len(run["demand"]))
        differ += not np.allclose(profit, run["P"], atol=1e-9)
    assert differ >= len(ORGYM["runs"]) // 2


# -- stockpyl: Snyder & Shen Example 6.1 ---------------------------------------------------------


def _example_6_1(decisions: str, policy, replications: int = 4, periods: int = 10_000):
    problem = scenarios.make("serial", decisions=decisions)
    return simulate(problem, policy, periods=periods, warmup=200, replications=replications, seed=5)


def test_example_6_1_data_is_stockpyl_instance():
    assert STOCKPYL["policy"] == ["BS", "BS", "BS"]
    assert STOCKPYL["local_holding_cost"] == [7, 4, 2] and STOCKPYL["stockout_cost"] == 37.12
    assert STOCKPYL["shipment_lead_time"] == [1, 1, 2]
    optimum = serial_base_stock((7, 4, 2), (1, 1, 2), 37.12, 5.0, "normal", 1.0)
    np.testing.assert_allclose(STOCKPYL["local_levels"], optimum.local_levels, atol=0.006)


def test_example_6_1_installation_equals_echelon_under_sequential_decisions():
    """Installation base-stock at stockpyl's local levels costs what echelon base-stock at
    the optimal echelon levels costs (same runs: equal to rounding), about 47.66
    (Clark-Scarf), within stockpyl's own confidence interval."""
    local = dict(zip(("stage1", "stage2", "stage3"), STOCKPYL["local_levels"]))
    echelon = dict(zip(local, np.cumsum(STOCKPYL["local_levels"]).tolist()))
    inst = _example_6_1("sequential", BaseStock(local))
    ech = _example_6_1("sequential", EchelonBaseStock(echelon))
    np.testing.assert_allclose(inst.per_replication, ech.per_replication, rtol=1e-9)
    se = (inst.ci95[1] - inst.ci95[0]) / (2 * 1.96)
    optimum = serial_base_stock((7, 4, 2), (1, 1, 2), 37.12, 5.0, "normal", 1.0).expected_cost
    assert abs(inst.mean - optimum) < 4 * se + 0.05  # 0.05: the optimizer's lattice
    theirs, their_se = STOCKPYL["mean_cost"], STOCKPYL["sem_cost"]
    assert abs(inst.mean - theirs) < 3 * math.hypot(se, their_se)
    assert theirs - 1.96 * their_se - se < inst.mean < theirs + 1.96 * their_se + se


def test_example_6_1_installation_is_not_the_textbook_policy_under_simultaneous_decisions():
    """The convention matters: simultaneous decisions make upstream stages see orders a
    period late, and the same installation levels cost about six times as much."""
    local = dict(zip(("stage1", "stage2", "stage3"), STOCKPYL["local_levels"]))
    late = _example_6_1("simultaneous", BaseStock(local), replications=2, periods=4000)
    assert late.mean > 4 * STOCKPYL["mean_cost"]
