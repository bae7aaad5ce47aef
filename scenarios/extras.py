"""Which optional extra a missing library belongs to, for one-line install hints.

A core install (``pip install des-supply``) simulates, evaluates, lists and optimizes
with numpy, SciPy, SimPy, networkx, Gymnasium and matplotlib; the rest comes with an
extra (pyproject ``[project.optional-dependencies]``):

==========  ==========================================================================
``rl``      PyTorch and PettingZoo: ``train``, ``compare`` (its PPO column), agents
``mip``     Pyomo and HiGHS: the network MIP bound, rolling horizon, recommendation MIP
``offline`` Minari: ``collect`` and the Decision Transformer (with ``rl``)
``ray``     Ray: ``--backend ray``, RLlib and Tune
``all``     all of the above, and pandas (``to_pandas``)
==========  ==========================================================================

Standard library only at import (the command line imports it before anything heavy).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "EXTRA_OF",
    "install_hint",
    "missing_extra",
    "optimize_failure_text",
    "optimize_failures",
    "pandas",
]

#: Top-level module -> the extra that installs it.
EXTRA_OF: dict[str, str] = {
    "torch": "rl",
    "pettingzoo": "rl",
    "pyomo": "mip",
    "highspy": "mip",
    "minari": "offline",
    "h5py": "offline",
    "ray": "ray",
    "pandas": "all",
}


def install_hint(module: str) -> str | None:
    """``needs torch (the [rl] extra): pip install "des-supply[rl]"``, or None if *module*
    belongs to no extra."""
    extra = EXTRA_OF.get(module.split(".")[0])
    if extra is None:
        return None
    return f'needs {module.split(".")[0]} (the [{extra}] extra): pip install "des-supply[{extra}]"'


def missing_extra(exc: BaseException) -> str | None:
    """The install hint when *exc* is an import of an extra's library that is not installed."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return install_hint(exc.name)
    return None


def optimize_failures() -> tuple[type[Exception], ...]:
    """What ``optimize`` raises when it cannot give an optimum that a study reports and
    goes past: no method applies (OptimizeError), the solver gave up (SolverError), or
    the method needs an extra that is not installed (ModuleNotFoundError, e.g. the
    network MIP without ``[mip]``)."""
    from optimization.errors import SolverError
    from optimization.optimize import OptimizeError

    return (OptimizeError, SolverError, ModuleNotFoundError)


def optimize_failure_text(exc: Exception) -> str:
    """One line for a study's table; an unexpected missing module is re-raised."""
    if isinstance(exc, ModuleNotFoundError):
        hint = missing_extra(exc)
        if hint is None:
            raise exc
        return f"optimize {hint}"
    return f"{type(exc).__name__}: {exc}"


def pandas() -> Any:
    """The pandas module, imported on first use (``to_pandas`` of the study tables); a
    one-line ModuleNotFoundError saying how to install it if it is missing."""
    try:
        import pandas
    except ModuleNotFoundError as exc:
        if exc.name != "pandas":
            raise
        raise ModuleNotFoundError(
            'to_pandas needs pandas: pip install pandas (or "des-supply[all]")', name="pandas"
        ) from None
    return pandas


def flat_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for a DataFrame: a ``[low, high]`` pair becomes ``<key>_low``/``<key>_high``, a
    ``[value, low, high]`` triple ``<key>``/``<key>_low``/``<key>_high``; longer lists
    (per-episode values) stay whole."""
    out = []
    for row in rows:
        flat: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, (list, tuple)) and len(value) == 2 and key.startswith("ci"):
                flat[f"{key}_low"], flat[f"{key}_high"] = value
            elif isinstance(value, (list, tuple)) and len(value) == 3 and key.startswith("vs_"):
                flat[key], flat[f"{key}_low"], flat[f"{key}_high"] = value
            else:
                flat[key] = value
        out.append(flat)
    return out
