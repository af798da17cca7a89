"""w1flow: Wasserstein-1 gradient flows of particle ensembles and mean-field ODEs.

The pieces, in the order data moves through them::

    problem (W1Flow, owning its oracle)  →  potential oracle (ExactPotential)  →  potential object
        →  solver (Euler, CappedEuler, …)  →  simulate(...)  →  FlowResult

Every problem class is in :mod:`w1flow.problems`, every solver in :mod:`w1flow.solvers`, and
:mod:`w1flow.registry` names them (what configs and the command line use).

Sign convention: the Kantorovich potential φ is high on the particles and low on the data;
particles move with −∇φ (for the exact LP: the plan velocity). See ``docs/architecture.md``.
"""

import logging as _logging

from . import closed_forms, convergence, metrics, monitors, status
from .lp import LPError, MemoryBudgetError
from .checkpoint import Checkpoint, CheckpointError
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
from .problems import (JSFlow, McKeanVlasovSDE, MeanFieldODE, MonoFlow, Problem, SecondOrderODE, W1Flow,
                       W2Flow)
from .result import FlowResult, ResultFileError
from .saving import SaveAt
from .simulate import simulate
from .solvers import (RK4, CappedEuler, Euler, EulerMaruyama, Heun, Milstein, Solver, SymplecticEuler,
                      VelocityVerlet)
from .brownian import BrownianPath
from . import monoflow, registry, sde, second_order  # the family modules: the classes' public homes
from .threads import get_num_threads, set_num_threads

__version__ = "0.2.0.dev0"

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = [
    "simulate",
    "SaveAt",
    "Checkpoint",
    "FlowResult",
    "ResultFileError",
    "Problem",
    "W1Flow",
    "W2Flow",
    "MonoFlow",
    "JSFlow",
    "MeanFieldODE",
    "McKeanVlasovSDE",
    "SecondOrderODE",
    "BrownianPath",
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
    "EulerMaruyama",
    "Milstein",
    "SymplecticEuler",
    "VelocityVerlet",
    "registry",
    "metrics",
    "convergence",
    "closed_forms",
    "monitors",
    "status",
    "LPError",
    "MemoryBudgetError",
    "CheckpointError",
    "HealthCheckError",
    "set_num_threads",
    "get_num_threads",
]
