"""des_supply: a discrete-event engine for supply-chain networks (SimPy over networkx)."""

from .distributions import (
    Deterministic,
    DiscreteUniform,
    Empirical,
    Geometric,
    NegativeBinomial,
    NonStationary,
    Normal,
    Poisson,
    Shifted,
    Trace,
)
from .ledger import Ledger
from .network import Edge, Network, NetworkError, Node
from .policies import (
    RQ,
    SS,
    Action,
    BaseStock,
    CappedBaseStock,
    ConstantOrder,
    ConstantRate,
    EchelonBaseStock,
    Policy,
)
from .sim import Observation, Simulation

__all__ = [
    "RQ",
    "SS",
    "Action",
    "BaseStock",
    "CappedBaseStock",
    "ConstantOrder",
    "ConstantRate",
    "Deterministic",
    "DiscreteUniform",
    "EchelonBaseStock",
    "Edge",
    "Empirical",
    "Geometric",
    "Ledger",
    "NegativeBinomial",
    "Network",
    "NetworkError",
    "Node",
    "NonStationary",
    "Normal",
    "Observation",
    "Poisson",
    "Policy",
    "Shifted",
    "Simulation",
    "Trace",
]
__version__ = "0.1.0"  # the one version source (pyproject.toml reads it)
