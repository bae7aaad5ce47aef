"""The command line's user-error contract, as the audit of issue 17 checked it.

Every bad input below -- across all commands -- must end with status 2 and exactly one
line on stderr that names the culprit, print nothing on stdout, and leave no file behind
(the tests run in an empty folder, so default output folders such as ``runs/`` would
show).  The cases run in-process (``main([...])``); the few that need a real process
(Ctrl-C) run as subprocesses.
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import scenarios
from scenarios.cli import main

ROOT = Path(__file__).resolve().parents[2]
BS = ["--policy", "base-stock", "--policy-param", "level=5"]
HUGE = str(10**13)


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.fixture
def place(tmp_path, monkeypatch):
    """An empty working folder with the bad files the cases name (``{x}`` in argv)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    f = tmp_path / "files"
    f.mkdir()
    (f / "utf16.json").write_bytes('{"nodes": []}'.encode("utf-16"))
    (f / "binary.json").write_bytes(b"\xff\xfe\x00\x81garbage")
    (f / "pickled").write_bytes(pickle.dumps({"nodes": []}))
    (f / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (f / "deepobject.json").write_text('{"a": ' * 100_000 + "1" + "}" * 100_000)
    (f / "zero-bytes.json").write_bytes(b"")
    (f / "blank.json").write_text(" \n\t\n")
    (f / "nul.json").write_bytes(b"\x00" * 64)
    (f / "string.json").write_text('"single-stage"')
    good = scenarios.make("single-stage").network.to_json()
    (f / "net.json.gz").write_bytes(gzip.compress(good.encode()))
    (f / "utf16bom.json").write_bytes(codecs.BOM_UTF16_LE + good.encode("utf-16-le"))
    (f / "utf32.json").write_bytes(good.encode("utf-32"))
    (f / "nan.json").write_text(good.replace('"holding_cost": 1.0', '"holding_cost": NaN'))
    (f / "infinity.json").write_text(
        good.replace('"shortage_cost": 9.0', '"shortage_cost": -Infinity')
    )
    (f / "duplicate.json").write_text(
        good.replace('"name": "stage"', '"name": "stage", "name": "s2"')
    )
    with (f / "huge.json").open("wb") as big:  # 100 MB (sparse: nothing is written)
        big.truncate(100 * 2**20)
    (f / "empty.json").write_text("")
    (f / "list.json").write_text("[]")
    (f / "null.json").write_text("null")
    (f / "number.json").write_text("5")
    (f / "nodes5.json").write_text('{"nodes": 5, "edges": []}')
    (f / "truncated.json").write_text('{"nodes": [')
    (f / "nosupplier.json").write_text(json.dumps({"nodes": [{"name": "a"}], "edges": []}))
    (f / "folder.json").mkdir()
    (f / "a-file").write_text("not a folder")
    (f / "full").mkdir()
    (f / "full" / "notes.txt").write_text("someone's files")
    scenarios.make("single-stage").network.to_json(f / "net.json")
    # run folders: one without run.json, one with a bad run.json, one without checkpoint,
    # one with a corrupt checkpoint, one whose run.json is JSON but not a run record
    (f / "norun").mkdir()
    (f / "badrun").mkdir()
    (f / "badrun" / "run.json").write_text("{not json")
    record = {
        "problem": {"scenario": "single-stage", "params": {}},
        "algo": "ppo",
        "spec": {"env": {"periods": 64}},
        "config": {"total_steps": 2048},
    }
    for name in ("nockpt", "corrupt", "pickleckpt"):
        (f / name).mkdir()
        (f / name / "run.json").write_text(json.dumps(record))
    (f / "corrupt" / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated zip")
    (f / "pickleckpt" / "checkpoint.pt").write_bytes(pickle.dumps(print))
    (f / "notrecord").mkdir()
    (f / "notrecord" / "run.json").write_text("[1, 2]")
    return work, f


def run_case(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# (argv, what the one line must contain); {f} is the folder of bad files
CASES = [
    # -- usage (argparse) -------------------------------------------------------------------------
    (["scenarios", "--bogus"], "unrecognized arguments: --bogus"),
    (["scenarios", "extra"], "unrecognized arguments: extra"),
    (["nonsense"], "invalid choice: 'nonsense'"),
    ([], "required: command"),
    (["simulate", "single-stage"], "the following arguments are required: --policy"),
    (["simulate", "single-stage", *BS, "--periods", "abc"], "--periods: invalid int value: 'abc'"),
    (["train", "single-stage", "--algo", "sac"], "--algo: invalid choice: 'sac'"),
    (["compare"], "the following arguments are required: scenario"),
    # -- policies ---------------------------------------------------------------------------------
    (["policies", "no-such"], "unknown scenario 'no-such'"),
    (["policies", "single-stage", "--param", "x=1"], "has no parameter 'x'"),
    (["policies", "{f}/utf16.json"], "{f}/utf16.json: is UTF-16 text"),
    # -- simulate: scenarios and parameters -------------------------------------------------------
    (["simulate", "no-such", *BS], "unknown scenario 'no-such'"),
    (["simulate", "single-stage", "--param", "lead_time=abc", *BS], "lead_time='abc'"),
    (["simulate", "single-stage", "--param", "speed=3", *BS], "has no parameter 'speed'"),
    (["simulate", "single-stage", "--param", "lead_time", *BS], "must look like key=value"),
    (["simulate", "single-stage", "--param", "lead_time=-1", *BS], "lead_time(=-1)"),
    (["simulate", "single-stage", "--param", "holding=-1", *BS], "holding_cost(=-1.0)"),
    (["simulate", "single-stage", "--param", "demand_mean=-5", *BS], "demand_mean"),
    (
        ["simulate", "single-stage", "--param", "demand=normal", "--param", "demand_std=-1", *BS],
        "std",
    ),
    (["simulate", "single-stage", "--param", "initial_on_hand=abc", *BS], "initial_on_hand"),
    (["simulate", "single-stage", "--param", "shortage=maybe", *BS], "shortage"),
    (["simulate", "single-stage", "--param", "demand=zipf", *BS], "zipf"),
    (["simulate", "serial", "--param", "holding=1", *BS], "holding"),
    # -- simulate: policies -----------------------------------------------------------------------
    (["simulate", "single-stage", "--policy", "nope"], "nope"),
    (["simulate", "single-stage", "--policy", "base-stock"], "needs parameter level"),
    (
        ["simulate", "single-stage", "--policy", "base-stock", "--policy-param", "level=abc"],
        "values must be numbers",
    ),
    (
        ["simulate", "single-stage", "--policy", "base-stock", "--policy-param", "level"],
        "must look like key=value",
    ),
    (
        ["simulate", "single-stage", "--policy", "base-stock", "--policy-param", "levle=3"],
        "has no parameter 'levle'",
    ),
    (
        ["simulate", "single-stage", "--policy", "base-stock", "--policy-param", "level=-3"],
        "level(=-3.0)",
    ),
    (
        ["simulate", "single-stage", "--policy", "base-stock", "--policy-param", "level=nan"],
        "finite numbers",
    ),
    (
        ["simulate", "single-stage", "--policy", "base-stock", "--policy-param", "level=inf"],
        "finite numbers",
    ),
    (
        ["simulate", "single-stage", "--policy", "base-stock", "--policy-param", "level=1e300"],
        "at most 1e+15",
    ),
    (
        [
            "simulate",
            "single-stage",
            "--policy",
            "base-stock",
            "--policy-param",
            "level=stage:3,ghost:5",
        ],
        "names node 'ghost'",
    ),
    (
        ["simulate", "single-stage", "--policy", "base-stock", "--policy-param", "level=:3"],
        "needs a node name",
    ),
    (
        [
            "simulate",
            "serial",
            "--policy",
            "echelon-base-stock",
            "--policy-param",
            "level=stage9:3",
        ],
        "names node 'stage9'",
    ),
    (["simulate", "single-stage", "--policy", "ss", "--policy-param", "s=5"], "S"),
    (
        [
            "simulate",
            "single-stage",
            "--policy",
            "base-stock",
            "--policy-param",
            "level=5",
            "--policy-param",
            "=3",
        ],
        "must look like key=value",
    ),
    # -- simulate: run settings -------------------------------------------------------------------
    (["simulate", "single-stage", *BS, "--periods", "0"], "--periods(=0) must be >= 1"),
    (["simulate", "single-stage", *BS, "--periods", "-5"], "--periods(=-5) must be >= 1"),
    (["simulate", "single-stage", *BS, "--replications", "0"], "--replications(=0)"),
    (["simulate", "single-stage", *BS, "--periods", "10", "--warmup", "10"], "--warmup(=10)"),
    (["simulate", "single-stage", *BS, "--warmup", "-1"], "--warmup(=-1)"),
    (["simulate", "single-stage", *BS, "--seed", "-1"], "--seed(=-1)"),
    (["simulate", "single-stage", *BS, "--processes", "-1"], "--processes(=-1)"),
    (["simulate", "single-stage", *BS, "--periods", HUGE], "lower --periods"),
    (
        ["simulate", "random-dag", *BS, "--periods", "200000", "--keep-ledger", "l.csv"],
        "lower --periods",
    ),
    (
        ["simulate", "single-stage", *BS, "--periods", str(10**9), "--replications", "8"],
        "8 bytes per period",
    ),
    (["simulate", "single-stage", *BS, "--keep-ledger", "l.txt"], "--keep-ledger l.txt"),
    (["simulate", "single-stage", *BS, "--keep-ledger", "missing/l.csv"], "does not exist"),
    (["simulate", "single-stage", *BS, "--keep-ledger", "{f}"], "--keep-ledger"),
    (["simulate", "single-stage", *BS, "--plot", "x.svg"], "--plot x.svg"),
    (["simulate", "single-stage", *BS, "--plot", "missing/x.png"], "does not exist"),
    (["simulate", "single-stage", *BS, "--plot", "{f}/a-file/x.png"], "does not exist"),
    (["simulate", "single-stage", *BS, "--plot", "{f}/folder.json"], "--plot"),
    # -- network files ----------------------------------------------------------------------------
    (["simulate", "{f}/utf16.json", *BS], "{f}/utf16.json: is UTF-16 text"),
    (["simulate", "{f}/binary.json", *BS], "{f}/binary.json: is binary data"),
    (["simulate", "{f}/pickled", *BS], "{f}/pickled: is binary data (a Python pickle?)"),
    (["simulate", "{f}/deep.json", *BS], "nested too deeply"),
    (["simulate", "{f}/empty.json", *BS], "empty.json"),
    (["simulate", "{f}/list.json", *BS], "list.json"),
    (["simulate", "{f}/null.json", *BS], "null.json"),
    (["simulate", "{f}/number.json", *BS], "number.json"),
    (["simulate", "{f}/nodes5.json", *BS], "nodes5.json"),
    (["simulate", "{f}/truncated.json", *BS], "not valid JSON"),
    (["simulate", "{f}/nosupplier.json", *BS], "no supplier"),
    (
        ["simulate", "{f}/missing.json", *BS],
        "cannot read network file {f}/missing.json: No such file",
    ),
    (["simulate", "{f}/folder.json", *BS], "{f}/folder.json: is a folder"),
    (["simulate", "{f}/zero-bytes.json", *BS], "{f}/zero-bytes.json: is empty"),
    (["simulate", "{f}/blank.json", *BS], "{f}/blank.json: is empty"),
    (["simulate", "{f}/nul.json", *BS], "{f}/nul.json: is binary data"),
    (["simulate", "{f}/string.json", *BS], "{f}/string.json: a network must be a JSON object"),
    (["simulate", "{f}/net.json.gz", *BS], "{f}/net.json.gz: is gzip-compressed"),
    (["simulate", "{f}/utf16bom.json", *BS], "{f}/utf16bom.json: is UTF-16 text"),
    (["simulate", "{f}/utf32.json", *BS], "{f}/utf32.json: is UTF-32 text"),
    (["simulate", "{f}/nan.json", *BS], "{f}/nan.json: not valid JSON: NaN is not a JSON number"),
    (["simulate", "{f}/infinity.json", *BS], "{f}/infinity.json: not valid JSON: -Infinity"),
    (["simulate", "{f}/duplicate.json", *BS], "{f}/duplicate.json: not valid JSON: key 'name'"),
    (["simulate", "{f}/deepobject.json", *BS], "{f}/deepobject.json: JSON nested too deeply"),
    (["simulate", "{f}/huge.json", *BS], "{f}/huge.json: 100.0 MiB, larger than any network"),
    (["optimize", "{f}/net.json.gz"], "{f}/net.json.gz: is gzip-compressed"),
    (["train", "{f}/nan.json"], "{f}/nan.json: not valid JSON"),
    (["compare", "{f}/huge.json"], "{f}/huge.json: 100.0 MiB"),
    (["policies", "{f}/duplicate.json"], "{f}/duplicate.json: not valid JSON"),
    (
        ["simulate", "{f}/net.json", "--param", "lead_time=1", *BS],
        "--param applies to named scenarios",
    ),
    (
        ["simulate", "{f}/net.json", "--policy", "base-stock", "--policy-param", "level=ghost:1"],
        "names node 'ghost'",
    ),
    # -- optimize ---------------------------------------------------------------------------------
    (["optimize", "no-such"], "unknown scenario 'no-such'"),
    (["optimize", "single-stage", "--param", "bogus=1"], "no parameter 'bogus'"),
    (["optimize", "{f}/utf16.json"], "{f}/utf16.json: is UTF-16 text"),
    (["optimize", "{f}/deep.json"], "nested too deeply"),
    (["optimize", "single-stage", "--verify", "--periods", "100"], "--periods(=100)"),
    (["optimize", "single-stage", "--periods", "0"], "--periods(=0)"),
    (["compare", "collaborative", "--dt-data", "{f}/nowhere"], "is not a dataset folder"),
    (["optimize", "single-stage", "--replications", "0"], "--replications(=0)"),
    (["optimize", "single-stage", "--seed", "-2"], "--seed(=-2)"),
    (["optimize", "single-stage", "--processes", "-1"], "--processes(=-1)"),
    (["optimize", "single-stage", "--verify", "--periods", HUGE], "lower --periods"),
    (["optimize", "pricing-a", "--param", "storage_capacity=5000"], "storage_capacity"),
    (["optimize", "serial", "--param", "demand_mean=1000000"], "demand_mean"),
    (
        ["optimize", "single-stage", "--param", "shortage=backlog", "--param", "demand_mean=1e9"],
        "demand mean",
    ),
    (
        ["optimize", "single-stage", "--param", "demand=geometric", "--param", "demand_mean=1e8"],
        "demand mean",
    ),
    # -- train ------------------------------------------------------------------------------------
    (["train"], "train needs a SCENARIO"),
    (["train", "no-such"], "unknown scenario"),
    (["train", "no-such.json"], "no-such.json"),
    (["train", "{f}/utf16.json"], "{f}/utf16.json: is UTF-16 text"),
    (["train", "single-stage", "--param", "bogus=1"], "no parameter 'bogus'"),
    (["train", "single-stage", "--steps", "0"], "--steps(=0)"),
    (["train", "single-stage", "--steps", "-5"], "--steps(=-5)"),
    (["train", "single-stage", "--steps", "10"], "total_steps(=10)"),
    (["train", "single-stage", "--seed", "-1"], "--seed(=-1)"),
    (["train", "single-stage", "--out", "{f}/a-file"], "is a file"),
    (["train", "single-stage", "--out", "{f}/a-file/run"], "is a file"),
    (["train", "single-stage", "--out", "{f}/full"], "not empty"),
    (["train", "single-stage", "--out", "{f}/full", "--overwrite"], "replaces only a run folder"),
    (["train", "single-stage", "--out", "{f}/nockpt"], "--resume DIR to continue it"),
    (["train", "--resume", "{f}/missing"], "no readable run.json"),
    (["train", "--resume", "{f}/norun"], "no readable run.json"),
    (["train", "--resume", "{f}/badrun"], "no readable run.json"),
    (["train", "--resume", "{f}/notrecord"], "not a run record"),
    (["train", "--resume", "{f}/nockpt"], "no checkpoint"),
    (["train", "--resume", "{f}/corrupt"], "not a readable checkpoint"),
    (["train", "--resume", "{f}/pickleckpt"], "not a readable checkpoint"),
    (["train", "single-stage", "--resume", "{f}/nockpt"], "drop SCENARIO"),
    (["train", "--resume", "{f}/nockpt", "--seed", "3"], "drop --seed"),
    (["train", "--resume", "{f}/nockpt", "--out", "elsewhere"], "drop --out"),
    (["train", "--resume", "{f}/nockpt", "--param", "lead_time=1"], "drop --param"),
    (["train", "--resume", "{f}/nockpt", "--steps", "0"], "--steps(=0)"),
    # -- evaluate ---------------------------------------------------------------------------------
    (["evaluate", "not-a-dir"], "not a run folder"),
    (["evaluate", "{f}/norun"], "no readable run.json"),
    (["evaluate", "{f}/badrun"], "no readable run.json"),
    (["evaluate", "{f}/notrecord"], "not a run record"),
    (["evaluate", "{f}/nockpt"], "no checkpoint"),
    (["evaluate", "{f}/corrupt"], "not a readable checkpoint"),
    (["evaluate", "{f}/nockpt", "--scenario", "serial"], "drop --scenario"),
    (["evaluate", "{f}/nockpt", "--episodes", "0"], "--episodes(=0)"),
    (
        [
            "evaluate",
            "base-stock",
            "--scenario",
            "single-stage",
            "--policy-param",
            "level=3",
            "--episodes",
            "0",
        ],
        "--episodes(=0)",
    ),
    (
        [
            "evaluate",
            "base-stock",
            "--scenario",
            "single-stage",
            "--policy-param",
            "level=3",
            "--periods",
            "0",
        ],
        "--periods(=0)",
    ),
    (
        [
            "evaluate",
            "base-stock",
            "--scenario",
            "single-stage",
            "--policy-param",
            "level=3",
            "--seed",
            "-1",
        ],
        "--seed(=-1)",
    ),
    (["evaluate", "base-stock", "--scenario", "no-such"], "unknown scenario"),
    (["evaluate", "nope", "--scenario", "single-stage"], "nope"),
    (
        ["evaluate", "base-stock", "--scenario", "single-stage", "--policy-param", "level=x"],
        "values must be numbers",
    ),
    (
        [
            "evaluate",
            "base-stock",
            "--scenario",
            "single-stage",
            "--policy-param",
            "level=3",
            "--periods",
            HUGE,
        ],
        "lower --periods",
    ),
    # -- compare ----------------------------------------------------------------------------------
    (["compare", "no-such"], "unknown scenario"),
    (["compare", "single-stage", "--param", "bogus=1"], "no parameter 'bogus'"),
    (["compare", "single-stage", "--episodes", "0"], "--episodes(=0)"),
    (["compare", "single-stage", "--periods", "0"], "--periods(=0)"),
    (["compare", "single-stage", "--steps", "0"], "--steps(=0)"),
    (["compare", "single-stage", "--steps", "10"], "--steps"),
    (["compare", "serial", "--steps", "10"], "total_steps(=10)"),
    (["train", "serial", "--steps", "10"], "total_steps(=10)"),
    (["compare", "single-stage", "--seed", "-1"], "--seed(=-1)"),
    (["compare", "single-stage", "--processes", "-1"], "--processes(=-1)"),
    (["compare", "single-stage", "serial", "--param", "lead_time=1"], "--param applies to one"),
    (["compare", "single-stage", "recommendation-small"], "on its own"),
    (["compare", "single-stage", "--out", "{f}/a-file"], "is a file"),
    (["compare", "single-stage", "--out", "{f}/full"], "not empty"),
    (["compare", "single-stage", "--out", "{f}/full", "--overwrite"], "replaces only a run folder"),
    (["compare", "single-stage", "--periods", HUGE], "lower --periods"),
    (["compare", "{f}/deep.json"], "nested too deeply"),
    # -- sweep ------------------------------------------------------------------------------------
    (["sweep", "{f}/net.json", "--grid", "lead_time=1,2"], "is a network file"),
    (["sweep", "no-such", "--grid", "lead_time=1,2"], "unknown scenario 'no-such'"),
    (["sweep", "single-stage", "--grid", "speed=1,2"], "no parameter 'speed'"),
]


@pytest.mark.parametrize("argv, needle", CASES, ids=[" ".join(a)[:70] for a, _ in CASES])
def test_bad_input_exits_2_with_one_line_and_no_files(place, capsys, argv, needle):
    work, files = place
    argv = [a.replace("{f}", str(files)) for a in argv]
    before = _files(work.parent)
    code, out, err = run_case(capsys, argv)
    lines = err.splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("des-supply: error: "), err
    assert needle.replace("{f}", str(files)) in lines[0], lines[0]
    assert out == ""
    assert _files(work.parent) == before  # nothing written, nothing removed


def test_there_are_at_least_100_cases_over_every_command():
    assert len(CASES) >= 100
    commands = {a[0] for a, _ in CASES if a}
    assert commands == {
        "scenarios",
        "policies",
        "simulate",
        "optimize",
        "train",
        "evaluate",
        "compare",
        "sweep",
        "nonsense",
    }


def test_memory_limit_comes_from_the_environment(place, capsys, monkeypatch):
    """The documented way to raise (or lower) the limit: DES_SUPPLY_MEMORY_LIMIT."""
    argv = ["simulate", "single-stage", *BS, "--periods", "20000", "--replications", "1"]
    argv += ["--keep-ledger", "ledger.csv"]  # a full ledger: 390 bytes per node-period
    monkeypatch.setenv("DES_SUPPLY_MEMORY_LIMIT", "1MiB")
    code, _, err = run_case(capsys, argv)
    assert code == 2 and "over the memory limit 1.0 MiB" in err and "at most 1,344" in err
    monkeypatch.setenv("DES_SUPPLY_MEMORY_LIMIT", "lots")
    code, _, err = run_case(capsys, argv)
    assert code == 2 and "DES_SUPPLY_MEMORY_LIMIT" in err and err.count("\n") == 1
    monkeypatch.setenv("DES_SUPPLY_MEMORY_LIMIT", "64MiB")
    assert run_case(capsys, argv)[0] == 0


# -- Ctrl-C: a real process, a real SIGINT --------------------------------------------------------
def _interrupt(argv: list[str], cwd: Path, marker: str) -> tuple[int, str, list[str]]:
    """Run ``des-supply argv``, send Ctrl-C once *marker* shows on its stderr (progress lines
    every update: the work has started, however busy the machine), return (status, stdout,
    stderr lines that are not progress)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DES_SUPPLY_PROGRESS_INTERVAL": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scenarios.cli", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            if marker in line:
                seen.set()
        seen.set()  # closed: the process ended

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert seen.wait(timeout=600), lines
    assert proc.poll() is None, (proc.returncode, lines)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    proc.wait(timeout=120)
    reader.join(timeout=60)
    assert proc.stdout is not None
    out = proc.stdout.read()  # a few lines at most: the pipe never filled
    return proc.returncode, out, [line for line in lines if marker.split(":")[0] not in line]


def test_ctrl_c_during_simulate_is_one_line_and_status_130(tmp_path):
    code, out, err = _interrupt(
        [
            "simulate",
            "single-stage",
            *BS,
            "--periods",
            "1000000",
            "--replications",
            "1",
            "--plot",
            str(tmp_path / "x.png"),
        ],
        tmp_path,
        marker="replications:",
    )
    assert code == 130, err
    assert err == ["des-supply: interrupted"] and out == ""
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_train_keeps_the_checkpoint_or_nothing(tmp_path):
    """Before the first checkpoint nothing is left; after it the run can be resumed.  The
    signal is sent once training shows progress (not after a fixed sleep)."""
    out_dir = tmp_path / "runs"
    code, out, err = _interrupt(
        ["train", "single-stage", "--steps", "2000000", "--out", str(out_dir)],
        tmp_path,
        marker="step/s",
    )
    assert code == 130 and out == "", (code, out, err)
    assert len(err) == 1 and err[0].startswith("des-supply: interrupted"), err
    if (out_dir / "checkpoint.pt").exists():
        assert err == [
            f"des-supply: interrupted (resume with: des-supply train --resume {out_dir})"
        ]
    else:
        assert list(tmp_path.iterdir()) == []


def test_ctrl_c_with_worker_processes_is_one_line_and_stops_them(tmp_path):
    """The workers leave Ctrl-C to the command, which stops them: no traceback per worker,
    no worker left running."""
    code, out, err = _interrupt(
        ["simulate", "serial", *BS, "--periods", "300000", "--replications", "4"]
        + ["--backend", "processes", "--workers", "2", "--seed", "8642097"],
        tmp_path,
        marker="replications:",
    )
    assert code == 130 and out == "" and err == ["des-supply: interrupted"], (code, err)
    # forked workers carry the command's arguments: none may outlive it
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "8642097" not in ps, ps
