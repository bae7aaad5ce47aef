"""The finite-horizon DP, the network MIP and the engine agree on deterministic instances.

With deterministic demand the backlog DP's optimal expected cost is the cost of
one known path, so it must equal the perfect-information MIP's optimum on that
path, and the DP's (s_t, S_t) policy run in the engine must cost exactly that.
"""

from __future__ import annotations

import numpy as np
import pytest

from des_supply import Edge, Network, Node, Simulation, Trace
from optimization.finite_horizon import finite_horizon
from optimization.network_mip import perfect_information_bound

pytestmark = pytest.mark.solver


def single_stage(demand, holding, penalty, fixed):
    return Network(
        (
            Node("s", kind="supply"),
            Node(
                "r",
                holding_cost=holding,
                shortage_cost=penalty,
                fixed_order_cost=fixed,
                demand=Trace(tuple(demand), after="hold"),
            ),
        ),
        (Edge("s", "r", lead_time=0),),
    )


@pytest.mark.parametrize("seed", range(6))
def test_dp_mip_and_engine_agree(seed):
    rng = np.random.default_rng(seed)
    T = int(rng.integers(3, 8))
    demand = rng.integers(0, 9, T).tolist()
    h, p, K = float(rng.integers(1, 4)), float(rng.integers(2, 10)), float(rng.integers(0, 30))
    dp = finite_horizon([{d: 1.0} for d in demand], h, p, fixed_cost=K)
    net = single_stage(demand, h, p, K)
    mip = perfect_information_bound(net, T, seed=0)
    engine = Simulation(net, T, seed=0).run(dp.policy()).cost().sum()
    assert dp.expected_cost == pytest.approx(mip.objective, abs=1e-6)
    assert engine == pytest.approx(dp.expected_cost, abs=1e-9)
