"""scenarios.compare on every registered scenario and on networks built in Python (tiny
budgets: 256 PPO steps, 2 episodes of 16 periods, short searches and bound paths)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
from networks import TINY_COLLABORATIVE, TINY_SEARCH, two_echelon

import scenarios
from scenarios.compare import CompareResult, compare, figure

PRICING = {
    "price_low": 30.0,
    "price_high": 50.0,
    "price_step": 5.0,
    "comp_low": 30.0,
    "comp_high": 50.0,
    "comp_step": 5.0,
    "ref_step": 5.0,
    "list_price": 40.0,
    "storage_capacity": 15.0,
}
SMALL = {"random-dag": {"n_nodes": 6, "n_layers": 3}, **{f"pricing-{c}": PRICING for c in "abcd"}}
# one MIP per period for the MPC and a bigger pattern MIP: minutes even at this size
SLOW = {"recommendation-medium", "recommendation-large", "recommendation-fashion-medium"}


@pytest.fixture
def cheap_searches(monkeypatch):
    """Short simulations in the searches optimize and the presets run (tested in
    tests/optimization); the pricing heuristics' tuning runs short too."""
    import optimization.collaborative as oc
    import optimization.recommendation_optimize as ro
    import optimization.search as search

    monkeypatch.setattr(
        search, "search_base_stock", functools.partial(search.search_base_stock, **TINY_SEARCH)
    )
    monkeypatch.setattr(
        ro,
        "base_stock_levels",
        functools.partial(ro.base_stock_levels, periods=60, replications=1, quantiles=(0.7, 0.9)),
    )
    monkeypatch.setattr(
        oc,
        "optimize_collaborative",
        functools.partial(oc.optimize_collaborative, **TINY_COLLABORATIVE),
    )


def tiny_compare(problem, out, **kwargs):
    from des_supply.problem import as_problem

    problem = as_problem(problem)
    return compare(
        problem,
        steps=256,
        episodes=2,
        periods=16,
        out_dir=out,
        progress=False,
        optimize_options={"bound_periods": 8, "bound_replications": 1}
        if problem.kind.market != "pricing"
        else {},
        search=TINY_SEARCH,
        **kwargs,
    )


def check(res: CompareResult, problem) -> None:
    names = [r["name"] for r in res.rows]
    assert names[-1] == "ppo" and len(set(names)) == len(names)
    assert res.reference in names and res.reference != "ppo"
    assert res.objective == problem.objective
    for r in res.rows:
        assert 2 <= r["episodes"] == len(r["per_episode"]) <= 2
        assert np.isfinite(r["mean"])
        if r["name"] == res.reference:
            assert r["vs_reference"] is None and r["gap_pct"] == 0.0
        else:  # paired: the mean of the per-episode differences
            diff = np.subtract(r["per_episode"], res.reference_row["per_episode"])
            assert r["vs_reference"][0] == pytest.approx(diff.mean())
    if res.exact_optimum is not None:
        assert res.reference == "optimal" and res.bound is None
    for name in ("compare.json", "compare.md", "compare.png", "ppo/run.json", "ppo/checkpoint.pt"):
        assert (res.out_dir / name).exists(), name
    data = json.loads((res.out_dir / "compare.json").read_text())
    assert CompareResult.from_dict(data).table() == res.table()
    run = json.loads((res.out_dir / "ppo" / "run.json").read_text())
    assert run["problem"] == res.problem and run["algo"] == "ppo"


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(s, marks=pytest.mark.slow) if s in SLOW else s
        for s in scenarios.names()
        if scenarios.get(s).time == "periodic" and s != "dual-sourcing"
    ],
)  # compare is periodic for now; dual sourcing (no PPO) in test_compare_dual_sourcing.py
def test_compare_on_every_scenario(scenario, tmp_path, cheap_searches):
    problem = scenarios.make(scenario, **SMALL.get(scenario, {}))
    res = tiny_compare(problem, tmp_path)
    check(res, problem)
    names = [r["name"] for r in res.rows]
    if problem.kind.market is None and problem.kind.shape != "single-stage":
        assert {"best-base-stock", "best-echelon-base-stock"} <= set(names)
    if scenario in ("single-stage", "serial") or problem.kind.market == "pricing":
        assert res.exact_optimum is not None
    if scenario == "single-stage":  # every runnable row of optimize's table is compared
        assert names[:-1] == [
            "optimal",
            "myopic",
            "myopic-2",
            "best-base-stock",
            "best-capped-base-stock",
            "best-constant",
            "best-constant-rate",
        ]
    if (
        scenario in ("owmr", "assembly", "random-dag", "beer-game")
        or problem.kind.market == "recommendation"
    ):
        # the bound has no policy: shown, never evaluated (unless optimize gave up, e.g. an
        # MPC solve hit its time limit; then the searched base-stock levels stand in)
        if res.bound is None:
            assert "optimize_error" in res.details and "best-base-stock" in names
        else:
            assert res.bound["name"] not in names
            assert f"{res.bound['name']} (no policy)" in res.table()


def test_compare_a_network_built_in_python(tmp_path, cheap_searches):
    from des_supply.problem import as_problem

    net = two_echelon()
    res = tiny_compare(net, tmp_path)
    check(res, as_problem(net))
    assert res.problem["network"] == net.to_dict() and res.name == "two-echelon"
    assert res.details["ppo"]["anchor"]["family"] in ("base-stock", "echelon-base-stock")
    figure([res, res], tmp_path / "fig")
    assert (tmp_path / "fig" / "figure.png").exists()
    assert (tmp_path / "fig" / "figure.md").read_text().count("| ppo |") == 2


def test_slow_policies_are_evaluated_on_fewer_episodes(tmp_path, cheap_searches):
    """A zero budget: every benchmark runs on the first 2 of 3 episodes and is paired there."""
    problem = scenarios.make("owmr", n_retailers=2)
    res = compare(
        problem,
        steps=256,
        episodes=3,
        periods=12,
        out_dir=tmp_path,
        progress=False,
        optimize_options={"bound_periods": 8, "bound_replications": 1},
        search=TINY_SEARCH,
        policy_seconds=0.0,
    )
    bench = [r for r in res.rows if r["name"] != "ppo"]
    assert all(r["episodes"] == 2 for r in bench)
    ppo = res.row("ppo")
    assert ppo["episodes"] == 3 and res.reference == "ppo"  # the only row on every episode
    assert "(first 2 episodes)" in res.table()


def test_compare_survives_an_optimizer_that_gives_up(tmp_path, cheap_searches, monkeypatch):
    """No method (or a solver that gave up): the searched heuristics are the benchmarks."""
    import optimization.optimize as opt

    def refuse(problem, **kwargs):
        raise opt.OptimizeError("no method applies (test)")

    monkeypatch.setattr(opt, "optimize", refuse)
    problem = scenarios.make("recommendation-small")
    res = tiny_compare(problem, tmp_path)
    assert res.details["optimize_error"] == "OptimizeError: no method applies (test)"
    assert [r["name"] for r in res.rows] == ["best-base-stock", "ppo"]  # parallel: no echelon
    assert res.reference == "best-base-stock" and res.bound is None


def test_plot_scale_leaves_out_a_row_far_off():
    """One policy far off (an MPC letting backlog grow: 6310 vs ~20) is marked off scale
    instead of flattening the other bars; ordinary spreads (Figure 1's heuristics, 5.9 to
    70 against 70) all stay on the axis."""
    from scenarios.compare import _ordinary

    assert _ordinary(np.array([20.8, 19.3, 6310.0, 19.4]), 19.3).tolist() == [
        True,
        True,
        False,
        True,
    ]
    figure1_c = np.array([70.14, 5.91, 14.5, 48.73, 21.37, 61.12])
    assert _ordinary(figure1_c, 70.14).all()
    assert _ordinary(np.array([5.0, 5.0]), 5.0).all()


def test_plot_draws_a_bound_only_on_paths_like_its_episodes():
    """A perfect-information bound on 52-period paths from the start state carries more of
    the start-up per period than 1,000-period episodes: not drawn as a line on their bars
    (the axis label says so); on paths as long as the episodes it is drawn."""
    from matplotlib.figure import Figure

    from scenarios.compare import _bars

    rows = [{"name": "best-base-stock", "mean": 29.8, "ci95": [29.5, 30.0]}]
    bound = {"name": "perfect-information-bound", "optimizer_value": 20.3}

    def drawn(paths: int, periods: int) -> tuple[int, str | None]:
        res = CompareResult(
            "mine",
            {},
            "cost",
            rows,
            "best-base-stock",
            Path("."),
            bound={**bound, "optimizer_periods": paths},
            details={"periods": periods},
        )
        ax = Figure().subplots()
        note = _bars(ax, res)
        return sum(line.get_linestyle() == ":" for line in ax.get_lines()), note

    lines, note = drawn(52, 1000)
    assert lines == 0 and note is not None and "52-period paths" in note
    lines, note = drawn(52, 52)
    assert lines == 1 and note is None


def test_table_says_which_policy_a_selecting_ppo_row_plays():
    """With PPOConfig.select_every the ppo row plays the best judged policy: the table says
    which iteration, and says so plainly when it is the starting policy (the anchor)."""
    rows = [
        {
            "name": "ppo",
            "mean": 8.85,
            "ci95": [7.9, 9.8],
            "vs_reference": None,
            "episodes": 4,
            "per_episode": [8.85] * 4,
        }
    ]
    selected = {"iteration": 0, "iterations": 9, "episodes": 128, "seed": 30000}

    def table(iteration: int) -> str:
        details = {"ppo": {"selected": {**selected, "iteration": iteration}}}
        return CompareResult("c", {}, "cost", rows, "ppo", Path("."), details=details).table()

    assert "iteration 0 of 9, its starting policy" in table(0)
    later = table(7)
    assert "iteration 7 of 9" in later and "starting policy" not in later


def test_plot_marks_where_the_kept_policy_was_judged_best(tmp_path, monkeypatch):
    """The learning curve of a selecting run marks the step of the policy the ppo row plays."""
    from matplotlib.figure import Figure

    import scenarios.compare as compare_module

    csv = tmp_path / "progress.csv"
    csv.write_text("global_step,episodic_return_mean\n2048,-3.0\n4096,-1.0\n6144,-2.0\n")
    rows = [{"name": "ppo", "mean": 6.1, "ci95": [6.0, 6.2]}]
    selected = {"iteration": 2, "global_step": 4096, "iterations": 3, "episodes": 8, "seed": 1}
    res = CompareResult(
        "c", {}, "cost", rows, "ppo", tmp_path, details={"ppo": {"selected": selected}}
    )
    figures: list = []
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: figures.append(self))
    compare_module._plot(res, tmp_path / "c.png", csv)
    curve = figures[0].axes[1]
    marks = [line for line in curve.get_lines() if line.get_linestyle() == ":"]
    assert len(marks) == 1 and list(marks[0].get_xdata()) == [4096, 4096]


# issue 13's acceptance path (collect -> DT -> compare) runs by default: about 15 s on a busy
# machine (PPO, a DT and its validation at toy sizes)
def test_compare_collaborative_with_a_decision_transformer_row(
    tmp_path, cheap_searches, monkeypatch
):
    """``dt_data``: the DT trained on a dataset of the problem is one more row, on the same
    episodes (paired with the reference), its target chosen on another seed."""
    pytest.importorskip("minari")
    import dataclasses

    from rl.trajectories import merge
    from scenarios import compare as compare_module
    from scenarios import offline

    tiny = dataclasses.replace(
        compare_module.DT_CONFIG, total_steps=20, context=4, embed_dim=16, n_layers=1, n_heads=2
    )
    monkeypatch.setattr(compare_module, "DT_CONFIG", tiny)
    problem = scenarios.make("collaborative", n_items=2, n_segments=2)
    sets = []
    for k, noise in enumerate((0.0, 0.2)):
        out = tmp_path / f"data-{k}"
        offline.collect(
            problem, "best-collab-base-stock", out=out, episodes=2, periods=12, seed=k, noise=noise
        )
        sets.append(out)
    merge(sets, tmp_path / "mix")
    res = tiny_compare(problem, tmp_path / "cmp", dt_data=tmp_path / "mix")
    names = [r["name"] for r in res.rows]
    assert names[-2:] == ["ppo", "dt"] and res.reference == "best-collab-base-stock"
    dt = res.row("dt")
    assert "Decision Transformer" in dt["method"] and len(dt["per_episode"]) == 2
    diff = np.subtract(dt["per_episode"], res.reference_row["per_episode"])
    assert dt["vs_reference"][0] == pytest.approx(diff.mean())
    assert res.details["dt"]["validation"]["seed"] != res.details["eval_seed"]
    assert res.details["dt"]["periods"] == 16 and (tmp_path / "cmp" / "dt" / "run.json").exists()
    other = scenarios.make("collaborative", n_items=2, n_segments=3)
    with pytest.raises(ValueError, match="holds no episode"):
        tiny_compare(other, tmp_path / "cmp2", dt_data=tmp_path / "mix")
    assert not (tmp_path / "cmp2").exists()  # refused before anything ran
