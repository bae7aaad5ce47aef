"""A multi-period MIP over any engine network (Pyomo + HiGHS), mirroring ``des_supply.sim``.

:func:`build_network_model` turns a :class:`~des_supply.network.Network`, a demand
path per demand node and a lead time per edge and period into a Pyomo model whose
periods run exactly like the engine's (see the ``des_supply.sim`` docstring):

* **receive** -- shipments due at t arrive (and initial-pipeline units); a node
  fills its backlog before stocking; assembly nodes turn complete kits into stock;
  capacitated suppliers work off their queue;
* **order** (``order-before-demand``; after the demand phase with
  ``order-after-demand``) -- each node requests ``bom * x`` on its supply edges
  (downstream nodes first), the supplier ships what it can and backlogs or loses
  the rest by its own rule; a shipment leaving edge e in period t arrives in
  period ``t + L_e(t)`` (at once when ``L_e(t) = 0``);
* **demand** -- external demand is met from stock; the rest is backlogged or lost;
* **account** -- exactly :meth:`des_supply.sim.Simulation._account`: holding on
  end-of-period stock, backlog penalty on units owed at period end (external and
  downstream) or lost-sales penalty on units lost in the period (external demand
  and downstream requests), the fixed cost per order placed, ``order_cost`` per
  unit ordered plus the edge's ``unit_cost`` per unit shipped on it, and the edge's
  ``transit_holding_cost`` on units in transit or waiting in an assembly buffer at
  period end; capacitated suppliers pay their own shortage cost.

Variables (per period t): ``x[n,t]`` orders (integer unless ``integer=False``),
``I[n,t]`` on hand, ``Bx[n,t]`` external backlog, ``sales[n,t]``, ``s[u,v,t]``
units shipped on an edge, ``P[u,v,t]`` units the source owes the target,
``s0[u,v,t]`` zero-lead shipments made from the backlog in the receive phase,
``buf``/``kits`` for assembly, ``y[n,t]`` order indicators (fixed cost or
storage capacity).  Demand ``d[n,t]``, the lead times (as 0/1 arrival indicators
``a[u,v,t,l]`` over a window ``lo..hi``), the starting state, review flags and
all big-M values are mutable ``Param``\\ s: :func:`update_network_model` loads new
data and a persistent HiGHS re-solve pushes only the changes.

**Engine behaviour as constraints** (``exact=True``).  The engine's rules are
"ship as much as you can": a node never keeps stock while it owes units, a
lost-sales node serves as much as it has, an assembly node assembles every
complete kit, a capacitated supplier uses all its capacity while it has a queue.
A cost-minimising model would not always do so (it may prefer to keep stock
upstream), so these are enforced with binaries and big-M values.  With
``exact=False`` they are dropped: a pure relaxation, faster, still a valid bound.

**Relaxations** (each enlarges the feasible set, so every engine run is still a
feasible point with the same cost and the optimum stays a lower bound):

* ``split`` and ``priority`` supply rules become free sourcing: any non-negative
  split of the order among the node's suppliers (the engine's split and priority
  choices are two such splits);
* first-come-first-served allocation of a node's stock among its customers
  (external demand and several downstream nodes) becomes free allocation; only
  the total shipped is fixed by the rules above;
* receive-phase shipments on zero-lead edges (from a backlog, ``s0``) may be up to
  what was owed and what the source had in that phase, in any order among its
  customers (exactly ``min(owed, available)`` when the source has one customer
  and no external demand);
* storage capacity at assembly nodes uses on hand only (not units on order).

So the model's optimum is a lower bound on the cost of every plan (see the
caveat on big-M below), and on a network where no node serves more than one
customer (external demand or one downstream node) and no node uses split or
priority sourcing -- single stage, serial, assembly, the beer game -- the model's
flows *are* the engine's flows: the model prices any plan exactly as the
engine's ledger does.  The tests check this to 1e-6 on random plans (played in
the engine, then pinned with :func:`fix_plan`) for both timings, backlog and lost
sales at every node, fixed costs, capacities, storage, review periods, initial
pipelines, capacitated suppliers, zero and positive lead times and assembly with
``bom`` 1 and 2.  On other networks a plan may cost more in the engine than in
the model, never less.

**Integer orders.**  The engine rounds orders (and cuts them to capacity and
storage room in whole units) unless ``network.continuous``; ``integer=None``
follows it.  ``integer=False`` (continuous
orders and kits) is a relaxation and still a valid bound.

**Big-M and a caveat.**  A node's orders over the horizon are bounded by
``need(n) = demand and backlog at n + units already upstream of n + sum over
customers v of (units owed to v + bom * need(v))`` (and by ``capacity`` per
period).  Units already in the system may be worth moving (for example into
cheaper transit: the beer game's transit is free), so all of them count; *new*
units from external suppliers beyond what the echelon's demand and backlogs can
absorb are assumed never to lower the cost (costs are non-negative), and plans
ordering more than ``need`` are excluded.  Sequential (no-crossing) edges use
``max_{t' <= t}(t' + L(t'))`` as the arrival period of a shipment sent in t: exact
when the edge ships every period, later than the engine otherwise (then the
bound is not guaranteed).  Revenue (``price``) is not modelled: the objective is
the ledger's cost.

:func:`perfect_information_bound` regenerates the engine's demand and lead-time
draws for a seed (or replication) and solves; :class:`RollingHorizonPolicy` is an
engine policy that re-solves the model from the observed state with forecast
demand and mean lead times.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import networkx as nx
import numpy as np
import pyomo.environ as pyo

from des_supply.distributions import Distribution
from des_supply.network import Network
from des_supply.rng import PeriodDraws, SeedLike, replication_seed, root_sequence, stream

from .solve import SolveReport, new_solver, solve

__all__ = [
    "NetworkState", "build_network_model", "update_network_model", "engine_draws",
    "BoundResult", "perfect_information_bound", "plan_of", "fix_plan", "PlanPolicy",
    "RollingHorizonPolicy", "forecast_mean", "model_size", "longest_lead_path",
    "state_from_observation",
]

Key = tuple[str, str]


# -- data --------------------------------------------------------------------------------------
@dataclass
class NetworkState:
    """Where the network stands at the start of model period 0, before its receive phase.

    Units are node units for nodes and source units for edges.  ``in_transit[e][k]``
    arrives at the start of model period k (k >= 0; k past the horizon stays in
    transit, charged transit holding); ``node_arrivals[n][k]`` are initial-pipeline
    units, which arrive without an edge (no transit cost; on order until they arrive).
    """

    on_hand: dict[str, float] = field(default_factory=dict)
    external_backlog: dict[str, float] = field(default_factory=dict)
    pending: dict[Key, float] = field(default_factory=dict)       # owed by source to target
    in_transit: dict[Key, dict[int, float]] = field(default_factory=dict)
    buffer: dict[Key, float] = field(default_factory=dict)        # assembly buffers
    node_arrivals: dict[str, dict[int, float]] = field(default_factory=dict)
    capacity_left: dict[str, float] = field(default_factory=dict)  # supply nodes, period 0

    @classmethod
    def initial(cls, network: Network) -> "NetworkState":
        """The engine's state before period 0 (``initial_on_hand`` and ``initial_pipeline``)."""
        st = cls()
        for n in network.stock_nodes:
            pipe = n.initial_pipeline
            st.on_hand[n.name] = n.initial_on_hand + (pipe[0] if pipe else 0.0)
            st.node_arrivals[n.name] = {k: q for k, q in enumerate(pipe) if k >= 1 and q > 0}
        return st


def engine_draws(network: Network, periods: int, seed: SeedLike = 0,
                 replication: int | None = None
                 ) -> tuple[dict[str, np.ndarray], dict[Key, np.ndarray]]:
    """The demand and lead-time draws the engine uses for *seed* (or replication k).

    Same streams as ``Simulation``: ``stream(root, "demand", n)`` and
    ``stream(root, "lead_time", u, v)`` read through :class:`PeriodDraws`, with
    ``root = root_sequence(seed)`` or ``replication_seed(seed, k)``.
    """
    root = root_sequence(seed) if replication is None else replication_seed(seed, replication)
    demand = {n.name: np.array([d.at(t) for t in range(periods)])
              for n in network.demand_nodes
              for d in [PeriodDraws(n.demand, stream(root, "demand", n.name))]}
    leads = {e.key: np.array([int(d.at(t)) for t in range(periods)], dtype=int)
             for e in network.edges
             for d in [PeriodDraws(e.lead_time, stream(root, "lead_time", e.source, e.target))]}
    return demand, leads


def forecast_mean(dist: Distribution, start: int, n: int) -> np.ndarray:
    """A deterministic forecast of periods ``start .. start+n-1``: ``dist.forecast(start, n)``."""
    return dist.forecast(start, n)


class _Structure:
    """What the model was built from (plain Python, kept on the model as ``m._net``)."""

    def __init__(self, network: Network, horizon: int, integer: bool, exact: bool,
                 window: dict[Key, tuple[int, int]]) -> None:
        self.network, self.horizon, self.integer, self.exact = network, horizon, integer, exact
        self.window = window
        self.oad = network.order_timing == "order-after-demand"
        G = network.graph()
        index = {n.name: i for i, n in enumerate(network.nodes)}
        self.topo = list(nx.lexicographical_topological_sort(G, key=index.__getitem__))
        self.stock = [n.name for n in network.stock_nodes]
        self.supply = [n.name for n in network.nodes if n.kind == "supply"]
        self.node = {n.name: n for n in network.nodes}
        self.edge = {e.key: e for e in network.edges}
        self.inbound = {n: [e.key for e in network.suppliers(n)] for n in self.node}
        self.outbound = {n: [e.key for e in network.customers(n)] for n in self.node}
        self.demand_nodes = [n.name for n in network.demand_nodes]
        self.rule = {n: (self.node[n].supply_rule if len(self.inbound[n]) > 1 else None)
                     for n in self.stock}
        self.simple = {n: self.rule[n] != "assembly" and all(self.edge[k].bom == 1
                                                            for k in self.inbound[n])
                       for n in self.stock}
        self.free = {n: self.rule[n] in ("split", "priority") for n in self.stock}


def _lead_rows(struct: _Structure, lead_times: Mapping[Key, Any] | None) -> dict[Key, list[int]]:
    """Per edge, the arrival offset of a shipment sent in each model period."""
    H = struct.horizon
    rows: dict[Key, list[int]] = {}
    for key, e in struct.edge.items():
        raw = None if lead_times is None else lead_times.get(key)
        if raw is None:
            row = [int(round(e.lead_time.mean))] * H
        elif np.ndim(raw) == 0:
            row = [int(raw)] * H
        else:
            raw = list(raw)
            if len(raw) < H:
                raise ValueError(f"edge {key[0]!r}->{key[1]!r}: {len(raw)} lead times for a "
                                 f"horizon of {H} periods")
            row = [int(v) for v in raw[:H]]
        if min(row) < 0:
            raise ValueError(f"edge {key[0]!r}->{key[1]!r}: lead times must be >= 0")
        if e.sequential:  # no crossing: due = running max of t' + L(t') (see module docstring)
            due = np.maximum.accumulate(np.arange(H) + np.asarray(row))
            row = [int(v) for v in due - np.arange(H)]
        rows[key] = row
    return rows


def _demand_rows(struct: _Structure,
                 demand: Mapping[str, Sequence[float]]) -> dict[str, np.ndarray]:
    H = struct.horizon
    unknown = sorted(set(demand) - set(struct.demand_nodes))
    if unknown:
        raise ValueError(f"demand given for node(s) {', '.join(map(repr, unknown))} that have no "
                         f"external demand (demand nodes: {', '.join(struct.demand_nodes)})")
    out = {}
    for n in struct.demand_nodes:
        row = np.asarray(demand.get(n, np.zeros(H)), dtype=float)
        if row.ndim == 0:
            row = np.full(H, float(row))
        if len(row) < H:
            raise ValueError(f"node {n!r}: {len(row)} demand values for a horizon of {H} periods")
        row = row[:H]
        if not np.all(np.isfinite(row)) or np.any(row < 0):
            raise ValueError(f"node {n!r}: demand must be finite and >= 0")
        out[n] = row
    return out


# -- the model ----------------------------------------------------------------------------------
def build_network_model(network: Network, demand: Mapping[str, Sequence[float]],
                        lead_times: Mapping[Key, Any] | None, horizon: int,
                        initial_state: NetworkState | None = None, *, integer: bool | None = None,
                        exact: bool = True,
                        lead_window: Mapping[Key, tuple[int, int]] | None = None,
                        start: int = 0) -> pyo.ConcreteModel:
    """The multi-period network model (see the module docstring) [x, I, s, P, d, L].

    Parameters
    ----------
    demand : mapping node -> sequence
        External demand of each demand node in model periods 0..horizon-1 (missing: 0).
    lead_times : mapping (source, target) -> int or sequence, or None
        Lead time of a shipment leaving the edge in each period; missing edges (or
        None) use the rounded mean of the edge's distribution.
    initial_state : NetworkState, optional
        Default: :meth:`NetworkState.initial` (the engine's period-0 state).
    integer : bool, optional
        Integer orders (and kits); default ``not network.continuous`` like the engine.
    exact : bool
        Enforce the engine's "ship as much as you can" rules with binaries.
    lead_window : mapping (source, target) -> (lo, hi), optional
        Lead times the model must accept in later updates (default: those given).
    start : int
        Engine period of model period 0 (review periods).
    """
    if not float(horizon).is_integer() or horizon < 1:
        raise ValueError(f"horizon(={horizon}) must be a positive integer")
    H = int(horizon)
    integer = (not network.continuous) if integer is None else bool(integer)
    probe = _Structure(network, H, integer, exact, {})
    leads = _lead_rows(probe, lead_times)
    window = {}
    for key, row in leads.items():
        lo, hi = min(row), max(row)
        if lead_window and key in lead_window:
            lo, hi = min(lo, int(lead_window[key][0])), max(hi, int(lead_window[key][1]))
        window[key] = (lo, hi)
    S = _Structure(network, H, integer, exact, window)
    node, edge = S.node, S.edge

    m = pyo.ConcreteModel(name=f"network-mip[{network.name}]")
    m._net = S
    m.T = pyo.RangeSet(0, H - 1)
    # -- sets -------------------------------------------------------------------------------
    backlog = [n for n in S.stock if node[n].shortage == "backlog"]
    lost = [n for n in S.stock if node[n].shortage == "lost"]
    capsup = [u for u in S.supply if math.isfinite(node[u].capacity)]
    m.N = pyo.Set(initialize=S.stock, ordered=True)
    m.NB = pyo.Set(within=m.N, initialize=backlog, ordered=True)
    m.NL = pyo.Set(within=m.N, initialize=lost, ordered=True)
    m.ND = pyo.Set(within=m.N, initialize=S.demand_nodes, ordered=True)
    m.NDB = pyo.Set(within=m.ND, initialize=[n for n in S.demand_nodes if n in backlog])
    m.NDL = pyo.Set(within=m.ND, initialize=[n for n in S.demand_nodes if n in lost])
    m.UC = pyo.Set(initialize=capsup, ordered=True)
    keys = list(edge)
    is_stock = set(S.stock)
    pend = [k for k in keys
            if k[0] in backlog or (k[0] in capsup and node[k[0]].shortage == "backlog")]
    m.E = pyo.Set(dimen=2, initialize=keys, ordered=True)
    m.EP = pyo.Set(dimen=2, within=m.E, initialize=pend, ordered=True)
    m.E0 = pyo.Set(dimen=2, within=m.E, initialize=[k for k in pend if window[k][0] == 0],
                   ordered=True)
    m.EA = pyo.Set(dimen=2, within=m.E, initialize=[k for k in keys if not S.simple[k[1]]],
                   ordered=True)
    m.EF = pyo.Set(dimen=2, within=m.E, initialize=[k for k in keys if S.free[k[1]]], ordered=True)
    m.EL = pyo.Set(dimen=2, within=m.E, initialize=[k for k in keys if k[0] in lost or (
        k[0] in capsup and node[k[0]].shortage == "lost")], ordered=True)
    m.EU = pyo.Set(dimen=2, within=m.E, initialize=[k for k in keys if k[0] in S.supply
                                                    and k[0] not in capsup], ordered=True)
    m.NA = pyo.Set(within=m.N, initialize=[n for n in S.stock if not S.simple[n]], ordered=True)
    m.NY = pyo.Set(within=m.N, initialize=[n for n in S.stock if node[n].fixed_order_cost > 0
                                           or math.isfinite(node[n].storage_capacity)])
    m.NS = pyo.Set(within=m.N, initialize=[n for n in S.stock
                                           if math.isfinite(node[n].storage_capacity)])
    m.NR = pyo.Set(within=m.N, initialize=[n for n in S.stock if node[n].review_period > 1])
    has_cust = {n: any(k[1] in is_stock for k in S.outbound[n]) for n in S.stock}
    m.NZ = pyo.Set(within=m.N, initialize=[n for n in backlog if exact and has_cust[n]])
    m.NQ1 = pyo.Set(within=m.N, initialize=[n for n in lost if exact and has_cust[n]])
    m.NQ2 = pyo.Set(within=m.N, initialize=[n for n in lost if exact and has_cust[n]
                                            and n in S.demand_nodes])
    m.NW = pyo.Set(within=m.N, initialize=[n for n in m.NA if exact and len(S.inbound[n]) > 1])
    # assembly nodes with zero-lead inbound edges: kits of the receive phase (available
    # to customers' requests) and of the order phase are told apart
    m.NA0 = pyo.Set(within=m.NA, initialize=[n for n in m.NA if any(
        window[k][0] == 0 for k in S.inbound[n])], ordered=True)
    # zero-lead edges from a source with one customer and no external demand: the
    # receive-phase shipment from its backlog is exactly min(owed, available)
    m.E0X = pyo.Set(dimen=2, within=m.E0, initialize=[k for k in m.E0 if exact and len(
        S.outbound[k[0]]) == 1 and k[0] not in S.demand_nodes], ordered=True)
    m.EA0 = pyo.Set(dimen=2, within=m.EA, initialize=[k for k in m.EA if k[1] in m.NA0],
                    ordered=True)
    m.ELT = pyo.Set(dimen=4, initialize=[(u, v, t, lag) for (u, v) in keys for t in range(H)
                                         for lag in range(window[u, v][0], window[u, v][1] + 1)])
    m.EGT = pyo.Set(dimen=4, initialize=[(u, v, t, k) for (u, v) in keys for t in range(H)
                                         for k in range(window[u, v][1])])

    # -- mutable data -----------------------------------------------------------------------
    mut = dict(mutable=True, initialize=0.0, within=pyo.Reals)
    m.d = pyo.Param(m.ND, m.T, **mut)                 # external demand
    m.a = pyo.Param(m.ELT, **mut)                     # 1 if a shipment sent in t arrives in t+l
    m.g = pyo.Param(m.EGT, **mut)                     # 1 if one sent in t is in transit at t+k
    m.arr0 = pyo.Param(m.E, m.T, **mut)               # earlier shipments arriving at t
    m.itr = pyo.Param(m.E, m.T, **mut)                # earlier shipments in transit at end of t
    m.narr = pyo.Param(m.N, m.T, **mut)               # initial-pipeline arrivals
    m.nlate = pyo.Param(m.N, **mut)                   # initial pipeline due after the horizon
    m.I0 = pyo.Param(m.N, **mut)
    m.Bx0 = pyo.Param(m.ND, **mut)
    m.P0 = pyo.Param(m.E, **mut)
    m.buf0 = pyo.Param(m.E, **mut)
    m.rev = pyo.Param(m.N, m.T, **dict(mut, initialize=1.0))
    for name in ("Mx", "MI", "MB", "Mr", "Md", "Mst"):
        setattr(m, name, pyo.Param(m.N, **mut))
    m.Mbuf = pyo.Param(m.E, **mut)
    m.MBu = pyo.Param(m.UC, **mut)
    m.Mru = pyo.Param(m.UC, **mut)
    m.cap0 = pyo.Param(m.UC, **mut)                   # supplier capacity left in period 0

    # -- variables ----------------------------------------------------------------------------
    def x_bounds(m, n, t):
        cap = node[n].capacity
        return (0, cap if math.isfinite(cap) else None)

    m.x = pyo.Var(m.N, m.T, domain=pyo.NonNegativeIntegers if integer else pyo.NonNegativeReals,
                  bounds=x_bounds)
    m.y = pyo.Var(m.NY, m.T, domain=pyo.Binary)
    m.I = pyo.Var(m.N, m.T, domain=pyo.NonNegativeReals)
    m.Bx = pyo.Var(m.NDB, m.T, domain=pyo.NonNegativeReals)
    m.sales = pyo.Var(m.ND, m.T, domain=pyo.NonNegativeReals)
    m.s = pyo.Var(m.E, m.T, domain=pyo.NonNegativeReals)
    m.P = pyo.Var(m.EP, m.T, domain=pyo.NonNegativeReals)
    m.s0 = pyo.Var(m.E0, m.T, domain=pyo.NonNegativeReals)
    m.r = pyo.Var(m.EF, m.T, domain=pyo.NonNegativeReals)
    m.buf = pyo.Var(m.EA, m.T, domain=pyo.NonNegativeReals)
    m.kits = pyo.Var(m.NA, m.T, domain=pyo.NonNegativeIntegers if integer else pyo.NonNegativeReals)
    whole = pyo.NonNegativeIntegers if integer else pyo.NonNegativeReals
    m.kits0 = pyo.Var(m.NA0, m.T, domain=whole)
    m.bufm = pyo.Var(m.EA0, m.T, domain=pyo.NonNegativeReals)   # buffer after the receive phase
    m.z = pyo.Var(m.NZ, m.T, domain=pyo.Binary)         # 1: stock may be positive, backlog 0
    m.q1 = pyo.Var(m.NQ1, m.T, domain=pyo.Binary)       # 1: downstream requests all served
    m.q2 = pyo.Var(m.NQ2, m.T, domain=pyo.Binary)       # 1: external demand all served
    m.w = pyo.Var(m.EA, m.T, domain=pyo.Binary)         # 1: this component limits assembly
    m.w0 = pyo.Var(m.EA0, m.T, domain=pyo.Binary)       # the same after the receive phase
    m.o0 = pyo.Var(m.E0X, m.T, domain=pyo.Binary)       # 1: the receive phase clears what was owed
    m.zz = pyo.Var(m.UC, m.T, domain=pyo.Binary)        # 1: supplier's capacity not exhausted
    for (u, v) in m.EA:
        if v not in m.NW:
            for t in m.T:
                m.w[u, v, t].fix(1)
                if (u, v) in m.EA0:
                    m.w0[u, v, t].fix(1)

    # -- expressions ----------------------------------------------------------------------------
    @m.Expression(m.E, m.T)
    def req(m, u, v, t):
        """Units requested on the edge (source units)."""
        return m.r[u, v, t] if (u, v) in m.EF else edge[u, v].bom * m.x[v, t]

    @m.Expression(m.E, m.T)
    def arr(m, u, v, t):
        """Units arriving at the start of t from shipments of earlier periods (and the state)."""
        lo, hi = window[u, v]
        return m.arr0[u, v, t] + sum(m.a[u, v, t - lag, lag] * m.s[u, v, t - lag]
                                     for lag in range(max(lo, 1), hi + 1) if t - lag >= 0)

    @m.Expression(m.E, m.T)
    def zero(m, u, v, t):
        """Units shipped in t with lead time 0 (they arrive in t)."""
        return m.a[u, v, t, 0] * m.s[u, v, t] if window[u, v][0] == 0 else 0.0

    @m.Expression(m.E, m.T)
    def transit(m, u, v, t):
        """Units in transit on the edge at the end of t."""
        return m.itr[u, v, t] + sum(m.g[u, v, t - k, k] * m.s[u, v, t - k]
                                    for k in range(window[u, v][1]) if t - k >= 0)

    def s0(m, u, v, t):
        return m.s0[u, v, t] if (u, v) in m.E0 else 0.0

    @m.Expression(m.N, m.T)
    def recv0(m, n, t):
        """Units added to n's stock in the receive phase (node units)."""
        if n in m.NA0:
            return m.narr[n, t] + m.kits0[n, t]
        if n in m.NA:   # no zero-lead inbound edge: every kit is made in the receive phase
            return m.narr[n, t] + m.kits[n, t]
        return m.narr[n, t] + sum(m.arr[u, v, t] + s0(m, u, v, t) for (u, v) in S.inbound[n])

    @m.Expression(m.N, m.T)
    def recv1(m, n, t):
        """Units added in the order phase (zero-lead shipments at n's own request)."""
        if n in m.NA0:
            return m.kits[n, t]
        if n in m.NA:
            return 0.0
        return sum(m.zero[u, v, t] - s0(m, u, v, t) for (u, v) in S.inbound[n])

    @m.Expression(m.N, m.T)
    def out(m, n, t):
        return sum(m.s[k, t] for k in S.outbound[n])

    @m.Expression(m.N, m.T)
    def requests(m, n, t):
        return sum(m.req[k, t] for k in S.outbound[n])

    def I_prev(m, n, t):
        return m.I0[n] if t == 0 else m.I[n, t - 1]

    def P_prev(m, u, v, t):
        return m.P0[u, v] if t == 0 else m.P[u, v, t - 1]

    def sold(m, n, t):
        return m.sales[n, t] if n in m.ND else 0.0

    @m.Expression(m.NB, m.T)
    def owed(m, n, t):
        """Backlog at the end of t: external plus downstream (node units)."""
        ext = m.Bx[n, t] if n in m.NDB else 0.0
        return ext + sum(m.P[k, t] for k in S.outbound[n])

    def owed_prev(m, n, t):
        if t > 0:
            return m.owed[n, t - 1]
        return (m.Bx0[n] if n in m.NDB else 0.0) + sum(m.P0[k] for k in S.outbound[n])

    # -- flows ---------------------------------------------------------------------------------
    @m.Constraint(m.N, m.T)
    def balance(m, n, t):
        return m.I[n, t] == (I_prev(m, n, t) + m.recv0[n, t] + m.recv1[n, t] - sold(m, n, t)
                             - m.out[n, t])

    @m.Constraint(m.NDB, m.T)
    def ext_backlog(m, n, t):
        prev = m.Bx0[n] if t == 0 else m.Bx[n, t - 1]
        return m.Bx[n, t] == prev + m.d[n, t] - m.sales[n, t]

    @m.Constraint(m.NDL, m.T)
    def lost_demand(m, n, t):
        return m.sales[n, t] <= m.d[n, t]

    @m.Constraint(m.EP, m.T)
    def pending(m, u, v, t):
        return m.P[u, v, t] == P_prev(m, u, v, t) + m.req[u, v, t] - m.s[u, v, t]

    @m.Constraint(m.EL, m.T)
    def lost_request(m, u, v, t):
        return m.s[u, v, t] <= m.req[u, v, t]

    @m.Constraint(m.EU, m.T)
    def unlimited(m, u, v, t):
        return m.s[u, v, t] == m.req[u, v, t]

    def cap(m, u, t):
        return m.cap0[u] if t == 0 else node[u].capacity

    @m.Constraint(m.UC, m.T)
    def supply_capacity(m, u, t):
        return sum(m.s[k, t] for k in S.outbound[u]) <= cap(m, u, t)

    @m.Constraint(m.E0, m.T)
    def from_backlog(m, u, v, t):
        return m.s0[u, v, t] <= P_prev(m, u, v, t)

    @m.Constraint(m.E0, m.T)
    def from_backlog_zero(m, u, v, t):
        return m.s0[u, v, t] <= m.zero[u, v, t]

    @m.Constraint(m.NB, m.T)
    def from_backlog_stock(m, n, t):
        """Receive-phase shipments need units received in that phase (or left over)."""
        ks = [k for k in S.outbound[n] if k in m.E0]
        if not ks:
            return pyo.Constraint.Skip
        return sum(m.s0[k, t] for k in ks) <= I_prev(m, n, t) + m.recv0[n, t]

    def receive_avail(m, u, t):
        return I_prev(m, u, t) + m.recv0[u, t] if u in S.stock else cap(m, u, t)

    def big_o(m, u):
        return (m.MI[u] + m.MB[u]) if u in S.stock else (node[u].capacity + m.MBu[u])

    @m.Constraint(m.E0X, m.T)
    def clear_backlog_a(m, u, v, t):
        """s0 >= owed when the backlog is cleared (only binding if the edge has lead 0 in t)."""
        return m.s0[u, v, t] >= P_prev(m, u, v, t) - big_o(m, u) * (2 - m.o0[u, v, t]
                                                                   - m.a[u, v, t, 0])

    @m.Constraint(m.E0X, m.T)
    def clear_backlog_b(m, u, v, t):
        """s0 >= available otherwise (the source ships all it has)."""
        return m.s0[u, v, t] >= receive_avail(m, u, t) - big_o(m, u) * (1 + m.o0[u, v, t]
                                                                        - m.a[u, v, t, 0])

    @m.Constraint(m.NL, m.T)
    def lost_order_phase(m, n, t):
        """Downstream requests are served from the stock left after receiving (and demand)."""
        if not S.outbound[n]:
            return pyo.Constraint.Skip
        avail = I_prev(m, n, t) + m.recv0[n, t] - (sold(m, n, t) if S.oad else 0.0)
        return m.out[n, t] <= avail

    @m.Constraint(m.NDL, m.T)
    def lost_demand_phase(m, n, t):
        """order-after-demand: demand is met before the period's orders arrive."""
        if not S.oad:
            return pyo.Constraint.Skip
        return m.sales[n, t] <= I_prev(m, n, t) + m.recv0[n, t]

    @m.Constraint(m.EF, m.T)
    def free_sourcing(m, u, v, t):
        if (u, v) != S.inbound[v][0]:
            return pyo.Constraint.Skip
        return sum(m.r[k, t] for k in S.inbound[v]) == m.x[v, t]

    @m.Constraint(m.EA, m.T)
    def assembly_buffer(m, u, v, t):
        """Components arrive and complete kits leave (kits = order-phase kits on NA0)."""
        bom = edge[u, v].bom
        if (u, v) in m.EA0:
            return m.buf[u, v, t] == (m.bufm[u, v, t] + m.zero[u, v, t] - s0(m, u, v, t)
                                      - bom * m.kits[v, t])
        prev = m.buf0[u, v] if t == 0 else m.buf[u, v, t - 1]
        return m.buf[u, v, t] == prev + m.arr[u, v, t] + m.zero[u, v, t] - bom * m.kits[v, t]

    @m.Constraint(m.EA0, m.T)
    def assembly_buffer_receive(m, u, v, t):
        prev = m.buf0[u, v] if t == 0 else m.buf[u, v, t - 1]
        return m.bufm[u, v, t] == (prev + m.arr[u, v, t] + s0(m, u, v, t)
                                   - edge[u, v].bom * m.kits0[v, t])

    # -- engine rules (exact=True) ------------------------------------------------------------
    @m.Constraint(m.NZ, m.T)
    def stock_or_owe_a(m, n, t):
        return m.I[n, t] <= m.MI[n] * m.z[n, t]

    @m.Constraint(m.NZ, m.T)
    def stock_or_owe_b(m, n, t):
        return m.owed[n, t] <= m.MB[n] * (1 - m.z[n, t])

    def lost_avail(m, n, t):
        return I_prev(m, n, t) + m.recv0[n, t] - (sold(m, n, t) if S.oad else 0.0)

    @m.Constraint(m.NQ1, m.T)
    def serve_requests_a(m, n, t):
        return m.requests[n, t] - m.out[n, t] <= m.Mr[n] * (1 - m.q1[n, t])

    @m.Constraint(m.NQ1, m.T)
    def serve_requests_b(m, n, t):
        return lost_avail(m, n, t) - m.out[n, t] <= m.MI[n] * m.q1[n, t]

    @m.Constraint(m.NQ2, m.T)
    def serve_demand_a(m, n, t):
        return m.d[n, t] - m.sales[n, t] <= m.Md[n] * (1 - m.q2[n, t])

    @m.Constraint(m.NQ2, m.T)
    def serve_demand_b(m, n, t):
        left = (I_prev(m, n, t) + m.recv0[n, t] - m.sales[n, t]) if S.oad else m.I[n, t]
        return left <= m.MI[n] * m.q2[n, t]

    @m.Constraint(m.NW, m.T)
    def one_limiting(m, v, t):
        return sum(m.w[k, t] for k in S.inbound[v]) == 1

    def leftover(u, v):
        """Most a limiting component's buffer can hold once every kit is assembled."""
        bom = edge[u, v].bom
        return (bom - (1.0 if float(bom).is_integer() else 1e-6)) if integer else 0.0

    @m.Constraint(m.EA, m.T)
    def assemble_all(m, u, v, t):
        if not exact:
            return pyo.Constraint.Skip
        return m.buf[u, v, t] <= leftover(u, v) + m.Mbuf[u, v] * (1 - m.w[u, v, t])

    @m.Constraint(m.EA0, m.T)
    def assemble_all_receive(m, u, v, t):
        if not exact:
            return pyo.Constraint.Skip
        return m.bufm[u, v, t] <= leftover(u, v) + m.Mbuf[u, v] * (1 - m.w0[u, v, t])

    @m.Constraint(m.NA0, m.T)
    def one_limiting_receive(m, v, t):
        if not exact or len(S.inbound[v]) == 1:
            return pyo.Constraint.Skip
        return sum(m.w0[k, t] for k in S.inbound[v]) == 1

    @m.Constraint(m.UC, m.T)
    def capacity_used_a(m, u, t):
        if not exact:
            return pyo.Constraint.Skip
        c = cap(m, u, t)
        if node[u].shortage == "backlog":
            return c - sum(m.s[k, t] for k in S.outbound[u]) <= c * m.zz[u, t]
        return (sum(m.req[k, t] - m.s[k, t] for k in S.outbound[u])
                <= m.Mru[u] * (1 - m.zz[u, t]))

    @m.Constraint(m.UC, m.T)
    def capacity_used_b(m, u, t):
        if not exact:
            return pyo.Constraint.Skip
        c = cap(m, u, t)
        if node[u].shortage == "backlog":
            return sum(m.P[k, t] for k in S.outbound[u]) <= m.MBu[u] * (1 - m.zz[u, t])
        return c - sum(m.s[k, t] for k in S.outbound[u]) <= c * m.zz[u, t]

    # -- orders --------------------------------------------------------------------------------
    @m.Constraint(m.NY, m.T)
    def setup(m, n, t):
        return m.x[n, t] <= m.Mx[n] * m.y[n, t]

    @m.Constraint(m.N)
    def total_orders(m, n):
        return sum(m.x[n, t] for t in m.T) <= m.Mx[n]

    @m.Constraint(m.NR, m.T)
    def review(m, n, t):
        return m.x[n, t] <= m.Mx[n] * m.rev[n, t]

    def on_order_at_decision(m, n, t):
        """Units on order when n decides in t (node units; simple nodes only): in transit,
        owed by suppliers, and initial pipeline still to come (the engine's init_pending)."""
        total = m.nlate[n] + sum(m.narr[n, k] for k in range(t + 1, H))
        for (u, v) in S.inbound[n]:
            before = (sum(m.arr0[u, v, k] for k in range(H)) + m.itr[u, v, H - 1]
                      if t == 0 else m.transit[u, v, t - 1])
            total += before - m.arr[u, v, t] - s0(m, u, v, t)
            if (u, v) in m.EP:
                total += P_prev(m, u, v, t)
        return total

    def net_at_decision(m, n, t):
        """On hand minus backlog when n decides, if it were all on hand (node units)."""
        prev = I_prev(m, n, t) - (owed_prev(m, n, t) if n in m.NB else 0.0)
        demand = m.d[n, t] if (S.oad and n in m.ND) else 0.0
        return prev + m.recv0[n, t] - m.requests[n, t] - demand

    @m.Constraint(m.NS, m.T)
    def storage_a(m, n, t):
        """The engine cuts an order to storage - on hand - on order (on hand = max(0, net))."""
        if n in m.NA:
            return pyo.Constraint.Skip
        cap = node[n].storage_capacity
        return m.x[n, t] + on_order_at_decision(m, n, t) <= cap + m.Mst[n] * (1 - m.y[n, t])

    @m.Constraint(m.NS, m.T)
    def storage_b(m, n, t):
        cap = node[n].storage_capacity
        if n in m.NA:   # relaxed: on hand counted from initial-pipeline arrivals only
            prev = I_prev(m, n, t) - (owed_prev(m, n, t) if n in m.NB else 0.0)
            demand = m.d[n, t] if (S.oad and n in m.ND) else 0.0
            net = prev + m.narr[n, t] - m.requests[n, t] - demand
            return m.x[n, t] + net <= cap + m.Mst[n] * (1 - m.y[n, t])
        return (m.x[n, t] + on_order_at_decision(m, n, t) + net_at_decision(m, n, t)
                <= cap + m.Mst[n] * (1 - m.y[n, t]))

    # -- cost: Simulation._account -----------------------------------------------------------
    @m.Expression(m.T)
    def period_cost(m, t):
        total = 0.0
        for n in S.stock:
            nd = node[n]
            total += nd.holding_cost * m.I[n, t]
            if nd.shortage_cost:
                if nd.shortage == "backlog":
                    total += nd.shortage_cost * m.owed[n, t]
                else:
                    lost_units = sum(m.req[k, t] - m.s[k, t] for k in S.outbound[n])
                    if n in m.ND:
                        lost_units += m.d[n, t] - m.sales[n, t]
                    total += nd.shortage_cost * lost_units
            if nd.fixed_order_cost:
                total += nd.fixed_order_cost * m.y[n, t]
            total += nd.order_cost * m.x[n, t]
            for (u, v) in S.inbound[n]:
                e = edge[u, v]
                total += e.unit_cost * m.s[u, v, t]
                if e.transit_holding_cost:
                    held = m.transit[u, v, t] + (m.buf[u, v, t] if (u, v) in m.EA else 0.0)
                    total += e.transit_holding_cost * held
        for u in capsup:
            nd = node[u]
            if nd.shortage_cost:
                if nd.shortage == "backlog":
                    total += nd.shortage_cost * sum(m.P[k, t] for k in S.outbound[u])
                else:
                    total += nd.shortage_cost * sum(m.req[k, t] - m.s[k, t]
                                                    for k in S.outbound[u])
        return total

    m.cost = pyo.Objective(expr=sum(m.period_cost[t] for t in m.T), sense=pyo.minimize)
    update_network_model(m, demand=demand, lead_times=leads,
                         state=initial_state or NetworkState.initial(network), start=start)
    return m


def update_network_model(m: pyo.ConcreteModel, *,
                         demand: Mapping[str, Sequence[float]] | None = None,
                         lead_times: Mapping[Key, Any] | None = None,
                         state: NetworkState | None = None, start: int | None = None) -> None:
    """Load new data into the mutable Params of a model from :func:`build_network_model`.

    Anything left as None keeps its current value.  Lead times must stay inside
    the window the model was built for (``lead_window``).  Big-M values are
    recomputed from the current data.
    """
    S: _Structure = m._net
    H = S.horizon
    if demand is not None:
        for n, row in _demand_rows(S, demand).items():
            for t in range(H):
                m.d[n, t] = float(row[t])
    if lead_times is not None:
        rows = _lead_rows(S, {k: v for k, v in lead_times.items()})
        for key, row in rows.items():
            if key not in lead_times:
                continue
            lo, hi = S.window[key]
            bad = [L for L in row if not lo <= L <= hi]
            if bad:
                raise ValueError(f"edge {key[0]!r}->{key[1]!r}: lead time {bad[0]} outside the "
                                 f"model's window [{lo}, {hi}]; rebuild with lead_window")
            u, v = key
            for t, L in enumerate(row):
                for lag in range(lo, hi + 1):
                    m.a[u, v, t, lag] = 1.0 if lag == L else 0.0
                for k in range(hi):
                    m.g[u, v, t, k] = 1.0 if L > k else 0.0
    if state is not None:
        _load_state(m, S, state)
    if start is not None:
        for n in S.stock:
            nd = S.node[n]
            for t in range(H):
                m.rev[n, t] = 1.0 if nd.reviews_at(start + t) else 0.0
    _big_m(m, S)


def _load_state(m: pyo.ConcreteModel, S: _Structure, st: NetworkState) -> None:
    H = S.horizon
    for n in S.stock:
        m.I0[n] = float(st.on_hand.get(n, 0.0))
        arrivals = st.node_arrivals.get(n, {})
        if any(k < 0 for k in arrivals):
            raise ValueError(f"node {n!r}: node arrival periods must be >= 0")
        for t in range(H):
            m.narr[n, t] = float(arrivals.get(t, 0.0))
        m.nlate[n] = float(sum(q for k, q in arrivals.items() if k >= H))
        if n in m.ND:
            m.Bx0[n] = float(st.external_backlog.get(n, 0.0))
        elif st.external_backlog.get(n, 0.0) > 0:
            raise ValueError(f"node {n!r} has no external demand but an external backlog")
    for u in m.UC:
        full = S.node[u].capacity
        m.cap0[u] = float(min(full, max(0.0, st.capacity_left.get(u, full))))
    for key in S.edge:
        u, v = key
        p = float(st.pending.get(key, 0.0))
        if p > 0 and key not in m.EP:
            raise ValueError(f"edge {u!r}->{v!r}: units pending, but its source cannot backlog")
        m.P0[u, v] = p
        b = float(st.buffer.get(key, 0.0))
        if b > 0 and key not in m.EA:
            raise ValueError(f"edge {u!r}->{v!r}: buffer given, but {v!r} does not assemble")
        m.buf0[u, v] = b
        sched = st.in_transit.get(key, {})
        if any(k < 0 for k in sched):
            raise ValueError(f"edge {u!r}->{v!r}: in-transit periods must be >= 0")
        for t in range(H):
            m.arr0[u, v, t] = float(sched.get(t, 0.0))
            m.itr[u, v, t] = float(sum(q for k, q in sched.items() if k > t))


def _big_m(m: pyo.ConcreteModel, S: _Structure) -> None:
    """Big-M values from the current data (see the module docstring)."""
    H = S.horizon
    v = pyo.value
    dtot = {n: sum(v(m.d[n, t]) for t in range(H)) for n in S.demand_nodes}
    # units already in the system at or on their way to each stocking node (node units)
    have = {}
    for n in S.stock:
        units = v(m.I0[n]) + sum(v(m.narr[n, t]) for t in range(H)) + v(m.nlate[n])
        for (a, b) in S.inbound[n]:
            units += (sum(v(m.arr0[a, b, t]) for t in range(H)) + v(m.itr[a, b, H - 1])
                      + v(m.buf0[a, b])) / S.edge[a, b].bom
        have[n] = units
    # ... and upstream of each node, in its units (at most 1/bom per unit along a path)
    upstream: dict[str, float] = {}
    per_unit: dict[str, dict[str, float]] = {}
    for n in S.topo:
        if S.node[n].kind != "stock":
            continue
        factors: dict[str, float] = {}
        for (a, _) in S.inbound[n]:
            if S.node[a].kind != "stock":
                continue
            f = 1.0 / S.edge[a, n].bom
            factors[a] = max(factors.get(a, 0.0), f)
            for b, g in per_unit[a].items():
                factors[b] = max(factors.get(b, 0.0), f * g)
        per_unit[n] = factors
        upstream[n] = sum(have[a] * f for a, f in factors.items())
    need: dict[str, float] = {}
    Mx: dict[str, float] = {}
    for n in reversed(S.topo):
        if n not in S.node or S.node[n].kind != "stock":
            continue
        total = dtot.get(n, 0.0) + (v(m.Bx0[n]) if n in m.ND else 0.0) + upstream[n]
        for (a, b) in S.outbound[n]:
            total += v(m.P0[a, b]) + S.edge[a, b].bom * Mx.get(b, 0.0)
        need[n] = total
        cap = S.node[n].capacity
        Mx[n] = min(total, cap * H) if math.isfinite(cap) else total
        fixed = sum(q for (k, _), q in getattr(m, "_plan", {}).items() if k == n)
        Mx[n] = max(Mx[n], fixed)   # a pinned plan (fix_plan) is priced, never cut
    for n in S.stock:
        incoming = 0.0
        for (a, b) in S.inbound[n]:
            bom = S.edge[a, b].bom
            incoming += (sum(v(m.arr0[a, b, t]) for t in range(H)) + v(m.itr[a, b, H - 1])
                         + v(m.P0[a, b]) + v(m.buf0[a, b])) / bom
        MI = (v(m.I0[n]) + sum(v(m.narr[n, t]) for t in range(H)) + v(m.nlate[n]) + incoming
              + Mx[n])
        out_req = sum(S.edge[k].bom * Mx[k[1]] for k in S.outbound[n])
        out_owed = sum(v(m.P0[k]) for k in S.outbound[n])
        m.Mx[n] = Mx[n] + 1e-6
        m.MI[n] = MI + 1.0
        m.MB[n] = (v(m.Bx0[n]) if n in m.ND else 0.0) + dtot.get(n, 0.0) + out_owed + out_req + 1.0
        m.Mr[n] = out_req + 1.0
        m.Md[n] = max((v(m.d[n, t]) for t in range(H)), default=0.0) + 1.0 if n in m.ND else 1.0
        m.Mst[n] = MI + incoming + Mx[n] + out_req + v(m.MB[n]) + 1.0
    for (a, b) in S.edge:
        bom = S.edge[a, b].bom
        m.Mbuf[a, b] = (v(m.buf0[a, b]) + sum(v(m.arr0[a, b, t]) for t in range(H))
                        + v(m.itr[a, b, H - 1]) + v(m.P0[a, b]) + bom * Mx[b] + 1.0)
    for u in m.UC:
        req = sum(S.edge[k].bom * Mx[k[1]] for k in S.outbound[u])
        m.MBu[u] = sum(v(m.P0[k]) for k in S.outbound[u]) + req + 1.0
        m.Mru[u] = req + 1.0


# -- results and plans --------------------------------------------------------------------------
def plan_of(m: pyo.ConcreteModel) -> dict[str, tuple[float, ...]]:
    """The orders of the loaded solution, per node and model period (rounded if integer)."""
    S: _Structure = m._net
    plan = {}
    for n in S.stock:
        row = []
        for t in range(S.horizon):
            q = max(0.0, float(pyo.value(m.x[n, t])))
            row.append(float(round(q)) if S.integer else (0.0 if q < 1e-9 else q))
        plan[n] = tuple(row)
    return plan


def fix_plan(m: pyo.ConcreteModel, orders: Mapping[str, Sequence[float]]) -> None:
    """Pin the orders to a plan (equality constraints ``plan``); the model then prices it.

    A plan the engine could not place as given (above a node's capacity or
    storage room, outside its review periods) makes the model infeasible.
    Calling it again replaces the previous plan.
    """
    S: _Structure = m._net
    for n in orders:
        if n not in S.stock:
            raise KeyError(f"no stocking node {n!r} in the model")
    plan = {(n, t): float(q) for n, row in orders.items() for t, q in enumerate(row[: S.horizon])}
    if hasattr(m, "plan"):
        m.del_component(m.plan)
        m.del_component(m.plan_index)
    m.plan_index = pyo.Set(dimen=2, initialize=list(plan), ordered=True)
    m.plan = pyo.Constraint(m.plan_index, rule=lambda m, n, t: m.x[n, t] == plan[n, t])
    m._plan = plan
    _big_m(m, S)


def model_size(m: pyo.ConcreteModel) -> dict[str, int]:
    """Counts of variables (binary, integer, continuous) and constraints."""
    nb = ni = nc = 0
    for var in m.component_data_objects(pyo.Var, active=True):
        if var.fixed:
            continue
        if var.is_binary():
            nb += 1
        elif var.is_integer():
            ni += 1
        else:
            nc += 1
    ncons = sum(1 for _ in m.component_data_objects(pyo.Constraint, active=True))
    return {"binary": nb, "integer": ni, "continuous": nc, "constraints": ncons}


@dataclass(frozen=True)
class BoundResult:
    """A perfect-information lower bound and the plan that attains the incumbent."""

    bound: float                          # solver's best bound on the total cost [$]
    objective: float                      # cost of the incumbent plan (= engine cost if exact)
    per_period_bound: float               # bound / periods
    period_costs: tuple[float, ...]       # the incumbent's cost in each period
    orders: dict[str, tuple[float, ...]]  # the incumbent plan, per node and period
    termination: str
    status: str
    time: float                           # solve seconds
    build_time: float                     # model build seconds
    gap: float | None
    periods: int
    integer_orders: bool                  # False: continuous relaxation of the engine's rounding
    exact: bool
    size: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()
                if k != "orders"} | {"orders": {n: list(r) for n, r in self.orders.items()}}


def perfect_information_bound(network: Network, periods: int, seed: SeedLike = 0,
                              replication: int | None = None, *, integer: bool | None = None,
                              exact: bool = True, time_limit: float = 60.0, rel_gap: float = 1e-6,
                              threads: int = 1, solver_seed: int = 0) -> BoundResult:
    """A lower bound on the cost of any policy on the engine's draws for *seed*.

    The model knows the whole demand path and every lead time in advance, so its
    optimum is no larger than the cost of any policy run on the same draws
    (``Simulation(network, periods, seed)`` or replication k of ``simulate``);
    averaged over replications it bounds the expected cost.  The bound reported
    is the solver's best bound (valid even when the time limit stopped it);
    ``objective`` is the incumbent plan's cost.  ``integer=False`` bounds with
    continuous orders (a relaxation of the engine's rounding, still valid).
    """
    demand, leads = engine_draws(network, periods, seed, replication)
    tick = time.perf_counter()
    m = build_network_model(network, demand, leads, periods, integer=integer, exact=exact)
    built = time.perf_counter() - tick
    rep = solve(m, time_limit=time_limit, rel_gap=rel_gap, threads=threads, seed=solver_seed)
    bound = rep.bound if rep.bound is not None else -math.inf
    bound = min(bound, rep.objective)
    return BoundResult(bound=bound, objective=rep.objective, per_period_bound=bound / periods,
                       period_costs=tuple(float(pyo.value(m.period_cost[t])) for t in m.T),
                       orders=plan_of(m), termination=rep.termination, status=rep.status,
                       time=rep.time, build_time=built, gap=rep.gap, periods=periods,
                       integer_orders=m._net.integer, exact=exact, size=model_size(m))


@dataclass(frozen=True)
class PlanPolicy:
    """Replays a fixed plan in the engine: node n orders ``orders[n][t]`` in period t."""

    orders: Mapping[str, Sequence[float]]

    def act(self, obs: Any) -> dict[str, float]:
        t = obs.t
        return {n: float(self.orders[n][t]) for n in obs.deciding
                if n in self.orders and t < len(self.orders[n])}


# -- rolling horizon ----------------------------------------------------------------------------
def _node_lead(S: _Structure, n: str, leads: Mapping[Key, int]) -> int:
    ls = [leads[k] for k in S.inbound[n]]
    return max(ls) if S.rule[n] == "assembly" else min(ls)


def _auto_safety_stock(network: Network, S: _Structure, leads: Mapping[Key, int],
                       samples: int = 20_000) -> dict[str, float]:
    """Newsvendor safety stock per demand node over its lead time plus one period.

    ``quantile_{p/(p+h)}(D_1 + ... + D_{L+1}) - (L+1) * mean``, estimated from
    *samples* draws of the node's demand distribution (fixed seed).  A heuristic
    for single-echelon-like nodes (the classic base-stock level).
    """
    out = {}
    rng = np.random.default_rng(12345)
    for nd in network.demand_nodes:
        h, p = nd.holding_cost, nd.shortage_cost
        if p <= 0:
            continue
        L = _node_lead(S, nd.name, leads)
        draws = nd.demand.sample(rng, 0, samples * (L + 1)).reshape(samples, L + 1).sum(axis=1)
        q = float(np.quantile(draws, p / (p + h)))
        out[nd.name] = max(0.0, q - float(np.mean(draws)))
    return out


def state_from_observation(network: Network, obs: Any, S: _Structure,
                           leads: Mapping[Key, int], look: int,
                           capacity_left: Mapping[str, float] | None = None) -> NetworkState:
    """The model's period-0 state from an engine Observation (approximate; see below).

    Exact for nodes with a single supplier and suppliers with a single customer.
    Otherwise the Observation does not say which edge a unit is on or owed on:
    in-transit units of a node with several suppliers are spread over its edges
    (by ``share`` for split, equally for priority); for an assembly node the
    complete kits ``obs.pipeline`` reports are put on every component edge as
    ``bom`` x kits, and what an edge's pending and in-transit units do not explain
    of the kits on order (``obs.on_order``) is put in its buffer (exact for the
    limiting component, a lower bound for the others); a supplier's downstream
    backlog is spread over its customers in proportion to what they have on order
    and not in transit.  A capacitated
    supplier with a queue has no capacity left this period; without one it is
    taken to have all of it (the part the receive phase used is not observable),
    unless ``capacity_left`` says otherwise (:class:`RollingHorizonPolicy` tracks
    it from its own orders).
    Initial-pipeline
    units still to come are read from the network (and taken out of
    ``obs.pipeline``, which includes them).
    """
    t = obs.t
    st = NetworkState()
    later: dict[str, list[float]] = {}
    for n in S.stock:
        st.on_hand[n] = float(obs.on_hand(n))
        if n in S.demand_nodes:
            st.external_backlog[n] = float(obs.external_backlog(n))
        pipe = S.node[n].initial_pipeline
        st.node_arrivals[n] = {k: pipe[t + k] for k in range(1, len(pipe) - t) if pipe[t + k] > 0}
        later[n] = [st.node_arrivals[n].get(k, 0.0) for k in range(1, look + 1)]
    est_pending: dict[Key, float] = {}
    kits_on_order: dict[str, float] = {}
    for n in S.stock:
        inbound = S.inbound[n]
        # node units (kits for assembly) reaching stock at t+1..t+look, initial pipeline included
        pipe = np.asarray(obs.pipeline(n, look), dtype=float)
        edge_pipe = np.maximum(0.0, pipe - np.asarray(later[n]))
        if len(inbound) == 1 or not S.simple[n]:
            weights = {k: 1.0 for k in inbound}        # one supplier, or bom x kits on each edge
        elif S.rule[n] == "split":
            weights = {k: float(S.edge[k].share or 0.0) for k in inbound}
        else:
            weights = {k: 1.0 / len(inbound) for k in inbound}
        for k in inbound:
            factor = S.edge[k].bom * weights[k]
            st.in_transit[k] = {j + 1: float(q * factor) for j, q in enumerate(edge_pipe) if q > 0}
        owed = max(0.0, float(obs.on_order(n)) - float(pipe.sum()))   # node units (kits)
        for k in inbound:
            est_pending[k] = owed * S.edge[k].bom * weights[k]
        if not S.simple[n]:   # kits on order beyond the pending and in-transit estimate
            kits_on_order[n] = max(0.0, float(obs.on_order(n)) - sum(later[n]))
    is_pending_source = {u for (u, _) in S.edge
                         if S.node[u].shortage == "backlog"
                         and (S.node[u].kind == "stock" or math.isfinite(S.node[u].capacity))}
    for u in S.supply:
        if math.isfinite(S.node[u].capacity):
            # the receive phase worked off the queue first: a queue left means nothing is left
            # (if the queue was cleared, what it took is not observable: full capacity assumed)
            full = S.node[u].capacity
            known = (capacity_left or {}).get(u)
            st.capacity_left[u] = 0.0 if obs.backlog(u) > 0 else (full if known is None else known)
    for u in is_pending_source:
        outs = S.outbound[u]
        if not outs:
            continue
        internal = float(obs.backlog(u)) - (float(obs.external_backlog(u))
                                            if u in S.demand_nodes else 0.0)
        internal = max(0.0, internal)
        est = [est_pending.get(k, 0.0) for k in outs]
        total = sum(est)
        for k, e in zip(outs, est, strict=True):
            st.pending[k] = internal * (e / total if total > 0 else 1.0 / len(outs))
    for n, kits in kits_on_order.items():
        # on_order = min over component edges of (transit + pending + buffer) / bom: what an
        # edge's pending and transit do not explain is taken to wait in its buffer
        for k in S.inbound[n]:
            explained = st.pending.get(k, 0.0) + sum(st.in_transit[k].values())
            st.buffer[k] = max(0.0, S.edge[k].bom * kits - explained)
    return st


def longest_lead_path(network: Network) -> int:
    """Longest sum of rounded mean lead times along a path from a supplier to any node."""
    G = network.graph()
    for _, _, data in G.edges(data=True):
        data["L"] = int(round(data["edge"].lead_time.mean))
    return int(nx.dag_longest_path_length(G, weight="L")) if G.number_of_edges() else 0


class RollingHorizonPolicy:
    """Model-predictive control: re-solve the network model at every epoch, apply period 0.

    At each decision epoch the policy reads the state from the Observation (see
    :func:`state_from_observation` for what it has to approximate), sets demand
    to the forecast of the next ``horizon`` periods (``forecast="mean"``:
    each demand distribution's ``forecast``; or a callable ``(t, horizon) -> {node: array}``) and
    lead times to their rounded means, re-solves and returns the deciding nodes'
    period-0 orders.  The model is built once; epochs only update mutable Params
    and re-solve the persistent HiGHS instance.

    ``safety_stock`` (number, mapping node -> units, or ``"auto"``) is added to a
    demand node's forecast in the first period its current order can reach, so
    the certainty-equivalent plan keeps that much extra stock (``"auto"``: the
    newsvendor level over lead time + 1 periods, see ``_auto_safety_stock``).
    With zero safety stock the policy is the certainty-equivalent one.

    Choose ``horizon`` longer than :func:`longest_lead_path`: an upstream order
    whose effect lands after the window never pays off inside it, and the policy
    then starves the chain (a warning says so).

    ``epoch_times`` holds the wall seconds of every epoch (state, update, solve);
    ``terminations`` counts solver outcomes.
    """

    def __init__(self, network: Network, horizon: int, forecast: str | Callable = "mean", *,
                 safety_stock: float | Mapping[str, float] | str = 0.0, integer: bool = False,
                 exact: bool = False, time_limit: float = 10.0, rel_gap: float = 1e-4,
                 threads: int = 1, seed: int = 0) -> None:
        if forecast != "mean" and not callable(forecast):
            raise ValueError(f"forecast(={forecast!r}) must be 'mean' or a callable (t, n) -> dict")
        self.network, self.horizon, self.forecast = network, int(horizon), forecast
        longest = longest_lead_path(network)
        if self.horizon <= longest + 1:
            warnings.warn(f"RollingHorizonPolicy: horizon={self.horizon} does not exceed the "
                          f"longest lead-time path ({longest}) + 1; upstream orders cannot pay "
                          "off inside the window", stacklevel=2)
        self.solve_options = dict(time_limit=time_limit, rel_gap=rel_gap, threads=threads,
                                  seed=seed)
        self.leads = {e.key: int(round(e.lead_time.mean)) for e in network.edges}
        tick = time.perf_counter()
        self.model = build_network_model(network, {}, self.leads, self.horizon, integer=integer,
                                         exact=exact)
        self.build_time = time.perf_counter() - tick
        self._S: _Structure = self.model._net
        if isinstance(safety_stock, str):
            if safety_stock != "auto":
                raise ValueError(f"safety_stock(={safety_stock!r}) must be a number, a mapping "
                                 "or 'auto'")
            self.safety_stock = _auto_safety_stock(network, self._S, self.leads)
        elif isinstance(safety_stock, Mapping):
            self.safety_stock = {str(k): float(v) for k, v in safety_stock.items()}
        else:
            self.safety_stock = {n: float(safety_stock) for n in self._S.demand_nodes}
        self._look = self.horizon + max(self.leads.values(), default=0) + 64
        self.opt = new_solver(parameters_only=True)
        self._queue: dict[str, tuple[int, float]] = {}   # supplier: (t, queue at end of t)
        self.epoch_times: list[float] = []
        self.terminations: dict[str, int] = {}
        self.last_report: SolveReport | None = None

    def _demand(self, t: int) -> dict[str, np.ndarray]:
        S, H = self._S, self.horizon
        if callable(self.forecast):
            given = self.forecast(t, H)
            rows = {n: np.asarray(given.get(n, np.zeros(H)), float)[:H] for n in S.demand_nodes}
        else:
            rows = {n: S.node[n].demand.forecast(t, H) for n in S.demand_nodes}
        for n in S.demand_nodes:
            row = rows[n].copy()
            if S.oad:
                row[0] = 0.0                       # period t's demand has already happened
            ss = self.safety_stock.get(n, 0.0)
            if ss:
                L = _node_lead(S, n, self.leads)
                k = L if (not S.oad or L >= 1) else 1
                row[min(k, H - 1)] += ss
            rows[n] = row
        return rows

    def _capacity_left(self, t: int) -> dict[str, float]:
        """Capacity a capacitated supplier has left at epoch t, from the queue it had at the
        end of the last epoch's period (each period's receive phase works it off first)."""
        out = {}
        for u, (t_prev, queue) in self._queue.items():
            if t_prev >= t:
                continue
            cap = self._S.node[u].capacity
            for _ in range(t_prev + 1, t):
                queue = max(0.0, queue - cap)
            out[u] = cap - min(queue, cap)
        return out

    def _track_queues(self, obs: Any, state: NetworkState, orders: Mapping[str, float]) -> None:
        """Queue of each capacitated supplier at the end of this period: what it owed after
        the receive phase plus the requests it could not ship (engine order: downstream first,
        orders rounded and cut to capacity; split by share, priority first come)."""
        S = self._S
        left = dict(state.capacity_left)
        queue = {u: float(obs.backlog(u)) for u in left}
        for v in (n for n in reversed(S.topo) if n in orders):
            q = orders[v]
            q = q if self.network.continuous else float(round(q))
            q = min(q, S.node[v].capacity)
            inbound = S.inbound[v]
            if S.rule[v] == "priority":
                inbound = sorted(inbound, key=lambda k: S.edge[k].priority)
            rest = q
            for i, k in enumerate(inbound):
                u = k[0]
                if S.rule[v] == "split":
                    want = q * float(S.edge[k].share or 0.0)
                elif S.rule[v] == "priority":
                    last = i == len(inbound) - 1
                    avail = left.get(u, math.inf) if S.node[u].kind == "supply" else math.inf
                    want = rest if last else min(rest, avail)
                    rest -= want
                else:
                    want = q * S.edge[k].bom
                if u in left:
                    shipped = min(want, left[u])
                    left[u] -= shipped
                    if S.node[u].shortage == "backlog":
                        queue[u] += want - shipped
        for u, qu in queue.items():
            self._queue[u] = (obs.t, qu)

    def act(self, obs: Any) -> dict[str, float]:
        tick = time.perf_counter()
        t = obs.t
        state = state_from_observation(self.network, obs, self._S, self.leads, self._look,
                                       self._capacity_left(t))
        update_network_model(self.model, demand=self._demand(t), state=state, start=t)
        rep = solve(self.model, opt=self.opt, **self.solve_options)
        self.last_report = rep
        self.terminations[rep.termination] = self.terminations.get(rep.termination, 0) + 1
        orders = {}
        for n in obs.deciding:
            q = max(0.0, float(pyo.value(self.model.x[n, 0])))
            orders[n] = q if q > 1e-7 else 0.0
        if state.capacity_left:
            self._track_queues(obs, state, orders)
        self.epoch_times.append(time.perf_counter() - tick)
        return orders

    def timing(self) -> dict[str, float]:
        """Mean, median and max seconds per epoch so far."""
        x = np.asarray(self.epoch_times) if self.epoch_times else np.zeros(1)
        return {"epochs": len(self.epoch_times), "mean": float(x.mean()),
                "median": float(np.median(x)), "max": float(x.max()), "build": self.build_time}
