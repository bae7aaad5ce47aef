"""Policies are pure functions of an observation: checked on a stub observation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from des_supply import (
    RQ,
    SS,
    Action,
    BaseStock,
    CappedBaseStock,
    ConstantOrder,
    EchelonBaseStock,
    Policy,
)
from des_supply.policies import POLICIES


@dataclass
class StubObservation:
    """Just what the policies read: deciding nodes and inventory positions."""

    ip: dict[str, float]
    echelon: dict[str, float] = field(default_factory=dict)
    t: int = 0

    @property
    def deciding(self) -> tuple[str, ...]:
        return tuple(self.ip)

    def inventory_position(self, node: str) -> float:
        return self.ip[node]

    def echelon_inventory_position(self, node: str) -> float:
        return self.echelon[node]


OBS = StubObservation({"a": 3.0, "b": -2.0}, {"a": 10.0, "b": 1.0})


def test_base_stock_scalar_and_per_node():
    assert BaseStock(5).act(OBS) == {"a": 2.0, "b": 7.0}
    assert BaseStock({"a": 1, "b": 4}).act(OBS) == {"a": 0.0, "b": 6.0}


def test_echelon_base_stock_reads_the_echelon_position():
    assert EchelonBaseStock({"a": 12, "b": 3}).act(OBS) == {"a": 2.0, "b": 2.0}


def test_ss_orders_up_to_S_at_or_below_s():
    pol = SS(s={"a": 3, "b": -3}, S={"a": 9, "b": 5})
    assert pol.act(OBS) == {"a": 6.0, "b": 0.0}


def test_rq_orders_the_smallest_multiple_of_q_above_r():
    assert RQ(r=3, Q=4).act(OBS) == {"a": 4.0, "b": 8.0}  # -2 + 8 = 6 > 3
    assert RQ(r=2, Q=4).act(OBS) == {"a": 0.0, "b": 8.0}


def test_constant_and_capped():
    assert ConstantOrder({"a": 1, "b": 2}).act(OBS) == {"a": 1.0, "b": 2.0}
    assert CappedBaseStock(level=10, cap=4).act(OBS) == {"a": 4.0, "b": 4.0}
    assert CappedBaseStock(level=5, cap=math.inf).act(OBS) == {"a": 2.0, "b": 7.0}


def test_missing_node_is_named():
    with pytest.raises(KeyError, match="level has no value for node 'b'"):
        BaseStock({"a": 1}).act(OBS)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: BaseStock(-1), r"level\(=-1.0\) must be a finite number >= 0"),
        (lambda: BaseStock(math.nan), r"level\(=nan\)"),
        (lambda: BaseStock(math.inf), r"level\(=inf\)"),
        (lambda: BaseStock("high"), r"level\(='high'\) must be a number or a mapping"),
        (lambda: BaseStock({"a": -2}), r"level\(=-2.0\)"),
        (lambda: ConstantOrder(-1), r"quantity\(=-1.0\)"),
        (lambda: RQ(1, -4), r"Q\(=-4.0\)"),
        (lambda: CappedBaseStock(5, -1), r"cap\(=-1.0\)"),
    ],
)
def test_bad_parameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_every_policy_satisfies_the_protocol_and_is_registered():
    for name, cls in POLICIES.items():
        params = {f: 1.0 for f in cls.__dataclass_fields__}
        assert isinstance(cls(**params), Policy), name
    assert Action().orders == {} and Action({"a": 1}).orders == {"a": 1}


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: SS(s=5, S=2), r"S\(=2.0\) must be >= s\(=5.0\)"),
        (lambda: SS(s={"a": 1, "b": 5}, S={"a": 3, "b": 4}), r"node 'b'"),
        (lambda: RQ(r=1, Q=0), r"Q\(=0.0\) must be > 0"),
        (lambda: RQ(r=1, Q={"a": 2, "b": 0}), r"node 'b'"),
    ],
    ids=["S<s", "S<s-per-node", "Q=0", "Q=0-per-node"],
)
def test_inconsistent_parameters_are_refused_at_construction(make, match):
    """Early, like every other parameter check, not at the first decision epoch."""
    with pytest.raises(ValueError, match=match):
        make()


def test_constant_rate_orders_whole_units_that_track_the_rate():
    import scenarios
    from des_supply.network import Network
    from des_supply.policies import ConstantRate
    from des_supply.sim import Simulation

    net = scenarios.make("single-stage").network
    node = net.stock_nodes[0].name
    orders = Simulation(net, 8).run(ConstantRate(4.75)).column("ordered", node)
    assert list(orders) == [4, 5, 5, 5, 4, 5, 5, 5]
    cont = Network(net.nodes, net.edges, continuous=True)
    assert list(Simulation(cont, 3).run(ConstantRate(4.75)).column("ordered", node)) == [4.75] * 3
