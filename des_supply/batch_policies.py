"""Vectorised classic policies, acting on a :class:`~des_supply.batch.BatchSimulation`.

Each takes the batch state of all R replications at a decision epoch and returns
orders ``[R, stocking nodes]`` (nodes in ``network.stock_nodes`` order; entries of
nodes not in ``sim.deciding_now`` are ignored), with the same arithmetic as the
policy's ``act`` on one :class:`~des_supply.sim.Observation`, so that both engines
place the same orders.

:func:`vectorise` finds the vectorised version of a policy: anything with
``act_batch(sim) -> [R, stock nodes]`` is used as it is (the generic path: an agent
acting on ``[R, obs]`` arrays wraps itself this way, see :mod:`rl.vector_env`),
the classic families are translated here, and anything else has none (None: the
caller falls back to the event engine).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from . import policies as _policies
from .network import Network
from .policies import RQ, SS, BaseStock, CappedBaseStock, ConstantOrder, EchelonBaseStock, value_for

if TYPE_CHECKING:
    from .batch import BatchSimulation

__all__ = ["VECTORISED", "BatchPolicy", "vectorise"]

Act = Callable[["BatchSimulation"], np.ndarray]


class BatchPolicy(Protocol):
    """A policy acting on the batch state: ``act_batch(sim) -> orders [R, stocking nodes]``."""

    def act_batch(self, sim: BatchSimulation) -> np.ndarray: ...


class _Params:
    """A per-node parameter as a vector over the stocking nodes; a node the parameter does not
    cover is refused when it decides, with ``value_for``'s message (as the event engine does)."""

    def __init__(self, param: Any, stock: tuple[str, ...], what: str) -> None:
        values, self.missing = [], {}
        for k, n in enumerate(stock):
            try:
                values.append(value_for(param, n, what))
            except KeyError as exc:
                values.append(math.nan)
                self.missing[k] = exc
        self.values = np.array(values, dtype=float)

    def __call__(self, deciding: np.ndarray) -> np.ndarray:
        for k, exc in self.missing.items():
            if deciding[k]:
                raise exc
        return self.values


def _base_stock(policy: BaseStock, network: Network) -> Act:
    level = _Params(policy.level, _stock(network), "level")

    def act(sim: BatchSimulation) -> np.ndarray:
        return np.maximum(0.0, level(sim.deciding_now) - sim.inventory_position())

    return act


def _echelon(policy: EchelonBaseStock, network: Network) -> Act:
    level = _Params(policy.level, _stock(network), "level")

    def act(sim: BatchSimulation) -> np.ndarray:
        return np.maximum(0.0, level(sim.deciding_now) - sim.echelon_inventory_position())

    return act


def _ss(policy: SS, network: Network) -> Act:
    s, S = _Params(policy.s, _stock(network), "s"), _Params(policy.S, _stock(network), "S")

    def act(sim: BatchSimulation) -> np.ndarray:
        deciding = sim.deciding_now
        ip = sim.inventory_position()
        return np.where(ip <= s(deciding), S(deciding) - ip, 0.0)

    return act


def _rq(policy: RQ, network: Network) -> Act:
    r, Q = _Params(policy.r, _stock(network), "r"), _Params(policy.Q, _stock(network), "Q")

    def act(sim: BatchSimulation) -> np.ndarray:
        deciding = sim.deciding_now
        ip = sim.inventory_position()
        rr, qq = r(deciding), Q(deciding)
        return np.where(ip <= rr, qq * (np.floor((rr - ip) / qq) + 1), 0.0)

    return act


def _constant(policy: ConstantOrder, network: Network) -> Act:
    quantity = _Params(policy.quantity, _stock(network), "quantity")

    def act(sim: BatchSimulation) -> np.ndarray:
        return np.broadcast_to(quantity(sim.deciding_now), (sim.R, len(sim.stock)))

    return act


def _capped(policy: CappedBaseStock, network: Network) -> Act:
    level = _Params(policy.level, _stock(network), "level")
    cap = _Params(policy.cap, _stock(network), "cap")

    def act(sim: BatchSimulation) -> np.ndarray:
        deciding = sim.deciding_now
        gap = np.maximum(0.0, level(deciding) - sim.inventory_position())
        return np.minimum(cap(deciding), gap)

    return act


def _constant_rate(policy: Any, network: Network) -> Act:
    stock = network.stock_nodes
    rate = _Params(policy.rate, _stock(network), "rate")
    exact = [
        Fraction(float(v)).limit_denominator(10**6) if math.isfinite(v) else None
        for v in rate.values
    ]

    def act(sim: BatchSimulation) -> np.ndarray:
        values = rate(sim.deciding_now)
        if network.continuous:
            return np.broadcast_to(values, (sim.R, len(stock)))
        out = np.zeros(len(stock))
        for k, n in enumerate(stock):
            x = exact[k]
            if x is not None:
                j = (sim.t - n.review_offset) // n.review_period
                out[k] = float(math.floor((j + 1) * x) - math.floor(j * x))
        return np.broadcast_to(out, (sim.R, len(stock)))

    return act


def _stock(network: Network) -> tuple[str, ...]:
    return tuple(n.name for n in network.stock_nodes)


#: Vectorised versions of the classic families, by policy class.
VECTORISED: dict[type, Callable[[Any, Network], Act]] = {
    BaseStock: _base_stock,
    EchelonBaseStock: _echelon,
    SS: _ss,
    RQ: _rq,
    ConstantOrder: _constant,
    CappedBaseStock: _capped,
}
if hasattr(_policies, "ConstantRate"):
    VECTORISED[_policies.ConstantRate] = _constant_rate


def vectorise(policy: Any, network: Network) -> Act | None:
    """The vectorised version of *policy* on *network*, or None when it has none."""
    act_batch = getattr(policy, "act_batch", None)
    if callable(act_batch):
        return act_batch
    build = VECTORISED.get(type(policy))
    return build(policy, network) if build is not None else None
