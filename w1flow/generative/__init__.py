"""Generators trained by particle-flow steps: the W1-FE algorithm (Malik & Huang, arXiv:2405.16351)
and its baselines.

* :class:`MLPGenerator` — a small MLP ``z ↦ G_θ(z)`` with hand-written Numba forward/backward;
* :class:`TorchGenerator` — DCGAN-style, residual-translator or MLP torch networks
  (``backend="torch"``; constructing one imports torch);
* :func:`train` — W1-FE with persistency K, WGAN(-GP), naive persistence (same or fresh batches),
  on any potential oracle (``CriticPotential`` or ``ExactPotential`` on the batch), shaped like
  :func:`w1flow.simulate`: a method object (:class:`W1FE`, :class:`WGAN`, :class:`NaiveSame`,
  :class:`NaiveFresh`; :data:`METHODS` by name) and grouped options (:class:`Batches`,
  :class:`Adam` / :class:`SGD`, :class:`Evaluation`, :class:`TorchBackend`); the outcome is a
  :class:`TrainResult` (``save``/``load``);
* :func:`wgan_gp_reference` — a plain torch WGAN-GP loop on the same networks (the baseline of
  the throughput and sample-efficiency comparisons);
* :mod:`w1flow.generative.evaluation` — held-out W1, noise floor, the W1 split by modes
  (:func:`~w1flow.generative.evaluation.w1_by_modes`), evaluation latents and schedule;
* :mod:`w1flow.generative.config` — generator runs from TOML (``w1flow train``; with a ``[sweep]``
  table, ``w1flow sweep``);
* :mod:`w1flow.generative.experiments` — the 2-D targets and figures of the K study
  (``examples/w1fe_sweep.py``).

Training loops that update parameters are not particle solvers: they live here, and use only
the oracle interface (``oracle(x, a, y, b) → potential``, ``potential.grad``).
"""

from .generator import MLPGenerator
from .methods import METHODS, W1FE, WGAN, NaiveFresh, NaiveSame, method_from_name
from .options import SGD, Adam, Batches, Evaluation, TorchBackend
from .result import TrainResult
from .torch_generator import TorchGenerator
from .torch_reference import GPCritic, wgan_gp_reference
from .trainer import train

__all__ = ["MLPGenerator", "TorchGenerator", "train", "TrainResult", "METHODS", "W1FE", "WGAN", "NaiveSame",
           "NaiveFresh", "method_from_name", "Batches", "Adam", "SGD", "Evaluation", "TorchBackend",
           "wgan_gp_reference", "GPCritic"]
