"""Smoke tests of the RL commands: train, resume, evaluate, compare (tiny budgets), on
scenarios and on network files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from scenarios.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "scenarios" / "examples" / "two_echelon_stochastic.json"


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_train_resume_and_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = run(
        capsys,
        "train",
        "single-stage",
        "--param",
        "lead_time=1",
        "--steps",
        "2048",
        "--out",
        str(out),
        "--json",
    )
    assert code == 0 and json.loads(stdout)["steps"] == 2048
    assert (out / "checkpoint.pt").exists() and (out / "learning_curve.png").exists()
    code, stdout, _ = run(capsys, "train", "--resume", str(out), "--steps", "4096", "--json")
    assert code == 0 and json.loads(stdout)["steps"] == 4096
    code, stdout, _ = run(
        capsys, "evaluate", str(out), "--episodes", "2", "--periods", "50", "--json"
    )
    agent = json.loads(stdout)
    assert code == 0 and len(agent["per_episode"]) == 2


def test_train_keeps_and_evaluate_uses_the_best_policy_at_lead_time_4(tmp_path, capsys):
    """The L = 4 lost-sales preset keeps the best policy (PPOConfig.select_every): train
    writes best.pt and best.json, and evaluate DIR runs best.pt (without it, it says so)."""
    out = tmp_path / "run"
    argv = ["train", "single-stage", "--param", "lead_time=4", "--param", "penalty=9"]
    code, stdout, _ = run(capsys, *argv, "--steps", "4096", "--out", str(out), "--json")
    assert code == 0 and json.loads(stdout)["steps"] == 4096
    best = json.loads((out / "best.json").read_text())
    assert best["iteration"] in (0, 2) and best["episodes"] == 128 and best["seed"] == 30_000
    assert json.loads(stdout)["selected"]["iteration"] == best["iteration"]
    code, stdout, _ = run(capsys, *argv, "--steps", "4096", "--out", str(out), "--overwrite")
    assert code == 0 and f"iteration {best['iteration']} of 2" in stdout, stdout
    evaluate = ["evaluate", str(out), "--episodes", "2", "--periods", "50", "--json"]
    code, stdout, _ = run(capsys, *evaluate)
    assert code == 0 and len(json.loads(stdout)["per_episode"]) == 2
    (out / "best.pt").unlink()
    code, _, stderr = run(capsys, *evaluate)
    assert code != 0 and "no best policy" in stderr


def test_train_says_when_the_steps_asked_end_mid_rollout(tmp_path, capsys):
    """PPO trains whole rollouts: a budget that ends inside one says so with the numbers."""
    argv = ["train", "single-stage", "--param", "lead_time=1", "--steps", "3000"]
    code, stdout, _ = run(capsys, *argv, "--out", str(tmp_path / "run"))
    assert code == 0
    assert "single-stage lead_time=1 for 2,048 steps (3,000 asked: whole rollouts of 2,048)" in (
        stdout
    )


def test_train_engine_flag_sets_ppo_config_engine(tmp_path, capsys):
    """--engine batch trains on the batch engine (recorded in run.json and by the runner in
    config.json) and, on single stage, gives the event engine's checkpoint bit for bit;
    --engine is refused with --resume (the run keeps its engine) and with --algo dt."""
    from rl.ppo import ENGINES
    from scenarios.cli import PPO_ENGINES

    assert sorted(PPO_ENGINES) == sorted(ENGINES)
    runs = {}
    for engine in ("batch", "event"):
        out = tmp_path / engine
        argv = ["train", "single-stage", "--param", "lead_time=1", "--steps", "2048"]
        code, _, _ = run(capsys, *argv, "--engine", engine, "--out", str(out), "--json")
        assert code == 0
        assert json.loads((out / "run.json").read_text())["config"]["engine"] == engine
        assert json.loads((out / "config.json").read_text())["engine"] == engine
        runs[engine] = torch.load(out / "checkpoint.pt", weights_only=False)["agent"]
    for name, tensor in runs["batch"].items():
        assert torch.equal(tensor, runs["event"][name]), name
    code, _, err = run(capsys, "train", "--resume", str(tmp_path / "batch"), "--engine", "event")
    assert code != 0 and "--engine" in err
    code, _, err = run(capsys, "train", "single-stage", "--algo", "dt", "--engine", "batch")
    assert code != 0 and "--engine" in err
    code, _, err = run(capsys, "train", "single-stage", "--engine", "fast")
    assert code != 0 and "invalid choice: 'fast'" in err


def test_evaluate_policy_uses_the_same_draws_as_simulate(capsys):
    code, stdout, _ = run(
        capsys,
        "evaluate",
        "base-stock",
        "--scenario",
        "single-stage",
        "--policy-param",
        "level=15",
        "--episodes",
        "3",
        "--periods",
        "100",
        "--seed",
        "4",
        "--json",
    )
    ev = json.loads(stdout)
    code2, stdout2, _ = run(
        capsys,
        "simulate",
        "single-stage",
        "--policy",
        "base-stock",
        "--policy-param",
        "level=15",
        "--replications",
        "3",
        "--periods",
        "100",
        "--warmup",
        "0",
        "--seed",
        "4",
        "--json",
    )
    assert code == code2 == 0
    np.testing.assert_array_equal(ev["per_episode"], json.loads(stdout2)["per_replication"])


def test_compare_writes_table_json_and_plot(tmp_path, capsys):
    out = tmp_path / "cmp"
    code, stdout, _ = run(
        capsys,
        "compare",
        "single-stage",
        "--param",
        "lead_time=1",
        "--steps",
        "2048",
        "--episodes",
        "3",
        "--periods",
        "100",
        "--engine",
        "batch",
        "--out",
        str(out),
        "--json",
    )
    assert code == 0
    res = json.loads(stdout)
    # --engine reaches PPO's config (single stage trains the same checkpoint on either engine)
    assert json.loads((out / "ppo" / "run.json").read_text())["config"]["engine"] == "batch"
    names = [r["name"] for r in res["rows"]]
    assert names[0] == "optimal" and "ppo" in names and "myopic" in names
    for name in ("compare.json", "compare.md", "compare.png"):
        assert (out / name).exists()
    # the trained agent in out/ppo is a run folder `evaluate` reads, on the compare's episodes
    ppo = next(r for r in res["rows"] if r["name"] == "ppo")
    code, stdout, _ = run(
        capsys,
        "evaluate",
        str(out / "ppo"),
        "--episodes",
        "3",
        "--periods",
        "100",
        "--seed",
        str(res["eval_seed"]),
        "--json",
    )
    assert code == 0
    np.testing.assert_allclose(json.loads(stdout)["per_episode"], ppo["per_episode"], rtol=1e-9)


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["train", "no-such"], "unknown scenario"),
        (["train", "no-such.json"], "no-such.json"),
        (["evaluate", "not-a-dir"], "not a run folder"),
        (["compare", "single-stage", "--param", "bogus=1"], "no parameter 'bogus'"),
        (["train", "single-stage", "--steps", "10"], "total_steps(=10) must be >= n_envs"),
        (["compare", "recommendation-small", "--engine", "batch"], "recommendation envs"),
    ],
)
def test_rl_commands_fail_with_one_line(capsys, argv, needle):
    code, _, err = run(capsys, *argv)
    assert code == 2 and needle in err and err.count("\n") == 1


def test_train_and_evaluate_a_network_file(tmp_path, capsys, monkeypatch):
    """A network file trains with the generic preset; run.json keeps the file's path and the
    network itself, so `evaluate DIR` works after the file has moved."""
    import functools

    import optimization.search as search

    # the preset's base-stock search, short (the search itself is tested in tests/optimization)
    monkeypatch.setattr(
        search,
        "search_base_stock",
        functools.partial(
            search.search_base_stock,
            periods=300,
            warmup=50,
            replications=1,
            refine_nodes=0,
            factors=(0.8, 1.2, 1.7),
        ),
    )
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
    code, stdout, _ = run(
        capsys, "evaluate", str(out), "--episodes", "2", "--periods", "30", "--json"
    )
    assert code == 0 and len(json.loads(stdout)["per_episode"]) == 2


# -- runs are never lost or silently replaced -----------------------------------------------------
TINY = ["train", "single-stage", "--param", "lead_time=1", "--steps", "512", "--json"]


def test_an_existing_run_is_refused_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    assert run(capsys, *TINY, "--out", str(out))[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    code, stdout, err = run(capsys, *TINY, "--seed", "2", "--out", str(out))
    assert code == 2 and stdout == "" and "--overwrite" in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    code, stdout, _ = run(capsys, *TINY, "--seed", "2", "--out", str(out), "--overwrite")
    assert code == 0 and json.loads(stdout)["seed"] == 2
    assert json.loads((out / "run.json").read_text())["config"]["seed"] == 2


def test_default_run_names_do_not_collide(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = json.loads(run(capsys, *TINY)[1])["out"]
    second = json.loads(run(capsys, *TINY)[1])["out"]
    assert first == "runs/single-stage__ppo__1" and second == "runs/single-stage__ppo__1-2"
    assert (tmp_path / first / "checkpoint.pt").exists()
    assert (tmp_path / second / "checkpoint.pt").exists()


_SLOW_CHECKPOINTS = """
import dataclasses, sys, time
import rl.ppo as ppo
import scenarios.presets as presets
with_steps, save = presets.with_steps, ppo.save_checkpoint
# a checkpoint every iteration, and a pause after each one to be killed in
presets.with_steps = lambda c, s: dataclasses.replace(with_steps(c, s), checkpoint_interval=1)
ppo.save_checkpoint = lambda state, out: (save(state, out), time.sleep({pause}))
from scenarios.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _cli(argv, pause=0.0):
    """``des-supply argv`` in a fresh process (checkpoints every iteration, *pause* s after)."""
    return subprocess.Popen(
        [sys.executable, "-c", _SLOW_CHECKPOINTS.format(pause=pause), *argv],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_kill_and_resume_without_steps_gives_the_uninterrupted_checkpoint(tmp_path):
    """SIGKILL a run after its second checkpoint; `train --resume DIR` alone (no --steps)
    continues to the run's own target and ends on the same checkpoint, bit for bit.  Every
    run is a fresh process, as a user's would be."""
    argv = ["train", "single-stage", "--param", "lead_time=1", "--steps", "8192", "--json"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    ref = _cli([*argv, "--out", str(whole)])
    assert ref.wait(timeout=600) == 0, ref.communicate()
    proc = _cli([*argv, "--out", str(killed)], pause=2.0)
    deadline, iteration = time.monotonic() + 600, 0
    while time.monotonic() < deadline and iteration < 2 and proc.poll() is None:
        time.sleep(0.1)
        try:
            iteration = torch.load(killed / "checkpoint.pt", weights_only=True)["iteration"]
        except (FileNotFoundError, RuntimeError, EOFError):
            continue
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert 2 <= iteration < 4 and proc.returncode == -signal.SIGKILL, (iteration, proc.returncode)
    resumed = _cli(["train", "--resume", str(killed), "--json"])
    stdout, stderr = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, stderr
    assert json.loads(stdout)["steps"] == 8192
    a = torch.load(whole / "checkpoint.pt", weights_only=True)
    b = torch.load(killed / "checkpoint.pt", weights_only=True)
    assert a["global_step"] == b["global_step"] == 8192
    assert a["agent"].keys() == b["agent"].keys()
    for key in a["agent"]:
        assert torch.equal(a["agent"][key], b["agent"][key]), key
    assert json.loads((killed / "run.json").read_text())["config"]["total_steps"] == 8192


def test_resume_with_new_steps_records_them(tmp_path, capsys):
    out = tmp_path / "run"
    assert run(capsys, *TINY, "--out", str(out))[0] == 0
    code, stdout, _ = run(capsys, "train", "--resume", str(out), "--steps", "1024", "--json")
    assert code == 0 and json.loads(stdout)["steps"] == 1024
    assert json.loads((out / "run.json").read_text())["config"]["total_steps"] == 1024
    code, stdout, _ = run(capsys, "train", "--resume", str(out), "--json")  # its own target
    assert code == 0 and json.loads(stdout)["steps"] == 1024


def test_a_resume_that_fails_rewrites_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert run(capsys, *TINY, "--out", str(out))[0] == 0
    (out / "checkpoint.pt").write_bytes(b"not a checkpoint")
    before = (out / "run.json").read_bytes()
    code, _, err = run(capsys, "train", "--resume", str(out), "--steps", "4096")
    assert code == 2 and "not a readable checkpoint" in err and err.count("\n") == 1
    assert (out / "run.json").read_bytes() == before
