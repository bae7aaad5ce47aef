"""benchmarks/multi_timescale.py: the review-cycle profile of a trace on arrays with a known
pattern, the agents against one reference row over training seeds (checked against
des_supply.evaluate.confidence_interval on the seed-mean differences), the report with a
structured-vs-free comparison on stand-in studies, and a tiny two-seed study end to end
with its traces (slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from benchmark_scripts import PERIODS, load, study

from des_supply.evaluate import confidence_interval

REF = "periodic base-stock (k=3) + margin"


@pytest.fixture(scope="module")
def mt():
    return load("multi_timescale", "multi_timescale_benchmark")


@pytest.fixture
def seeds():
    """Three seeds on 30 common episodes: MAPPO 0.3 / 0.0 / -0.2 above the reference."""
    rng = np.random.default_rng(1)
    base = rng.normal(43, 2, 30)
    heur = {REF: base, "base-stock + margin": base + 12}
    out = {}
    for s, off in ((1, 0.3), (2, 0.0), (3, -0.2)):
        agents = {
            "Joint IM-RS": base + 12.2 + rng.normal(0, 0.1, 30),
            "MAPPO (two-timescale)": base + off + rng.normal(0, 0.1, 30),
        }
        out[s] = study(s, {**heur, **agents})
    return out, base


def test_cycle_profile_finds_a_push_cut_when_stock_runs_low(mt):
    episodes, periods, k = 4, 12, 3
    t = np.arange(periods)
    stock = np.zeros((episodes, periods, 2))
    push = np.ones((episodes, periods, 2))
    rng = np.random.default_rng(0)
    for e in range(episodes):
        stock[e, :, 0] = 10 - 3 * (t % k) + rng.normal(0, 0.1, periods)  # runs down in a cycle
        stock[e, :, 1] = 5 + rng.normal(0, 1, periods)
        push[e, t % k == k - 1, 0] = 0.75  # cut just before the next order
        push[e, t % k == k - 1, 1] = 1.3  # the other product pushed at the same time
    prof = mt.cycle_profile(stock, push, k, ["p0", "p1"])
    p0, p1 = prof["products"]["p0"], prof["products"]["p1"]
    assert p0["push_by_phase"] == pytest.approx([1.0, 1.0, 0.75])
    assert p0["low_phase"] == 2  # p0's stock is lowest just before the next order
    assert p0["push_low_over_rest"] == pytest.approx(0.75)
    p1_low = p1["low_phase"]  # p1's stock is noise: its own low phase, its own ratio
    at = np.arange(periods) % k == p1_low
    assert p1["push_low_over_rest"] == pytest.approx(push[:, at, 1].mean() / push[:, ~at, 1].mean())
    assert p0["stock_by_phase"] == pytest.approx([10, 7, 4], abs=0.2)
    # low stock, low push: positive; an independent reference
    expected = np.corrcoef(push[..., 0].ravel(), stock[..., 0].ravel())[0, 1]
    assert p0["corr_push_stock"] == pytest.approx(expected) and expected > 0.5
    # within the low phase p0's push is constant: no correlation defined
    assert p0["corr_push_stock_low_phase"] is None
    # the two pushes move against each other, always together in time
    assert prof["corr_push_between_products"]["p0~p1"] == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="period"):
        mt.cycle_profile(stock, push, 0, ["p0", "p1"])
    with pytest.raises(ValueError, match="episode, t"):
        mt.cycle_profile(stock[:, :-1], push, k, ["p0", "p1"])


def test_versus_reference_pairs_each_seed_and_the_seed_mean(mt, seeds):
    studies, base = seeds
    s = mt.versus_reference(mt.figure2(), {str(k): v for k, v in studies.items()}, REF)
    assert s["seeds"] == [1, 2, 3] and s["episodes"] == 30
    assert set(s["rows"]) == {"Joint IM-RS", "MAPPO (two-timescale)", REF}  # other rows left out
    per = {k: np.asarray(v["rows"][-1]["per_episode"]) / PERIODS for k, v in studies.items()}
    pooled = np.mean([per[k] for k in (1, 2, 3)], axis=0) - base
    row = s["rows"]["MAPPO (two-timescale)"]
    assert row["vs_best_heuristic"] == pytest.approx(list(confidence_interval(pooled)))
    assert row["seed_vs_best_heuristic"]["1"] == pytest.approx(
        list(confidence_interval(per[1] - base))
    )
    assert row["seed_vs_best_heuristic"]["1"][1] > 0  # seed 1 beats it
    assert row["seed_vs_best_heuristic"]["3"][2] < 0  # seed 3 loses
    assert row["seed_spread"]["median"] == pytest.approx(per[2].mean())
    with pytest.raises(ValueError, match="no row"):
        mt.versus_reference(mt.figure2(), {"1": studies[1]}, "no such heuristic")


def test_report_pools_groups_and_compares_them(mt, seeds, tmp_path, capsys):
    studies, base = seeds
    rng = np.random.default_rng(2)
    files = {}
    for mode, shift in (("free", 0.0), ("structured", -1.0)):
        docs = []
        for s, st in studies.items():
            rows = {
                r["name"]: np.asarray(r["per_episode"]) / PERIODS
                + (shift + rng.normal(0, 0.01, 30) if r["name"] == "Joint IM-RS" else 0.0)
                for r in st["rows"]
            }
            docs.append(study(s, rows, score_mode=mode))
        path = tmp_path / f"{mode}.json"
        path.write_text(json.dumps({"benchmark": "figure2", "studies": dict(enumerate(docs))}))
        files[mode] = path
    out = tmp_path / "report.json"
    mt.main(
        [
            "report",
            "--group",
            f"structured={files['structured']}",
            "--group",
            f"free={files['free']}",
            "--reference",
            REF,
            "--versus",
            "structured",
            "free",
            "--json",
            str(out),
            "--out",
            str(tmp_path),
        ]
    )
    doc = json.loads(out.read_text())
    (versus,) = doc["versus"]
    assert (versus["new"], versus["old"]) == ("structured", "free")
    (diff,) = versus["cases"].values()
    joint = diff["new_minus_old"]["Joint IM-RS"]
    assert joint["pooled"][0] == pytest.approx(-1.0, abs=0.01)
    assert joint["verdict"] == "does not hold" and joint["seeds_passing"] == "0/3"
    (case,) = doc["groups"]["free"]["cases"].values()
    assert case["versus_reference"]["rows"]["Joint IM-RS"]["mean"] == pytest.approx(
        base.mean() + 12.2, abs=0.1
    )
    assert case["heuristic_max_abs_difference_between_seeds"] == {
        REF: 0.0,
        "base-stock + margin": 0.0,
    }
    assert "structured - free" in (tmp_path / "report.md").read_text()
    assert "vs periodic base-stock (k=3) + margin" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="LABEL=FILE"):
        mt.main(["report", "--group", "nofiles", "--reference", REF, "--out", str(tmp_path)])


@pytest.mark.slow  # about 30 s: two tiny trainings per seed, traces
def test_two_seed_study_on_common_episodes_then_traces(mt, tmp_path):
    out, result = tmp_path / "k3", tmp_path / "k3.json"
    common = ["--scenario", "recommendation-small", "--param", "shortage=lost"]
    mt.main(
        [
            "study",
            *common,
            "--k",
            "3",
            "--agents",
            "joint",
            "mappo",
            "--mpc",
            "0",
            "--steps",
            "1024",
            "--episodes",
            "3",
            "--periods",
            "12",
            "--search-periods",
            "60",
            "--search-replications",
            "1",
            "--seeds",
            "2",
            "--json",
            str(result),
            "--out",
            str(out),
        ]
    )
    doc = json.loads(result.read_text())
    one, two = (doc["studies"][s] for s in ("1", "2"))
    assert one["eval_seed"] == two["eval_seed"]  # the test episodes of training seed 1
    rows1 = {r["name"]: r["per_episode"] for r in one["rows"]}
    rows2 = {r["name"]: r["per_episode"] for r in two["rows"]}
    assert rows1[REF] == rows2[REF]  # heuristics do not depend on the training seed
    assert rows1["MAPPO (two-timescale)"] != rows2["MAPPO (two-timescale)"]
    runs = [str(out / "seed1"), str(out / "seed2")]
    mt.main(["trace", *common, "--run", *runs, "--episodes-trace", "2", "--out", str(tmp_path)])
    traces = json.loads((tmp_path / "trace_seeds.json").read_text())
    assert set(traces["runs"]) == set(runs)
    mappo = traces["runs"][runs[0]]["MAPPO"]
    assert mappo["period"] == 3 and len(mappo["products"]["p0"]["push_by_phase"]) == 3
    assert traces["runs"][runs[0]]["Joint IM-RS"]["period"] == 3  # the study's cycle
    assert (tmp_path / "trace_cycle.png").stat().st_size > 10_000
