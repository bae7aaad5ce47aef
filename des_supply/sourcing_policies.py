"""Dual-sourcing policies: a regular (slow, cheap) and an expedited (fast, dear) supplier.

They run on a stocking node with ``supply_rule="choice"`` and two suppliers, and
answer ``{node: {regular: q_r, expedited: q_e}}`` (see :mod:`des_supply.sim`).  The
*regular* supplier is the one with the longer lead time ``l_r`` (ties: the cheaper edge,
then the first declared); the other is *expedited*, lead time ``l_e < l_r``, and
``l = l_r - l_e``.  A stochastic lead time counts as its mean, rounded.

Inventory positions at epoch t (after period t's arrivals), on the node's net inventory
``NI = on hand - backlog``:

* ``IP`` (all outstanding): ``NI`` + everything ordered and not yet received;
* ``IP_e`` (expedited position): ``NI`` + what arrives in periods t+1, ..., t+l_e (with
  ``l_e = 0``, just ``NI``): what an expedited order placed now can still change.

================================  ============================================================
policy                            orders at epoch t
================================  ============================================================
:class:`SingleIndex` (SIP)        ``q_e = (S_e - IP)^+``, ``q_r = (S_r - IP - q_e)^+``
                                  (Scheller-Wolf, Veeraraghavan & van Houtum 2007)
:class:`DualIndex` (DIP)          ``q_e = (S_e - IP_e)^+``, ``q_r = (S_r - IP - q_e)^+``
                                  (Veeraraghavan & Scheller-Wolf 2008; optimal for
                                  ``l = 1``, Fukuda 1964)
:class:`CappedDualIndex` (CDI)    ``q_r = min((S_r - IP)^+, cap)``, ``q_e = (S_e - IP_e)^+``
                                  (Sun & Van Mieghem 2019; their ``I_t^{t+l-1}`` is ``IP``
                                  and ``I_t^t`` is ``IP_e`` when ``l_e = 0``)
:class:`TailoredBaseSurge` (TBS)  ``q_r = base`` every period, ``q_e = (S_e - IP_e)^+``
                                  (Allon & Van Mieghem 2010; Janakiraman, Seshadri &
                                  Sheopuri 2015)
================================  ============================================================

Levels are ``expedite_level`` (``S_e``) and ``regular_level`` (``S_r``); orders are not
rounded here (the engine rounds each to whole units unless the network is continuous).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .network import Network
    from .problem import Problem
    from .sim import Observation

__all__ = [
    "CappedDualIndex",
    "DualIndex",
    "DualSourcing",
    "SingleIndex",
    "TailoredBaseSurge",
    "dual_sourcing_nodes",
]


@dataclass(frozen=True, slots=True)
class DualSourcing:
    """Who is regular and who is expedited at one node, and their lead times (periods)."""

    node: str
    regular: str
    expedited: str
    regular_lead: int  # l_r
    expedited_lead: int  # l_e


def dual_sourcing_nodes(network: Network) -> dict[str, DualSourcing]:
    """Every stocking node of *network* that chooses between exactly two suppliers.

    Raises ValueError naming the node when two suppliers have the same (rounded mean) lead
    time: then neither is faster, and the policies here do not apply.
    """
    out: dict[str, DualSourcing] = {}
    for n in network.stock_nodes:
        inbound = network.suppliers(n.name)
        if network.supply_rule_of(n.name) != "choice" or len(inbound) != 2:
            continue
        leads = [int(round(e.lead_time.mean)) for e in inbound]
        if leads[0] == leads[1]:
            raise ValueError(
                f"node {n.name!r}: suppliers {inbound[0].source!r} and {inbound[1].source!r} "
                f"have the same lead time ({leads[0]}); dual sourcing needs a faster one"
            )
        slow, fast = (0, 1) if leads[0] > leads[1] else (1, 0)
        out[n.name] = DualSourcing(
            n.name, inbound[slow].source, inbound[fast].source, leads[slow], leads[fast]
        )
    return out


def applies_to(problem: Problem) -> str | None:
    """Why the dual-sourcing policies do not apply to *problem* (None when they do)."""
    net = problem.network
    if net.time != "periodic":
        return "dual-sourcing policies need a periodic network"
    try:
        nodes = dual_sourcing_nodes(net)
    except ValueError as exc:
        return str(exc)
    if not nodes:
        return (
            "no stocking node chooses between two suppliers (supply_rule='choice' with two "
            "supplier edges)"
        )
    others = [n.name for n in net.stock_nodes if n.name not in nodes]
    if others:
        return f"nodes {', '.join(map(repr, others))} do not dual-source"
    return None


@dataclass(frozen=True)
class _DualPolicy:
    """Common part: the network's dual-sourcing nodes (read once per network) and positions."""

    _nodes: dict[int, dict[str, DualSourcing]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def _check(self, **values: float) -> None:
        for name, value in values.items():
            if not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value):
                raise ValueError(f"{name}(={value!r}) must be a finite number")
            object.__setattr__(self, name, float(value))

    def _sources(self, obs: Observation) -> dict[str, DualSourcing]:
        key = id(obs.network)
        found = self._nodes.get(key)
        if found is None:
            found = dual_sourcing_nodes(obs.network)
            self._nodes.clear()  # one network at a time (ids of dead networks may recur)
            self._nodes[key] = found
        return found

    def act(self, obs: Observation) -> dict[str, dict[str, float]]:
        sources = self._sources(obs)
        out: dict[str, dict[str, float]] = {}
        for n in obs.deciding:
            d = sources.get(n)
            if d is None:
                raise ValueError(
                    f"{type(self).__name__}: node {n!r} does not choose between two "
                    "suppliers (supply_rule='choice' with two supplier edges)"
                )
            net_inventory = obs.on_hand(n) - obs.backlog(n)
            position = obs.inventory_position(n)
            expedite_position = net_inventory + sum(obs.pipeline(n, d.expedited_lead))
            q_r, q_e = self.orders(position, expedite_position)
            out[n] = {d.regular: q_r, d.expedited: q_e}
        return out

    def orders(self, position: float, expedite_position: float) -> tuple[float, float]:
        """``(q_r, q_e)`` from ``IP`` and ``IP_e``."""
        raise NotImplementedError


@dataclass(frozen=True)
class SingleIndex(_DualPolicy):
    """Single index (SIP): both orders on one position ``IP``; ``S_e <= S_r`` in practice."""

    expedite_level: float = 0.0
    regular_level: float = 0.0

    def __post_init__(self) -> None:
        self._check(expedite_level=self.expedite_level, regular_level=self.regular_level)

    def orders(self, position: float, expedite_position: float) -> tuple[float, float]:
        q_e = max(0.0, self.expedite_level - position)
        return max(0.0, self.regular_level - position - q_e), q_e


@dataclass(frozen=True)
class DualIndex(_DualPolicy):
    """Dual index (DIP): expedite up to ``S_e`` on ``IP_e``, then order regular up to ``S_r``
    on ``IP`` (the expedited order included)."""

    expedite_level: float = 0.0
    regular_level: float = 0.0

    def __post_init__(self) -> None:
        self._check(expedite_level=self.expedite_level, regular_level=self.regular_level)

    def orders(self, position: float, expedite_position: float) -> tuple[float, float]:
        q_e = max(0.0, self.expedite_level - expedite_position)
        return max(0.0, self.regular_level - position - q_e), q_e


@dataclass(frozen=True)
class CappedDualIndex(_DualPolicy):
    """Capped dual index (CDI): regular up to ``S_r`` on ``IP`` but at most ``cap`` a period,
    then expedite up to ``S_e`` on ``IP_e``."""

    expedite_level: float = 0.0
    regular_level: float = 0.0
    cap: float = math.inf

    def __post_init__(self) -> None:
        self._check(expedite_level=self.expedite_level, regular_level=self.regular_level)
        if not self.cap >= 0:
            raise ValueError(f"cap(={self.cap!r}) must be a number >= 0 (inf: none)")
        object.__setattr__(self, "cap", float(self.cap))

    def orders(self, position: float, expedite_position: float) -> tuple[float, float]:
        q_r = min(self.cap, max(0.0, self.regular_level - position))
        return q_r, max(0.0, self.expedite_level - expedite_position)


@dataclass(frozen=True)
class TailoredBaseSurge(_DualPolicy):
    """Tailored base-surge (TBS): a constant regular order ``base`` every period, and
    expedite up to ``S_e`` on ``IP_e``.

    ``base`` may be fractional: in a whole-unit network the regular order of period t is
    ``floor((t + 1) base) - floor(t base)``, whole orders whose running total tracks
    ``base`` per period (as :class:`~des_supply.policies.ConstantRate`); :meth:`orders`
    is then not stationary, and says so.
    """

    base: float = 0.0
    expedite_level: float = 0.0

    def __post_init__(self) -> None:
        self._check(base=self.base, expedite_level=self.expedite_level)
        if self.base < 0:
            raise ValueError(f"base(={self.base}) must be >= 0")

    def act(self, obs: Observation) -> dict[str, dict[str, float]]:
        out = _DualPolicy.act(self, obs)
        if obs.network.continuous or float(self.base).is_integer():
            return out
        t = int(obs.t)
        part = float(math.floor((t + 1) * self.base + 1e-9) - math.floor(t * self.base + 1e-9))
        sources = self._sources(obs)
        for n, orders in out.items():
            orders[sources[n].regular] = part
        return out

    def orders(self, position: float, expedite_position: float) -> tuple[float, float]:
        return self.base, max(0.0, self.expedite_level - expedite_position)


# -- registration ----------------------------------------------------------------------------
from .policy_registry import Param, register_policy  # noqa: E402  (after the classes it builds)

_LEVELS = (
    Param("expedite_level", "expedited order-up-to level S_e", per_node=False, aliases=("Se",)),
    Param("regular_level", "regular order-up-to level S_r", per_node=False, aliases=("Sr",)),
)


def _register(name: str, cls: type, summary: str, *params: Param) -> None:
    def build(problem: Problem, p: dict[str, Any]) -> Any:
        return cls(**p)

    register_policy(
        name,
        build,
        summary=summary,
        params=params,
        applies=applies_to,
        group="sourcing",
        family=cls,
    )


_register(
    "single-index",
    SingleIndex,
    "dual sourcing, single index (SIP): expedite up to S_e, then regular up to S_r, both on IP",
    *_LEVELS,
)
_register(
    "dual-index",
    DualIndex,
    "dual sourcing, dual index (DIP): expedite up to S_e on IP_e, regular up to S_r on IP",
    *_LEVELS,
)
_register(
    "capped-dual-index",
    CappedDualIndex,
    "dual sourcing, capped dual index (CDI): regular up to S_r on IP capped, expedite "
    "up to S_e on IP_e",
    *_LEVELS,
    Param("cap", "largest regular order per period (inf: none)", per_node=False),
)
_register(
    "tailored-base-surge",
    TailoredBaseSurge,
    "dual sourcing, tailored base-surge (TBS): constant regular order, expedite up to S_e",
    Param("base", "regular order every period", per_node=False, aliases=("Q",)),
    Param("expedite_level", "expedited order-up-to level S_e", per_node=False, aliases=("Se",)),
)
