"""w1flow: Wasserstein-1 gradient flows of particle ensembles and mean-field ODEs.

The pieces, in the order data moves through them::

    problem (W1Flow)  →  potential oracle (ExactPotential)  →  solver (Euler, CappedEuler)
                      →  simulate(...)  →  FlowResult

Sign convention: the Kantorovich potential φ is high on the particles and low on the data;
particles move with −∇φ (for the exact LP: the plan velocity).
"""

import logging as _logging

from . import convergence, metrics, monitors
from ._lp import MemoryBudgetError
from .checkpoint import CheckpointError
from .metrics import LPError
from .monitors import HealthCheckError
from .potentials import (
    CriticPotential,
    EntropicPotential,
    ExactKantorovichPotential,
    ExactPotential,
    Potential,
    PotentialOracle,
    QuantilePotential,
)
from .problems import MeanFieldODE, W1Flow, W2Flow
from .simulate import FlowResult, simulate
from .solvers import RK4, CappedEuler, Euler, Heun, Solver

__version__ = "0.1.0"

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = [
    "simulate",
    "FlowResult",
    "W1Flow",
    "W2Flow",
    "MeanFieldODE",
    "ExactPotential",
    "ExactKantorovichPotential",
    "EntropicPotential",
    "QuantilePotential",
    "CriticPotential",
    "Potential",
    "PotentialOracle",
    "Solver",
    "Euler",
    "CappedEuler",
    "Heun",
    "RK4",
    "metrics",
    "convergence",
    "monitors",
    "LPError",
    "MemoryBudgetError",
    "CheckpointError",
    "HealthCheckError",
]
