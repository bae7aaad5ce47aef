"""Smoke test of the Figure 2 study and its CLI route (tiny budgets; the real run is a
benchmark)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import scenarios
from scenarios.cli import main
from scenarios.recommendation_study import JOINT, StudySettings, run_figure2, shortage_variants

TINY = StudySettings(
    steps=1024,
    episodes=4,
    periods=24,
    mpc=False,
    agents=("joint", "im", "rs"),
    search_periods=60,
    search_replications=2,
)


def test_study_rows_are_paired_on_common_episodes(tmp_path):
    results = run_figure2(
        scenarios.make("recommendation-small", shortage="backlog"), TINY, tmp_path, progress=False
    )
    assert len(results) == 1 and results[0].shortage == "backlog"
    rows = {r["name"]: r for r in results[0].rows}
    assert {
        JOINT,
        "IM-only",
        "RS-only",
        "Naive IM-RS",
        "base-stock + uniform",
        "base-stock + margin",
    } <= set(rows)
    for r in rows.values():
        assert len(r["per_episode"]) == 4
        lo, hi = r["ci95"]
        assert lo <= r["mean"] <= hi
        if r["name"] != JOINT:  # paired difference = mean of the per-episode differences
            diff = (
                np.array(r["per_episode"]) - np.array(rows[JOINT]["per_episode"])
            ) / TINY.periods
            assert r["vs_joint"][0] == pytest.approx(diff.mean())
    for name in ("figure2.png", "figure2.md", "backlog/study.json", "backlog/joint/progress.csv"):
        assert (tmp_path / name).exists(), name


def test_shortage_variants():
    """Both settings for a scenario whose shortage is not fixed; else the problem itself."""
    both = shortage_variants(scenarios.make("recommendation-small", seed=3))
    assert [next(n.shortage for n in p.network.stock_nodes) for p in both] == ["lost", "backlog"]
    assert all(p.params["seed"] == 3 for p in both)
    fixed = scenarios.make("recommendation-small", shortage="backlog")
    assert shortage_variants(fixed) == [fixed]


def test_cli_compare_routes_recommendation_to_the_study(tmp_path, capsys, monkeypatch):
    import scenarios.recommendation_study as study

    seen = {}

    def fake(problem, settings, out, progress=True):
        seen.update(name=problem.name, params=problem.params, settings=settings, out=out)
        return []

    monkeypatch.setattr(study, "run_figure2", fake)
    code = main(
        [
            "compare",
            "recommendation-small",
            "--param",
            "seed=3",
            "--steps",
            "5000",
            "--episodes",
            "7",
            "--out",
            str(tmp_path),
            "--json",
        ]
    )
    assert code in (0, None)
    assert seen["name"] == "recommendation-small" and seen["params"]["seed"] == 3
    assert seen["settings"].steps == 5000 and seen["settings"].episodes == 7
    assert json.loads(capsys.readouterr().out)["runs"] == []


def test_cli_compare_recommendation_errors(capsys):
    assert main(["compare", "recommendation-small", "single-stage"]) == 2
    assert "on its own" in capsys.readouterr().err
    assert main(["compare", "recommendation-small", "--episodes", "0"]) == 2
    assert "--episodes(=0) must be >= 1" in capsys.readouterr().err


def test_cli_train_and_evaluate_the_joint_agent(tmp_path, capsys):
    """`des-supply train recommendation-small` trains the Joint IM-RS agent (orders and
    recommendations, anchored on base stock + margin), and `evaluate DIR` replays it."""
    out = tmp_path / "run"
    assert main(
        ["train", "recommendation-small", "--steps", "1024", "--out", str(out), "--json"]
    ) in (0, None)
    capsys.readouterr()
    run = json.loads((out / "run.json").read_text())
    assert run["problem"] == {"scenario": "recommendation-small", "params": {}}
    env = run["spec"]["env"]
    assert env["control"] == "joint" and np.shape(env["base_scores"]) == (3, 5)
    assert all(env["min_level"][p] < env["max_level"][p] for p in ("p0", "p1", "p2"))
    assert main(["evaluate", str(out), "--episodes", "2", "--periods", "20", "--json"]) in (0, None)
    ev = json.loads(capsys.readouterr().out)
    assert len(ev["per_episode"]) == 2 and ev["mean"] > 0  # profit per period
