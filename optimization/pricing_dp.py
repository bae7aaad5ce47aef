"""Pricing and replenishment under competition: exact average-profit DP and tuned heuristics.

The model is the engine's (:mod:`des_supply.market`), on a
finite state when the problem allows it: prices on a grid, the competitor's
price on a grid that the moves keep (undercutting by one grid step), the
reference price randomly rounded to a grid (``ref_step > 0``), a deterministic
lead time of 0 or 1 period, and a finite storage capacity.  Then the state at a
decision epoch is ``(o, r, x)``: competitor price, reference price and net
inventory (on hand - backlog; with lead time 1 the previous order has just
arrived, so nothing is on order).  :func:`solve` runs relative value iteration
(Puterman 1994, section 8.5.5) over every price of the grid and every order the
engine allows (``q <= storage_capacity - on hand``) and returns the optimal
long-run profit per period with its span bounds and the policy as a lookup table
(:class:`DPPolicy`, an engine policy).

Timing per period (the engine's): receive; decide p and q; demand D ~
Poisson(lambda(p, o, r)) meets the stock on hand (lead time 0: after the order
arrived); backlog or lose the rest; account; then ``r' ~ round(0.9 r + 0.1 p)``,
``o' ~ competitor(p, o)``.  Profit = revenue - h (x - D)^+ - b x short units - c q
- K 1{q > 0}; with backlog every unit is paid at the price of its period (the
long-run average of the engine's pay-on-delivery rule).

Approximations, both reported: demand is cut at ``dmax`` with the tail mass
(< 1e-12) put on ``dmax``; with backlog, net inventory below ``-backlog_bound`` is
clipped: the DP forgets the excess units, which earn no revenue and are charged
``b x backlog_bound`` each (so that forgetting never pays); ``DPSolution.boundary_mass``
is the long-run probability per period that the optimal policy hits that clip.

Heuristics (:mod:`des_supply.pricing_policies`) are tuned by :func:`tune_heuristics`:
on this model each candidate is evaluated exactly (the Markov chain of the
tabulated rule, :func:`evaluate`); when the problem has no finite model (random
lead times, lead time >= 2, continuous prices or reference price) by simulation
with common random numbers.  :func:`optimize_pricing` puts both together for
``des-supply optimize`` and ``des-supply compare``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from scipy import sparse

from des_supply.market import market_of
from des_supply.network import Network
from des_supply.policies import Action
from des_supply.pricing_policies import (
    SSP,
    ListPriceBaseStock,
    MyopicPricing,
    PricingContext,
    PricingState,
    poisson_table,
)
from des_supply.problem import Problem

from .memory import check_memory

__all__ = [
    "DPPolicy",
    "DPSolution",
    "PricingDPError",
    "PricingModel",
    "build_model",
    "evaluate",
    "optimize_pricing",
    "solve",
    "solve_discounted",
    "tabulate",
    "tune_heuristics",
]

EPS = 1e-9


class PricingDPError(ValueError):
    """The problem has no finite model for the DP (the message says why)."""


@dataclass(frozen=True, eq=False)
class PricingModel:
    """The discretised MDP.  Arrays are indexed ``[p, o, r, ...]`` (price, competitor, reference)."""

    node: str
    prices: np.ndarray  # (P,)
    comp: np.ndarray  # (O,)
    refs: np.ndarray  # (R,)
    xs: np.ndarray  # (X,) net inventory levels x_min..cap
    lead_time: int
    lost: bool
    unit_cost: float
    holding: float
    penalty: float
    fixed_cost: float
    rate: np.ndarray  # (P, O, R) mean demand
    pmf: np.ndarray  # (P, O, R, D) demand distribution, tail lumped on D - 1
    imm: np.ndarray  # (P, O, R, X) expected revenue - holding - shortage with x units to sell from
    clip: np.ndarray  # (P, O, R, X) backlog only: - (p + b x bound) x E[units clipped] from y
    nxt: np.ndarray  # (P, O, R, X, X) level after demand: from y to x' (backlog: clipped
    # at x_min; lost: (x - D)^+)
    T_o: np.ndarray  # (P, O, O)
    T_r: np.ndarray  # (P, R, R)
    context: PricingContext
    demand_tail: float  # largest demand mass lumped at dmax
    backlog_bound: int

    @property
    def shape(self) -> tuple[int, int, int]:
        """States as (O, R, X)."""
        return len(self.comp), len(self.refs), len(self.xs)

    @property
    def cap(self) -> int:
        return int(self.xs[-1])

    @property
    def order_up_to(self) -> bool:
        """Next level depends on x + q only (lead time 0, or backlog with lead time 1)."""
        return self.lead_time == 0 or not self.lost

    def index(self, o: float, r: float, x: float) -> tuple[int, int, int]:
        """Grid indices of a state (x clipped to the modelled range); KeyError if off-grid."""
        io, ir = (
            _grid_index(self.comp, o, "competitor price"),
            _grid_index(self.refs, r, "reference price"),
        )
        xi = int(round(min(max(x, self.xs[0]), self.xs[-1]) - self.xs[0]))
        return io, ir, xi


def _grid_index(grid: np.ndarray, v: float, what: str) -> int:
    k = int(np.argmin(np.abs(grid - v)))
    if abs(grid[k] - v) > 1e-6:
        raise KeyError(f"{what} {v:g} is not on the DP grid {grid[0]:g}..{grid[-1]:g}")
    return k


def _single_node(network: Network) -> tuple[str, Any]:
    stock = network.stock_nodes
    if len(stock) != 1:
        raise PricingDPError(
            f"the pricing DP models one stocking node, the network has {len(stock)}"
        )
    node = stock[0]
    edges = network.suppliers(node.name)
    if len(edges) != 1:
        raise PricingDPError("the pricing DP needs exactly one supplier")
    return node.name, edges[0]


def build_model(
    network: Network, market: Any, *, backlog_bound: int = 20, memory_limit: float | None = None
) -> PricingModel:
    """The finite MDP of *network* with *market*; PricingDPError when there is none.

    Raises :class:`~optimization.memory.SizeLimitError` before allocating when the model and
    the Bellman operator would need more than *memory_limit* bytes (default: see
    :mod:`optimization.memory`): the transition array and the operator's candidates have
    ``prices x competitor prices x reference prices x levels^2`` entries each (measured peak
    2.1-2.5 x 8 bytes per entry at storage capacities 20-60; the estimate takes 3 x 8).
    """
    name, edge = _single_node(network)
    node = network.node(name)
    lt = edge.lead_time
    if getattr(lt, "kind", "") != "deterministic" or lt.mean not in (0, 1):
        raise PricingDPError(
            f"the pricing DP needs a deterministic lead time of 0 or 1 period (got {lt.to_dict()})"
        )
    if network.continuous:
        raise PricingDPError("the pricing DP needs whole units (network.continuous is set)")
    cap = node.storage_capacity
    if not math.isfinite(cap) or not float(cap).is_integer():
        raise PricingDPError(f"the pricing DP needs a finite whole storage_capacity (got {cap})")
    if math.isfinite(node.capacity) or node.review_period != 1:
        raise PricingDPError(
            "the pricing DP needs unlimited order capacity and review every period"
        )
    if market is None or getattr(market, "node", None) != name:
        raise PricingDPError(f"the pricing DP needs a pricing market at node {name!r}")
    prices = market.price_grid.values
    if prices is None:
        raise PricingDPError("the pricing DP needs a price grid (price_step > 0)")
    refs = market.ref_grid
    if refs is None:
        raise PricingDPError("the pricing DP needs a reference-price grid (ref_step > 0)")
    comp = market.competitor
    if comp.rule == "fixed":
        grid_o = np.array([float(comp.initial)])
    else:
        n = (comp.high - comp.low) / comp.step
        if abs(n - round(n)) > 1e-6:
            raise PricingDPError("competitor high - low must be a multiple of its step")
        grid_o = comp.low + comp.step * np.arange(int(round(n)) + 1)
        if np.min(np.abs(grid_o - comp.initial)) > 1e-6:
            raise PricingDPError(f"the competitor's initial price {comp.initial:g} is off its grid")
    try:
        T_o = comp.transitions(prices, grid_o)
    except ValueError as exc:
        raise PricingDPError(str(exc)) from None
    T_r = market.ref_transitions(prices, refs)
    lost = node.shortage == "lost"
    x_min = 0 if lost else -int(backlog_bound)
    xs = np.arange(x_min, int(cap) + 1)
    entries = len(prices) * len(grid_o) * len(refs) * len(xs) ** 2
    check_memory(
        3 * 8 * entries,
        f"the pricing DP of node {name!r} ({len(prices)} prices x "
        f"{len(grid_o)} competitor prices x {len(refs)} reference prices x "
        f"{len(xs)}^2 inventory levels)",
        f"lower storage_capacity(={cap:g}) of node {name!r}"
        + ("" if lost else f" or backlog_bound(={backlog_bound})")
        + " or use a coarser price grid",
        memory_limit,
    )
    P, O, R = np.meshgrid(prices, grid_o, refs, indexing="ij")
    rate = np.asarray(market.model.rate(P, O, R), dtype=float)
    d, pmf = poisson_table(rate)
    tail = float(np.max(1.0 - pmf.sum(-1)))
    pmf[..., -1] += np.clip(1.0 - pmf.sum(-1), 0.0, None)
    ed = (pmf * d).sum(-1)  # E[D], with the tail lumped
    over = pmf @ np.maximum(xs[None, :] - d[:, None], 0.0)  # E(x - D)^+   (P,O,R,X)
    c, h, b = node.order_cost + edge.unit_cost, node.holding_cost, node.shortage_cost
    price = P[..., None]
    if lost:
        sold = xs - over
        imm = price * sold - h * over - b * (ed[..., None] - sold)
    else:
        short = ed[..., None] - xs + over  # E(D - x)^+
        imm = price * ed[..., None] - h * over - b * short
    # backlog past the clip: those units are forgotten, so they must not pay: they lose their
    # revenue and cost b for backlog_bound periods (which keeps the optimum off the clip)
    clip = np.zeros_like(imm)
    if not lost:
        room = xs - x_min  # units that fit above the clip
        excess = pmf @ np.maximum(d[:, None] - room[None, :], 0.0)  # E(D - room)^+
        clip = -(price + b * backlog_bound) * excess
    nx = len(xs)
    nxt = np.zeros(rate.shape + (nx, nx))
    rows = np.arange(nx)
    for k in range(len(d)):
        target = np.maximum(xs - k, 0 if lost else x_min) - x_min
        nxt[..., rows, target] += pmf[..., k : k + 1]
    ctx = PricingContext.of(network, market, name)
    return PricingModel(
        name,
        prices,
        grid_o,
        refs,
        xs,
        int(lt.mean),
        lost,
        float(c),
        float(h),
        float(b),
        float(node.fixed_order_cost),
        rate,
        pmf,
        imm,
        clip,
        nxt,
        T_o,
        T_r,
        ctx,
        tail,
        int(backlog_bound),
    )


# -- relative value iteration -----------------------------------------------------------------
def _phi(m: PricingModel, h: np.ndarray) -> np.ndarray:
    """Phi[p, o, r, x'] = E[h(o', r', x') | p, o, r]  for h of shape (O, R, X)."""
    O, R, X = m.shape
    P = len(m.prices)
    B = m.T_r[:, None] @ h[None]  # (P, O', R, X)
    return (m.T_o @ B.reshape(P, O, R * X)).reshape(P, O, R, X)


@dataclass
class _Choice:
    """Order choices per state for the Bellman operator (built once per model)."""

    add: np.ndarray  # (X, Y) added to W: 0 for y = x, -K for allowed y > x, -inf otherwise
    step: np.ndarray  # (X, Y) order quantity y - x (or q)
    gather: np.ndarray | None = None  # lost, lead 1: (X, Q) index of n + q


def _choices(m: PricingModel) -> _Choice:
    xs, cap, K = m.xs, m.cap, m.fixed_cost
    if m.order_up_to:
        y = xs[None, :]
        x = xs[:, None]
        ymax = cap + np.minimum(x, 0)  # engine: q <= storage - on hand (nothing on order)
        add = np.where(y == x, 0.0, np.where((y > x) & (y <= ymax), -K, -np.inf))
        return _Choice(add, np.broadcast_to(y - x, add.shape).astype(float))
    q = np.arange(cap + 1)[None, :]
    x = xs[:, None]
    add = np.where(q == 0, 0.0, np.where(q <= cap - x, -K, -np.inf)) - m.unit_cost * q
    gather = np.minimum(np.arange(len(xs))[:, None] + q, len(xs) - 1)
    return _Choice(add, np.broadcast_to(q, add.shape).astype(float), gather)


def _bellman(
    m: PricingModel, ch: _Choice, h: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T h, price index, order) with h, T h of shape (O, R, X)."""
    phi = _phi(m, h)
    c = m.unit_cost
    if m.order_up_to:
        G = (m.nxt @ phi[..., None])[..., 0]  # (P, O, R, Y)
        W = G - c * m.xs + m.clip
        if m.lead_time == 0:
            W = W + m.imm
        cand = W[..., None, :] + ch.add  # (P, O, R, X, Y)
        j = cand.argmax(-1)
        Q = np.take_along_axis(cand, j[..., None], -1)[..., 0] + c * m.xs
        if m.lead_time == 1:
            Q = Q + m.imm
        order = ch.step[np.arange(len(m.xs)), j]
    else:
        H = phi[..., ch.gather]  # (P, O, R, N, Q)
        cand = m.nxt @ H + ch.add  # (P, O, R, X, Q)
        j = cand.argmax(-1)
        Q = np.take_along_axis(cand, j[..., None], -1)[..., 0] + m.imm
        order = j.astype(float)
    best = Q.argmax(0)  # (O, R, X)
    Th = np.take_along_axis(Q, best[None], 0)[0]
    return Th, best, np.take_along_axis(order, best[None], 0)[0]


@dataclass
class DPSolution:
    """Optimal long-run profit per period and the policy that attains it."""

    gain: float
    bounds: tuple[float, float]  # span bounds: lower <= optimal gain <= upper
    iterations: int
    seconds: float
    price_index: np.ndarray  # (O, R, X) index into model.prices
    order: np.ndarray  # (O, R, X) order quantity
    bias: np.ndarray  # (O, R, X) relative values
    model: PricingModel = field(repr=False)
    boundary_mass: float = 0.0  # long-run fraction of periods the backlog clip binds

    def policy(self) -> DPPolicy:
        return DPPolicy(self.model, self.price_index, self.order)


def solve(
    m: PricingModel, *, tol: float = 1e-6, max_iter: int = 5000, progress: bool = False
) -> DPSolution:
    """Relative value iteration to a span below *tol*; the gain is the midpoint of the
    span bounds (each iterate's min and max of T h - h bound the optimal gain)."""
    from tqdm.auto import tqdm

    start = time.perf_counter()
    ch = _choices(m)
    h = np.zeros(m.shape)
    ref = (0, 0, int(-m.xs[0]))  # x = 0
    bar = tqdm(total=max_iter, desc="pricing DP", disable=not progress, leave=False)
    lo = hi = 0.0
    for it in range(1, max_iter + 1):  # noqa: B007  (it is reported after the loop)
        Th, best, order = _bellman(m, ch, h)
        diff = Th - h
        lo, hi = float(diff.min()), float(diff.max())
        h = Th - Th[ref]
        bar.update()
        if hi - lo < tol:
            break
    bar.close()
    if hi - lo >= tol:
        raise RuntimeError(
            f"relative value iteration did not converge in {max_iter} iterations "
            f"(span {hi - lo:.3g}); bounds [{lo:.6g}, {hi:.6g}]"
        )
    sol = DPSolution(0.5 * (lo + hi), (lo, hi), it, time.perf_counter() - start, best, order, h, m)
    sol.boundary_mass = boundary_mass(m, best, order) if not m.lost else 0.0
    return sol


def solve_discounted(
    m: PricingModel, gamma: float, *, tol: float = 1e-6, max_iter: int = 20_000
) -> DPSolution:
    """The optimal policy for the discounted profit ``E sum gamma^t profit_t``, with its exact
    long-run profit per period (:func:`evaluate`) as the gain.

    What a discount costs in average profit: an agent trained with discount *gamma* (PPO's
    ``gamma``) can at best learn this policy.  Relative value iteration on the discounted
    operator (``h <- T(gamma h) - T(gamma h)[x = 0]``) until the span of ``T(gamma h) - h``
    changes by less than *tol* (the greedy policy is then that of the discounted fixed
    point).  ``bounds`` are the gain's, both equal; ``bias`` the discounted relative values.
    """
    if not 0.0 < gamma < 1.0:
        raise ValueError(f"gamma(={gamma}) must be in (0, 1); gamma = 1 is solve()")
    start = time.perf_counter()
    ch = _choices(m)
    h = np.zeros(m.shape)
    ref = (0, 0, int(-m.xs[0]))
    span = math.inf
    for it in range(1, max_iter + 1):  # noqa: B007  (it is reported after the loop)
        Th, best, order = _bellman(m, ch, gamma * h)
        new = Th - Th[ref]
        change = float(np.abs(new - h).max())
        h = new
        if change < tol:
            span = change
            break
    if span >= tol:
        raise RuntimeError(
            f"discounted value iteration did not converge in {max_iter} iterations "
            f"(last change {change:.3g})"
        )
    gain, _ = evaluate(m, best, order)
    sol = DPSolution(gain, (gain, gain), it, time.perf_counter() - start, best, order, h, m)
    sol.boundary_mass = boundary_mass(m, best, order) if not m.lost else 0.0
    return sol


# -- exact evaluation of any stationary rule --------------------------------------------------
def _chain(
    m: PricingModel, price_index: np.ndarray, order: np.ndarray
) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Transition matrix, one-period reward and the level the demand meets, per state."""
    O, R, X = m.shape
    io, ir, ix = (
        a.ravel() for a in np.meshgrid(np.arange(O), np.arange(R), np.arange(X), indexing="ij")
    )
    pi = price_index.ravel().astype(int)
    q = order.ravel()
    x = m.xs[ix]
    if np.any(q < 0) or np.any(q != np.round(q)):
        raise ValueError("orders must be whole numbers >= 0")
    limit = m.cap - np.maximum(x, 0)
    if np.any(q > limit + EPS):
        raise ValueError("an order exceeds the storage capacity")
    q = q.astype(int)
    meet = ix + (q if m.lead_time == 0 else 0)  # index of the level demand meets
    reward = m.imm[pi, io, ir, meet] - m.unit_cost * q - m.fixed_cost * (q > 0)
    if m.order_up_to:
        reward = reward + m.clip[pi, io, ir, ix + q]
    # next level index: max(base - d, 0) + shift (index 0 is x_min, the backlog clip, or 0)
    D = m.pmf.shape[-1]
    d = np.arange(D)
    base, shift = (ix + q, 0) if m.order_up_to else (ix, q)
    level = np.maximum(base[:, None] - d[None, :], 0) + (
        shift if isinstance(shift, int) else shift[:, None]
    )
    px = m.pmf[pi, io, ir]  # (S, D)
    To, Tr = m.T_o[pi, io], m.T_r[pi, ir]  # (S, O'), (S, R')
    ko = np.argsort(-To, axis=1)[:, :2]
    kr = np.argsort(-Tr, axis=1)[:, :2]
    vo = np.take_along_axis(To, ko, 1)
    vr = np.take_along_axis(Tr, kr, 1)
    # every row has D x 2 x 2 slots (fewer with a one-point grid) (some zero, some repeated): CSR built directly, no sorting
    data = px[:, :, None, None] * vo[:, None, :, None] * vr[:, None, None, :]
    cols = (ko[:, None, :, None] * R + kr[:, None, None, :]) * X + level[:, :, None, None]
    n, width = len(q), D * ko.shape[1] * kr.shape[1]
    P = sparse.csr_matrix(
        (
            data.reshape(-1),
            cols.reshape(-1).astype(np.int32),
            np.arange(0, n * width + 1, width, dtype=np.int32),
        ),
        shape=(n, n),
    )
    return P, reward, meet


def evaluate(
    m: PricingModel,
    price_index: np.ndarray,
    order: np.ndarray,
    *,
    bias: np.ndarray | None = None,
    tol: float = 1e-6,
    max_iter: int = 20_000,
) -> tuple[float, np.ndarray]:
    """Exact long-run profit per period of a stationary rule: the Poisson equation of its
    Markov chain solved by BiCGSTAB (value iteration to a span below *tol* when that
    fails); *bias* warm-starts it.  Returns (gain, bias).

    For a rule whose chain has several recurrent classes this is the gain from the
    state ``(competitor, reference initial prices, x = 0)``'s class only if all agree;
    the rules tuned here (base-stock-like) have one.
    """
    P, reward, _ = _chain(m, price_index, order)
    h = np.zeros(len(reward)) if bias is None else bias.ravel().copy()
    ref = np.ravel_multi_index((0, 0, int(-m.xs[0])), m.shape)

    # Poisson equation h + g = r + P h with h[ref] = 0: unknowns z = h with g in slot ref
    def matvec(z: np.ndarray) -> np.ndarray:
        v = z.copy()
        g = v[ref]
        v[ref] = 0.0
        return v - P @ v + g

    z0 = h.copy()
    z0[ref] = float(reward.mean())
    z = _bicgstab(matvec, reward, z0)
    if z is not None:
        g = float(z[ref])
        z[ref] = 0.0
        if np.abs(reward + P @ z - z - g).max() < max(tol, 1e-8):  # a true solution
            return g, z.reshape(m.shape)
    lo = hi = 0.0
    for _ in range(max_iter):
        Th = reward + P @ h
        diff = Th - h
        lo, hi = float(diff.min()), float(diff.max())
        # damped update: rules that cycle deterministically would make plain iteration periodic
        h = 0.5 * (h + Th)
        h -= h[ref]
        if hi - lo < tol:
            break
    else:
        raise RuntimeError(f"policy evaluation did not converge (span {hi - lo:.3g})")
    return 0.5 * (lo + hi), h.reshape(m.shape)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    # not np.dot: OpenBLAS threads on long vectors and slows down badly on a busy machine
    return float(np.add.reduce(a * b))


def _bicgstab(
    matvec: Callable[[np.ndarray], np.ndarray],
    b: np.ndarray,
    x: np.ndarray,
    *,
    rtol: float = 1e-13,
    max_iter: int = 2000,
) -> np.ndarray | None:
    """BiCGSTAB (van der Vorst 1992) for A x = b; None if it breaks down or does not converge."""
    r = b - matvec(x)
    r0 = r.copy()
    stop = rtol * math.sqrt(_dot(b, b))
    rho = alpha = omega = 1.0
    v = p = np.zeros_like(b)
    for _ in range(max_iter):
        if math.sqrt(_dot(r, r)) <= stop:
            return x
        rho_new = _dot(r0, r)
        if rho_new == 0.0 or omega == 0.0:
            return None
        beta = (rho_new / rho) * (alpha / omega)
        rho = rho_new
        p = r + beta * (p - omega * v)
        v = matvec(p)
        denom = _dot(r0, v)
        if denom == 0.0:
            return None
        alpha = rho / denom
        s = r - alpha * v
        if math.sqrt(_dot(s, s)) <= stop:
            return x + alpha * p
        t = matvec(s)
        tt = _dot(t, t)
        if tt == 0.0:
            return None
        omega = _dot(t, s) / tt
        x = x + alpha * p + omega * s
        r = s - omega * t
    return None


def stationary(
    m: PricingModel,
    price_index: np.ndarray,
    order: np.ndarray,
    *,
    tol: float = 1e-12,
    max_iter: int = 100_000,
) -> np.ndarray:
    """Long-run state distribution of a rule, shape (O, R, X) (power iteration, lazy chain)."""
    P, _, _ = _chain(m, price_index, order)
    PT = P.T.tocsr()
    mu = np.full(P.shape[0], 1.0 / P.shape[0])
    for _ in range(max_iter):
        new = 0.5 * (mu + PT @ mu)
        if np.abs(new - mu).sum() < tol:
            mu = new
            break
        mu = new
    return mu.reshape(m.shape)


def boundary_mass(m: PricingModel, price_index: np.ndarray, order: np.ndarray) -> float:
    """Long-run probability per period that demand takes the backlog past the clip."""
    if m.lost:
        return 0.0
    mu = stationary(m, price_index, order)
    O, R, X = m.shape
    io, ir, ix = np.meshgrid(np.arange(O), np.arange(R), np.arange(X), indexing="ij")
    y = ix + order.astype(int)
    lam = m.rate[price_index, io, ir]
    from scipy import stats

    # P(y - D < x_min) = P(D > y - x_min) = P(D >= y_index + 1)
    tail = stats.poisson.sf(y, lam)
    return float((mu * tail).sum())


# -- engine policies and tabulated rules ------------------------------------------------------
class DPPolicy:
    """The DP's lookup table as an engine policy (reads the run's market state)."""

    def __init__(self, model: PricingModel, price_index: np.ndarray, order: np.ndarray) -> None:
        self.model, self.price_index, self.order = model, price_index, order

    def act(self, obs: Any) -> Action:
        m = self.model
        market = market_of(obs)
        if market is None:
            raise ValueError("DPPolicy needs the run's pricing market")
        node = m.node
        state = market.observation()
        x = obs.on_hand(node) - obs.backlog(node)
        idx = m.index(state["competitor_price"], state["reference_price"], x)
        q = float(self.order[idx])
        return Action(
            orders={node: q} if node in obs.deciding else {},
            prices={node: float(m.prices[self.price_index[idx]])},
        )

    def __repr__(self) -> str:
        return f"DPPolicy(states={self.price_index.size})"


def tabulate(
    m: PricingModel, rule: Any, *, vectorized: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``(price_index, order)`` of an engine pricing rule (``decide(state, ctx)``) on every
    state of *m*, with the engine's rounding of orders and its storage cut.

    BSLP and (s, S, p) have array versions of their rules (*vectorized*; the tests check
    them against ``decide``); anything else is asked state by state.
    """
    if vectorized and type(rule) in (ListPriceBaseStock, SSP):
        x = np.broadcast_to(m.xs.astype(float), m.shape)
        if isinstance(rule, ListPriceBaseStock):
            q = np.maximum(0.0, rule.level - x)
            price = np.full(m.shape, rule.price)
        else:
            q = np.where(x <= rule.s, rule.S - x, 0.0)
            ctx = m.context
            raw = np.clip(rule.price + rule.slope * (rule.S - (x + q)), ctx.low, ctx.high)
            price = (
                raw if ctx.step == 0 else ctx.low + ctx.step * np.round((raw - ctx.low) / ctx.step)
            )
        room = np.maximum(0.0, m.cap - np.maximum(x, 0.0))
        order = np.maximum(0.0, np.minimum(np.round(q), np.floor(room + EPS)))
        k = np.round((price - m.prices[0]) / (m.prices[1] - m.prices[0])).astype(int)
        if (
            np.any(k < 0)
            or np.any(k >= len(m.prices))
            or np.any(np.abs(m.prices[np.clip(k, 0, len(m.prices) - 1)] - price) > 1e-6)
        ):
            raise KeyError(f"a price of {rule!r} is not on the DP's price grid")
        return k, order
    price_index = np.zeros(m.shape, dtype=int)
    order = np.zeros(m.shape)
    ctx = m.context
    for io, o in enumerate(m.comp):
        for ir, r in enumerate(m.refs):
            for ix, x in enumerate(m.xs):
                s = PricingState(float(max(x, 0)), float(max(-x, 0)), 0.0, float(o), float(r))
                p, wanted = rule.decide(s, ctx)
                units = float(round(wanted))
                room = max(0.0, m.cap - max(x, 0))
                order[io, ir, ix] = max(0.0, min(units, math.floor(room + EPS)))
                price_index[io, ir, ix] = _grid_index(m.prices, p, "price")
    return price_index, order


# -- tuning the heuristics ----------------------------------------------------------------------
@dataclass
class Tuned:
    """A heuristic with its tuned parameters and its value (long-run profit per period)."""

    name: str
    policy: Any
    value: float
    params: dict[str, Any]
    method: str
    evaluations: int


class _Evaluator:
    """Long-run profit of an engine pricing rule: exact on the DP model, else by CRN simulation."""

    def __init__(
        self,
        network: Network,
        market: Any,
        model: PricingModel | None,
        *,
        periods: int = 3_000,
        warmup: int = 200,
        replications: int = 4,
        seed: int = 20_240_513,
    ) -> None:
        self.network, self.market, self.model = network, market, model
        self.sim: dict[str, Any] = dict(
            periods=periods, warmup=warmup, replications=replications, seed=seed
        )
        self.cache: dict[tuple, float] = {}
        self._bias: np.ndarray | None = None
        self.count = 0

    @property
    def method(self) -> str:
        if self.model is not None:
            return "exact evaluation on the DP model"
        s = self.sim
        return (
            f"simulation with common random numbers ({s['replications']} x {s['periods']} "
            f"periods, seed {s['seed']})"
        )

    def __call__(self, policy: Any) -> float:
        key = (
            type(policy).__name__,
            *(round(float(v), 9) for v in vars(policy).values() if isinstance(v, (int, float))),
        )
        if key in self.cache:
            return self.cache[key]
        self.count += 1
        if self.model is not None:
            pi, q = tabulate(self.model, policy)
            value, self._bias = evaluate(self.model, pi, q, bias=self._bias)
        else:
            from des_supply.evaluate import simulate

            value = simulate(self.network, policy, market=self.market, **self.sim).mean
        self.cache[key] = value
        return value


def _list_price_base_stock(price: float, level: float) -> ListPriceBaseStock:
    return ListPriceBaseStock(price, level)


def _best_level(f: Callable[[float], float], lo: int, hi: int, start: int) -> tuple[int, float]:
    """Integer maximiser of *f* on [lo, hi]: a coarse scan, then steps halving around the best."""
    start = min(max(start, lo), hi)
    step = max(1, (hi - lo) // 8)
    cands = sorted({*range(lo, hi + 1, step), start})
    best = max(cands, key=f)
    value = f(best)
    while step >= 1:
        moved = False
        for s in (best - step, best + step):
            if lo <= s <= hi and f(s) > value + 1e-12:
                best, value, moved = s, f(s), True
                break
        if not moved:
            step //= 2
    return best, value


def tune_heuristics(
    network: Network,
    market: Any,
    model: PricingModel | None = None,
    *,
    list_price: float | None = None,
    progress: bool = False,
    **sim: Any,
) -> list[Tuned]:
    """Tune the naive list-price base-stock, BSLP, (s, S, p) and myopic heuristics.

    Levels search the integers in [0, storage capacity] (or up to 4 x the largest
    mean demand over lead time + 1 periods when storage is unlimited); prices the
    market's price grid.  Coordinate search, so the result is the best point found.
    """
    ev = _Evaluator(network, market, model, **sim)
    node = network.node(market.node)
    grid = market.price_grid.values
    grid = np.asarray(
        grid if grid is not None else np.linspace(market.price_grid.low, market.price_grid.high, 13)
    )
    lead = max(e.lead_time.mean for e in network.suppliers(node.name))
    top_rate = float(market.model.rate(grid[0], grid[-1], grid[-1]))
    hi = (
        int(node.storage_capacity)
        if math.isfinite(node.storage_capacity)
        else int(math.ceil(4 * top_rate * (lead + 1))) + 10
    )
    list_price = float(node.price if list_price is None else list_price)
    guess = int(round(market.model.rate(list_price, list_price, list_price) * (lead + 1) + 2))
    out: list[Tuned] = []

    def level_search(make: Callable[[float], Any], start: int) -> tuple[int, float]:
        return _best_level(lambda S: ev(make(S)), 0, hi, start)

    # naive reference: the list price with its best base-stock level
    S, v = level_search(lambda S: ListPriceBaseStock(list_price, S), guess)
    out.append(
        Tuned(
            "list-price",
            ListPriceBaseStock(list_price, S),
            v,
            {"price": list_price, "level": S},
            ev.method,
            ev.count,
        )
    )
    # BSLP: best constant price and level (alternate price scan and level search)
    n0 = ev.count
    p, pv = list_price, v
    for _ in range(4):
        p_new = max(grid, key=lambda pp: ev(ListPriceBaseStock(float(pp), S)))
        S_new, v_new = level_search(partial(_list_price_base_stock, float(p_new)), S)
        if v_new <= pv + 1e-12 and p_new == p:
            break
        p, S, pv = float(p_new), S_new, v_new
    bslp = ListPriceBaseStock(p, S)
    out.append(Tuned("bslp", bslp, ev(bslp), {"price": p, "level": S}, ev.method, ev.count - n0))
    # (s, S, p): pattern search from BSLP (with a fixed cost, from an EOQ-sized gap)
    n0 = ev.count
    K, h = node.fixed_order_cost, max(node.holding_cost, 1e-9)
    lam = float(market.model.rate(p, p - market.competitor.step, p))
    gap = max(1, int(round(math.sqrt(2 * K * lam / h)))) if K > 0 else 1  # EOQ
    s_min = 0.0 if node.shortage == "lost" else -float(hi // 2)
    top = float(min(S + gap // 2, hi))
    x = {"s": max(top - gap, s_min), "S": top, "price": p, "slope": 0.0}
    best = ev(SSP(**x))
    steps = {"s": max(1.0, gap / 2), "S": max(1.0, gap / 2)}
    price_step = float(grid[1] - grid[0]) if len(grid) > 1 else 1.0
    slopes = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)
    improved = True
    while improved:
        improved = False
        trials = []
        for k in ("s", "S"):
            for sign in (1, -1):
                t = dict(x)
                t[k] = x[k] + sign * steps[k]
                trials.append(t)
        for sign in (1, -1):
            t = dict(x)
            t["price"] = float(min(max(x["price"] + sign * price_step, grid[0]), grid[-1]))
            trials.append(t)
        i = slopes.index(x["slope"])
        for j in (i - 1, i + 1):
            if 0 <= j < len(slopes):
                t = dict(x)
                t["slope"] = slopes[j]
                trials.append(t)
        for t in trials:
            if t["S"] < t["s"] or t["S"] > hi or t["s"] < s_min:
                continue
            v = ev(SSP(**t))
            if v > best + 1e-12:
                x, best, improved = t, v, True
                break
        if not improved and max(steps.values()) > 1:
            steps = {k: max(1.0, math.floor(v / 2)) for k, v in steps.items()}
            improved = True
    out.append(Tuned("ssp", SSP(**x), best, dict(x), ev.method, ev.count - n0))
    # myopic pricing with its best base-stock level
    n0 = ev.count
    S, v = level_search(lambda S: MyopicPricing(S), S)
    out.append(Tuned("myopic-pricing", MyopicPricing(S), v, {"level": S}, ev.method, ev.count - n0))
    return out


# -- the optimize entry point --------------------------------------------------------------------
def optimize_pricing(
    problem: Problem,
    *,
    progress: bool = False,
    backlog_bound: int = 20,
    search: dict[str, Any] | None = None,
    memory_limit: float | None = None,
) -> Any:
    """The DP optimum (where the model is finite) and the tuned heuristics of a pricing problem.

    *problem* is a :class:`~des_supply.problem.Problem` with a pricing market.  Returns an
    :class:`optimization.optimize.OptimizeResult` with objective "profit" whose rows are
    named as the policies they are (``list-price``, ``bslp``, ``ssp``, ``myopic-pricing``,
    with their tuned parameters).  Without a finite model (``details["exact_method_skipped"]``
    says why) "optimal" is the best tuned heuristic, under its own name, and every value is
    a simulated estimate.  *search* overrides the simulation settings of that case
    (``periods``, ``warmup``, ``replications``, ``seed``).  A DP over *memory_limit* is
    refused (:class:`~optimization.memory.SizeLimitError`), not replaced by the heuristics.
    """
    from .optimize import Benchmark, OptimizeResult

    if problem.market is None:
        raise PricingDPError(f"problem {problem.name!r} has no market")
    network = problem.network
    details: dict[str, Any] = {}
    try:
        model = build_model(
            network, problem.new_market(), backlog_bound=backlog_bound, memory_limit=memory_limit
        )
    except PricingDPError as exc:
        model, details["exact_method_skipped"] = None, str(exc)
    sol = None
    if model is not None:
        sol = solve(model, progress=progress)
        details.update(
            {
                "states": int(np.prod(model.shape)),
                "iterations": sol.iterations,
                "gain_bounds": list(sol.bounds),
                "solve_seconds": sol.seconds,
                "boundary_mass": sol.boundary_mass,
                "demand_tail": model.demand_tail,
                "backlog_bound": None if model.lost else backlog_bound,
            }
        )
    tuned = tune_heuristics(
        network, problem.new_market(), model, progress=progress, **(search or {})
    )
    policies = [Benchmark(t.name, t.value, t.params, t.method, t.policy) for t in tuned]
    if sol is not None:
        optimal = Benchmark(
            "optimal",
            sol.gain,
            {},
            "relative value iteration on the "
            "discretised state (competitor, reference price, net inventory)",
            sol.policy(),
        )
    else:
        top = max(tuned, key=lambda t: t.value)
        optimal = Benchmark(
            top.name,
            top.value,
            top.params,
            f"no exact method ({details['exact_method_skipped']}): best tuned heuristic",
            top.policy,
        )
    return OptimizeResult(problem, "profit", optimal, policies, details)
