"""Reference trajectories of OR-Gym's InvManagement env, produced by OR-Gym itself.

Run once in the peer venv (OR-Gym 0.5.0 needs gym <= 0.19 and numpy < 2; never a project
dependency):

    PEERS=/tmp/peers bash ../shared/peers/install-peers.sh
    /tmp/peers/venv/bin/python tests/reference/make_orgym_trajectories.py

For each variant (backlog, lost sales), each of three fixed demand traces (Poisson(20)
draws from numpy's PCG64 with seeds 1, 2, 3, passed to OR-Gym as ``user_D`` with
``dist=5``) and each action rule, it steps ``InvManagementMasterEnv`` (defaults
otherwise) through its 30 periods and records per period: demand ``D``, orders as given
``action``, what each stage sold or shipped ``S`` (retailer sales, then shipments of the
distributor, manufacturer and source), on hand at the end ``I`` (retailer, distributor,
manufacturer), unfulfilled ``U``, and the reward ``P`` (OR-Gym's discounted profit).

Action rules
    ``base-stock``: installation base-stock, order ``max(0, z_i - IP_i)`` with
    ``IP_i = I_i + T_i + B_{i+1} - B_i`` read from the env's arrays at the start of the
    period (on hand, pipeline, own orders backlogged at the supplier, units owed);
    levels ``z = (70, 120, 220)``; ``base-stock-high``: the same with
    ``z = (90, 200, 450)``, whose early orders exceed the production capacities.  (OR-Gym's own ``base_stock_action`` does not run in
    0.5.0: ``_update_base_stock_policy_state`` returns None.)
    ``constant``: order (30, 25, 15) every period.
    ``random``: orders drawn once from ``integers(0, 150)`` (PCG64 seed 7), the same
    sequence for every trace (often above the capacities 100, 90, 80).

Output: ``tests/reference/data/orgym_trajectories.json`` (read by
``tests/reference/test_peers.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from or_gym.envs.supply_chain.inventory_management import InvManagementMasterEnv

PERIODS = 30
TRACE_SEEDS = (1, 2, 3)
LEVELS = {"base-stock": (70, 120, 220), "base-stock-high": (90, 200, 450)}
CONSTANT = (30, 25, 15)
OUT = Path(__file__).with_name("data") / "orgym_trajectories.json"


def base_stock(env: InvManagementMasterEnv, levels: tuple[int, ...]) -> np.ndarray:
    n = env.period
    owed = env.B[n - 1] if n >= 1 else np.zeros(env.num_stages)
    position = env.I[n] + env.T[n] + owed[1:] - owed[:-1]
    return np.maximum(0, np.array(levels) - position)


def run(backlog: bool, demand: list[int], rule: str, random_orders: np.ndarray) -> dict:
    env = InvManagementMasterEnv(backlog=backlog, dist=5, user_D=list(demand), periods=PERIODS)
    env.reset()
    actions, rewards = [], []
    for n in range(PERIODS):
        if rule in LEVELS:
            action = base_stock(env, LEVELS[rule])
        elif rule == "constant":
            action = np.array(CONSTANT)
        else:
            action = random_orders[n]
        action = np.asarray(action, dtype=int)
        actions.append(action.tolist())
        _, reward, done, _ = env.step(action)
        rewards.append(float(reward))
    assert done
    return {
        "backlog": backlog,
        "rule": rule,
        "demand": [float(d) for d in demand],
        "action": actions,
        "S": env.S.tolist(),
        "I": env.I[1:].tolist(),
        "U": (env.B if backlog else env.LS).tolist(),
        "P": rewards,
        "discount": env.discount,
    }


def main() -> None:
    traces = [
        np.random.Generator(np.random.PCG64(s)).poisson(20, PERIODS).tolist() for s in TRACE_SEEDS
    ]
    random_orders = np.random.Generator(np.random.PCG64(7)).integers(0, 150, (PERIODS, 3))
    runs = [
        run(backlog, trace, rule, random_orders)
        for backlog in (True, False)
        for trace in traces
        for rule in (*LEVELS, "constant", "random")
    ]
    record = {
        "source": "or_gym 0.5.0 InvManagementMasterEnv (defaults, dist=5, user_D)",
        "levels": LEVELS,
        "constant": list(CONSTANT),
        "runs": runs,
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(record) + "\n")
    print(f"{len(runs)} runs -> {OUT}")


if __name__ == "__main__":
    main()
