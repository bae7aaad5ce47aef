"""A benchmark script given an input file that is not there ends in one line naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "script, args",
    [
        ("figure1.py", ["--report", "{missing}"]),
        ("figure2.py", ["--report", "{missing}"]),
        ("multi_timescale.py", ["report", "--group", "a={missing}", "--reference", "x"]),
        ("zipkin_ppo.py", ["--report", "{missing}"]),
        ("ppo_networks.py", ["--table", "{missing}"]),
        ("network_mip_compare.py", ["--before", "{missing}", "--after", "{missing}"]),
    ],
)
def test_a_missing_input_file_is_one_line(script, args, tmp_path):
    missing = str(tmp_path / "no-such.json")
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script)]
        + [a.format(missing=missing) for a in args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 1
    assert out.stderr.strip() == f"{script}: no such file: {missing}"
