"""Shared by the tests of the Figure 2 and multi-timescale benchmark scripts: the scripts
loaded as modules, and study.json-like records of synthetic per-episode profits."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
#: Periods per synthetic episode (rows hold profit per episode = PERIODS x per period).
PERIODS = 10


def load(script: str, name: str) -> ModuleType:
    """``benchmarks/<script>.py`` as a module named *name*."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{script}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def study(seed: int, rows: dict[str, np.ndarray], eval_seed: int = 7, **settings) -> dict:
    """A study.json-like dict; *rows*: per-episode profit per period."""
    return {
        "name": "recommendation-small",
        "params": {"shortage": "lost"},
        "shortage": "lost",
        "settings": {"seed": seed, "periods": PERIODS, "steps": 100, **settings},
        "eval_seed": eval_seed,
        "rows": [
            {"name": k, "per_episode": (PERIODS * np.asarray(v)).tolist()} for k, v in rows.items()
        ],
    }
