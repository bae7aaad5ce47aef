"""benchmarks/figure2.py: pooling studies over training seeds, the paired statistics and the
verdicts on synthetic per-episode profits, the run loop and the report path with a stand-in
study, and its --quick path end to end (slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from benchmark_scripts import PERIODS, load, study

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "figure2.py"


@pytest.fixture(scope="module")
def fig2():
    return load("figure2", "figure2_benchmark")


@pytest.fixture
def synthetic():
    """Three seeds on 40 common episodes: heuristics shared, agents with seed offsets."""
    rng = np.random.default_rng(0)
    base = rng.normal(50, 3, 40)  # the episodes' common effect
    heur = {
        "base-stock + uniform": base - 5,
        "base-stock + margin": base + 2,
        "MIP rolling horizon": base + 6,  # inventory-aware, 4 above the best static
    }
    offsets = {  # per seed: Joint, IM-only, RS-only, Naive, MAPPO
        1: (5.5, -3, -40, 1, 5.6),
        2: (4.5, -2, -35, 0.5, 3.0),
        3: (3.5, -4, -50, 3.6, 3.4),
    }
    studies = {}
    for s, (j, im, rs, nv, mp) in offsets.items():
        agents = {
            "Joint IM-RS": base + j,
            "IM-only": base + im,
            "RS-only": base + rs,
            "Naive IM-RS": base + nv,
            "MAPPO (two-timescale)": base + mp,
        }
        noisy = {k: v + rng.normal(0, 0.05, 40) for k, v in agents.items()}
        studies[s] = study(s, {**heur, **noisy})
    return studies, heur, base


def test_verdict_rule(fig2):
    assert fig2.verdict([True, True], False) == "holds"
    assert fig2.verdict([True, False], False) == "holds partly"
    assert fig2.verdict([False, False], True) == "holds partly"  # only the seed-mean agent
    assert fig2.verdict([False], False) == "does not hold"
    with pytest.raises(ValueError, match="seed"):
        fig2.verdict([], True)


def test_summarise_pools_seeds_pairs_episodes_and_judges_claims(fig2, synthetic):
    studies, heur, base = synthetic
    s = fig2.summarise(studies)
    rows = s["rows"]
    assert s["seeds"] == [1, 2, 3] and s["episodes"] == 40
    assert s["best_heuristic"] == "MIP rolling horizon"
    assert s["best_static"] == "base-stock + margin"
    assert s["best_dynamic_heuristic"] == "MIP rolling horizon"
    per = {k: fig2.per_period(st) for k, st in studies.items()}
    joint = np.mean([per[k]["Joint IM-RS"] for k in (1, 2, 3)], axis=0)
    assert rows["Joint IM-RS"]["mean"] == pytest.approx(joint.mean())
    assert rows["Joint IM-RS"]["seed_spread"]["median"] == pytest.approx(
        per[2]["Joint IM-RS"].mean()
    )
    mappo = np.mean([per[k]["MAPPO (two-timescale)"] for k in (1, 2, 3)], axis=0)
    d = rows["MAPPO (two-timescale)"]["vs_joint"]
    assert d[0] == pytest.approx((mappo - joint).mean())
    assert d[1] < d[0] < d[2]
    # per seed, paired: seed 3's MAPPO is 0.1 below Joint with tiny noise
    lo3 = rows["MAPPO (two-timescale)"]["seed_vs_joint"]["3"]
    assert lo3[0] == pytest.approx(-0.1, abs=0.05)
    # a heuristic row's comparison with Joint is per seed too
    assert set(rows["base-stock + margin"]["seed_vs_joint"]) == {"1", "2", "3"}
    assert "seed_spread" not in rows["base-stock + margin"]
    c = s["claims"]
    # Joint beats IM-only and RS-only always; Naive only in seeds 1, 2 (seed 3: 3.5 vs 3.6)
    coord = c["coordination pays (Joint beats IM-only, RS-only, Naive IM-RS)"]
    assert coord["comparisons"]["Joint IM-RS - Naive IM-RS"]["seeds_passing"] == "2/3"
    assert coord["verdict"] == "holds partly"
    # MAPPO within 1% of Joint: seed 2 is 1.5 (about 3%) below: partly
    match = c["MAPPO matches or beats Joint IM-RS"]
    assert match["seeds_passing"] == "2/3" and match["verdict"] == "holds partly"
    # dynamic vs static: Joint is 1.5 to 3.5 above margin in every seed
    assert c["dynamic beats static (Joint IM-RS - base-stock + margin)"]["verdict"] == "holds"
    heuristic_gap = c[
        "dynamic beats static (MIP rolling horizon - base-stock + margin, no training)"
    ]
    assert heuristic_gap["pooled"][0] == pytest.approx(4.0) and heuristic_gap["verdict"] == "holds"
    # half the gap: midpoint margin + 2; Joint seeds at +3.5, +2.5, +1.5 -> 2 of 3
    half = c["Joint IM-RS captures half the dynamic-over-static gap"]
    assert half["seeds_passing"] == "2/3" and half["verdict"] == "holds partly"
    assert half["captured_fraction"]["1"] == pytest.approx(3.5 / 4, abs=0.02)


def test_split_refuses_different_episodes(fig2, synthetic):
    studies, heur, base = synthetic
    bad = dict(studies)
    bad[2] = study(2, {**heur, "base-stock + margin": heur["base-stock + margin"] + 1})
    with pytest.raises(ValueError, match="base-stock \\+ margin.*differs"):
        fig2.split(bad)
    short = {1: study(1, {"base-stock + margin": base[:5], "Joint IM-RS": base[:6]})}
    with pytest.raises(ValueError, match="same evaluation episodes"):
        fig2.split(short)


def test_pool_merges_runs_and_refuses_mismatches(fig2, synthetic):
    studies, heur, base = synthetic
    run = {"benchmark": "figure2", "studies": {"1": studies[1], "2": studies[2]}}
    doc = fig2.pool([run, studies[3], studies[1]])  # a study.json; seed 1 again, the same
    (case,) = doc["cases"].values()
    assert sorted(case["studies"]) == ["1", "2", "3"]
    assert case["summary"]["seeds"] == [1, 2, 3]
    with pytest.raises(ValueError, match="root seed"):
        fig2.pool([run, {**studies[3], "eval_seed": 8}])
    other = study(3, {**heur}, steps=200)
    with pytest.raises(ValueError, match="settings \\['steps'\\]"):
        fig2.pool([run, other])
    changed = json.loads(json.dumps(studies[1]))
    changed["rows"][-1]["per_episode"][0] += 1.0
    with pytest.raises(ValueError, match="seed 1 differs"):
        fig2.pool([run, changed])
    text = fig2.report(doc)
    assert "| Joint IM-RS |" in text and "holds partly" in text and "Rule:" in text


def test_run_and_report_with_a_stand_in_study(fig2, synthetic, tmp_path, monkeypatch):
    """run() passes every seed the same evaluation seed and writes the JSON after each;
    --report pools it with a study.json and draws the figure."""
    import scenarios
    import scenarios.recommendation_study as rs

    studies, heur, base = synthetic
    seen = []

    class Fake:
        def __init__(self, d):
            self.d = d
            self.rows = [
                {"name": r["name"], "mean": np.mean(r["per_episode"]) / PERIODS} for r in d["rows"]
            ]

        def to_dict(self):
            return self.d

    def fake_study(problem, settings, out, progress=True):
        seen.append((settings.seed, settings.eval_seed, Path(out).name))
        return Fake({**studies[settings.seed], "eval_seed": settings.eval_seed})

    monkeypatch.setattr(rs, "run_study", fake_study)
    problem = scenarios.make("recommendation-small", shortage="lost")
    path = tmp_path / "r.json"
    result = fig2.run(
        problem, rs.StudySettings(), [1, 2], tmp_path, path, progress=False, command="python x"
    )
    assert seen == [(1, rs.EVAL_SEED_OFFSET + 1, "seed1"), (2, rs.EVAL_SEED_OFFSET + 1, "seed2")]
    saved = json.loads(path.read_text())
    assert sorted(saved["studies"]) == ["1", "2"] and saved["summary"]["seeds"] == [1, 2]
    assert saved["command"] == "python x"
    assert result["eval_seed"] == rs.EVAL_SEED_OFFSET + 1
    one = tmp_path / "study.json"
    one.write_text(json.dumps({**studies[3], "eval_seed": rs.EVAL_SEED_OFFSET + 1}))
    doc = fig2.main(["--report", str(path), str(one), "--out", str(tmp_path / "rep")])
    (case,) = doc["cases"].values()
    assert case["summary"]["seeds"] == [1, 2, 3]
    assert (tmp_path / "rep" / "figure2_seeds.png").stat().st_size > 10_000
    assert "MAPPO matches or beats" in (tmp_path / "rep" / "figure2_seeds.md").read_text()


@pytest.mark.slow
def test_quick_run_writes_json_and_figure(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path), "--json", "q.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads((tmp_path / "q.json").read_text())
    assert sorted(data["studies"]) == ["1", "2"]
    rows = data["summary"]["rows"]
    assert {"Joint IM-RS", "Naive IM-RS", "MAPPO (two-timescale)", "base-stock + margin"} <= set(
        rows
    )
    assert (tmp_path / "figure2_seeds.png").exists()
    assert "seed 2 done" in proc.stdout


def test_versus_pairs_agents_and_borrows_the_heuristic_rows(fig2, synthetic):
    studies, heur, base = synthetic
    old = {"benchmark": "figure2", "studies": {str(k): v for k, v in studies.items()}}
    new_studies = {}
    for seed in (1, 2):  # a variant run without the heuristic rows: Joint 1.0 higher
        rows = {
            r["name"]: np.asarray(r["per_episode"]) / PERIODS
            for r in studies[seed]["rows"]
            if r["name"] in fig2.AGENTS
        }
        rows["Joint IM-RS"] = rows["Joint IM-RS"] + 1.0
        new_studies[str(seed)] = study(seed, rows, steps=999)  # other settings: a variant
    new = {"benchmark": "figure2", "studies": new_studies}
    (d,) = fig2.versus(new, old).values()
    joint = d["new_minus_old"]["Joint IM-RS"]
    assert joint["pooled"][0] == pytest.approx(1.0) and set(joint["per_seed"]) == {"1", "2"}
    assert d["new_minus_old"]["IM-only"]["pooled"][0] == pytest.approx(0.0, abs=1e-12)
    assert d["new"]["seeds"] == [1, 2] and d["new"]["best_static"] == "base-stock + margin"
    half = d["new"]["claims"]["Joint IM-RS captures half the dynamic-over-static gap"]
    assert half["verdict"] == "holds"  # +4.5, +3.5 over margin, midpoint +2
    with pytest.raises(ValueError, match="different episodes"):
        fig2.versus(new, {**studies[1], "eval_seed": 99})


def test_study_without_references_keeps_the_anchor(tmp_path):
    """references=False leaves the heuristic rows out but still anchors the agents on
    base stock + margin (the same levels as with the rows)."""
    import scenarios
    from scenarios.recommendation_study import StudySettings, run_study

    problem = scenarios.make("recommendation-small", shortage="lost")
    tiny = dict(episodes=2, periods=12, mpc=False, agents=(), search_periods=60)
    with_rows = run_study(problem, StudySettings(**tiny), tmp_path / "a", progress=False)
    without = run_study(
        problem, StudySettings(**tiny, references=False), tmp_path / "b", progress=False
    )
    assert without.rows == [] and len(with_rows.rows) == 4
    assert (tmp_path / "a" / "env.json").read_text() == (tmp_path / "b" / "env.json").read_text()
    assert (
        without.details["base_stock_levels"]["margin"]
        == (with_rows.details["base_stock_levels"]["margin"])
    )


def test_project_onto_the_anchored_action_range(fig2):
    base = np.zeros((2, 3))
    z = np.array([[0.0, 1.0, 2.0], [2.0, 0.0, -1.0]])
    reachable = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)  # spans <= 2 x scale 3
    np.testing.assert_allclose(fig2.project(reachable, base, 3.0, 1), reachable, atol=1e-4)
    corner = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # needs infinite logits
    got = fig2.project(corner, base, 1.0, 1)
    best = np.exp([1.0, -1.0, -1.0]) / np.exp([1.0, -1.0, -1.0]).sum()
    np.testing.assert_allclose(got[0], best, atol=1e-4)
    np.testing.assert_allclose(got[1], best[::-1], atol=1e-4)
    # along the other axis (intensities summing to 1 over products)
    np.testing.assert_allclose(fig2.project(reachable.T, base.T, 3.0, 0), reachable.T, atol=1e-4)


@pytest.mark.slow  # about 10 s: three studies' anchors (no training)
def test_season_study_widens_the_recommendation_reach(tmp_path):
    """On a selling season the agents' recommendation actions reach SEASON_LOGIT_SCALE
    logits around the anchor unless the settings say otherwise."""
    import scenarios
    from scenarios.recommendation_study import SEASON_LOGIT_SCALE, StudySettings, run_study

    problem = scenarios.make("recommendation-fashion-small")
    tiny = dict(episodes=2, periods=12, agents=(), references=False)
    run_study(problem, StudySettings(**tiny), tmp_path / "a", progress=False)
    assert json.loads((tmp_path / "a" / "env.json").read_text())["logit_scale"] == (
        SEASON_LOGIT_SCALE
    )
    run_study(problem, StudySettings(**tiny, logit_scale=3.0), tmp_path / "b", progress=False)
    assert json.loads((tmp_path / "b" / "env.json").read_text())["logit_scale"] == 3.0
    small = scenarios.make("recommendation-small")
    run_study(small, StudySettings(**tiny, search_periods=60), tmp_path / "c", progress=False)
    assert "logit_scale" not in json.loads((tmp_path / "c" / "env.json").read_text())


def test_runs_at_different_logit_scales_are_not_pooled(fig2, synthetic):
    """A run that did not record its logit scale had the env's 3; a season run at 8 is
    another setting and is refused, one at 3 pools."""
    studies, heur, base = synthetic
    old = studies[1]  # no "logit_scale" key: 3
    wide = json.loads(json.dumps(studies[2]))
    wide["settings"]["logit_scale"] = 8.0
    with pytest.raises(ValueError, match="logit_scale"):
        fig2.pool([old, wide])
    wide["settings"]["logit_scale"] = 3.0
    assert sorted(next(iter(fig2.pool([old, wide])["cases"].values()))["studies"]) == ["1", "2"]


def test_validation_runs_use_their_own_seasons_and_seeds(fig2, tmp_path, monkeypatch):
    """--validation evaluates on VALIDATION_EVAL_SEED with training seeds from 101 and
    passes the learning options through; a validation run on the table's seeds 1-3 or
    episodes is refused, and without it the table's evaluation seed is kept."""
    import scenarios.recommendation_study as rs

    seen = []

    def fake_run(problem, settings, seeds, out, json_path, progress=True, earlier=(), command=None):
        assert command.startswith("python benchmarks/figure2.py --scenario")
        seen.append((settings, list(seeds)))
        return {"studies": {}}

    monkeypatch.setattr(sys, "stderr", sys.stderr)  # main wraps it in a progress-line writer
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    monkeypatch.setattr(fig2, "run", fake_run)
    monkeypatch.setattr(fig2, "pool", lambda docs: (_ for _ in ()).throw(ValueError("none")))
    base = ["--scenario", "recommendation-fashion-small", "--out", str(tmp_path)]
    fig2.main([*base, "--validation", "--seeds", "2", "--gae-lambda", "0.97"])
    settings, seeds = seen[-1]
    assert settings.eval_seed == rs.VALIDATION_EVAL_SEED != rs.EVAL_SEED_OFFSET + 1
    assert seeds == [rs.VALIDATION_FIRST_SEED, rs.VALIDATION_FIRST_SEED + 1]
    assert settings.gae_lambda == 0.97 and settings.learning_rate == 1e-3
    fig2.main([*base, "--seeds", "1", "--learning-rate", "3e-4"])
    settings, seeds = seen[-1]
    assert settings.eval_seed == rs.EVAL_SEED_OFFSET + 1 and seeds == [1]
    assert settings.learning_rate == 3e-4
    with pytest.raises(SystemExit, match="seeds below are the table's"):
        fig2.main([*base, "--validation", "--first-seed", "2"])
    with pytest.raises(SystemExit, match="its own seasons"):
        fig2.main([*base, "--validation", "--eval-seed", str(rs.EVAL_SEED_OFFSET + 1)])
    assert len(seen) == 2


def test_trials_tabulate_variants_against_a_baseline(fig2, synthetic, tmp_path):
    """--trials: each variant's settings difference, Joint's paired gain over the baseline
    and the share of the dynamic gap it captures, with the baseline's heuristic rows."""
    studies, heur, base = synthetic
    old = tmp_path / "base.json"
    old.write_text(
        json.dumps({"benchmark": "figure2", "eval_seed": 7, "studies": {"1": studies[1]}})
    )
    rows = {
        r["name"]: np.asarray(r["per_episode"]) / PERIODS
        for r in studies[1]["rows"]
        if r["name"] == "Joint IM-RS"
    }
    new = tmp_path / "trial.json"
    variant = study(1, {"Joint IM-RS": rows["Joint IM-RS"] - 2.5}, logit_scale=12.0)
    new.write_text(json.dumps({"benchmark": "figure2", "studies": {"1": variant}}))
    out = tmp_path / "trials.json"
    doc = fig2.main(["--trials", str(new), "--baseline", str(old), "--json", str(out)])
    (rec,) = doc["trials"]
    assert rec["differs_from_baseline"] == {"logit_scale": 12.0}
    assert rec["vs_baseline"]["Joint IM-RS"]["pooled"][0] == pytest.approx(-2.5)
    half = rec["claims"]["Joint IM-RS captures half the dynamic-over-static gap"]
    # Joint at base + 5.5 - 2.5 = +3; static base + 2, dynamic base + 6: captures 1 of 4
    assert half["captured_fraction"]["1"] == pytest.approx(0.25, abs=0.02)
    assert half["verdict"] == "does not hold"
    assert json.loads(out.read_text())["trials"][0]["seeds"] == [1]
    assert "| trial | differs |" in fig2.trials_table(doc)
    with pytest.raises(SystemExit, match="--baseline"):
        fig2.main(["--trials", str(new)])


def test_behaviour_of_the_static_season_policy_and_of_an_agent_on_its_anchor(fig2):
    """--diagnose's measurements: the best static policy buys its levels and never moves
    off its plan (push 1, no spread over episodes); an anchored agent that plays u = 0
    buys the same and keeps (nearly: the anchor's floor of 1e-3) the same push; the
    re-solving policy responds to the state (spread over episodes)."""
    import scenarios
    from optimization.recommendation_season import season_policies, season_setting
    from rl.recommendation_env import make_recommendation_env
    from scenarios.recommendation_study import anchors

    problem = scenarios.make("recommendation-fashion-small")
    model, econ, static = season_setting(problem)
    alpha = np.asarray(static.alpha, float)
    policies = season_policies(problem, static)
    b = fig2.behaviour(problem, policies["base-stock-season-static"][0], 3, 11, alpha)
    assert b["buy_mean"] == pytest.approx(static.levels(model))
    assert np.allclose(b["push_mean_by_period"], 1.0)
    assert b["log_intensity_sd_over_episodes"] == pytest.approx(0.0, abs=1e-9)
    resolve = fig2.behaviour(problem, policies["base-stock-season-resolve"][0], 3, 11, alpha)
    assert resolve["log_intensity_sd_over_episodes"] > 0.1
    kwargs = anchors(problem.network, model, static.levels(model), alpha=alpha)
    env = make_recommendation_env(
        problem,
        control="joint",
        periods=econ.season,
        finite_horizon=True,
        logit_scale=8.0,
        **kwargs,
    )
    zero = env.policy(lambda obs: np.zeros(env.action_space.shape, np.float32))
    z = fig2.behaviour(problem, zero, 3, 11, alpha)
    assert z["buy_mean"] == pytest.approx(static.levels(model))
    assert np.allclose(z["push_mean_by_period"], 1.0, atol=0.02)
    assert z["log_intensity_sd_over_episodes"] == pytest.approx(0.0, abs=1e-9)
