"""Decision-dependent demand under price competition (Schlosser & Richly 2019).

A :class:`CompetitiveMarket` plugs into the engine's demand phase
(:class:`des_supply.sim.Market`): in every period it reads the price in force at
its node, draws that period's demand, then moves its own state (the customers'
reference price and the competitor's price) to the next period.

Demand (seed paper eq. 3; Schlosser & Richly 2019, eq. 1 and Table 1)
---------------------------------------------------------------------
Demand in a period is ``D ~ Poisson(eta * delta * e^{x'beta} / (1 + e^{x'beta}))``
with the regressors ``x(p, o, r)`` of our price *p*, the competitor's price *o*
and the reference price *r*:

====  ===========================================  ==============
x_1   constant                                     1
x_2   price rank against the competitor            1 + (1{o < p} + 1{o <= p}) / 2
x_3   price difference                             p - o
x_4   number of competitors                        ``n_competitors``
x_5   mean market price                            (p + o) / 2
x_6   reference-price gap                          p - r
====  ===========================================  ==============

``beta`` defaults to (-3.89, -0.56, -0.01, 0.07, -0.03, -0.01), the values of a
public implementation of that model; ``eta`` (market size: 80 and 800 both
appear there) defaults to 800 and ``delta`` (length of a period) to 1, which
gives 1.3 to 7 units per period over prices 20-50 (about 2-3 at the profitable
prices near 40).  With ``eta = 80`` demand is a tenth of that.

Dynamics inside period t (after the decision, in the demand phase)
------------------------------------------------------------------
1. demand is drawn from ``p_t``, ``o_t``, ``r_t`` (``p_t`` is the node's price in
   force, i.e. the latest ``Action.prices`` entry);
2. reference price: ``r_{t+1} = memory * r_t + (1 - memory) * p_t`` (memory 0.9:
   exponential smoothing as in Schlosser & Richly).  With ``ref_step > 0`` the
   result is rounded to the grid ``ref_low + k * ref_step`` *at random*, up with
   probability equal to the fraction of the step (so ``E[r_{t+1}]`` is exactly the
   smoothing rule); this keeps the state on a finite grid for the exact DP;
3. competitor: with probability ``react`` it moves by its rule, else keeps ``o_t``:

   * ``"undercut"`` (reactive, "two-bound"): undercut our price by ``step``,
     ``o' = min(p_t - step, high)``; when that would fall below ``low`` it gives up
     the price war and restarts at ``high`` (Edgeworth cycles; Maskin & Tirole
     1988; used for repricing competitors by Schlosser & Boissier 2018);
   * ``"random-walk"``: ``o' = o +- step`` (equally likely), kept in ``[low, high]``;
   * ``"fixed"``: ``o`` never moves.

Randomness: per period four uniforms from the market's own stream, drawn in
blocks by period (demand by inverse CDF, reaction, direction, rounding), so two
policies run on the same seed see the same uniforms in every period (common
random numbers; the Poisson inverse CDF makes demand monotone in its mean).

Observing the market
--------------------
``observation()`` returns ``{"competitor_price": o_t, "reference_price": r_t}`` at a
decision epoch (the state the period's demand will use).  Engine policies reach
the market of the run they are in through :func:`market_of`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from .policies import Action
    from .sim import Observation

__all__ = [
    "BETA",
    "COMPETITOR_RULES",
    "CompetitiveMarket",
    "Competitor",
    "DemandModel",
    "PriceGrid",
    "market_of",
    "poisson_ppf",
]

#: The coefficients of the public implementation of Schlosser & Richly (2019).
BETA = (-3.89, -0.56, -0.01, 0.07, -0.03, -0.01)
COMPETITOR_RULES = ("undercut", "random-walk", "fixed")
_BLOCK = 256  # periods of uniforms drawn at once
_EPS = 1e-9


def poisson_ppf(u: float, lam: float) -> int:
    """Smallest k with P(Poisson(lam) <= k) >= u (inverse CDF, for common random numbers)."""
    if lam <= 0.0:
        return 0
    if lam > 600.0:  # e^-lam underflows: leave it to scipy
        from scipy import stats

        return int(stats.poisson.ppf(u, lam))
    p = math.exp(-lam)
    cdf, k = p, 0
    while u > cdf and p > 0.0:
        k += 1
        p *= lam / k
        cdf += p
    return k


@dataclass(frozen=True, slots=True)
class PriceGrid:
    """Prices ``low, low + step, ..., high`` (``step = 0``: any price in ``[low, high]``)."""

    low: float
    high: float
    step: float = 0.0

    def __post_init__(self) -> None:
        if not (0 <= self.low < self.high and math.isfinite(self.high)):
            raise ValueError(
                f"price bounds must satisfy 0 <= low(={self.low}) < high(={self.high}) < inf"
            )
        if self.step < 0:
            raise ValueError(f"step(={self.step}) must be >= 0")
        if self.step > 0:
            n = (self.high - self.low) / self.step
            if abs(n - round(n)) > 1e-6:
                raise ValueError(
                    f"high - low (={self.high - self.low}) must be a multiple of step(={self.step})"
                )

    @property
    def values(self) -> np.ndarray | None:
        """The grid, or None when prices are continuous."""
        if self.step == 0:
            return None
        n = int(round((self.high - self.low) / self.step))
        return self.low + self.step * np.arange(n + 1)

    def snap(self, price: float) -> float:
        """*price* clipped to the bounds and rounded to the nearest grid point."""
        price = min(max(float(price), self.low), self.high)
        if self.step == 0:
            return price
        return self.low + self.step * round((price - self.low) / self.step)


@dataclass(frozen=True, slots=True)
class DemandModel:
    """The logit demand rate of Schlosser & Richly (2019) (table in the module docstring).

    Parameters
    ----------
    eta : float
        Market size [eta]: customers per unit of time.
    delta : float
        Length of a period [Delta], in (0, 1].
    beta : tuple of 6 floats
        Coefficients of (constant, rank, p - o, competitors, (p + o) / 2, p - r).
    n_competitors : int
        Number of competitors (regressor x_4).
    """

    eta: float = 800.0
    delta: float = 1.0
    beta: tuple[float, ...] = BETA
    n_competitors: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "beta", tuple(float(b) for b in self.beta))
        if len(self.beta) != 6:
            raise ValueError(f"beta must have 6 coefficients, got {len(self.beta)}")
        if not self.eta > 0 or not 0 < self.delta <= 1:
            raise ValueError(f"eta(={self.eta}) must be > 0 and delta(={self.delta}) in (0, 1]")
        if self.n_competitors < 0:
            raise ValueError(f"n_competitors(={self.n_competitors}) must be >= 0")

    def features(self, p: Any, o: Any, r: Any) -> np.ndarray:
        """Regressors x(p, o, r), stacked on the last axis (broadcasts over arrays)."""
        p, o, r = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (p, o, r)))
        rank = 1.0 + ((o < p).astype(float) + (o <= p).astype(float)) / 2.0
        return np.stack(
            [
                np.ones_like(p),
                rank,
                p - o,
                np.full_like(p, self.n_competitors),
                (p + o) / 2.0,
                p - r,
            ],
            axis=-1,
        )

    def rate(self, p: Any, o: Any, r: Any) -> Any:
        """Mean demand per period, ``eta * delta * logistic(x'beta)`` (float or array)."""
        b0, b1, b2, b3, b4, b5 = self.beta
        if type(p) is float and type(o) is float and type(r) is float:  # the engine's hot path
            rank = 1.0 + ((o < p) + (o <= p)) / 2.0
            z = (
                b0
                + b1 * rank
                + b2 * (p - o)
                + b3 * self.n_competitors
                + b4 * (p + o) / 2.0
                + b5 * (p - r)
            )
            return self.eta * self.delta / (1.0 + math.exp(-z))
        p, o, r = (np.asarray(v, dtype=float) for v in (p, o, r))
        rank = 1.0 + ((o < p).astype(float) + (o <= p).astype(float)) / 2.0
        z = (
            b0
            + b1 * rank
            + b2 * (p - o)
            + b3 * self.n_competitors
            + b4 * (p + o) / 2.0
            + b5 * (p - r)
        )
        out = self.eta * self.delta / (1.0 + np.exp(-z))
        return float(out) if np.ndim(out) == 0 else out


@dataclass(frozen=True, slots=True)
class Competitor:
    """The competitor's price process (rules in the module docstring).

    ``react`` is the probability that the competitor updates its price in a period.
    """

    rule: str = "undercut"
    low: float = 20.0
    high: float = 50.0
    step: float = 2.5
    react: float = 0.8
    initial: float = 35.0

    def __post_init__(self) -> None:
        if self.rule not in COMPETITOR_RULES:
            raise ValueError(
                f"competitor rule(={self.rule!r}) must be one of {', '.join(COMPETITOR_RULES)}"
            )
        if not (0 <= self.low <= self.initial <= self.high and math.isfinite(self.high)):
            raise ValueError(
                f"competitor prices need 0 <= low(={self.low}) <= "
                f"initial(={self.initial}) <= high(={self.high}) < inf"
            )
        if self.step <= 0 and self.rule != "fixed":
            raise ValueError(f"competitor step(={self.step}) must be > 0")
        if not 0 <= self.react <= 1:
            raise ValueError(f"competitor react(={self.react}) must be in [0, 1]")

    def move(self, o: float, p: float) -> float:
        """The price the competitor moves to when it reacts to our price *p* (up direction
        for the random walk; see :meth:`next`)."""
        if self.rule == "undercut":
            target = p - self.step
            if target < self.low - _EPS:
                return self.high
            return min(target, self.high)
        if self.rule == "random-walk":
            return min(o + self.step, self.high)
        return o

    def next(self, o: float, p: float, u_react: float, u_move: float) -> float:
        """Next period's price from this period's *o* and our price *p* and two uniforms."""
        if self.rule == "fixed" or u_react >= self.react:
            return o
        if self.rule == "random-walk" and u_move < 0.5:
            return max(o - self.step, self.low)
        return self.move(o, p)

    def transitions(self, prices: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """``T[i, j, k] = P(o' = grid[k] | p = prices[i], o = grid[j])``; ValueError when a
        move leaves the grid (the grids must line up)."""
        T = np.zeros((len(prices), len(grid), len(grid)))

        def index(v: float) -> int:
            k = int(np.argmin(np.abs(grid - v)))
            if abs(grid[k] - v) > 1e-6:
                raise ValueError(
                    f"competitor price {v:g} is not on the grid "
                    f"{grid[0]:g}..{grid[-1]:g}: align the price and competitor grids"
                )
            return k

        for i, p in enumerate(prices):
            for j, o in enumerate(grid):
                stay = 1.0 if self.rule == "fixed" else 1.0 - self.react
                T[i, j, j] += stay
                if self.rule == "undercut":
                    T[i, j, index(self.move(o, p))] += self.react
                elif self.rule == "random-walk":
                    T[i, j, index(min(o + self.step, self.high))] += 0.5 * self.react
                    T[i, j, index(max(o - self.step, self.low))] += 0.5 * self.react
        return T


@dataclass
class CompetitiveMarket:
    """Demand at one node under price competition, with reference-price effects.

    Parameters
    ----------
    node : str
        The node whose external demand the market draws (and whose price it reads).
    model : DemandModel
    competitor : Competitor
    price_grid : PriceGrid
        The prices the seller may set (bounds; a grid when ``step > 0``).  The market
        does not enforce it; the RL adapter and the heuristics choose from it.
    memory : float
        Weight of the old reference price in the smoothing rule [0.9].
    ref_step : float
        Grid of the reference price (0: continuous; see the module docstring).
    ref_initial : float
        Reference price in period 0.
    """

    node: str
    model: DemandModel = field(default_factory=DemandModel)
    competitor: Competitor = field(default_factory=Competitor)
    price_grid: PriceGrid = field(default_factory=lambda: PriceGrid(20.0, 50.0, 2.5))
    memory: float = 0.9
    ref_step: float = 2.5
    ref_initial: float = 35.0

    observation_names = ("competitor_price", "reference_price")
    kind: ClassVar[str] = "pricing"  # what des_supply.problem.ProblemKind.market reports

    def __post_init__(self) -> None:
        if not 0 <= self.memory <= 1:
            raise ValueError(f"memory(={self.memory}) must be in [0, 1]")
        if self.ref_step < 0:
            raise ValueError(f"ref_step(={self.ref_step}) must be >= 0")
        if not self.price_grid.low <= self.ref_initial <= self.price_grid.high:
            raise ValueError(
                f"ref_initial(={self.ref_initial}) must be within the price bounds "
                f"[{self.price_grid.low}, {self.price_grid.high}]"
            )
        self._rng: np.random.Generator | None = None
        self._uniforms = np.zeros((0, 4))
        self._start = 0
        self.competitor_price = float(self.competitor.initial)
        self.reference_price = float(self.ref_initial)
        self.last_rate = math.nan

    # -- the Market protocol -----------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._uniforms = np.zeros((0, 4))
        self._start = 0
        self.competitor_price = float(self.competitor.initial)
        self.reference_price = float(self.ref_initial)
        self.last_rate = math.nan

    def draw(self, t: int, action: Action, obs: Observation) -> Mapping[str, float]:
        u = self._period_uniforms(t)
        p, o, r = float(obs.price(self.node)), self.competitor_price, self.reference_price
        lam = self.model.rate(p, o, r)
        demand = poisson_ppf(u[0], lam)
        self.last_rate = lam
        self.reference_price = float(self._next_reference(r, p, u[3]))
        self.competitor_price = float(self.competitor.next(o, p, u[1], u[2]))
        return {self.node: float(demand)}

    # -- what agents and heuristics read -----------------------------------------------------
    def observation(self) -> dict[str, float]:
        """The market state the coming demand phase uses: ``competitor_price``, ``reference_price``."""
        return {"competitor_price": self.competitor_price, "reference_price": self.reference_price}

    def mean_demand(
        self,
        price: Any,
        competitor_price: float | None = None,
        reference_price: float | None = None,
    ) -> Any:
        """Mean demand at *price* in the current state (or the given one)."""
        o = self.competitor_price if competitor_price is None else competitor_price
        r = self.reference_price if reference_price is None else reference_price
        return self.model.rate(price, o, r)

    @property
    def ref_grid(self) -> np.ndarray | None:
        """Reference prices the rounding can produce (None when continuous)."""
        if self.ref_step == 0:
            return None
        return PriceGrid(self.price_grid.low, self.price_grid.high, self.ref_step).values

    def ref_transitions(self, prices: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """``T[i, j, k] = P(r' = grid[k] | p = prices[i], r = grid[j])`` under the random rounding."""
        if self.ref_step == 0:
            raise ValueError("a continuous reference price has no grid (set ref_step > 0)")
        T = np.zeros((len(prices), len(grid), len(grid)))
        base, step = self.price_grid.low, self.ref_step
        for i, p in enumerate(prices):
            for j, r in enumerate(grid):
                x = self.memory * r + (1.0 - self.memory) * p
                k = math.floor((x - base) / step + _EPS)
                frac = (x - base) / step - k
                frac = 0.0 if frac < 1e-9 else frac
                k = min(max(k, 0), len(grid) - 1)
                T[i, j, k] += 1.0 - frac
                if frac > 0:
                    T[i, j, min(k + 1, len(grid) - 1)] += frac
        return T

    # -- internals ---------------------------------------------------------------------------
    def _next_reference(self, r: float, p: float, u: float) -> float:
        x = self.memory * r + (1.0 - self.memory) * p
        if self.ref_step == 0:
            return x
        base, step = self.price_grid.low, self.ref_step
        k = math.floor((x - base) / step + _EPS)
        frac = (x - base) / step - k
        lower = base + k * step
        return lower + step if frac > 1e-9 and u < frac else lower

    def _period_uniforms(self, t: int) -> np.ndarray:
        if self._rng is None:
            raise RuntimeError("the market was not reset: pass it to a Simulation")
        i = t - self._start
        while i >= len(self._uniforms):  # blocks by period: period t's uniforms depend on t only
            self._start += len(self._uniforms)
            self._uniforms = self._rng.random((_BLOCK, 4))
            i = t - self._start
        if i < 0:
            raise ValueError(f"period {t} was already discarded (draws go forward only)")
        return self._uniforms[i]


def market_of(obs: Observation) -> Any:
    """The market of the run *obs* belongs to (None without one): ``obs.market`` for
    engine observations, None for stand-ins without that attribute."""
    return getattr(obs, "market", None)
