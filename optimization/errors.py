"""The solver error, importable without Pyomo (solved policies and the CLI catch it)."""

from __future__ import annotations

__all__ = ["SolverError"]


class SolverError(RuntimeError):
    """The solver gave no usable solution; ``termination`` and ``bound`` say why."""

    def __init__(self, message: str, termination: str, bound: float | None) -> None:
        super().__init__(message)
        self.termination = termination
        self.bound = bound
