"""Gymnasium adapter over the engine's decision epochs (not a second simulator).

:class:`InventoryEnv` drives :class:`des_supply.sim.Simulation` from outside:
``reset`` runs the engine to its first decision epoch, ``step(action)`` answers
that epoch with ``Simulation.act`` and runs ``Simulation.advance`` to the next
one.  The dynamics, the order of events in a period and the costs are the
engine's, so a heuristic run by ``Simulation.run`` and an agent trained here are
judged on the same model, and with the same seed on the same demand and
lead-time draws.

The pieces the multi-agent adapters (:mod:`rl.multi_agent`) share live here too:
:class:`NetworkLayout` (observation blocks and action mappings per stocking node, and
``order_action``: orders -> action), :class:`EpisodeSeeds` (which seed each episode runs
on; the semi-Markov env :mod:`rl.semi_markov_env` numbers its episodes with it too) and
:class:`EpisodeRunner` (seeding, epochs, rewards).

``make_env(problem, **env_kwargs)`` builds an env of a
:class:`~des_supply.problem.Problem` (or of a :class:`~des_supply.network.Network`):
the problem gives the network, a fresh copy of its market for each env and the
default horizon.  Named problems and the Gymnasium ids (``des_supply/SingleStage-v0``,
...) belong to the application layer: :mod:`scenarios.gym_ids`.
"""

from __future__ import annotations

import inspect
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import gymnasium as gym
import networkx as nx
import numpy as np
from gymnasium import spaces

from des_supply.distributions import Distribution
from des_supply.ledger import FIELDS
from des_supply.market import PriceGrid
from des_supply.network import Network
from des_supply.policies import Action
from des_supply.problem import Problem, as_problem
from des_supply.rng import replication_seed, root_sequence
from des_supply.sim import Market, Observation, Simulation

__all__ = [
    "ACTION_MODES",
    "DEFAULT_PERIODS",
    "PIPELINE_CAP",
    "PRICE_ACTIONS",
    "EpisodeRunner",
    "EpisodeSeeds",
    "InventoryEnv",
    "NetworkLayout",
    "NodeSpec",
    "OrderOutOfRange",
    "default_periods",
    "env_parameters",
    "make_env",
    "resolve_problem",
]

ACTION_MODES = ("quantity", "base-stock", "capped-base-stock")
PRICE_ACTIONS = ("auto", "grid", "continuous", "none")
DEFAULT_PERIODS = 200  # episode length when neither the caller nor the problem says less
PIPELINE_CAP = 10  # longest default pipeline block (periods)
ORDER_FACTOR = (
    4.0  # default max_order = 4 x mean demand per period reaching the node x review period
)

_COST_KEYS = ("holding", "shortage", "fixed", "variable", "transit")
_COST_COLUMNS = tuple(FIELDS.index(f"{k}_cost") for k in _COST_KEYS)
_SMALL = 8  # below this many ledger nodes, per-period costs are summed in Python (exactly)
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)  # the dtypes of native float arrays
_REVENUE_COLUMN = FIELDS.index("revenue")


# -- what the network implies -----------------------------------------------------------------
def _demand_level(dist: Distribution) -> float:
    """Mean demand per period for scaling; the peak mean for seasonal demand and traces."""
    return float(dist.peak_mean)


def _lead_bound(dist: Distribution) -> int:
    """The largest lead time *dist* takes, or mean + 3 standard deviations when unbounded."""
    if math.isfinite(dist.upper_bound):
        return math.ceil(dist.upper_bound)
    return math.ceil(dist.mean + 3 * dist.std)


def _flows(network: Network) -> dict[str, float]:
    """Mean demand per period reaching each node: its own plus what its customers pass up.

    A customer's flow is multiplied by the bill-of-materials quantity of the edge and,
    under ``supply_rule="split"``, by the edge's share; under ``"priority"`` every
    supplier is counted for the whole flow (an upper bound).
    """
    G = network.graph()
    flow: dict[str, float] = {}
    for name in reversed(list(nx.topological_sort(G))):
        node = G.nodes[name]["node"]
        f = _demand_level(node.demand) if node.demand is not None else 0.0
        for _, target, data in G.out_edges(name, data=True):
            e, customer = data["edge"], G.nodes[target]["node"]
            share = e.share if customer.supply_rule == "split" and e.share is not None else 1.0
            f += e.bom * share * flow[target]
        flow[name] = f
    return flow


def _per_node(
    value: float | Mapping[str, float] | None,
    nodes: Sequence[str],
    what: str,
    default: Mapping[str, float],
    whole: bool = False,
    allow_zero: bool = False,
) -> dict[str, float]:
    """A per-node setting: None (defaults), one number for all nodes, or a partial mapping."""
    if value is None:
        return dict(default)
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(nodes))
        if unknown:
            raise ValueError(
                f"{what}: no stocking node(s) {', '.join(map(repr, unknown))} "
                f"(stocking nodes: {', '.join(nodes)})"
            )
        out = {n: float(value.get(n, default[n])) for n in nodes}
    else:
        try:
            out = {n: float(value) for n in nodes}
        except (TypeError, ValueError):
            raise ValueError(
                f"{what}(={value!r}) must be a number or a mapping node -> number"
            ) from None
    for n, v in out.items():
        if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
            raise ValueError(
                f"{what} at node {n!r} must be a finite number "
                f"{'>= 0' if allow_zero else '> 0'}, got {v}"
            )
        if whole and not v.is_integer():
            raise ValueError(f"{what} at node {n!r} must be a whole number here, got {v}")
    return out


class OrderOutOfRange(ValueError):
    """An order a ``"quantity"`` action cannot express: outside ``[0, max_order]`` at *node*
    (:meth:`NetworkLayout.order_action`); callers that set ``max_order`` can say how."""

    def __init__(self, node: str, order: float, max_order: float) -> None:
        super().__init__(
            f"order {order} at node {node!r} is outside [0, max_order={max_order:g}]; "
            "raise max_order"
        )
        self.node, self.order, self.max_order = node, order, max_order


class ObservableMarket(Protocol):
    """A market with observable state (des_supply.market.CompetitiveMarket)."""

    def observation(self) -> dict[str, float]: ...


@dataclass(frozen=True)
class NodeSpec:
    """What the adapters need to know about one stocking node."""

    name: str
    backlog: bool  # the node backlogs (its backlog feature is observed)
    demand: bool  # the node has external demand (its last demand is observed)
    pipeline: int  # periods of pipeline observed
    flow: float  # mean demand per period reaching the node (peak mean if seasonal)
    lead: int  # lead-time bound into the node (periods)
    review_period: int
    review_offset: int
    max_order: float  # order quantity at action +1 (or the largest discrete action)
    max_level: float  # order-up-to level at action +1

    @property
    def stock_scale(self) -> float:
        """Fixed scale of on hand, backlog and on order: mean demand over review + lead time."""
        return max(1.0, self.flow * (self.review_period + self.lead))

    @property
    def period_scale(self) -> float:
        """Fixed scale of pipeline entries: mean demand over one review period."""
        return max(1.0, self.flow * self.review_period)


class NetworkLayout:
    """Observation blocks and action mappings of a network's stocking nodes.

    Shared by :class:`InventoryEnv` (one flat vector, one joint action) and the
    PettingZoo adapters (one block and one action per node).  See
    :class:`InventoryEnv` for the layout and the defaults.
    """

    def __init__(
        self,
        network: Network,
        periods: int,
        *,
        action_mode: str = "quantity",
        discrete: bool = False,
        max_order: float | Mapping[str, float] | None = None,
        max_level: float | Mapping[str, float] | None = None,
        pipeline_length: int | Mapping[str, int] | None = None,
        market: Market | None = None,
    ) -> None:
        if action_mode not in ACTION_MODES:
            raise ValueError(
                f"action_mode(={action_mode!r}) must be one of {', '.join(ACTION_MODES)}"
            )
        self.network, self.periods = network, int(periods)
        self.action_mode, self.discrete = action_mode, bool(discrete)
        stock = network.stock_nodes
        names = [n.name for n in stock]
        flow = _flows(network)
        lead = {
            n: max((_lead_bound(e.lead_time) for e in network.suppliers(n)), default=0)
            for n in names
        }
        d_order, d_level, d_pipe = {}, {}, {}
        for n in stock:
            q = max(1.0, math.ceil(ORDER_FACTOR * flow[n.name] * n.review_period))
            if math.isfinite(n.capacity):
                q = max(1.0, min(q, math.floor(n.capacity)))
            d_order[n.name] = float(q)
            d_level[n.name] = float(
                max(1.0, math.ceil(ORDER_FACTOR * flow[n.name] * (n.review_period + lead[n.name])))
            )
            d_pipe[n.name] = float(min(lead[n.name], PIPELINE_CAP))
        orders = _per_node(max_order, names, "max_order", d_order, whole=self.discrete)
        levels = _per_node(max_level, names, "max_level", d_level, whole=self.discrete)
        pipes = _per_node(
            pipeline_length, names, "pipeline_length", d_pipe, whole=True, allow_zero=True
        )
        self.nodes: tuple[NodeSpec, ...] = tuple(
            NodeSpec(
                n.name,
                n.shortage == "backlog",
                n.demand is not None,
                int(pipes[n.name]),
                flow[n.name],
                lead[n.name],
                n.review_period,
                n.review_offset,
                orders[n.name],
                levels[n.name],
            )
            for n in stock
        )
        self.names: tuple[str, ...] = tuple(names)
        self.index = {n: i for i, n in enumerate(names)}
        self._cycles, self._traces = self._phases(network)
        self.phase_names: tuple[str, ...] = tuple(
            [f"cycle{p}.{f}" for p in self._cycles for f in ("sin", "cos")]
            + [f"trace{m}.period" for m in self._traces]
        )
        self.node_names = {n.name: tuple(self._block_names(n)) for n in self.nodes}
        # a market with observable state (des_supply.market.CompetitiveMarket): its features last
        self.market: ObservableMarket | None = (
            cast(ObservableMarket, market)
            if callable(getattr(market, "observation", None))
            else None
        )
        self.market_names: tuple[str, ...] = tuple(
            f"market.{k}" for k in (self.market.observation() if self.market is not None else {})
        )
        self.observation_names: tuple[str, ...] = tuple(
            [x for n in self.nodes for x in self.node_names[n.name]]
            + list(self.phase_names)
            + list(self.market_names)
        )
        self._nonneg = self.bounds()[0] == 0.0  # features clipped at 0 (all but sin/cos)
        # computed once for the per-step path: what each block reads, the action maxima
        self._all_nonneg = bool(self._nonneg.all())
        self._periodic = bool(self._cycles or self._traces)
        self._plan = tuple((n.name, n.backlog, n.pipeline, n.demand) for n in self.nodes)
        # per node: its pipeline length and which entries of Observation.state (on_hand,
        # backlog, on_order, last_demand, pipeline...) make its block, in block order
        self._state_plan = tuple(
            (
                n.name,
                n.pipeline,
                operator.itemgetter(
                    0,
                    *((1,) if n.backlog else ()),
                    2,
                    *range(4, 4 + n.pipeline),
                    *((3,) if n.demand else ()),
                ),
            )
            for n in self.nodes
        )
        self._action_plans: dict[tuple[str, ...], tuple[tuple[str, ...], list[float]]] = {}
        self._size = len(self.observation_names)
        # the observation is one node's block, all of it >= 0: observation's fastest path
        self._one_block = (
            len(self.nodes) == 1 and not self._periodic and self.market is None and self._all_nonneg
        )

    # -- observations ------------------------------------------------------------------------
    @staticmethod
    def _phases(network: Network) -> tuple[list[int], list[int]]:
        cycles: set[int] = set()
        traces: set[int] = set()

        def visit(dist: Any) -> None:
            kind = getattr(dist, "kind", "")
            if kind == "shifted":
                visit(dist.base)
            elif kind == "nonstationary" and len(set(dist.means)) > 1:
                cycles.add(len(dist.means))
            elif kind == "trace" and len(set(dist.values)) > 1:
                (cycles if dist.after == "cycle" else traces).add(len(dist.values))

        for n in network.stock_nodes:
            if n.demand is not None:
                visit(n.demand)
        return sorted(cycles), sorted(traces)

    @staticmethod
    def _block_names(n: NodeSpec) -> list[str]:
        names = [f"{n.name}.on_hand"]
        if n.backlog:
            names.append(f"{n.name}.backlog")
        names.append(f"{n.name}.on_order")
        names += [f"{n.name}.pipeline[{k}]" for k in range(1, n.pipeline + 1)]
        if n.demand:
            names.append(f"{n.name}.last_demand")
        return names

    def node_bounds(self, node: str) -> tuple[np.ndarray, np.ndarray]:
        size = len(self.node_names[node])
        return np.zeros(size, np.float32), np.full(size, np.inf, np.float32)

    def phase_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        low = [-1.0] * (2 * len(self._cycles)) + [0.0] * len(self._traces)
        high = [1.0] * (2 * len(self._cycles)) + [float(m - 1) for m in self._traces]
        return np.array(low, np.float32), np.array(high, np.float32)

    def market_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        k = len(self.market_names)
        return np.zeros(k, np.float32), np.full(k, np.inf, np.float32)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        parts = [self.node_bounds(n) for n in self.names] + [
            self.phase_bounds(),
            self.market_bounds(),
        ]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def node_features(self, view: Observation, node: NodeSpec, t: float) -> list[float]:
        """The block of *node* when deciding in period *t* (``t > view.t`` only at the horizon)."""
        out: list[float] = []
        self._read_block(out, view, (node.name, node.backlog, node.pipeline, node.demand), t)
        return out

    @staticmethod
    def _read_block(
        out: list[float], view: Observation, plan: tuple[str, bool, int, bool], t: float
    ) -> None:
        """Append the block of one node (``plan``: name, backlog, pipeline, demand) to *out*."""
        name, backlog, pipeline, demand = plan
        out.append(view.on_hand(name))
        if backlog:
            out.append(view.backlog(name))
        out.append(view.on_order(name))
        if pipeline:  # pipelines are a periodic engine's: t and view.t are periods
            shift = cast(int, t - view.t)
            due = view.pipeline(name, shift + pipeline)
            out.extend(due[shift:] if shift else due)
        if demand:
            out.append(view.last_demand(name))

    def phase_features(self, t: float) -> list[float]:
        out: list[float] = []
        for p in self._cycles:
            angle = 2.0 * math.pi * (t % p) / p
            out += [math.sin(angle), math.cos(angle)]
        out += [float(min(t, m - 1)) for m in self._traces]
        return out

    def observation(self, view: Observation, t: float) -> np.ndarray:
        if t == view.t and self._one_block:  # one node, nothing else: its state's pick
            name, pipeline, pick = self._state_plan[0]
            block = pick(view.state(name, pipeline))
            if not min(block) > 0.0:  # some entry is 0, -0.0, negative or NaN: clip
                block = [v if not v <= 0.0 else 0.0 for v in block]
            return np.array(block, _F32)  # the same cast as fromiter's, a little faster
        values: list[float] = []
        if t == view.t:  # at an epoch: each block is a pick from the node's state
            state = view.state
            for name, pipeline, pick in self._state_plan:
                values += pick(state(name, pipeline))
        else:  # the state at the horizon, after the last epoch: pipelines shifted
            read = self._read_block
            for plan in self._plan:
                read(values, view, plan, t)
        if self._periodic:
            values += self.phase_features(t)
        if self.market is not None:
            values += list(self.market.observation().values())
        # tiny negative rounding residues (e.g. -1e-15 units in transit) must not leave the space
        if self._all_nonneg:
            # np.maximum(float32 array, 0.0) in Python, before the cast (a ufunc call costs
            # more than the engine's accounting of a period): the same bits, since the cast
            # keeps the sign, maximum gives +0.0 for -0.0 and NaN stays NaN
            return np.fromiter([v if not v <= 0.0 else 0.0 for v in values], _F32, len(values))
        arr = np.array(values, dtype=np.float32)
        np.maximum(arr, 0.0, out=arr, where=self._nonneg)
        return arr

    def node_observation(self, view: Observation, node: str, t: float) -> np.ndarray:
        """One node's block followed by the phase features."""
        values = self.node_features(view, self.nodes[self.index[node]], t) + self.phase_features(t)
        arr = np.asarray(values, dtype=np.float32)
        k = len(self.node_names[node])
        arr[:k] = np.maximum(arr[:k], 0.0)
        return arr

    def feature_scale(self) -> np.ndarray:
        """Fixed divisors that bring each feature to order 1 (see :mod:`rl.wrappers`)."""
        scale: list[float] = []
        for n in self.nodes:
            for feature in self.node_names[n.name]:
                what = feature.rsplit(".", 1)[1]
                if what.startswith("pipeline"):
                    scale.append(n.period_scale)
                elif what == "last_demand":
                    scale.append(max(1.0, n.flow))
                else:
                    scale.append(n.stock_scale)
        scale += [1.0] * (2 * len(self._cycles)) + [float(max(1, m - 1)) for m in self._traces]
        if self.market_names:  # prices: divided by the highest price the seller may set
            grid = getattr(self.market, "price_grid", None)
            scale += [float(max(1.0, grid.high if grid is not None else 1.0))] * len(
                self.market_names
            )
        return np.asarray(scale, dtype=np.float32)

    def cost_scale(self) -> float:
        """A rough cost per period: holding or owing one period of mean demand at every
        stocking node, plus its purchase cost and revenue, plus fixed costs per review."""
        total = 0.0
        for spec in self.nodes:
            n = self.network.node(spec.name)
            total += spec.flow * (n.holding_cost + n.shortage_cost + n.order_cost + n.price)
            total += n.fixed_order_cost / n.review_period
        return total if total > 0 else 1.0

    # -- actions -----------------------------------------------------------------------------
    @property
    def width(self) -> int:
        """Action components per node."""
        return 2 if self.action_mode == "capped-base-stock" else 1

    def _maxima(self, n: NodeSpec) -> list[float]:
        if self.action_mode == "quantity":
            return [n.max_order]
        if self.action_mode == "base-stock":
            return [n.max_level]
        return [n.max_level, n.max_order]

    def action_names(self, node: str | None = None) -> tuple[str, ...]:
        suffix = {
            "quantity": ("order",),
            "base-stock": ("level",),
            "capped-base-stock": ("level", "cap"),
        }[self.action_mode]
        nodes = self.names if node is None else (node,)
        return tuple(f"{n}.{s}" for n in nodes for s in suffix)

    def node_action_space(self, node: str) -> spaces.Space:
        maxima = self._maxima(self.nodes[self.index[node]])
        if not self.discrete:
            return spaces.Box(-1.0, 1.0, (len(maxima),), np.float32)
        if len(maxima) == 1:
            return spaces.Discrete(int(maxima[0]) + 1)
        return spaces.MultiDiscrete([int(m) + 1 for m in maxima])

    def joint_action_space(self) -> spaces.Space:
        maxima = [m for n in self.nodes for m in self._maxima(n)]
        if not self.discrete:
            return spaces.Box(-1.0, 1.0, (len(maxima),), np.float32)
        if len(maxima) == 1:
            return spaces.Discrete(int(maxima[0]) + 1)
        return spaces.MultiDiscrete([int(m) + 1 for m in maxima])

    def parse(self, action: Any, nodes: Sequence[NodeSpec], space: spaces.Space) -> np.ndarray:
        """Check *action* for *nodes* (all nodes, or one) and return it in physical units.

        Continuous actions are clipped to [-1, 1] and rescaled; discrete ones must be whole
        numbers within the space.  Raises ValueError naming the problem.
        """
        return np.array(self.parse_values(action, nodes, space), dtype=np.float64)

    def parse_values(
        self, action: Any, nodes: Sequence[NodeSpec], space: spaces.Space
    ) -> list[float]:
        """:meth:`parse` as a list of Python floats (the per-step path: no numpy arithmetic
        on a handful of numbers; the same IEEE operations, so the same values)."""
        key = tuple(n.name for n in nodes) if nodes is not self.nodes else ()
        plan = self._action_plans.get(key)
        if plan is None:
            plan = self._action_plans[key] = (
                tuple(x for n in nodes for x in self.action_names(n.name)),
                [m for n in nodes for m in self._maxima(n)],
            )
        names, maxima = plan
        if type(action) is np.ndarray and (action.dtype is _F32 or action.dtype is _F64):
            arr = action  # what agents send: float32 (or float64) arrays, exact as Python floats
        else:
            try:
                arr = np.asarray(action, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"action must be numeric, got {action!r}") from None
        if isinstance(space, spaces.Discrete):
            if arr.shape not in ((), (1,)):
                raise ValueError(
                    f"action for a Discrete({space.n}) space must be one integer, "
                    f"got shape {arr.shape}"
                )
            arr = arr.reshape(1)
        elif arr.shape != space.shape:
            raise ValueError(
                f"action has shape {arr.shape}, expected {space.shape} ({', '.join(names)})"
            )
        values = arr.tolist()
        if not self.discrete:  # (np.clip(a, -1, 1) + 1) * 0.5 * max, element by element
            out = [(min(max(v, -1.0), 1.0) + 1.0) * 0.5 * m for v, m in zip(values, maxima)]
            total = sum(out)  # NaN exactly when an entry is (the rest is finite after clipping)
            if total != total:
                for j, v in enumerate(values):
                    if v != v:
                        raise ValueError(f"action[{j}] ({names[j]}) is NaN")
            return out
        for j, v in enumerate(values):
            if v != v:
                raise ValueError(f"action[{j}] ({names[j]}) is NaN")
        for j, (v, m) in enumerate(zip(values, maxima)):
            if not (v.is_integer() and 0 <= v <= m):
                raise ValueError(
                    f"action[{j}] ({names[j]}) must be a whole number in [0, {int(m)}], got {v}"
                )
        return values

    def order(
        self, node: NodeSpec, values: Sequence[float] | np.ndarray, view: Observation
    ) -> float:
        """The order quantity of *node* given its action in physical units."""
        if self.action_mode == "quantity":
            return float(values[0])
        cap = values[1] if self.action_mode == "capped-base-stock" else None
        return self.quantity(node.name, values[0], cap, view)

    def order_action(self, orders: Mapping[str, float]) -> np.ndarray | int:
        """The ``"quantity"`` action (of :meth:`joint_action_space`) that orders *orders*
        (node -> quantity; missing nodes 0): what lets a heuristic drive an env.  Raises
        ValueError for another action mode and unknown nodes, :class:`OrderOutOfRange` (a
        ValueError) for quantities outside ``[0, max_order]``."""
        if self.action_mode != "quantity":
            raise ValueError(
                f"orders_to_action needs action_mode='quantity', not {self.action_mode!r}"
            )
        unknown = sorted(set(orders) - set(self.names))
        if unknown:
            raise ValueError(f"no stocking node(s) {', '.join(map(repr, unknown))}")
        out = np.zeros(len(self.nodes))
        for i, node in enumerate(self.nodes):
            q = float(orders.get(node.name, 0.0))
            if not 0.0 <= q <= node.max_order:
                raise OrderOutOfRange(node.name, q, node.max_order)
            if self.discrete:
                out[i] = round(q)
            else:
                out[i] = 2.0 * q / node.max_order - 1.0
        if self.discrete:
            ints = out.astype(np.int64)
            return int(ints[0]) if len(self.nodes) == 1 else ints
        return out  # float64 on purpose: a float32 cast would move the order by ~1e-7 units

    @staticmethod
    def quantity(node: str, level: float, cap: float | None, view: Observation) -> float:
        """The base-stock order ``(level - IP)^+`` of *node*, at most *cap* if given."""
        q = max(0.0, float(level) - view.inventory_position(node))
        return q if cap is None else min(q, float(cap))


# -- episodes ---------------------------------------------------------------------------------
class EpisodeSeeds:
    """Which seed each episode runs on: the numbering every des_supply env shares.

    ``start(seed, options)`` begins the next episode.  After ``seed=s`` the episodes are
    numbered ``offset, offset + stride, ...`` and episode *k* runs on
    ``des_supply.rng.replication_seed(s, k)``, the seed of replication *k* in
    :func:`des_supply.evaluate.simulate` (common random numbers between agents and
    heuristics); ``options={"episode": k}`` jumps to episode *k*; without any seed the
    root comes from fresh entropy, as Gymnasium does for ``seed=None``.
    """

    def __init__(self, episode_offset: int = 0, episode_stride: int = 1) -> None:
        for what, v, least in (
            ("episode_offset", episode_offset, 0),
            ("episode_stride", episode_stride, 1),
        ):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < least:
                raise ValueError(f"{what}(={v!r}) must be an integer >= {least}")
        self.offset, self.stride = int(episode_offset), int(episode_stride)
        self.root: np.random.SeedSequence | None = None
        self.next_episode = self.offset
        self.episode = -1

    def start(self, seed: int | None, options: Mapping[str, Any] | None) -> np.random.SeedSequence:
        """Number the next episode (``self.episode``) and return the seed it runs on."""
        if seed is not None:
            self.root = root_sequence(seed)
            self.next_episode = self.offset
        elif self.root is None:
            self.root = np.random.SeedSequence()  # fresh entropy, as Gymnasium does for seed=None
        k = (options or {}).get("episode")
        if k is None:
            k = self.next_episode
        elif isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(f"options['episode'](={k!r}) must be an integer >= 0")
        self.episode, self.next_episode = int(k), int(k) + self.stride
        return replication_seed(self.root, self.episode)


class EpisodeRunner(EpisodeSeeds):
    """Seeding, epochs and rewards of one network, shared by the single- and multi-agent envs.

    Episode *k* after ``begin(seed=s)`` runs the engine on
    ``des_supply.rng.replication_seed(s, k)``, the seed of replication *k* in
    :func:`des_supply.evaluate.simulate`.  Episodes are numbered
    ``offset, offset + stride, offset + 2 * stride, ...`` after each seeding;
    ``options={"episode": k}`` jumps to episode *k*.
    """

    def __init__(
        self,
        network: Network,
        periods: int,
        market: Market | None = None,
        episode_offset: int = 0,
        episode_stride: int = 1,
    ) -> None:
        super().__init__(episode_offset, episode_stride)
        self.sim = Simulation(network, periods, 0, market)
        self.periods = self.sim.periods
        self.stock = tuple(n.name for n in network.stock_nodes)
        self._stock_index = [self.sim.network_nodes.index(n) for n in self.stock]
        self._stock_array = np.array(self._stock_index, dtype=np.intp)
        self._is_stock = [i in self._stock_index for i in range(len(self.sim.network_nodes))]
        self._small = len(self.sim.network_nodes) < _SMALL
        self._one_stock = len(self.stock) == 1  # info["node_cost"] from its template
        self._no_cost = np.zeros(len(self.stock))  # info["node_cost"]'s template (float64)
        self._cost_objective = self.sim.objective == "cost"
        self.view: Observation | None = None
        self.t: float = 0  # the period (Observation.t)
        self.done = True
        self._cost = self._revenue = 0.0
        self._accounted = 0
        if market is None and not any(n.review_offset < self.periods for n in network.stock_nodes):
            raise ValueError(
                f"no stocking node reviews within the horizon of {self.periods} periods"
            )

    def begin(
        self, seed: int | None, options: Mapping[str, Any] | None
    ) -> tuple[Observation, dict[str, Any]]:
        """Start an episode; returns the first epoch's view and the info of the periods before it."""
        episode_seed = self.start(seed, options)
        self._cost = self._revenue = 0.0
        self._accounted = 0
        view = self.sim.reset(episode_seed)
        if view is None:  # pragma: no cover - excluded in __init__
            raise RuntimeError("the engine asked for no decision in the whole horizon")
        self.view, self.t, self.done = view, view.t, False
        _, info = self._accrued(view.t)  # periods (and their costs) before the first epoch
        return view, info

    def answer(self, orders: dict[str, float] | Action) -> tuple[float, dict[str, Any]]:
        """Answer the pending epoch with *orders* (or a full Action) and run to the next one
        (under sequential decisions, possibly the next node's epoch in the same period)."""
        if self.done:
            raise RuntimeError("the episode is over (or was never started): call reset()")
        t0, sim = self.t, self.sim
        sim.act(orders)  # Simulation.step, without its call
        view = sim.advance()
        if view is None:
            self.done, self.t = True, self.periods
        else:
            self.view, self.t = view, view.t
        return self._accrued(self.t - t0)

    def answer_period(
        self, decide: Callable[[Observation], dict[str, float] | Action]
    ) -> tuple[float, dict[str, Any]]:
        """Answer every epoch of the pending period, each with ``decide(view)``, and run to
        the first epoch of a later period.

        Under simultaneous decisions a period has one epoch (this is :meth:`answer`);
        under sequential decisions one per deciding node, downstream first, and
        ``decide`` sees each node's state after its customers' orders of the period.
        """
        if self.done:
            raise RuntimeError("the episode is over (or was never started): call reset()")
        t0 = self.t
        view = self.sim.act_period(decide)
        if view is None:
            self.done, self.t = True, self.periods
        else:
            self.view, self.t = view, view.t
        return self._accrued(self.t - t0)

    def _accrued(self, dt: float) -> tuple[float, dict[str, Any]]:
        """Reward and info of the periods accounted since the last call."""
        sim = self.sim
        total_cost, total_revenue = sim.total_cost, sim.total_revenue
        cost, revenue = total_cost - self._cost, total_revenue - self._revenue
        self._cost, self._revenue = total_cost, total_revenue
        start = self._accounted
        self._accounted = end = sim.accounted
        if end == start:  # no period (reset at period 0): numpy's empty sums, +0.0
            parts, node_cost = [0.0] * len(_COST_KEYS), np.zeros(len(self._stock_index))
        elif end - start == 1 and self._small:  # one period: its rows, no numpy but the result
            parts, stock_cost = sim.period_cost_sums(start, self._is_stock)
            if self._one_stock:  # a copy and a store: half the cost of np.array on a list
                node_cost = self._no_cost.copy()
                node_cost[0] = stock_cost[0]
            else:
                node_cost = np.array(stock_cost)  # Python floats: float64
        else:
            costs = sim.records(start)[:, :, list(_COST_COLUMNS)]
            parts = costs.sum(axis=(0, 1)).tolist()
            node_cost = costs.sum(axis=(0, 2))[self._stock_array]
        h, s, f, v, tr = parts  # _COST_KEYS
        return (-cost if self._cost_objective else revenue - cost), {
            "t": self.t,
            "dt": dt,
            "replication": self.episode,
            "cost": {
                "holding": h,
                "shortage": s,
                "fixed": f,
                "variable": v,
                "transit": tr,
                "total": cost,
            },
            "revenue": revenue,
            "node_cost": node_cost,
        }


# -- the single-agent env ---------------------------------------------------------------------
class InventoryEnv(gym.Env[np.ndarray, Any]):
    """## Description

    A supply-chain network simulated by the ``des_supply`` engine, controlled by one
    agent that decides the replenishment orders of every stocking node.  The env does
    not simulate anything itself: ``reset`` and ``step`` drive
    :class:`des_supply.sim.Simulation` through ``reset``/``act``/``advance``, the same
    code path that ``Simulation.run(policy)`` uses for heuristics.

    ## Decision epochs

    A step answers one period's decisions: a period in which at least one stocking node
    reviews (``Node.review_period``/``review_offset``; with a ``market``, every
    period).  Nodes that do not review at an epoch place no order whatever the
    action says; ``info["action_mask"]`` (bool, one entry per stocking node in
    observation order) marks the nodes that do.  When every node reviews every
    period, a step is one period; otherwise ``info["dt"]`` says how many periods
    passed, for SMDP discounting (``gamma ** dt``).

    **Sequential decisions** (``network.decisions == "sequential"``): the engine hands
    a period out node by node, downstream first, each node seeing its customers' orders
    of the period.  This env still decides every node in one step, from the observation
    at the period's first epoch; the step then answers the node epochs in turn.  In
    ``"quantity"`` mode the quantities are fixed by the action; in the base-stock modes
    each node's order ``(S - IP)^+`` is computed at its own turn, from its position
    after its customers' orders, so levels act as the textbook installation policy.
    Per-node agents that see each node's turn: :class:`rl.multi_agent.InventoryAECEnv`.

    ## Action Space

    ``action_mode`` chooses what the agent sets per stocking node (in the order of
    ``network.stock_nodes``, which is the order of ``action_names``):

    | action_mode           | per node         | order placed                            |
    |-----------------------|------------------|-----------------------------------------|
    | `"quantity"`          | quantity q       | q                                       |
    | `"base-stock"`        | level S          | (S - IP)^+                              |
    | `"capped-base-stock"` | level S, cap C   | min(C, (S - IP)^+)                      |

    IP is the node's installation inventory position (on hand - backlog + on order).
    Continuous (default): ``Box(-1, 1, (k,), float32)`` with ``k`` the number of
    stocking nodes (``2k`` for capped base-stock, as ``level, cap`` pairs per node);
    ``a`` maps to ``(a + 1) / 2 * max`` with ``max = max_order`` for quantities and
    caps and ``max_level`` for levels.  Out-of-range values are clipped silently
    (Gymnasium convention); NaN, a wrong shape or a non-number raise ``ValueError``.
    ``discrete=True``: the values themselves, ``Discrete(max + 1)`` for one
    component, ``MultiDiscrete`` for several; a value outside the space raises
    ``ValueError``.  The engine then rounds orders to whole units (unless the network
    is continuous) and cuts them to the node's capacities.

    **Prices.**  With a pricing market (one with a ``price_grid`` and a ``node``, e.g.
    :class:`des_supply.market.CompetitiveMarket`) the action is mixed, ``Dict({"order": <the
    space above>, "price": <price space>})``, and sets the priced node's price from
    this epoch on (``Action.prices``).  ``price_action``: ``"grid"`` (default when the
    market has a grid) is ``Discrete(n)``, index k meaning the k-th grid price;
    ``"continuous"`` is ``Box(-1, 1, (1,))`` mapped affinely onto ``[low, high]``;
    ``"none"`` keeps the node's price fixed.  ``info["price"]`` is the price set.

    Defaults, per node: ``max_order = ceil(4 * d * R)`` (at most the node's order
    capacity) and ``max_level = ceil(4 * d * (R + L))``, where ``d`` is the mean
    demand per period reaching the node (its own external demand plus its
    customers' flows times the bill of materials, times the share under a split
    rule; the peak mean for seasonal demand and traces), ``R`` its review period and
    ``L`` the largest lead time into it (mean + 3 std when unbounded).  Both can be
    given as one number or a mapping node -> number.

    ## Observation Space

    ``Box(float32)`` in raw physical units (units of each node's item), one block per
    stocking node in the order of ``network.stock_nodes``, then the period features.
    ``observation_names`` lists every entry; ``observation_table()`` prints it.

    | Feature                 | Present when                    | Min  | Max    | Meaning                                                          |
    |-------------------------|---------------------------------|------|--------|------------------------------------------------------------------|
    | `<node>.on_hand`        | always                          | 0    | Inf    | units on hand                                                    |
    | `<node>.backlog`        | shortage is "backlog"           | 0    | Inf    | units owed to customers and downstream nodes                     |
    | `<node>.on_order`       | always                          | 0    | Inf    | units ordered, not yet in stock (in transit, backlogged upstream, waiting for assembly) |
    | `<node>.pipeline[j]`    | j = 1..pipeline_length          | 0    | Inf    | units already shipped to the node, due at the start of period t + j |
    | `<node>.last_demand`    | the node has external demand    | 0    | Inf    | external demand of the latest period whose demand phase has run   |
    | `cycle<P>.sin`, `.cos`  | seasonal demand of cycle P      | -1   | 1      | sin/cos(2 pi (t mod P) / P)                                       |
    | `trace<m>.period`       | non-cycling demand trace of m values | 0 | m - 1 | min(t, m - 1)                                                   |
    | `market.<name>`         | the market has ``observation()`` | 0  | Inf    | market state at the epoch, e.g. `competitor_price`, `reference_price` |

    ``pipeline_length`` defaults to the largest lead time into the node (as for
    ``max_level``), capped at 10.  For example a lost-sales node ``stage`` with external
    demand and a lead time of 2 gives ``[stage.on_hand, stage.on_order,
    stage.pipeline[1], stage.pipeline[2], stage.last_demand]``.

    ## Rewards

    Minus the cost accounted since the previous epoch (holding, shortage, fixed and
    variable ordering, transit holding; all nodes), or revenue minus cost when the
    engine's objective is ``"profit"``.  ``info`` carries ``t`` (the period of the new
    epoch), ``dt``, ``replication`` (the episode's number k, see Seeding; not
    ``"episode"``, which SB3's ``Monitor`` and Gymnasium's ``RecordEpisodeStatistics``
    use for episode statistics), ``cost``  (``holding``, ``shortage``, ``fixed``,
    ``variable``, ``transit``, ``total``), ``revenue``, ``node_cost`` (per stocking
    node), ``orders`` (what the action asked each stocking node to order, before the
    engine's rounding and capacity cuts) and ``action_mask`` (for the new epoch).  Over
    an episode the rewards sum to minus ``Simulation.total_cost`` (or the profit),
    except for costs of periods before the first epoch (only when no node reviews in
    period 0), which ``reset`` reports in its ``info["cost"]``.

    ## Starting State

    The network's initial state (``initial_on_hand``, ``initial_pipeline``) at the
    first decision epoch, usually period 0.

    ## Episode End

    ``terminated`` is always False: inventory control has no terminal state.  The
    episode is truncated (``truncated=True``) after ``periods`` periods; an agent
    should bootstrap from the value of that last observation.  The last observation
    is the state at the end of the horizon (its pipeline entries are due in periods
    ``periods + 1, ...``; units due at ``periods`` itself count in ``on_order`` only).
    Stepping past the end raises ``RuntimeError``.

    ## Seeding

    ``reset(seed=s)`` sets the root seed; the k-th episode after it (k = 0, 1, ...)
    runs on ``des_supply.rng.replication_seed(s, k)``, the same demand and lead-time
    draws as replication k of ``des_supply.evaluate.simulate(..., seed=s)``.
    ``reset(options={"episode": k})`` jumps to episode k (later resets continue with
    k + 1).  Without any seed the root comes from fresh entropy.  ``episode_offset``
    and ``episode_stride`` (used by :func:`rl.wrappers.make_vector_env`) number the
    episodes ``offset, offset + stride, ...`` instead.

    ## Arguments

    ```python
    InventoryEnv(network, periods=200, action_mode="quantity", discrete=False,
                 max_order=None, max_level=None, pipeline_length=None, market=None,
                 price_action="auto", episode_offset=0, episode_stride=1, render_mode=None)
    ```
    ``render_mode="ansi"`` makes ``render()`` return a text table of the state,
    ``"rgb_array"`` an image of it (bars per node: on hand, backlog, on order; what
    video recorders and Stable-Baselines3's ``make_vec_env`` ask for).  A
    ``market`` (decision-dependent demand) is passed to the engine, its state is
    observed and, for pricing markets, ``price_action`` sets how the agent prices
    (see Prices above).  :func:`rl.make_env` builds it from a
    :class:`~des_supply.problem.Problem` (network, market, horizon); ``gymnasium.make``
    with the ids of :mod:`scenarios.gym_ids` builds it from a named scenario.

    ## Version History

    * v0: initial version.

    Examples:
        >>> from des_supply import Edge, Network, Node, Poisson
        >>> net = Network(nodes=(Node("plant", kind="supply"),
        ...                      Node("stage", holding_cost=1, shortage="lost", shortage_cost=9,
        ...                           demand=Poisson(5))),
        ...               edges=(Edge("plant", "stage", lead_time=2),))
        >>> env = make_env(net, periods=10)
        >>> env.observation_names
        ('stage.on_hand', 'stage.on_order', 'stage.pipeline[1]', 'stage.pipeline[2]', 'stage.last_demand')
        >>> obs, info = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(env.orders_to_action({"stage": 5}))
        >>> info["t"], info["dt"], terminated, truncated
        (1, 1, False, False)

    """

    # an instance attribute in gymnasium.Env (a ClassVar here would contradict it)
    metadata: dict[str, Any] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}  # noqa: RUF012
    observation_space: spaces.Box

    def __init__(
        self,
        network: Network,
        periods: int = DEFAULT_PERIODS,
        *,
        action_mode: str = "quantity",
        discrete: bool = False,
        max_order: float | Mapping[str, float] | None = None,
        max_level: float | Mapping[str, float] | None = None,
        pipeline_length: int | Mapping[str, int] | None = None,
        market: Market | None = None,
        price_action: str = "auto",
        episode_offset: int = 0,
        episode_stride: int = 1,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode(={render_mode!r}) must be None or one of "
                f"{', '.join(self.metadata['render_modes'])}"
            )
        if price_action not in PRICE_ACTIONS:
            raise ValueError(
                f"price_action(={price_action!r}) must be one of {', '.join(PRICE_ACTIONS)}"
            )
        self.runner = EpisodeRunner(network, periods, market, episode_offset, episode_stride)
        self.network, self.periods, self.market = network, self.runner.periods, market
        self.layout = NetworkLayout(
            network,
            self.periods,
            action_mode=action_mode,
            discrete=discrete,
            max_order=max_order,
            max_level=max_level,
            pipeline_length=pipeline_length,
            market=market,
        )
        self.action_mode, self.discrete, self.render_mode = action_mode, bool(discrete), render_mode
        low, high = self.layout.bounds()
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.order_space = self.layout.joint_action_space()
        self._position = {name: i for i, name in enumerate(self.layout.names)}
        self._sequential = network.decisions == "sequential"
        self._all_deciding = np.ones(len(self._position), dtype=bool)
        self._none_deciding = np.zeros(len(self._position), dtype=bool)
        self._names = list(self.layout.names)
        # a continuous action's shape and maxima, for step's inlined parse_values
        self._box_shape = None if self.discrete else self.order_space.shape
        self._maxima = [m for n in self.layout.nodes for m in self.layout._maxima(n)]
        self._one_value = len(self._maxima) == 1
        # the engine's deciding order (downstream first) as positions in node order; None when
        # the two agree (orders go to the engine in its order, as view.deciding lists them)
        stock = set(self._names)
        order = [self._position[n] for n in network.downstream_first if n in stock]
        self._deciding_order = None if order == list(range(len(order))) else order
        # prices: a market that says where and from what the seller prices (CompetitiveMarket)
        grid = getattr(market, "price_grid", None)
        priced = getattr(market, "node", None)
        if price_action == "auto":
            price_action = (
                "none" if grid is None else ("grid" if grid.values is not None else "continuous")
            )
        if price_action != "none":
            if grid is None or priced not in self.layout.names:
                raise ValueError(
                    f"price_action={price_action!r} needs a market with a price_grid at "
                    "a stocking node (e.g. des_supply.market.CompetitiveMarket)"
                )
            if price_action == "grid" and grid.values is None:
                raise ValueError("price_action='grid' needs a price grid (price_step > 0)")
        self.price_action = price_action
        # every stocking node decides in every period and no price: step's fast path (the
        # orders of the action as they are, the mask all True)
        self._every_period = price_action == "none" and all(
            n.review_period == 1 for n in network.stock_nodes
        )
        # one stocking node with one action value, every period, simultaneous, no price: the
        # node of the lean step (_step_one_node; None otherwise), whether its value is a
        # level, and info["orders"]'s template (float64)
        self._one_node: str | None = (
            self._names[0]
            if self._every_period and self._one_value and not self._sequential
            else None
        )
        self._one_level = action_mode == "base-stock"
        self._no_orders = np.zeros(len(self._names))
        self.price_node: str | None = priced if price_action != "none" else None
        self.price_grid: PriceGrid | None = grid if price_action != "none" else None
        if price_action == "grid":
            assert grid is not None  # checked above
            price_space: spaces.Space = spaces.Discrete(len(grid.values))
        elif price_action == "continuous":
            price_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = (
            self.order_space
            if price_action == "none"
            else spaces.Dict({"order": self.order_space, "price": price_space})
        )

    # -- what the agent sees -----------------------------------------------------------------
    @property
    def nodes(self) -> tuple[str, ...]:
        """Stocking nodes, in observation and action order."""
        return self.layout.names

    @property
    def observation_names(self) -> tuple[str, ...]:
        return self.layout.observation_names

    @property
    def action_names(self) -> tuple[str, ...]:
        names = self.layout.action_names()
        return names if self.price_node is None else (*names, f"{self.price_node}.price")

    @property
    def sim(self) -> Simulation:
        """The engine (read it, don't drive it)."""
        return self.runner.sim

    @property
    def view(self) -> Observation | None:
        """The engine's observation at the pending epoch (what a policy's ``act`` gets), or None."""
        return None if self.runner.done else self.runner.view

    @property
    def episode(self) -> int:
        """Index of the current episode (its replication number); -1 before the first reset."""
        return self.runner.episode

    def observation_table(self) -> str:
        """The observation layout of this instance as a Markdown table."""
        low, high = self.observation_space.low, self.observation_space.high
        lines = ["| Num | Observation | Min | Max |", "|-----|-------------|-----|-----|"]
        for i, (name, lo, hi) in enumerate(zip(self.observation_names, low, high)):
            lines.append(f"| {i} | `{name}` | {lo:g} | {hi:g} |")
        return "\n".join(lines)

    # -- the Gymnasium API -------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        view, info = self.runner.begin(seed, options)
        info["orders"] = np.zeros(len(self.nodes))
        if self.price_node is not None:
            info["price"] = view.price(self.price_node)
        info["action_mask"] = self._mask(view)
        return self.layout.observation(view, self.runner.t), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        one = self._one_node
        if one is not None:
            return self._step_one_node(action, one)
        runner = self.runner
        view = runner.view
        if runner.done or view is None:
            raise RuntimeError("the episode is over (or was never started): call reset()")
        if self._every_period:  # the common case, without per-epoch bookkeeping
            if (
                type(action) is np.ndarray
                and action.shape == self._box_shape
                and (action.dtype is _F32 or action.dtype is _F64)
            ):  # parse_values of a Box action, inlined
                values = [
                    (min(max(v, -1.0), 1.0) + 1.0) * 0.5 * m
                    for v, m in zip(action.tolist(), self._maxima)
                ]
                total = sum(values)  # NaN exactly when an entry is (the rest is finite)
                if total != total:  # parse_values names the entry
                    self.layout.parse_values(action, self.layout.nodes, self.order_space)
            else:
                values = self.layout.parse_values(action, self.layout.nodes, self.order_space)
            if self._sequential:  # node epochs downstream first, each node at its turn
                asked_list = values if self.action_mode == "quantity" else [0.0] * len(self._names)
                reward, info = runner.answer_period(self._node_decider(values, asked_list))
            else:
                if self.action_mode != "quantity":
                    values = self._levels_to_orders(values, view)
                asked_list = values
                if len(values) == 1:
                    orders = {self._names[0]: values[0]}
                elif self._deciding_order is None:  # deciding order = node order
                    orders = dict(zip(self._names, values))
                else:  # the engine's order (downstream first): the order its checks name nodes in
                    orders = {self._names[i]: values[i] for i in self._deciding_order}
                reward, info = runner.answer(orders)
            info["orders"] = np.array(asked_list)  # Python floats: float64
            truncated = runner.done
            info["action_mask"] = (self._none_deciding if truncated else self._all_deciding).copy()
            return self.layout.observation(view, runner.t), float(reward), False, truncated, info
        if self.price_node is not None:
            orders, asked = self.decode_action(action)
            price = self.decode_price(action)
            reward, info = runner.answer(Action(orders=orders, prices={self.price_node: price}))
            info["price"] = price
        else:
            values = self._values(action)
            position = self._position
            asked_list = [0.0] * len(position)
            if self._sequential:  # one engine epoch per deciding node, each decided at its turn

                def decide(now: Observation) -> dict[str, float]:
                    orders = self._orders(values, now, now.deciding)
                    for name, q in orders.items():
                        asked_list[position[name]] = q
                    return orders

                reward, info = runner.answer_period(decide)
            else:  # one epoch a period: answer_period would call decide once, on this view
                orders = self._orders(values, view, view.deciding)
                for name, q in orders.items():
                    asked_list[position[name]] = q
                reward, info = runner.answer(orders)
            asked = np.array(asked_list, dtype=np.float64)
        info["orders"] = asked
        truncated = runner.done
        info["action_mask"] = (
            np.zeros(len(self.nodes), dtype=bool) if truncated else self._mask(view)
        )
        return self.layout.observation(view, runner.t), float(reward), False, truncated, info

    def _step_one_node(
        self, action: Any, name: str
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """``step`` of one stocking node *name* that decides every period (one action value,
        no price, simultaneous decisions): the general fast path without its loops, dicts and
        branches over nodes.

        The order is :meth:`NetworkLayout.parse_values` of a Box action, inlined (anything
        else goes through it); ``info["orders"]`` and ``info["action_mask"]`` are copies of
        templates (fresh arrays every step: a caller may keep them)."""
        runner = self.runner
        view = runner.view
        if runner.done or view is None:
            raise RuntimeError("the episode is over (or was never started): call reset()")
        if (
            type(action) is np.ndarray
            and action.shape == self._box_shape
            and (action.dtype is _F32 or action.dtype is _F64)
        ):
            q = (min(max(action.item(), -1.0), 1.0) + 1.0) * 0.5 * self._maxima[0]
            if q != q:  # NaN: parse_values names the entry
                self.layout.parse_values(action, self.layout.nodes, self.order_space)
        else:
            q = self.layout.parse_values(action, self.layout.nodes, self.order_space)[0]
        if self._one_level:  # a base-stock level: (S - IP)^+
            q = max(0.0, q - view.inventory_position(name))
        reward, info = runner.answer({name: q})
        info["orders"] = orders = self._no_orders.copy()
        orders[0] = q
        truncated = runner.done
        info["action_mask"] = (self._none_deciding if truncated else self._all_deciding).copy()
        return self.layout.observation(view, runner.t), float(reward), False, truncated, info

    def _node_decider(
        self, values: list[float], asked: list[float]
    ) -> Callable[[Observation], dict[str, float]]:
        """``decide`` of one period's node epochs (sequential decisions, every node deciding):
        each node's order from parsed action *values*, written to *asked* (node order) in the
        base-stock modes, where it is computed at the node's turn."""
        position = self._position
        if self.action_mode == "quantity":
            by_name = dict(zip(self._names, values))
            return lambda now: {now.deciding[0]: by_name[now.deciding[0]]}
        capped = self.action_mode == "capped-base-stock"

        def decide(now: Observation) -> dict[str, float]:
            name = now.deciding[0]
            i = position[name]
            if capped:
                q = min(max(0.0, values[2 * i] - now.inventory_position(name)), values[2 * i + 1])
            else:
                q = max(0.0, values[i] - now.inventory_position(name))
            asked[i] = q
            return {name: q}

        return decide

    def _levels_to_orders(self, values: list[float], view: Observation) -> list[float]:
        """The base-stock orders of every stocking node, in node order, from parsed levels
        (and caps): :meth:`NetworkLayout.quantity` node by node."""
        position = view.inventory_position
        if self.action_mode == "base-stock":
            return [max(0.0, level - position(n)) for n, level in zip(self._names, values)]
        return [
            min(max(0.0, values[2 * i] - position(n)), values[2 * i + 1])
            for i, n in enumerate(self._names)
        ]

    # gymnasium types the return with a function-level TypeVar, which no concrete type matches
    def render(self) -> str | np.ndarray | None:  # type: ignore[override]
        if self.render_mode == "rgb_array":
            return self._frame()
        if self.render_mode != "ansi":
            return None
        view = self.runner.view
        if view is None:
            return "(not started: call reset())"
        t = self.runner.t
        head = f"period {t}/{self.periods}, episode {self.episode}" + (
            " (end)" if self.runner.done else ""
        )
        rows = [
            head,
            f"{'node':<16}{'on_hand':>10}{'backlog':>10}{'on_order':>10}{'IP':>10}  decides",
        ]
        deciding = () if self.runner.done else view.deciding_this_period
        for n in self.nodes:
            rows.append(
                f"{n:<16}{view.on_hand(n):>10.4g}{view.backlog(n):>10.4g}"
                f"{view.on_order(n):>10.4g}{view.inventory_position(n):>10.4g}"
                f"  {'yes' if n in deciding else ''}"
            )
        if self.layout.market is not None:
            state = self.layout.market.observation()
            price = f"price {view.price(self.price_node):g}, " if self.price_node else ""
            rows.append("market: " + price + ", ".join(f"{k} {v:g}" for k, v in state.items()))
        return "\n".join(rows)

    def _frame(self) -> np.ndarray:
        """The state as an RGB image (height x width x 3, uint8): bars per node."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        view = self.runner.view
        fig = Figure(figsize=(max(4.0, 0.6 * len(self.nodes) + 2), 3.2), dpi=80)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        x = np.arange(len(self.nodes))
        if view is not None:
            ax.bar(x - 0.2, [view.on_hand(n) for n in self.nodes], 0.4, label="on hand")
            ax.bar(x - 0.2, [-view.backlog(n) for n in self.nodes], 0.4, label="backlog (-)")
            ax.bar(x + 0.2, [view.on_order(n) for n in self.nodes], 0.4, label="on order")
            ax.legend(fontsize=7, loc="upper right")
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xticks(x, self.nodes, fontsize=7, rotation=30 if len(self.nodes) > 6 else 0)
        ax.set_ylabel("units")
        ax.set_title(
            f"period {self.runner.t} of {self.periods}"
            if view is not None
            else "not started: call reset()",
            fontsize=9,
        )
        fig.tight_layout()
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()

    def close(self) -> None:
        pass

    # -- actions -----------------------------------------------------------------------------
    def _mask(self, view: Observation) -> np.ndarray:
        if len(view.deciding_this_period) == len(self._position):  # every stocking node
            return self._all_deciding.copy()
        deciding = set(view.deciding_this_period)
        return np.array([n in deciding for n in self.nodes], dtype=bool)

    def decode_action(self, action: Any) -> tuple[dict[str, float], np.ndarray]:
        """The orders *action* places in the pending period (nodes that decide in it only),
        and the order asked of every stocking node (0 where the node does not review).

        Orders are computed on the current view; under sequential decisions ``step``
        computes each node's base-stock order at its own turn instead (see Decision epochs).
        """
        view = self.runner.view
        if view is None:
            raise RuntimeError("no pending decision epoch: call reset()")
        orders = self._orders(self._values(action), view, view.deciding_this_period)
        asked = np.zeros(len(self.nodes))
        for name, q in orders.items():
            asked[self._position[name]] = q
        return orders, asked

    def _values(self, action: Any) -> list[float]:
        """The order part of *action* in physical units (checked against the order space)."""
        if self.price_node is not None:
            if not isinstance(action, Mapping) or set(action) != {"order", "price"}:
                raise ValueError(
                    f"action must be a dict with keys 'order' and 'price', got {action!r}"
                )
            action = action["order"]
        return self.layout.parse_values(action, self.layout.nodes, self.order_space)

    def _orders(
        self, values: Sequence[float], view: Observation, deciding: Sequence[str]
    ) -> dict[str, float]:
        """Orders of the *deciding* nodes from parsed action *values*, on *view*."""
        position, quantity = self._position, self.layout.quantity
        if self.action_mode == "quantity":
            return {name: float(values[position[name]]) for name in deciding}
        if self.action_mode == "base-stock":
            return {name: quantity(name, values[position[name]], None, view) for name in deciding}
        return {
            name: quantity(name, values[2 * position[name]], values[2 * position[name] + 1], view)
            for name in deciding
        }

    def decode_price(self, action: Mapping[str, Any]) -> float:
        """The price *action* sets at the priced node (pricing envs only)."""
        grid = self.price_grid
        if grid is None:
            raise ValueError("this env sets no prices (price_action='none')")
        raw = action["price"]
        if self.price_action == "grid":
            arr = np.asarray(raw)
            values = grid.values
            assert values is not None  # price_action="grid": a grid with a step
            if (
                arr.size != 1
                or not float(arr.reshape(-1)[0]).is_integer()
                or not 0 <= int(arr.reshape(-1)[0]) < len(values)
            ):
                raise ValueError(
                    f"action['price'] must be a whole number in [0, {len(values) - 1}], got {raw!r}"
                )
            return float(values[int(arr.reshape(-1)[0])])
        try:
            u = float(np.asarray(raw, dtype=np.float64).reshape(-1)[0])
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"action['price'] must be a number in [-1, 1], got {raw!r}") from None
        if math.isnan(u):
            raise ValueError("action['price'] is NaN")
        u = min(max(u, -1.0), 1.0)
        return grid.low + (u + 1.0) * 0.5 * (grid.high - grid.low)

    def orders_to_action(self, orders: Mapping[str, float], price: float | None = None) -> Any:
        """The ``"quantity"`` action that places *orders* (node -> quantity; missing nodes 0).

        Lets a heuristic (``policy.act(env.view)``) drive the env, e.g. to log
        trajectories or to check the env against ``Simulation.run``.  Raises ValueError
        for unknown nodes, negative quantities and quantities above ``max_order``.  In a
        pricing env the action is ``{"order": ..., "price": ...}`` setting *price*
        (default: the price in force), which must be on the grid for ``price_action="grid"``.
        """
        if self.price_node is not None:
            order = self.layout.order_action(orders)
            grid = self.price_grid
            assert grid is not None  # a price node has its grid
            if price is None:
                view = self.runner.view
                price = view.price(self.price_node) if view is not None else grid.low
            if not grid.low - 1e-9 <= price <= grid.high + 1e-9:
                raise ValueError(f"price {price} is outside [{grid.low:g}, {grid.high:g}]")
            if self.price_action == "grid":
                values = grid.values
                assert values is not None  # price_action="grid": a grid with a step
                k = int(np.argmin(np.abs(values - price)))
                if abs(values[k] - price) > 1e-6:
                    raise ValueError(f"price {price} is not on the price grid (step {grid.step:g})")
                return {"order": order, "price": k}
            u = 2.0 * (price - grid.low) / (grid.high - grid.low) - 1.0
            return {"order": order, "price": np.array([u])}
        return self.layout.order_action(orders)


# -- construction from problems ---------------------------------------------------------------
def env_parameters(
    cls: type[Any] = InventoryEnv, *, skip: Sequence[str] = ("network",)
) -> tuple[str, ...]:
    """The keyword arguments an env class takes (its ``__init__`` parameters but *skip*)."""
    return tuple(p for p in inspect.signature(cls.__init__).parameters if p not in ("self", *skip))


def default_periods(problem: Problem, cap: int = DEFAULT_PERIODS) -> int:
    """Default episode length: ``min(cap, problem.periods)`` (the beer game's 52 comes through)."""
    return min(int(cap), problem.periods)


def resolve_problem(
    problem: Problem | Network,
    kwargs: Mapping[str, Any],
    env_params: Sequence[str],
    market: Market | None = None,
) -> tuple[Problem, dict[str, Any]]:
    """*problem* as a :class:`~des_supply.problem.Problem` (a Network with *market*, if given)
    and *kwargs* checked against *env_params*.

    Raises ValueError naming unknown keyword arguments and the env's parameters (the
    parameters of a named problem are given where it is built, e.g. ``scenarios.make``),
    and TypeError when *problem* is neither a Problem nor a Network.
    """
    unknown = sorted(set(kwargs) - set(env_params))
    if unknown:
        name = getattr(problem, "name", "") or type(problem).__name__
        raise ValueError(
            f"unknown env parameter(s) {', '.join(map(repr, unknown))} for problem "
            f"{name!r} (env parameters: {', '.join(env_params)}); parameters of the "
            "problem itself are given where it is built"
        )
    if isinstance(problem, Problem) and market is not None:
        raise ValueError(
            f"problem {problem.name!r}: its market comes with it (Problem(network, "
            "market)); pass market= only with a Network"
        )
    return as_problem(problem, market), dict(kwargs)


def make_env(
    problem: Problem | Network,
    *,
    periods: int | None = None,
    action_mode: str = "quantity",
    **env_kwargs: Any,
) -> InventoryEnv:
    """An :class:`InventoryEnv` of *problem* (a :class:`~des_supply.problem.Problem`, or a
    :class:`~des_supply.network.Network`, which is a problem without a market).

    The env simulates ``problem.network`` with its own copy of ``problem.market``
    (``problem.new_market()``: envs never share a market, which keeps per-run state), so
    a market's state is in the observation and a pricing market adds a price to the
    action (see :class:`InventoryEnv`).  ``periods`` defaults to
    ``min(200, problem.periods)``.  *env_kwargs* are :class:`InventoryEnv`'s other
    keyword arguments (``discrete``, ``max_order``, ...); anything else raises
    ValueError listing them.  ``market=`` is accepted with a Network only (a Problem
    brings its own), and is copied too.

    >>> from des_supply import Edge, Network, Node, Poisson
    >>> net = Network(nodes=(Node("plant", kind="supply"),
    ...                      Node("store", holding_cost=1, shortage="lost", shortage_cost=9,
    ...                           demand=Poisson(5))),
    ...               edges=(Edge("plant", "store", lead_time=2),))
    >>> env = make_env(net, periods=50, action_mode="base-stock")
    >>> env.action_space, env.periods
    (Box(-1.0, 1.0, (1,), float32), 50)

    """
    params = env_parameters(InventoryEnv)
    market = env_kwargs.pop("market", None)
    problem, env_kw = resolve_problem(problem, env_kwargs, params, market)
    if periods is None:
        periods = default_periods(problem)
    return InventoryEnv(
        problem.network, periods, action_mode=action_mode, market=problem.new_market(), **env_kw
    )
