"""Best base-stock levels of any problem by simulation with common random numbers.

Where no exact method exists (general networks), the reference heuristic is a
base-stock policy whose levels are searched by simulation: every candidate is
evaluated on the same seeds, so differences between candidates are not noise
from different demand paths.  The search is deliberately simple:

1. levels ``S_n = round(f * d_n * (L_n + R_n))`` for each stocking node n, with
   ``d_n`` the mean demand per period flowing through n, ``L_n`` its largest mean
   inbound lead time and ``R_n`` its review period, over a grid of factors f;
2. then, for networks of at most ``refine_nodes`` nodes, coordinate descent on each
   node's level in steps that halve from ``d_n``.

It returns the best levels found, not a proven optimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from des_supply.evaluate import simulate
from des_supply.network import Network
from des_supply.policies import BaseStock, EchelonBaseStock
from des_supply.problem import Problem, as_problem

__all__ = ["SearchResult", "search_base_stock", "mean_flows"]


@dataclass(frozen=True)
class SearchResult:
    levels: dict[str, float]
    value: float                  # mean cost (or profit) per period on the search seeds
    evaluations: int
    policy: Any


def mean_flows(network: Network) -> dict[str, float]:
    """Mean external demand per period that each node serves, directly or downstream."""
    flow = {n.name: (n.demand.mean if n.demand is not None else 0.0) for n in network.nodes}
    G = network.graph()
    import networkx as nx

    for name in reversed(list(nx.topological_sort(G))):
        for e in network.suppliers(name):
            node = network.node(name)
            share = e.share if node.supply_rule == "split" and e.share is not None else 1.0
            flow[e.source] += flow[name] * share * e.bom
    return flow


def search_base_stock(problem: Problem | Network, *, echelon: bool = False,
                      periods: int = 2_000, warmup: int = 200, replications: int = 4,
                      seed: int = 12345,
                      factors: tuple[float, ...] = (0.6, 0.8, 1.0, 1.2, 1.4, 1.7, 2.0, 2.5),
                      refine_nodes: int = 5, progress: bool = False) -> SearchResult:
    """Search base-stock levels (installation, or echelon if *echelon*) by CRN simulation.

    *problem* is simulated with its market, if any; levels minimise the cost or maximise
    the profit (``problem.objective``), and ``value`` is in the same unit.
    """
    problem = as_problem(problem)
    network = problem.network
    flows = mean_flows(network)
    stock = [n for n in network.stock_nodes]
    cover = {}
    for n in stock:
        lead = max((e.lead_time.mean for e in network.suppliers(n.name)), default=0.0)
        if echelon:
            lead += _downstream_lead(network, n.name)
        cover[n.name] = flows[n.name] * (lead + n.review_period)
    cls = EchelonBaseStock if echelon else BaseStock
    cache: dict[tuple[float, ...], float] = {}

    def cost(levels: dict[str, float]) -> float:
        key = tuple(levels[n.name] for n in stock)
        if key not in cache:
            res = simulate(problem, cls(dict(levels)), periods=periods, warmup=warmup,
                           replications=replications, seed=seed)
            cache[key] = res.mean if res.objective == "cost" else -res.mean
        return cache[key]

    bar = tqdm(factors, desc="base-stock search", disable=not progress, leave=False)
    best_levels, best = {}, np.inf
    for f in bar:
        levels = {n: float(round(f * c)) for n, c in cover.items()}
        value = cost(levels)
        if value < best:
            best_levels, best = levels, value
    if len(stock) <= refine_nodes:
        for n in stock:
            step = max(1.0, float(round(flows[n.name])))
            while step >= 1:
                improved = False
                for delta in (step, -step):
                    trial = dict(best_levels)
                    trial[n.name] = float(max(0.0, trial[n.name] + delta))
                    value = cost(trial)
                    if value < best - 1e-12:
                        best_levels, best, improved = trial, value, True
                        break
                if not improved:
                    step = np.floor(step / 2)
    sign = 1.0 if problem.objective == "cost" else -1.0
    return SearchResult(best_levels, sign * best, len(cache), cls(best_levels))


def _downstream_lead(network: Network, name: str) -> float:
    """Longest mean lead time from *name* down to a node with external demand."""
    longest = 0.0
    for e in network.customers(name):
        longest = max(longest, e.lead_time.mean + _downstream_lead(network, e.target))
    return longest
