"""The multi-period MIP over any engine network (Pyomo), mirroring ``des_supply.sim``.

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
data and a persistent HiGHS re-solve pushes only the changes.  The updates are computed
on a plain value store (``m._data``, Param name -> {index: value}) and then written to
the Params; :func:`load_network_data` stops at the store, for a
:class:`~optimization.solve.DirectHighs` that takes the numbers straight to HiGHS.

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

:func:`build_network_model` reads as the list of its constraint groups, one
``_add_*`` builder each, in the order of the model's rows and columns; each
builder's docstring names the engine rule it mirrors.  :func:`update_network_model`
loads new data, :func:`fix_plan` pins a plan so the model prices it.  Bounds and
policies built on this model live in :mod:`optimization.network_mip`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo

from des_supply.network import Network

from .memory import check_memory

__all__ = [
    "BIG_M",
    "DATA",
    "Key",
    "ModelStructure",
    "NetworkState",
    "build_network_model",
    "fix_plan",
    "load_network_data",
    "model_size",
    "plan_of",
    "update_network_model",
]

#: an edge, (source, target)
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
    pending: dict[Key, float] = field(default_factory=dict)  # owed by source to target
    in_transit: dict[Key, dict[int, float]] = field(default_factory=dict)
    buffer: dict[Key, float] = field(default_factory=dict)  # assembly buffers
    node_arrivals: dict[str, dict[int, float]] = field(default_factory=dict)
    capacity_left: dict[str, float] = field(default_factory=dict)  # supply nodes, period 0

    @classmethod
    def initial(cls, network: Network) -> NetworkState:
        """The engine's state before period 0 (``initial_on_hand`` and ``initial_pipeline``)."""
        st = cls()
        for n in network.stock_nodes:
            pipe = n.initial_pipeline
            st.on_hand[n.name] = n.initial_on_hand + (pipe[0] if pipe else 0.0)
            st.node_arrivals[n.name] = {k: q for k, q in enumerate(pipe) if k >= 1 and q > 0}
        return st


class ModelStructure:
    """What the model was built from (plain Python, kept on the model as ``m._net``).

    Node and edge lookups, topological order, supply rules and the lead-time window
    of each edge; ``optimization.network_mip`` reads it to turn observations into states.
    """

    def __init__(
        self,
        network: Network,
        horizon: int,
        integer: bool,
        exact: bool,
        window: dict[Key, tuple[int, int]],
    ) -> None:
        self.network, self.horizon, self.integer, self.exact = network, horizon, integer, exact
        self.window = window
        self.oad = network.order_timing == "order-after-demand"
        self.topo = list(network.topological_order)
        self.stock = [n.name for n in network.stock_nodes]
        self.supply = [n.name for n in network.nodes if n.kind == "supply"]
        self.node = {n.name: n for n in network.nodes}
        self.edge = {e.key: e for e in network.edges}
        self.inbound = {n: [e.key for e in network.suppliers(n)] for n in self.node}
        self.outbound = {n: [e.key for e in network.customers(n)] for n in self.node}
        self.demand_nodes = [n.name for n in network.demand_nodes]
        self.rule = {n: network.supply_rule_of(n) for n in self.stock}
        self.simple = {
            n: self.rule[n] != "assembly" and all(self.edge[k].bom == 1 for k in self.inbound[n])
            for n in self.stock
        }
        self.free = {n: self.rule[n] in ("split", "priority") for n in self.stock}


def _lead_rows(
    struct: ModelStructure, lead_times: Mapping[Key, Any] | None
) -> dict[Key, list[int]]:
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
                raise ValueError(
                    f"edge {key[0]!r}->{key[1]!r}: {len(raw)} lead times for a "
                    f"horizon of {H} periods"
                )
            row = [int(v) for v in raw[:H]]
        if min(row) < 0:
            raise ValueError(f"edge {key[0]!r}->{key[1]!r}: lead times must be >= 0")
        if e.sequential:  # no crossing: due = running max of t' + L(t') (see module docstring)
            due = np.maximum.accumulate(np.arange(H) + np.asarray(row))
            row = [int(v) for v in due - np.arange(H)]
        rows[key] = row
    return rows


def _demand_rows(
    struct: ModelStructure, demand: Mapping[str, Sequence[float] | np.ndarray]
) -> dict[str, np.ndarray]:
    H = struct.horizon
    unknown = sorted(set(demand) - set(struct.demand_nodes))
    if unknown:
        raise ValueError(
            f"demand given for node(s) {', '.join(map(repr, unknown))} that have no "
            f"external demand (demand nodes: {', '.join(struct.demand_nodes)})"
        )
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
#: Bytes of the Pyomo model per period and node or edge (tracemalloc peaks of the build: 3.2-4.7
#: KB on the scenarios and example networks, 9.9 KB with capacities; HiGHS's copy on top).
BYTES_PER_CELL = 16 * 2**10


def build_network_model(
    network: Network,
    demand: Mapping[str, Sequence[float] | np.ndarray],
    lead_times: Mapping[Key, Any] | None,
    horizon: int,
    initial_state: NetworkState | None = None,
    *,
    integer: bool | None = None,
    exact: bool = True,
    lead_window: Mapping[Key, tuple[int, int]] | None = None,
    start: int = 0,
    memory_limit: float | None = None,
    queue_penalty: float = 0.0,
) -> pyo.ConcreteModel:
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
    memory_limit : float, optional
        Bytes; a model estimated above it (:data:`BYTES_PER_CELL` per period and node or
        edge) raises :class:`~optimization.memory.SizeLimitError` before anything is
        built (default: see :mod:`optimization.memory`).
    queue_penalty : float
        Cost per unit and period of a request a *shared* source (one serving several
        customers, see :func:`shared_source_edges`) does not ship: units it owes, or
        loses, on those edges.  0 (the default) is the engine's accounting.  The
        engine serves a shared source's customers first come, first served, the
        model allocates freely; a small positive value keeps a planning model from
        queueing requests whose allocation it would get wrong
        (:class:`~optimization.network_mip.RollingHorizonPolicy` uses it).
    """
    if not float(horizon).is_integer() or horizon < 1:
        raise ValueError(f"horizon(={horizon}) must be a positive integer")
    if not (math.isfinite(queue_penalty) and queue_penalty >= 0):
        raise ValueError(f"queue_penalty(={queue_penalty}) must be a finite number >= 0")
    H = int(horizon)
    cells = H * (len(network.nodes) + len(network.edges))
    check_memory(
        BYTES_PER_CELL * cells,
        f"the network MIP of {network.name!r} ({H} periods x "
        f"{len(network.nodes)} nodes and {len(network.edges)} edges)",
        f"lower the horizon(={H} periods) or the number of nodes",
        memory_limit,
    )
    integer = (not network.continuous) if integer is None else bool(integer)
    probe = ModelStructure(network, H, integer, exact, {})
    leads = _lead_rows(probe, lead_times)
    window = {}
    for key, row in leads.items():
        lo, hi = min(row), max(row)
        if lead_window and key in lead_window:
            lo, hi = min(lo, int(lead_window[key][0])), max(hi, int(lead_window[key][1]))
        window[key] = (lo, hi)
    S = ModelStructure(network, H, integer, exact, window)

    m = pyo.ConcreteModel(name=f"network-mip[{network.name}]")
    m._net = S
    m.T = pyo.RangeSet(0, H - 1)
    # the order of the groups is the order of the model's rows and columns: keep it
    _add_sets(m, S)
    _add_data(m)
    _add_variables(m, S)
    _add_flows(m, S)
    _add_inventory_balance(m, S)
    _add_shipping(m, S)
    _add_receiving(m, S)
    _add_lost_sales(m, S)
    _add_free_sourcing(m, S)
    _add_assembly(m, S)
    _add_no_stock_while_owing(m, S)  # the engine's rules: binaries, only with exact=True
    _add_serve_all_on_hand(m, S)
    _add_assemble_every_kit(m, S)
    _add_use_supply_capacity(m, S)
    _add_order_limits(m, S)
    _add_storage_capacity(m, S)
    _add_objective(m, S, queue_penalty)
    update_network_model(
        m,
        demand=demand,
        lead_times=leads,
        state=initial_state or NetworkState.initial(network),
        start=start,
    )
    return m


def _add_sets(m: pyo.ConcreteModel, S: ModelStructure) -> None:
    """Index sets: which nodes and edges each engine rule applies to.

    Stocking nodes by shortage rule (``_NodeState.lost_rule``), capacitated
    suppliers, edges whose source backlogs (``_request_units`` queues the rest) or
    loses, assembly and free-sourcing targets, nodes with setups, storage or
    review periods; with ``exact`` the nodes that need the binaries of the
    "ship as much as you can" rules; and the lead-time window of every edge.
    """
    node, edge, window, exact = S.node, S.edge, S.window, S.exact
    H = S.horizon
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
    pend = [
        k for k in keys if k[0] in backlog or (k[0] in capsup and node[k[0]].shortage == "backlog")
    ]
    m.E = pyo.Set(dimen=2, initialize=keys, ordered=True)
    m.EP = pyo.Set(dimen=2, within=m.E, initialize=pend, ordered=True)
    m.E0 = pyo.Set(
        dimen=2, within=m.E, initialize=[k for k in pend if window[k][0] == 0], ordered=True
    )
    m.EA = pyo.Set(
        dimen=2, within=m.E, initialize=[k for k in keys if not S.simple[k[1]]], ordered=True
    )
    m.EF = pyo.Set(dimen=2, within=m.E, initialize=[k for k in keys if S.free[k[1]]], ordered=True)
    m.EL = pyo.Set(
        dimen=2,
        within=m.E,
        initialize=[
            k for k in keys if k[0] in lost or (k[0] in capsup and node[k[0]].shortage == "lost")
        ],
        ordered=True,
    )
    m.EU = pyo.Set(
        dimen=2,
        within=m.E,
        initialize=[k for k in keys if k[0] in S.supply and k[0] not in capsup],
        ordered=True,
    )
    m.NA = pyo.Set(within=m.N, initialize=[n for n in S.stock if not S.simple[n]], ordered=True)
    m.NY = pyo.Set(
        within=m.N,
        initialize=[
            n
            for n in S.stock
            if node[n].fixed_order_cost > 0 or math.isfinite(node[n].storage_capacity)
        ],
    )
    m.NS = pyo.Set(
        within=m.N, initialize=[n for n in S.stock if math.isfinite(node[n].storage_capacity)]
    )
    m.NR = pyo.Set(within=m.N, initialize=[n for n in S.stock if node[n].review_period > 1])
    has_cust = {n: any(k[1] in is_stock for k in S.outbound[n]) for n in S.stock}
    m.NZ = pyo.Set(within=m.N, initialize=[n for n in backlog if exact and has_cust[n]])
    m.NQ1 = pyo.Set(within=m.N, initialize=[n for n in lost if exact and has_cust[n]])
    m.NQ2 = pyo.Set(
        within=m.N, initialize=[n for n in lost if exact and has_cust[n] and n in S.demand_nodes]
    )
    m.NW = pyo.Set(within=m.N, initialize=[n for n in m.NA if exact and len(S.inbound[n]) > 1])
    # assembly nodes with zero-lead inbound edges: kits of the receive phase (available
    # to customers' requests) and of the order phase are told apart
    m.NA0 = pyo.Set(
        within=m.NA,
        initialize=[n for n in m.NA if any(window[k][0] == 0 for k in S.inbound[n])],
        ordered=True,
    )
    # zero-lead edges from a source with one customer and no external demand: the
    # receive-phase shipment from its backlog is exactly min(owed, available)
    m.E0X = pyo.Set(
        dimen=2,
        within=m.E0,
        initialize=[
            k for k in m.E0 if exact and len(S.outbound[k[0]]) == 1 and k[0] not in S.demand_nodes
        ],
        ordered=True,
    )
    m.EA0 = pyo.Set(
        dimen=2, within=m.EA, initialize=[k for k in m.EA if k[1] in m.NA0], ordered=True
    )
    m.ELT = pyo.Set(
        dimen=4,
        initialize=[
            (u, v, t, lag)
            for (u, v) in keys
            for t in range(H)
            for lag in range(window[u, v][0], window[u, v][1] + 1)
        ],
    )
    m.EGT = pyo.Set(
        dimen=4,
        initialize=[
            (u, v, t, k) for (u, v) in keys for t in range(H) for k in range(window[u, v][1])
        ],
    )


def _add_data(m: pyo.ConcreteModel) -> None:
    """Mutable data, loaded by :func:`update_network_model`: demand, lead times as arrival
    indicators, the starting state (``Simulation.reset_state``), review flags
    (``Node.reviews_at``) and the big-M values."""
    mut = dict(mutable=True, initialize=0.0, within=pyo.Reals)
    m.d = pyo.Param(m.ND, m.T, **mut)  # external demand
    m.a = pyo.Param(m.ELT, **mut)  # 1 if a shipment sent in t arrives in t+l
    m.g = pyo.Param(m.EGT, **mut)  # 1 if one sent in t is in transit at t+k
    m.arr0 = pyo.Param(m.E, m.T, **mut)  # earlier shipments arriving at t
    m.itr = pyo.Param(m.E, m.T, **mut)  # earlier shipments in transit at end of t
    m.narr = pyo.Param(m.N, m.T, **mut)  # initial-pipeline arrivals
    m.nlate = pyo.Param(m.N, **mut)  # initial pipeline due after the horizon
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
    m.cap0 = pyo.Param(m.UC, **mut)  # supplier capacity left in period 0
    # the value store: the updates compute here, then write the Params (or a DirectHighs)
    m._data = {name: {k: float(pyo.value(p)) for k, p in getattr(m, name).items()} for name in DATA}


def _add_variables(m: pyo.ConcreteModel, S: ModelStructure) -> None:
    """Orders (whole units unless ``integer=False``, at most the node's ``capacity``, as
    ``Simulation._order`` cuts them), stocks, flows and the binaries of the engine rules.

    Assembly nodes with one component have no choice of limiting component
    (``w`` fixed to 1).
    """
    node, integer = S.node, S.integer

    def x_bounds(m, n, t):
        cap = node[n].capacity
        return (0, cap if math.isfinite(cap) else None)

    m.x = pyo.Var(
        m.N,
        m.T,
        domain=pyo.NonNegativeIntegers if integer else pyo.NonNegativeReals,
        bounds=x_bounds,
    )
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
    m.bufm = pyo.Var(m.EA0, m.T, domain=pyo.NonNegativeReals)  # buffer after the receive phase
    m.z = pyo.Var(m.NZ, m.T, domain=pyo.Binary)  # 1: stock may be positive, backlog 0
    m.q1 = pyo.Var(m.NQ1, m.T, domain=pyo.Binary)  # 1: downstream requests all served
    m.q2 = pyo.Var(m.NQ2, m.T, domain=pyo.Binary)  # 1: external demand all served
    m.w = pyo.Var(m.EA, m.T, domain=pyo.Binary)  # 1: this component limits assembly
    m.w0 = pyo.Var(m.EA0, m.T, domain=pyo.Binary)  # the same after the receive phase
    m.o0 = pyo.Var(m.E0X, m.T, domain=pyo.Binary)  # 1: the receive phase clears what was owed
    m.zz = pyo.Var(m.UC, m.T, domain=pyo.Binary)  # 1: supplier's capacity not exhausted
    for u, v in m.EA:
        if v not in m.NW:
            for t in m.T:
                m.w[u, v, t].fix(1)
                if (u, v) in m.EA0:
                    m.w0[u, v, t].fix(1)


# -- terms shared by several groups (m is the model, t a model period) ------------------------
def _I_prev(m, n, t):
    """On hand at the end of the previous period (the starting state in period 0)."""
    return m.I0[n] if t == 0 else m.I[n, t - 1]


def _P_prev(m, u, v, t):
    """Units the source owed the target at the end of the previous period."""
    return m.P0[u, v] if t == 0 else m.P[u, v, t - 1]


def _s0(m, u, v, t):
    """Receive-phase shipment from the backlog on a zero-lead edge (0 on other edges)."""
    return m.s0[u, v, t] if (u, v) in m.E0 else 0.0


def _sold(m, n, t):
    """External demand served in t (0 at nodes without external demand)."""
    return m.sales[n, t] if n in m.ND else 0.0


def _owed_prev(m, n, t):
    """Backlog (external plus downstream) at the end of the previous period."""
    if t > 0:
        return m.owed[n, t - 1]
    return (m.Bx0[n] if n in m.NDB else 0.0) + sum(m.P0[k] for k in m._net.outbound[n])


def _capacity(m, u, t):
    """What capacitated supplier u can ship in t (what is left of it in period 0)."""
    return m.cap0[u] if t == 0 else m._net.node[u].capacity


def _add_flows(m: pyo.ConcreteModel, S: ModelStructure) -> None:
    """Expressions for requests, arrivals and receipts, as in ``Simulation._request_units``
    (``bom * x`` on every inbound edge), ``_ship`` / ``_arrive`` (a shipment sent in t
    arrives in ``t + L(t)``, at once when ``L(t) = 0``) and ``_deliver`` (assembly
    nodes stock complete kits only)."""
    edge, window = S.edge, S.window

    @m.Expression(m.E, m.T)
    def req(m, u, v, t):
        """Units requested on the edge (source units)."""
        return m.r[u, v, t] if (u, v) in m.EF else edge[u, v].bom * m.x[v, t]

    @m.Expression(m.E, m.T)
    def arr(m, u, v, t):
        """Units arriving at the start of t from shipments of earlier periods (and the state)."""
        lo, hi = window[u, v]
        return m.arr0[u, v, t] + sum(
            m.a[u, v, t - lag, lag] * m.s[u, v, t - lag]
            for lag in range(max(lo, 1), hi + 1)
            if t - lag >= 0
        )

    @m.Expression(m.E, m.T)
    def zero(m, u, v, t):
        """Units shipped in t with lead time 0 (they arrive in t)."""
        return m.a[u, v, t, 0] * m.s[u, v, t] if window[u, v][0] == 0 else 0.0

    @m.Expression(m.E, m.T)
    def transit(m, u, v, t):
        """Units in transit on the edge at the end of t."""
        return m.itr[u, v, t] + sum(
            m.g[u, v, t - k, k] * m.s[u, v, t - k] for k in range(window[u, v][1]) if t - k >= 0
        )

    @m.Expression(m.N, m.T)
    def recv0(m, n, t):
        """Units added to n's stock in the receive phase (node units)."""
        if n in m.NA0:
            return m.narr[n, t] + m.kits0[n, t]
        if n in m.NA:  # no zero-lead inbound edge: every kit is made in the receive phase
            return m.narr[n, t] + m.kits[n, t]
        return m.narr[n, t] + sum(m.arr[u, v, t] + _s0(m, u, v, t) for (u, v) in S.inbound[n])

    @m.Expression(m.N, m.T)
    def recv1(m, n, t):
        """Units added in the order phase (zero-lead shipments at n's own request)."""
        if n in m.NA0:
            return m.kits[n, t]
        if n in m.NA:
            return 0.0
        return sum(m.zero[u, v, t] - _s0(m, u, v, t) for (u, v) in S.inbound[n])

    @m.Expression(m.N, m.T)
    def out(m, n, t):
        return sum(m.s[k, t] for k in S.outbound[n])

    @m.Expression(m.N, m.T)
    def requests(m, n, t):
        return sum(m.req[k, t] for k in S.outbound[n])

    @m.Expression(m.NB, m.T)
    def owed(m, n, t):
        """Backlog at the end of t: external plus downstream (node units)."""
        ext = m.Bx[n, t] if n in m.NDB else 0.0
        return ext + sum(m.P[k, t] for k in S.outbound[n])


def _add_inventory_balance(m: pyo.ConcreteModel, S: ModelStructure) -> None:
    """Stock and external demand: on hand moves by receipts, sales and shipments
    (``Simulation._stock_in``, ``_request_units``, ``_external_demand``); unmet external
    demand is backlogged or, at lost-sales nodes, lost."""

    @m.Constraint(m.N, m.T)
    def balance(m, n, t):
        return m.I[n, t] == (
            _I_prev(m, n, t) + m.recv0[n, t] + m.recv1[n, t] - _sold(m, n, t) - m.out[n, t]
        )

    @m.Constraint(m.NDB, m.T)
    def ext_backlog(m, n, t):
        prev = m.Bx0[n] if t == 0 else m.Bx[n, t - 1]
        return m.Bx[n, t] == prev + m.d[n, t] - m.sales[n, t]

    @m.Constraint(m.NDL, m.T)
    def lost_demand(m, n, t):
        return m.sales[n, t] <= m.d[n, t]


def _add_shipping(m: pyo.ConcreteModel, S: ModelStructure) -> None:
    """What a source ships against requests (``Simulation._request_units``): a backlogging
    source owes the rest, a lost-sales source ships at most the request, an
    uncapacitated supplier ships everything, a capacitated one at most what is left
    of its capacity (``cap_left``)."""

    @m.Constraint(m.EP, m.T)
    def pending(m, u, v, t):
        return m.P[u, v, t] == _P_prev(m, u, v, t) + m.req[u, v, t] - m.s[u, v, t]

    @m.Constraint(m.EL, m.T)
    def lost_request(m, u, v, t):
        return m.s[u, v, t] <= m.req[u, v, t]

    @m.Constraint(m.EU, m.T)
    def unlimited(m, u, v, t):
        return m.s[u, v, t] == m.req[u, v, t]

    @m.Constraint(m.UC, m.T)
    def supply_capacity(m, u, t):
        return sum(m.s[k, t] for k in S.outbound[u]) <= _capacity(m, u, t)


def _add_receiving(m: pyo.ConcreteModel, S: ModelStructure) -> None:
    """Receive-phase shipments from a backlog on zero-lead edges (``Simulation._stock_in``
    and ``_fill_supply_queue`` ship owed units at once): at most what was owed, what
    the edge ships with lead 0 and what the source received; with ``exact`` and a
    single customer, exactly ``min(owed, available)``."""
    node = S.node

    @m.Constraint(m.E0, m.T)
    def from_backlog(m, u, v, t):
        return m.s0[u, v, t] <= _P_prev(m, u, v, t)

    @m.Constraint(m.E0, m.T)
    def from_backlog_zero(m, u, v, t):
        return m.s0[u, v, t] <= m.zero[u, v, t]

    @m.Constraint(m.NB, m.T)
    def from_backlog_stock(m, n, t):
        """Receive-phase shipments need units received in that phase (or left over)."""
        ks = [k for k in S.outbound[n] if k in m.E0]
        if not ks:
            return pyo.Constraint.Skip
        return sum(m.s0[k, t] for k in ks) <= _I_prev(m, n, t) + m.recv0[n, t]

    def receive_avail(m, u, t):
        return _I_prev(m, u, t) + m.recv0[u, t] if u in S.stock else _capacity(m, u, t)

    def big_o(m, u):
        return (m.MI[u] + m.MB[u]) if u in S.stock else (node[u].capacity + m.MBu[u])

    @m.Constraint(m.E0X, m.T)
    def clear_backlog_a(m, u, v, t):
        """s0 >= owed when the backlog is cleared (only binding if the edge has lead 0 in t)."""
        return m.s0[u, v, t] >= _P_prev(m, u, v, t) - big_o(m, u) * (
            2 - m.o0[u, v, t] - m.a[u, v, t, 0]
        )

    @m.Constraint(m.E0X, m.T)
    def clear_backlog_b(m, u, v, t):
        """s0 >= available otherwise (the source ships all it has)."""
        return m.s0[u, v, t] >= receive_avail(m, u, t) - big_o(m, u) * (
            1 + m.o0[u, v, t] - m.a[u, v, t, 0]
        )


def _add_lost_sales(m: pyo.ConcreteModel, S: ModelStructure) -> None:
    """Lost-sales nodes serve only what they have in the phase (``_request_units`` and
    ``_external_demand`` ship ``min(q, on_hand)``): downstream requests from stock
    after receiving (and after demand with ``order-after-demand``), demand before the
    period's orders arrive with ``order-after-demand``."""

    @m.Constraint(m.NL, m.T)
    def lost_order_phase(m, n, t):
        """Downstream requests are served from the stock left after receiving (and demand)."""
        if not S.outbound[n]:
            return pyo.Constraint.Skip
        avail = _I_prev(m, n, t) + m.recv0[n, t] - (_sold(m, n, t) if S.oad else 0.0)
        return m.out[n, t] <= avail

    @m.Constraint(m.NDL, m.T)
    def lost_demand_phase(m, n, t):
        """order-after-demand: demand is met before the period's orders arrive."""
        if not S.oad:
            return pyo.Constraint.Skip
        return m.sales[n, t] <= _I_prev(m, n, t) + m.recv0[n, t]


def _add_free_sourcing(m: pyo.ConcreteModel, S: ModelStructure) -> None:
    """``split`` and ``priority`` sourcing (``Simulation._split`` and the priority branch
    of ``_order``) relaxed: any non-negative split of the order among the suppliers."""

    @m.Constraint(m.EF, m.T)
    def free_sourcing(m, u, v, t):
        if (u, v) != S.inbound[v][0]:
            return pyo.Constraint.Skip
        return sum(m.r[k, t] for k in S.inbound[v]) == m.x[v, t]


def _add_assembly(m: pyo.ConcreteModel, S: ModelStructure) -> None:
    """Assembly buffers (``Simulation._deliver``): components wait on their edge until a
    complete kit (``bom`` of each) is there; on nodes with zero-lead components the
    kits of the receive phase and of the order phase are counted apart."""
    edge = S.edge

    @m.Constraint(m.EA, m.T)
    def assembly_buffer(m, u, v, t):
        """Components arrive and complete kits leave (kits = order-phase kits on NA0)."""
        bom = edge[u, v].bom
        if (u, v) in m.EA0:
            return m.buf[u, v, t] == (
                m.bufm[u, v, t] + m.zero[u, v, t] - _s0(m, u, v, t) - bom * m.kits[v, t]
            )
        prev = m.buf0[u, v] if t == 0 else m.buf[u, v, t - 1]
        return m.buf[u, v, t] == prev + m.arr[u, v, t] + m.zero[u, v, t] - bom * m.kits[v, t]

    @m.Constraint(m.EA0, m.T)
    def assembly_buffer_receive(m, u, v, t):
        prev = m.buf0[u, v] if t == 0 else m.buf[u, v, t - 1]
        return m.bufm[u, v, t] == (
            prev + m.arr[u, v, t] + _s0(m, u, v, t) - edge[u, v].bom * m.kits0[v, t]
        )


def _add_no_stock_while_owing(m: pyo.ConcreteModel, S: ModelStructure) -> None:
    """Engine rule (``exact``): a backlogging node never keeps stock while it owes units
    (``Simulation._stock_in`` fills the backlog first; ``_request_units`` and
    ``_external_demand`` queue behind it)."""

    @m.Constraint(m.NZ, m.T)
    def stock_or_owe_a(m, n, t):
        return m.I[n, t] <= m.MI[n] * m.z[n, t]

    @m.Constraint(m.NZ, m.T)
    def stock_or_owe_b(m, n, t):
        return m.owed[n, t] <= m.MB[n] * (1 - m.z[n, t])


def _add_serve_all_on_hand(m: pyo.ConcreteModel, S: ModelStructure) -> None:
    """Engine rule (``exact``): a lost-sales node serves as much as it has, downstream
    requests (``_request_units``) and external demand (``_external_demand``) alike."""

    def lost_avail(m, n, t):
        return _I_prev(m, n, t) + m.recv0[n, t] - (_sold(m, n, t) if S.oad else 0.0)

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
        left = (_I_prev(m, n, t) + m.recv0[n, t] - m.sales[n, t]) if S.oad else m.I[n, t]
        return left <= m.MI[n] * m.q2[n, t]


def _add_assemble_every_kit(m: pyo.ConcreteModel, S: ModelStructure) -> None:
    """Engine rule (``exact``): an assembly node assembles every complete kit
    (``Simulation._deliver``), so some limiting component's buffer holds less than
    one kit's worth."""
    edge, integer, exact = S.edge, S.integer, S.exact

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


def _add_use_supply_capacity(m: pyo.ConcreteModel, S: ModelStructure) -> None:
    """Engine rule (``exact``): a capacitated supplier uses all its capacity while it has
    a queue (``_request_units`` and ``_fill_supply_queue`` ship ``min(owed, cap_left)``)."""
    node, exact = S.node, S.exact

    @m.Constraint(m.UC, m.T)
    def capacity_used_a(m, u, t):
        if not exact:
            return pyo.Constraint.Skip
        c = _capacity(m, u, t)
        if node[u].shortage == "backlog":
            return c - sum(m.s[k, t] for k in S.outbound[u]) <= c * m.zz[u, t]
        return sum(m.req[k, t] - m.s[k, t] for k in S.outbound[u]) <= m.Mru[u] * (1 - m.zz[u, t])

    @m.Constraint(m.UC, m.T)
    def capacity_used_b(m, u, t):
        if not exact:
            return pyo.Constraint.Skip
        c = _capacity(m, u, t)
        if node[u].shortage == "backlog":
            return sum(m.P[k, t] for k in S.outbound[u]) <= m.MBu[u] * (1 - m.zz[u, t])
        return c - sum(m.s[k, t] for k in S.outbound[u]) <= c * m.zz[u, t]


def _add_order_limits(m: pyo.ConcreteModel, S: ModelStructure) -> None:
    """Orders: a setup indicator per order (``Simulation._order`` charges
    ``fixed_order_cost`` per order placed), the big-M bound on the total, and no
    orders outside review periods (``Node.reviews_at``)."""

    @m.Constraint(m.NY, m.T)
    def setup(m, n, t):
        return m.x[n, t] <= m.Mx[n] * m.y[n, t]

    @m.Constraint(m.N)
    def total_orders(m, n):
        return sum(m.x[n, t] for t in m.T) <= m.Mx[n]

    @m.Constraint(m.NR, m.T)
    def review(m, n, t):
        return m.x[n, t] <= m.Mx[n] * m.rev[n, t]


def _add_storage_capacity(m: pyo.ConcreteModel, S: ModelStructure) -> None:
    """Storage capacity: ``Simulation._order`` cuts an order to ``storage_capacity - on hand
    - on order``; relaxed at assembly nodes (on hand only)."""
    node, H = S.node, S.horizon

    def on_order_at_decision(m, n, t):
        """Units on order when n decides in t (node units; simple nodes only): in transit,
        owed by suppliers, and initial pipeline still to come (the engine's init_pending)."""
        total = m.nlate[n] + sum(m.narr[n, k] for k in range(t + 1, H))
        for u, v in S.inbound[n]:
            before = (
                sum(m.arr0[u, v, k] for k in range(H)) + m.itr[u, v, H - 1]
                if t == 0
                else m.transit[u, v, t - 1]
            )
            total += before - m.arr[u, v, t] - _s0(m, u, v, t)
            if (u, v) in m.EP:
                total += _P_prev(m, u, v, t)
        return total

    def net_at_decision(m, n, t):
        """On hand minus backlog when n decides, if it were all on hand (node units)."""
        prev = _I_prev(m, n, t) - (_owed_prev(m, n, t) if n in m.NB else 0.0)
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
        if n in m.NA:  # relaxed: on hand counted from initial-pipeline arrivals only
            prev = _I_prev(m, n, t) - (_owed_prev(m, n, t) if n in m.NB else 0.0)
            demand = m.d[n, t] if (S.oad and n in m.ND) else 0.0
            net = prev + m.narr[n, t] - m.requests[n, t] - demand
            return m.x[n, t] + net <= cap + m.Mst[n] * (1 - m.y[n, t])
        return m.x[n, t] + on_order_at_decision(m, n, t) + net_at_decision(m, n, t) <= cap + m.Mst[
            n
        ] * (1 - m.y[n, t])


def shared_source_edges(network: Network) -> list[Key]:
    """Edges out of a node that serves more than one customer (several downstream nodes, or
    one plus external demand): where the engine's first-come-first-served allocation and
    the model's free allocation can differ."""
    out: list[Key] = []
    for n in network.nodes:
        customers = network.customers(n.name)
        if len(customers) + (n.demand is not None) > 1:
            out.extend(e.key for e in customers)
    return out


def _add_objective(m: pyo.ConcreteModel, S: ModelStructure, queue_penalty: float) -> None:
    """The cost of each period exactly as ``Simulation._account`` books it, and their sum
    (plus ``queue_penalty`` per unit a shared source owes or loses, if positive)."""
    node, edge = S.node, S.edge
    shared = set(shared_source_edges(S.network)) if queue_penalty else set()
    queued = [k for k in m.EP if k in shared]
    refused = [k for k in m.EL if k in shared]

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
            for u, v in S.inbound[n]:
                e = edge[u, v]
                total += e.unit_cost * m.s[u, v, t]
                if e.transit_holding_cost:
                    held = m.transit[u, v, t] + (m.buf[u, v, t] if (u, v) in m.EA else 0.0)
                    total += e.transit_holding_cost * held
        for u in m.UC:
            nd = node[u]
            if nd.shortage_cost:
                if nd.shortage == "backlog":
                    total += nd.shortage_cost * sum(m.P[k, t] for k in S.outbound[u])
                else:
                    total += nd.shortage_cost * sum(m.req[k, t] - m.s[k, t] for k in S.outbound[u])
        if queued or refused:
            total += queue_penalty * (
                sum(m.P[k, t] for k in queued) + sum(m.req[k, t] - m.s[k, t] for k in refused)
            )
        return total

    m.cost = pyo.Objective(expr=sum(m.period_cost[t] for t in m.T), sense=pyo.minimize)


#: The mutable Params of the model, in the order :func:`_add_data` declares them.
DATA = (
    "d", "a", "g", "arr0", "itr", "narr", "nlate", "I0", "Bx0", "P0", "buf0", "rev",
    "Mx", "MI", "MB", "Mr", "Md", "Mst", "Mbuf", "MBu", "Mru", "cap0",
)  # fmt: skip
#: The big-M Params, recomputed by every update.
BIG_M = ("Mx", "MI", "MB", "Mr", "Md", "Mst", "Mbuf", "MBu", "Mru")


def update_network_model(
    m: pyo.ConcreteModel,
    *,
    demand: Mapping[str, Sequence[float] | np.ndarray] | None = None,
    lead_times: Mapping[Key, Any] | None = None,
    state: NetworkState | None = None,
    start: int | None = None,
) -> None:
    """Load new data into the mutable Params of a model from :func:`build_network_model`.

    Anything left as None keeps its current value.  Lead times must stay inside
    the window the model was built for (``lead_window``).  Big-M values are
    recomputed from the current data.
    """
    _write_params(
        m, load_network_data(m, demand=demand, lead_times=lead_times, state=state, start=start)
    )


def _write_params(m: pyo.ConcreteModel, names: Sequence[str]) -> None:
    """Copy the value store ``m._data`` of the Params *names* into the Pyomo Params."""
    for name in names:
        comp = getattr(m, name)
        for idx, val in m._data[name].items():
            comp[idx] = val


def load_network_data(
    m: pyo.ConcreteModel,
    *,
    demand: Mapping[str, Sequence[float] | np.ndarray] | None = None,
    lead_times: Mapping[Key, Any] | None = None,
    state: NetworkState | None = None,
    start: int | None = None,
) -> tuple[str, ...]:
    """:func:`update_network_model` without touching Pyomo: the new values go into the
    model's value store ``m._data`` (Param name -> {index: value}) only, and the names of
    the Params that were rewritten are returned.  A :class:`~optimization.solve.DirectHighs`
    of the model reads them from there (:class:`NetworkHighs`)."""
    S: ModelStructure = m._net
    D: dict[str, dict[Any, float]] = m._data
    H = S.horizon
    names: list[str] = []
    if demand is not None:
        d = D["d"]
        for n, row in _demand_rows(S, demand).items():
            for t in range(H):
                d[n, t] = float(row[t])
        names.append("d")
    if lead_times is not None:
        a, g = D["a"], D["g"]
        rows = _lead_rows(S, {k: v for k, v in lead_times.items()})
        for key, leads in rows.items():
            if key not in lead_times:
                continue
            lo, hi = S.window[key]
            bad = [L for L in leads if not lo <= L <= hi]
            if bad:
                raise ValueError(
                    f"edge {key[0]!r}->{key[1]!r}: lead time {bad[0]} outside the "
                    f"model's window [{lo}, {hi}]; rebuild with lead_window"
                )
            u, v = key
            for t, L in enumerate(leads):
                for lag in range(lo, hi + 1):
                    a[u, v, t, lag] = 1.0 if lag == L else 0.0
                for k in range(hi):
                    g[u, v, t, k] = 1.0 if L > k else 0.0
        names += ["a", "g"]
    if state is not None:
        names += _load_state(m, S, state)
    if start is not None:
        rev = D["rev"]
        for n in S.stock:
            nd = S.node[n]
            for t in range(H):
                rev[n, t] = 1.0 if nd.reviews_at(start + t) else 0.0
        names.append("rev")
    _big_m(m, S)
    return (*names, *BIG_M)


def _load_state(m: pyo.ConcreteModel, S: ModelStructure, st: NetworkState) -> list[str]:
    H, D = S.horizon, m._data
    I0, narr, nlate, Bx0 = D["I0"], D["narr"], D["nlate"], D["Bx0"]
    for n in S.stock:
        I0[n] = float(st.on_hand.get(n, 0.0))
        arrivals = st.node_arrivals.get(n, {})
        if any(k < 0 for k in arrivals):
            raise ValueError(f"node {n!r}: node arrival periods must be >= 0")
        for t in range(H):
            narr[n, t] = float(arrivals.get(t, 0.0))
        nlate[n] = float(sum(q for k, q in arrivals.items() if k >= H))
        if n in Bx0:
            Bx0[n] = float(st.external_backlog.get(n, 0.0))
        elif st.external_backlog.get(n, 0.0) > 0:
            raise ValueError(f"node {n!r} has no external demand but an external backlog")
    cap0 = D["cap0"]
    for u in cap0:
        full = S.node[u].capacity
        cap0[u] = float(min(full, max(0.0, st.capacity_left.get(u, full))))
    P0, buf0, arr0, itr = D["P0"], D["buf0"], D["arr0"], D["itr"]
    for key in S.edge:
        u, v = key
        p = float(st.pending.get(key, 0.0))
        if p > 0 and key not in m.EP:
            raise ValueError(f"edge {u!r}->{v!r}: units pending, but its source cannot backlog")
        P0[u, v] = p
        b = float(st.buffer.get(key, 0.0))
        if b > 0 and key not in m.EA:
            raise ValueError(f"edge {u!r}->{v!r}: buffer given, but {v!r} does not assemble")
        buf0[u, v] = b
        sched = st.in_transit.get(key, {})
        if any(k < 0 for k in sched):
            raise ValueError(f"edge {u!r}->{v!r}: in-transit periods must be >= 0")
        for t in range(H):
            arr0[u, v, t] = float(sched.get(t, 0.0))
            itr[u, v, t] = float(sum(q for k, q in sched.items() if k > t))
    return ["I0", "narr", "nlate", "Bx0", "cap0", "P0", "buf0", "arr0", "itr"]


def _big_m(m: pyo.ConcreteModel, S: ModelStructure) -> None:
    """Big-M values from the current data (see the module docstring), into ``m._data``."""
    H, D = S.horizon, m._data
    d, I0, narr, nlate, Bx0 = D["d"], D["I0"], D["narr"], D["nlate"], D["Bx0"]
    arr0, itr, buf0, P0 = D["arr0"], D["itr"], D["buf0"], D["P0"]
    dtot = {n: sum(d[n, t] for t in range(H)) for n in S.demand_nodes}
    # units already in the system at or on their way to each stocking node (node units)
    have = {}
    for n in S.stock:
        units = I0[n] + sum(narr[n, t] for t in range(H)) + nlate[n]
        for a, b in S.inbound[n]:
            units += (
                sum(arr0[a, b, t] for t in range(H)) + itr[a, b, H - 1] + buf0[a, b]
            ) / S.edge[a, b].bom
        have[n] = units
    # ... and upstream of each node, in its units (at most 1/bom per unit along a path)
    upstream: dict[str, float] = {}
    per_unit: dict[str, dict[str, float]] = {}
    for n in S.topo:
        if S.node[n].kind != "stock":
            continue
        factors: dict[str, float] = {}
        for a, _ in S.inbound[n]:
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
        total = dtot.get(n, 0.0) + (Bx0[n] if n in Bx0 else 0.0) + upstream[n]
        for a, b in S.outbound[n]:
            total += P0[a, b] + S.edge[a, b].bom * Mx.get(b, 0.0)
        need[n] = total
        cap = S.node[n].capacity
        Mx[n] = min(total, cap * H) if math.isfinite(cap) else total
        fixed = sum(q for (k, _), q in getattr(m, "_plan", {}).items() if k == n)
        Mx[n] = max(Mx[n], fixed)  # a pinned plan (fix_plan) is priced, never cut
    MB = D["MB"]
    for n in S.stock:
        incoming = 0.0
        for a, b in S.inbound[n]:
            bom = S.edge[a, b].bom
            incoming += (
                sum(arr0[a, b, t] for t in range(H)) + itr[a, b, H - 1] + P0[a, b] + buf0[a, b]
            ) / bom
        MI = I0[n] + sum(narr[n, t] for t in range(H)) + nlate[n] + incoming + Mx[n]
        out_req = sum(S.edge[k].bom * Mx[k[1]] for k in S.outbound[n])
        out_owed = sum(P0[k] for k in S.outbound[n])
        D["Mx"][n] = Mx[n] + 1e-6
        D["MI"][n] = MI + 1.0
        MB[n] = (Bx0[n] if n in Bx0 else 0.0) + dtot.get(n, 0.0) + out_owed + out_req + 1.0
        D["Mr"][n] = out_req + 1.0
        D["Md"][n] = max((d[n, t] for t in range(H)), default=0.0) + 1.0 if n in Bx0 else 1.0
        D["Mst"][n] = MI + incoming + Mx[n] + out_req + MB[n] + 1.0
    for a, b in S.edge:
        bom = S.edge[a, b].bom
        D["Mbuf"][a, b] = (
            buf0[a, b]
            + sum(arr0[a, b, t] for t in range(H))
            + itr[a, b, H - 1]
            + P0[a, b]
            + bom * Mx[b]
            + 1.0
        )
    for u in D["MBu"]:
        req = sum(S.edge[k].bom * Mx[k[1]] for k in S.outbound[u])
        D["MBu"][u] = sum(P0[k] for k in S.outbound[u]) + req + 1.0
        D["Mru"][u] = req + 1.0


# -- results and plans --------------------------------------------------------------------------
def plan_of(m: pyo.ConcreteModel) -> dict[str, tuple[float, ...]]:
    """The orders of the loaded solution, per node and model period (rounded if integer)."""
    S: ModelStructure = m._net
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
    S: ModelStructure = m._net
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
    _write_params(m, BIG_M)


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
