"""Hypothesis strategies: random valid networks, distributions and policies.

``networks()`` draws any of four shapes (serial, distribution tree, assembly
with a bill of materials, general DAG with multi-sourcing by split, priority or
assembly), with backlog or lost sales per node, stochastic or deterministic
lead times (0 included), sequential or independent shipments, order, storage
and supply capacities, review periods with offsets, initial stock and pipeline,
either order timing, and integer or continuous quantities.  With
``conventions=True`` it also draws the peer conventions: sequential decisions,
ship-before-receipt and shipping capacities at stocking nodes (left out by
default so that engines that mirror the event engine, such as the batch engine,
can opt in when they support them); ``choice=True`` adds the ``"choice"`` rule
(the policy splits each order among the suppliers).  ``policies(net)``
draws a policy from :mod:`des_supply.policies` with parameters for the
network's stocking nodes.  Everything drawn is valid by construction: a
network strategy that raised ``NetworkError`` would be a bug in the engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from des_supply import (
    RQ,
    SS,
    Action,
    BaseStock,
    CappedBaseStock,
    ConstantOrder,
    Deterministic,
    DiscreteUniform,
    EchelonBaseStock,
    Edge,
    Empirical,
    Geometric,
    NegativeBinomial,
    Network,
    Node,
    NonStationary,
    Normal,
    Poisson,
    Shifted,
    Trace,
)

__all__ = [
    "SHAPES",
    "SplitAmongSuppliers",
    "continuous_demands",
    "draw_examples",
    "integer_demands",
    "lead_times",
    "networks",
    "periods",
    "policies",
    "seeds",
]

SHAPES = ("serial", "distribution", "assembly", "general")

seeds = st.integers(0, 2**32 - 1)
periods = st.integers(1, 60)

small = st.integers(0, 6)
cost = st.sampled_from([0.0, 0.5, 1.0, 2.5])
probabilities_3 = st.sampled_from([(0.2, 0.3, 0.5), (0.5, 0.5, 0.0), (1 / 3, 1 / 3, 1 / 3)])


def integer_demands() -> st.SearchStrategy[Any]:
    """Demand distributions whose draws are whole numbers."""
    return st.one_of(
        small.map(Deterministic),
        st.floats(0, 8).map(Poisson),
        st.floats(0, 4).map(Geometric),
        st.builds(NegativeBinomial, st.floats(0, 6), st.floats(0.5, 5)),
        st.integers(0, 3).flatmap(
            lambda lo: st.integers(lo, lo + 6).map(lambda hi: DiscreteUniform(lo, hi))
        ),
        st.builds(
            Empirical,
            st.tuples(small, small, small).map(lambda v: tuple(map(float, v))),
            probabilities_3,
        ),
        st.builds(Normal, st.floats(0, 8), st.floats(0, 3), st.just(True)),
        st.builds(NonStationary, st.lists(st.floats(0, 8), min_size=1, max_size=5).map(tuple)),
        st.builds(
            Trace,
            st.lists(small.map(float), min_size=1, max_size=7).map(tuple),
            st.sampled_from(["cycle", "hold"]),
        ),
    )


def continuous_demands() -> st.SearchStrategy[Any]:
    """Demand distributions with real-valued draws (they make a network continuous)."""
    return st.one_of(
        st.builds(Normal, st.floats(0.5, 8), st.floats(0.1, 3), st.just(False)),
        st.floats(0.25, 6).filter(lambda v: not float(v).is_integer()).map(Deterministic),
        st.builds(
            NonStationary,
            st.lists(st.floats(0.5, 8), min_size=1, max_size=4).map(tuple),
            st.just("normal"),
            st.floats(0, 0.5),
            st.just(False),
        ),
        st.builds(Trace, st.lists(st.floats(0, 6), min_size=1, max_size=5).map(tuple)),
    )


def lead_times() -> st.SearchStrategy[Any]:
    """Whole-period lead times: deterministic (0 included) or stochastic."""
    return st.one_of(
        st.integers(0, 3).map(Deterministic),
        st.builds(Shifted, st.floats(0, 1.5).map(Poisson), st.integers(0, 2)),
        st.builds(
            Empirical,
            st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 4)).map(
                lambda v: tuple(map(float, v))
            ),
            probabilities_3,
        ),
        st.integers(0, 2).flatmap(
            lambda lo: st.integers(lo, lo + 3).map(lambda hi: DiscreteUniform(lo, hi))
        ),
    )


capacity = st.one_of(st.just(math.inf), st.integers(1, 30).map(float))
storage = st.one_of(st.just(math.inf), st.integers(5, 80).map(float))


@st.composite
def _edge(
    draw: Any,
    source: str,
    target: str,
    bom: float = 1.0,
    share: float | None = None,
    priority: int = 0,
) -> Edge:
    return Edge(
        source,
        target,
        lead_time=draw(lead_times()),
        unit_cost=draw(cost),
        bom=bom,
        transit_holding_cost=draw(cost),
        share=share,
        priority=priority,
        sequential=draw(st.booleans()),
    )


def _structure(draw: Any, shape: str, n_stock: int) -> tuple[list[str], dict[str, list[str]]]:
    """Supply-node names and, per stocking node (upstream first), its suppliers."""
    n_supply = draw(st.integers(1, 2)) if shape == "general" else 1
    supplies = [f"sup{i}" for i in range(n_supply)]
    stock = [f"n{i}" for i in range(n_stock)]
    parents: dict[str, list[str]] = {}
    for i, name in enumerate(stock):
        if shape == "serial":
            parents[name] = [supplies[0] if i == 0 else stock[i - 1]]
        elif shape == "distribution":
            parents[name] = [supplies[0] if i == 0 else stock[draw(st.integers(0, i - 1))]]
        elif shape == "assembly":  # n0..n_{k-2} are component plants, the last node assembles
            last = i == n_stock - 1 and n_stock > 1
            parents[name] = stock[:-1] if last else [supplies[0]]
        else:
            pool = supplies + stock[:i]
            k = draw(st.integers(1, min(3, len(pool))))
            parents[name] = draw(st.permutations(pool))[:k]
    return supplies, parents


@st.composite
def networks(
    draw: Any,
    shape: str | None = None,
    max_stock: int = 5,
    continuous: bool | None = None,
    assembly: bool = True,
    conventions: bool = False,
    choice: bool = False,
) -> Network:
    """A random valid network.

    ``choice=True`` adds the ``"choice"`` supply rule (the policy splits orders among the
    suppliers) to the rules drawn for nodes with several suppliers; :func:`policies`
    then wraps its policy in :class:`SplitAmongSuppliers`.

    ``assembly=False`` leaves out assembly nodes (and bill-of-materials quantities
    other than 1), so that every unit entering a node leaves it as one unit.
    ``conventions=True`` also draws ``decisions``, ``shipping_timing`` and
    ``shipping_capacity``.
    """
    shapes = SHAPES if assembly else tuple(s for s in SHAPES if s != "assembly")
    shape = shape or draw(st.sampled_from(shapes))
    cont = draw(st.booleans()) if continuous is None else continuous
    n_stock = draw(st.integers(2 if shape == "assembly" else 1, max_stock))
    supplies, parents = _structure(draw, shape, n_stock)
    has_customer = {p for ps in parents.values() for p in ps}
    amount = st.floats(0, 30).map(lambda x: round(x, 3)) if cont else st.integers(0, 30).map(float)

    nodes = [
        Node(
            s,
            kind="supply",
            capacity=draw(capacity),
            shortage=draw(st.sampled_from(["backlog", "lost"])),
            shortage_cost=draw(cost),
        )
        for s in supplies
    ]
    edges: list[Edge] = []
    for name, sources in parents.items():
        rule = None
        if len(sources) > 1:
            rule = (
                "assembly"
                if shape == "assembly"
                else draw(
                    st.sampled_from(
                        (["split", "priority", "assembly"] if assembly else ["split", "priority"])
                        + (["choice", "choice"] if choice else [])
                    )
                )
            )
        sink = name not in has_customer
        demand = None
        if sink or draw(st.booleans()):
            demand = draw(
                continuous_demands() if cont and draw(st.booleans()) else integer_demands()
            )
        period = draw(st.integers(1, 3))
        on_hand, pipeline = draw(amount), tuple(draw(st.lists(amount, max_size=3)))
        room = draw(storage)  # the initial stock must fit in the storage capacity
        room = room if math.isinf(room) else max(room, math.ceil(on_hand + sum(pipeline)))
        nodes.append(
            Node(
                name,
                holding_cost=draw(cost),
                shortage=draw(st.sampled_from(["backlog", "lost"])),
                shortage_cost=draw(cost),
                fixed_order_cost=draw(cost),
                order_cost=draw(cost),
                price=draw(st.sampled_from([0.0, 0.0, 3.0])),
                capacity=draw(capacity),
                storage_capacity=room,
                initial_on_hand=on_hand,
                initial_pipeline=pipeline,
                shipping_capacity=draw(capacity) if conventions else math.inf,
                review_period=period,
                review_offset=draw(st.integers(0, period - 1)),
                demand=demand,
                supply_rule=rule,
            )
        )
        if rule == "split":
            weights = draw(
                st.lists(st.integers(1, 5), min_size=len(sources), max_size=len(sources))
            )
            shares = [w / sum(weights) for w in weights]
        else:
            shares = [None] * len(sources)
        for k, (src, share) in enumerate(zip(sources, shares)):
            bom = 1.0
            if assembly and (
                rule == "assembly"
                or (
                    len(sources) == 1
                    and shape != "serial"
                    and shape != "distribution"
                    and draw(st.booleans())
                )
            ):
                bom = float(draw(st.integers(1, 3)))
            edges.append(draw(_edge(src, name, bom=bom, share=share, priority=k)))
    timing = draw(st.sampled_from(["order-before-demand", "order-after-demand"]))
    extra = {}
    if conventions:
        extra = {
            "decisions": draw(st.sampled_from(["simultaneous", "sequential"])),
            "shipping_timing": draw(st.sampled_from(["receive-then-ship", "ship-before-receipt"])),
        }
    return Network(
        tuple(nodes),
        tuple(edges),
        name=f"random-{shape}",
        order_timing=timing,
        continuous=True if cont else None,
        **extra,
    )


def _per_node(draw: Any, names: list[str], values: st.SearchStrategy[float]) -> Any:
    if draw(st.booleans()):
        return float(draw(values))
    return {n: float(draw(values)) for n in names}


@dataclass(frozen=True)
class SplitAmongSuppliers:
    """*base*'s order at a ``"choice"`` node split among its suppliers by fixed *weights*
    (supplier -> weight; the engine rounds each part)."""

    base: Any
    weights: Mapping[str, Mapping[str, float]]

    def act(self, obs: Any) -> Action:
        decided = self.base.act(obs)
        orders = dict(decided.orders if isinstance(decided, Action) else decided)
        for node, weights in self.weights.items():
            q = orders.get(node)
            if q is None:
                continue
            total = sum(weights.values())
            orders[node] = {k: q * w / total for k, w in weights.items()} if total else {}
        return Action(orders=orders)


@st.composite
def policies(draw: Any, net: Network) -> Any:
    """A policy from :mod:`des_supply.policies` with parameters for *net*'s stocking nodes
    (split among suppliers by drawn weights at ``"choice"`` nodes)."""
    base = draw(_policies(net))
    choosers = [n.name for n in net.stock_nodes if net.supply_rule_of(n.name) == "choice"]
    if not choosers:
        return base
    weights = {
        n: {e.source: float(draw(st.integers(0, 3))) for e in net.suppliers(n)} for n in choosers
    }
    return SplitAmongSuppliers(base, weights)


@st.composite
def _policies(draw: Any, net: Network) -> Any:
    names = [n.name for n in net.stock_nodes]
    level = st.integers(0, 40)
    kind = draw(st.sampled_from(["base-stock", "echelon", "ss", "rq", "constant", "capped"]))
    if kind == "base-stock":
        return BaseStock(_per_node(draw, names, level))
    if kind == "echelon":
        return EchelonBaseStock(_per_node(draw, names, st.integers(0, 80)))
    if kind == "ss":
        s = {n: float(draw(st.integers(-5, 20))) for n in names}
        return SS(s, {n: s[n] + draw(st.integers(0, 20)) for n in names})
    if kind == "rq":
        return RQ(
            _per_node(draw, names, st.integers(-5, 20)), _per_node(draw, names, st.integers(1, 15))
        )
    if kind == "constant":
        return ConstantOrder(_per_node(draw, names, st.integers(0, 8)))
    return CappedBaseStock(
        _per_node(draw, names, level),
        _per_node(draw, names, st.one_of(st.integers(0, 10), st.just(math.inf))),
    )


def draw_examples(n: int, draw_one: Callable[[st.DataObject], Any]) -> list[Any]:
    """*n* values of ``draw_one(data)``, the same on every run (derandomized hypothesis, no
    database): the random cases of the reference scripts in ``tests/reference/``."""
    from hypothesis import HealthCheck, given, settings

    drawn: list[Any] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def collect(data: st.DataObject) -> None:
        drawn.append(draw_one(data))

    collect()
    return drawn[:n]
