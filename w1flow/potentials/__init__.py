"""Potential oracles: how the Kantorovich potential φ_μ is estimated.

* :class:`ExactPotential` — POT's network simplex; exact W1, plan velocity, and the plan's
  operations (split, rays, carry, certify) on the potential object.
* :class:`EntropicPotential` — log-domain Sinkhorn; a smooth soft-min potential (order tests).
* :class:`QuantilePotential` — the exact 1-D potential from CDFs, monotone plan, no LP.
* :class:`CriticPotential` — a small Numba neural critic (gradient penalty or hard 1-Lipschitz).
* :class:`TorchCriticPotential` — a torch MLP critic (gradient penalty or spectrally normalised),
  for GPUs (the ``torch`` extra; torch is imported when one is created).
* :class:`W2Potential`, :class:`RatioPotential` — the fields of W2-FE and of MonoFlow / the JS
  flow, in the same interface (:mod:`w1flow.potentials.fields`).
"""

from ..closed_forms import quantile_flow, quantile_flow_w1
from .base import Potential, PotentialOracle, validate_measures
from .critic import CriticPotential, NeuralCriticPotential, critic_lipschitz_estimate
from .entropic import EntropicKantorovichPotential, EntropicPotential
from .exact import ExactKantorovichPotential, ExactPotential
from .fields import LogRatioPotential, RatioPotential, W2KantorovichPotential, W2Potential
from .torch_critic import TorchCritic, TorchCriticPotential
from .quantile import QuantileKantorovichPotential, QuantilePotential

__all__ = [
    "Potential",
    "PotentialOracle",
    "validate_measures",
    "ExactPotential",
    "ExactKantorovichPotential",
    "EntropicPotential",
    "EntropicKantorovichPotential",
    "QuantilePotential",
    "QuantileKantorovichPotential",
    "quantile_flow",
    "quantile_flow_w1",
    "CriticPotential",
    "NeuralCriticPotential",
    "critic_lipschitz_estimate",
    "W2Potential",
    "W2KantorovichPotential",
    "RatioPotential",
    "LogRatioPotential",
    "TorchCriticPotential",
    "TorchCritic",
]
