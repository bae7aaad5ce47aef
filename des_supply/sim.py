"""The event-driven engine: SimPy processes over a :class:`~des_supply.network.Network`.

Processes
---------
* ``period_clock``: one process that walks the periods and runs their phases in
  a fixed order (below).  A single clock owns the order of events *inside* a
  period; SimPy would otherwise order simultaneous events by creation, which is
  fragile and is exactly what published results depend on.
* shipments: a shipment's lead time is drawn when it leaves; it waits in a table
  of arrivals by period and the clock delivers it at the start of its arrival
  period, before anything else happens in that period (in the order shipments
  were sent; the initial pipeline's arrivals, URGENT SimPy events, come first).
  No SimPy event or object per shipment: arrivals are due only at period starts.

Order of events in period t
---------------------------
1. **Receive**: shipments due at t arrive (in the order they were sent); units
   first fill the node's backlog, first come first served, then go on hand.
   Capacitated supply nodes (their ``capacity`` reset to full) also work off
   their backlog here.  Then every *limited* node (below) works off its backlog.
2. **Decide** (``order-before-demand``, the default, as in Zipkin 2008): the nodes
   that review at t form the decision epoch; the policy (or an outside agent)
   sees the :class:`Observation` and answers with an :class:`~des_supply.policies.Action`.
   Orders are placed downstream first; a supplier ships at once what it can (see
   Shipping), and backlogs or loses the rest by its own shortage rule.  A node with
   ``supply_rule="choice"`` answers with a mapping supplier -> quantity in place of
   one number (``Action(orders={"store": {"regular": 3, "expedited": 1}})``): each
   part is rounded to whole units (unless the network is continuous) and requested
   on that supplier's edge (its lead time, unit cost and the supplier's capacity
   apply); the node's ``capacity`` and ``storage_capacity`` cut the total, taking
   the cut from the suppliers last in declaration order first; ``fixed_order_cost``
   is charged once per epoch with a positive total, ``order_cost`` per unit of it.  A shipment
   with lead time 0 arrives immediately.  ``network.decisions`` says who sees what:

   * ``simultaneous`` (default; the beer game, parallel multi-agent RL): all
     deciding nodes decide together, in one epoch, on the state before this
     period's orders: an upstream node sees an order its customer places in the
     same period at its next review.  Echelon positions are unaffected (internal
     orders cancel out), so echelon base-stock behaves as in Clark & Scarf;
     installation base-stock levels are *not* equivalent to echelon ones.
   * ``sequential`` (textbook serial and distribution theory, stockpyl): one epoch
     per deciding node, in ``network.downstream_first`` order; each node's order
     is placed (and shipped, backlogged or lost upstream) before the next node
     decides, so an upstream node's position includes its customers' orders of
     this period, and installation base-stock at the local levels of echelon
     levels places the echelon policy's orders.  ``obs.deciding`` is then the one
     node that decides, ``obs.deciding_this_period`` all of them.  Not with a
     market (it reads one action per period).
3. **Demand**: external demand is met from stock on hand; the rest is backlogged
   or lost.  (With ``order_timing="order-after-demand"`` phases 2 and 3 swap,
   as in Snyder & Shen's serial model and the beer game.)
4. **Account**: end-of-period costs: holding on hand, backlog penalty on units
   owed (or lost-sales penalty on units lost), fixed and variable ordering
   costs, holding on units in transit; revenue on sales.  Then limited nodes get
   their full shipping capacity back and their receipts become shippable.

Shipping
--------
What a node ships to downstream nodes (new orders and backlogged ones, first come
first served; a node with a backlog ships nothing new until it is worked off):

* a supply node: up to its ``capacity`` per period (unlimited stock);
* a stocking node: from stock on hand, and, when it is *limited*, also

  - up to its ``shipping_capacity`` per period (production capacity, backlog
    included), and
  - under ``network.shipping_timing == "ship-before-receipt"`` (OR-Gym) only from
    the stock it held at the start of the period: units received in period t
    (arrivals and assembled kits) are shippable from t + 1.  External customers
    are served from all stock on hand, this period's receipts first.
    ``receive-then-ship`` (default): receipts are shippable at once.

  A stocking node is limited when it has downstream customers and a finite
  ``shipping_capacity`` or ship-before-receipt is in force.  A limited node puts
  receipts on hand and then works off its backlog first come first served:
  external entries from all stock on hand, entries of downstream nodes from the
  shippable stock (on hand minus this period's receipts not yet used by external
  customers) within the capacity left; it stops at the first entry it cannot fill
  completely.  A new order that finds the backlog empty is shipped up to the
  shippable stock and the capacity left; the rest is backlogged or lost.

The ledger records the cuts: ``order_cut`` (units of a node's orders not placed
because of its order ``capacity`` or ``storage_capacity``, after rounding) and
``capacity_short`` (units of new downstream orders the shipping capacity held
back although stock, or the supply node's unlimited stock, could cover them).
The ledger is per node: what a ``"choice"`` node ordered from each supplier shows
in the supplier's row (``shipped`` plus what it backlogged or lost of the request;
a supply node serving one customer ships exactly that customer's orders).

Continuous time
---------------
A network with ``time="continuous"`` is refused here: :mod:`des_supply.continuous`
runs it on the same order-placement, shipping and backlog code (a subclass of
:class:`Simulation`), with arrival processes, real lead times and costs accrued
over time.

Ledger
------
``run`` keeps every row (:class:`~des_supply.ledger.Ledger`); ``run_summary`` keeps
running summaries after a warm-up (:class:`~des_supply.ledger.LedgerSummary`: the
numbers :func:`des_supply.evaluate.simulate` reports, memory independent of the
horizon but for 8 bytes a period) and, optionally, a window of rows.  Rows are
buffered in a list and moved in bulk every ``FLUSH_PERIODS`` periods.

Driving the engine
------------------
``Simulation.run(policy)`` answers every epoch from a policy object.  Outside
agents use ``reset(seed) -> Observation``, ``act(action)`` and ``advance()``
(which returns the next Observation, or None at the end of the horizon): both
paths go through the same clock and the same order-placement code.  The clock
hands a period with epochs to the outside agent and waits for the next period:
``act`` places the epoch's orders at once, ``advance`` hands out the period's
next epoch (sequential decisions: no simulation in between) or finishes the
period (demand, accounting) and steps the SimPy environment to the next epoch,
so a period costs one SimPy event on both paths.  ``period_costs(t)``,
``period_cost_sums(t)`` and ``Observation.state`` read a period's costs (row by row, or
summed by kind and by node) and a node's state as Python floats (the env adapters'
per-step path).
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any, Protocol, cast

import numpy as np
import simpy
from simpy.events import URGENT, EventPriority

from .distributions import Deterministic, Distribution
from .ledger import COST_FIELDS, FIELDS, Ledger, LedgerSummary
from .network import Edge, Network, Node
from .policies import Action, Policy
from .rng import PeriodDraws, SeedLike, root_sequence, stream

__all__ = [
    "DecisionError",
    "Market",
    "Observation",
    "Simulation",
    "UrgentTimeout",
    "cost_sums",
    "objective_of",
]

EPS = 1e-9
#: Where the COST_FIELDS sit in a ledger row (contiguous, in that order).
_COSTS = slice(FIELDS.index(COST_FIELDS[0]), FIELDS.index(COST_FIELDS[-1]) + 1)
assert tuple(FIELDS[i] for i in range(_COSTS.start, _COSTS.stop)) == COST_FIELDS
_RECEIVED, _SHIPPED = FIELDS.index("received"), FIELDS.index("shipped")
_ZERO_COSTS = (0.0,) * len(COST_FIELDS)
#: Periods of ledger rows buffered before they are moved to the run's rows in bulk.
FLUSH_PERIODS = 256


class DecisionError(ValueError):
    """An action the engine cannot carry out (names the node and the problem)."""


class Market(Protocol):
    """Decision-dependent demand (pricing, recommendation) plugged into the demand phase.

    ``reset`` is called once per run with the market's own random stream; ``draw``
    returns this period's external demand for the nodes it covers, given the
    latest action (prices and ``extra`` decisions).
    """

    def reset(self, rng: np.random.Generator) -> None: ...

    def draw(self, t: int, action: Action, obs: Observation) -> Mapping[str, float]: ...


class UrgentTimeout(simpy.Event):
    """A timeout that fires before the NORMAL events of its time (URGENT priority).

    Mirrors ``simpy.Timeout`` (which sets ``_ok``/``_value`` the same way) but with
    the priority that puts receipts first in a period.
    """

    def __init__(
        self, env: simpy.Environment, delay: float, priority: EventPriority = URGENT
    ) -> None:
        self.env = env
        self.callbacks = []
        self._ok = True
        self._value = None
        self._defused = False
        env.schedule(self, priority, delay)


class _EdgeState:
    __slots__ = (
        "bom",
        "buffer",
        "cost",
        "edge",
        "fixed_lead",
        "hold",
        "last_arrival",
        "lead",
        "pending",
        "sequential",
        "source",
        "target",
        "transit",
    )

    def __init__(
        self, edge: Edge, source: _NodeState, target: _NodeState, lead: PeriodDraws | None
    ) -> None:
        self.edge, self.source, self.target, self.lead = edge, source, target, lead
        self.bom = edge.bom
        lead_time = edge.lead_time
        self.fixed_lead = int(lead_time.value) if isinstance(lead_time, Deterministic) else None
        self.cost, self.hold = edge.unit_cost, edge.transit_holding_cost
        self.transit = 0.0  # units (of the source item) on the way
        self.pending = 0.0  # units ordered, backlogged at the source
        self.buffer = 0.0  # units arrived, waiting for assembly
        self.last_arrival = 0  # for sequential (no-crossing) edges
        self.sequential = edge.sequential


class _NodeState:
    __slots__ = (
        "backlog",
        "cap",
        "cap_left",
        "cut",
        "demand",
        "ext_backlog",
        "fixed",
        "fresh",
        "inbound",
        "init_due",
        "init_pending",
        "last_demand",
        "limited",
        "lost",
        "lost_rule",
        "name",
        "node",
        "on_hand",
        "one_in",
        "order_rule",
        "ordered",
        "price",
        "queue",
        "received",
        "revenue",
        "rule",
        "sales",
        "served",
        "shipped",
        "short",
        "simple_in",
        "supply",
        "variable",
    )

    def __init__(self, node: Node) -> None:
        self.node, self.name = node, node.name
        self.supply = node.kind == "supply"
        self.lost_rule = node.shortage == "lost"
        self.queue: deque[list[Any]] = deque()  # [customer edge or None, units, unit price]
        self.on_hand = node.initial_on_hand
        self.backlog = 0.0
        self.ext_backlog = 0.0
        self.inbound: list[_EdgeState] = []
        self.rule: str | None = None
        self.simple_in = True  # one supplier, bom 1: arrivals go straight on hand
        self.one_in: _EdgeState | None = None  # the supplier edge when there is one, bom 1
        # how _order places an order: 0 plain (no order or storage capacity, one supplier,
        # bom 1), 2 plain from a supply node without capacity (all of it ships at once),
        # 1 any other
        self.order_rule = 1
        self.price = node.price
        # what the node can ship per period: a supply node's capacity, a stocking node's
        # shipping capacity (downstream shipments only)
        self.cap = node.capacity if self.supply else node.shipping_capacity
        self.cap_left = self.cap
        self.limited = False  # ships downstream under a limit: shipping capacity or
        self.fresh = 0.0  # ship-before-receipt (this period's receipts, not shippable)
        self.last_demand = 0.0
        self.init_due: dict[float, float] = {}  # initial pipeline still to arrive, by period
        self.init_pending = 0.0
        self.ordered = self.received = self.shipped = self.demand = self.sales = 0.0
        self.served = self.lost = self.revenue = self.fixed = self.variable = 0.0
        self.cut = self.short = 0.0


class Observation:
    """A read-only view of the network at a decision epoch.

    It reads the live state, so it is valid during the epoch it was handed out
    for.  Quantities are in each node's own units.
    """

    __slots__ = ("_sim", "deciding", "deciding_this_period", "t")

    def __init__(self, sim: Simulation) -> None:
        self._sim = sim
        #: the period (periodic time) or the time (continuous time, des_supply.continuous)
        self.t: float = 0
        #: the nodes that decide at this epoch (one node at a time under sequential decisions)
        self.deciding: tuple[str, ...] = ()
        #: every node that decides in period t, downstream first (== deciding when simultaneous)
        self.deciding_this_period: tuple[str, ...] = ()

    def _node(self, name: str) -> _NodeState:
        try:
            return self._sim._by_name[name]
        except KeyError:
            raise KeyError(f"no node {name!r} in the network") from None

    @property
    def network(self) -> Network:
        """The network of the run (an immutable value: reading it changes nothing)."""
        return self._sim.network

    @property
    def nodes(self) -> tuple[str, ...]:
        return self._sim.network_nodes

    @property
    def market(self) -> Market | None:
        """The run's market model (decision-dependent demand), or None; for reading its
        state (e.g. a competitor's price), not for changing it."""
        return self._sim.market

    def on_hand(self, node: str) -> float:
        return self._node(node).on_hand

    def backlog(self, node: str) -> float:
        """Units owed by *node* to external customers and downstream nodes."""
        return self._node(node).backlog

    def external_backlog(self, node: str) -> float:
        return self._node(node).ext_backlog

    def on_order(self, node: str) -> float:
        """Units ordered by *node* and not yet in its stock (in transit, backlogged at
        the supplier, or waiting for assembly), in the node's own units."""
        return _on_order(self._node(node))

    def inventory_position(self, node: str) -> float:
        """Installation inventory position: on hand - backlog + on order."""
        try:
            s = self._sim._by_name[node]
        except KeyError:
            raise KeyError(f"no node {node!r} in the network") from None
        e = s.one_in
        if e is not None:  # _on_order's first case, inlined
            return s.on_hand - s.backlog + (e.transit + e.pending + s.init_pending)
        return s.on_hand - s.backlog + _on_order(s)

    def echelon_inventory_position(self, node: str) -> float:
        """Units in *node*'s echelon (the node and everything downstream of it): on
        hand, in transit inside the echelon or into it, and on order from outside
        it, minus external backlog.  Internal backlogs cancel out.  Meant for serial
        and distribution networks (bill-of-materials quantities of 1)."""
        return self._sim._echelon_ip(node)

    def pipeline(self, node: str, n: int) -> tuple[float, ...]:
        """Units already on their way to *node* that reach its stock at the start of periods
        t+1, ..., t+n (for assembly: the complete kits the arrivals make up)."""
        s = self._node(node)
        t = cast(int, self.t)  # a period: pipelines are a periodic engine's
        if s.one_in is not None:
            return self._sim._one_edge_pipeline(s, t, n)
        steps = range(1, n + 1)
        initial = [s.init_due.get(t + k, 0.0) for k in steps]
        due = [self._sim._due_on(s.inbound, t + k) for k in steps]
        if s.simple_in:
            return tuple(q + sum(units) for q, units in zip(initial, due))
        have = [e.buffer for e in s.inbound]
        kits = min(h / e.bom for h, e in zip(have, s.inbound))
        out = []
        for q, units in zip(initial, due):
            have = [h + u for h, u in zip(have, units)]
            more = min(h / e.bom for h, e in zip(have, s.inbound))
            out.append(q + more - kits)
            kits = more
        return tuple(out)

    def _edge(self, node: str, supplier: str) -> _EdgeState:
        s = self._node(node)
        for e in s.inbound:
            if e.source.name == supplier:
                return e
        raise KeyError(
            f"node {node!r} has no supplier {supplier!r} "
            f"(suppliers: {', '.join(e.source.name for e in s.inbound)})"
        )

    def supplier_on_order(self, node: str, supplier: str) -> float:
        """Units *node* ordered from *supplier* and not yet received (in transit on the
        edge or backlogged at the supplier), in the supplier's units; the node's
        ``initial_pipeline`` belongs to no supplier and is not counted."""
        e = self._edge(node, supplier)
        return e.transit + e.pending

    def supplier_pipeline(self, node: str, supplier: str, n: int) -> tuple[float, ...]:
        """Units on their way from *supplier* to *node* that arrive at the start of periods
        t+1, ..., t+n (shipped units only: a backlog at the supplier has no arrival
        period yet; the initial pipeline belongs to no supplier)."""
        e = self._edge(node, supplier)
        t = cast(int, self.t)  # a period: pipelines are a periodic engine's
        return tuple(self._sim._due_on([e], t + k)[0] for k in range(1, n + 1))

    def state(self, node: str, pipeline: int = 0) -> tuple[float, ...]:
        """``(on_hand, backlog, on_order, last_demand)`` of *node* followed by the *pipeline*
        entries of :meth:`pipeline`, in one call: what an observation of a node reads (the
        per-step path of the env adapters), the same numbers as those methods give."""
        try:
            s = self._sim._by_name[node]
        except KeyError:
            raise KeyError(f"no node {node!r} in the network") from None
        e = s.one_in
        if e is None:
            head = (s.on_hand, s.backlog, _on_order(s), s.last_demand)
            return head + self.pipeline(node, pipeline) if pipeline else head
        # one supplier, bom 1: _on_order's first case and the pipeline's fast path
        # (Simulation._one_edge_pipeline); tests/des_supply/test_driving.py compares this
        # with the slow reads (``on_order``, ``pipeline``)
        head = (s.on_hand, s.backlog, e.transit + e.pending + s.init_pending, s.last_demand)
        if not pipeline:
            return head
        t: int = self.t  # type: ignore[assignment]  # a period (typing.cast is a call)
        return head + self._sim._one_edge_pipeline(s, t, pipeline)

    def last_demand(self, node: str) -> float:
        """External demand of the most recent period that has had its demand phase."""
        return self._node(node).last_demand

    def price(self, node: str) -> float:
        return self._node(node).price


def _on_order(s: _NodeState) -> float:
    inbound = s.inbound
    if len(inbound) == 1 and s.simple_in:
        e = inbound[0]
        return e.transit + e.pending + s.init_pending
    if not s.simple_in:  # assembly (or one supplier with bom != 1): complete kits on the way
        return s.init_pending + min((e.transit + e.pending + e.buffer) / e.bom for e in inbound)
    return s.init_pending + sum((e.transit + e.pending) / e.bom for e in inbound)


class Simulation:
    """One network, one horizon; ``run(policy)`` or ``reset``/``act``/``advance``.

    Parameters
    ----------
    network : Network
    periods : int
        Length of the horizon [T].
    seed : int, SeedSequence or None
        Root of all random streams (see :mod:`des_supply.rng`).
    market : Market, optional
        Decision-dependent demand; replaces the exogenous demand of the nodes it covers.
    """

    #: The network time this engine runs (``des_supply.continuous`` runs "continuous").
    TIME = "periodic"

    def __init__(
        self, network: Network, periods: int, seed: SeedLike = 0, market: Market | None = None
    ) -> None:
        if not isinstance(network, Network):
            raise TypeError(f"network must be a Network, got {type(network).__name__}")
        if network.time != self.TIME:
            raise ValueError(
                f"network {network.name!r} has time={network.time!r}: simulate it "
                "with "
                + (
                    "des_supply.continuous.ContinuousSimulation"
                    if network.time == "continuous"
                    else "des_supply.sim.Simulation"
                )
            )
        if not float(periods).is_integer() or periods < 1:
            raise ValueError(f"periods(={periods}) must be a positive integer")
        self.network, self.periods, self.market = network, int(periods), market
        self.network_nodes = tuple(n.name for n in network.nodes)
        self._continuous = bool(network.continuous)
        self._demand_first = network.order_timing == "order-after-demand"
        self._sequential = network.decisions == "sequential"
        self._ship_first = network.shipping_timing == "ship-before-receipt"
        if self._sequential and market is not None:
            raise ValueError(
                f"network {network.name!r}: sequential decisions with a market are not "
                "supported (the market reads one action per period); use "
                "decisions='simultaneous'"
            )
        self._downstream_first = [network.node(n) for n in network.downstream_first]
        self._echelons = {n: network.echelon(n) for n in self.network_nodes}
        self._seed = seed
        self._policy: Policy | None = None
        self._row_layout_key: tuple[tuple[float, ...] | None, ...] | None = None
        self._rules = {n: network.supply_rule_of(n) for n in self.network_nodes}
        self.reset_state(seed)

    # -- setup -------------------------------------------------------------------------------
    def reset_state(self, seed: SeedLike) -> None:
        """Fresh SimPy environment and state for a run from *seed* (no time passes)."""
        net = self.network
        self.root = root_sequence(seed)
        self.env = simpy.Environment()
        self._states = [_NodeState(n) for n in net.nodes]
        self._by_name = {s.name: s for s in self._states}
        self._edges: list[_EdgeState] = []
        for e in net.edges:
            # a fixed lead time draws nothing (_EdgeState.fixed_lead): no stream to seed
            lead = (
                None
                if isinstance(e.lead_time, Deterministic)
                else PeriodDraws(e.lead_time, stream(self.root, "lead_time", e.source, e.target))
            )
            es = _EdgeState(e, self._by_name[e.source], self._by_name[e.target], lead)
            es.target.inbound.append(es)
            self._edges.append(es)
        for s in self._states:
            s.rule = self._rules[s.name]
            s.simple_in = s.rule != "assembly" and all(e.bom == 1 for e in s.inbound)
            if len(s.inbound) == 1 and s.simple_in:
                s.one_in = s.inbound[0]
                node = s.node
                if node.capacity == math.inf and node.storage_capacity == math.inf:
                    source = s.one_in.source
                    s.order_rule = 2 if source.supply and source.cap == math.inf else 0
            if s.rule == "priority":
                s.inbound.sort(key=lambda e: e.edge.priority)
        # nodes whose order is a mapping supplier -> quantity (supply_rule="choice")
        self._choosers = frozenset(s.name for s in self._states if s.rule == "choice")
        self._demand = [
            (  # a periodic network's demand is a distribution (Network._check_periodic)
                self._by_name[n.name],
                PeriodDraws(cast(Distribution, n.demand), stream(self.root, "demand", n.name)),
            )
            for n in net.nodes
            if n.demand is not None
        ]
        # the demand phase without a market: each demand node and its draws' lookup
        self._demand_at = (
            [(s, draws.at) for s, draws in self._demand] if self.market is None else None
        )
        self._review_all = all(n.review_period == 1 for n in net.stock_nodes)
        self._deciders = [
            self._by_name[n.name] for n in self._downstream_first if n.kind == "stock"
        ]
        self._all_deciding = tuple(s.name for s in self._deciders)
        self._all_allowed = frozenset(self._all_deciding)
        self._allowed: tuple[str, ...] | frozenset[str] = ()
        self._singles = {s.name: (s.name,) for s in self._deciders}
        self._capacitated_supply = [
            s for s in self._states if s.supply and math.isfinite(s.node.capacity)
        ]
        self._limited = [
            s
            for s in self._states
            if not s.supply and net.customers(s.name) and (self._ship_first or math.isfinite(s.cap))
        ]
        for s in self._limited:
            s.limited = True
        if self.market is not None:
            self.market.reset(stream(self.root, "market"))
        self._rows = array("d")  # one row of ledger FIELDS per node and period
        # rows of the latest periods (of the nodes without a fixed row), moved to _rows in
        # bulk every FLUSH_PERIODS periods (a list takes a row of floats several times faster
        # than an array); nodes with a fixed row buffer only what they received and shipped
        self._buffer: list[float] = []
        self._flows: list[float] = []
        self._buffered = 0  # periods in the buffer
        self._flushed = 0  # periods moved out of it (to _rows or the summary)
        self._summary: LedgerSummary | None = None  # run_summary: rows go here, not to _rows
        # shipments in transit by the period they arrive: [(edge, units), ...] in the order
        # they were sent (the clock delivers them at the start of that period)
        self._due: dict[int, list[tuple[_EdgeState, float]]] = {}
        self._obs = Observation(self)
        self._action = Action()
        self.total_cost = 0.0
        self.total_revenue = 0.0
        # driven from outside: the epochs of the pending period (one group of deciding nodes
        # each), the one handed out, whether it awaits act(), and the event the clock waits
        # on after handing out the horizon's last period
        self._groups: list[tuple[str, ...]] = []
        self._group_at = 0
        self._awaiting = False
        self._horizon_end: simpy.Event | None = None
        self._clock_process: simpy.Process | None = None
        self._done = False
        # initial pipeline: period-0 entries are on hand before anything happens
        self._initial_pipeline = np.zeros(len(self._states))
        for i, s in enumerate(self._states):
            for k, q in enumerate(s.node.initial_pipeline):
                if q <= 0:
                    continue
                self._initial_pipeline[i] += q
                if k == 0:
                    s.on_hand += q
                    s.received += q
                else:
                    s.init_due[k] = s.init_due.get(k, 0.0) + q
                    s.init_pending += q
                    self.env.process(self._initial_arrival(s, k, q))
        self._accounts = [
            (s, s.node.holding_cost, s.node.shortage_cost, s.one_in, self._fixed_row(s))
            for s in self._states
        ]
        key = tuple(a[4] for a in self._accounts)  # what the row layout depends on
        if key != self._row_layout_key:  # the same in every run of one network: kept
            self._row_layout(key)

    def _row_layout(self, key: tuple[tuple[float, ...] | None, ...]) -> None:
        """Where the ledger rows of each node go (fixed rows of supply nodes without
        capacity, the buffer for the others): *key* holds each node's fixed row or None."""
        self._row_layout_key = key
        fixed = [i for i, a in enumerate(key) if a is not None]
        self._fixed_index = fixed
        self._other_index = [i for i in range(len(self._states)) if i not in fixed]
        # the rows of the fixed nodes but for received and shipped (filled in at each flush)
        self._fixed_rows = np.zeros((len(fixed), len(FIELDS)))
        for k, i in enumerate(fixed):
            on_hand, backlog, lost, units, holding, shortage, _ = key[i]  # type: ignore[misc]
            for name, value in zip(
                ("on_hand", "backlog", "lost", "in_transit", "holding_cost", "shortage_cost"),
                (on_hand, backlog, lost, units, holding, shortage),
            ):
                self._fixed_rows[k, FIELDS.index(name)] = value
        # contiguous runs of nodes with a fixed row and without: _flush fills the table by
        # slices (basic indexing), not by index lists; (nodes, fixed?, where in the fixed rows
        # or in the buffered nodes)
        self._runs: list[tuple[slice, bool, slice]] = []
        at = {False: 0, True: 0}
        for i in range(len(self._states)):
            is_fixed = i in fixed
            if self._runs and self._runs[-1][1] == is_fixed and self._runs[-1][0].stop == i:
                nodes, _, src = self._runs[-1]
                self._runs[-1] = (
                    slice(nodes.start, i + 1),
                    is_fixed,
                    slice(src.start, src.stop + 1),
                )
            else:
                self._runs.append(
                    (slice(i, i + 1), is_fixed, slice(at[is_fixed], at[is_fixed] + 1))
                )
            at[is_fixed] += 1
        # period_costs: per node, the fixed node's constant costs (as its flushed row holds
        # them) or the offset of the node's row in a period of the buffer
        fixed_costs = {i: tuple(self._fixed_rows[k, _COSTS].tolist()) for k, i in enumerate(fixed)}
        # (and whether the constants are all zero)
        self._cost_sources: list[tuple[tuple[float, ...] | None, int, bool]] = []
        self._buffer_stride = len(self._other_index) * len(FIELDS)  # floats a period buffers
        self._all_nodes_kept = [True] * len(self._states)
        for i in range(len(self._states)):
            j = self._other_index.index(i) if i not in fixed_costs else 0
            costs = fixed_costs.get(i)
            self._cost_sources.append(
                (costs, j * len(FIELDS) + _COSTS.start, costs is not None and costs == _ZERO_COSTS)
            )

    def _fixed_row(self, s: _NodeState) -> tuple[float, ...] | None:
        """For a supply node without capacity (and no market): what its ledger rows always hold
        (on hand, backlog, lost, in transit, holding, shortage, its cost), since only what it
        ships changes; None for any other node."""
        node = s.node
        if not (
            s.supply
            and node.capacity == math.inf
            and self.market is None
            and node.demand is None
            and not s.inbound
            and not s.init_pending
            and not s.queue
        ):
            return None
        holding = node.holding_cost * s.on_hand
        shortage = node.shortage_cost * (s.lost if s.lost_rule else s.backlog)
        cost = holding + shortage + s.fixed + s.variable + 0.0  # as _account adds it up
        return (s.on_hand, s.backlog, s.lost, s.init_pending, holding, shortage, cost)

    def _initial_arrival(
        self, s: _NodeState, k: int, q: float
    ) -> Generator[simpy.Event, Any, None]:
        """Initial pipeline: *q* finished units reach *s* at the start of period *k*."""
        yield UrgentTimeout(self.env, k)
        s.init_pending -= q
        del s.init_due[k]
        s.received += q
        self._stock_in(s, q, k)

    # -- driving -----------------------------------------------------------------------------
    def run(self, policy: Policy, seed: SeedLike | None = None) -> Ledger:
        """Simulate the whole horizon answering every epoch from *policy*."""
        self._start_run(policy, seed)
        try:
            clock = self.env.process(self._period_clock())
            self.env.run(until=clock)
        finally:
            self._policy = None
        return self.ledger()

    def run_summary(
        self,
        policy: Policy,
        seed: SeedLike | None = None,
        *,
        warmup: int = 0,
        window: tuple[int, int] | None = None,
    ) -> LedgerSummary:
        """Simulate the whole horizon like :meth:`run`, keeping running summaries of the ledger
        from period *warmup* on instead of every row (memory that does not grow with the
        horizon, but for 8 bytes a period), and the rows of periods ``window = (start, stop)``
        in full (``summary.window_ledger()``)."""
        if self.TIME != "periodic":
            raise TypeError(f"run_summary runs periodic networks, not {type(self).__name__}")
        if not 0 <= warmup < self.periods:
            raise ValueError(f"warmup(={warmup}) must be in [0, periods={self.periods})")
        self._start_run(policy, seed)
        init = np.array([n.initial_on_hand for n in self.network.nodes], dtype=float)
        self._summary = LedgerSummary(
            self.network_nodes, self.objective, warmup, window, init, self._initial_pipeline
        )
        try:
            self.env.run(until=self.env.process(self._period_clock()))
            self._flush()
        finally:
            self._policy = None
        return self._summary

    def _start_run(self, policy: Policy, seed: SeedLike | None) -> None:
        """Fresh state for a run of *policy* (checked) from *seed* (None: the last seed)."""
        if not callable(getattr(policy, "act", None)):
            raise TypeError(f"policy must have an act(observation) method, got {policy!r}")
        self._seed = self._seed if seed is None else seed
        self.reset_state(self._seed)
        self._policy = policy
        start = getattr(policy, "start_run", None)
        if callable(start):  # randomised policies: their own stream of this run's seed
            start(stream(self.root, "policy"))

    def reset(self, seed: SeedLike | None = None) -> Observation | None:
        """Start a run driven from outside; returns the first epoch's observation."""
        self._seed = self._seed if seed is None else seed
        self.reset_state(self._seed)
        self._horizon_end = self.env.event()
        self._clock_process = self.env.process(self._period_clock())
        return self._run_to_epoch()

    def observe(self) -> Observation:
        if self._done or not self._awaiting:
            raise RuntimeError("not at a decision epoch: call reset() or advance() first")
        return self._obs

    def act(self, action: Action | Mapping[str, float]) -> None:
        """Answer the pending decision epoch: its orders are placed now (checked first:
        nothing is placed on error); the rest of the period waits for ``advance``."""
        if self._done or not self._awaiting:  # observe(), inlined (the per-step path)
            raise RuntimeError("not at a decision epoch: call reset() or advance() first")
        obs = self._obs
        self._place_orders(obs.t, action, obs.deciding)
        self._awaiting = False

    def advance(self) -> Observation | None:
        """Run to the next decision epoch; None when the horizon is over.

        The next epoch of the same period (sequential decisions) needs no simulation;
        otherwise the period is finished (demand, accounting) and the clock runs on."""
        if self._awaiting:
            raise RuntimeError("answer the pending epoch with act(action) before advance()")
        if self._done:
            return None
        self._group_at += 1
        if self._group_at < len(self._groups):
            return self._hand_out()
        obs = self._obs
        t: int = obs.t  # type: ignore[assignment]  # a period (typing.cast is a call)
        # _end_period(t) and _run_to_epoch(), inlined: calls per step show in an env's speed
        if not self._demand_first:
            if self._demand_at is not None:
                external = self._external_demand
                for s, at in self._demand_at:
                    external(t, s, at(t))
            else:
                self._demand_phase(t)
        self._account()
        for s in self._limited:
            s.fresh = 0.0
            s.cap_left = s.cap
        if t + 1 == self.periods:  # the clock waits on this after the last period
            assert self._horizon_end is not None  # reset() made it
            self._horizon_end.succeed()
        step, clock = self.env.step, self._clock_process
        assert clock is not None  # reset() started it
        while not self._awaiting:
            if clock.triggered:  # the horizon is over
                self._done = True
                return None
            step()
        return obs

    def act_period(
        self, decide: Callable[[Observation], Action | Mapping[str, float]]
    ) -> Observation | None:
        """Answer the pending epoch and every later epoch of its period, each with
        ``decide(observation)`` (sequential decisions: node by node, downstream first, each
        seeing its customers' orders of the period), then advance to the next period's
        first epoch: ``act`` and ``advance`` in a loop, without their checks per epoch."""
        obs = self.observe()
        t, groups = obs.t, self._groups
        while True:
            self._place_orders(t, decide(obs), obs.deciding)
            if self._group_at + 1 == len(groups):
                break
            self._group_at += 1
            self._hand_out()
        self._awaiting = False
        return self.advance()

    def step(self, action: Action | Mapping[str, float]) -> Observation | None:
        """``act(action)`` then ``advance()``."""
        self.act(action)
        return self.advance()

    def _run_to_epoch(self) -> Observation | None:
        """Step the SimPy environment until the clock hands out an epoch or ends.

        Step by step: ``env.run(until=event)`` would cost an event and a callback per call."""
        step, clock = self.env.step, self._clock_process
        assert clock is not None  # reset() started it
        while not self._awaiting:
            if clock.triggered:  # the horizon is over
                self._done = True
                return None
            step()
        return self._obs

    def _hand_out(self) -> Observation:
        """Make the epoch ``self._groups[self._group_at]`` the pending one."""
        obs, group = self._obs, self._groups[self._group_at]
        obs.deciding = group
        self._allowed = (
            self._all_allowed if group is self._all_deciding else self._allowed_set(group)
        )
        self._awaiting = True
        return obs

    @property
    def done(self) -> bool:
        return self._done

    @property
    def now(self) -> int:
        return int(self.env.now)

    # -- the period ------------------------------------------------------------------------
    def _period_clock(self) -> Generator[simpy.Event, Any, None]:
        env, obs, due = self.env, self._obs, self._due
        timeout, account, demand_phase = env.timeout, self._account, self._demand_phase
        demand_at, external = self._demand_at, self._external_demand
        # without a market: the demand of the periods [block_start, block_end) per node, read
        # from its draws' blocks (all of one size, so one block holds t for every node)
        block_start = block_end = 0
        block: list[tuple[_NodeState, list[float]]] = []
        place, deliver = self._place_orders, self._deliver
        capacitated, limited = self._capacitated_supply, self._limited
        demand_first, sequential = self._demand_first, self._sequential
        all_deciding = self._all_deciding
        review_all, has_market = self._review_all, self.market is not None
        policy = self._policy
        # the common epoch: every stocking node reviews every period, together, and a policy
        # answers; who decides is then the same in every period, set once
        same_epoch = policy is not None and review_all and not sequential and bool(all_deciding)
        if same_epoch:
            obs.deciding = obs.deciding_this_period = all_deciding
            self._allowed = self._all_allowed
            act = policy.act  # type: ignore[union-attr]
        handed_out = False  # the previous period went to an outside agent, which finished it
        for t in range(self.periods):
            if t:
                if not handed_out:  # else the wait for t was yielded when it was handed out
                    yield timeout(1)
                handed_out = False
                # shipments due now arrive first (after the initial pipeline's URGENT events
                # of t, before anything else), in the order they were sent
                arrivals = due.pop(t, None)
                if arrivals is not None:
                    for e, q in arrivals:
                        e.transit -= q
                        s = e.target
                        if s.simple_in and not s.limited and not s.queue:
                            s.received += q  # _deliver and _stock_in, inlined
                            s.on_hand += q
                        else:
                            deliver(e, q, t)
            for s in capacitated:
                s.cap_left = s.node.capacity
                if s.queue:
                    self._fill_supply_queue(s)
            for s in limited:  # backlog held back by capacity or by ship-before-receipt
                if s.queue:
                    self._work_off(s, t)
            if demand_first:
                if demand_at is not None:  # _demand_phase(t) without a market, inlined
                    for s, at in demand_at:
                        external(t, s, at(t))
                else:
                    demand_phase(t)
            if same_epoch:
                obs.t = t
                place(t, act(obs), all_deciding)
            else:
                deciding = (
                    all_deciding
                    if review_all
                    else tuple(s.name for s in self._deciders if s.node.reviews_at(t))
                )
                if deciding or has_market:
                    obs.t, obs.deciding_this_period = t, deciding
                    # sequential: one epoch per node, downstream first, each placed before the next
                    groups: list[tuple[str, ...]] = (
                        [self._singles[n] for n in deciding]
                        if sequential and deciding
                        else [deciding]
                    )
                    if policy is None:  # driven from outside: act() and advance() take it on
                        self._groups, self._group_at = groups, 0
                        self._hand_out()
                        # what advance() resumes after finishing this period (and its epochs)
                        last = t + 1 == self.periods
                        yield self._horizon_end if last else timeout(1)  # type: ignore[misc]
                        handed_out = True
                        continue
                    for group in groups:
                        obs.deciding = group
                        self._allowed = self._allowed_set(group)
                        place(t, policy.act(obs), group)
            # _end_period(t), inlined: a call per period shows in the engine's speed
            if not demand_first:
                if demand_at is not None:  # _demand_phase(t) without a market, inlined
                    if t >= block_end:
                        block_start, block_end, block = self._demand_block(t)
                    for s, values in block:
                        external(t, s, values[t - block_start])
                else:
                    demand_phase(t)
            account()
            for s in limited:
                s.fresh = 0.0
                s.cap_left = s.cap
        obs.t, obs.deciding, obs.deciding_this_period = self.periods, (), ()

    def _demand_block(self, t: int) -> tuple[int, int, list[tuple[_NodeState, list[float]]]]:
        """The demand draws of the block of periods that holds *t*, node by node: (first
        period, end, [(node, values)]); with draws of several block sizes, one period."""
        block = []
        start, end = t, t + 1
        for i, (s, draws) in enumerate(self._demand):
            first, values = draws.block(t)
            if i == 0:
                start, end = first, first + len(values)
            elif (first, first + len(values)) != (start, end):  # pragma: no cover - one size
                return t, t + 1, [(s, [d.at(t)]) for s, d in self._demand]
            block.append((s, values))
        return start, end, block

    def _end_period(self, t: int) -> None:
        """The phases of period *t* after the decisions: demand (unless it came first) and
        accounting; then limited nodes get their full shipping capacity back."""
        if not self._demand_first:
            self._demand_phase(t)
        self._account()
        for s in self._limited:
            s.fresh = 0.0
            s.cap_left = s.cap

    def _allowed_set(self, group: tuple[str, ...]) -> tuple[str, ...] | frozenset[str]:
        """Who may order at an epoch of *group*: a set when many nodes decide (a membership
        test per order: a tuple made this quadratic in the number of nodes)."""
        if group is self._all_deciding:
            return self._all_allowed
        return group if len(group) < 8 else frozenset(group)

    def _check_action(
        self, t: float, action: Any, deciding: tuple[str, ...] | frozenset[str]
    ) -> Mapping[str, Any]:
        """The orders of *action*, after checking all of it (nothing is placed on error).

        *deciding* is a set when many nodes decide (a membership test per order: a tuple
        made this quadratic in the number of nodes)."""
        orders: Mapping[str, Any]  # a number per node; a mapping for "choice" nodes
        if type(action) is dict:
            orders = action
        elif isinstance(action, Action):
            orders = action.orders
            for name, p in action.prices.items():
                if name not in self._by_name:
                    raise DecisionError(f"period {t}: price for unknown node {name!r}")
                if not (p >= 0 and math.isfinite(p)):
                    raise DecisionError(f"price for node {name!r} must be >= 0, got {p}")
        elif isinstance(action, Mapping):
            orders = action
        else:
            raise DecisionError(
                f"an action must be an Action or a mapping node -> quantity, "
                f"got {type(action).__name__}"
            )
        for name, q in orders.items():
            if name not in deciding:
                names = self._obs.deciding
                raise DecisionError(
                    f"period {t}: node {name!r} does not decide now "
                    f"(deciding: {', '.join(names) or 'none'})"
                )
            if name in self._choosers or isinstance(q, Mapping):
                self._check_choice(t, name, q)
                continue
            if not isinstance(q, (int, float, np.number)) or isinstance(q, bool):
                raise DecisionError(
                    f"period {t}: order at node {name!r} must be a number, got {q!r}"
                )
            if not q >= 0 or q == math.inf:
                raise DecisionError(
                    f"period {t}: order at node {name!r} must be a finite number >= 0, got {q}"
                )
        return orders

    def _check_choice(self, t: float, name: str, parts: Any) -> None:
        """Check the order of node *name* when it is (or should be) a mapping supplier ->
        quantity (``supply_rule="choice"``)."""
        s = self._by_name[name]
        if s.rule != "choice":
            raise DecisionError(
                f"period {t}: node {name!r} has supply_rule={s.rule!r}, not 'choice': its "
                f"order is one number, got a mapping {dict(parts)!r}"
            )
        suppliers = [e.source.name for e in s.inbound]
        if not isinstance(parts, Mapping):
            raise DecisionError(
                f"period {t}: node {name!r} chooses its suppliers (supply_rule='choice'): "
                f"its order must be a mapping supplier -> quantity over "
                f"{', '.join(suppliers)}, got {parts!r}"
            )
        for supplier, q in parts.items():
            if supplier not in suppliers:
                raise DecisionError(
                    f"period {t}: node {name!r} orders from {supplier!r}, which is not one "
                    f"of its suppliers ({', '.join(suppliers)})"
                )
            if (
                not isinstance(q, (int, float, np.number))
                or isinstance(q, bool)
                or not q >= 0
                or q == math.inf
            ):
                raise DecisionError(
                    f"period {t}: order at node {name!r} from supplier {supplier!r} (edge "
                    f"{supplier!r}->{name!r}) must be a finite number >= 0, got {q!r}"
                )

    def _place_orders(self, t: float, action: Any, deciding: tuple[str, ...]) -> None:
        if self._choosers:  # orders of some nodes are mappings: checked and placed below
            orders = self._check_action(t, action, self._allowed)
            if isinstance(action, Action):
                for name, p in action.prices.items():
                    self._by_name[name].price = float(p)
                self._action = action
            for s in self._deciders:
                if s.name not in deciding:
                    continue
                part = orders.get(s.name)
                if not part:
                    continue
                if s.rule == "choice":
                    self._order_choice(t, s, part)
                else:
                    self._order(t, s, float(part))
            return
        if type(action) is dict:  # the common answer: checked here, the slow path says why not
            allowed = self._allowed
            for name, q in action.items():
                # what _check_action accepts of a Python float or int, inline; anything else
                # (numpy numbers, bools, mappings) goes through it
                kind = type(q)
                if (
                    (kind is not float and kind is not int)
                    or name not in allowed
                    or not q >= 0
                    or q == math.inf
                ):
                    self._check_action(t, action, allowed)
            if len(deciding) == 1:
                q = action.get(deciding[0], 0.0)
                if q:
                    self._order(t, self._by_name[deciding[0]], float(q))
                return
            for s in self._deciders:
                q = action.get(s.name, 0.0)
                if q:
                    self._order(t, s, float(q))
            return
        orders = self._check_action(t, action, self._allowed)
        if isinstance(action, Action):
            for name, p in action.prices.items():
                self._by_name[name].price = float(p)
            self._action = action
        if len(deciding) == 1:
            q = orders.get(deciding[0], 0.0)
            if q:
                self._order(t, self._by_name[deciding[0]], float(q))
            return
        for s in self._deciders:
            q = orders.get(s.name, 0.0)
            if q:
                self._order(t, s, float(q))

    def _order(self, t: float, s: _NodeState, q: float) -> None:
        """Place *s*'s order: whole units unless continuous, cut to the capacities."""
        node = s.node
        whole = not self._continuous
        if whole:
            q = float(round(q))
        rule = s.order_rule
        if rule != 1:  # no capacities, one supplier, bom 1
            if q <= EPS:
                return
            s.ordered += q
            if node.fixed_order_cost:  # adding 0.0 would change nothing
                s.fixed += node.fixed_order_cost
            if node.order_cost:
                s.variable += node.order_cost * q
            e: _EdgeState = s.one_in  # type: ignore[assignment]  # (typing.cast is a call)
            if rule == 2:  # _request_units from an unlimited supply node: it ships everything
                e.source.received += q
                self._ship(t, e, q)
            else:
                self._request_units(t, e, q)
            return
        q = self._within_capacities(s, q)
        if q <= EPS:
            return
        if s.rule is None or s.rule == "assembly":
            for e in s.inbound:
                self._request_units(t, e, q * e.bom)
        elif s.rule == "split":
            self._split(t, s, q)
        else:  # priority: as much as each supplier has, in priority order
            left = q
            for i, e in enumerate(s.inbound):
                last = i == len(s.inbound) - 1
                take = left if last else min(left, _available(e.source))
                if take > EPS:
                    self._request_units(t, e, take)
                    left -= take
                if left <= EPS:
                    break

    def _within_capacities(self, s: _NodeState, asked: float) -> float:
        """What *s* may order of *asked* (whole units unless continuous) under its order and
        storage capacities; records the cut and, when something is ordered, the order and
        its fixed and per-unit ordering costs."""
        node = s.node
        q = asked
        whole = not self._continuous
        if q > node.capacity:
            q = float(math.floor(node.capacity)) if whole else node.capacity
        if node.storage_capacity < math.inf:
            room = max(0.0, node.storage_capacity - s.on_hand - _on_order(s))
            q = min(q, float(math.floor(room + EPS)) if whole else room)
        if q < asked:
            s.cut += asked - (q if q > EPS else 0.0)
        if q <= EPS:
            return 0.0
        s.ordered += q
        s.fixed += node.fixed_order_cost
        s.variable += node.order_cost * q
        return q

    def _order_choice(self, t: float, s: _NodeState, parts: Mapping[str, float]) -> None:
        """Place a ``"choice"`` node's orders, one per supplier: whole units unless
        continuous; the node's capacities cut the total, from the last supplier (in
        declaration order) backwards."""
        whole = not self._continuous
        wanted: list[tuple[_EdgeState, float]] = []
        for e in s.inbound:
            q = parts.get(e.source.name)
            if q:
                q = float(round(q)) if whole else float(q)
                if q > EPS:
                    wanted.append((e, q))
        left = self._within_capacities(s, sum(q for _, q in wanted))
        for e, q in wanted:  # declaration order: the cut falls on the last ones
            take = q if q <= left else left
            if take > EPS:
                self._request_units(t, e, take)
                left -= take
            if left <= EPS:
                break

    def _split(self, t: float, s: _NodeState, q: float) -> None:
        # split edges have their share (Network refuses a split rule without)
        parts = [q * cast(float, e.edge.share) for e in s.inbound]
        if not self._continuous:  # largest remainder keeps the total
            whole = [math.floor(p) for p in parts]
            rest = sorted(range(len(parts)), key=lambda i: whole[i] - parts[i])
            for i in rest[: int(round(q - sum(whole)))]:
                whole[i] += 1
            parts = [float(w) for w in whole]
        for e, part in zip(s.inbound, parts):
            if part > EPS:
                self._request_units(t, e, part)

    def _request_units(self, t: float, e: _EdgeState, q: float) -> None:
        """Downstream order of *q* units on edge *e*: ship now, backlog or lose the rest."""
        src = e.source
        if src.supply:
            cap = src.cap_left
            if q <= cap:  # min(q, cap) without the call; nothing short (adding 0.0 changes nothing)
                x = q
            else:
                x = cap
                src.short += q - x
            src.cap_left = cap - x
            src.received += x
        elif src.queue:
            x = 0.0
        else:
            x = min(q, src.on_hand)
            if src.limited:  # only what it held at the start (ship-before-receipt), up to capacity
                x = min(q, src.on_hand - src.fresh)
                y = min(x, src.cap_left)
                src.short += x - y
                x = y
                src.cap_left -= x
            src.on_hand -= x
        if x > EPS:
            self._ship(t, e, x)
        rest = q - x
        if rest > EPS:
            if src.lost_rule:
                src.lost += rest
            else:
                src.queue.append([e, rest, 0.0])
                src.backlog += rest
                e.pending += rest

    def _ship(self, t: float, e: _EdgeState, q: float) -> None:
        e.source.shipped += q
        if e.cost:  # adding 0.0 would change nothing
            e.target.variable += e.cost * q
        lead = e.fixed_lead
        # a period here: ContinuousSimulation, whose t is a time, overrides _ship
        period: int = t  # type: ignore[assignment]  # (typing.cast is a call)
        due = period + (lead if lead is not None else int(e.lead.at(period)))  # type: ignore[union-attr]
        if e.sequential:
            due = max(due, e.last_arrival)
            e.last_arrival = due
        if due == period:
            self._deliver(e, q, period)
            return
        e.transit += q
        arrivals = self._due.get(due)
        if arrivals is None:
            self._due[due] = [(e, q)]
        else:
            arrivals.append((e, q))

    def _arrive(self, e: _EdgeState, q: float, t: float) -> None:
        """A shipment of *q* units on edge *e* reaches its target at the start of period *t*."""
        e.transit -= q
        self._deliver(e, q, t)

    def _deliver(self, e: _EdgeState, q: float, t: float) -> None:
        s = e.target
        if s.simple_in:
            s.received += q
            self._stock_in(s, q, t)
            return
        e.buffer += q  # assembly: components wait until a complete kit is there
        kits = min(x.buffer / x.bom for x in s.inbound)
        if not self._continuous:
            kits = math.floor(kits + EPS)
        if kits <= EPS:
            return
        for x in s.inbound:
            x.buffer = max(0.0, x.buffer - kits * x.bom)
        s.received += kits
        self._stock_in(s, kits, t)

    def _stock_in(self, s: _NodeState, q: float, t: float) -> None:
        """Units arrive at *s*: fill its backlog first come first served, then stock."""
        if s.limited:
            s.on_hand += q
            if self._ship_first:
                s.fresh += q
            if s.queue:
                self._work_off(s, t)
            return
        queue = s.queue
        while queue and q > EPS:
            entry = queue[0]
            customer, owed, price = entry
            x = owed if owed <= q else q
            q -= x
            s.backlog -= x
            if customer is None:
                s.ext_backlog -= x
                s.sales += x
                s.revenue += x * price
            else:
                customer.pending -= x
                self._ship(t, customer, x)
            if owed - x > EPS:
                entry[1] = owed - x
            else:
                queue.popleft()
        s.on_hand += q

    def _work_off(self, s: _NodeState, t: float) -> None:
        """A limited node works off its backlog first come first served: external entries from
        all stock on hand, entries of downstream nodes from shippable stock (not this period's
        receipts under ship-before-receipt) within what its shipping capacity has left; it stops
        at the first entry it cannot fill completely."""
        queue = s.queue
        while queue:
            entry = queue[0]
            customer, owed, price = entry
            if customer is None:
                x = min(owed, s.on_hand)
            else:
                x = min(owed, s.on_hand - s.fresh, s.cap_left)
            if x <= EPS:
                return
            s.on_hand -= x
            s.backlog -= x
            if customer is None:
                s.fresh = max(0.0, s.fresh - x)  # external sales take this period's receipts first
                s.ext_backlog -= x
                s.sales += x
                s.revenue += x * price
            else:
                s.cap_left -= x
                customer.pending -= x
                self._ship(t, customer, x)
            if owed - x > EPS:
                entry[1] = owed - x
                return
            queue.popleft()

    def _fill_supply_queue(self, s: _NodeState) -> None:
        t = int(self.env.now)
        while s.queue and s.cap_left > EPS:
            entry = s.queue[0]
            e, owed, _ = entry
            x = min(owed, s.cap_left)
            s.cap_left -= x
            s.received += x
            s.backlog -= x
            e.pending -= x
            self._ship(t, e, x)
            if owed - x > EPS:
                entry[1] = owed - x
            else:
                s.queue.popleft()

    def _demand_phase(self, t: int) -> None:
        if self.market is None:
            external = self._external_demand
            for s, draws in self._demand:
                external(t, s, draws.at(t))
            return
        market = None
        if self.market is not None:
            market = self.market.draw(t, self._action, self._obs)
        for s, draws in self._demand:
            d = draws.at(t) if market is None or s.name not in market else float(market[s.name])
            self._external_demand(t, s, d)
        if market:
            for name, d in market.items():
                s = self._by_name[name]
                if s.node.demand is None:
                    self._external_demand(t, s, float(d))

    def _external_demand(self, t: float, s: _NodeState, d: float) -> None:
        if d != d:  # NaN: a trace without cycling has run out
            raise ValueError(f"node {s.name!r}: demand trace has no value for period {t}")
        s.demand += d
        s.last_demand = d
        x = d if d <= s.on_hand else s.on_hand
        if s.queue:
            x = 0.0
        s.on_hand -= x
        if s.fresh:  # ship-before-receipt: external sales take this period's receipts first
            s.fresh = max(0.0, s.fresh - x)
        s.served += x
        s.sales += x
        if s.price:  # x is finite: x * 0.0 would add nothing
            s.revenue += x * s.price
        rest = d - x
        if rest > EPS:
            if s.lost_rule:
                s.lost += rest
            else:
                s.queue.append([None, rest, s.price])
                s.backlog += rest
                s.ext_backlog += rest

    def _account(self) -> None:
        """End of period: book the costs, write one ledger row per node, reset the flows."""
        buffer, flows = self._buffer, self._flows
        cost = revenue = 0.0
        for s, holding_cost, shortage_cost, one, fixed in self._accounts:
            if fixed is not None:  # a supply node without capacity: only what it ships changes
                flows.extend((s.received, s.shipped))  # the rest of its row: _fixed_rows
                cost += fixed[6]  # its revenue is 0.0: adding it changes nothing
                s.received = s.shipped = 0.0
                continue
            holding = holding_cost * s.on_hand
            shortage = shortage_cost * (s.lost if s.lost_rule else s.backlog)
            if one is not None:  # one supplier, bom 1 (the loop below on one edge)
                pipe = one.transit + one.buffer
                transit = 0.0 + one.hold * pipe
                units = s.init_pending + pipe / one.bom
            elif not s.inbound:
                transit, units = 0.0, s.init_pending
            elif s.simple_in:
                transit, units = 0.0, s.init_pending
                for e in s.inbound:
                    pipe = e.transit + e.buffer
                    transit += e.hold * pipe
                    units += pipe / e.bom
            else:  # assembly: components on the way count as the kits they make up
                transit = 0.0
                for e in s.inbound:
                    transit += e.hold * (e.transit + e.buffer)
                units = s.init_pending + min((e.transit + e.buffer) / e.bom for e in s.inbound)
            cost += holding + shortage + s.fixed + s.variable + transit
            revenue += s.revenue
            buffer += (  # list += tuple: extend without a method call
                (
                    s.on_hand,
                    s.backlog,
                    s.lost,
                    units,
                    s.ordered,
                    s.received,
                    s.shipped,
                    s.demand,
                    s.sales,
                    s.served,
                    holding,
                    shortage,
                    s.fixed,
                    s.variable,
                    transit,
                    s.revenue,
                    s.cut,
                    s.short,
                )
            )
            s.ordered = s.received = s.shipped = s.demand = s.sales = 0.0
            s.served = s.lost = s.revenue = s.fixed = s.variable = s.cut = s.short = 0.0
        self.total_cost += cost
        self.total_revenue += revenue
        self._buffered += 1
        if self._buffered >= FLUSH_PERIODS:
            self._flush()

    def _flush(self) -> None:
        """Move the buffered ledger rows to the run's rows (or into its running summary)."""
        k = self._buffered
        if not k:
            return
        width, others = len(FIELDS), len(self._other_index)
        # fromiter: the buffer's floats, converted once (np.array on a list is slower)
        buffered = np.fromiter(self._buffer, float, k * others * width).reshape(k, others, width)
        if self._fixed_index:  # full rows of the fixed nodes: their constants and flows
            fixed = len(self._fixed_index)
            table = np.empty((k, len(self._states), width))
            flows = np.fromiter(self._flows, float, k * fixed * 2).reshape(k, fixed, 2)
            for nodes, is_fixed, src in self._runs:
                if is_fixed:
                    part = table[:, nodes]
                    part[...] = self._fixed_rows[src]
                    part[:, :, _RECEIVED] = flows[:, src, 0]
                    part[:, :, _SHIPPED] = flows[:, src, 1]
                else:
                    table[:, nodes] = buffered[:, src]
        else:
            table = buffered
        if self._summary is None:
            self._rows.frombytes(table.tobytes())
        else:
            self._summary.add(table)
        self._buffer.clear()
        self._flows.clear()
        self._flushed += k
        self._buffered = 0

    # -- results -----------------------------------------------------------------------------
    @property
    def objective(self) -> str:
        return objective_of(self.network, self.market)

    @property
    def accounted(self) -> int:
        """Periods accounted so far (each has its ledger rows)."""
        return self._flushed + self._buffered

    def period_costs(self, period: int) -> list[Sequence[float]]:
        """The cost fields (:data:`~des_supply.ledger.COST_FIELDS`, in that order) of every
        node in the accounted *period*, as Python floats: the numbers of its ledger rows,
        read without numpy or a flush (the per-step path of the env adapters)."""
        if self._summary is not None:
            raise RuntimeError("this run kept running summaries only (run_summary): no rows")
        if not 0 <= period < self.accounted:
            raise IndexError(f"period {period} is not accounted (accounted: {self.accounted})")
        k = _COSTS.stop - _COSTS.start
        if period >= self._flushed:  # in the buffer: rows of the nodes without a fixed row
            buf = self._buffer
            base = (period - self._flushed) * len(self._other_index) * len(FIELDS)
            return [
                fixed if fixed is not None else buf[base + at : base + at + k]
                for fixed, at, _ in self._cost_sources
            ]
        rows, width = self._rows, len(FIELDS)  # flushed: the run's rows
        base = period * len(self._states) * width + _COSTS.start
        return [
            rows[base + i * width : base + i * width + k].tolist() for i in range(len(self._states))
        ]

    def period_cost_sums(
        self, period: int, keep: Sequence[bool] | None = None
    ) -> tuple[list[float], list[float]]:
        """The costs of the accounted *period* by kind (:data:`~des_supply.ledger.COST_FIELDS`,
        summed over the nodes in node order) and by node (each node's cost fields summed in
        field order; with *keep*, a flag per node, only the flagged nodes), as Python floats.

        Every sum starts from +0.0 and adds in order: below 8 terms that is what numpy's
        ``sum`` gives on the ledger's (period, node, field) cost array, bit for bit (signed
        zeros included), without a flush or an array (the per-step path of the env adapters).
        """
        i = period - self._flushed  # the period's place in the buffer
        if i < 0 or i >= self._buffered or self._summary is not None:  # flushed, or an error
            return cost_sums(self.period_costs(period), keep)
        buf, base = self._buffer, i * self._buffer_stride
        h = s = f = v = tr = 0.0
        per_node = []
        for (fixed, at, zero), k in zip(self._cost_sources, keep or self._all_nodes_kept):
            if fixed is None:
                j = base + at
                c0, c1, c2, c3, c4 = buf[j : j + 5]
            elif zero and not k:  # x + (+-0.0) is x for a sum from +0.0
                continue
            else:
                c0, c1, c2, c3, c4 = fixed
            h += c0
            s += c1
            f += c2
            v += c3
            tr += c4
            if k:
                per_node.append(0.0 + ((((c0 + c1) + c2) + c3) + c4))
        return [h, s, f, v, tr], per_node

    def records(self, start: int = 0) -> np.ndarray:
        """Ledger records of periods ``start``, ``start + 1``, ... accounted so far, as a copy of
        shape (periods, nodes, len(FIELDS)) (cheap for recent periods, unlike :meth:`ledger`)."""
        if self._summary is not None:
            raise RuntimeError("this run kept running summaries only (run_summary): no records")
        self._flush()
        width = len(self._states) * len(FIELDS)
        flat = np.array(self._rows[start * width :], dtype=float)
        return flat.reshape(-1, len(self._states), len(FIELDS))

    def ledger(self) -> Ledger:
        """The ledger of the periods simulated so far."""
        if self._summary is not None:
            raise RuntimeError(
                "this run kept running summaries only (run_summary): run(policy) keeps the "
                "full ledger"
            )
        self._flush()
        init = np.array([n.initial_on_hand for n in self.network.nodes])
        return Ledger.from_rows(
            self.network_nodes, self._rows, self.objective, init, self._initial_pipeline
        )

    def units_in_network(self) -> float:
        """On hand + in transit + waiting for assembly, over all nodes (bom 1 units)."""
        return sum(s.on_hand + s.init_pending for s in self._states) + sum(
            e.transit + e.buffer for e in self._edges
        )

    def _one_edge_pipeline(self, s: _NodeState, t: int, n: int) -> tuple[float, ...]:
        """:meth:`Observation.pipeline` of a node with one supplier and bom 1: per period, the
        initial pipeline plus the shipments on the edge (summed in the order they were
        sent, as ``_due_on`` does; ``0 + units`` is ``units``, so no ``sum``)."""
        e, due, initial = s.one_in, self._due, s.init_due
        out = []
        for k in range(t + 1, t + n + 1):
            units = 0.0
            arrivals = due.get(k)
            if arrivals is not None:
                for x, q in arrivals:
                    if x is e:
                        units += q
            out.append(initial.get(k, 0.0) + units if initial else 0.0 + units)
        return tuple(out)

    def _due_on(self, inbound: list[_EdgeState], period: int) -> list[float]:
        """Units arriving at the start of *period* on each edge of *inbound* (summed in the
        order they were sent)."""
        units = [0.0] * len(inbound)
        for e, q in self._due.get(period, ()):
            for i, x in enumerate(inbound):
                if x is e:
                    units[i] += q
        return units

    def _echelon_ip(self, node: str) -> float:
        members = self._echelons[node]
        inside = set(members)
        total = 0.0
        for name in members:
            s = self._by_name[name]
            total += s.on_hand - s.ext_backlog + s.init_pending
            for e in s.inbound:
                total += (
                    e.transit + e.buffer + (e.pending if e.source.name not in inside else 0.0)
                ) / e.bom
        return total


def cost_sums(
    rows: Sequence[Sequence[float]], keep: Sequence[bool] | None = None
) -> tuple[list[float], list[float]]:
    """Cost by kind and cost by node of one period's cost rows (one sequence of the
    :data:`~des_supply.ledger.COST_FIELDS` per node), in Python floats; with *keep* (a flag
    per node) the cost by node of the flagged nodes only.

    Bit for bit what ``costs.sum(axis=(0, 1))`` and ``costs.sum(axis=(0, 2))`` give on the
    (1, nodes, 5) array below 8 nodes (numpy adds from its identity 0.0, in order, below 8
    terms; ``tests/rl/test_env_identity.py`` checks it against numpy).
    """
    h = s = f = v = tr = 0.0
    per_node = []
    for k, (c0, c1, c2, c3, c4) in zip(keep or [True] * len(rows), rows):
        h += c0
        s += c1
        f += c2
        v += c3
        tr += c4
        if k:
            per_node.append(0.0 + ((((c0 + c1) + c2) + c3) + c4))
    return [h, s, f, v, tr], per_node


def objective_of(network: Network, market: Market | None = None) -> str:
    """ "profit" when something is sold at a price (or a market sets prices), else "cost"."""
    return "profit" if market is not None or any(n.price > 0 for n in network.nodes) else "cost"


def _available(s: _NodeState) -> float:
    """What a supplier could ship now."""
    if s.supply:
        return s.cap_left
    if s.queue:
        return 0.0
    if s.limited:
        return max(0.0, min(s.on_hand - s.fresh, s.cap_left))
    return s.on_hand
