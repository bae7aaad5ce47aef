"""The periodic-review lost-sales model as a finite Markov chain (numpy/scipy only).

Model (Zipkin 2008, "Old and new methods for lost-sales inventory systems",
Operations Research 56(5):1256-1263, Sec. 2).  Integer demand ``D`` i.i.d. per
period; deterministic lead time ``L >= 0`` periods.  Each period:

1. the order placed ``L`` periods earlier arrives and goes on hand;
2. a new order ``z >= 0`` is placed (with ``L = 0`` it goes on hand at once);
3. demand is met from stock on hand; what cannot be met is lost;
4. cost = ``h`` x (stock left at the end of the period) + ``p`` x (units lost)
   + ``K`` if ``z > 0``.

The state at decision time (after step 1) is ``x = (x_0, x_1, ..., x_{L-1})``:
``x_0`` on hand and ``x_l`` the order that arrives in ``l`` periods.  After
ordering ``z`` and seeing demand ``d`` the next state is
``((x_0 - d)^+ + x_1, x_2, ..., x_{L-1}, z)`` (``((x_0 - d)^+ + z)`` for ``L = 1``;
with ``L = 0`` the state is on hand before ordering and the next state is
``(x_0 + z - d)^+``).

**Demand.** No demand distribution is cut anywhere: the chain only needs the law
of the stock left over, ``(y - D)^+`` for ``y`` on hand, and with ``y`` bounded
that law is exact with finitely many numbers -- ``P(D = y - a)`` for ``a >= 1``
and the whole tail ``P(D >= y)`` folded into ``a = 0`` (see :meth:`outcomes`).
Expected lost sales use the exact mean: ``E(D - y)^+ = E D - y + E(y - D)^+``.

**State truncation.** A :class:`Truncation` caps the inventory position after
ordering at ``max_position`` and a single order at ``max_order``.  The set of
states with ``sum(x) <= max_position`` and ``x_l <= max_order`` (``l >= 1``) is
closed under every order that respects the caps, so the truncated problem is an
exact Markov decision process whose policies are all policies of the real
system: its optimal cost is an upper bound on the true optimum.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse, stats

__all__ = [
    "BLOCK_FLOATS",
    "DEMANDS",
    "SPARSE_TRANSITIONS",
    "ChainEvaluation",
    "GridBlocks",
    "LostSalesModel",
    "StateSpace",
    "Truncation",
    "block_floats",
    "chain_bytes",
    "coordinate_sums",
    "evaluate_orders",
    "expect_next",
    "grid_chain",
    "state_count",
]

#: Demand families by name.  Geometric with mean m: P(k) = (1 - q) q^k, q = m / (1 + m).
DEMANDS = ("poisson", "geometric")


def _check_number(value: float, name: str, *, positive: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}(={value!r}) must be a number") from None
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name}(={value!r}) must be a finite number {bound}")
    return v


@dataclass(frozen=True, slots=True)
class LostSalesModel:
    """Data of one lost-sales instance, validated on construction.

    Parameters
    ----------
    lead_time : int -- periods from ordering to arrival [L]
    holding : float -- $ per unit on hand at the end of a period [h]; must be > 0
    penalty : float -- $ per unit of demand lost [p]
    demand : str -- ``"poisson"`` or ``"geometric"`` (on 0, 1, ...)
    demand_mean : float -- mean demand per period [E D]
    fixed_cost : float -- $ per order placed [K]
    """

    lead_time: int
    holding: float
    penalty: float
    demand: str = "poisson"
    demand_mean: float = 5.0
    fixed_cost: float = 0.0

    def __post_init__(self) -> None:
        L = self.lead_time
        if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 0:
            raise ValueError(f"lead_time(={L!r}) must be an integer >= 0")
        object.__setattr__(self, "lead_time", int(L))
        object.__setattr__(self, "holding", _check_number(self.holding, "holding", positive=True))
        object.__setattr__(self, "penalty", _check_number(self.penalty, "penalty"))
        object.__setattr__(self, "fixed_cost", _check_number(self.fixed_cost, "fixed_cost"))
        object.__setattr__(
            self, "demand_mean", _check_number(self.demand_mean, "demand_mean", positive=True)
        )
        if self.demand not in DEMANDS:
            raise ValueError(f"demand(={self.demand!r}) must be one of {', '.join(DEMANDS)}")

    # -- demand -------------------------------------------------------------------------
    def _dist(self, periods: int = 1):
        m = self.demand_mean * periods
        if self.demand == "poisson":
            return stats.poisson(m)
        return stats.nbinom(periods, 1.0 / (1.0 + self.demand_mean))  # sum of geometrics

    def pmf(self, n: int) -> np.ndarray:
        """``P(D = k)`` for ``k = 0..n-1``."""
        return self._dist().pmf(np.arange(n))

    def quantile(self, level: float, periods: int = 1) -> int:
        """Smallest ``s`` with ``P(D_1 + ... + D_periods <= s) >= level``."""
        level = min(level, 1.0 - 1e-12)
        return int(self._dist(periods).ppf(level)) if level > 0 else 0

    def outcomes(self, n: int) -> np.ndarray:
        """``M[y, a] = P((y - D)^+ = a)`` for ``y, a = 0..n-1`` (lower triangular).

        Column 0 holds the folded tail ``P(D >= y)``, so each row sums to one exactly.
        """
        pmf = self.pmf(n)
        y = np.arange(n)
        diff = y[:, None] - y[None, :]  # y - a
        M = np.where((diff >= 0) & (y[None, :] >= 1), pmf[np.clip(diff, 0, n - 1)], 0.0)
        M[:, 0] = self._dist().sf(y - 1)  # P(D >= y)
        return M

    def expected_parts(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(E(y - D)^+, E(D - y)^+)`` for on-hand ``y = 0..n-1`` (exact)."""
        pmf = self.pmf(n)
        y = np.arange(n)
        over = np.concatenate(([0.0], np.cumsum(np.cumsum(pmf))[:-1]))  # sum_{k<y} P(D<=k)
        return over, over + self.demand_mean - y

    def period_cost(self, n: int) -> np.ndarray:
        """Expected holding + lost-sales cost of a period that starts with ``y`` on hand."""
        over, under = self.expected_parts(n)
        return self.holding * over + self.penalty * under


@dataclass(frozen=True, slots=True)
class Truncation:
    """Caps that make the state space finite.

    Parameters
    ----------
    max_position : int -- largest inventory position after ordering [S-bar]
    max_order : int -- largest single order [z-bar] (ignored for ``L = 0``)
    """

    max_position: int
    max_order: int

    def __post_init__(self) -> None:
        for name in ("max_position", "max_order"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{name}(={v!r}) must be an integer >= 0")
            object.__setattr__(self, name, int(v))

    @classmethod
    def default(cls, model: LostSalesModel, margin: int = 2) -> Truncation:
        """Caps from Zipkin's bound on the optimal order, plus ``margin`` units.

        The optimal order is bounded by the standard vector base-stock order
        (Morton 1969, "Bounds on the solution of the lagged optimal inventory
        equation with no demand backlogging and proportional costs", SIAM Review
        11(4); Zipkin 2008, "On the structure of lost-sales inventory models", OR
        56(4)): the inventory position after ordering is at most the
        ``p / (p + h)`` quantile of ``L + 1`` periods of demand, and the order at
        most that quantile of one period.  With a fixed cost ``K`` the bound does
        not hold, and both caps get the EOQ ``sqrt(2 K E D / h)`` on top.  Either
        way, check :attr:`~optimization.lost_sales.LostSalesSolution.boundary_mass`
        (on Zipkin's instances it is 0 already with ``margin=1``, and a larger
        margin leaves the optimum unchanged).
        """
        ratio = model.penalty / (model.penalty + model.holding)
        extra = margin
        if model.fixed_cost > 0:
            extra += math.ceil(math.sqrt(2 * model.fixed_cost * model.demand_mean / model.holding))
        S = model.quantile(ratio, model.lead_time + 1) + extra
        Z = S if model.lead_time == 0 else min(S, model.quantile(ratio, 1) + extra)
        return cls(S, Z)


def state_count(lead_time: int, trunc: Truncation) -> tuple[int, int]:
    """``(states, transitions)`` of the truncated space, without building it."""
    S, Z = trunc.max_position, trunc.max_order
    ways = np.zeros(S + 1)  # ways[t]: pipelines (x_1..x_{L-1}) summing to t
    ways[0] = 1.0
    for _ in range(max(lead_time - 1, 0)):
        ways = np.convolve(ways, np.ones(Z + 1))[: S + 1]
    at_most = np.cumsum(ways)  # pipelines summing to <= t
    x0 = np.arange(S + 1)
    per_x0 = at_most[S - x0]
    outcomes = x0 + 1 if lead_time else np.full(S + 1, S + 1.0)  # L=0: order-up-to is free
    return int(per_x0.sum()), int((per_x0 * outcomes).sum())


@dataclass(frozen=True, slots=True, eq=False)
class StateSpace:
    """The truncated states, enumerated in lexicographic (row-major) order.

    ``states[i]`` is ``(x_0, ..., x_{L-1})`` (just ``(x_0,)`` for ``L <= 1``);
    ``shape`` is the dense grid they live in: ``(S+1,) + (Z+1,) * (L-1)``.
    """

    lead_time: int
    truncation: Truncation
    states: np.ndarray
    shape: tuple[int, ...]
    keys: np.ndarray

    @classmethod
    def build(cls, lead_time: int, trunc: Truncation) -> StateSpace:
        S, Z = trunc.max_position, trunc.max_order
        cols = [np.arange(S + 1)]
        total = cols[0].copy()
        for _ in range(1, lead_time):  # add x_1 .. x_{L-1}, each <= Z, sum <= S
            counts = np.minimum(Z, S - total) + 1
            parent = np.repeat(np.arange(total.size), counts)
            value = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            cols = [c[parent] for c in cols] + [value]
            total = total[parent] + value
        states = np.stack(cols, axis=1)
        shape = (S + 1,) + (Z + 1,) * (lead_time - 1)
        keys = np.ravel_multi_index(tuple(states.T), shape)
        return cls(lead_time, trunc, states, shape, keys)

    def __len__(self) -> int:
        return len(self.states)

    def position(self) -> np.ndarray:
        """Inventory position of each state (on hand + pipeline)."""
        return self.states.sum(axis=1)

    def order_cap(self) -> np.ndarray:
        """Largest order allowed in each state: ``min(z-bar, S-bar - position)``."""
        room = self.truncation.max_position - self.position()
        return room if self.lead_time == 0 else np.minimum(self.truncation.max_order, room)

    def index(self, cols: tuple[np.ndarray, ...]) -> np.ndarray:
        """Row numbers of the states with coordinates ``cols`` (all must exist)."""
        return self.index_of_keys(np.ravel_multi_index(cols, self.shape))

    def index_of_keys(self, keys: np.ndarray) -> np.ndarray:
        """Row numbers of the states with grid keys ``keys`` (all must exist)."""
        cells = math.prod(self.shape)
        if cells <= 4 * len(self.keys) + 2**20:  # a dense look-up table is cheap: O(1) each
            lookup = np.full(cells, -1, dtype=np.int64)
            lookup[self.keys] = np.arange(len(self.keys))
            idx = lookup[keys]
            if idx.size and idx.min() < 0:
                raise ValueError("a transition leaves the truncated state space")
            return idx
        idx = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        if not np.array_equal(self.keys[idx], keys):
            raise ValueError("a transition leaves the truncated state space")
        return idx


def expect_next(values: np.ndarray, outcomes: np.ndarray, arrivals: int) -> np.ndarray:
    """Expectation over one period's demand, vectorised over the whole grid.

    ``values[b, r]`` is a function of next period's on hand ``b`` (after its
    arrival) and of further coordinates ``r``.  Returns ``out[y, w, r] =
    sum_a M[y, a] values[a + w, r]`` for ``w = 0..arrivals``: the expected value
    next period when ``y`` is on hand now and ``w`` arrives next period.  ``values``
    is treated as 0 beyond its last row (callers only read combinations that stay
    inside the grid).  It is a single matrix product, none per state.
    """
    n, r = values.shape
    padded = np.zeros((n + arrivals, r))
    padded[:n] = values
    windows = np.lib.stride_tricks.sliding_window_view(padded, n, axis=0)  # [w, r, a]
    shifted = np.ascontiguousarray(windows.transpose(2, 0, 1)).reshape(n, -1)  # [a, (w, r)]
    return (outcomes @ shifted).reshape(n, arrivals + 1, r)


@dataclass(frozen=True, slots=True)
class ChainEvaluation:
    """Long-run figures of a policy, from the stationary law of its Markov chain.

    ``clipped_mass`` is the stationary probability of the states where the policy
    asked for more than the truncation allows (its order was cut); 0 means the
    result is exact for the untruncated system.
    """

    average_cost: float  # $ per period
    holding_cost: float  # $ per period, h E[stock at period end]
    lost_sales: float  # units lost per period
    order_frequency: float  # fraction of periods with an order
    clipped_mass: float
    states: int
    iterations: int
    residual: float  # || pi P - pi ||_1 at the end


def _transitions(model: LostSalesModel, space: StateSpace, orders: np.ndarray) -> sparse.csr_matrix:
    """Transition matrix of the chain that orders ``orders[i]`` in state ``i``."""
    L, x = space.lead_time, space.states
    S = space.truncation.max_position
    M = model.outcomes(S + 1)
    y = x[:, 0] + orders if L == 0 else x[:, 0]  # on hand when demand comes
    counts = y + 1
    rows = np.repeat(np.arange(len(space)), counts)
    a = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    prob = M[y[rows], a]
    # the next state's grid key is base[i] + a * stride: only its first coordinate moves
    if L == 0:
        base = np.zeros(len(space), dtype=np.int64)
    elif L == 1:
        base = orders.astype(np.int64)
    else:
        base = np.ravel_multi_index(
            (x[:, 1],) + tuple(x[:, k] for k in range(2, L)) + (orders,), space.shape
        )
    stride = math.prod(space.shape[1:])
    col = space.index_of_keys(base[rows] + a * stride)
    keep = prob > 0
    n = len(space)
    if keep.all():  # rows are sorted and, within a row, columns increase with a: CSR as is
        indptr = np.concatenate(([0], np.cumsum(counts)))
        return sparse.csr_matrix((prob, col, indptr), shape=(n, n))
    return sparse.csr_matrix((prob[keep], (rows[keep], col[keep])), shape=(n, n))


def stationary(
    P: sparse.csr_matrix,
    *,
    tol: float = 1e-12,
    max_iter: int = 100_000,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, int, float]:
    """Stationary law by power iteration on the lazy chain ``0.95 P + 0.05 I``.

    The small self-loop makes any chain aperiodic without changing its stationary
    law.  Stops when successive iterates differ by less than ``tol`` in L1.
    Returns ``(pi, iterations, residual)``.
    """
    PT = P.T.tocsr()
    n = P.shape[0]
    pi = np.full(n, 1.0 / n) if start is None else start / start.sum()
    change = np.inf
    it = 0
    while it < max_iter and change > tol:
        new = 0.95 * (PT @ pi) + 0.05 * pi
        new /= new.sum()
        change = float(np.abs(new - pi).sum())
        pi = new
        it += 1
    residual = float(np.abs(PT @ pi - pi).sum())
    return pi, it, residual


#: Above this many transitions a policy's chain is not built as a sparse matrix (about 1 GiB)
#: but stepped block by block on the grid (:class:`GridBlocks`), when the grid is compact.
SPARSE_TRANSITIONS = 20_000_000


def grid_chain(lead_time: int, trunc: Truncation) -> bool:
    """True when :func:`evaluate_orders` steps the chain on the grid (:class:`GridBlocks`)
    rather than through a sparse transition matrix: many transitions, and a grid at most
    four times the states (an order cap well below the position cap)."""
    if lead_time < 2:
        return False
    states, transitions = state_count(lead_time, trunc)
    cells = (trunc.max_position + 1) * (trunc.max_order + 1) ** (lead_time - 1)
    return transitions > SPARSE_TRANSITIONS and cells <= 4 * states


def block_floats(lead_time: int, trunc: Truncation) -> int:
    """Floats in the largest block temporary of :class:`GridBlocks` (the one-hot mass of
    :meth:`GridBlocks.push`, ``n (Zt+1)^2 m``), without building the blocks."""
    S, Z = trunc.max_position, trunc.max_order
    ways = np.zeros(S + 1)  # ways[t]: columns r' = (x_2..x_{L-1}) summing to t
    ways[0] = 1.0
    for _ in range(max(lead_time - 2, 0)):
        ways = np.convolve(ways, np.ones(Z + 1))[: S + 1]
    biggest = 0
    for t in np.flatnonzero(ways).tolist():
        n, Zt = S - t + 1, min(Z, S - t)
        per = n * (Zt + 1) ** 2
        biggest = max(biggest, per * min(int(ways[t]), max(1, BLOCK_FLOATS // per)))
    return biggest


def chain_bytes(lead_time: int, trunc: Truncation) -> int:
    """Peak bytes of :func:`evaluate_orders` on the truncated space (traced peaks of
    :func:`~optimization.lost_sales.solve_lost_sales`, whose guard adds its grids: 352 MiB
    at L = 5, p = 39 by the sparse route, estimate 371; 1.56 GiB at L = 6, p = 39 by the
    grid, estimate 1.95)."""
    states, transitions = state_count(lead_time, trunc)
    space = 8 * (lead_time + 2) * states
    if grid_chain(lead_time, trunc):
        cells = (trunc.max_position + 1) * (trunc.max_order + 1) ** (lead_time - 1)
        return space + 8 * 7 * cells + 8 * 4 * block_floats(lead_time, trunc)
    return space + 48 * transitions


def evaluate_orders(
    model: LostSalesModel,
    space: StateSpace,
    wanted: np.ndarray,
    *,
    tol: float = 1e-12,
    max_iter: int = 100_000,
) -> tuple[ChainEvaluation, np.ndarray]:
    """Exact long-run cost of ordering ``wanted[i]`` (integers) in state ``i``.

    Orders above the state's cap are cut to it and their mass is reported as
    ``clipped_mass``.  Returns the evaluation and the stationary law.
    """
    wanted = np.maximum(np.asarray(wanted, dtype=np.int64), 0)
    if grid_chain(space.lead_time, space.truncation):
        blocks = GridBlocks(model, space.truncation)
        grid = np.full(blocks.feasible.shape, -1, dtype=np.int64)
        grid.reshape(-1)[space.keys] = wanted
        evaluation, pi = blocks.evaluate(model, grid, tol=tol, max_iter=max_iter)
        return evaluation, pi.reshape(-1)[space.keys]
    cap = space.order_cap()
    orders = np.minimum(wanted, cap)
    P = _transitions(model, space, orders)
    pi, iterations, residual = stationary(P, tol=tol, max_iter=max_iter)
    S = space.truncation.max_position
    over, under = model.expected_parts(S + 1)
    y = space.states[:, 0] + (orders if space.lead_time == 0 else 0)
    ordered = orders > 0
    hold = model.holding * float(pi @ over[y])
    lost = float(pi @ under[y])
    freq = float(pi @ ordered)
    evaluation = ChainEvaluation(
        average_cost=hold + model.penalty * lost + model.fixed_cost * freq,
        holding_cost=hold,
        lost_sales=lost,
        order_frequency=freq,
        clipped_mass=float(pi[wanted > cap].sum()),
        states=len(space),
        iterations=iterations,
        residual=residual,
    )
    return evaluation, pi


# -- the dense grid, block by block (L >= 2) ----------------------------------------------------
def coordinate_sums(k: int, Z: int) -> np.ndarray:
    """Coordinate sums of the row-major grid ``{0..Z}^k``, flattened."""
    sums = np.zeros(1, dtype=np.int64)
    for _ in range(k):
        sums = (sums[:, None] + np.arange(Z + 1)[None, :]).ravel()
    return sums


#: Floats in the largest temporary of one block (about 16 MiB); bounds the blocks' memory.
BLOCK_FLOATS = 2**21


class GridBlocks:
    """Bellman updates and chain steps on the dense grid of a lead time ``L >= 2``, in blocks.

    The grid is ``(S+1, Z+1, R')`` for ``(x_0, x_1, r')``, ``r' = (x_2, .., x_{L-1})``
    flattened row-major (``R' = (Z+1)^(L-2)``), the layout of
    :attr:`StateSpace.shape` and of ``values`` in :func:`expect_next`.  A state's
    next state is ``((x_0 - D)^+ + x_1, r', z)``: the demand acts on ``x_0`` only,
    the rest is a shift.  Grouping the columns ``r'`` by their sum ``t`` bounds
    everything a group can reach (``x_0 + x_1 + z <= S - t``), so each block is one
    small matrix product over ``x_0`` with no Q-value array of the whole grid ever
    built: memory is a few value grids plus :data:`BLOCK_FLOATS` per temporary, and
    the work skips the part of the grid outside the truncation.
    """

    def __init__(self, model: LostSalesModel, trunc: Truncation) -> None:
        L = model.lead_time
        if L < 2:
            raise ValueError(f"GridBlocks needs lead_time >= 2, not {L}")
        S, Z = trunc.max_position, trunc.max_order
        self.S, self.Z, self.L = S, Z, L
        self.Rp = (Z + 1) ** (L - 2)
        self.shape = (S + 1,) + (Z + 1,) * (L - 1)
        self.M = model.outcomes(S + 1)
        self.K = model.fixed_cost
        sums = coordinate_sums(L - 2, Z)
        x01 = np.arange(S + 1)[:, None] + np.arange(Z + 1)[None, :]
        #: feasible grid points (position <= S), shape ``(S+1, Z+1, R')``
        self.feasible = x01[:, :, None] + sums[None, None, :] <= S
        self.blocks: list[tuple[int, int, int, np.ndarray]] = []  # (t, n, Zt, columns r')
        for t in range(S + 1):
            cols = np.flatnonzero(sums == t)
            if not len(cols):
                continue
            n, Zt = S - t + 1, min(Z, S - t)
            step = max(1, BLOCK_FLOATS // (n * (Zt + 1) ** 2))
            for k in range(0, len(cols), step):
                self.blocks.append((t, n, Zt, cols[k : k + step]))

    def grid(self, dtype: Any = float) -> np.ndarray:
        return np.zeros((self.S + 1, self.Z + 1, self.Rp), dtype=dtype)

    def bellman(self, V: np.ndarray, cost: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out[x] = cost[x_0] + min_z [K 1{z>0} + E V(next)]`` (inf outside the truncation)."""
        return self._pull(V, cost, out, argmin=False)

    def argmin(self, V: np.ndarray, out: np.ndarray) -> np.ndarray:
        """The minimising order of :meth:`bellman` at every grid point (-1 outside; the
        smallest order among ties, like ``numpy.argmin``)."""
        return self._pull(V, np.zeros(self.S + 1), out, argmin=True)

    def _pull(self, V: np.ndarray, cost: np.ndarray, out: np.ndarray, argmin: bool) -> np.ndarray:
        """For each block and each ``x_1``: ``Q[x_0, z, r'] = sum_a M[x_0, a] V(a + x_1, r', z)``
        over the states of the block only (``x_0 < n - x_1``), then the minimum over the
        orders the truncation allows (``z <= n - 1 - x_1 - x_0``)."""
        Vn = V.reshape(self.S + 1, self.Rp, self.Z + 1)  # [b, r', z]: the next state's view
        out.fill(-1 if argmin else np.inf)
        M, add = self.M, self._order_costs
        for _, n, Zt, cols in self.blocks:
            m = len(cols)
            B = np.ascontiguousarray(Vn[:n, cols, : Zt + 1].transpose(0, 2, 1))  # [b, z, r']
            for x1 in range(Zt + 1):
                rows = n - x1  # x_0 + x_1 <= S - t
                Q = (M[:rows, :rows] @ B[x1:].reshape(rows, -1)).reshape(rows, Zt + 1, m)
                Q += add(rows, Zt)
                if argmin:
                    out[:rows, x1, cols] = Q.argmin(axis=1)
                else:
                    out[:rows, x1, cols] = cost[:rows, None] + Q.min(axis=1)
        return out

    @functools.cache  # noqa: B019 -- a handful of small arrays per instance
    def _order_costs(self, rows: int, Zt: int) -> np.ndarray:
        """``[x_0, z, 1]``: ``K`` if ``z > 0``, inf where ``x_0 + z`` leaves the block
        (``x_0 + z > rows - 1``: the position would exceed ``S``)."""
        x0z = np.arange(rows)[:, None] + np.arange(Zt + 1)[None, :]
        K = self.K * (np.arange(Zt + 1) > 0)
        return np.where(x0z > rows - 1, np.inf, K[None, :])[:, :, None]

    def push(self, pi: np.ndarray, table: np.ndarray, out: np.ndarray) -> np.ndarray:
        """One step of the chain that orders ``table[x]`` in state x: ``out = P^T pi``."""
        On = out.reshape(self.S + 1, self.Rp, self.Z + 1)  # [b, r', z]
        out.fill(0.0)
        MT = self.M.T
        for _, n, Zt, cols in self.blocks:
            m = len(cols)
            p = pi[:n, : Zt + 1, cols]  # [x0, x1, r']
            z = np.maximum(table[:n, : Zt + 1, cols], 0)
            P = np.zeros((n, Zt + 1, Zt + 1, m))  # [x0, x1, z, r']: the mass that orders z
            np.put_along_axis(P, z[:, :, None, :], p[:, :, None, :], axis=2)
            block = np.zeros((n, Zt + 1, m))  # [b, z, r'], b = y + x1
            for x1 in range(Zt + 1):
                rows = n - x1  # x_0 + x_1 <= S - t
                F = MT[:rows, :rows] @ P[:rows, x1].reshape(rows, -1)  # [y, (z, r')]
                block[x1:] += F.reshape(rows, Zt + 1, m)
            On[:n, cols, : Zt + 1] += block.transpose(0, 2, 1)
        return out

    def stationary(
        self, table: np.ndarray, *, tol: float = 1e-12, max_iter: int = 100_000
    ) -> tuple[np.ndarray, int, float]:
        """:func:`stationary` of the chain of ``table`` on the grid: ``(pi, iterations,
        residual)``, the same lazy power iteration from the uniform law on the states."""
        pi = self.feasible / self.feasible.sum()
        new, step = self.grid(), self.grid()
        change, it = np.inf, 0
        while it < max_iter and change > tol:
            self.push(pi, table, step)
            np.multiply(step, 0.95, out=new)
            new += 0.05 * pi
            new /= new.sum()
            change = float(np.abs(new - pi).sum())
            pi, new = new, pi
            it += 1
        residual = float(np.abs(self.push(pi, table, step) - pi).sum())
        return pi, it, residual

    def order_cap(self) -> np.ndarray:
        """:meth:`StateSpace.order_cap` on the grid: ``min(Z, S - position)``."""
        x01 = np.arange(self.S + 1)[:, None, None] + np.arange(self.Z + 1)[None, :, None]
        return np.minimum(self.Z, self.S - x01 - coordinate_sums(self.L - 2, self.Z)[None, None, :])

    def evaluate(
        self,
        model: LostSalesModel,
        wanted: np.ndarray,
        *,
        tol: float = 1e-12,
        max_iter: int = 100_000,
    ) -> tuple[ChainEvaluation, np.ndarray]:
        """:func:`evaluate_orders` for a grid of wanted orders (-1 or anything outside the
        states is ignored); returns the evaluation and the stationary law on the grid."""
        feasible = self.feasible
        cap = self.order_cap()
        wanted = np.where(feasible, np.maximum(wanted, 0), 0)
        table = np.where(feasible, np.minimum(wanted, cap), -1)
        pi, iterations, residual = self.stationary(table, tol=tol, max_iter=max_iter)
        over, under = model.expected_parts(self.S + 1)
        by_x0 = pi.sum(axis=(1, 2))
        hold = model.holding * float(by_x0 @ over)
        lost = float(by_x0 @ under)
        freq = float(pi[table > 0].sum())
        evaluation = ChainEvaluation(
            average_cost=hold + model.penalty * lost + model.fixed_cost * freq,
            holding_cost=hold,
            lost_sales=lost,
            order_frequency=freq,
            clipped_mass=float(pi[feasible & (wanted > cap)].sum()),
            states=int(feasible.sum()),
            iterations=iterations,
            residual=residual,
        )
        return evaluation, pi
