"""Scenarios by name: each is a function with keyword parameters that builds a Network.

``register`` records a function under a name (with the builder of its market model,
decision-dependent demand, for scenarios that have one); ``make(name, **params)``
returns the :class:`~des_supply.problem.Problem`: the network, a market built from
the same parameters, the parameters themselves and the default horizon; ``parse_params`` turns command-line ``k=v`` strings into typed keyword
arguments using the function's defaults (ints, floats, bools, strings, and
comma-separated tuples).  Unknown scenarios or parameters are refused with the
list of what exists.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from des_supply.network import Network
from des_supply.problem import Problem

__all__ = [
    "ScenarioError",
    "ScenarioSpec",
    "get",
    "make",
    "make_market",
    "names",
    "parse_params",
    "register",
]


class ScenarioError(ValueError):
    """Unknown scenario or parameter, or a value of the wrong type."""


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    build: Callable[..., Network]
    summary: str
    periods: int  # a sensible default horizon for simulate (time units if continuous)
    warmup: int
    market: Callable[..., Any] | None = None  # builder of the market model, or None
    time: str = "periodic"  # the networks' clock: "periodic" or "continuous" (Network.time)

    @property
    def parameters(self) -> dict[str, Any]:
        """Parameter names with their defaults."""
        return {p.name: p.default for p in inspect.signature(self.build).parameters.values()}

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.build) or ""


_REGISTRY: dict[str, ScenarioSpec] = {}


def register(
    name: str,
    *,
    periods: int = 10_000,
    warmup: int = 100,
    market: Callable[..., Any] | None = None,
    time: str = "periodic",
) -> Callable:
    """Decorator: register a scenario function under *name*.

    *market*, if given, builds the scenario's market model: it is called with every
    parameter of the scenario function (defaults filled in) as keyword arguments.
    *time* is the clock of the networks it builds (``"continuous"``: *periods* and
    *warmup* are time units), so tools can tell without building one.
    """

    def wrap(fn: Callable[..., Network]) -> Callable[..., Network]:
        summary = (inspect.getdoc(fn) or name).splitlines()[0]
        _REGISTRY[name] = ScenarioSpec(name, fn, summary, periods, warmup, market, time)
        return fn

    return wrap


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str) -> ScenarioSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ScenarioError(f"unknown scenario {name!r} (known: {', '.join(names())})") from None


def _checked(name: str, params: dict[str, Any]) -> ScenarioSpec:
    spec = get(name)
    allowed = spec.parameters
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ScenarioError(
            f"scenario {name!r} has no parameter(s) {', '.join(map(repr, unknown))} "
            f"(parameters: {', '.join(allowed)})"
        )
    return spec


def make(name: str, **params: Any) -> Problem:
    """The problem of scenario *name* with *params* (checked against its signature)."""
    spec = _checked(name, params)
    network = spec.build(**params)
    market = None if spec.market is None else spec.market(**{**spec.parameters, **params})
    return Problem(
        network,
        market,
        name=name,
        params=params,
        periods=spec.periods,
        warmup=spec.warmup,
        source=name,
    )


def make_market(name: str, **params: Any) -> Any:
    """The market model of scenario *name* with *params*, or None if it has none.

    A new, independent object on every call (a market keeps per-run state).
    """
    return make(name, **params).market


def _convert(scenario: str, key: str, text: str, default: Any, annotation: str = "") -> Any:
    if default is None and annotation:  # e.g. "float | None": the annotation says the type
        if text.lower() == "none":
            return None
        default = 0.0 if "float" in annotation else 0 if "int" in annotation else ""
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        if isinstance(default, int):
            value = float(text)
            if not value.is_integer():
                raise ValueError(text)
            return int(value)
        if isinstance(default, float) or (default is None and _is_number(text)):
            return float(text)
        if isinstance(default, tuple):
            items = [x.strip() for x in text.split(",") if x.strip()]
            kind = type(default[0]) if default else float
            values = tuple(float(x) if kind in (int, float) else x for x in items)
            if kind is int and not all(float(v).is_integer() for v in values):
                raise ValueError(text)
            return tuple(kind(v) for v in values)
        return text
    except ValueError:
        want = (
            f"comma-separated list of {type(default[0]).__name__}"
            if isinstance(default, tuple) and default
            else type(default).__name__
            if default is not None
            else "number"
        )
        raise ScenarioError(
            f"scenario {scenario!r}: parameter {key}={text!r} is not a valid {want}"
        ) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def parse_params(name: str, pairs: Iterable[str]) -> dict[str, Any]:
    """``["lead_time=2", "penalty=9"]`` -> ``{"lead_time": 2, "penalty": 9.0}``."""
    spec = get(name)
    allowed = spec.parameters
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ScenarioError(f"parameter {pair!r} must look like key=value")
        if key not in allowed:
            raise ScenarioError(
                f"scenario {name!r} has no parameter {key!r} (parameters: {', '.join(allowed)})"
            )
        annotation = str(inspect.signature(spec.build).parameters[key].annotation)
        out[key] = _convert(name, key, text.strip(), allowed[key], annotation)
    return out
