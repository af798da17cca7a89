"""Potential oracles: how the Kantorovich potential φ_μ is estimated."""

from .base import Potential, PotentialOracle
from .exact import ExactKantorovichPotential, ExactPotential

__all__ = ["Potential", "PotentialOracle", "ExactPotential", "ExactKantorovichPotential"]
