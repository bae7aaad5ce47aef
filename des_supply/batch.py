"""The lockstep batch engine: R replications of one periodic network advanced together on numpy.

This is the event engine (:mod:`des_supply.sim`, the reference) compiled for
throughput, not a second model: the same order of events in a period, the same
rules (supply rules, shortage rules, capacities, rounding) and the same random
draws.  Replication r runs on the seed it is given (``simulate`` passes
``replication_seed(seed, r)``); its demand and lead-time streams are the event
engine's (:func:`des_supply.rng.stream`), drawn in the same blocks of 256
periods, so for the same seed each replication's ledger equals the event
engine's: in whole-unit networks every quantity is identical and money equal up to
floating-point summation order (a unit cost is charged per shipment, and where the
event engine ships a backlog entry by entry the batch engine ships their sum); in
continuous networks quantities too are equal up to the last bits of such sums.

State lives in arrays, replications last so that every per-node operation runs on
contiguous memory: per node ``[nodes, R]`` (the ledger fields as one ``[fields,
nodes, R]`` block), per edge ``[edges, R]`` and the pipeline ``[edges, H, R]`` (a
ring over the next H periods).  What policies and callers see is ``[R, ...]``.  A
node's backlog queue (first come first served over external customers and
downstream edges) is one number per replication when only one kind of customer can
queue there, else a small FIFO array (consecutive entries of one customer merged).

Shipments with lead time 0 are delivered when the phase that shipped them ends,
node by node upstream first: within a phase nothing reads a node's state after it
receives, so this gives the event engine's quantities without recursion.

It runs every periodic network the event engine runs without a market: any DAG
(serial, distribution, assembly with bills of materials, general with split or
priority supply rules; not yet the ``choice`` rule, orders per supplier), backlog or lost sales per node, deterministic or
stochastic lead times (crossing or sequential, 0 included), order, storage, supply
and shipping capacities, initial pipelines, review periods and offsets, whole or
real quantities, both order timings, simultaneous or sequential decisions, both
shipping timings, and every cost and revenue of the ledger.  What it does not run
(a market, a network setting or ledger field it does not know) is named by
:func:`unsupported`; callers then use the event engine.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .distributions import Deterministic
from .ledger import FIELDS, Ledger
from .network import Edge, Network, Node
from .rng import SeedLike, root_sequence, stream
from .sim import DecisionError, objective_of

__all__ = ["BATCH_FIELDS", "BatchRun", "BatchSimulation", "unsupported"]

EPS = 1e-9
BLOCK = 256  # PeriodDraws' block: draws of period t come from the same block as in the event engine

#: The ledger fields this engine writes, in the ledger's order.
BATCH_FIELDS = (
    "on_hand",
    "backlog",
    "lost",
    "in_transit",
    "ordered",
    "received",
    "shipped",
    "demand",
    "sales",
    "served",
    "holding_cost",
    "shortage_cost",
    "fixed_cost",
    "variable_cost",
    "transit_cost",
    "revenue",
    "order_cut",
    "capacity_short",
)
(
    ON_HAND,
    BACKLOG,
    LOST,
    IN_TRANSIT,
    ORDERED,
    RECEIVED,
    SHIPPED,
    DEMAND,
    SALES,
    SERVED,
    HOLDING,
    SHORTAGE,
    FIXED,
    VARIABLE,
    TRANSIT,
    REVENUE,
    ORDER_CUT,
    CAPACITY_SHORT,
) = range(len(BATCH_FIELDS))

# Fields of the network, its nodes and edges whose every value the batch engine runs; any
# other field must be at its default (a new setting is refused until it is implemented here).
_NETWORK_FIELDS = {
    "nodes",
    "edges",
    "name",
    "order_timing",
    "continuous",
    "decisions",
    "shipping_timing",
}
_DECISIONS = ("simultaneous", "sequential")
_SHIPPING_TIMINGS = ("receive-then-ship", "ship-before-receipt")
_NODE_FIELDS = {
    "name",
    "kind",
    "holding_cost",
    "shortage",
    "shortage_cost",
    "fixed_order_cost",
    "order_cost",
    "price",
    "capacity",
    "storage_capacity",
    "shipping_capacity",
    "initial_on_hand",
    "initial_pipeline",
    "review_period",
    "review_offset",
    "demand",
    "supply_rule",
}
_EDGE_FIELDS = {
    "source",
    "target",
    "lead_time",
    "unit_cost",
    "bom",
    "transit_holding_cost",
    "share",
    "priority",
    "sequential",
}


def _unknown_setting(obj: Any, known: set[str], owner: str) -> str | None:
    for f in dataclasses.fields(obj):
        if f.name in known or f.name.startswith("_"):
            continue
        default = (
            f.default
            if f.default is not dataclasses.MISSING
            else (f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        )
        if getattr(obj, f.name) != default:
            return f"{owner} setting {f.name}={getattr(obj, f.name)!r}"
    return None


def unsupported(network: Network, market: Any = None) -> str | None:
    """Why the batch engine cannot run *network* (with *market*), or None when it can."""
    if market is not None:
        return f"a market ({type(market).__name__}: decision-dependent demand)"
    if tuple(FIELDS) != BATCH_FIELDS:
        extra = sorted(set(FIELDS) - set(BATCH_FIELDS)) or list(FIELDS)
        return f"ledger field(s) {', '.join(extra)}"
    reason = _unknown_setting(network, _NETWORK_FIELDS, "network")
    if reason:
        return reason
    if getattr(network, "decisions", "simultaneous") not in _DECISIONS:
        return f"network setting decisions={network.decisions!r}"
    if getattr(network, "shipping_timing", _SHIPPING_TIMINGS[0]) not in _SHIPPING_TIMINGS:
        return f"network setting shipping_timing={network.shipping_timing!r}"
    for n in network.nodes:
        reason = _unknown_setting(n, _NODE_FIELDS, f"node {n.name!r}")
        if reason:
            return reason
    for e in network.edges:
        reason = _unknown_setting(e, _EDGE_FIELDS, f"edge {e.source!r}->{e.target!r}")
        if reason:
            return reason
    for n in network.nodes:
        if network.supply_rule_of(n.name) == "choice":
            return f"node {n.name!r} supply_rule='choice' (orders per supplier)"
    return None


# -- backlog queues ---------------------------------------------------------------------------
class _Fifo:
    """First-come-first-served backlog of one node over R replications.

    ``units[r, k]`` is owed to customer ``code[r, k]`` (a slot of the node: a downstream
    edge or external demand); ``n[r]`` entries are in use, oldest first.  Consecutive
    entries of one customer are merged (filling them in turn is filling their sum).
    """

    def __init__(self, R: int, width: int = 8) -> None:
        self.units = np.zeros((R, width))
        self.code = np.full((R, width), -1, dtype=np.int16)
        self.n = np.zeros(R, dtype=np.int64)
        self.rows = np.arange(R)

    def nonempty(self) -> np.ndarray:
        return self.n > 0

    def append(self, slot: int, amount: np.ndarray, mask: np.ndarray) -> None:
        n, rows = self.n, self.rows
        last = np.maximum(n - 1, 0)
        merge = mask & (n > 0) & (self.code[rows, last] == slot)
        new = mask & ~merge
        self.units[rows[merge], last[merge]] += amount[merge]
        if new.any():
            if int(n[new].max()) >= self.units.shape[1]:
                self._grow()
            r = rows[new]
            self.units[r, n[new]] = amount[new]
            self.code[r, n[new]] = slot
            n += new

    def _grow(self) -> None:
        R, K = self.units.shape
        self.units = np.concatenate([self.units, np.zeros((R, K))], axis=1)
        self.code = np.concatenate([self.code, np.full((R, K), -1, dtype=np.int16)], axis=1)

    def pop_front(self, mask: np.ndarray) -> None:
        """Drop the first entry of the rows in *mask*."""
        rows = self.rows[mask]
        self.units[rows, :-1] = self.units[rows, 1:]
        self.units[rows, -1] = 0.0
        self.code[rows, :-1] = self.code[rows, 1:]
        self.code[rows, -1] = -1
        self.n[mask] -= 1

    def fill(self, q: np.ndarray, slots: int) -> np.ndarray:
        """Serve up to *q* units first come first served; units per slot ``[R, slots]``."""
        K = int(self.n.max())
        out = np.zeros((len(q), slots))
        if K == 0:
            return out
        units, code = self.units[:, :K], self.code[:, :K]
        before = np.cumsum(units, axis=1) - units
        avail = q[:, None] - before
        x = np.where(avail > EPS, np.minimum(avail, units), 0.0)
        units -= x
        for s in range(slots):
            out[:, s] = (x * (code == s)).sum(axis=1)
        done = (units <= EPS) & (np.arange(K) < self.n[:, None])
        popped = done.sum(axis=1)
        if popped.any():
            idx = np.arange(self.units.shape[1]) + popped[:, None]
            keep = idx < self.n[:, None]
            idx = np.minimum(idx, self.units.shape[1] - 1)
            self.units = np.where(keep, np.take_along_axis(self.units, idx, axis=1), 0.0)
            code = np.where(keep, np.take_along_axis(self.code, idx, axis=1), -1)
            self.code = code.astype(np.int16)
            self.n = self.n - popped
        return out


# -- static plan ------------------------------------------------------------------------------
@dataclass
class _EdgePlan:
    j: int
    edge: Edge
    src: int
    tgt: int
    fixed_lead: int | None
    slot: int  # the edge's slot in its source's queue (-1: the source never queues)


@dataclass
class _NodePlan:
    i: int
    node: Node
    supply: bool
    lost: bool
    rule: str | None
    simple: bool
    inbound: list[_EdgePlan]
    queue: str  # "none", "mono" or "fifo"
    slots: list[Any]  # queue slots: an _EdgePlan (downstream edge) or None (external demand)
    ext_slot: int
    bom: np.ndarray  # per inbound edge
    limited: bool = False  # ships downstream under a shipping capacity or ship-before-receipt
    cap: float = math.inf  # what it ships per period (supply: capacity; limited: shipping_capacity)


@dataclass
class BatchRun:
    """What :meth:`BatchSimulation.run` returns.

    ``ledgers`` (one per replication) when recorded; otherwise sums after warm-up:
    ``sums[field, r, node]``, ``node_cost[r, node]`` (holding + shortage + fixed +
    variable + transit), ``in_stock[r, node]`` (periods with served >= demand) and
    ``series[r, period]``, the objective per period after warm-up.
    """

    objective: str
    periods: int
    warmup: int
    ledgers: list[Ledger]
    sums: np.ndarray | None = None
    node_cost: np.ndarray | None = None
    in_stock: np.ndarray | None = None
    series: np.ndarray | None = None


class BatchSimulation:
    """R replications of *network* over *periods*, in lockstep.

    Parameters
    ----------
    network : Network
    periods : int
    seeds : sequence of seeds
        One per replication (an int or a SeedSequence each, as for ``Simulation``).

    ``run(policy)`` answers every epoch from a vectorised policy (see
    :mod:`des_supply.batch_policies`); outside drivers (the vector env) use
    ``reset``, ``view``, ``act`` and ``advance``.
    """

    def __init__(self, network: Network, periods: int, seeds: Sequence[SeedLike]) -> None:
        if not isinstance(network, Network):
            raise TypeError(f"network must be a Network, got {type(network).__name__}")
        reason = unsupported(network)
        if reason:
            raise ValueError(
                f"the batch engine does not run {reason}; use des_supply.sim.Simulation"
            )
        if not float(periods).is_integer() or periods < 1:
            raise ValueError(f"periods(={periods}) must be a positive integer")
        self.network, self.periods = network, int(periods)
        self.whole = not network.continuous
        self.demand_first = network.order_timing == "order-after-demand"
        self.sequential = getattr(network, "decisions", "simultaneous") == "sequential"
        self.ship_first = getattr(network, "shipping_timing", "") == "ship-before-receipt"
        self.objective = objective_of(network)
        self.node_names = tuple(n.name for n in network.nodes)
        self.index = {n: i for i, n in enumerate(self.node_names)}
        self.stock = tuple(n.name for n in network.stock_nodes)
        self.stock_index = np.array([self.index[n] for n in self.stock], dtype=np.int64)
        self._plan()
        self.reset(seeds)

    # -- the static plan ---------------------------------------------------------------------
    def _plan(self) -> None:
        net = self.network
        N = len(net.nodes)
        edges = []
        for j, e in enumerate(net.edges):
            lead = e.lead_time
            fixed = int(lead.value) if isinstance(lead, Deterministic) else None
            edges.append(_EdgePlan(j, e, self.index[e.source], self.index[e.target], fixed, -1))
        self.edges = edges
        # can anything arrive in the phase it is shipped (lead time 0)?
        self.instant = any(p.fixed_lead is None or p.fixed_lead == 0 for p in edges)
        nodes = []
        for i, n in enumerate(net.nodes):
            rule = net.supply_rule_of(n.name)
            inbound = [p for p in edges if p.tgt == i]
            if rule == "priority":
                inbound.sort(key=lambda p: p.edge.priority)
            simple = rule != "assembly" and all(p.edge.bom == 1 for p in inbound)
            lost = n.shortage == "lost"
            slots: list[Any] = [p for p in edges if p.src == i]
            if n.demand is not None:
                slots.append(None)
            can_queue = not lost and (n.kind != "supply" or math.isfinite(n.capacity))
            queue = "none" if not can_queue or not slots else "mono" if len(slots) == 1 else "fifo"
            if queue != "none":
                for k, s in enumerate(slots):
                    if s is not None:
                        s.slot = k
            ext = slots.index(None) if n.demand is not None and queue != "none" else -1
            supply = n.kind == "supply"
            ship_cap = getattr(n, "shipping_capacity", math.inf)
            limited = (
                not supply
                and any(s is not None for s in slots)
                and (self.ship_first or math.isfinite(ship_cap))
            )
            nodes.append(
                _NodePlan(
                    i,
                    n,
                    supply,
                    lost,
                    rule,
                    simple,
                    inbound,
                    queue,
                    slots,
                    ext,
                    np.array([p.edge.bom for p in inbound]),
                    limited,
                    n.capacity if supply else ship_cap,
                )
            )
        self.nodes = nodes
        self.limited = [p for p in nodes if p.limited]
        self.limited_index = np.array([p.i for p in self.limited], dtype=np.int64)
        self.limited_cap = np.array([p.cap for p in self.limited])
        self.topo = [
            nodes[self.index[n]] for n in net.topological_order if net.node(n).kind == "stock"
        ]
        self.deciders = [
            nodes[self.index[n]] for n in net.downstream_first if net.node(n).kind == "stock"
        ]
        self.cap_supply = [p for p in nodes if p.supply and math.isfinite(p.node.capacity)]
        self.demand_nodes = [p for p in nodes if p.node.demand is not None]
        # per-node constants
        self.h = np.array([n.holding_cost for n in net.nodes])
        self.p = np.array([n.shortage_cost for n in net.nodes])
        self.lost_rule = np.array([n.shortage == "lost" for n in net.nodes])
        self.price = np.array([n.price for n in net.nodes])
        self.mono = np.array([p.queue == "mono" for p in nodes])
        # initial pipeline: period-0 entries are on hand at once, later ones arrive at k
        self.init_on_hand = np.array([n.initial_on_hand for n in net.nodes])
        self.init_pipeline = np.zeros(N)
        self.init_due: dict[int, list[tuple[int, float]]] = {}
        for i, n in enumerate(net.nodes):
            for k, q in enumerate(n.initial_pipeline):
                if q > 0:
                    self.init_pipeline[i] += q
                    if k:
                        self.init_due.setdefault(k, []).append((i, q))
        # review schedule: which stocking nodes decide in period t (a cycle of the lcm of periods)
        stock = net.stock_nodes
        self.cycle = math.lcm(*(n.review_period for n in stock)) if stock else 1
        self.deciding = np.array(
            [[n.reviews_at(t) for n in stock] for t in range(min(self.cycle, self.periods))],
            dtype=bool,
        )
        if not stock:
            self.deciding = np.zeros((1, 0), dtype=bool)
        self.stock_pos = {n: k for k, n in enumerate(self.stock)}
        self._single = np.eye(len(stock), dtype=bool)
        # accounting groups: nodes with one plain inbound edge (vectorised) and the rest
        one = [p for p in nodes if len(p.inbound) == 1 and p.simple]
        self.acc_one = np.array([p.i for p in one], dtype=np.int64)
        self.acc_one_edge = np.array([p.inbound[0].j for p in one], dtype=np.int64)
        self.acc_one_hold = np.array([p.inbound[0].edge.transit_holding_cost for p in one])
        self.acc_other = [p for p in nodes if p.inbound and not (len(p.inbound) == 1 and p.simple)]
        self.has_transit_cost = any(e.transit_holding_cost for e in net.edges)

    # -- a fresh run ---------------------------------------------------------------------------
    def reset(self, seeds: Sequence[SeedLike]) -> None:
        """Fresh state and draws for one replication per seed (no time passes)."""
        seeds = list(seeds)
        if not seeds:
            raise ValueError("a batch needs at least one seed")
        R, N, E = len(seeds), len(self.nodes), len(self.edges)
        self.R = R
        self.rows = np.arange(R)
        roots = [root_sequence(s) for s in seeds]
        self.seeds = roots
        self._streams(roots)
        H = 1
        for p in self.edges:
            lead = p.edge.lead_time
            bound = p.fixed_lead if p.fixed_lead is not None else lead.upper_bound
            H = max(H, int(bound) + 1 if math.isfinite(bound) else 1)
        self.H = H
        self.S = np.zeros((len(BATCH_FIELDS), N, R))
        self.S[ON_HAND] = self.init_on_hand[:, None]
        first = [
            n.initial_pipeline[0] if n.initial_pipeline and n.initial_pipeline[0] > 0 else 0.0
            for n in self.network.nodes
        ]
        self.S[RECEIVED] = np.array(first)[:, None]
        self.S[ON_HAND] += self.S[RECEIVED]
        self.ext_backlog = np.zeros((N, R))
        self.last_demand = np.zeros((N, R))
        self.owed = np.zeros((N, R))
        self.fifo = {p.i: _Fifo(R) for p in self.nodes if p.queue == "fifo"}
        self.cap_left = np.zeros((N, R))
        self.cap_left[self.limited_index] = self.limited_cap[:, None]
        self.fresh = np.zeros((N, R))  # this period's receipts, not shippable (ship-before-receipt)
        self.init_pending = np.array(
            [
                sum(q for k, q in enumerate(n.initial_pipeline) if k and q > 0)
                for n in self.network.nodes
            ],
            dtype=float,
        )
        self.transit = np.zeros((E, R))
        self.pending = np.zeros((E, R))
        self.buffer = np.zeros((E, R))
        self.last_arrival = np.zeros((E, R), dtype=np.int64)
        self.pipe = np.zeros((E, H, R))
        self.now_in = np.zeros((E, R))
        self.t = 0
        self.deciding_now = self.deciding_at(0)
        self._draw_block(0)
        self.done = False
        self.total_cost = np.zeros(R)
        self.total_revenue = np.zeros(R)

    def _streams(self, roots: list[np.random.SeedSequence]) -> None:
        """The event engine's generators: demand per demand node, lead time per stochastic edge."""
        self._demand_rngs = {
            p.i: [stream(r, "demand", p.node.name) for r in roots] for p in self.demand_nodes
        }
        self._lead_rngs = {
            p.j: [stream(r, "lead_time", p.edge.source, p.edge.target) for r in roots]
            for p in self.edges
            if p.fixed_lead is None
        }
        self.demand: dict[int, np.ndarray] = {}
        self.leads: dict[int, np.ndarray] = {}

    def _draw_block(self, b: int) -> None:
        """Draws of periods ``b * BLOCK, ...`` for every replication, as ``PeriodDraws`` makes
        them (one block at a time, in order: the same values as the event engine)."""
        start = b * BLOCK

        def block(dist: Any, rngs: list[np.random.Generator]) -> np.ndarray:
            """``[BLOCK, R]``: period-major, so that a period's draws are contiguous."""
            return np.stack([dist.sample(rng, start, BLOCK) for rng in rngs], axis=1)

        for p in self.demand_nodes:
            d = block(p.node.demand, self._demand_rngs[p.i])
            bad = np.isnan(d[: max(0, self.periods - start)])
            if bad.any():  # the event engine stops in that period with this error
                t = start + int(np.argmax(bad.any(axis=1)))
                raise ValueError(f"node {p.node.name!r}: demand trace has no value for period {t}")
            self.demand[p.i] = d
        for e in self.edges:
            if e.fixed_lead is None:
                lead = block(e.edge.lead_time, self._lead_rngs[e.j]).astype(np.int64)
                self.leads[e.j] = lead
                need = int(lead.max()) + 1
                if need > self.H:
                    self._grow_pipe(need)

    def _grow_pipe(self, H: int) -> None:
        """A longer ring (a lead time beyond the ones seen so far): due periods keep their place."""
        old, t = self.pipe, self.t
        self.pipe = np.zeros((old.shape[0], H, old.shape[2]))
        for k in range(self.H):
            self.pipe[:, (t + k) % H] = old[:, (t + k) % self.H]
        self.H = H

    # -- the period ----------------------------------------------------------------------------
    def deciding_at(self, t: int) -> np.ndarray:
        """Which stocking nodes (in ``stock`` order) review in period *t*."""
        return self.deciding[t % len(self.deciding)]

    def begin_period(self) -> None:
        """Receive phase (and demand phase under order-after-demand) of period ``self.t``."""
        t = self.t
        self.deciding_now = self.deciding_at(t)
        if t and t % BLOCK == 0:
            self._draw_block(t // BLOCK)
        if t:
            slot = t % self.H
            arrived = self.pipe[:, slot]
            self.transit -= arrived
            if self.instant:
                self.now_in += arrived
            else:  # nothing else arrives in a phase: now_in is this period's arrivals
                self.now_in[...] = arrived
            arrived[...] = 0.0
        for p in self.cap_supply:
            self.cap_left[p.i] = p.node.capacity
            self._fill_supply(t, p)
        self._settle(t, self.init_due.get(t, ()), receive=True)
        if self.demand_first:
            self._demand_phase(t)

    def decide(self, act: Any) -> None:
        """Decision phase of period ``self.t`` answered by *act* (``act(sim) -> [R, stock
        nodes]``): once for all deciding nodes, or under sequential decisions once per
        deciding node, downstream first, each after its customers' orders are placed.
        ``deciding_now`` tells *act* which nodes decide."""
        deciding = self.deciding_at(self.t)
        if not deciding.any():
            return
        if not self.sequential:
            self.deciding_now = deciding
            self.place_orders(act(self))
            return
        for p in self.deciders:
            k = self.stock_pos[p.node.name]
            if deciding[k]:
                self.deciding_now = self._single[k]
                self.place_orders(act(self))
        self.deciding_now = deciding

    def place_orders(self, orders: np.ndarray) -> None:
        """Place *orders* ``[R, stock nodes]`` of the nodes in ``deciding_now`` (others are
        ignored), then deliver what arrives at once."""
        t = self.t
        deciding = self.deciding_now
        S = self.S
        for p in self.deciders:
            k = self.stock_pos[p.node.name]
            if not deciding[k]:
                continue
            q = np.asarray(orders[:, k], dtype=float)
            if not (q.min() >= 0 and q.max() != math.inf):  # NaN fails the first test
                bad = q[~((q >= 0) & (q != math.inf))][0]
                raise DecisionError(
                    f"period {t}: order at node {p.node.name!r} must be a finite "
                    f"number >= 0, got {bad}"
                )
            node, i = p.node, p.i
            if self.whole:
                q = np.rint(q)
            asked = q
            cap = node.capacity
            if cap < math.inf:
                q = np.where(q > cap, math.floor(cap) if self.whole else cap, q)
            if node.storage_capacity < math.inf:
                room = np.maximum(0.0, node.storage_capacity - S[ON_HAND, i] - self._on_order(p))
                q = np.minimum(q, np.floor(room + EPS) if self.whole else room)
            if asked is not q:
                S[ORDER_CUT, i] += np.where(q < asked, asked - np.where(q > EPS, q, 0.0), 0.0)
            q = np.where(q > EPS, q, 0.0)
            S[ORDERED, i] += q
            if node.fixed_order_cost:
                S[FIXED, i] += node.fixed_order_cost * (q > 0)
            if node.order_cost:
                S[VARIABLE, i] += node.order_cost * q
            if p.rule is None or p.rule == "assembly":
                for e in p.inbound:
                    self._request(t, e, q * e.edge.bom)
            elif p.rule == "split":
                self._split(t, p, q)
            else:
                self._priority(t, p, q)
        if self.instant:
            self._settle(t, ())

    def end_period(self) -> None:
        """Demand phase (order-before-demand) and accounting of period ``self.t``; the ledger
        row of the period is then ``self.S``, until :meth:`next_period`."""
        if not self.demand_first:
            self._demand_phase(self.t)
        self._account()

    def next_period(self) -> None:
        """Clear the flows of the period just accounted and move to the next one."""
        S = self.S
        S[LOST] = 0.0
        S[ORDERED : SERVED + 1] = 0.0
        S[FIXED : VARIABLE + 1] = 0.0
        S[REVENUE:] = 0.0
        if len(self.limited_index):  # limited nodes: full capacity back, receipts shippable
            self.fresh[self.limited_index] = 0.0
            self.cap_left[self.limited_index] = self.limited_cap[:, None]
        self.t += 1
        self.done = self.t >= self.periods

    def period_totals(self) -> tuple[np.ndarray, np.ndarray]:
        """Cost and revenue ``[R]`` of the period just accounted (summed node by node as
        ``Simulation.total_cost`` is)."""
        S = self.S
        node_cost = S[HOLDING : TRANSIT + 1].sum(axis=0)
        cost, revenue = node_cost[0].copy(), S[REVENUE, 0].copy()
        for i in range(1, node_cost.shape[0]):
            cost += node_cost[i]
            revenue += S[REVENUE, i]
        return cost, revenue

    # -- orders and shipments --------------------------------------------------------------------
    def _split(self, t: int, p: _NodePlan, q: np.ndarray) -> None:
        shares = np.array([e.edge.share for e in p.inbound])
        parts = q[:, None] * shares
        if self.whole:  # largest remainder keeps the total
            whole = np.floor(parts)
            order = np.argsort(whole - parts, axis=1, kind="stable")
            rank = np.argsort(order, axis=1)
            extra = np.rint(q - whole.sum(axis=1)).astype(np.int64)
            parts = whole + (rank < extra[:, None])
        for k, e in enumerate(p.inbound):
            self._request(t, e, np.where(parts[:, k] > EPS, parts[:, k], 0.0))

    def _priority(self, t: int, p: _NodePlan, q: np.ndarray) -> None:
        left = q.copy()
        active = left > EPS
        last = len(p.inbound) - 1
        for k, e in enumerate(p.inbound):
            take = left if k == last else np.minimum(left, self._available(self.nodes[e.src]))
            take = np.where(active & (take > EPS), take, 0.0)
            self._request(t, e, take)
            left = left - take
            active &= left > EPS

    def _available(self, s: _NodePlan) -> np.ndarray:
        if s.supply:
            return self.cap_left[s.i] if s in self.cap_supply else np.full(self.R, math.inf)
        on_hand = self.S[ON_HAND, s.i]
        if s.limited:
            on_hand = np.maximum(0.0, np.minimum(on_hand - self.fresh[s.i], self.cap_left[s.i]))
        return np.where(self._nonempty(s), 0.0, on_hand) if s.queue != "none" else on_hand

    def _nonempty(self, s: _NodePlan) -> np.ndarray:
        return self.owed[s.i] > 0 if s.queue == "mono" else self.fifo[s.i].nonempty()

    def _request(self, t: int, e: _EdgePlan, q: np.ndarray) -> None:
        """A downstream order of *q* units on edge *e*: ship now, backlog or lose the rest."""
        if not q.any():
            return
        s = self.nodes[e.src]
        S, i = self.S, s.i
        if s.supply:
            if s.node.capacity < math.inf:
                x = np.minimum(q, self.cap_left[i])
                self.cap_left[i] -= x
                S[CAPACITY_SHORT, i] += q - x
            else:  # unlimited: everything ships, nothing is owed
                S[RECEIVED, i] += q
                self._ship(t, e, np.where(q > EPS, q, 0.0))
                return
            S[RECEIVED, i] += x
        else:
            free = None if s.queue == "none" else ~self._nonempty(s)
            if s.limited:  # only what it held at the start (ship-before-receipt), up to capacity
                x = np.minimum(q, S[ON_HAND, i] - self.fresh[i])
                y = np.minimum(x, self.cap_left[i])
                if free is not None:
                    x, y = np.where(free, x, 0.0), np.where(free, y, 0.0)
                S[CAPACITY_SHORT, i] += x - y
                self.cap_left[i] -= y
                x = y
            else:
                x = np.minimum(q, S[ON_HAND, i])
                if free is not None:
                    x = np.where(free, x, 0.0)
            S[ON_HAND, i] -= x
        self._ship(t, e, np.where(x > EPS, x, 0.0))
        rest = q - x
        more = rest > EPS
        if not more.any():
            return
        rest = np.where(more, rest, 0.0)
        if s.lost or s.queue == "none":
            S[LOST, i] += rest
            return
        S[BACKLOG, i] += rest
        self.pending[e.j] += rest
        self._enqueue(s, e.slot, rest, more)

    def _enqueue(self, s: _NodePlan, slot: int, amount: np.ndarray, mask: np.ndarray) -> None:
        if s.queue == "mono":
            self.owed[s.i] += amount
        else:
            self.fifo[s.i].append(slot, amount, mask)

    def _ship(self, t: int, e: _EdgePlan, x: np.ndarray) -> None:
        """Ship *x* (0 where nothing ships) on edge *e* in period *t*."""
        S = self.S
        S[SHIPPED, e.src] += x
        if e.edge.unit_cost:
            S[VARIABLE, e.tgt] += e.edge.unit_cost * x
        j = e.j
        if e.fixed_lead is not None:
            if e.fixed_lead == 0:
                self.now_in[j] += x
            else:
                self.transit[j] += x
                self.pipe[j, (t + e.fixed_lead) % self.H] += x
            return
        due = t + self.leads[j][t % BLOCK]
        if e.edge.sequential:
            due = np.maximum(due, self.last_arrival[j])
            self.last_arrival[j] = np.where(x > EPS, due, self.last_arrival[j])
        now = due == t
        if now.any():
            self.now_in[j] += np.where(now, x, 0.0)
            x = np.where(now, 0.0, x)
        self.transit[j] += x
        self.pipe[j, due % self.H, self.rows] += x

    def _settle(self, t: int, initial: Any, receive: bool = False) -> None:
        """Deliver what reached its target in this phase (``now_in``) and the initial pipeline
        due now, node by node upstream first; shipments with lead time 0 go on downstream."""
        init = dict(initial) if initial else None
        S = self.S
        for p in self.topo:
            i = p.i
            if p.simple:
                if len(p.inbound) == 1:
                    j = p.inbound[0].j
                    q = self.now_in[j]
                    if self.instant:  # (otherwise nothing is added before the next period)
                        q = q.copy()
                        self.now_in[j] = 0.0
                else:
                    cols = [e.j for e in p.inbound]
                    q = self.now_in[cols].sum(axis=0)
                    self.now_in[cols] = 0.0
                if init and i in init:
                    self.init_pending[i] -= init[i]
                    q = q + init[i]
                S[RECEIVED, i] += q
                self._stock_in(t, p, q, receive)
                continue
            cols = [e.j for e in p.inbound]
            self.buffer[cols] += self.now_in[cols]
            self.now_in[cols] = 0.0
            kits = (self.buffer[cols] / p.bom[:, None]).min(axis=0)
            if self.whole:
                kits = np.floor(kits + EPS)
            kits = np.where(kits > EPS, kits, 0.0)
            self.buffer[cols] = np.maximum(0.0, self.buffer[cols] - kits[None, :] * p.bom[:, None])
            if init and i in init:
                self.init_pending[i] -= init[i]
                kits = kits + init[i]
            S[RECEIVED, i] += kits
            self._stock_in(t, p, kits, receive)

    def _stock_in(self, t: int, p: _NodePlan, q: np.ndarray, receive: bool = False) -> None:
        """Units arrive at *p*: fill its backlog first come first served, then stock (a limited
        node: stock, then it works off its backlog; in the receive phase even without
        arrivals, its capacity being back)."""
        S, i = self.S, p.i
        if p.limited:
            S[ON_HAND, i] += q
            if self.ship_first:
                self.fresh[i] += q
            if p.queue != "none" and (receive or q.any()):
                self._work_off(t, p)
            return
        if p.queue == "none":
            S[ON_HAND, i] += q
            return
        if not q.any():
            return
        if p.queue == "mono":
            owed = self.owed[i]
            x = np.minimum(q, owed)
            if not self.whole:
                x = np.where(q > EPS, x, 0.0)
            owed -= x
            if not self.whole:
                owed[owed <= EPS] = 0.0
            S[ON_HAND, i] += q - x
            self._served(t, p, p.slots[0], x)
            return
        got = self.fifo[i].fill(q, len(p.slots))
        S[ON_HAND, i] += q - got.sum(axis=1)
        for k, slot in enumerate(p.slots):
            self._served(t, p, slot, got[:, k])

    def _work_off(self, t: int, p: _NodePlan) -> None:
        """A limited node works off its backlog first come first served: external entries from
        all stock on hand, downstream ones from shippable stock within the capacity left;
        it stops at the first entry it cannot fill completely."""
        S, i = self.S, p.i
        on_hand, fresh, cap = S[ON_HAND, i], self.fresh[i], self.cap_left[i]
        if p.queue == "mono":
            slot = p.slots[0]
            owed = self.owed[i]
            avail = on_hand if slot is None else np.minimum(on_hand - fresh, cap)
            x = np.minimum(owed, avail)
            x = np.where(x > EPS, x, 0.0)
            owed -= x
            owed[owed <= EPS] = 0.0
            on_hand -= x
            if slot is None:
                np.maximum(0.0, fresh - x, out=fresh)
            else:
                cap -= x
            self._served(t, p, slot, x)
            return
        f = self.fifo[i]
        got = np.zeros((self.R, len(p.slots)))
        active = f.n > 0
        while active.any():
            units, code = f.units[:, 0], f.code[:, 0]
            ext = code == p.ext_slot
            x = np.minimum(units, np.where(ext, on_hand, np.minimum(on_hand - fresh, cap)))
            ok = active & (x > EPS)
            x = np.where(ok, x, 0.0)
            on_hand -= x
            fresh[...] = np.where(ext & ok, np.maximum(0.0, fresh - x), fresh)
            cap -= np.where(ext, 0.0, x)
            for k in range(len(p.slots)):
                got[:, k] += np.where(code == k, x, 0.0)
            left = units - x
            full = ok & (left <= EPS)
            f.units[:, 0] = np.where(ok & ~full, left, units)
            f.pop_front(full)
            active = full & (f.n > 0)
        for k, slot in enumerate(p.slots):
            self._served(t, p, slot, got[:, k])

    def _served(self, t: int, p: _NodePlan, slot: Any, x: np.ndarray) -> None:
        """*x* units of *p*'s backlog reached customer *slot* (an edge, or external demand)."""
        if not x.any():
            return
        S, i = self.S, p.i
        S[BACKLOG, i] -= x
        if slot is None:
            self.ext_backlog[i] -= x
            S[SALES, i] += x
            if p.node.price:
                S[REVENUE, i] += x * p.node.price
        else:
            self.pending[slot.j] -= x
            self._ship(t, slot, x)

    def _fill_supply(self, t: int, p: _NodePlan) -> None:
        if p.queue == "none":
            return
        i = p.i
        cap = self.cap_left[i]
        if p.queue == "mono":
            owed = self.owed[i]
            x = np.where(cap > EPS, np.minimum(owed, cap), 0.0)
            owed -= x
            owed[owed <= EPS] = 0.0
            got = x[:, None]
        else:
            got = self.fifo[i].fill(cap, len(p.slots))
            x = got.sum(axis=1)
        cap -= x
        self.S[RECEIVED, i] += x
        for k, slot in enumerate(p.slots):
            self.S[BACKLOG, i] -= got[:, k]
            self.pending[slot.j] -= got[:, k]
            self._ship(t, slot, got[:, k])

    def _demand_phase(self, t: int) -> None:
        S = self.S
        for p in self.demand_nodes:
            i = p.i
            d = self.demand[i][t % BLOCK]
            S[DEMAND, i] += d
            self.last_demand[i] = d
            x = np.minimum(d, S[ON_HAND, i])
            if p.queue != "none":
                x = np.where(self._nonempty(p), 0.0, x)
            S[ON_HAND, i] -= x
            if p.limited and self.ship_first:  # external sales take this period's receipts first
                np.maximum(0.0, self.fresh[i] - x, out=self.fresh[i])
            S[SERVED, i] += x
            S[SALES, i] += x
            if p.node.price:
                S[REVENUE, i] += x * p.node.price
            rest = d - x
            more = rest > EPS
            rest = np.where(more, rest, 0.0)
            if p.lost:
                S[LOST, i] += rest
            else:
                S[BACKLOG, i] += rest
                self.ext_backlog[i] += rest
                self._enqueue(p, p.ext_slot, rest, more)

    def _account(self) -> None:
        S = self.S
        np.multiply(self.h[:, None], S[ON_HAND], out=S[HOLDING])
        owed = (
            S[LOST]
            if self.lost_rule.all()
            else S[BACKLOG]
            if not self.lost_rule.any()
            else np.where(self.lost_rule[:, None], S[LOST], S[BACKLOG])
        )
        np.multiply(self.p[:, None], owed, out=S[SHORTAGE])
        units = S[IN_TRANSIT]
        units[...] = self.init_pending[:, None]
        S[TRANSIT] = 0.0
        if len(self.acc_one):
            pipe = self.transit[self.acc_one_edge]
            if self.has_transit_cost:
                S[TRANSIT][self.acc_one] = self.acc_one_hold[:, None] * pipe
            units[self.acc_one] = self.init_pending[self.acc_one][:, None] + pipe
        for p in self.acc_other:
            cols = [e.j for e in p.inbound]
            pipe = self.transit[cols] + self.buffer[cols]
            cost = 0.0
            for k, e in enumerate(p.inbound):
                cost = cost + e.edge.transit_holding_cost * pipe[k]
            S[TRANSIT, p.i] = cost
            if p.simple:
                u = self.init_pending[p.i]
                for k in range(len(cols)):
                    u = u + pipe[k] / p.bom[k]
                units[p.i] = u
            else:
                units[p.i] = self.init_pending[p.i] + (pipe / p.bom[:, None]).min(axis=0)

    # -- what policies see -----------------------------------------------------------------------
    def _on_order(self, p: _NodePlan) -> np.ndarray:
        """Units ordered by *p* and not yet in its stock, as ``Observation.on_order``."""
        inbound = p.inbound
        if len(inbound) == 1 and p.simple:
            j = inbound[0].j
            return self.transit[j] + self.pending[j] + self.init_pending[p.i]
        cols = [e.j for e in inbound]
        if not p.simple:
            return self.init_pending[p.i] + (
                (self.transit[cols] + self.pending[cols] + self.buffer[cols]) / p.bom[:, None]
            ).min(axis=0)
        total = 0.0
        for e in inbound:
            total = total + (self.transit[e.j] + self.pending[e.j]) / e.edge.bom
        return self.init_pending[p.i] + total

    def on_order(self) -> np.ndarray:
        """``[R, stock nodes]``: units on order per stocking node."""
        return self._on_orders().T

    def _on_orders(self) -> np.ndarray:
        out = np.empty((len(self.stock_index), self.R))
        for k, i in enumerate(self.stock_index):
            out[k] = self._on_order(self.nodes[i])
        return out

    def inventory_position(self) -> np.ndarray:
        """``[R, stock nodes]``: on hand - backlog + on order."""
        idx = self.stock_index
        return (self.S[ON_HAND][idx] - self.S[BACKLOG][idx] + self._on_orders()).T

    def echelon_inventory_position(self) -> np.ndarray:
        """``[R, stock nodes]``, as ``Observation.echelon_inventory_position``."""
        out = np.empty((len(self.stock), self.R))
        S = self.S
        for k, name in enumerate(self.stock):
            members = self.network.echelon(name)
            inside = set(members)
            total = 0.0
            for m in members:
                p = self.nodes[self.index[m]]
                i = p.i
                total = total + (S[ON_HAND, i] - self.ext_backlog[i] + self.init_pending[i])
                for e in p.inbound:
                    x = (
                        self.transit[e.j]
                        + self.buffer[e.j]
                        + (self.pending[e.j] if e.edge.source not in inside else 0.0)
                    )
                    total = total + x / e.edge.bom
            out[k] = total
        return out.T

    def pipeline(self, node: str, n: int, t: int | None = None) -> np.ndarray:
        """``[R, n]``: units reaching *node*'s stock at the start of periods t+1..t+n (as
        ``Observation.pipeline``; for assembly the complete kits they make up)."""
        t = self.t if t is None else t
        p = self.nodes[self.index[node]]
        init = {k: q for k, q in enumerate(p.node.initial_pipeline) if k and q > 0}
        due = np.zeros((self.R, len(p.inbound), n))
        for k in range(1, n + 1):
            if k < self.H:
                for c, e in enumerate(p.inbound):
                    due[:, c, k - 1] = self.pipe[e.j, (t + k) % self.H]
        initial = np.array([init.get(t + k, 0.0) for k in range(1, n + 1)])
        if p.simple:
            total: float | np.ndarray = 0.0
            for c in range(len(p.inbound)):
                total = total + due[:, c, :]
            return initial + total
        have = self.buffer[[e.j for e in p.inbound]].T.copy()
        kits = (have / p.bom).min(axis=1)
        out = np.empty((self.R, n))
        for k in range(n):
            have = have + due[:, :, k]
            more = (have / p.bom).min(axis=1)
            out[:, k] = initial[k] + more - kits
            kits = more
        return out

    # -- results --------------------------------------------------------------------------------
    def ledgers(self, records: np.ndarray) -> list[Ledger]:
        """One ledger per replication from records ``[periods, fields, nodes, R]``."""
        init = self.init_on_hand
        out = []
        for r in range(self.R):
            data = {
                f: np.ascontiguousarray(records[:, k, :, r]) for k, f in enumerate(BATCH_FIELDS)
            }
            out.append(
                Ledger(
                    self.node_names, data, self.objective, init.copy(), self.init_pipeline.copy()
                )
            )
        return out

    def run(self, policy: Any, *, record: bool = False, warmup: int = 0) -> BatchRun:
        """Simulate the whole horizon answering every epoch from *policy* (a vectorised
        policy: :func:`des_supply.batch_policies.vectorise` of a policy, or anything with
        ``act_batch(sim) -> [R, stock nodes]``)."""
        from .batch_policies import vectorise

        if self.t:  # a second run starts again from the same seeds
            self.reset(self.seeds)
        act = vectorise(policy, self.network)
        if act is None:
            raise TypeError(f"policy {type(policy).__name__} has no vectorised version")
        if not 0 <= warmup < self.periods:
            raise ValueError(f"warmup(={warmup}) must be in [0, periods={self.periods})")
        T, R, N = self.periods, self.R, len(self.nodes)
        S = self.S
        records = np.empty((T, len(BATCH_FIELDS), N, R)) if record else None
        sums = np.zeros((len(BATCH_FIELDS), N, R))
        counted = slice(ON_HAND, SERVED + 1)  # the fields simulate sums (and revenue below)
        by_rows = N > 8  # up to 8 nodes numpy adds them one after the other either way
        node_cost = np.zeros((N, R))
        in_stock = np.zeros((N, R), dtype=np.int64)
        series = np.empty((R, T - warmup))
        profit = self.objective == "profit"
        has_deciders = len(self.stock) > 0
        with np.errstate(over="ignore", invalid="ignore"):  # overflow: inf, as with Python floats
            for t in range(T):
                self.begin_period()
                if has_deciders:
                    self.decide(act)
                self.end_period()
                if records is not None:
                    records[t] = S
                if t >= warmup:
                    sums[counted] += S[counted]
                    sums[REVENUE] += S[REVENUE]
                    cost = S[HOLDING : TRANSIT + 1].sum(axis=0)  # field by field, as Ledger.cost()
                    node_cost += cost
                    in_stock += S[SERVED] >= S[DEMAND] - 1e-9
                    # node sums as Ledger.cost() makes them (rows of nodes, numpy's pairwise sum)
                    total = (
                        np.ascontiguousarray(cost.T).sum(axis=1) if by_rows else cost.sum(axis=0)
                    )
                    if profit:
                        revenue = (
                            np.ascontiguousarray(S[REVENUE].T).sum(axis=1)
                            if by_rows
                            else S[REVENUE].sum(axis=0)
                        )
                        total = revenue - total
                    series[:, t - warmup] = total
                self.next_period()
        self.done = True
        return BatchRun(
            self.objective,
            T,
            warmup,
            self.ledgers(records) if records is not None else [],
            np.ascontiguousarray(sums.transpose(0, 2, 1)),
            node_cost.T.copy(),
            in_stock.T.copy(),
            series,
        )
