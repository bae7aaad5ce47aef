"""Types as part of the tests: mypy, configured in pyproject.toml ([tool.mypy]).

The packages mypy checks, its options and the third-party modules it may not find types
for are all in pyproject.toml, so ``python -m mypy`` (no arguments) here and at a
terminal check the same thing.  mypy keeps its incremental cache in ``.mypy_cache``: a
cold run takes about a minute, a warm one a few seconds.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("des_supply", "optimization", "rl", "scenarios")


def test_mypy_is_clean():
    out = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    # every module of the four packages was checked (not, say, one package of them; mypy
    # also counts scenarios/examples, a folder of JSON files, as a namespace package)
    modules = sum(len(list((ROOT / p).rglob("*.py"))) for p in PACKAGES)
    checked = re.search(r"Success: no issues found in (\d+) source files", out.stdout)
    assert checked is not None, out.stdout + out.stderr
    assert int(checked.group(1)) >= modules, out.stdout
