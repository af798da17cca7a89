"""Generators trained by particle-flow steps: the W1-FE algorithm (Malik & Huang) and its baselines.

* :class:`MLPGenerator` — a small MLP ``z ↦ G_θ(z)`` with hand-written Numba forward/backward;
* :class:`TorchGenerator` — DCGAN-style, residual-translator or MLP torch networks
  (``backend="torch"``; constructing one imports torch);
* :func:`wgan_gp_reference` — a plain torch WGAN-GP loop on the same networks (the baseline of
  the throughput and sample-efficiency comparisons);
* :func:`train` — W1-FE with persistency K, WGAN(-GP), naive persistence (same or fresh batches),
  on any potential oracle (``CriticPotential`` or ``ExactPotential`` on the batch);
* :mod:`w1flow.generative.experiments` — the K sweep on 2-D targets (``examples/w1fe_sweep.py``).

Training loops that update parameters are not particle solvers: they live here, and use only
the oracle interface (``oracle(x, a, y, b) → potential``, ``potential.grad``).
"""

from .generator import MLPGenerator
from .torch_generator import TorchGenerator
from .torch_reference import wgan_gp_reference
from .trainer import METHODS, TrainResult, train

__all__ = ["MLPGenerator", "TorchGenerator", "train", "TrainResult", "METHODS", "wgan_gp_reference"]
