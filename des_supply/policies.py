"""Replenishment policies behind one small protocol.

A policy is pure: at each decision epoch it gets a read-only
:class:`~des_supply.sim.Observation` and returns an :class:`Action` (or just a
mapping node -> order quantity).  It never sees the random generator or the
SimPy environment, so the same object runs in the engine, serves as a baseline
for RL, and is what the optimizers return.

Parameters are per node: a plain number applies to every node that decides, a
mapping gives one value per node (``BaseStock({"dc": 40, "store": 20})``).
Orders are not rounded here; the engine rounds them to whole units unless the
network is continuous, and cuts them to capacities.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

if TYPE_CHECKING:
    from .sim import Observation

__all__ = [
    "POLICIES",
    "RQ",
    "SS",
    "Action",
    "BaseStock",
    "CappedBaseStock",
    "ConstantOrder",
    "ConstantRate",
    "EchelonBaseStock",
    "PerNode",
    "Policy",
]

PerNode = float | Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Action:
    """What is decided at an epoch.

    ``orders`` maps a deciding node to the quantity it orders now; a node with
    ``supply_rule="choice"`` maps instead to a mapping *supplier node name ->
    quantity* (``{"store": {"regular": 3.0, "expedited": 1.0}}``: one order per
    supplier edge, each with that edge's lead time and unit cost).  ``prices`` and
    ``extra`` are the hook for decision-dependent demand (pricing,
    recommendation): the network's market model reads them when it draws demand.
    """

    orders: Mapping[str, float | Mapping[str, float]] = field(default_factory=dict)
    prices: Mapping[str, float] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Policy(Protocol):
    """Anything with ``act(observation) -> Action | Mapping[str, float]``.

    A randomised policy may also define ``start_run(rng)``: ``Simulation.run`` calls it
    at the start of every run with a numpy Generator derived from the run's seed (its
    own stream), so replication k of two experiments draws the same actions.
    """

    def act(self, obs: Observation) -> Action | Mapping[str, float]: ...


def value_for(param: PerNode, node: str, what: str) -> float:
    """The value of a per-node parameter at *node* (a number applies to all nodes)."""
    if type(param) is float:
        return param
    if isinstance(param, dict):
        try:
            return float(param[node])
        except KeyError:
            raise KeyError(
                f"{what} has no value for node {node!r} (given for: {', '.join(map(str, param))})"
            ) from None
    return float(cast(float, param))  # _per_node stored a float or a dict


def _per_node(
    policy: Any, what: str, allow_inf: bool = False, allow_negative: bool = False
) -> None:
    """Check a per-node parameter and store it as a float or a dict of floats."""
    param = getattr(policy, what)
    if isinstance(param, Mapping):
        per_node = {str(k): float(v) for k, v in param.items()}
        value: PerNode = per_node
        values = list(per_node.values())
    else:
        try:
            value = float(param)
        except (TypeError, ValueError):
            raise ValueError(
                f"{what}(={param!r}) must be a number or a mapping node -> number"
            ) from None
        values = [value]
    for v in values:
        if math.isnan(v) or (math.isinf(v) and not allow_inf) or (v < 0 and not allow_negative):
            raise ValueError(
                f"{what}(={v}) must be a {'' if allow_inf else 'finite '}number"
                f"{'' if allow_negative else ' >= 0'}"
            )
    object.__setattr__(policy, what, value)


def _pairs(a: PerNode, b: PerNode) -> list[tuple[str, float, float]]:
    """(node, a, b) for every node either parameter names ('' when both are plain numbers)."""
    nodes = {*(a if isinstance(a, dict) else ()), *(b if isinstance(b, dict) else ())}
    if not nodes:
        return [("", float(cast(float, a)), float(cast(float, b)))]  # no dicts: numbers
    return [
        (n, value_for(a, n, "first"), value_for(b, n, "second"))
        for n in sorted(nodes)
        if (not isinstance(a, dict) or n in a) and (not isinstance(b, dict) or n in b)
    ]


@dataclass(frozen=True, slots=True)
class BaseStock:
    """Installation base-stock: order up to ``level`` [S] in local inventory position."""

    level: PerNode

    def __post_init__(self) -> None:
        _per_node(self, "level")

    def act(self, obs: Observation) -> dict[str, float]:
        level, position, deciding = self.level, obs.inventory_position, obs.deciding
        if type(level) is float:  # one level for every node (value_for's first case)
            if len(deciding) == 1:  # a dict display: no comprehension frame
                n = deciding[0]
                return {n: max(0.0, level - position(n))}
            return {n: max(0.0, level - position(n)) for n in deciding}
        return {n: max(0.0, value_for(level, n, "level") - position(n)) for n in deciding}


@dataclass(frozen=True, slots=True)
class EchelonBaseStock:
    """Echelon base-stock: order up to ``level`` [S^e] in echelon inventory position.

    Optimal for serial systems (Clark & Scarf 1960); see
    :meth:`Observation.echelon_inventory_position` for the definition used.
    """

    level: PerNode

    def __post_init__(self) -> None:
        _per_node(self, "level")

    def act(self, obs: Observation) -> dict[str, float]:
        return {
            n: max(0.0, value_for(self.level, n, "level") - obs.echelon_inventory_position(n))
            for n in obs.deciding
        }


@dataclass(frozen=True, slots=True)
class SS:
    """(s, S): when the inventory position is at or below ``s``, order up to ``S``."""

    s: PerNode
    S: PerNode

    def __post_init__(self) -> None:
        _per_node(self, "s", allow_negative=True)
        _per_node(self, "S", allow_negative=True)
        for node, s, S in _pairs(self.s, self.S):
            if S < s:
                raise ValueError(
                    f"(s, S){' at node ' + repr(node) if node else ''}: S(={S}) must be >= s(={s})"
                )

    def act(self, obs: Observation) -> dict[str, float]:
        orders = {}
        for n in obs.deciding:
            ip = obs.inventory_position(n)
            s, S = value_for(self.s, n, "s"), value_for(self.S, n, "S")
            if S < s:
                raise ValueError(f"(s, S) at node {n!r}: S(={S}) must be >= s(={s})")
            orders[n] = S - ip if ip <= s else 0.0
        return orders


@dataclass(frozen=True, slots=True, init=False)
class RQ:
    """(r, Q): when the inventory position is at or below the reorder point r, order the
    smallest multiple of the quantity Q that lifts it above r.

    ``RQ(reorder_point, quantity)``, each a number or a mapping node -> number; ``r=`` and
    ``Q=`` are accepted as aliases, and ``.r`` and ``.Q`` read the two back.
    """

    reorder_point: PerNode
    quantity: PerNode

    def __init__(
        self,
        reorder_point: PerNode | None = None,
        quantity: PerNode | None = None,
        *,
        r: PerNode | None = None,
        Q: PerNode | None = None,
    ) -> None:
        for name, value, alias, short in (
            ("reorder_point", reorder_point, r, "r"),
            ("quantity", quantity, Q, "Q"),
        ):
            if value is not None and alias is not None:
                raise ValueError(f"(r, Q): give {name} or its alias {short}, not both")
            if value is None and alias is None:
                raise ValueError(f"(r, Q): {name} (alias {short}) is missing")
            object.__setattr__(self, name, value if alias is None else alias)
        for name, short, negative in (("reorder_point", "r", True), ("quantity", "Q", False)):
            try:
                _per_node(self, name, allow_negative=negative)
            except ValueError as exc:  # name the textbook symbol too: "quantity Q(=-4.0) ..."
                raise ValueError(f"(r, Q) {name} {short}{str(exc)[len(name) :]}") from None
        for node, _, Q in _pairs(self.reorder_point, self.quantity):
            if Q <= 0:
                raise ValueError(
                    f"(r, Q){' at node ' + repr(node) if node else ''}: "
                    f"quantity Q(={Q}) must be > 0"
                )

    @property
    def r(self) -> PerNode:
        """The reorder point (alias of ``reorder_point``)."""
        return self.reorder_point

    @property
    def Q(self) -> PerNode:
        """The batch quantity (alias of ``quantity``)."""
        return self.quantity

    def act(self, obs: Observation) -> dict[str, float]:
        orders = {}
        for n in obs.deciding:
            ip = obs.inventory_position(n)
            r = value_for(self.reorder_point, n, "reorder_point")
            Q = value_for(self.quantity, n, "quantity")
            if Q <= 0:
                raise ValueError(f"(r, Q) at node {n!r}: quantity Q(={Q}) must be > 0")
            orders[n] = Q * (math.floor((r - ip) / Q) + 1) if ip <= r else 0.0
        return orders


@dataclass(frozen=True, slots=True)
class ConstantOrder:
    """Order the same ``quantity`` at every review."""

    quantity: PerNode

    def __post_init__(self) -> None:
        _per_node(self, "quantity")

    def act(self, obs: Observation) -> dict[str, float]:
        return {n: value_for(self.quantity, n, "quantity") for n in obs.deciding}


@dataclass(frozen=True, slots=True)
class ConstantRate:
    """Order at a constant ``rate`` per review, which may be fractional.

    In a continuous network every order is ``rate``.  In a whole-unit network the
    ``k``-th review of a node orders ``floor((k+1) rate) - floor(k rate)``, so the
    orders stay whole and their running total tracks ``rate * k`` within one unit
    (a rate of 4.75 orders 4, 5, 5, 5, 4, 5, 5, 5, ...).  :class:`ConstantOrder`
    instead orders the same quantity every time, rounded by the engine.
    """

    rate: PerNode

    def __post_init__(self) -> None:
        _per_node(self, "rate")

    def act(self, obs: Observation) -> dict[str, float]:
        network = obs.network
        out = {}
        for n in obs.deciding:
            rate = value_for(self.rate, n, "rate")
            if network.continuous:
                out[n] = rate
                continue
            node = network.node(n)
            k = (obs.t - node.review_offset) // node.review_period
            exact = Fraction(rate).limit_denominator(10**6)
            out[n] = float(math.floor((k + 1) * exact) - math.floor(k * exact))
        return out


@dataclass(frozen=True, slots=True)
class CappedBaseStock:
    """Base-stock ``level`` with each order capped at ``cap``: min(cap, (S - IP)^+).

    Near-optimal for lost sales with lead times (Xin 2021).
    """

    level: PerNode
    cap: PerNode

    def __post_init__(self) -> None:
        _per_node(self, "level")
        _per_node(self, "cap", allow_inf=True)

    def act(self, obs: Observation) -> dict[str, float]:
        return {
            n: min(
                value_for(self.cap, n, "cap"),
                max(0.0, value_for(self.level, n, "level") - obs.inventory_position(n)),
            )
            for n in obs.deciding
        }


# -- registration ----------------------------------------------------------------------------
from .policy_registry import Param, register_policy  # noqa: E402  (after the classes it builds)


def one_order_per_node(problem: Any) -> str | None:
    """Why a family that orders one number per node does not apply to *problem*: a node that
    chooses its suppliers (``supply_rule="choice"``) orders one quantity per supplier."""
    net = problem.network
    choosers = [n.name for n in net.stock_nodes if net.supply_rule_of(n.name) == "choice"]
    if choosers:
        return (
            f"node {choosers[0]!r} chooses how much to order from each supplier "
            "(supply_rule='choice'); this family orders one quantity per node (dual "
            "sourcing: single-index, dual-index, capped-dual-index, tailored-base-surge)"
        )
    return None


def _family(name: str, cls: type, summary: str, *params: Param) -> type:
    """Register the family *cls* under *name*: its parameters are its fields, by keyword."""
    register_policy(
        name,
        lambda problem, p: cls(**p),
        summary=summary,
        params=params,
        applies=one_order_per_node,
        group="family",
        family=cls,
    )
    return cls


#: The engine's policy families by name: a view of their entries in
#: :mod:`des_supply.policy_registry` (build with ``make_policy(name, problem, params)``).
POLICIES: dict[str, type] = {
    "base-stock": _family(
        "base-stock",
        BaseStock,
        "installation base-stock: order up to level S in inventory position",
        Param("level", "order-up-to level S"),
    ),
    "echelon-base-stock": _family(
        "echelon-base-stock",
        EchelonBaseStock,
        "echelon base-stock: order up to level S^e in echelon inventory position",
        Param("level", "echelon level S^e"),
    ),
    "ss": _family(
        "ss",
        SS,
        "(s, S): at or below s, order up to S",
        Param("s", "reorder point"),
        Param("S", "order-up-to level (>= s)"),
    ),
    "rq": _family(
        "rq",
        RQ,
        "(r, Q): at or below the reorder point r, order the multiple of the quantity Q "
        "that lifts the position above r",
        Param("reorder_point", "reorder point r", aliases=("r",)),
        Param("quantity", "batch quantity Q (> 0)", aliases=("Q",)),
    ),
    "constant": _family(
        "constant",
        ConstantOrder,
        "order the same quantity every review",
        Param("quantity", "order per review"),
    ),
    "constant-rate": _family(
        "constant-rate",
        ConstantRate,
        "order at a constant (fractional) rate per review: whole orders "
        "whose running total tracks rate x reviews",
        Param("rate", "average order per review"),
    ),
    "capped-base-stock": _family(
        "capped-base-stock",
        CappedBaseStock,
        "base-stock with every order capped: min(cap, (S - IP)^+)",
        Param("level", "order-up-to level S"),
        Param("cap", "largest order (inf: none)"),
    ),
}
