"""The offline path on problems: collect -> train --algo dt -> evaluate, and multi-task runs."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

pytest.importorskip("minari")

import scenarios
from rl.decision_transformer import DTConfig
from rl.trajectories import load_episodes, merge
from scenarios import offline
from scenarios.cli import main

TINY = DTConfig(total_steps=30, batch_size=8, context=4, embed_dim=16, n_layers=1, n_heads=2)


def run(capsys, *argv):
    """``des-supply ARGV`` in-process: its JSON output (the command must succeed)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def refused(capsys, *argv) -> str:
    """``des-supply ARGV`` must fail as a user error: status 2, one line; that line."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1, (code, out, err)
    return err


@pytest.fixture(autouse=True)
def short_cloning(monkeypatch):
    """BC rows of ``evaluate`` with a few training steps (the rows, not their quality)."""
    monkeypatch.setattr(offline, "BC_STEPS", 40)


def test_collect_train_evaluate(tmp_path, capsys):
    for name, extra in (
        ("myopic", []),
        ("base-stock", ["--policy-param", "level=14", "--noise", "2"]),
    ):
        out = run(
            capsys,
            "collect",
            "single-stage",
            "--policy",
            name,
            *extra,
            "--episodes",
            "4",
            "--periods",
            "12",
            "--seed",
            "3",
            "--out",
            str(tmp_path / name),
            "--json",
        )
        assert out["episodes"] == 4 and out["env"] == {"periods": 12, "discrete": True}
    assert out["behaviour"] == "noisy-base-stock" and out["params"]["noise_std"] == 2.0
    merge([tmp_path / "myopic", tmp_path / "base-stock"], tmp_path / "mix")
    trained = run(
        capsys,
        "train",
        "single-stage",
        "--algo",
        "dt",
        "--data",
        str(tmp_path / "mix"),
        "--steps",
        "20",
        "--out",
        str(tmp_path / "run"),
        "--json",
    )
    assert trained["steps"] == 20 and offline.is_dt_run(tmp_path / "run")
    assert (tmp_path / "run" / "learning_curve.png").exists()
    resumed = run(
        capsys,
        "train",
        "--algo",
        "dt",
        "--resume",
        str(tmp_path / "run"),
        "--steps",
        "25",
        "--json",
    )
    assert resumed["steps"] == 25
    res = run(capsys, "evaluate", str(tmp_path / "run"), "--episodes", "3", "--json")
    names = [r["name"] for r in res["rows"]]
    assert names == ["dt", "myopic", "noisy-base-stock", "optimal", "bc", "filtered-bc"]
    assert res["validation"]["seed"] != res["seed"] and res["target"] in [
        float(k) for k in res["validation"]["scores"]
    ]
    myopic = next(r for r in res["rows"] if r["name"] == "myopic")
    lo, hi = myopic["dt_minus"]["ci95"]
    assert lo <= myopic["dt_minus"]["mean"] <= hi
    # the behaviours run on the episodes they were logged on: same seed, same values
    logged = [e.meta["value"] for e in load_episodes(tmp_path / "myopic")]
    again = offline.evaluate_dt(tmp_path / "run", episodes=4, seed=3, validation_seed=4)
    got = next(r for r in again["rows"] if r["name"] == "myopic")["mean"]
    assert got == pytest.approx(np.mean(logged))


def test_bad_input_is_refused_with_the_reason(tmp_path, capsys):
    assert "needs --data" in refused(capsys, "train", "single-stage", "--algo", "dt")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.pt").write_text("")
    assert "exists" in refused(
        capsys, "train", "--algo", "dt", "--data", str(tmp_path), "--out", str(tmp_path / "run")
    )
    assert "noise" in refused(
        capsys,
        "collect",
        "single-stage",
        "--policy",
        "myopic",
        "--noise",
        "-1",
        "--out",
        str(tmp_path / "x"),
    )
    assert "no parameters" in refused(
        capsys,
        "collect",
        "single-stage",
        "--policy",
        "random",
        "--policy-param",
        "a=1",
        "--out",
        str(tmp_path / "y"),
    )
    for scenario, policy, params in (  # no encode(Action) for these envs yet
        ("pricing-a", "bslp", ["price=40", "level=10"]),
        ("recommendation-small", "base-stock-margin", ["level=8"]),
    ):
        pairs = [x for p in params for x in ("--policy-param", p)]
        text = refused(
            capsys, "collect", scenario, "--policy", policy, *pairs, "--out", str(tmp_path / "z")
        )
        assert "market" in text and "not supported yet" in text, text
    # a level above the dataset env's default largest order (4 x 5 = 20 at single stage):
    # the line names the node, the order and the flag that fixes it
    text = refused(
        capsys,
        "collect",
        "single-stage",
        "--policy",
        "base-stock",
        "--policy-param",
        "level=80",
        "--episodes",
        "1",
        "--periods",
        "4",
        "--out",
        str(tmp_path / "w"),
    )
    assert "at node 'stage', above the dataset env's largest order there (20;" in text, text
    assert re.search(r"orders (\d+) .*--max-order \1 or more", text), text
    assert not any((tmp_path / d).exists() for d in ("w", "x", "y", "z"))


def test_multi_task_run_with_task_features_and_expected_labels(tmp_path):
    cells = [(1, 4.0), (2, 9.0)]
    sets = []
    for L, p in cells:
        problem = scenarios.make("single-stage", lead_time=L, penalty=p)
        out = tmp_path / f"c{L}"
        offline.collect(
            problem,
            "optimal",
            out=out,
            episodes=3,
            periods=10,
            seed=1,
            env_kwargs={"pipeline_length": 2, "max_order": 20},
        )
        sets.append(out)
    merge(sets, tmp_path / "mix")
    spec = offline.task_features([e.problem for e in load_episodes(tmp_path / "mix")])
    assert spec["keys"] == ["lead_time", "penalty"]
    offline.train_dt(tmp_path / "mix", tmp_path / "run", config=TINY, relabel="expected")
    with pytest.raises(ValueError, match="multi-task"):
        offline.evaluate_dt(tmp_path / "run", episodes=2)
    held_out = scenarios.make("single-stage", lead_time=2, penalty=4.0)
    res = offline.evaluate_dt(tmp_path / "run", episodes=2, problem=held_out, baselines=False)
    assert res["relabel"] == "expected" and len(res["per_episode"]) == 2
    # every label is -(g* + regret) <= -g* of the cell
    g = offline.lost_sales_solution(held_out).average_cost
    assert res["achieved"] <= -g + 1e-9
    with pytest.raises(ValueError, match="lost sales"):
        offline.lost_sales_solution(scenarios.make("single-stage", shortage="backlog"))


def test_collect_and_merge_take_relative_paths(tmp_path, monkeypatch, capsys):
    """Minari's storage mis-joins relative folders; collect and merge resolve them first."""
    monkeypatch.chdir(tmp_path)
    for name in ("a", "b"):
        out = run(
            capsys,
            "collect",
            "single-stage",
            "--policy",
            "myopic",
            "--episodes",
            "2",
            "--periods",
            "5",
            "--seed",
            "1",
            "--out",
            name,
            "--json",
        )
        assert out["episodes"] == 2
    merge(["a", "b"], "mix")
    assert len(load_episodes("mix")) == 4 and not list(tmp_path.glob("*.partial"))
    # the same from the command line: episodes in order, an existing --out refused
    out = run(capsys, "merge", "a", "b", "mix", "--out", "mix3", "--json")
    assert out["episodes"] == 8 and len(load_episodes("mix3")) == 8
    assert [e.ret for e in load_episodes("mix3")[:4]] == [e.ret for e in load_episodes("mix")]
    assert "exists" in refused(capsys, "merge", "a", "--out", "mix3")
    assert "not a dataset folder" in refused(capsys, "merge", "a", "nowhere", "--out", "mix4")


def test_collaborative_collect_train_evaluate(tmp_path, capsys):
    """The CLI chain on a small collaborative problem: every decision is logged in the
    collaborative env's action space, the DT's action head is that Box, and ``evaluate``
    pairs it with the behaviours, BC and filtered BC on the same episodes."""
    small = ["--param", "n_items=2", "--param", "n_segments=2"]
    for name, extra in (("ref", []), ("noisy", ["--noise", "0.2"])):
        out = run(
            capsys,
            "collect",
            "collaborative",
            *small,
            "--policy",
            "best-collab-base-stock",
            *extra,
            "--episodes",
            "3",
            "--periods",
            "8",
            "--seed",
            "2",
            "--out",
            str(tmp_path / name),
            "--json",
        )
        assert set(out["env"]) == {"periods", "levels", "price_factor", "intensities"}
    merge([tmp_path / "ref", tmp_path / "noisy"], tmp_path / "mix")
    run(
        capsys,
        "train",
        "collaborative",
        *small,
        "--algo",
        "dt",
        "--data",
        str(tmp_path / "mix"),
        "--steps",
        "20",
        "--out",
        str(tmp_path / "run"),
        "--json",
    )
    from rl.decision_transformer import load_dt

    dt = load_dt(tmp_path / "run")
    env = offline.make_dataset_env(
        scenarios.make("collaborative", n_items=2, n_segments=2), dt.extra["env"]
    )
    assert dt.layout.box_dims == env.action_space.shape[0] == len(env.action_names)
    res = run(capsys, "evaluate", str(tmp_path / "run"), "--episodes", "3", "--json")
    names = [r["name"] for r in res["rows"]]
    assert names == [
        "dt",
        "best-collab-base-stock",
        "noisy-best-collab-base-stock",
        "bc",
        "filtered-bc",
    ]
    assert res["objective"] == "profit" and res["validation"]["seed"] != res["seed"]
    ref = [e.meta["value"] for e in load_episodes(tmp_path / "ref")]
    again = offline.evaluate_dt(tmp_path / "run", episodes=3, seed=2, validation_seed=5)
    got = next(r for r in again["rows"] if r["name"] == "best-collab-base-stock")["mean"]
    assert got == pytest.approx(np.mean(ref))  # same episodes as logged: common random numbers
    assert "--max-order does not apply" in refused(
        capsys,
        "collect",
        "collaborative",
        *small,
        "--policy",
        "random",
        "--max-order",
        "3",
        "--out",
        str(tmp_path / "z"),
    )
