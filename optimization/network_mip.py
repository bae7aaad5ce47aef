"""Bounds and policies from the multi-period network MIP (Pyomo + HiGHS).

The model itself -- a Pyomo model whose periods run exactly like the engine's,
its relaxations and big-M values -- is built in :mod:`optimization.network_model`
(see its docstring); its public names are importable from here too.

:func:`perfect_information_bound` regenerates the engine's demand and lead-time
draws for a seed (or replication) and solves; :class:`RollingHorizonPolicy` is an
engine policy that re-solves the model from the observed state with forecast
demand and mean lead times.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import networkx as nx
import numpy as np
import pyomo.environ as pyo

from des_supply.distributions import Distribution
from des_supply.network import Network, Node
from des_supply.rng import PeriodDraws, SeedLike, replication_seed, root_sequence, stream

from .network_model import (
    DATA,
    Key,
    ModelStructure,
    NetworkState,
    build_network_model,
    fix_plan,
    load_network_data,
    model_size,
    plan_of,
    shared_source_edges,
    update_network_model,
)
from .solve import DirectHighs, SolveReport, new_solver, solve

__all__ = [
    "BoundResult",
    "ModelStructure",
    "NetworkState",
    "PlanPolicy",
    "RollingHorizonPolicy",
    "build_network_model",
    "default_queue_penalty",
    "engine_draws",
    "fix_plan",
    "forecast_mean",
    "longest_lead_path",
    "model_size",
    "perfect_information_bound",
    "plan_of",
    "shared_source_edges",
    "state_from_observation",
    "update_network_model",
]


def _demand_law(node: Node) -> Distribution:
    """The demand per period of a demand node (periodic networks refuse arrival processes)."""
    return cast(Distribution, node.demand)


def engine_draws(
    network: Network, periods: int, seed: SeedLike = 0, replication: int | None = None
) -> tuple[dict[str, np.ndarray], dict[Key, np.ndarray]]:
    """The demand and lead-time draws the engine uses for *seed* (or replication k).

    Same streams as ``Simulation``: ``stream(root, "demand", n)`` and
    ``stream(root, "lead_time", u, v)`` read through :class:`PeriodDraws`, with
    ``root = root_sequence(seed)`` or ``replication_seed(seed, k)``.
    """
    root = root_sequence(seed) if replication is None else replication_seed(seed, replication)
    demand = {
        n.name: np.array([d.at(t) for t in range(periods)])
        for n in network.demand_nodes
        for d in [PeriodDraws(_demand_law(n), stream(root, "demand", n.name))]
    }
    leads = {
        e.key: np.array([int(d.at(t)) for t in range(periods)], dtype=int)
        for e in network.edges
        for d in [PeriodDraws(e.lead_time, stream(root, "lead_time", e.source, e.target))]
    }
    return demand, leads


def forecast_mean(dist: Distribution, start: int, n: int) -> np.ndarray:
    """A deterministic forecast of periods ``start .. start+n-1``: ``dist.forecast(start, n)``."""
    return dist.forecast(start, n)


@dataclass(frozen=True)
class BoundResult:
    """A perfect-information lower bound and the plan that attains the incumbent."""

    bound: float  # solver's best bound on the total cost [$]
    objective: float  # cost of the incumbent plan (= engine cost if exact)
    per_period_bound: float  # bound / periods
    period_costs: tuple[float, ...]  # the incumbent's cost in each period
    orders: dict[str, tuple[float, ...]]  # the incumbent plan, per node and period
    termination: str
    status: str
    time: float  # solve seconds
    build_time: float  # model build seconds
    gap: float | None
    periods: int
    integer_orders: bool  # False: continuous relaxation of the engine's rounding
    exact: bool
    size: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in self.__dict__.items()
            if k != "orders"
        } | {"orders": {n: list(r) for n, r in self.orders.items()}}


def perfect_information_bound(
    network: Network,
    periods: int,
    seed: SeedLike = 0,
    replication: int | None = None,
    *,
    integer: bool | None = None,
    exact: bool = True,
    time_limit: float = 60.0,
    rel_gap: float = 1e-6,
    threads: int = 1,
    solver_seed: int = 0,
) -> BoundResult:
    """A lower bound on the cost of any policy on the engine's draws for *seed*.

    The model knows the whole demand path and every lead time in advance, so its
    optimum is no larger than the cost of any policy run on the same draws
    (``Simulation(network, periods, seed)`` or replication k of ``simulate``);
    averaged over replications it bounds the expected cost.  The bound reported
    is the solver's best bound (valid even when the time limit stopped it, with or
    without an incumbent); ``objective`` is the incumbent plan's cost (NaN, with no
    ``orders``, when the limit came before any incumbent).  ``integer=False`` bounds with
    continuous orders (a relaxation of the engine's rounding, still valid).
    """
    demand, leads = engine_draws(network, periods, seed, replication)
    tick = time.perf_counter()
    m = build_network_model(network, demand, leads, periods, integer=integer, exact=exact)
    built = time.perf_counter() - tick
    rep = solve(
        m,
        time_limit=time_limit,
        rel_gap=rel_gap,
        threads=threads,
        seed=solver_seed,
        require_incumbent=False,
    )
    bound = rep.bound if rep.bound is not None else -math.inf
    if rep.has_incumbent:
        bound = min(bound, rep.objective)
    return BoundResult(
        bound=bound,
        objective=rep.objective,
        per_period_bound=bound / periods,
        period_costs=tuple(float(pyo.value(m.period_cost[t])) for t in m.T)
        if rep.has_incumbent
        else (),
        orders=plan_of(m) if rep.has_incumbent else {},
        termination=rep.termination,
        status=rep.status,
        time=rep.time,
        build_time=built,
        gap=rep.gap,
        periods=periods,
        integer_orders=m._net.integer,
        exact=exact,
        size=model_size(m),
    )


@dataclass(frozen=True)
class PlanPolicy:
    """Replays a fixed plan in the engine: node n orders ``orders[n][t]`` in period t."""

    orders: Mapping[str, Sequence[float]]

    def act(self, obs: Any) -> dict[str, float]:
        t = obs.t
        return {
            n: float(self.orders[n][t])
            for n in obs.deciding
            if n in self.orders and t < len(self.orders[n])
        }


# -- rolling horizon ----------------------------------------------------------------------------
def _node_lead(S: ModelStructure, n: str, leads: Mapping[Key, int]) -> int:
    ls = [leads[k] for k in S.inbound[n]]
    return max(ls) if S.rule[n] == "assembly" else min(ls)


def _auto_safety_stock(
    network: Network, S: ModelStructure, leads: Mapping[Key, int], samples: int = 20_000
) -> dict[str, float]:
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
        draws = (
            _demand_law(nd).sample(rng, 0, samples * (L + 1)).reshape(samples, L + 1).sum(axis=1)
        )
        q = float(np.quantile(draws, p / (p + h)))
        out[nd.name] = max(0.0, q - float(np.mean(draws)))
    return out


def state_from_observation(
    network: Network,
    obs: Any,
    S: ModelStructure,
    leads: Mapping[Key, int],
    look: int,
    capacity_left: Mapping[str, float] | None = None,
) -> NetworkState:
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
    later: dict[str, np.ndarray] = {}  # initial-pipeline units reaching n at t+1..t+look
    for n in S.stock:
        st.on_hand[n] = float(obs.on_hand(n))
        if n in S.demand_nodes:
            st.external_backlog[n] = float(obs.external_backlog(n))
        initial = S.node[n].initial_pipeline
        st.node_arrivals[n] = {
            k: initial[t + k] for k in range(1, len(initial) - t) if initial[t + k] > 0
        }
        later[n] = np.zeros(look)
        for step, q in st.node_arrivals[n].items():
            if step <= look:
                later[n][step - 1] = q
    est_pending: dict[Key, float] = {}
    kits_on_order: dict[str, float] = {}
    for n in S.stock:
        inbound = S.inbound[n]
        # node units (kits for assembly) reaching stock at t+1..t+look, initial pipeline included
        pipe = np.asarray(obs.pipeline(n, look), dtype=float)
        edge_pipe = np.maximum(0.0, pipe - later[n])
        if len(inbound) == 1 or not S.simple[n]:
            weights = {k: 1.0 for k in inbound}  # one supplier, or bom x kits on each edge
        elif S.rule[n] == "split":
            weights = {k: float(S.edge[k].share or 0.0) for k in inbound}
        else:
            weights = {k: 1.0 / len(inbound) for k in inbound}
        due = np.flatnonzero(edge_pipe > 0)
        arriving = list(zip((due + 1).tolist(), edge_pipe[due].tolist(), strict=True))
        for k in inbound:
            factor = S.edge[k].bom * weights[k]
            st.in_transit[k] = {j: float(q * factor) for j, q in arriving}
        owed = max(0.0, float(obs.on_order(n)) - float(pipe.sum()))  # node units (kits)
        for k in inbound:
            est_pending[k] = owed * S.edge[k].bom * weights[k]
        if not S.simple[n]:  # kits on order beyond the pending and in-transit estimate
            kits_on_order[n] = max(0.0, float(obs.on_order(n)) - sum(later[n].tolist()))
    is_pending_source = {
        u
        for (u, _) in S.edge
        if S.node[u].shortage == "backlog"
        and (S.node[u].kind == "stock" or math.isfinite(S.node[u].capacity))
    }
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
        internal = float(obs.backlog(u)) - (
            float(obs.external_backlog(u)) if u in S.demand_nodes else 0.0
        )
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


def default_queue_penalty(network: Network) -> float:
    """1% of the smallest positive holding or shortage cost (0.01 if there is none): small
    against every real cost, so it only decides between plans the model rates equal."""
    costs = [c for n in network.nodes for c in (n.holding_cost, n.shortage_cost) if c > 0]
    return 0.01 * min(costs, default=1.0)


def longest_lead_path(network: Network) -> int:
    """Longest sum of rounded mean lead times along a path from a supplier to any node."""
    G = network.graph()
    for _, _, data in G.edges(data=True):
        data["L"] = int(round(data["edge"].lead_time.mean))
    return int(nx.dag_longest_path_length(G, weight="L")) if G.number_of_edges() else 0


class _NetworkHighs:
    """A network model's :class:`~optimization.solve.DirectHighs`, fed from its value store
    (``m._data``, which :func:`~optimization.network_model.load_network_data` fills)."""

    def __init__(self, m: pyo.ConcreteModel, **options: Any) -> None:
        self.m = m
        self.highs = DirectHighs(m, **options)
        pos = self.highs.position
        self.slots = {
            name: np.array([pos(p) for p in getattr(m, name).values()], dtype=np.int64)
            for name in DATA
        }

    def solve(self, **data: Any) -> SolveReport:
        """Load *data* (as :func:`update_network_model` takes it) and re-solve."""
        values = self.highs.values
        for name in load_network_data(self.m, **data):
            slots = self.slots[name]
            values[slots] = np.fromiter(self.m._data[name].values(), float, len(slots))
        return self.highs.solve()


class RollingHorizonPolicy:
    """Model-predictive control: re-solve the network model at every epoch, apply period 0.

    At each decision epoch the policy reads the state from the Observation (see
    :func:`state_from_observation` for what it has to approximate), sets demand
    to the forecast of the next ``horizon`` periods (``forecast="mean"``:
    each demand distribution's ``forecast``; or a callable ``(t, horizon) -> {node: array}``) and
    lead times to their rounded means, re-solves and returns the deciding nodes'
    period-0 orders.  The model is built once; epochs only change its data and re-solve
    one persistent HiGHS instance: with ``resolve="direct"`` (the default) the new data
    go straight into HiGHS in bulk (:class:`~optimization.solve.DirectHighs`; the
    model's Pyomo Params are then left as built), with ``resolve="pyomo"`` through the
    Pyomo Params and Pyomo's persistent interface (several times slower per epoch; the
    plans are the same, which the tests check ledger for ledger).

    ``safety_stock`` (number, mapping node -> units, or ``"auto"``) is added to a
    demand node's forecast in the first period its current order can reach, so
    the certainty-equivalent plan keeps that much extra stock (``"auto"``: the
    newsvendor level over lead time + 1 periods, see ``_auto_safety_stock``).
    With zero safety stock the policy is the certainty-equivalent one.

    Choose ``horizon`` longer than :func:`longest_lead_path`: an upstream order
    whose effect lands after the window never pays off inside it, and the policy
    then starves the chain (a warning says so).

    A node serving several customers (``owmr``'s warehouse) ships to them first come,
    first served in the engine, but the model allocates its stock freely: requests it
    cannot ship would queue, and the engine would hand the next units to the oldest
    request, not where the plan needs them (the MPC then starved one retailer while
    overstocking the others: 149.6 a period on ``owmr`` against 21.8 for echelon base
    stock).  So the plans pay ``queue_penalty`` per unit and period such a source owes
    or loses (default: 1% of the smallest positive holding or shortage cost) and queue
    nothing they can avoid; networks without a shared source are planned as before.

    ``epoch_times`` holds the wall seconds of every epoch (state, update, solve);
    ``terminations`` counts solver outcomes.
    """

    def __init__(
        self,
        network: Network,
        horizon: int,
        forecast: str | Callable = "mean",
        *,
        safety_stock: float | Mapping[str, float] | str = 0.0,
        integer: bool = False,
        exact: bool = False,
        time_limit: float = 10.0,
        rel_gap: float = 1e-4,
        threads: int = 1,
        seed: int = 0,
        resolve: str = "direct",
        queue_penalty: float | None = None,
    ) -> None:
        if resolve not in ("direct", "pyomo"):
            raise ValueError(f"resolve(={resolve!r}) must be 'direct' or 'pyomo'")
        if forecast != "mean" and not callable(forecast):
            raise ValueError(f"forecast(={forecast!r}) must be 'mean' or a callable (t, n) -> dict")
        self.network, self.horizon, self.forecast = network, int(horizon), forecast
        longest = longest_lead_path(network)
        if self.horizon <= longest + 1:
            warnings.warn(
                f"RollingHorizonPolicy: horizon={self.horizon} does not exceed the "
                f"longest lead-time path ({longest}) + 1; upstream orders cannot pay "
                "off inside the window",
                stacklevel=2,
            )
        self.solve_options: dict[str, Any] = dict(
            time_limit=time_limit, rel_gap=rel_gap, threads=threads, seed=seed
        )
        self.leads = {e.key: int(round(e.lead_time.mean)) for e in network.edges}
        tick = time.perf_counter()
        self.queue_penalty = (
            default_queue_penalty(network) if queue_penalty is None else queue_penalty
        )
        self.model = build_network_model(
            network,
            {},
            self.leads,
            self.horizon,
            integer=integer,
            exact=exact,
            queue_penalty=self.queue_penalty,
        )
        self.build_time = time.perf_counter() - tick
        self._S: ModelStructure = self.model._net
        if isinstance(safety_stock, str):
            if safety_stock != "auto":
                raise ValueError(
                    f"safety_stock(={safety_stock!r}) must be a number, a mapping or 'auto'"
                )
            self.safety_stock = _auto_safety_stock(network, self._S, self.leads)
        elif isinstance(safety_stock, Mapping):
            self.safety_stock = {str(k): float(v) for k, v in safety_stock.items()}
        else:
            self.safety_stock = {n: float(safety_stock) for n in self._S.demand_nodes}
        self._look = self.horizon + max(self.leads.values(), default=0) + 64
        self.resolve = resolve
        self.opt = new_solver(parameters_only=True) if resolve == "pyomo" else None
        self._direct = _NetworkHighs(self.model, **self.solve_options) if self.opt is None else None
        self._queue: dict[str, tuple[int, float]] = {}  # supplier: (t, queue at end of t)
        self.epoch_times: list[float] = []
        self.terminations: dict[str, int] = {}
        self.last_report: SolveReport | None = None

    def _demand(self, t: int) -> dict[str, np.ndarray]:
        S, H = self._S, self.horizon
        if callable(self.forecast):
            given = self.forecast(t, H)
            rows = {n: np.asarray(given.get(n, np.zeros(H)), float)[:H] for n in S.demand_nodes}
        else:
            rows = {n: _demand_law(S.node[n]).forecast(t, H) for n in S.demand_nodes}
        for n in S.demand_nodes:
            row = rows[n].copy()
            if S.oad:
                row[0] = 0.0  # period t's demand has already happened
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
        state = state_from_observation(
            self.network, obs, self._S, self.leads, self._look, self._capacity_left(t)
        )
        if self._direct is not None:
            rep = self._direct.solve(demand=self._demand(t), state=state, start=t)
            value = self._direct.highs.primal
        else:
            update_network_model(self.model, demand=self._demand(t), state=state, start=t)
            rep = solve(self.model, opt=self.opt, **self.solve_options)
            value = pyo.value
        self.last_report = rep
        self.terminations[rep.termination] = self.terminations.get(rep.termination, 0) + 1
        orders = {}
        for n in obs.deciding:
            q = max(0.0, float(value(self.model.x[n, 0])))
            orders[n] = q if q > 1e-7 else 0.0
        if state.capacity_left:
            self._track_queues(obs, state, orders)
        self.epoch_times.append(time.perf_counter() - tick)
        return orders

    def timing(self) -> dict[str, float]:
        """Mean, median and max seconds per epoch so far."""
        x = np.asarray(self.epoch_times) if self.epoch_times else np.zeros(1)
        return {
            "epochs": len(self.epoch_times),
            "mean": float(x.mean()),
            "median": float(np.median(x)),
            "max": float(x.max()),
            "build": self.build_time,
        }
