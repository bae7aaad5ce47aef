"""The problem: one value that every command and method takes.

A :class:`Problem` is a validated :class:`~des_supply.network.Network`, its market
model (decision-dependent demand: pricing, recommendation; None when demand is
exogenous), the objective that follows from them (cost or profit) and the
defaults a run needs (horizon, warm-up).  The conventions results depend on (order
of events, simultaneous or sequential decisions, receive-then-ship or
ship-before-receipt, the capacities in force, whole or real quantities) are part
of the network and shown here as :attr:`Problem.conventions`;
:func:`convention_note` says when a policy is run under a convention in which it
does not mean what the textbooks mean by it.

Scenarios return problems (``scenarios.make("serial")``), a network file is a
problem (:meth:`Problem.from_json`), and a Network built in Python is a problem
(:func:`as_problem`).  What exact methods apply is read once from the structure,
never from a name: :attr:`Problem.kind`.

>>> from des_supply import Edge, Network, Node, Poisson
>>> net = Network(nodes=(Node("s", kind="supply"), Node("store", holding_cost=1,
...                      shortage="lost", shortage_cost=9, demand=Poisson(5))),
...               edges=(Edge("s", "store", lead_time=2),))
>>> problem = as_problem(net)
>>> problem.kind.shape, problem.kind.market, problem.kind.shortage, problem.objective
('single-stage', None, 'lost', 'cost')

"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .network import INF, Network
from .sim import Market, Simulation, objective_of

__all__ = [
    "INSTALLATION_POLICIES",
    "SHAPES",
    "Problem",
    "ProblemKind",
    "as_problem",
    "convention_note",
    "is_network_file",
]

#: Structural shapes, from the most to the least specific.
SHAPES = (
    "single-stage",
    "multi-sourcing",
    "serial",
    "parallel",
    "distribution",
    "assembly",
    "general",
)


@dataclass(frozen=True, slots=True)
class ProblemKind:
    """What a problem is, read from its structure (which exact methods apply).

    ``shape``: ``single-stage`` (one stocking node fed by one supplier),
    ``multi-sourcing`` (one stocking node that chooses at every epoch how much to
    order from each of several external suppliers, ``supply_rule="choice"``: dual
    sourcing with two), ``serial`` (a
    chain of stocking nodes, external demand at the last), ``parallel`` (several
    single stages side by side), ``distribution`` (every stocking node has one
    supplier), ``assembly`` (every stocking node has at most one customer) or
    ``general``.  ``market``: None, or the market model's own ``kind``
    (``"pricing"``, ``"recommendation"``, ...).  ``shortage``: ``backlog``, ``lost``
    or ``mixed`` over the stocking nodes.
    """

    shape: str
    market: str | None
    shortage: str

    def __str__(self) -> str:
        return " ".join(
            x
            for x in (self.shape, self.shortage, self.market and f"with {self.market} market")
            if x
        )


def _shape(net: Network) -> str:
    stock = net.stock_nodes
    supplied = {n.name: net.suppliers(n.name) for n in stock}
    choosers = [n for n in stock if net.supply_rule_of(n.name) == "choice"]
    if choosers:  # the policy splits orders: not an assembly nor a distribution system
        only = stock[0]
        if len(stock) == 1 and all(
            net.node(e.source).kind == "supply" for e in supplied[only.name]
        ):
            return "multi-sourcing"
        return "general"
    feeding = {n.name: net.customers(n.name) for n in stock}
    supply_names = {n.name for n in net.nodes if n.kind == "supply"}
    single_source = all(len(v) == 1 for v in supplied.values())
    internal = [e for e in net.edges if e.source not in supply_names]
    if single_source and not internal:
        return "single-stage" if len(stock) == 1 else "parallel"
    chain = single_source and all(len(v) <= 1 for v in feeding.values())
    if chain and len(internal) == len(stock) - 1:
        ends = [n for n in stock if not feeding[n.name]]
        if len(ends) == 1 and all(n.demand is None for n in stock if n is not ends[0]):
            return "serial"
    if single_source:
        return "distribution"
    if all(len(v) <= 1 for v in feeding.values()):
        return "assembly"
    return "general"


def _kind(net: Network, market: Market | None) -> ProblemKind:
    rules = {n.shortage for n in net.stock_nodes}
    shortage = rules.pop() if len(rules) == 1 else "mixed"
    market_kind = None if market is None else str(getattr(market, "kind", "custom"))
    return ProblemKind(_shape(net), market_kind, shortage)


@dataclass(frozen=True)
class Problem:
    """A supply-chain problem: network, market, objective and run defaults.

    Parameters
    ----------
    network : Network
    market : Market, optional
        Decision-dependent demand (see :class:`des_supply.sim.Market`).  A market keeps
        per-run state, so every run gets its own copy (:meth:`new_market`).
    name : str
        Defaults to the network's name.
    params : mapping
        The parameters the problem was built from (a scenario's keyword arguments), kept
        for provenance; they are not read by any method.
    periods, warmup : int
        Default horizon and warm-up of a simulation [periods; time units for a
        continuous-time network (``network.time == "continuous"``)].
    source : str
        Where it came from: a scenario name, a file path, or "python".
    """

    network: Network
    market: Market | None = None
    name: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    periods: int = 10_000
    warmup: int = 100
    source: str = "python"
    kind: ProblemKind = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.network, Network):
            raise TypeError(f"a problem needs a Network, got {type(self.network).__name__}")
        if self.market is not None and self.network.time == "continuous":
            raise ValueError(
                f"problem {self.name or self.network.name!r}: a market (decision-"
                "dependent demand) is not supported in continuous time"
            )
        if self.market is not None and not (
            callable(getattr(self.market, "reset", None))
            and callable(getattr(self.market, "draw", None))
        ):
            raise TypeError(
                f"market must have reset(rng) and draw(t, action, obs) methods, got "
                f"{type(self.market).__name__}"
            )
        for what, value, low in (("periods", self.periods, 1), ("warmup", self.warmup, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(
                    f"problem {self.name or self.network.name!r}: {what}(={value!r}) "
                    f"must be an integer >= {low}"
                )
        if self.warmup >= self.periods:
            raise ValueError(
                f"warmup(={self.warmup}) must be smaller than periods(={self.periods})"
            )
        object.__setattr__(self, "name", self.name or self.network.name)
        object.__setattr__(self, "params", dict(self.params))
        object.__setattr__(self, "kind", _kind(self.network, self.market))

    @property
    def objective(self) -> str:
        """``"profit"`` when something is sold at a price or a market sets demand, else ``"cost"``."""
        return objective_of(self.network, self.market)

    @property
    def conventions(self) -> dict[str, Any]:
        """The conventions a result depends on (see :mod:`des_supply.sim`): ``time``,
        ``order_timing``, ``decisions``, ``shipping_timing``, ``quantities`` and
        ``capacities`` (which of order, shipping and storage capacity some node has)."""
        net = self.network
        capacities = [
            kind
            for kind, present in (
                ("order", any(n.capacity < INF for n in net.stock_nodes)),
                (
                    "shipping",
                    any(
                        n.shipping_capacity < INF or (n.kind == "supply" and n.capacity < INF)
                        for n in net.nodes
                    ),
                ),
                ("storage", any(n.storage_capacity < INF for n in net.stock_nodes)),
            )
            if present
        ]
        return {
            "time": net.time,
            "order_timing": net.order_timing,
            "decisions": net.decisions,
            "shipping_timing": net.shipping_timing,
            "quantities": "real" if net.continuous else "whole units",
            "capacities": capacities,
        }

    def new_market(self) -> Market | None:
        """An independent copy of the market for one run (None without a market)."""
        return None if self.market is None else copy.deepcopy(self.market)

    def simulation(self, periods: int | None = None, seed: Any = 0) -> Simulation:
        """A :class:`Simulation` of this problem with its own market copy (for a
        continuous-time network, a :class:`~des_supply.continuous.ContinuousSimulation`
        over *periods* time units)."""
        if self.network.time == "continuous":
            from .continuous import ContinuousSimulation  # continuous imports this module

            return ContinuousSimulation(
                self.network, self.periods if periods is None else periods, seed
            )
        return Simulation(
            self.network, self.periods if periods is None else periods, seed, self.new_market()
        )

    def describe(self) -> dict[str, Any]:
        """Plain data for results and run files (provenance, not a way to rebuild it)."""
        return {
            "name": self.name,
            "source": self.source,
            "params": dict(self.params),
            "kind": {
                "shape": self.kind.shape,
                "market": self.kind.market,
                "shortage": self.kind.shortage,
            },
            "objective": self.objective,
            **self.conventions,
        }

    @classmethod
    def from_json(cls, path: str | Path) -> Problem:
        """A network file as a problem (no market; horizon 10,000 periods, warm-up 100)."""
        network = Network.from_json(Path(path))
        return cls(network, name=Path(path).stem, source=str(path))


#: Registered policies that order on each node's installation inventory position (their
#: levels mean the textbook's only when upstream stages see this period's orders).
INSTALLATION_POLICIES = frozenset(
    {"base-stock", "capped-base-stock", "ss", "rq", "best-base-stock", "best-capped-base-stock"}
)


def convention_note(problem: Problem | Network, policy_name: str) -> str | None:
    """One line when *policy_name* runs under a convention in which it is known to behave
    differently from its textbook meaning, else None.

    Today: an installation policy (:data:`INSTALLATION_POLICIES`) on a multi-echelon
    network (a stocking node supplied by another) under simultaneous decisions, where an
    upstream stage sees its customer's order of a period one period late, so installation
    levels are not the echelon-equivalent textbook policy (Snyder & Shen Example 6.1: about
    300 per period instead of 47.7).
    """
    net = as_problem(problem).network
    if (
        policy_name not in INSTALLATION_POLICIES
        or net.decisions != "simultaneous"
        or net.time == "continuous"
    ):  # continuous review: upstream reviews after its customers
        return None
    stock = {n.name for n in net.stock_nodes}
    if not any(e.source in stock for e in net.edges):
        return None
    return (
        f"note: {policy_name!r} orders on installation positions but {net.name!r} decides "
        "simultaneously (upstream stages see this period's orders a period late): not the "
        "textbook policy, which needs decisions='sequential'"
    )


def as_problem(value: Problem | Network, market: Market | None = None) -> Problem:
    """*value* as a Problem: a Problem as it is, a Network with *market* (or none)."""
    if isinstance(value, Problem):
        if market is not None:
            raise ValueError(f"problem {value.name!r} has its own market; do not pass another")
        return value
    if isinstance(value, Network):
        return Problem(value, market)
    raise TypeError(f"expected a Problem or a Network, got {type(value).__name__}")


def is_network_file(target: str) -> bool:
    """True when *target* names a network file rather than a scenario."""
    return target.endswith(".json") or "/" in target or "\\" in target
