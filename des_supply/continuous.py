"""The continuous-time engine: arrival processes, real lead times, continuous review.

A network with ``time="continuous"`` runs here.  :class:`ContinuousSimulation` is a
subclass of :class:`~des_supply.sim.Simulation`: orders are placed, shipped,
backlogged (first come first served) or lost, received and assembled by the very
same code as in periodic time; what differs is the clock.

Events (SimPy, one clock)
-------------------------
* **Time 0**: every stocking node reviews once, downstream first (a base-stock
  policy orders up to its level).
* **Demand arrival** at a node (its arrival process, :mod:`des_supply.arrivals`):
  the units are served from stock on hand, the rest backlogged or lost by the node's
  shortage rule; then the node **reviews** (its inventory position changed), and so
  does every stocking node upstream of it, downstream first: their echelon positions
  changed, and their installation positions change only through the orders of this
  chain, placed before they review.  So every node reviews at every change of its
  inventory position, installation or echelon (continuous review); a receipt changes
  neither, so it triggers no review.
* **Shipment arrival**: each shipment draws its own lead time when it leaves (the
  k-th shipment on an edge takes the k-th draw of the edge's stream), and arrives
  that much later; ``Edge.sequential`` keeps the arrivals in the order sent.
  Arrivals at the same instant as a demand come first (URGENT priority), as in
  periodic time.  A receipt does not change the inventory position, so no review.
* **Review triggers** (``review=``): ``"demand"`` (default) is the continuous review
  above; ``"arrival"`` makes a node review at each receipt of a shipment that spent
  time in transit (its stock changed, its position did not) and not after demands;
  ``"event"`` does both; a number ``R`` makes every stocking node review every ``R``
  time units (at 0, R, 2R, ..., downstream first) and not after demands or receipts:
  periodic review in continuous time.  Receipts of the initial pipeline trigger no
  review.
* **Tick** every ``bucket`` time units (and at the horizon): one ledger row for the
  bucket [start, end); a tick goes before every other event at its time, so an event
  at a bucket's end counts in the next bucket (and one at the horizon not at all).

Money and ledger
----------------
Holding (per unit on hand per unit time), backlog (per unit owed per unit time) and
in-transit holding (per unit per unit time) costs are integrated exactly over time;
a lost unit costs ``shortage_cost`` once, an order ``fixed_order_cost`` once and
``order_cost`` per unit.  :class:`ContinuousLedger` rows cover ``bucket`` time units
each: flows (ordered, demand, sales, ...) and costs accrued within the bucket, levels
(``on_hand``, ``backlog``, ``in_transit``) at its end, so the ledger's conservation
check holds row by row.  ``time_average`` gives the time-weighted levels of each row,
and ``path`` (with ``path=True``) every level change for plots.

Driving: ``run(policy)`` answers every review from a policy; an outside agent uses
``reset(seed)``, ``act(action)``, ``advance()`` (or ``step``), one epoch per review, with
``accrued_cost()`` for the cost between epochs (the semi-Markov env's reward and
``env.now`` its ``dt``): both give the same ledger.

Randomness: one stream per named element (``("demand", node)`` and
``("lead_time", source, target)``, :func:`des_supply.rng.stream`), so two policies on
the same seed see the same customers and the same k-th lead time on each edge.

:func:`simulate_continuous` runs replications and reports the cost per unit time with
a CI, time-average on hand and backlog and fill rates per node.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import numpy as np
from simpy.core import StopSimulation
from simpy.events import NORMAL, EventPriority

from .arrivals import ArrivalProcess
from .distributions import Distribution
from .evaluate import BATCHES, confidence_interval
from .ledger import Ledger, total_cost
from .network import Network
from .policies import Policy
from .problem import Problem, as_problem
from .rng import SeedLike, replication_seed, stream
from .sim import Observation, Simulation, UrgentTimeout

__all__ = [
    "LEVELS",
    "REVIEW_TRIGGERS",
    "ContinuousLedger",
    "ContinuousNodeSummary",
    "ContinuousObservation",
    "ContinuousResults",
    "ContinuousSimulation",
    "simulate_continuous",
]

#: Levels whose time average each ledger row keeps (``ContinuousLedger.time_average``).
LEVELS = ("on_hand", "backlog", "in_transit")
#: What makes a node review (``ContinuousSimulation(review=...)``), besides a number R.
REVIEW_TRIGGERS = ("demand", "arrival", "event")
BLOCK = 256
#: Priority of the ticks: before everything else at their time (URGENT is 0), so a row
#: covers [start, end) whatever the order in which events were scheduled.
FIRST = EventPriority(-1)


def _positive(name: str, value: Any) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (math.isfinite(value) and value > 0)
    ):
        raise ValueError(f"{name}(={value!r}) must be a number > 0 and finite")


class _Draws:
    """Successive draws of one distribution from one generator, in blocks."""

    __slots__ = ("constant", "dist", "i", "rng", "values")
    values: list[float]

    def __init__(self, dist: Distribution, rng: np.random.Generator) -> None:
        self.dist, self.rng, self.values, self.i = dist, rng, [], 0
        self.constant = dist.constant

    def next(self) -> float:
        if self.constant is not None:
            return self.constant
        if self.i >= len(self.values):
            self.values, self.i = self.dist.sample(self.rng, 0, BLOCK).tolist(), 0
        value = self.values[self.i]
        self.i += 1
        return value


class _Delivery:
    """The callback of one shipment's arrival event."""

    __slots__ = ("edge", "sim", "units")

    def __init__(self, sim: ContinuousSimulation, edge: Any, units: float) -> None:
        self.sim, self.edge, self.units = sim, edge, units

    def __call__(self, event: Any) -> None:
        self.sim._arrive(self.edge, self.units, self.sim.env.now)


class _Customers:
    """The customers of one node: the callback of its next demand arrival, which schedules
    the one after (one object per node: a node has one customer on the way at a time)."""

    __slots__ = ("reviews", "sampler", "sim", "state", "units")

    def __init__(self, sim: ContinuousSimulation, state: Any, sampler: Any) -> None:
        self.sim, self.state, self.sampler, self.units = sim, state, sampler, 0.0
        self.reviews = sim._reviews[state.name]  # the node and the stocking nodes upstream

    def schedule(self) -> None:
        nxt = self.sampler.next()
        if nxt is not None:
            self.units = nxt[1]
            UrgentTimeout(self.sim.env, nxt[0], NORMAL).callbacks.append(self)

    def __call__(self, event: Any) -> None:
        self.sim._customer(self)


class ContinuousObservation(Observation):
    """The observation at a continuous-time review: ``t`` is the (real) time now."""

    __slots__ = ()

    def pipeline(self, node: str, n: int) -> tuple[float, ...]:
        raise NotImplementedError(
            "pipeline() counts arrivals per period; in continuous time use "
            "on_order() (arrival times are not periods)"
        )


@dataclass(frozen=True)
class ContinuousLedger(Ledger):
    """A :class:`Ledger` whose rows are buckets of ``bucket`` time units (the last may be
    shorter: ``durations``), plus the time-weighted levels of each row and, optionally,
    the path of levels at every event."""

    bucket: float = 1.0
    durations: np.ndarray = field(default_factory=lambda: np.zeros(0))
    time_average: dict[str, np.ndarray] = field(default_factory=dict)
    path: dict[str, np.ndarray] | None = None

    @property
    def horizon(self) -> float:
        return float(self.durations.sum())

    def rows_from(self, warmup: float) -> int:
        """The first row that starts at *warmup* (which must be a multiple of the bucket)."""
        k = round(warmup / self.bucket)
        if warmup < 0 or abs(k * self.bucket - warmup) > 1e-9 * max(1.0, warmup):
            raise ValueError(f"warmup(={warmup}) must be a multiple of bucket(={self.bucket}) >= 0")
        if k >= len(self.durations):
            raise ValueError(
                f"warmup(={warmup}) must be shorter than the horizon (={self.horizon})"
            )
        return k


class ContinuousSimulation(Simulation):
    """One continuous-time network over ``horizon`` time units; ``run(policy)``.

    Parameters
    ----------
    network : Network
        With ``time="continuous"``.
    horizon : float
        Length of a run [time units].
    seed : int, SeedSequence or None
        Root of the random streams.
    bucket : float
        Time units per ledger row.
    path : bool
        Record every level change (``ContinuousLedger.path``) for plots.
    review : str or float
        When nodes review: ``"demand"`` (continuous review, default), ``"arrival"``,
        ``"event"`` (both), or a number R > 0: every stocking node every R time units.
    """

    TIME = "continuous"

    def __init__(
        self,
        network: Network,
        horizon: float,
        seed: SeedLike = 0,
        *,
        bucket: float = 1.0,
        path: bool = False,
        review: str | float = "demand",
    ) -> None:
        if isinstance(review, str):
            if review not in REVIEW_TRIGGERS:
                raise ValueError(
                    f"review(={review!r}) must be one of {', '.join(REVIEW_TRIGGERS)} "
                    "or a review interval > 0 [time units]"
                )
            self.review_interval = None
        else:
            _positive("review", review)
            self.review_interval = float(review)
        self.review = review
        self._on_demand = review in ("demand", "event")
        self._on_arrival = review in ("arrival", "event")
        for name, value in (("horizon", horizon), ("bucket", bucket)):
            _positive(name, value)
        self.horizon, self.bucket, self._record_path = float(horizon), float(bucket), path
        rows = max(1, math.ceil(self.horizon / self.bucket - 1e-9))
        super().__init__(network, rows, seed)

    # -- setup -------------------------------------------------------------------------------
    def reset_state(self, seed: SeedLike) -> None:
        super().reset_state(seed)
        self._obs = ContinuousObservation(self)
        self._leads = {
            e: _Draws(
                e.edge.lead_time, stream(self.root, "lead_time", e.source.name, e.target.name)
            )
            for e in self._edges
        }
        # who reviews after a demand at a node: the node and every stocking node upstream of
        # it (their echelon positions changed; their installation positions change only by
        # orders from this chain), downstream first
        order = [self._by_name[n] for n in self.network.downstream_first]
        self._reviews = {
            s.name: [
                u for u in order if not u.supply and (u is s or s.name in self._echelons[u.name])
            ]
            for s in self._states
        }
        self._arrivals = [
            _Customers(
                self,
                self._by_name[n.name],
                # an arrival process: Network._check_continuous_time refuses anything else
                cast(ArrivalProcess, n.demand).sampler(stream(self.root, "demand", n.name)),
            )
            for n in self.network.nodes
            if n.demand is not None
        ]
        # what _integrate walks: stocking nodes with their inbound edges (supply nodes hold
        # nothing), and the edges with an in-transit holding cost
        self._levels = [
            (
                i,
                s,
                s.inbound[0] if len(s.inbound) == 1 and s.simple_in else None,
                [e for e in s.inbound if e.hold],
            )
            for i, s in enumerate(self._states)
            if not s.supply
        ]
        n = len(self._states)
        self._area = [[0.0] * n for _ in LEVELS]
        self._transit_area = [0.0] * n  # transit holding cost accrued in the bucket
        self._last = 0.0
        self._over = False
        self._pending: list[Any] = []  # reviews waiting for an outside agent's answer
        self._awaiting = False
        self._averages: list[float] = []
        self._durations: list[float] = []
        self._path: list[tuple[float, ...]] = []

    def _initial_arrival(self, s: Any, k: int, q: float) -> Any:
        """Initial pipeline entry k reaches *s* at time k."""
        yield UrgentTimeout(self.env, k)
        if self._over:
            return
        self._integrate()
        s.init_pending -= q
        del s.init_due[k]
        s.received += q
        self._stock_in(s, q, k)
        self._record()

    # -- driving -----------------------------------------------------------------------------
    def run(self, policy: Policy, seed: SeedLike | None = None) -> ContinuousLedger:
        """Simulate the horizon answering every review from *policy*."""
        self._start_run(policy, seed)
        try:
            self.env.run(until=self.env.process(self._clock()))
        finally:
            self._policy = None
        return self.ledger()

    # -- driven from outside (the semi-Markov env's path) ---------------------------------------
    def reset(self, seed: SeedLike | None = None) -> Observation | None:
        """Start a run driven from outside: an epoch is one node's review (time 0: every
        stocking node, downstream first; then after each demand, the chain of reviews it
        starts).  Answer with ``act(action)``, move on with ``advance()`` (or ``step``)."""
        self._seed = self._seed if seed is None else seed
        self.reset_state(self._seed)
        self._policy = None
        self._pending = list(self._deciders)
        self._process = self.env.process(self._clock())
        return self._next_epoch()

    def observe(self) -> Observation:
        if self._done or not self._awaiting:
            raise RuntimeError("not at a decision epoch: call reset() or advance() first")
        return self._obs

    def act(self, action: Any) -> None:
        """Answer the pending review (time does not move until ``advance``)."""
        obs = self.observe()
        group = obs.deciding
        self._check_action(obs.t, action, group)  # refuse before anything happens
        self._pending.pop(0)
        self._awaiting = False
        self._place_orders(obs.t, action, group)

    def advance(self) -> Observation | None:
        """Run to the next review; None when the horizon is over."""
        if self._awaiting:
            raise RuntimeError("answer the pending epoch with act(action) before advance()")
        return self._next_epoch()

    def _next_epoch(self) -> Observation | None:
        while not self._pending:
            if self._process.triggered:  # the clock wrote its last row
                self._done = True
                self._obs.deciding = self._obs.deciding_this_period = self._allowed = ()
                return None
            try:  # step by step: env.run(until=...) would add a callback per call
                while not self._process.triggered:
                    self.env.step()
            except StopSimulation:  # an event needs reviews
                pass
        group = self._singles[self._pending[0].name]
        obs = self._obs
        obs.t, obs.deciding, obs.deciding_this_period = self.env.now, group, group
        self._allowed = group
        self._awaiting = True
        return obs

    @property
    def reviewing(self) -> tuple[str, ...]:
        """The nodes that review at the pending instant, the one deciding now first
        (after a demand: its node and the stocking nodes upstream, downstream first)."""
        return tuple(s.name for s in self._pending) if self._awaiting else ()

    def accrued_revenue(self) -> float:
        """Revenue accrued from time 0 to now [$] (profit problems: the reward is revenue
        minus cost between epochs)."""
        return self.total_revenue + sum(s.revenue for s in self._states)

    def accrued_cost(self) -> float:
        """Cost accrued from time 0 to now [$] (rows written plus the current bucket so far):
        the reward between two epochs of an outside agent is minus its difference."""
        self._integrate()
        on_hand, backlog, _ = self._area
        part = 0.0
        for i, s in enumerate(self._states):
            node = s.node
            part += (
                node.holding_cost * on_hand[i]
                + s.fixed
                + s.variable
                + node.shortage_cost * (s.lost if s.lost_rule else backlog[i])
                + self._transit_area[i]
            )
        return self.total_cost + part

    # a time here, the period (an int) in the periodic engine
    @property
    def now(self) -> float:  # type: ignore[override]
        return float(self.env.now)

    def _clock(self) -> Any:
        env = self.env
        self._record()
        if self._policy is not None:  # driven from outside, reset() hands these out
            self._cascade(list(self._deciders))
        for customers in self._arrivals:
            customers.schedule()
        if self.review_interval is not None:
            UrgentTimeout(env, self.review_interval, NORMAL).callbacks.append(self._periodic)
        for k in range(1, self.periods + 1):
            end = self.horizon if k == self.periods else k * self.bucket
            start = env.now
            yield UrgentTimeout(env, end - start, FIRST)
            self._integrate()
            self._write_row(end - start)
        self._over = True

    # -- events ------------------------------------------------------------------------------
    def _customer(self, customers: _Customers) -> None:
        if self._over:
            return
        self._integrate()
        s = customers.state
        now = self.env.now
        self._external_demand(now, s, customers.units)
        if not self._on_demand:  # reviews at receipts or every R time units only
            pass
        elif self._policy is None:  # driven from outside: pause for these reviews
            self._pending = list(customers.reviews)
        elif len(customers.reviews) > 1:
            self._cascade(customers.reviews)
        elif not s.supply:  # one review, nothing upstream
            obs = self._obs
            group = self._singles[s.name]
            obs.t, obs.deciding, obs.deciding_this_period = now, group, group
            self._allowed = group
            self._place_orders(now, self._policy.act(obs), group)
            obs.deciding = obs.deciding_this_period = self._allowed = ()
        if self._record_path:
            self._record()
        customers.schedule()
        if self._pending:
            raise StopSimulation(None)  # back to advance(): an outside agent decides now

    def _cascade(self, nodes: list[Any]) -> None:
        """Review *nodes* one after the other (downstream first: an order reaches its
        supplier before the supplier reviews)."""
        obs, policy = self._obs, self._policy
        assert policy is not None  # reviews cascade only in run(policy)
        obs.t = self.env.now
        for s in nodes:
            group = self._singles[s.name]
            obs.deciding = obs.deciding_this_period = self._allowed = group
            self._place_orders(obs.t, policy.act(obs), group)
        obs.deciding = obs.deciding_this_period = self._allowed = ()

    def _ship(self, t: Any, e: Any, q: float) -> None:
        e.source.shipped += q
        e.target.variable += e.cost * q
        now = self.env.now
        due = now + self._leads[e].next()
        if e.edge.sequential:
            due = max(due, e.last_arrival)
            e.last_arrival = due
        if due <= now:
            self._deliver(e, q, now)
            return
        e.transit += q
        UrgentTimeout(self.env, due - now).callbacks.append(_Delivery(self, e, q))

    def _arrive(self, e: Any, q: float, t: Any) -> None:
        if self._over:
            return
        self._integrate()
        e.transit -= q
        self._deliver(e, q, t)
        self._record()
        s = e.target
        if self._on_arrival and not s.supply:
            self._review([s])

    def _review(self, nodes: list[Any]) -> None:
        """Review *nodes* now: from the policy, or pause for an outside agent."""
        if self._policy is not None:
            self._cascade(nodes)
            return
        self._pending = list(nodes)
        raise StopSimulation(None)  # back to advance(): an outside agent decides now

    def _periodic(self, event: Any) -> None:
        """Every stocking node reviews (periodic review every ``review_interval``)."""
        if self._over:
            return
        self._integrate()
        assert self.review_interval is not None  # scheduled only with periodic review
        UrgentTimeout(self.env, self.review_interval, NORMAL).callbacks.append(self._periodic)
        self._review(list(self._deciders))

    # -- accounting --------------------------------------------------------------------------
    def _in_transit(self, s: Any) -> float:
        """Units on their way to *s* (assembly: the kits they make up), as the periodic
        ledger counts them."""
        if s.simple_in:
            return s.init_pending + sum((e.transit + e.buffer) / e.bom for e in s.inbound)
        return s.init_pending + min((e.transit + e.buffer) / e.bom for e in s.inbound)

    def _integrate(self) -> None:
        """Accrue the levels held since the last event (they are constant in between)."""
        now = self.env.now
        dt = now - self._last
        if dt <= 0:
            return
        self._last = now
        on_hand, backlog, transit = self._area
        cost = self._transit_area
        for i, s, one, held in self._levels:
            on_hand[i] += s.on_hand * dt
            backlog[i] += s.backlog * dt
            if one is not None:  # one supplier, bom 1: the common case, inlined
                transit[i] += (s.init_pending + one.transit + one.buffer) * dt
            else:
                transit[i] += self._in_transit(s) * dt
            for e in held:
                cost[i] += e.hold * (e.transit + e.buffer) * dt

    def _record(self) -> None:
        if self._record_path:
            self._path.append(
                (
                    self.env.now,
                    *(s.on_hand for s in self._states),
                    *(s.backlog for s in self._states),
                    *(
                        self._obs.inventory_position(s.name) if not s.supply else 0.0
                        for s in self._states
                    ),
                )
            )

    def _write_row(self, duration: float) -> None:
        extend = self._rows.extend
        on_hand, backlog, transit = self._area
        cost = revenue = 0.0
        for i, s in enumerate(self._states):
            node = s.node
            holding = node.holding_cost * on_hand[i]
            shortage = node.shortage_cost * (s.lost if s.lost_rule else backlog[i])
            carried = self._transit_area[i]
            cost += holding + shortage + s.fixed + s.variable + carried
            revenue += s.revenue
            extend(
                (
                    s.on_hand,
                    s.backlog,
                    s.lost,
                    self._in_transit(s) if s.inbound else 0.0,
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
                    carried,
                    s.revenue,
                    s.cut,
                    s.short,
                )
            )
            self._averages.extend(
                (on_hand[i] / duration, backlog[i] / duration, transit[i] / duration)
            )
            on_hand[i] = backlog[i] = transit[i] = self._transit_area[i] = 0.0
            s.ordered = s.received = s.shipped = s.demand = s.sales = 0.0
            s.served = s.lost = s.revenue = s.fixed = s.variable = s.cut = s.short = 0.0
        self._durations.append(duration)
        self.total_cost += cost
        self.total_revenue += revenue

    def ledger(self) -> ContinuousLedger:
        base = super().ledger()
        n = len(self._states)
        averages = np.array(self._averages, dtype=float).reshape(-1, n, len(LEVELS))
        path = None
        if self._record_path:
            table = np.array(self._path, dtype=float).reshape(-1, 1 + 3 * n)
            path = {
                "time": table[:, 0],
                "on_hand": table[:, 1 : 1 + n],
                "backlog": table[:, 1 + n : 1 + 2 * n],
                "inventory_position": table[:, 1 + 2 * n :],
            }
        return ContinuousLedger(
            base.nodes,
            base.data,
            base.objective,
            base.initial_on_hand,
            base.initial_pipeline,
            bucket=self.bucket,
            durations=np.array(self._durations),
            time_average={k: np.ascontiguousarray(averages[:, :, j]) for j, k in enumerate(LEVELS)},
            path=path,
        )


# -- replications and KPIs -----------------------------------------------------------------------
@dataclass(frozen=True)
class ContinuousNodeSummary:
    """Per-node figures after warm-up, per unit time (levels are time averages)."""

    on_hand: float
    backlog: float
    in_transit: float
    lost: float  # units lost per unit time
    ordered: float  # units ordered per unit time
    cost: float  # cost per unit time
    revenue: float  # revenue per unit time
    fill_rate: float | None  # share of external demand met from stock at once


@dataclass(frozen=True)
class ContinuousResults:
    """What :func:`simulate_continuous` measured: ``mean`` is the cost (or profit) per unit
    time after warm-up, averaged over replications, with a 95% CI (from batch means of a
    single replication)."""

    objective: str
    horizon: float
    warmup: float
    replications: int
    seed: int | None
    per_replication: np.ndarray
    mean: float
    ci95: tuple[float, float]
    fill_rate: float | None
    nodes: dict[str, ContinuousNodeSummary]
    ledgers: list[ContinuousLedger] = field(default_factory=list, repr=False)
    time: str = "continuous"

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "objective": self.objective,
            "horizon": self.horizon,
            "warmup": self.warmup,
            "replications": self.replications,
            "seed": self.seed,
            "engine": "event",
            "mean": self.mean,
            "ci95": list(self.ci95),
            "fill_rate": self.fill_rate,
            "per_replication": self.per_replication.tolist(),
            "nodes": {n: asdict(s) for n, s in self.nodes.items()},
        }


def _summary(ledger: ContinuousLedger, warmup: float) -> dict[str, Any]:
    k = ledger.rows_from(warmup)
    span = ledger.durations[k:]
    length = float(span.sum())
    d = {f: v[k:] for f, v in ledger.data.items()}
    series = ledger.objective_series()[k:]
    per_time = float(series.sum() / length)
    chunks = [c for c in np.array_split(np.arange(len(series)), BATCHES) if len(c)]
    return {
        "value": per_time,
        "batches": [float(series[c].sum() / span[c].sum()) for c in chunks],
        **{
            level: (ledger.time_average[level][k:] * span[:, None]).sum(0) / length
            for level in LEVELS
        },
        **{f: d[f].sum(0) / length for f in ("lost", "ordered", "revenue")},
        "cost": total_cost(d).sum(0) / length,
        "demand": d["demand"].sum(0),
        "served": d["served"].sum(0),
    }


def simulate_continuous(
    problem: Problem | Network,
    policy: Policy,
    *,
    horizon: float | None = None,
    replications: int = 1,
    seed: int | None = 0,
    warmup: float | None = None,
    bucket: float = 1.0,
    keep_ledgers: bool = False,
    review: str | float = "demand",
) -> ContinuousResults:
    """Run *replications* of a continuous-time problem and summarise them per unit time.

    ``horizon`` and ``warmup`` are in time units (defaults: the problem's ``periods`` and
    ``warmup``, read as time units); ``warmup`` must be a multiple of ``bucket``.
    Replication k runs on ``replication_seed(seed, k)``: two policies on the same seed
    are paired (common random numbers).  ``review`` says when nodes review (see
    :class:`ContinuousSimulation`: ``"demand"``, ``"arrival"``, ``"event"`` or an interval).
    """
    problem = as_problem(problem)
    network = problem.network
    if network.time != "continuous":
        raise ValueError(f"network {network.name!r} is periodic: use des_supply.evaluate.simulate")
    if replications < 1:
        raise ValueError(f"replications(={replications}) must be >= 1")
    horizon = float(problem.periods if horizon is None else horizon)
    warmup = float(problem.warmup if warmup is None else warmup)
    if not 0 <= warmup < horizon:
        raise ValueError(f"warmup(={warmup}) must be in [0, horizon={horizon})")
    summaries, ledgers = [], []
    for k in range(replications):
        sim = ContinuousSimulation(
            network, horizon, replication_seed(seed, k), bucket=bucket, review=review
        )
        ledger = sim.run(policy)
        summaries.append(_summary(ledger, warmup))
        if keep_ledgers:
            ledgers.append(ledger)
    values = np.array([s["value"] for s in summaries])
    _, lo, hi = confidence_interval(values if replications > 1 else summaries[0]["batches"])

    def avg(key: str) -> np.ndarray:
        return np.mean([s[key] for s in summaries], axis=0)

    demand = np.sum([s["demand"] for s in summaries], axis=0)
    served = np.sum([s["served"] for s in summaries], axis=0)
    nodes = {}
    for i, n in enumerate(network.nodes):
        nodes[n.name] = ContinuousNodeSummary(
            on_hand=float(avg("on_hand")[i]),
            backlog=float(avg("backlog")[i]),
            in_transit=float(avg("in_transit")[i]),
            lost=float(avg("lost")[i]),
            ordered=float(avg("ordered")[i]),
            cost=float(avg("cost")[i]),
            revenue=float(avg("revenue")[i]),
            fill_rate=float(served[i] / demand[i]) if demand[i] > 0 else None,
        )
    total = float(demand.sum())
    return ContinuousResults(
        objective=problem.objective,
        horizon=horizon,
        warmup=warmup,
        replications=replications,
        seed=seed,
        per_replication=values,
        mean=float(values.mean()),
        ci95=(lo, hi),
        fill_rate=float(served.sum() / total) if total > 0 else None,
        nodes=nodes,
        ledgers=ledgers,
    )
