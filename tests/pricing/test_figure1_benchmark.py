"""benchmarks/figure1.py: the aggregation over training seeds and the verdict rule on synthetic
per-episode profits, and its --quick path end to end (slow)."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "figure1.py"


@pytest.fixture(scope="module")
def fig1():
    spec = importlib.util.spec_from_file_location("figure1_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_verdict_rule(fig1):
    assert fig1.verdict([0.1, 0.2, 0.3], 0.2) == "holds"
    assert fig1.verdict([0.1, -0.2, 0.3], 0.05) == "holds partly"
    assert fig1.verdict([-0.1, -0.2], 0.01) == "holds partly"  # only the mean over seeds
    assert fig1.verdict([-0.1, -0.2], -0.01) == "does not hold"
    assert fig1.verdict([0.0], 0.0) == "does not hold"  # a CI touching 0 is no win
    with pytest.raises(ValueError, match="seed"):
        fig1.verdict([], 1.0)


def test_summarise_case_on_synthetic_profits(fig1):
    rng = np.random.default_rng(0)
    base = rng.normal(50, 3, 40)  # common random numbers: shared episode effects
    bench = {
        "optimal": base + 20,
        "list-price": base - 5,
        "myopic-pricing": base + 10,
    }
    offsets = {1: 11.0, 2: 12.0, 3: 9.0}  # seed 3 is below Myopic
    ppo = {s: base + d + rng.normal(0, 0.1, 40) for s, d in offsets.items()}
    out = fig1.summarise_case(bench, ppo)
    assert out["best_heuristic"] == "myopic-pricing"
    mean_ppo = np.mean([ppo[s] for s in (1, 2, 3)], axis=0)
    assert out["ppo_mean"] == pytest.approx(mean_ppo.mean())
    d = out["ppo_vs_best"]
    assert d[0] == pytest.approx((mean_ppo - bench["myopic-pricing"]).mean())
    assert d[1] < d[0] < d[2] and d[1] > 0  # paired: the shared episode noise cancels
    assert out["seed_spread"]["min"] == pytest.approx(min(ppo[s].mean() for s in ppo))
    assert out["seed_spread"]["median"] == pytest.approx(ppo[1].mean())
    assert out["seed_vs_best"]["3"][2] < 0 < out["seed_vs_best"]["1"][1]
    assert out["verdict"] == "holds partly"
    gap = 100 * (mean_ppo - bench["optimal"]).mean() / bench["optimal"].mean()
    assert out["gap_pct"][0] == pytest.approx(gap)
    assert out["ppo_vs_heuristics"]["list-price"][0] == pytest.approx(
        (mean_ppo - bench["list-price"]).mean()
    )
    # every seed clearly above the best heuristic: the claim holds
    strong = {s: base + 15 + rng.normal(0, 0.1, 40) for s in (1, 2)}
    assert fig1.summarise_case(bench, strong)["verdict"] == "holds"
    weak = {s: base + 5 + rng.normal(0, 0.1, 40) for s in (1, 2)}
    assert fig1.summarise_case(bench, weak)["verdict"] == "does not hold"


def test_summarise_case_needs_common_episodes(fig1):
    bench = {"optimal": np.ones(5), "bslp": np.zeros(5)}
    with pytest.raises(ValueError, match="same evaluation episodes"):
        fig1.summarise_case(bench, {1: np.ones(4)})
    with pytest.raises(ValueError, match="trained agent"):
        fig1.summarise_case(bench, {})
    with pytest.raises(ValueError, match="heuristic"):
        fig1.summarise_case({"optimal": np.ones(5)}, {1: np.ones(5)})


def test_curve_profit_undoes_the_reward_scale(fig1):
    rows = [
        {"global_step": 2048.0, "episodic_return_mean": math.nan, "episodic_length_mean": math.nan},
        {"global_step": 4096.0, "episodic_return_mean": 6.4, "episodic_length_mean": 128.0},
    ]
    assert fig1.curve_profit(rows, scale=1000.0) == [[4096.0, 50.0]]


def test_versus_pairs_common_seeds_only(fig1):
    rng = np.random.default_rng(1)
    base = rng.normal(60, 4, 10)
    meta = {"episodes": 10, "periods": 1000, "eval_seed": 7}

    def result(variant, offsets):
        agents = {str(s): {"per_episode": (base + d).tolist()} for s, d in offsets.items()}
        return {**meta, "variant": variant, "cases": {"c": {"agents": agents}}}

    new = result("long", {1: 3.0, 2: 5.0})
    old = result("preset", {1: 1.0, 3: 0.0})
    d = fig1.versus(new, old)["c"]
    assert d["seeds"] == ["1"]
    assert d["mean"][0] == pytest.approx(2.0)
    assert d["per_seed"]["1"][1] == pytest.approx(2.0)  # identical episode noise: no spread
    with pytest.raises(ValueError, match="episodes"):
        fig1.versus({**new, "episodes": 5}, old)


def test_merge_pools_seeds_and_recomputes(fig1):
    rng = np.random.default_rng(2)
    base = rng.normal(60, 4, 10)
    meta = {"episodes": 10, "periods": 1000, "eval_seed": 7, "variant": "preset"}
    bench = {
        "optimal": {"per_episode": (base + 9).tolist()},
        "bslp": {"per_episode": base.tolist()},
    }

    def result(offsets):
        agents = {str(s): {"per_episode": (base + d).tolist()} for s, d in offsets.items()}
        return {
            **meta,
            "seeds": list(offsets),
            "cases": {"a": {"benchmarks": bench, "agents": agents}},
        }

    merged = fig1.merge([result({1: 1.0, 2: 2.0}), result({2: 2.0, 3: 3.0})])
    s = merged["cases"]["a"]["summary"]
    assert merged["seeds"] == [1, 2, 3] and s["seeds"] == [1, 2, 3]
    assert s["ppo_vs_best"][0] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="seed 2 differs"):
        fig1.merge([result({2: 2.0}), result({2: 2.5})])
    with pytest.raises(ValueError, match="variant"):
        fig1.merge([result({1: 1.0}), {**result({3: 1.0}), "variant": "long"}])


@pytest.mark.slow
def test_quick_run_writes_json_and_plot(tmp_path):
    """The --quick smoke run (case a, 2 seeds, 1024 steps; ~1 minute: the DP solve)."""
    out, js = tmp_path / "out", tmp_path / "r.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out), "--json", str(js)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "training seed 2" in proc.stdout  # progress lines without a tty
    data = json.loads(js.read_text())
    case = data["cases"]["a"]
    assert set(case["agents"]) == {"1", "2"}
    assert case["summary"]["verdict"] in ("holds", "holds partly", "does not hold")
    assert len(case["benchmarks"]["optimal"]["per_episode"]) == 3
    assert (out / "figure1_seeds.png").stat().st_size > 10_000
