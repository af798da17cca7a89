"""The public names of w1flow's problems, solvers and potential oracles: one name → class table each.

As scipy's ``scipy.integrate._ivp.ivp.METHODS`` maps ``"RK45"`` to its solver class, these tables
map the name a config, a sweep or the command line uses to the class it builds::

    >>> from w1flow.registry import SOLVERS
    >>> SOLVERS["capped_euler"](split=True)
    CappedEuler(certify=False, certify_tol=None, split=True, min_mass=1e-12)

They are the one list of what can be named: :mod:`w1flow.config` (the ``kind`` of ``[problem]``,
``[potential]`` and ``[solver]``), ``w1flow run --help``, the API reference (``docs/api``) and the
top-level exports of :mod:`w1flow` (``tests/test_architecture.py`` checks that every problem and
solver class is exported and named here). A new problem or solver adds one line here.

Tables whose classes live in modules with heavy imports (torch) are listed in
:data:`LAZY_TABLES` as ``name: (module, attribute)``; they are imported on first access
(``w1flow.registry.NAME`` or :func:`table`), never by ``import w1flow``.
"""

from __future__ import annotations

import importlib

from .potentials import CriticPotential, EntropicPotential, ExactPotential, QuantilePotential
from .problems import JSFlow, McKeanVlasovSDE, MeanFieldODE, MonoFlow, SecondOrderODE, W1Flow, W2Flow
from .solvers import RK4, CappedEuler, Euler, EulerMaruyama, Heun, Milstein, SymplecticEuler, VelocityVerlet

__all__ = ["PROBLEMS", "SOLVERS", "ORACLES", "LAZY_TABLES", "TABLES", "table", "lookup"]

#: Problem classes by name (``[problem] kind`` of a config).
PROBLEMS = {
    "w1": W1Flow,
    "w2": W2Flow,
    "mean_field": MeanFieldODE,
    "sde": McKeanVlasovSDE,
    "second_order": SecondOrderODE,
    "monoflow": MonoFlow,
    "js": JSFlow,
}

#: Solver classes by name (``[solver] kind``); the name is the class's ``name`` attribute.
SOLVERS = {cls.name: cls for cls in (Euler, CappedEuler, Heun, RK4, EulerMaruyama, Milstein, SymplecticEuler,
                                     VelocityVerlet)}

#: Potential oracles of W1 flows by name (``[potential] kind``).
ORACLES = {
    "exact": ExactPotential,
    "entropic": EntropicPotential,
    "quantile": QuantilePotential,
    "critic": CriticPotential,
}

#: Tables imported on first access: ``name: (module, attribute)``. ``GENERATOR_METHODS``: the
#: generator-update rules of :func:`w1flow.generative.train` (``[method] name`` of a generator
#: config, ``w1flow train`` and generator sweeps).
LAZY_TABLES = {"GENERATOR_METHODS": ("w1flow.generative.methods", "METHODS")}

#: The eager tables by the config table that names their entries.
TABLES = {"problem": PROBLEMS, "solver": SOLVERS, "potential": ORACLES}


def table(name):
    """The table called ``name`` (``"PROBLEMS"``, ``"SOLVERS"``, ``"ORACLES"`` or one of
    :data:`LAZY_TABLES`, imported then)."""
    if name in LAZY_TABLES:
        module, attr = LAZY_TABLES[name]
        return getattr(importlib.import_module(module), attr)
    if name in ("PROBLEMS", "SOLVERS", "ORACLES"):
        return globals()[name]
    raise KeyError(f"no registry table {name!r}; the tables are PROBLEMS, SOLVERS, ORACLES"
                   f"{''.join(', ' + t for t in LAZY_TABLES)}.")


def lookup(kind, name):
    """The class called ``name`` in the table of ``kind`` (``"problem"``, ``"solver"``,
    ``"potential"``); a ``KeyError`` listing the known names otherwise."""
    entries = TABLES[kind]
    if name not in entries:
        raise KeyError(f"unknown {kind} {name!r}; the known names are {', '.join(entries)}.")
    return entries[name]


def __getattr__(name):  # the lazy tables, as module attributes
    if name in LAZY_TABLES:
        return table(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
