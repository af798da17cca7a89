"""w1flow: Wasserstein-1 gradient flows of particle ensembles and mean-field ODEs.

The pieces, in the order data moves through them::

    problem (W1Flow)  →  potential oracle (ExactPotential)  →  solver (Euler, CappedEuler)
                      →  simulate(...)  →  FlowResult

Sign convention: the Kantorovich potential φ is high on the particles and low on the data;
particles move with −∇φ (for the exact LP: the plan velocity).
"""

import logging as _logging

from . import metrics
from ._lp import MemoryBudgetError
from .metrics import LPError
from .potentials import ExactKantorovichPotential, ExactPotential, Potential, PotentialOracle
from .problems import W1Flow
from .simulate import FlowResult, simulate
from .solvers import CappedEuler, Euler, Solver

__version__ = "0.1.0"

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = [
    "simulate",
    "FlowResult",
    "W1Flow",
    "ExactPotential",
    "ExactKantorovichPotential",
    "Potential",
    "PotentialOracle",
    "Solver",
    "Euler",
    "CappedEuler",
    "metrics",
    "LPError",
    "MemoryBudgetError",
]
