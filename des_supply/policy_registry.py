"""One registry of runnable policies: every name a results table prints can be built and run.

An entry is a name, a builder ``build(problem, params) -> Policy``, a one-line summary,
the parameters it takes (:class:`Param`: required or optional, one number or one per
deciding node) and optionally ``applies(problem) -> str | None``, the reason it does
not apply to a problem (a pricing rule on a problem without a pricing market).

:func:`make_policy` checks everything before building, and every refusal is a
:class:`PolicyError` (a ``ValueError``) with one line naming the policy and what is
wrong: an unknown policy (with the known names), an unknown or missing parameter (with
the allowed ones), a value that is not a number, and per-node values that name a node
the network does not have or one that does not decide (a supplier), or that leave a
deciding node out.

>>> from des_supply import Edge, Network, Node, Poisson
>>> net = Network(nodes=(Node("s", kind="supply"), Node("store", holding_cost=1,
...                      shortage_cost=9, demand=Poisson(5))),
...               edges=(Edge("s", "store", lead_time=2),))
>>> make_policy("base-stock", net, {"level": {"store": 20}})
BaseStock(level={'store': 20.0})
>>> make_policy("base-stock", net, {"level": {"store": 20, "ghost": 5}})
Traceback (most recent call last):
...
des_supply.policy_registry.PolicyError: policy 'base-stock': level names node 'ghost', which the network 'network' does not have (deciding nodes: store)

Who registers what: the engine's families (:mod:`des_supply.policies`), the pricing
rules (:mod:`des_supply.pricing_policies`), the recommendation rules
(:mod:`des_supply.recommendation_policies`) and the dual-sourcing families
(:mod:`des_supply.sourcing_policies`) register themselves and are always
available; the *solved* policies ("optimal", "best-base-stock", "myopic", ...: built by
running the optimizer on the problem) are registered by importing
:mod:`optimization.policies`, since the engine does not import the optimizers.
"""

from __future__ import annotations

import importlib
import math
import numbers
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .network import Network
    from .policies import Policy
    from .problem import Problem

__all__ = [
    "GROUPS",
    "Param",
    "PolicyEntry",
    "PolicyError",
    "deciding_nodes",
    "make_policy",
    "policy_entry",
    "policy_names",
    "register_policy",
]

#: Groups of entries, in the order :func:`policy_names` lists them.
GROUPS = ("family", "sourcing", "pricing", "recommendation", "collaborative", "solved")

#: The modules that register the engine's own policies (imported on first lookup).
_BUILTIN = (
    "des_supply.policies",
    "des_supply.pricing_policies",
    "des_supply.recommendation_policies",
    "des_supply.sourcing_policies",
    "des_supply.collaborative_policies",
)
_SOLVED_MODULE = "optimization.policies"


class PolicyError(ValueError):
    """A policy that cannot be built: unknown name, bad parameters, or not for this problem."""


@dataclass(frozen=True, slots=True)
class Param:
    """A parameter of a registered policy.

    ``per_node``: a mapping node -> number is accepted (it must give every deciding node
    of the problem's network a value, and name no other node); a plain number applies to
    every deciding node either way.  ``required=False``: the builder has a default
    (``default`` describes it for listings; the builder applies it).  ``aliases``: other
    names accepted for it (the builder gets ``name``; giving both is refused).
    """

    name: str
    summary: str = ""
    required: bool = True
    per_node: bool = True
    default: Any = None
    aliases: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "summary": self.summary,
            "required": self.required,
            "per_node": self.per_node,
            "default": self.default,
            "aliases": list(self.aliases),
        }


@dataclass(frozen=True)
class PolicyEntry:
    """A registered policy (see :func:`register_policy`)."""

    name: str
    build: Callable[[Problem, dict[str, Any]], Policy]
    summary: str
    params: tuple[Param, ...] = ()
    applies: Callable[[Problem], str | None] | None = None
    group: str = "family"
    family: type | None = None  # the class it builds, when there is one

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.required)

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if not p.required)

    def reason(self, problem: Problem) -> str | None:
        """Why this policy does not apply to *problem* (None when it does)."""
        return None if self.applies is None else self.applies(problem)

    def usage(self) -> str:
        """``"ss s=<per node> S=<per node>"``: the parameters as a command line takes them."""
        parts = [self.name]
        for p in self.params:
            text = f"{p.name}=<{'number or node:number,...' if p.per_node else 'number'}>"
            parts.append(text if p.required else f"[{text}]")
        return " ".join(parts)

    def describe(self) -> dict[str, Any]:
        """Plain data for listings (``des-supply policies --json``)."""
        return {
            "name": self.name,
            "summary": self.summary,
            "group": self.group,
            "params": [p.describe() for p in self.params],
        }


_REGISTRY: dict[str, PolicyEntry] = {}
_loading = False
_loaded = False


def _load_builtin() -> None:
    """Import the modules that register the engine's policies (once; re-entrant safe)."""
    global _loading, _loaded
    if _loaded or _loading:
        return
    _loading = True
    try:
        for module in _BUILTIN:
            importlib.import_module(module)
        _loaded = True
    finally:
        _loading = False


def register_policy(
    name: str,
    build: Callable[[Problem, dict[str, Any]], Policy],
    *,
    summary: str,
    params: tuple[Param, ...] | list[Param] = (),
    applies: Callable[[Problem], str | None] | None = None,
    group: str = "family",
    family: type | None = None,
) -> PolicyEntry:
    """Register *build* under *name*; a name is registered once (a second time is refused).

    ``build(problem, params)`` gets the problem and the checked parameters (numbers as
    floats, per-node mappings as ``{node: float}`` covering exactly the deciding nodes)
    and returns a policy; it may raise ``ValueError`` for a bad value (reported as a
    :class:`PolicyError` naming the policy).
    """
    _load_builtin()
    if not isinstance(name, str) or not name or name != name.strip() or " " in name:
        raise PolicyError(f"policy name {name!r} must be a non-empty word")
    if name in _REGISTRY:
        raise PolicyError(f"policy {name!r} is already registered ({_REGISTRY[name].summary})")
    if not callable(build):
        raise PolicyError(f"policy {name!r}: build must be callable, got {build!r}")
    if group not in GROUPS:
        raise PolicyError(f"policy {name!r}: group(={group!r}) must be one of {', '.join(GROUPS)}")
    params = tuple(params)
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise PolicyError(f"policy {name!r}: parameter names repeat ({', '.join(names)})")
    entry = PolicyEntry(
        name,
        build,
        summary.strip().splitlines()[0] if summary.strip() else name,
        params,
        applies,
        group,
        family,
    )
    _REGISTRY[name] = entry
    return entry


def _known_hint() -> str:
    hint = f"known: {', '.join(_ordered(_REGISTRY.values())) or 'none'}"
    if _SOLVED_MODULE not in sys.modules:
        hint += (
            f"; solved policies such as 'optimal' and 'best-base-stock' are registered "
            f"by importing {_SOLVED_MODULE}"
        )
    return hint


def policy_entry(name: str) -> PolicyEntry:
    """The entry of *name*; an unknown name is a :class:`PolicyError` listing the known ones."""
    _load_builtin()
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise PolicyError(f"unknown policy {name!r} ({_known_hint()})") from None


def _ordered(entries: Any) -> list[str]:
    rank = {g: i for i, g in enumerate(GROUPS)}
    return [e.name for e in sorted(entries, key=lambda e: (rank.get(e.group, len(GROUPS)), e.name))]


def policy_names(problem: Problem | Network | None = None) -> list[str]:
    """Registered names (by group: families, pricing, recommendation, solved; then by name);
    with *problem*, only those that apply to it (solved policies are listed whenever their
    ``applies`` cannot rule them out: whether the optimizer produces one is known only
    after solving)."""
    _load_builtin()
    entries = list(_REGISTRY.values())
    if problem is not None:
        p = _problem(problem)
        entries = [e for e in entries if e.reason(p) is None]
    return _ordered(entries)


def deciding_nodes(network: Network) -> tuple[str, ...]:
    """The nodes that decide (place orders) in *network*: its stocking nodes."""
    return tuple(n.name for n in network.stock_nodes)


def make_policy(
    name: str, problem: Problem | Network, params: Mapping[str, Any] | None = None
) -> Policy:
    """Build the policy registered as *name* for *problem* with *params*.

    *problem* is a :class:`~des_supply.problem.Problem` (a Network is one without a
    market).  Raises :class:`PolicyError` when the name is unknown, the policy does not
    apply to the problem, or a parameter is unknown, missing or bad.
    """
    entry = policy_entry(name)
    p = _problem(problem)
    reason = entry.reason(p)
    if reason is not None:
        raise PolicyError(f"policy {name!r} does not apply to problem {p.name!r}: {reason}")
    checked = _check_params(entry, p, params)
    try:
        return entry.build(p, checked)
    except PolicyError:
        raise
    except (ValueError, TypeError) as exc:
        raise PolicyError(f"policy {name!r}: {exc}") from exc


def _problem(value: Any) -> Problem:
    from .problem import as_problem

    try:
        return as_problem(value)
    except TypeError as exc:
        raise PolicyError(str(exc)) from None


def _number(entry: PolicyEntry, what: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise PolicyError(f"policy {entry.name!r}: {what}(={value!r}) must be a number")
    return float(value)


def _check_params(
    entry: PolicyEntry, problem: Problem, params: Mapping[str, Any] | None
) -> dict[str, Any]:
    params = {} if params is None else params
    if not isinstance(params, Mapping):
        raise PolicyError(
            f"policy {entry.name!r}: parameters must be a mapping name -> value, "
            f"got {type(params).__name__}"
        )
    allowed = {p.name: p for p in entry.params}
    aliases = {a: p.name for p in entry.params for a in p.aliases}
    for key in params:
        if key in aliases and aliases[key] in params:
            raise PolicyError(
                f"policy {entry.name!r}: give {aliases[key]} or its alias {key}, not both"
            )
    params = {aliases.get(k, k): v for k, v in params.items()}
    listing = (
        f"parameters: {', '.join(_param_text(p) for p in entry.params)}"
        if entry.params
        else "it takes no parameters"
    )
    unknown = [k for k in params if k not in allowed]
    if unknown:
        raise PolicyError(
            f"policy {entry.name!r} has no parameter {', '.join(map(repr, unknown))} ({listing})"
        )
    missing = [p.name for p in entry.params if p.required and p.name not in params]
    if missing:
        raise PolicyError(f"policy {entry.name!r} needs parameter {', '.join(missing)} ({listing})")
    net = problem.network
    out: dict[str, Any] = {}
    for key, value in params.items():
        spec = allowed[key]
        if not isinstance(value, Mapping):
            out[key] = _number(entry, key, value)
            continue
        if not spec.per_node:
            raise PolicyError(
                f"policy {entry.name!r}: {key} takes one number, not one per node "
                f"(got {dict(value)!r})"
            )
        out[key] = _per_node(entry, key, value, net)
    return out


def _param_text(p: Param) -> str:
    notes = (["per node"] if p.per_node else []) + [f"alias {a}" for a in p.aliases]
    text = p.name + (f" ({'; '.join(notes)})" if notes else "")
    return text if p.required else f"[{text}]"


def _per_node(
    entry: PolicyEntry, key: str, value: Mapping[Any, Any], net: Network
) -> dict[str, float]:
    deciding = deciding_nodes(net)
    names = {n.name for n in net.nodes}
    where = f"deciding nodes: {', '.join(deciding) or 'none'}"
    for node in value:
        if node not in names:
            raise PolicyError(
                f"policy {entry.name!r}: {key} names node {node!r}, which the "
                f"network {net.name!r} does not have ({where})"
            )
        if node not in deciding:
            raise PolicyError(
                f"policy {entry.name!r}: {key} names node {node!r}, a "
                f"{net.node(node).kind} node that does not decide ({where})"
            )
    left_out = [n for n in deciding if n not in value]
    if left_out:
        raise PolicyError(
            f"policy {entry.name!r}: {key} has no value for deciding node"
            f"{'s' if len(left_out) > 1 else ''} {', '.join(map(repr, left_out))} "
            f"(give one number for all, or one per node: {', '.join(deciding)})"
        )
    return {str(node): _number(entry, f"{key} at node {node!r}", v) for node, v in value.items()}
