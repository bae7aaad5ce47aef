"""Reference figures for Snyder & Shen Example 6.1 from stockpyl's own simulator.

Run once in the peer venv (never a project dependency):

    PEERS=/tmp/peers bash ../shared/peers/install-peers.sh
    /tmp/peers/venv/bin/python tests/reference/make_stockpyl_example_6_1.py

It loads stockpyl's instance ``example_6_1`` (three stages, N(5, 1) demand, local holding
costs 7, 4, 2, lead times 1, 1, 2, stockout cost 37.12), whose nodes carry installation
base-stock policies at the local levels of the optimal echelon levels (6.49, 5.53, 10.69),
runs ``stockpyl.sim.run_multiple_trials`` and writes the mean cost per period, its standard
error and the settings to ``tests/reference/data/stockpyl_example_6_1.json``
(read by ``tests/reference/test_peers.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import stockpyl
from stockpyl.instances import load_instance
from stockpyl.sim import run_multiple_trials

TRIALS, PERIODS, SEED = 40, 5000, 17
OUT = Path(__file__).with_name("data") / "stockpyl_example_6_1.json"


def main() -> None:
    network = load_instance("example_6_1")
    stages = sorted(network.nodes, key=lambda n: n.index)  # index 1 = downstream stage
    levels = [n.inventory_policy.base_stock_level for n in stages]
    kinds = [n.inventory_policy.type for n in stages]
    mean, sem = run_multiple_trials(
        network, num_trials=TRIALS, num_periods=PERIODS, rand_seed=SEED, progress_bar=False
    )
    record = {
        "source": "stockpyl.sim.run_multiple_trials on load_instance('example_6_1')",
        "stockpyl_version": stockpyl.__version__ if hasattr(stockpyl, "__version__") else "1.0.2",
        "policy": kinds,
        "local_levels": levels,
        "trials": TRIALS,
        "periods": PERIODS,
        "rand_seed": SEED,
        "mean_cost": mean,
        "sem_cost": sem,
        "local_holding_cost": [n.local_holding_cost for n in stages],
        "shipment_lead_time": [n.shipment_lead_time for n in stages],
        "stockout_cost": stages[0].stockout_cost,
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
