"""Smoke tests of the RL commands: train, resume, evaluate, compare (tiny budgets), on
scenarios and on network files."""

from __future__ import annotations

import json

import shutil
from pathlib import Path

import numpy as np
import pytest

from scenarios.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "examples" / "two_echelon_stochastic.json"


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_train_resume_and_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = run(capsys, "train", "single-stage", "--param", "lead_time=1", "--steps",
                          "2048", "--out", str(out), "--json")
    assert code == 0 and json.loads(stdout)["steps"] == 2048
    assert (out / "checkpoint.pt").exists() and (out / "learning_curve.png").exists()
    code, stdout, _ = run(capsys, "train", "--resume", str(out), "--steps", "4096", "--json")
    assert code == 0 and json.loads(stdout)["steps"] == 4096
    code, stdout, _ = run(capsys, "evaluate", str(out), "--episodes", "2", "--periods", "50",
                          "--json")
    agent = json.loads(stdout)
    assert code == 0 and len(agent["per_episode"]) == 2


def test_evaluate_policy_uses_the_same_draws_as_simulate(capsys):
    code, stdout, _ = run(capsys, "evaluate", "base-stock", "--scenario", "single-stage",
                          "--policy-param", "level=15", "--episodes", "3", "--periods", "100",
                          "--seed", "4", "--json")
    ev = json.loads(stdout)
    code2, stdout2, _ = run(capsys, "simulate", "single-stage", "--policy", "base-stock",
                            "--policy-param", "level=15", "--replications", "3", "--periods",
                            "100", "--warmup", "0", "--seed", "4", "--json")
    assert code == code2 == 0
    np.testing.assert_array_equal(ev["per_episode"], json.loads(stdout2)["per_replication"])


def test_compare_writes_table_json_and_plot(tmp_path, capsys):
    out = tmp_path / "cmp"
    code, stdout, _ = run(capsys, "compare", "single-stage", "--param", "lead_time=1",
                          "--steps", "2048", "--episodes", "3", "--periods", "100",
                          "--out", str(out), "--json")
    assert code == 0
    res = json.loads(stdout)
    names = [r["name"] for r in res["rows"]]
    assert names[0] == "optimal" and "ppo" in names and "myopic" in names
    for name in ("compare.json", "compare.md", "compare.png"):
        assert (out / name).exists()
    # the trained agent in out/ppo is a run folder `evaluate` reads, on the compare's episodes
    ppo = next(r for r in res["rows"] if r["name"] == "ppo")
    code, stdout, _ = run(capsys, "evaluate", str(out / "ppo"), "--episodes", "3", "--periods",
                          "100", "--seed", str(res["eval_seed"]), "--json")
    assert code == 0
    np.testing.assert_allclose(json.loads(stdout)["per_episode"], ppo["per_episode"], rtol=1e-9)


@pytest.mark.parametrize("argv,needle", [
    (["train", "no-such"], "unknown scenario"),
    (["train", "no-such.json"], "no-such.json"),
    (["evaluate", "not-a-dir"], "not a run folder"),
    (["compare", "single-stage", "--param", "bogus=1"], "no parameter 'bogus'"),
    (["train", "single-stage", "--steps", "10"], "total_steps(=10) must be >= n_envs"),
])
def test_rl_commands_fail_with_one_line(capsys, argv, needle):
    code, _, err = run(capsys, *argv)
    assert code == 2 and needle in err and err.count("\n") == 1


def test_train_and_evaluate_a_network_file(tmp_path, capsys, monkeypatch):
    """A network file trains with the generic preset; run.json keeps the file's path and the
    network itself, so `evaluate DIR` works after the file has moved."""
    import functools

    import optimization.search as search

    # the preset's base-stock search, short (the search itself is tested in tests/optimization)
    monkeypatch.setattr(search, "search_base_stock", functools.partial(
        search.search_base_stock, periods=300, warmup=50, replications=1, refine_nodes=0,
        factors=(0.8, 1.2, 1.7)))
    net = tmp_path / "net.json"
    shutil.copy(EXAMPLE, net)
    out = tmp_path / "run"
    code, stdout, _ = run(capsys, "train", str(net), "--steps", "512", "--out", str(out), "--json")
    assert code == 0 and json.loads(stdout)["steps"] == 512
    record = json.loads((out / "run.json").read_text())
    assert record["problem"]["source"] == str(net)
    assert record["problem"]["network"]["name"] == "two-echelon-stochastic"
    assert record["spec"]["anchor"]["family"] in ("base-stock", "echelon-base-stock")
    net.unlink()
    code, stdout, _ = run(capsys, "evaluate", str(out), "--episodes", "2", "--periods", "30",
                          "--json")
    assert code == 0 and len(json.loads(stdout)["per_episode"]) == 2
