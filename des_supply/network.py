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
  left).
* ``shortage_cost`` is charged per unit backlogged at the end of a period under
  ``shortage="backlog"`` and per unit lost under ``shortage="lost"``.  The rule
  also applies to orders from downstream nodes.
* Multi-product networks are not modelled yet: a node stocks one item.  Items
  would be a new key on nodes and edges; nothing here assumes there is only one
  kind of node payload.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping

import networkx as nx

from .distributions import Deterministic, Distribution, as_distribution, distribution_from_dict

__all__ = ["Node", "Edge", "Network", "NetworkError"]

INF = math.inf
SHORTAGE_RULES = ("backlog", "lost")
SUPPLY_RULES = ("assembly", "split", "priority")
TIMINGS = ("order-before-demand", "order-after-demand")


class NetworkError(ValueError):
    """A network that cannot be simulated; the message names the node or edge."""


def _nonneg_or_int(owner: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise NetworkError(f"{owner}: priority(={value!r}) must be an integer") from None


def _nonneg(owner: str, name: str, value: float, allow_inf: bool = False) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise NetworkError(f"{owner}: {name}(={value!r}) must be a number") from None
    if math.isnan(value) or value < 0 or (math.isinf(value) and not allow_inf):
        raise NetworkError(f"{owner}: {name}(={value}) must be >= 0"
                           + ("" if allow_inf else " and finite"))
    return value


@dataclass(frozen=True, slots=True)
class Node:
    """A stocking point (``kind="stock"``) or an external supplier (``kind="supply"``).

    Costs are per unit and period unless said otherwise.
    """

    name: str
    kind: Literal["stock", "supply"] = "stock"
    holding_cost: float = 0.0            # per unit on hand at the end of a period [h]
    shortage: Literal["backlog", "lost"] = "backlog"
    shortage_cost: float = 0.0           # per unit backlogged at period end, or per unit lost [p]
    fixed_order_cost: float = 0.0        # per order placed [K]
    order_cost: float = 0.0              # per unit ordered [c]
    price: float = 0.0                   # revenue per unit sold to external customers
    capacity: float = INF                # max units ordered (stock) or shipped (supply) per period
    storage_capacity: float = INF        # on hand + on order never exceeds it (orders are cut)
    initial_on_hand: float = 0.0
    initial_pipeline: tuple[float, ...] = ()   # [k] arrives at the start of period k
    review_period: int = 1               # the node decides when (t - review_offset) % review_period == 0
    review_offset: int = 0
    demand: Distribution | None = None   # external demand per period
    supply_rule: Literal["assembly", "split", "priority"] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise NetworkError(f"node name must be a non-empty string, got {self.name!r}")
        who = f"node {self.name!r}"
        if self.kind not in ("stock", "supply"):
            raise NetworkError(f"{who}: kind(={self.kind!r}) must be 'stock' or 'supply'")
        if self.shortage not in SHORTAGE_RULES:
            raise NetworkError(f"{who}: shortage(={self.shortage!r}) must be 'backlog' or 'lost'")
        if self.supply_rule is not None and self.supply_rule not in SUPPLY_RULES:
            raise NetworkError(f"{who}: supply_rule(={self.supply_rule!r}) must be one of "
                               f"{', '.join(SUPPLY_RULES)}")
        for name in ("holding_cost", "shortage_cost", "fixed_order_cost", "order_cost", "price",
                     "initial_on_hand"):
            object.__setattr__(self, name, _nonneg(who, name, getattr(self, name)))
        for name in ("capacity", "storage_capacity"):
            object.__setattr__(self, name, _nonneg(who, name, getattr(self, name), allow_inf=True))
        if not isinstance(self.initial_pipeline, (tuple, list)):
            raise NetworkError(f"{who}: initial_pipeline must be a list of quantities")
        pipeline = tuple(_nonneg(who, "initial_pipeline entry", q) for q in self.initial_pipeline)
        object.__setattr__(self, "initial_pipeline", pipeline)
        for name in ("review_period", "review_offset"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not float(v).is_integer():
                raise NetworkError(f"{who}: {name}(={v}) must be an integer")
            object.__setattr__(self, name, int(v))
        if self.review_period < 1:
            raise NetworkError(f"{who}: review_period(={self.review_period}) must be >= 1")
        if not 0 <= self.review_offset < self.review_period:
            raise NetworkError(f"{who}: review_offset(={self.review_offset}) must be in "
                               f"[0, review_period={self.review_period})")
        if self.demand is not None:
            try:
                object.__setattr__(self, "demand", as_distribution(self.demand))
            except ValueError as exc:
                raise NetworkError(f"{who}: demand: {exc}") from None
        if self.kind == "supply" and (self.demand is not None or self.initial_on_hand
                                      or self.initial_pipeline):
            raise NetworkError(f"{who}: a supply node has unlimited stock and no demand or "
                               "initial inventory of its own")

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
    unit_cost: float = 0.0               # paid by the target per unit shipped on this edge
    bom: float = 1.0                     # units of source item per unit of target item
    transit_holding_cost: float = 0.0    # per unit in transit (or waiting for assembly) per period
    share: float | None = None           # fraction of the target's orders (supply_rule="split")
    priority: int = 0                    # lower is asked first (supply_rule="priority")
    sequential: bool = False             # True: shipments arrive in the order sent (no crossing)

    def __post_init__(self) -> None:
        who = f"edge {self.source!r}->{self.target!r}"
        try:
            object.__setattr__(self, "lead_time", as_distribution(self.lead_time))
        except ValueError as exc:
            raise NetworkError(f"{who}: lead_time: {exc}") from None
        if not self.lead_time.integer:
            raise NetworkError(f"{who}: lead_time must take whole numbers of periods "
                               f"(got {self.lead_time.to_dict()})")
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
        if isinstance(self.priority, bool) or not float(_nonneg_or_int(who, self.priority)).is_integer():
            raise NetworkError(f"{who}: priority(={self.priority!r}) must be an integer")
        object.__setattr__(self, "priority", int(self.priority))

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.target)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "target": self.target,
                               "lead_time": self.lead_time.to_dict()}
        for f in fields(self)[3:]:
            value = getattr(self, f.name)
            if value != f.default:
                out[f.name] = value
        return out


@dataclass(frozen=True, slots=True)
class Network:
    """A validated supply-chain network (any DAG: serial, distribution, assembly, general).

    ``order_timing`` fixes the order of events in a period (see ``des_supply.sim``):
    ``"order-before-demand"`` (receive, order, demand: Zipkin 2008) or
    ``"order-after-demand"`` (receive, demand, order: Snyder & Shen, the beer game).
    ``continuous`` says whether quantities are real numbers; by default it is True
    when some demand is continuous, and orders are otherwise rounded to integers.
    """

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    name: str = "network"
    order_timing: Literal["order-before-demand", "order-after-demand"] = "order-before-demand"
    continuous: bool | None = None

    def __post_init__(self) -> None:
        nodes, edges = tuple(self.nodes), tuple(self.edges)
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "edges", edges)
        if not nodes:
            raise NetworkError(f"network {self.name!r} has no nodes")
        if self.order_timing not in TIMINGS:
            raise NetworkError(f"order_timing(={self.order_timing!r}) must be one of "
                               f"{', '.join(TIMINGS)}")
        names: set[str] = set()
        for n in nodes:
            if not isinstance(n, Node):
                raise NetworkError(f"nodes must be Node objects, got {n!r}")
            if n.name in names:
                raise NetworkError(f"node {n.name!r} is declared twice")
            names.add(n.name)
        seen: set[tuple[str, str]] = set()
        for e in edges:
            if not isinstance(e, Edge):
                raise NetworkError(f"edges must be Edge objects, got {e!r}")
            for end in (e.source, e.target):
                if end not in names:
                    raise NetworkError(f"edge {e.source!r}->{e.target!r}: unknown node {end!r}")
            if e.source == e.target:
                raise NetworkError(f"edge {e.source!r}->{e.target!r} is a self-loop")
            if e.key in seen:
                raise NetworkError(f"edge {e.source!r}->{e.target!r} is declared twice")
            seen.add(e.key)
        G = self.graph()
        if not nx.is_directed_acyclic_graph(G):
            cycle = " -> ".join(u for u, _ in nx.find_cycle(G))
            raise NetworkError(f"network {self.name!r} has a cycle: {cycle}")
        for n in nodes:
            self._check_supply(n)
        if self.continuous is None:
            continuous = any(n.demand is not None and not n.demand.integer for n in nodes)
            object.__setattr__(self, "continuous", continuous)

    def _check_supply(self, n: Node) -> None:
        who = f"node {n.name!r}"
        inbound = self.suppliers(n.name)
        if n.kind == "supply":
            if inbound:
                raise NetworkError(f"{who} is a supply node but has suppliers: "
                                   f"{', '.join(e.source for e in inbound)}")
            return
        if not inbound:
            raise NetworkError(f"{who} is a stocking node with no supplier; add an edge from a "
                               "supply node (kind='supply') or another stocking node")
        if len(inbound) > 1 and n.supply_rule is None:
            raise NetworkError(f"{who} has {len(inbound)} suppliers; set supply_rule to "
                               f"'assembly', 'split' or 'priority'")
        rule = n.supply_rule if len(inbound) > 1 else None
        if rule in ("split", "priority"):
            for e in inbound:
                if e.bom != 1:
                    raise NetworkError(f"edge {e.source!r}->{e.target!r}: bom(={e.bom}) must be 1 "
                                       f"when {who} sources one item from several suppliers")
        if rule == "split":
            missing = [e.source for e in inbound if e.share is None]
            if missing:
                raise NetworkError(f"{who} uses supply_rule='split' but edges from "
                                   f"{', '.join(map(repr, missing))} have no share")
            total = sum(e.share for e in inbound)  # type: ignore[misc]
            if abs(total - 1) > 1e-9:
                raise NetworkError(f"{who}: shares of its supply edges sum to {total}, not 1")

    # -- structure ---------------------------------------------------------------------------
    def graph(self) -> nx.DiGraph:
        """The networkx DiGraph: node attribute ``node``, edge attribute ``edge``."""
        G = nx.DiGraph(name=self.name)
        G.add_nodes_from((n.name, {"node": n}) for n in self.nodes)
        G.add_edges_from((e.source, e.target, {"edge": e}) for e in self.edges)
        return G

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no node {name!r} in network {self.name!r} "
                       f"(nodes: {', '.join(n.name for n in self.nodes)})")

    def suppliers(self, name: str) -> tuple[Edge, ...]:
        """Edges into *name*, in declaration order."""
        return tuple(e for e in self.edges if e.target == name)

    def customers(self, name: str) -> tuple[Edge, ...]:
        """Edges out of *name*, in declaration order."""
        return tuple(e for e in self.edges if e.source == name)

    @property
    def stock_nodes(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.kind == "stock")

    @property
    def demand_nodes(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.demand is not None)

    def replace_node(self, name: str, **changes: Any) -> "Network":
        """A copy with node *name* changed (``dataclasses.replace`` on that node)."""
        self.node(name)
        nodes = tuple(replace(n, **changes) if n.name == name else n for n in self.nodes)
        return replace(self, nodes=nodes)

    # -- plain data ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "order_timing": self.order_timing,
                "continuous": self.continuous,
                "nodes": [n.to_dict() for n in self.nodes],
                "edges": [e.to_dict() for e in self.edges]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Network":
        """Build a network from plain data (as written by :meth:`to_dict`)."""
        if not isinstance(data, Mapping):
            raise NetworkError(f"a network must be a JSON object, got {type(data).__name__}")
        _no_unknown("network", data, {"name", "order_timing", "continuous", "nodes", "edges"})
        nodes = [_node_from_dict(d) for d in _list(data, "nodes")]
        edges = [_edge_from_dict(d) for d in _list(data, "edges")]
        return cls(tuple(nodes), tuple(edges), name=str(data.get("name", "network")),
                   order_timing=data.get("order_timing", "order-before-demand"),
                   continuous=data.get("continuous"))

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    @classmethod
    def from_json(cls, source: str | Path) -> "Network":
        """Load from a JSON file path or a JSON string."""
        text = str(source)
        if not text.lstrip().startswith("{"):
            try:
                text = Path(source).read_text()
            except OSError as exc:
                raise NetworkError(f"cannot read network file {source}: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise NetworkError(f"network file is not valid JSON: {exc}") from None
        return cls.from_dict(data)


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise NetworkError(f"network: {key!r} must be a list")
    return value


def _no_unknown(owner: str, data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise NetworkError(f"{owner}: unknown field(s) {', '.join(map(repr, unknown))} "
                           f"(allowed: {', '.join(sorted(allowed))})")


def _node_from_dict(d: Any) -> Node:
    if not isinstance(d, Mapping) or "name" not in d:
        raise NetworkError(f"each node must be an object with a 'name', got {d!r}")
    who = f"node {d['name']!r}"
    _no_unknown(who, d, (f.name for f in fields(Node)))
    kwargs = dict(d)
    if kwargs.get("demand") is not None:
        try:
            kwargs["demand"] = distribution_from_dict(kwargs["demand"])
        except ValueError as exc:
            raise NetworkError(f"node {d['name']!r}: demand: {exc}") from None
    return _construct(Node, who, kwargs)


def _edge_from_dict(d: Any) -> Edge:
    if not isinstance(d, Mapping) or "source" not in d or "target" not in d:
        raise NetworkError(f"each edge must be an object with 'source' and 'target', got {d!r}")
    who = f"edge {d['source']!r}->{d['target']!r}"
    _no_unknown(who, d, (f.name for f in fields(Edge)))
    kwargs = dict(d)
    if "lead_time" in kwargs:
        try:
            kwargs["lead_time"] = as_distribution(kwargs["lead_time"])
        except ValueError as exc:
            raise NetworkError(f"{who}: lead_time: {exc}") from None
    return _construct(Edge, who, kwargs)


def _construct(cls: type, who: str, kwargs: dict[str, Any]) -> Any:
    """Build a Node or Edge from JSON data; wrongly typed values become a NetworkError."""
    try:
        return cls(**kwargs)
    except NetworkError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise NetworkError(f"{who}: {exc}") from None
