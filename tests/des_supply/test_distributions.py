"""Distributions: sample moments, integer flags, traces, non-stationary means, round trips,
parameter errors; and the per-period random streams of des_supply.rng."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from des_supply import (
    Deterministic,
    DiscreteUniform,
    Empirical,
    Geometric,
    NegativeBinomial,
    NonStationary,
    Normal,
    Poisson,
    Shifted,
    Trace,
)
from des_supply.distributions import as_distribution, distribution_from_dict
from des_supply.rng import PeriodDraws, replication_seed, root_sequence, stream

N = 40_000

STATIONARY = [
    Deterministic(3),
    Deterministic(2.5),
    Poisson(5),
    Poisson(0.3),
    Geometric(2.0),
    Geometric(0.0),
    NegativeBinomial(4.0, 2.0),
    Normal(50, 8),
    Normal(20, 3, integer=True),
    DiscreteUniform(2, 9),
    DiscreteUniform(4, 4),
    Empirical((1.0, 4.0, 10.0), (0.5, 0.3, 0.2)),
    Empirical((0.5, 1.5)),
    Shifted(Poisson(1.5), 2),
    Shifted(Empirical((0.0, 3.0)), 0.5),
]


def ids(values):
    return [type(v).__name__ + str(i) for i, v in enumerate(values)]


@pytest.mark.parametrize("dist", STATIONARY, ids=ids(STATIONARY))
def test_sample_mean_matches_mean(dist):
    """|sample mean - mean| < 5 standard errors (CLT); exact for zero variance."""
    x = dist.sample(np.random.default_rng(12345), 0, N)
    assert x.shape == (N,) and x.dtype == float
    se = x.std(ddof=1) / math.sqrt(N)
    assert abs(x.mean() - dist.mean) <= 5 * se + 1e-12


def test_negative_binomial_variance():
    d = NegativeBinomial(6.0, 3.0)
    x = d.sample(np.random.default_rng(1), 0, N)
    assert x.var() == pytest.approx(6 + 36 / 3, rel=0.05)


def test_geometric_starts_at_zero():
    x = Geometric(1.0).sample(np.random.default_rng(2), 0, N)
    assert x.min() == 0
    assert (x == 0).mean() == pytest.approx(0.5, abs=0.02)  # P(0) = 1 - q, q = m / (1 + m)


def test_normal_negative_draws_are_set_to_zero():
    x = Normal(-5, 1).sample(np.random.default_rng(0), 0, 1000)
    assert (x == 0).all()


@pytest.mark.parametrize(
    "dist, integer",
    [
        (Deterministic(3), True),
        (Deterministic(2.5), False),
        (Poisson(2.5), True),
        (Geometric(1.5), True),
        (NegativeBinomial(2, 1), True),
        (Normal(5, 1), False),
        (Normal(5, 1, integer=True), True),
        (DiscreteUniform(0, 3), True),
        (Empirical((1.0, 2.0)), True),
        (Empirical((1.0, 2.5)), False),
        (Trace((1.0, 2.0)), True),
        (Trace((1.0, 2.2)), False),
        (NonStationary((1.5, 2.5)), True),
        (NonStationary((1.5,), "normal", 0.1, False), False),
        (NonStationary((1.5,), "poisson", 0.0, False), True),  # Poisson is always whole
        (Shifted(Poisson(1), 2), True),
        (Shifted(Poisson(1), 0.5), False),
        (Shifted(Normal(3, 1), 1), False),
    ],
    ids=str,
)
def test_integer_flag_says_whether_draws_are_whole(dist, integer):
    assert dist.integer is integer
    x = dist.sample(np.random.default_rng(3), 0, 500)
    if integer:
        np.testing.assert_array_equal(x, np.round(x))
    elif not isinstance(dist, (Deterministic, Empirical, Trace, Shifted)):
        assert not np.array_equal(x, np.round(x))


@pytest.mark.parametrize("dist", STATIONARY, ids=ids(STATIONARY))
def test_same_generator_state_same_draws(dist):
    a = dist.sample(np.random.default_rng(9), 0, 50)
    b = dist.sample(np.random.default_rng(9), 0, 50)
    np.testing.assert_array_equal(a, b)


# -- traces -------------------------------------------------------------------------------------


def test_trace_cycle_hold_stop():
    rng = np.random.default_rng(0)
    values = (1.0, 2.0, 3.0)
    assert Trace(values).sample(rng, 0, 7).tolist() == [1, 2, 3, 1, 2, 3, 1]
    assert Trace(values, "cycle").sample(rng, 2, 3).tolist() == [3, 1, 2]
    assert Trace(values, "hold").sample(rng, 1, 5).tolist() == [2, 3, 3, 3, 3]
    stop = Trace(values, "stop").sample(rng, 1, 4)
    assert stop[:2].tolist() == [2, 3] and np.isnan(stop[2:]).all()
    assert Trace(values).mean == 2.0


def test_trace_from_csv_by_header_name_and_index(tmp_path):
    path = tmp_path / "demand.csv"
    path.write_text("week,units,price\n1,10,2.5\n2,12,2.5\n\n3,9,3.0\n")
    assert Trace.from_csv(path, "units").values == (10.0, 12.0, 9.0)
    assert Trace.from_csv(path, 1).values == (10.0, 12.0, 9.0)
    assert Trace.from_csv(path, "2").values == (2.5, 2.5, 3.0)
    assert Trace.from_csv(str(path), "week", after="hold").after == "hold"
    assert Trace.from_csv(path).values == (1.0, 2.0, 3.0)  # column 0 by default


def test_trace_from_csv_without_header(tmp_path):
    path = tmp_path / "raw.csv"
    path.write_text("4,40\n5,50\n6,60\n")
    assert Trace.from_csv(path, 1).values == (40.0, 50.0, 60.0)
    assert Trace.from_csv(path, 0).values == (4.0, 5.0, 6.0)


def test_trace_from_csv_errors(tmp_path):
    path = tmp_path / "demand.csv"
    path.write_text("week,units,note\n1,10,x\n2,12,y\n")
    with pytest.raises(ValueError, match=r"no column 'qty' \(columns: week, units, note\)"):
        Trace.from_csv(path, "qty")
    with pytest.raises(ValueError, match=r"column 'note' is not numeric"):
        Trace.from_csv(path, "note")
    with pytest.raises(ValueError, match=r"column 7 is not numeric"):
        Trace.from_csv(path, 7)
    with pytest.raises(ValueError, match="cannot read"):
        Trace.from_csv(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty CSV"):
        Trace.from_csv(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text("units\n")
    with pytest.raises(ValueError, match="trace must not be empty"):
        Trace.from_csv(header_only, "units")


# -- non-stationary ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dist",
    [
        NonStationary((2.0, 8.0, 5.0, 0.0)),
        NonStationary((20.0, 40.0, 30.0), "normal", 0.2, False),
        NonStationary((20.0, 40.0, 30.0), "normal", 0.1, True),
    ],
    ids=["poisson", "normal", "normal-int"],
)
def test_nonstationary_means_by_period(dist):
    m = len(dist.means)
    reps = 6000
    x = dist.sample(np.random.default_rng(5), 0, m * reps).reshape(reps, m)
    for t in range(m):
        se = x[:, t].std(ddof=1) / math.sqrt(reps) if x[:, t].std() else 0
        assert abs(x[:, t].mean() - dist.mean_at(t)) <= 5 * se + 1e-12, t
    assert dist.mean == pytest.approx(np.mean(dist.means))
    if dist.family == "normal":
        assert x[:, 1].std() == pytest.approx(dist.cv * 40, rel=0.1)


def test_nonstationary_block_start_sets_the_period():
    d = NonStationary((0.0, 100.0, 0.0))
    x = d.sample(np.random.default_rng(0), 1, 6)  # periods 1..6 -> means 100, 0, 0, 100, 0, 0
    assert (x[[0, 3]] > 50).all() and (x[[1, 2, 4, 5]] == 0).all()
    assert d.mean_at(4) == 100.0 and d.mean_at(5) == 0.0


# -- moments, constants, bounds, forecasts ------------------------------------------------------


def _scipy_variance(dist):
    """The variance scipy gives for the same law (None when scipy has no twin)."""
    st = pytest.importorskip("scipy.stats")
    if isinstance(dist, Poisson):
        return st.poisson(dist.mean).var()
    if isinstance(dist, Geometric):
        return st.geom(1 / (1 + dist.mean), loc=-1).var()
    if isinstance(dist, NegativeBinomial):
        return st.nbinom(dist.size, dist.size / (dist.size + dist.mean)).var()
    if isinstance(dist, DiscreteUniform):
        return st.randint(dist.low, dist.high + 1).var()
    if isinstance(dist, Normal):
        return st.norm(dist.mean, dist.std).var()
    if isinstance(dist, Empirical):
        return st.rv_discrete(values=(range(len(dist.values)), dist.probabilities)).expect(
            lambda k: (np.asarray(dist.values)[k.astype(int)] - dist.mean) ** 2
        )
    return None


MOMENTS = STATIONARY + [
    Trace((1.0, 4.0, 2.0, 9.0)),
    NonStationary((2.0, 8.0, 5.0, 0.0)),
    NonStationary((20.0, 40.0, 30.0), "normal", 0.2, False),
    Shifted(NonStationary((1.0, 5.0)), 2),
]


@pytest.mark.parametrize("dist", MOMENTS, ids=ids(MOMENTS))
def test_variance_and_std_match_samples_and_scipy(dist):
    """Sample variance within 5 standard errors of ``variance`` (over whole cycles for the
    per-period families); rounding a normal adds up to 1/12; scipy agrees where it has the law."""
    cycle = len(getattr(dist, "means", getattr(dist, "values", ()))) or 1
    if isinstance(dist, Shifted):
        cycle = len(getattr(dist.base, "means", ())) or 1
    x = dist.sample(np.random.default_rng(2024), 0, cycle * (N // cycle))
    dev = x - x.mean()
    se = math.sqrt(max(np.mean(dev**4) - np.mean(dev**2) ** 2, 0.0) / len(x))
    rounding = 1 / 12 if isinstance(dist, Normal) and dist.integer else 0.0
    assert abs(x.var() - dist.variance) <= 5 * se + rounding + 1e-12
    assert dist.std == pytest.approx(math.sqrt(dist.variance))
    with np.errstate(divide="ignore", invalid="ignore"):  # scipy's skew of degenerate laws
        exact = _scipy_variance(dist)
    if exact is not None:
        assert dist.variance == pytest.approx(exact, rel=1e-12, abs=1e-12)


def test_normal_variance_is_the_uncensored_one():
    assert Normal(1, 3).variance == 9.0 and Normal(1, 3).std == 3.0  # draws: censored at 0
    assert Normal(20, 3, integer=True).variance == 9.0  # draws: rounded


@pytest.mark.parametrize(
    "dist, constant, upper_bound, peak_mean",
    [
        (Deterministic(3), 3.0, 3.0, 3.0),
        (Deterministic(2.5), 2.5, 2.5, 2.5),
        (Poisson(5), None, math.inf, 5.0),
        (Poisson(0), 0.0, 0.0, 0.0),
        (Geometric(2.0), None, math.inf, 2.0),
        (Geometric(0.0), 0.0, 0.0, 0.0),
        (NegativeBinomial(4.0, 2.0), None, math.inf, 4.0),
        (NegativeBinomial(0.0, 2.0), 0.0, 0.0, 0.0),
        (Normal(50, 8), None, math.inf, 50.0),
        (Normal(2.6, 0), 2.6, 2.6, 2.6),
        (Normal(2.6, 0, integer=True), 3.0, 3.0, 2.6),
        (Normal(-4, 0), 0.0, 0.0, -4.0),
        (DiscreteUniform(2, 9), None, 9.0, 5.5),
        (DiscreteUniform(4, 4), 4.0, 4.0, 4.0),
        (Empirical((1.0, 4.0, 10.0), (0.5, 0.3, 0.2)), None, 10.0, 3.7),
        (Empirical((1.0, 4.0, 10.0), (0.0, 1.0, 0.0)), 4.0, 4.0, 4.0),
        (Empirical((2.0, 2.0)), 2.0, 2.0, 2.0),
        (Trace((1.0, 4.0, 2.0)), None, 4.0, 4.0),
        (Trace((3.0, 3.0), "hold"), 3.0, 3.0, 3.0),
        (Trace((3.0, 3.0), "stop"), None, 3.0, 3.0),
        (NonStationary((2.0, 8.0, 5.0)), None, math.inf, 8.0),
        (NonStationary((0.0, 0.0)), 0.0, 0.0, 0.0),
        (NonStationary((2.0, 2.0), "normal", 0.0, False), 2.0, 2.0, 2.0),
        (NonStationary((2.0, 7.4), "normal", 0.0, True), None, 7.0, 7.4),
        (NonStationary((2.0, 7.0), "normal", 0.1, True), None, math.inf, 7.0),
        (Shifted(Poisson(1.5), 2), None, math.inf, 3.5),
        (Shifted(Deterministic(1), 2), 3.0, 3.0, 3.0),
        (Shifted(Shifted(DiscreteUniform(0, 2), 1), 1), None, 4.0, 3.0),
        (Shifted(Trace((1.0, 6.0)), 0.5), None, 6.5, 6.5),
    ],
    ids=str,
)
def test_constant_upper_bound_peak_mean(dist, constant, upper_bound, peak_mean):
    assert dist.constant == constant
    assert dist.upper_bound == upper_bound
    assert dist.peak_mean == pytest.approx(peak_mean)
    x = dist.sample(np.random.default_rng(8), 0, 2000)
    x = x[~np.isnan(x)]
    assert x.max() <= dist.upper_bound
    if constant is not None:
        assert (x == constant).all()  # the engine may use it instead of drawing
    elif dist.kind != "trace":  # a stopping trace of equal values is not constant: it ends
        assert len(np.unique(x)) > 1


PER_PERIOD = [
    Trace((1.0, 2.0, 3.0), "stop"),
    NonStationary((1.0, 3.0)),
    Shifted(NonStationary((1.0, 3.0), "normal", 0.5, False), 1),
]


@pytest.mark.parametrize("dist", STATIONARY + PER_PERIOD, ids=ids(STATIONARY + PER_PERIOD))
def test_forecast_is_a_float_array_of_per_period_means(dist):
    f = dist.forecast(3, 6)
    assert f.shape == (6,) and f.dtype == float
    assert dist.forecast(0, 0).shape == (0,)
    assert f.max() <= dist.peak_mean
    if dist in STATIONARY:
        np.testing.assert_array_equal(f, np.full(6, dist.mean))
        assert dist.peak_mean == dist.mean


# forecast_mean(dist, 2, 5) of optimization.network_mip as it was before distributions
# gained ``forecast`` (class switches there); ``forecast`` must give the same numbers.
OLD_FORECAST_MEAN = [
    (Deterministic(3), [3.0, 3.0, 3.0, 3.0, 3.0]),
    (Deterministic(2.5), [2.5, 2.5, 2.5, 2.5, 2.5]),
    (Poisson(4), [4.0, 4.0, 4.0, 4.0, 4.0]),
    (Geometric(2.0), [2.0, 2.0, 2.0, 2.0, 2.0]),
    (NegativeBinomial(4.0, 2.0), [4.0, 4.0, 4.0, 4.0, 4.0]),
    (Normal(50, 8), [50.0, 50.0, 50.0, 50.0, 50.0]),
    (Normal(-3, 1, integer=True), [-3.0, -3.0, -3.0, -3.0, -3.0]),
    (DiscreteUniform(2, 9), [5.5, 5.5, 5.5, 5.5, 5.5]),
    (Empirical((1.0, 4.0, 10.0), (0.5, 0.3, 0.2)), [3.7, 3.7, 3.7, 3.7, 3.7]),
    (Trace((1.0, 2.0, 3.0)), [3.0, 1.0, 2.0, 3.0, 1.0]),
    (Trace((1.0, 2.0, 3.0), "hold"), [3.0, 3.0, 3.0, 3.0, 3.0]),
    (Trace((1.0, 2.0, 3.0), "stop"), [3.0, 0.0, 0.0, 0.0, 0.0]),
    (NonStationary((10.0, 20.0, 30.0, 40.0)), [30.0, 40.0, 10.0, 20.0, 30.0]),
    (NonStationary((5.0, 7.5), "normal", 0.2, False), [5.0, 7.5, 5.0, 7.5, 5.0]),
    (Shifted(Poisson(1.5), 2), [3.5, 3.5, 3.5, 3.5, 3.5]),
    (Shifted(Trace((4.0, 6.0), "stop"), 1.5), [1.5, 1.5, 1.5, 1.5, 1.5]),
    (Shifted(NonStationary((1.0, 3.0)), 2), [3.0, 5.0, 3.0, 5.0, 3.0]),
    (Shifted(Shifted(Deterministic(1), 1), 0.5), [2.5, 2.5, 2.5, 2.5, 2.5]),
]


@pytest.mark.parametrize("dist, old", OLD_FORECAST_MEAN, ids=str)
def test_forecast_reproduces_the_old_forecast_mean(dist, old):
    assert dist.forecast(2, 5).tolist() == old
    from optimization.network_mip import forecast_mean

    assert forecast_mean(dist, 2, 5).tolist() == old


# -- round trips and errors ---------------------------------------------------------------------

ALL = STATIONARY + [
    Trace((1.0, 2.0, 0.0), "hold"),
    NonStationary((1.0, 3.0), "normal", 0.25, False),
    Shifted(Shifted(DiscreteUniform(0, 2), 1), 1),
]


@pytest.mark.parametrize("dist", ALL, ids=ids(ALL))
def test_dict_and_json_round_trip(dist):
    d = dist.to_dict()
    assert d["type"] == dist.kind
    assert distribution_from_dict(d) == dist
    assert distribution_from_dict(json.loads(json.dumps(d))) == dist
    assert as_distribution(d) == dist


def test_as_distribution():
    assert as_distribution(3) == Deterministic(3.0)
    assert as_distribution(np.int64(2)) == Deterministic(2.0)
    assert as_distribution(Poisson(2)) == Poisson(2)
    with pytest.raises(ValueError, match="not a distribution: True"):
        as_distribution(True)
    with pytest.raises(ValueError, match="not a distribution"):
        as_distribution("poisson")


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Deterministic(-1), r"value\(=-1\) must be >= 0"),
        (lambda: Deterministic(math.inf), r"value\(=inf\) must be finite"),
        (lambda: Poisson(-0.5), r"mean\(=-0.5\) must be >= 0"),
        (lambda: Poisson(math.nan), r"mean\(=nan\) must be finite"),
        (lambda: Geometric(-1), r"mean\(=-1\) must be >= 0"),
        (lambda: NegativeBinomial(-1, 2), r"mean\(=-1\) must be >= 0"),
        (lambda: NegativeBinomial(3, 0), r"size\(=0\) must be > 0"),
        (lambda: Normal(5, -1), r"std\(=-1\) must be >= 0"),
        (lambda: Normal(math.inf, 1), r"mean\(=inf\) must be finite"),
        (lambda: DiscreteUniform(1.5, 3), r"low\(=1.5\) must be an integer"),
        (lambda: DiscreteUniform(0, 2.5), r"high\(=2.5\) must be an integer"),
        (lambda: DiscreteUniform(4, 2), r"need 0 <= low\(=4\) <= high\(=2\)"),
        (lambda: DiscreteUniform(-1, 2), r"low\(=-1\)"),
        (lambda: Empirical(()), "values must not be empty"),
        (lambda: Empirical((1.0, -2.0)), r"values must be >= 0 \(got -2.0\)"),
        (lambda: Empirical((1.0, 2.0), (0.5,)), "probabilities has 1 entries, values has 2"),
        (lambda: Empirical((1.0, 2.0), (0.5, 0.6)), r"probabilities must .* sum to 1"),
        (lambda: Empirical((1.0, 2.0), (-0.5, 1.5)), r"probabilities must be >= 0"),
        (lambda: Trace(()), "trace must not be empty"),
        (lambda: Trace((1.0, -1.0)), r"trace values must be >= 0"),
        (lambda: Trace((1.0,), "loop"), r"after\(='loop'\) must be 'cycle', 'hold' or 'stop'"),
        (lambda: NonStationary(()), "means must not be empty"),
        (lambda: NonStationary((1.0, -1.0)), "means must be >= 0"),
        (lambda: NonStationary((1.0,), "gamma"), r"family\(='gamma'\)"),
        (lambda: NonStationary((1.0,), "normal", -0.1), r"cv\(=-0.1\) must be >= 0"),
        (lambda: Shifted(Poisson(1), -1), r"shift\(=-1\) must be >= 0"),
        (lambda: Shifted("x", 1), "not a distribution"),
        (
            lambda: distribution_from_dict({"type": "weibull"}),
            r"unknown distribution type 'weibull'",
        ),
        (lambda: distribution_from_dict({"mean": 1}), r"must be a dict with a 'type' key"),
        (
            lambda: distribution_from_dict({"type": "poisson", "lam": 1}),
            r"bad parameters for distribution 'poisson'",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bad_parameters_raise_value_error_naming_them(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# -- rng: named streams, replications, per-period draws ----------------------------------------


def test_streams_are_named_and_stable():
    root = root_sequence(42)
    a = stream(root, "demand", "store").random(5)
    assert np.array_equal(a, stream(root_sequence(42), "demand", "store").random(5))
    assert not np.array_equal(a, stream(root, "demand", "dc").random(5))
    assert not np.array_equal(a, stream(root_sequence(43), "demand", "store").random(5))


def test_replication_seeds_follow_the_spawn_key_rule():
    r = replication_seed(7, 3)
    assert r.entropy == 7 and r.spawn_key == (3,)
    assert replication_seed(np.random.SeedSequence(7, spawn_key=(1,)), 2).spawn_key == (1, 2)
    with pytest.raises(ValueError, match=r"seed\(=-3\)"):
        root_sequence(-3)
    with pytest.raises(ValueError, match=r"seed\(='a'\)"):
        root_sequence("a")


def test_period_draws_do_not_depend_on_how_periods_were_visited():
    def draws():
        return PeriodDraws(Poisson(4), np.random.default_rng(11), block=16)

    seq = draws()
    every = [seq.at(t) for t in range(100)]
    jump = draws()
    assert [jump.at(t) for t in (5, 40, 41, 99)] == [every[t] for t in (5, 40, 41, 99)]
    with pytest.raises(ValueError, match="period 5 was already discarded"):
        jump.at(5)
    blocks, more = draws(), draws()
    every = [more.at(t) for t in range(112)]
    for t in (0, 15, 16, 40, 99):  # the block holding t: its first period and its values
        first, values = blocks.block(t)
        assert first == 16 * (t // 16) and values == every[first : first + 16]


def test_parameters_must_be_numbers_not_strings_or_booleans():
    for make in (
        lambda: Poisson("4"),
        lambda: Poisson(True),
        lambda: Deterministic("2"),
        lambda: Normal(5, "1"),
    ):
        with pytest.raises(ValueError, match="must be a number"):
            make()
    assert Poisson(np.float64(4.0)).mean == 4.0 and Deterministic(np.int64(2)).constant == 2.0


def test_normal_needs_its_std():
    """The inherited ``std`` property must not become the field's default."""
    with pytest.raises(TypeError, match="std"):
        Normal(3)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Poisson(1e308),
        lambda: Deterministic(2e15),
        lambda: Normal(5.0, 1e300),
        lambda: Empirical([1.0, 1e20]),
    ],
)
def test_absurd_magnitudes_are_refused(make):
    """A finite but absurd parameter would make costs overflow: refused by name."""
    with pytest.raises(ValueError, match=r"above 1e\+15"):
        make()
