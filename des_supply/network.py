"""The network model: stocking and supply nodes joined by supply edges, over a networkx DAG.

A :class:`Network` is an immutable value made of :class:`Node` and :class:`Edge`
dataclasses; it is validated when built, and every error names the node, edge or
parameter at fault.  The networkx graph is derived from it (``network.graph()``),
never the other way round.  ``to_dict``/``from_dict`` (and the JSON helpers)
round-trip it through plain data; loading never executes code.

Conventions (units are per period):

* ``kind="supply"`` nodes are external suppliers: unlimited stock, or at most
  ``capacity`` units shipped per period (the rest waits, first come first served).
  Every stocking node needs at least one supplier edge.
* A node with several suppliers must say how an order is split among them
  (``supply_rule``): ``"assembly"`` (each supplier provides a component, ``bom``
  units per unit of product), ``"split"`` (fixed fractions, ``Edge.share``) or
  ``"priority"`` (fill from the supplier with the lowest ``Edge.priority`` as far
  as its stock on hand allows, the rest from the next, the last one takes what is
  left) or ``"choice"`` (the policy chooses, at every decision epoch, how much to
  order from each supplier: production methods, dual sourcing).  Under ``"choice"``
  the node's entry in ``Action.orders`` is a mapping *supplier node name ->
  quantity* (``{"store": {"regular": 3, "expedited": 1}}``) instead of one number;
  each supplier edge keeps its own lead time (deterministic or stochastic), unit
  cost (``Edge.unit_cost`` per unit shipped on it) and the supplier's capacity,
  while the node's ``capacity``, ``storage_capacity``, ``order_cost`` and
  ``fixed_order_cost`` apply to the total it orders (see ``des_supply.sim``).
* ``shortage_cost`` is charged per unit backlogged at the end of a period under
  ``shortage="backlog"`` and per unit lost under ``shortage="lost"``.  The rule
  also applies to orders from downstream nodes.
* ``capacity`` of a stocking node caps what it *orders* per period (the cut is
  recorded in the ledger's ``order_cut``); ``shipping_capacity`` caps what it
  *ships* to downstream nodes per period, backlog included (production
  capacity; the excess is backlogged or lost by the node's shortage rule).  A
  supply node's ``capacity`` is its shipping capacity.
* Network-level conventions (see ``des_supply.sim``): ``order_timing``,
  ``decisions`` (``simultaneous`` or ``sequential``) and ``shipping_timing``
  (``receive-then-ship`` or ``ship-before-receipt``).
* ``time="continuous"`` (see ``des_supply.continuous``) reads every "per period"
  above as "per unit time": holding and backlog costs accrue per unit and unit of
  time, lead times are real numbers of time units (any distribution), and demand is
  an arrival process (:mod:`des_supply.arrivals`).  Settings that only mean something
  on a period clock (order and shipping capacities, review periods, the periodic
  conventions) are refused there.  ``time`` is an additive field of format version
  1: files without it are periodic and read as before.
* Magnitudes are bounded: every finite quantity and cost is at most
  :data:`MAX_MAGNITUDE` (1e15), so that costs stay finite (1e15 units at 1e15
  per unit is 1e30, far from float overflow), and the initial stock of a node
  (on hand plus initial pipeline) must fit its storage capacity.
* Multi-product networks are not modelled yet: a node stocks one item.  Items
  would be a new key on nodes and edges; nothing here assumes there is only one
  kind of node payload.

The network file
----------------
The plain data of ``to_dict`` (a JSON object) is a documented contract: the JSON
Schema shipped as ``des_supply/network.schema.json`` (:data:`SCHEMA_PATH`,
:func:`network_schema`) gives every field its type, default, units and meaning.
Files carry ``"format_version": 1`` (files without it are read as version 1; a
newer version is refused).  Numbers must be JSON numbers: a string such as
``"1.5"`` or a boolean is refused wherever a number is expected, with a message
naming the node or edge, the field and the value; whole-number fields
(``review_period``, ``review_offset``, ``priority``, a deterministic lead time)
take ``2`` or ``2.0`` but not ``2.5``.  ``to_networkx``/``from_networkx`` carry
the same fields as plain graph attributes (GraphML and node-link JSON ready).

Structure
---------
What follows from the graph is derived once, when the network is built:
:attr:`Network.topological_order`, :attr:`Network.downstream_first`,
:meth:`Network.echelon`, :meth:`Network.supply_rule_of` and
:attr:`Network.mean_flows`; the engine and the optimizers read it from here.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import math
import numbers
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, cast

import networkx as nx

from . import distributions as _dist
from .arrivals import ARRIVAL_KINDS, ArrivalProcess, arrival_from_dict, is_arrival_process
from .distributions import (
    MAX_MAGNITUDE,
    Deterministic,
    Distribution,
    as_distribution,
    distribution_from_dict,
)

__all__ = [
    "DECISIONS",
    "FORMAT_VERSION",
    "MAX_MAGNITUDE",
    "SCHEMA_PATH",
    "SHIPPING_TIMINGS",
    "TIMES",
    "Edge",
    "Network",
    "NetworkError",
    "Node",
    "network_schema",
]

INF = math.inf
#: Version of the network file format written by :meth:`Network.to_dict`.
FORMAT_VERSION = 1
#: The JSON Schema (draft 2020-12) of the network file, shipped with the package.
SCHEMA_PATH = Path(__file__).with_name("network.schema.json")
SHORTAGE_RULES = ("backlog", "lost")
SUPPLY_RULES = ("assembly", "split", "priority", "choice")
TIMINGS = ("order-before-demand", "order-after-demand")
DECISIONS = ("simultaneous", "sequential")
SHIPPING_TIMINGS = ("receive-then-ship", "ship-before-receipt")
TIMES = ("periodic", "continuous")


class NetworkError(ValueError):
    """A network that cannot be simulated; the message names the node or edge."""


def network_schema() -> dict[str, Any]:
    """The JSON Schema of the network file (a fresh dict on every call).

    Example
    -------
    >>> schema = network_schema()
    >>> schema["$schema"], schema["properties"]["format_version"]["const"]
    ('https://json-schema.org/draft/2020-12/schema', 1)
    """
    return json.loads(SCHEMA_PATH.read_text())


def _is_number(value: Any) -> bool:
    """A real number that is not a boolean (JSON numbers, numpy scalars)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _integer(owner: str, name: str, value: Any) -> int:
    """A whole number given as a number (2 or 2.0, not 2.5, "2" or true)."""
    if not _is_number(value) or not float(value).is_integer():
        raise NetworkError(f"{owner}: {name}(={value!r}) must be an integer")
    return int(value)


def _nonneg(owner: str, name: str, value: Any, allow_inf: bool = False) -> float:
    if not _is_number(value):
        raise NetworkError(
            f"{owner}: {name}(={value!r}) must be a number"
            + (" (not a string)" if isinstance(value, str) else "")
        )
    value = float(value)
    if math.isnan(value) or value < 0 or (math.isinf(value) and not allow_inf):
        raise NetworkError(
            f"{owner}: {name}(={value}) must be >= 0" + ("" if allow_inf else " and finite")
        )
    if MAX_MAGNITUDE < value < math.inf:
        raise NetworkError(
            f"{owner}: {name}(={value:g}) is above {MAX_MAGNITUDE:g}, the largest "
            "magnitude the engine accepts (costs would not stay finite)"
            + (": use inf for no limit" if allow_inf else "")
        )
    return value


@dataclass(frozen=True, slots=True)
class Node:
    """A stocking point (``kind="stock"``) or an external supplier (``kind="supply"``).

    Costs are per unit and period unless said otherwise.
    """

    name: str
    kind: Literal["stock", "supply"] = "stock"
    holding_cost: float = 0.0  # per unit on hand at the end of a period [h]
    shortage: Literal["backlog", "lost"] = "backlog"
    shortage_cost: float = 0.0  # per unit backlogged at period end, or per unit lost [p]
    fixed_order_cost: float = 0.0  # per order placed [K]
    order_cost: float = 0.0  # per unit ordered [c]
    price: float = 0.0  # revenue per unit sold to external customers
    capacity: float = INF  # max units ordered (stock) or shipped (supply) per period
    storage_capacity: float = INF  # on hand + on order never exceeds it (orders are cut)
    shipping_capacity: float = INF  # max units a stocking node ships downstream per period
    initial_on_hand: float = 0.0
    initial_pipeline: tuple[float, ...] = ()  # [k] arrives at the start of period k
    review_period: int = 1  # the node decides when (t - review_offset) % review_period == 0
    review_offset: int = 0
    demand: Distribution | ArrivalProcess | None = None  # per period, or arrivals (continuous)
    supply_rule: Literal["assembly", "split", "priority", "choice"] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise NetworkError(f"node name must be a non-empty string, got {self.name!r}")
        who = f"node {self.name!r}"
        if self.kind not in ("stock", "supply"):
            raise NetworkError(f"{who}: kind(={self.kind!r}) must be 'stock' or 'supply'")
        if self.shortage not in SHORTAGE_RULES:
            raise NetworkError(f"{who}: shortage(={self.shortage!r}) must be 'backlog' or 'lost'")
        if self.supply_rule is not None and self.supply_rule not in SUPPLY_RULES:
            raise NetworkError(
                f"{who}: supply_rule(={self.supply_rule!r}) must be one of "
                f"{', '.join(SUPPLY_RULES)}"
            )
        for name in (
            "holding_cost",
            "shortage_cost",
            "fixed_order_cost",
            "order_cost",
            "price",
            "initial_on_hand",
        ):
            object.__setattr__(self, name, _nonneg(who, name, getattr(self, name)))
        for name in ("capacity", "storage_capacity", "shipping_capacity"):
            object.__setattr__(self, name, _nonneg(who, name, getattr(self, name), allow_inf=True))
        if not isinstance(self.initial_pipeline, (tuple, list)):
            raise NetworkError(f"{who}: initial_pipeline must be a list of quantities")
        pipeline = tuple(_nonneg(who, "initial_pipeline entry", q) for q in self.initial_pipeline)
        object.__setattr__(self, "initial_pipeline", pipeline)
        for name in ("review_period", "review_offset"):
            object.__setattr__(self, name, _integer(who, name, getattr(self, name)))
        if self.review_period < 1:
            raise NetworkError(f"{who}: review_period(={self.review_period}) must be >= 1")
        if not 0 <= self.review_offset < self.review_period:
            raise NetworkError(
                f"{who}: review_offset(={self.review_offset}) must be in "
                f"[0, review_period={self.review_period})"
            )
        if self.demand is not None and not is_arrival_process(self.demand):
            try:
                object.__setattr__(self, "demand", as_distribution(self.demand))
            except ValueError as exc:
                raise NetworkError(f"{who}: demand: {exc}") from None
        if self.kind == "supply" and (
            self.demand is not None or self.initial_on_hand or self.initial_pipeline
        ):
            raise NetworkError(
                f"{who}: a supply node has unlimited stock and no demand or "
                "initial inventory of its own"
            )
        if self.kind == "supply" and self.shipping_capacity < INF:
            raise NetworkError(
                f"{who}: shipping_capacity(={self.shipping_capacity:g}) is for "
                "stocking nodes; a supply node's capacity is what it ships per period"
            )
        initial = self.initial_on_hand + sum(pipeline)
        if initial > self.storage_capacity + 1e-9:
            raise NetworkError(
                f"{who}: initial stock {initial:g} (initial_on_hand "
                f"{self.initial_on_hand:g} + initial_pipeline {sum(pipeline):g}) is "
                f"above storage_capacity(={self.storage_capacity:g})"
            )

    def reviews_at(self, t: int) -> bool:
        return (t - self.review_offset) % self.review_period == 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value == f.default:
                continue
            if f.name == "demand":
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        out["name"] = self.name
        return out


@dataclass(frozen=True, slots=True)
class Edge:
    """A supply link: *source* ships to *target* after a lead time drawn per period."""

    source: str
    target: str
    lead_time: Distribution = field(default_factory=lambda: Deterministic(1))  # periods [L]
    unit_cost: float = 0.0  # paid by the target per unit shipped on this edge
    bom: float = 1.0  # units of source item per unit of target item
    transit_holding_cost: float = 0.0  # per unit in transit (or waiting for assembly) per period
    share: float | None = None  # fraction of the target's orders (supply_rule="split")
    priority: int = 0  # lower is asked first (supply_rule="priority")
    sequential: bool = False  # True: shipments arrive in the order sent (no crossing)

    def __post_init__(self) -> None:
        who = f"edge {self.source!r}->{self.target!r}"
        try:
            object.__setattr__(self, "lead_time", as_distribution(self.lead_time))
        except ValueError as exc:
            raise NetworkError(f"{who}: lead_time: {exc}") from None
        for name in ("source", "target"):
            if not isinstance(getattr(self, name), str):
                raise NetworkError(f"{who}: {name} must be a node name (a string)")
        for name in ("unit_cost", "transit_holding_cost", "bom"):
            object.__setattr__(self, name, _nonneg(who, name, getattr(self, name)))
        if self.bom <= 0:
            raise NetworkError(f"{who}: bom(={self.bom}) must be > 0")
        if self.share is not None:
            object.__setattr__(self, "share", _nonneg(who, "share", self.share))
            if self.share > 1:
                raise NetworkError(f"{who}: share(={self.share}) must be in [0, 1]")
        if not isinstance(self.sequential, bool):
            raise NetworkError(f"{who}: sequential(={self.sequential!r}) must be true or false")
        object.__setattr__(self, "priority", _integer(who, "priority", self.priority))

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.target)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "target": self.target,
            "lead_time": self.lead_time.to_dict(),
        }
        for f in fields(self)[3:]:
            value = getattr(self, f.name)
            if value != f.default:
                out[f.name] = value
        return out


@dataclass(frozen=True, slots=True)
class _Structure:
    """What follows from the graph, derived once per network (see :class:`Network`)."""

    index: dict[str, Node]
    suppliers: dict[str, tuple[Edge, ...]]
    customers: dict[str, tuple[Edge, ...]]
    topological_order: tuple[str, ...]
    echelons: dict[str, tuple[str, ...]]
    mean_flows: dict[str, float]


@dataclass(frozen=True, slots=True)
class Network:
    """A validated supply-chain network (any DAG: serial, distribution, assembly, general).

    ``order_timing`` fixes the order of events in a period (see ``des_supply.sim``):
    ``"order-before-demand"`` (receive, order, demand: Zipkin 2008) or
    ``"order-after-demand"`` (receive, demand, order: Snyder & Shen, the beer game).
    ``continuous`` says whether quantities are real numbers; by default it is True
    when some demand is continuous, and orders are otherwise rounded to integers.
    ``decisions``: ``"simultaneous"`` (all nodes that review decide together on the
    state before this period's orders: the beer game, parallel multi-agent RL) or
    ``"sequential"`` (downstream first, each node after its customers' orders of the
    period are placed: textbook serial and distribution theory, stockpyl).
    ``shipping_timing``: ``"receive-then-ship"`` (this period's receipts can be
    shipped at once) or ``"ship-before-receipt"`` (a node ships to downstream nodes
    only from the stock it held at the start of the period: OR-Gym).
    ``time``: ``"periodic"`` (the period clock of ``des_supply.sim``) or
    ``"continuous"`` (``des_supply.continuous``: demand is an arrival process of
    :mod:`des_supply.arrivals`, lead times are real, costs accrue per unit time and
    nodes review at every change of their inventory position).  Not to be confused
    with ``continuous``, which is about quantities (real or whole units).

    The structure (orders of the nodes, echelons, supply rules in force, mean flows)
    is derived once when the network is built; it takes no part in equality,
    hashing or ``repr``.

    Example
    -------
    >>> from des_supply import Poisson
    >>> net = Network(nodes=(Node("plant", kind="supply"), Node("dc"),
    ...                      Node("s1", demand=Poisson(3)), Node("s2", demand=Poisson(2))),
    ...               edges=(Edge("plant", "dc", lead_time=2), Edge("dc", "s1"), Edge("dc", "s2")))
    >>> net.topological_order, net.echelon("dc")
    (('plant', 'dc', 's1', 's2'), ('dc', 's1', 's2'))
    >>> net.mean_flows["dc"], net.supply_rule_of("dc")
    (5.0, None)
    """

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    name: str = "network"
    order_timing: Literal["order-before-demand", "order-after-demand"] = "order-before-demand"
    continuous: bool | None = None
    decisions: Literal["simultaneous", "sequential"] = "simultaneous"
    shipping_timing: Literal["receive-then-ship", "ship-before-receipt"] = "receive-then-ship"
    time: Literal["periodic", "continuous"] = "periodic"
    _structure: _Structure = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        nodes, edges = tuple(self.nodes), tuple(self.edges)
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "edges", edges)
        if not isinstance(self.name, str):
            raise NetworkError(f"network name(={self.name!r}) must be a string")
        if not nodes:
            raise NetworkError(f"network {self.name!r} has no nodes")
        if self.order_timing not in TIMINGS:
            raise NetworkError(
                f"order_timing(={self.order_timing!r}) must be one of {', '.join(TIMINGS)}"
            )
        if self.decisions not in DECISIONS:
            raise NetworkError(
                f"network {self.name!r}: decisions(={self.decisions!r}) must be one "
                f"of {', '.join(DECISIONS)}"
            )
        if self.shipping_timing not in SHIPPING_TIMINGS:
            raise NetworkError(
                f"network {self.name!r}: shipping_timing(={self.shipping_timing!r}) "
                f"must be one of {', '.join(SHIPPING_TIMINGS)}"
            )
        if self.time not in TIMES:
            raise NetworkError(
                f"network {self.name!r}: time(={self.time!r}) must be one of {', '.join(TIMES)}"
            )
        if self.continuous is not None and not isinstance(self.continuous, bool):
            raise NetworkError(
                f"network {self.name!r}: continuous(={self.continuous!r}) must be "
                "true, false or null (derived from the demand)"
            )
        index: dict[str, Node] = {}
        for n in nodes:
            if not isinstance(n, Node):
                raise NetworkError(f"nodes must be Node objects, got {n!r}")
            if n.name in index:
                raise NetworkError(f"node {n.name!r} is declared twice")
            index[n.name] = n
        seen: set[tuple[str, str]] = set()
        suppliers: dict[str, list[Edge]] = {n.name: [] for n in nodes}
        customers: dict[str, list[Edge]] = {n.name: [] for n in nodes}
        for e in edges:
            if not isinstance(e, Edge):
                raise NetworkError(f"edges must be Edge objects, got {e!r}")
            for end in (e.source, e.target):
                if end not in index:
                    raise NetworkError(f"edge {e.source!r}->{e.target!r}: unknown node {end!r}")
            if e.source == e.target:
                raise NetworkError(f"edge {e.source!r}->{e.target!r} is a self-loop")
            if e.key in seen:
                raise NetworkError(f"edge {e.source!r}->{e.target!r} is declared twice")
            seen.add(e.key)
            suppliers[e.target].append(e)
            customers[e.source].append(e)
        position = {name: i for i, name in enumerate(index)}
        topo = _topological_order(position, customers)
        if len(topo) < len(nodes):
            G: nx.DiGraph[str] = nx.DiGraph()
            G.add_nodes_from(index)  # declaration order: the cycle is reported as before
            G.add_edges_from(e.key for e in edges)
            cycle = " -> ".join(u for u, _ in nx.find_cycle(G))
            raise NetworkError(f"network {self.name!r} has a cycle: {cycle}")
        structure = _Structure(
            index,
            {k: tuple(v) for k, v in suppliers.items()},
            {k: tuple(v) for k, v in customers.items()},
            topo,
            {},
            {},
        )
        object.__setattr__(self, "_structure", structure)
        for n in nodes:
            self._check_supply(n)
        if self.time == "continuous":
            self._check_continuous_time()
        else:
            self._check_periodic()
        self._derive(structure, position)
        if self.continuous is None:
            continuous = any(n.demand is not None and not n.demand.integer for n in nodes)
            object.__setattr__(self, "continuous", continuous)

    def _check_periodic(self) -> None:
        """Periodic time: whole-period lead times, demand per period (no arrival process)."""
        for n in self.nodes:
            if is_arrival_process(n.demand):
                kind = n.demand.kind
                raise NetworkError(
                    f"node {n.name!r}: demand is an arrival process ({kind}); "
                    "arrival processes need time='continuous'"
                )
        for e in self.edges:
            if not e.lead_time.integer:
                raise NetworkError(
                    f"edge {e.source!r}->{e.target!r}: lead_time must take whole "
                    f"numbers of periods (got {e.lead_time.to_dict()}); real lead "
                    "times need time='continuous'"
                )

    def _check_continuous_time(self) -> None:
        """Continuous time: demand is an arrival process; per-period settings are refused."""
        who = f"network {self.name!r} (time='continuous')"
        for name, value, default in (
            ("order_timing", self.order_timing, TIMINGS[0]),
            ("decisions", self.decisions, DECISIONS[0]),
            ("shipping_timing", self.shipping_timing, SHIPPING_TIMINGS[0]),
        ):
            if value != default:
                raise NetworkError(
                    f"{who}: {name}(={value!r}) is a convention of periodic time; "
                    "leave it at its default"
                )
        for n in self.nodes:
            node = f"node {n.name!r} (time='continuous')"
            if n.demand is not None and not is_arrival_process(n.demand):
                raise NetworkError(
                    f"{node}: demand must be an arrival process (poisson_process, "
                    f"compound_poisson, renewal, arrival_trace), got "
                    f"{n.demand.to_dict()}"
                )
            for name in ("capacity", "shipping_capacity"):
                if getattr(n, name) < INF:
                    raise NetworkError(
                        f"{node}: {name}(={getattr(n, name):g}) is per period; "
                        "continuous time has no capacities per period yet"
                    )
            if n.review_period != 1 or n.review_offset != 0:
                raise NetworkError(
                    f"{node}: review_period/review_offset are periodic; nodes "
                    "review continuously in continuous time"
                )

    def _derive(self, s: _Structure, position: Mapping[str, int]) -> None:
        """Fill the echelons and mean flows of *s*, downstream first."""
        below: dict[str, set[str]] = {}
        for name in reversed(s.topological_order):
            members: set[str] = set()
            for e in s.customers[name]:
                members.add(e.target)
                members |= below[e.target]
            below[name] = members
            s.echelons[name] = (name, *sorted(members, key=position.__getitem__))
        weight: dict[tuple[str, str], float] = {}
        for name, inbound in s.suppliers.items():
            rule = s.index[name].supply_rule if len(inbound) > 1 else None
            first = min(inbound, key=lambda e: e.priority) if rule == "priority" else None
            for e in inbound:  # under "choice" every supplier may carry the whole flow
                if rule == "split":
                    weight[e.key] = float(cast(float, e.share))  # checked: split edges have one
                elif rule == "priority":
                    weight[e.key] = 1.0 if e is first else 0.0
                else:
                    weight[e.key] = 1.0
        flows: dict[str, float] = {}
        for name in reversed(s.topological_order):
            demand = s.index[name].demand
            flow = float(demand.mean) if demand is not None else 0.0
            for e in s.customers[name]:
                flow += flows[e.target] * e.bom * weight[e.key]
            flows[name] = flow
        s.mean_flows.update((name, flows[name]) for name in s.index)  # declaration order

    def _check_supply(self, n: Node) -> None:
        who = f"node {n.name!r}"
        inbound = self.suppliers(n.name)
        if n.kind == "supply":
            if inbound:
                raise NetworkError(
                    f"{who} is a supply node but has suppliers: "
                    f"{', '.join(e.source for e in inbound)}"
                )
            return
        if not inbound:
            raise NetworkError(
                f"{who} is a stocking node with no supplier; add an edge from a "
                "supply node (kind='supply') or another stocking node"
            )
        if len(inbound) > 1 and n.supply_rule is None:
            raise NetworkError(
                f"{who} has {len(inbound)} suppliers; set supply_rule to "
                f"'assembly', 'split', 'priority' or 'choice'"
            )
        rule = self.supply_rule_of(n.name)
        if rule in ("split", "priority", "choice"):
            for e in inbound:
                if e.bom != 1:
                    raise NetworkError(
                        f"edge {e.source!r}->{e.target!r}: bom(={e.bom}) must be 1 "
                        f"when {who} sources one item from several suppliers"
                    )
        if rule == "split":
            missing = [e.source for e in inbound if e.share is None]
            if missing:
                raise NetworkError(
                    f"{who} uses supply_rule='split' but edges from "
                    f"{', '.join(map(repr, missing))} have no share"
                )
            total = sum(e.share for e in inbound if e.share is not None)  # none missing
            if abs(total - 1) > 1e-9:
                raise NetworkError(f"{who}: shares of its supply edges sum to {total}, not 1")

    # -- structure ---------------------------------------------------------------------------
    def graph(self) -> nx.DiGraph:
        """The networkx DiGraph: node attribute ``node``, edge attribute ``edge``.

        The attributes are the :class:`Node` and :class:`Edge` objects; for a graph with
        plain attributes (to write as GraphML or node-link JSON) use :meth:`to_networkx`.
        """
        G: nx.DiGraph[str] = nx.DiGraph(name=self.name)
        G.add_nodes_from((n.name, {"node": n}) for n in self.nodes)
        G.add_edges_from((e.source, e.target, {"edge": e}) for e in self.edges)
        return G

    def node(self, name: str) -> Node:
        try:
            return self._structure.index[name]
        except (KeyError, TypeError):
            raise KeyError(
                f"no node {name!r} in network {self.name!r} "
                f"(nodes: {', '.join(n.name for n in self.nodes)})"
            ) from None

    def suppliers(self, name: str) -> tuple[Edge, ...]:
        """Edges into *name*, in declaration order."""
        return self._structure.suppliers.get(name, ())

    def customers(self, name: str) -> tuple[Edge, ...]:
        """Edges out of *name*, in declaration order."""
        return self._structure.customers.get(name, ())

    @property
    def topological_order(self) -> tuple[str, ...]:
        """Node names, every supplier before its customers (downstream last); among nodes
        free to go next, the one declared first goes first."""
        return self._structure.topological_order

    @property
    def downstream_first(self) -> tuple[str, ...]:
        """Node names, every customer before its suppliers: :attr:`topological_order`
        reversed (the order in which the engine places orders)."""
        return self._structure.topological_order[::-1]

    def supply_rule_of(self, name: str) -> str | None:
        """The rule that splits *name*'s orders among its suppliers: None for a node with
        at most one supplier (its ``supply_rule`` is then not used), else the node's
        ``supply_rule`` (``"assembly"``, ``"split"``, ``"priority"`` or ``"choice"``)."""
        node = self.node(name)
        return node.supply_rule if len(self.suppliers(name)) > 1 else None

    def echelon(self, name: str) -> tuple[str, ...]:
        """*name* and every node downstream of it (reachable along edges), the others in
        declaration order."""
        try:
            return self._structure.echelons[name]
        except KeyError:
            self.node(name)
            raise

    @property
    def mean_flows(self) -> dict[str, float]:
        """Mean units per period through each node [units/period] (a new dict).

        A node's own mean external demand plus, for each customer edge, the customer's
        flow times the edge's ``bom``, times its ``share`` when the customer splits its
        orders (``supply_rule="split"``); under ``"priority"`` the whole flow goes to the
        supplier asked first (lowest ``priority``); under ``"choice"`` the policy decides,
        so every supplier counts the whole flow (an upper bound, for sizing searches and
        pipelines).  Demand set by a market model is not
        part of the network and counts as 0.
        """
        return dict(self._structure.mean_flows)

    @property
    def stock_nodes(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.kind == "stock")

    @property
    def demand_nodes(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.demand is not None)

    def replace_node(self, name: str, **changes: Any) -> Network:
        """A copy with node *name* changed (``dataclasses.replace`` on that node)."""
        self.node(name)
        nodes = tuple(replace(n, **changes) if n.name == name else n for n in self.nodes)
        return replace(self, nodes=nodes)

    # -- plain data ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The network as plain data (the network file format, see :data:`SCHEMA_PATH`);
        node and edge fields at their defaults are left out."""
        return {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "order_timing": self.order_timing,
            "continuous": self.continuous,
            **self._conventions(),
            "nodes": [n.to_dict() for n in self.nodes],
            "edges": [e.to_dict() for e in self.edges],
        }

    def _conventions(self) -> dict[str, str]:
        """``decisions``, ``shipping_timing`` and ``time`` where they differ from their
        defaults (files and graphs of networks using none read as before)."""
        out: dict[str, str] = {}
        if self.time != TIMES[0]:
            out["time"] = self.time
        if self.decisions != DECISIONS[0]:
            out["decisions"] = self.decisions
        if self.shipping_timing != SHIPPING_TIMINGS[0]:
            out["shipping_timing"] = self.shipping_timing
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Network:
        """Build a network from plain data (as written by :meth:`to_dict`).

        Every error is a :class:`NetworkError` naming the node, edge or field at fault;
        no code is executed.  A ``"$schema"`` key (for editors) is allowed and ignored.
        """
        if not isinstance(data, Mapping):
            raise NetworkError(f"a network must be a JSON object, got {type(data).__name__}")
        _no_unknown("network", data, ("$schema", *_NETWORK_KEYS))
        _check_version("network", data.get("format_version", FORMAT_VERSION))
        nodes = [_node_from_dict(d) for d in _list(data, "nodes")]
        edges = [_edge_from_dict(d) for d in _list(data, "edges")]
        return cls(
            tuple(nodes),
            tuple(edges),
            name=data.get("name", "network"),
            order_timing=data.get("order_timing", "order-before-demand"),
            continuous=data.get("continuous"),
            decisions=data.get("decisions", DECISIONS[0]),
            shipping_timing=data.get("shipping_timing", SHIPPING_TIMINGS[0]),
            time=data.get("time", TIMES[0]),
        )

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    @classmethod
    def from_json(cls, source: str | Path) -> Network:
        """Load from a JSON file (a :class:`~pathlib.Path`, or a string naming a file) or
        a JSON string (a string starting with ``{``).

        Whatever the file holds, a failure is a :class:`NetworkError` that names the file
        and what is wrong with it: missing, a folder, empty, larger than
        :data:`MAX_FILE_BYTES`, compressed, binary, not UTF-8 (UTF-16 and UTF-32 are
        refused; a UTF-8 byte-order mark is allowed), not JSON, JSON beyond the standard
        (``NaN``, ``Infinity``), a key repeated in one object, nested too deeply, or not
        a network.
        """
        if isinstance(source, str) and source.lstrip().startswith("{"):
            return _network_from_text(source, "network JSON")
        where = f"network file {source}"
        return _network_from_text(_read_network_file(Path(source), where), where)

    # -- networkx with plain attributes ----------------------------------------------------------
    def to_networkx(self) -> nx.DiGraph:
        """The network as a DiGraph whose attributes are plain values.

        Graph attributes: ``name``, ``order_timing``, ``continuous``, ``format_version``,
        and ``decisions``, ``shipping_timing`` and ``time`` when not at their defaults.
        Node and edge attributes are the fields of :class:`Node` and :class:`Edge` (the
        node key is its name); strings, numbers and booleans stay as they are, a
        deterministic distribution becomes its number, other distributions and
        ``initial_pipeline`` become JSON strings, and fields that are None or infinite
        (no demand, no rule, unlimited capacity) are left out.  Each edge also carries
        ``position``, its place in :attr:`edges`, so that the declaration order survives
        a file.  ``networkx.write_graphml`` and ``networkx.node_link_data`` take the
        result as it is; :meth:`from_networkx` reads it back.

        Example
        -------
        >>> from des_supply import Poisson
        >>> net = Network((Node("s", kind="supply"), Node("a", demand=Poisson(4))),
        ...               (Edge("s", "a", lead_time=2),), name="one")
        >>> G = net.to_networkx()
        >>> G.graph["name"], G.nodes["a"]["demand"], G.edges["s", "a"]["lead_time"]
        ('one', '{"type": "poisson", "mean": 4}', 2)
        >>> Network.from_networkx(G) == net
        True
        """
        G: nx.DiGraph[str] = nx.DiGraph(
            name=self.name,
            order_timing=self.order_timing,
            continuous=bool(self.continuous),
            format_version=FORMAT_VERSION,
        )
        G.graph.update(self._conventions())
        for n in self.nodes:
            G.add_node(n.name, **_plain_attributes(n, ("name",)))
        for i, e in enumerate(self.edges):
            G.add_edge(e.source, e.target, **_plain_attributes(e, ("source", "target")), position=i)
        return G

    @classmethod
    def from_networkx(cls, G: nx.DiGraph) -> Network:
        """Build a network from a DiGraph with plain attributes (see :meth:`to_networkx`).

        Node keys are the node names.  A distribution attribute (``demand``,
        ``lead_time``) may be a number (deterministic), a dict or its JSON string, and
        ``initial_pipeline`` a list or its JSON string; every other attribute follows the
        rules of :meth:`from_dict`.  Edges are declared by their ``position`` attribute,
        if any, else in the graph's edge order.  Errors name the node or edge.
        """
        if not isinstance(G, nx.DiGraph) or G.is_multigraph():
            raise NetworkError(f"from_networkx needs a networkx DiGraph, got {type(G).__name__}")
        graph = {k: v for k, v in G.graph.items() if k not in _GRAPHML_GRAPH_KEYS}
        _no_unknown("graph", graph, _NETWORK_KEYS[:-2])
        _check_version("graph", graph.get("format_version", FORMAT_VERSION))
        node_fields = tuple(f.name for f in fields(Node) if f.name != "name")
        nodes = []
        for name, attrs in G.nodes(data=True):
            who = f"node {name!r}"
            _no_unknown(who, attrs, node_fields)
            data = _decoded(who, attrs, ("demand",))
            nodes.append(_node_from_dict({"name": name, **data}))
        edge_fields = (
            *(f.name for f in fields(Edge) if f.name not in ("source", "target")),
            "position",
        )
        edges = []
        for k, (u, v, attrs) in enumerate(G.edges(data=True)):
            who = f"edge {u!r}->{v!r}"
            _no_unknown(who, attrs, edge_fields)
            data = _decoded(who, attrs, ("lead_time",))
            position = _integer(who, "position", data.pop("position", len(G.edges) + k))
            edges.append((position, k, _edge_from_dict({"source": u, "target": v, **data})))
        edges.sort(key=lambda item: item[:2])
        return cls(
            tuple(nodes),
            tuple(e for _, _, e in edges),
            name=graph.get("name", "network"),
            order_timing=graph.get("order_timing", "order-before-demand"),
            continuous=graph.get("continuous"),
            decisions=graph.get("decisions", DECISIONS[0]),
            shipping_timing=graph.get("shipping_timing", SHIPPING_TIMINGS[0]),
            time=graph.get("time", TIMES[0]),
        )


#: Top-level keys of the network file; graph attributes are the same less nodes and edges.
_NETWORK_KEYS = (
    "format_version",
    "name",
    "order_timing",
    "continuous",
    "decisions",
    "shipping_timing",
    "time",
    "nodes",
    "edges",
)
#: Graph attributes that networkx's GraphML reader adds on its own.
_GRAPHML_GRAPH_KEYS = ("node_default", "edge_default")
#: Distribution and arrival-process classes by their ``type`` key (what
#: distribution_from_dict and arrival_from_dict read).
_DISTRIBUTIONS: dict[str, type] = {
    **{
        c.kind: c
        for c in (
            _dist.Deterministic,
            _dist.Poisson,
            _dist.Geometric,
            _dist.NegativeBinomial,
            _dist.Normal,
            _dist.DiscreteUniform,
            _dist.Empirical,
            _dist.Trace,
            _dist.NonStationary,
            _dist.Shifted,
            _dist.Exponential,
            _dist.Gamma,
            _dist.Lognormal,
            _dist.ContinuousUniform,
        )
    },
    **ARRIVAL_KINDS,
}


def _topological_order(
    position: Mapping[str, int], customers: Mapping[str, list[Edge]]
) -> tuple[str, ...]:
    """Kahn's algorithm taking, among the nodes free to go next, the one declared first
    (``nx.lexicographical_topological_sort`` keyed by declaration order); shorter than
    *position* when the graph has a cycle."""
    names = list(position)
    indegree = dict.fromkeys(names, 0)
    for out in customers.values():
        for e in out:
            indegree[e.target] += 1
    ready = [position[n] for n in names if indegree[n] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = names[heapq.heappop(ready)]
        order.append(name)
        for e in customers[name]:
            indegree[e.target] -= 1
            if indegree[e.target] == 0:
                heapq.heappush(ready, position[e.target])
    return tuple(order)


def _check_version(owner: str, version: Any) -> None:
    if not _is_number(version) or not float(version).is_integer():
        raise NetworkError(f"{owner}: format_version(={version!r}) must be an integer")
    if int(version) != FORMAT_VERSION:
        raise NetworkError(
            f"{owner}: format_version {version!r} is not supported (this version "
            f"of des-supply reads format_version {FORMAT_VERSION})"
        )


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise NetworkError(f"network: {key!r} must be a list")
    return value


def _no_unknown(owner: str, data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)  # may be a generator: it is read twice
    unknown = sorted(map(str, set(data) - set(allowed)))
    if unknown:
        raise NetworkError(
            f"{owner}: unknown field(s) {', '.join(map(repr, unknown))} "
            f"(allowed: {', '.join(allowed)})"
        )


def _distribution(who: str, name: str, value: Any) -> Any:
    """A distribution field from plain data: None, a number (deterministic; checked by
    Node/Edge) or a distribution object, checked here field by field."""
    if value is None or _is_number(value):
        return value
    if not isinstance(value, Mapping):
        raise NetworkError(
            f"{who}: {name}(={value!r}) must be a number (deterministic) or a "
            "distribution object with a 'type' key"
        )
    _distribution_data(f"{who}: {name}", value)
    try:
        if value.get("type") in ARRIVAL_KINDS:
            return arrival_from_dict(dict(value))
        return distribution_from_dict(dict(value))
    except ValueError as exc:
        raise NetworkError(f"{who}: {name}: {exc}") from None


def _distribution_data(owner: str, data: Mapping[str, Any]) -> None:
    """Check a distribution object's keys and value types (numbers must be numbers)."""
    kind = data.get("type")
    cls = _DISTRIBUTIONS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return  # distribution_from_dict names the type and the known ones
    kind = data["type"]
    params = dataclasses.fields(cls)
    _no_unknown(f"{owner} ({kind!r} distribution)", data, ("type", *(f.name for f in params)))
    for f in params:
        required = (
            f.default is dataclasses.MISSING or isinstance(f.default, property)
        ) and f.default_factory is dataclasses.MISSING  # Normal.std: a base property
        if f.name not in data:
            if required:
                raise NetworkError(f"{owner}: a {kind!r} distribution needs {f.name!r}")
            continue
        value, annotation = data[f.name], str(f.type)
        if annotation == "Distribution":
            if not isinstance(value, Mapping):
                raise NetworkError(f"{owner}: {f.name}(={value!r}) must be a distribution object")
            _distribution_data(f"{owner}: {f.name}", value)
        elif annotation.startswith("tuple"):
            if not isinstance(value, (list, tuple)) or not all(map(_is_number, value)):
                raise NetworkError(f"{owner}: {f.name}(={value!r}) must be a list of numbers")
        elif annotation == "bool":
            if not isinstance(value, bool):
                raise NetworkError(f"{owner}: {f.name}(={value!r}) must be true or false")
        elif annotation in ("float", "int") and not _is_number(value):
            raise NetworkError(
                f"{owner}: {f.name}(={value!r}) must be a number"
                + (" (not a string)" if isinstance(value, str) else "")
            )


def _node_from_dict(d: Any) -> Node:
    if not isinstance(d, Mapping) or "name" not in d:
        raise NetworkError(f"each node must be an object with a 'name', got {d!r}")
    who = f"node {d['name']!r}"
    _no_unknown(who, d, (f.name for f in fields(Node)))
    kwargs = dict(d)
    if "demand" in kwargs:
        kwargs["demand"] = _distribution(who, "demand", kwargs["demand"])
    return _construct(Node, who, kwargs)


def _edge_from_dict(d: Any) -> Edge:
    if not isinstance(d, Mapping) or "source" not in d or "target" not in d:
        raise NetworkError(f"each edge must be an object with 'source' and 'target', got {d!r}")
    who = f"edge {d['source']!r}->{d['target']!r}"
    _no_unknown(who, d, (f.name for f in fields(Edge)))
    kwargs = dict(d)
    if "lead_time" in kwargs:
        if kwargs["lead_time"] is None:
            raise NetworkError(
                f"{who}: lead_time(=None) must be a number (deterministic) or a "
                "distribution object with a 'type' key"
            )
        kwargs["lead_time"] = _distribution(who, "lead_time", kwargs["lead_time"])
    return _construct(Edge, who, kwargs)


def _construct(cls: type, who: str, kwargs: dict[str, Any]) -> Any:
    """Build a Node or Edge from JSON data; wrongly typed values become a NetworkError."""
    try:
        return cls(**kwargs)
    except NetworkError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise NetworkError(f"{who}: {exc}") from None


def _plain_attributes(obj: Node | Edge, skip: tuple[str, ...]) -> dict[str, Any]:
    """The fields of *obj* as plain graph attributes (see :meth:`Network.to_networkx`)."""
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.name in skip or value is None or (isinstance(value, float) and math.isinf(value)):
            continue
        if isinstance(value, tuple):
            value = json.dumps(list(value))
        elif isinstance(value, Deterministic):
            value = float(value.value)
            value = int(value) if value.is_integer() else value
        elif not isinstance(value, (str, bool, int, float)):  # any other distribution
            value = json.dumps(value.to_dict())
        out[f.name] = value
    return out


def _decoded(who: str, attrs: Mapping[str, Any], distributions: tuple[str, ...]) -> dict[str, Any]:
    """Graph attributes with the JSON strings of :meth:`Network.to_networkx` parsed."""
    data = dict(attrs)
    for name in (*distributions, "initial_pipeline"):
        value = data.get(name)
        if isinstance(value, str):
            try:
                data[name] = json.loads(value)
            except json.JSONDecodeError:
                what = (
                    "a JSON list"
                    if name == "initial_pipeline"
                    else "a number, a distribution object or its JSON text"
                )
                raise NetworkError(f"{who}: {name}(={value!r}) is not {what}") from None
    return data


# -- reading network files ------------------------------------------------------------------------
#: Largest network file read (bytes): far above any network the engine simulates (a
#: 10,000-node network with long demand traces is a few MB), small enough that a wrong
#: file is refused before it is read into memory.
MAX_FILE_BYTES = 64 * 2**20

#: Leading bytes of formats that are not JSON text: what to tell the user, and the text
#: encoding the bytes must decode in for the header to count (a byte-order mark).
_MAGIC = (
    (b"\x1f\x8b", "gzip-compressed data (decompress it first)", None),
    (b"BZh", "bzip2-compressed data (decompress it first)", None),
    (b"\xfd7zXZ\x00", "xz-compressed data (decompress it first)", None),
    (b"PK\x03\x04", "a zip archive (extract the network file first)", None),
    (b"\x00\x00\xfe\xff", "UTF-32 text (save it as UTF-8)", "utf-32"),
    (b"\xff\xfe\x00\x00", "UTF-32 text (save it as UTF-8)", "utf-32"),
    (b"\xfe\xff", "UTF-16 text (save it as UTF-8)", "utf-16"),
    (b"\xff\xfe", "UTF-16 text (save it as UTF-8)", "utf-16"),
    (b"\x80", "binary data (a Python pickle?), not JSON text", None),
)


def _decodes(data: bytes, codec: str | None) -> bool:
    """*data* is text in *codec* (None: any data with that header)."""
    if codec is None:
        return True
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _read_network_file(path: Path, where: str) -> str:
    """The text of a network file, or a NetworkError saying why it cannot be one."""
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise NetworkError(
                    f"{where}: {size / 2**20:,.1f} MiB, larger than any network file "
                    f"(at most {MAX_FILE_BYTES // 2**20} MiB); is it the right file?"
                )
            data = f.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        raise NetworkError(f"{where}: is a folder, not a file") from None
    except OSError as exc:
        raise NetworkError(f"cannot read {where}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:  # grew while read, or a device
        raise NetworkError(f"{where}: larger than {MAX_FILE_BYTES // 2**20} MiB")
    if not data.strip():
        raise NetworkError(f"{where}: is empty")
    for magic, what, codec in _MAGIC:
        if data.startswith(magic) and _decodes(data, codec):
            raise NetworkError(f"{where}: is {what}")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise NetworkError(f"{where}: is binary data (a NUL byte at byte {nul}), not JSON text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NetworkError(
            f"{where}: is not UTF-8 text (byte {exc.start} is 0x{data[exc.start]:02x})"
        ) from None


def _reject_constant(name: str) -> Any:
    raise NetworkError(f"{name} is not a JSON number (write a finite number)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise NetworkError(f"key {repeated[0]!r} appears twice in one object")
    return dict(pairs)


def _network_from_text(text: str, where: str) -> Network:
    """Parse *text* (strict JSON: no NaN/Infinity, no repeated keys) into a Network; every
    failure is a NetworkError that starts with *where*."""
    try:
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except NetworkError as exc:
        raise NetworkError(f"{where}: not valid JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        raise NetworkError(
            f"{where}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise NetworkError(f"{where}: JSON nested too deeply to be a network") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise NetworkError(f"{where}: not valid JSON: {' '.join(str(exc).split())}") from None
    try:
        return Network.from_dict(data)
    except NetworkError as exc:
        raise NetworkError(f"{where}: {exc}") from None
    except RecursionError:
        raise NetworkError(f"{where}: JSON nested too deeply to be a network") from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise NetworkError(f"{where}: not a network: {type(exc).__name__}: {exc}") from None
