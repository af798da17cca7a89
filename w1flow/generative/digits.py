"""Scores of generated 8×8 digits (d = 64): exact W1 to held-out images, and a classifier's view.

:class:`DigitsScorer` trains one classifier on real training digits (scikit-learn's
``MLPClassifier``, one hidden ReLU layer, fixed seed) and reports, for a set of images:

* ``accuracy(x, labels)``: when the intended labels are known (domain translation);
* ``label_entropy(x)``: the entropy of the mean predicted label distribution (diversity: log 10
  when every class is equally represented) and the mean entropy of each prediction (confidence:
  0 for unambiguous digits);
* ``frechet(x, y)``: the Fréchet distance between Gaussians fitted to the classifier's hidden
  features of two sets, ``|m_x − m_y|² + Tr(C_x + C_y − 2 (C_x^{½} C_y C_x^{½})^{½})`` (the FID
  recipe on a digits classifier);
* ``w1(x, y)``: the exact W1 between the two sets of images (an LP, Euclidean pixel distance).

Needs scikit-learn (``pip install "w1flow[data]"``).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from .. import metrics
from ..datasets import digits

__all__ = ["DigitsScorer", "frechet_distance"]


def _psd_sqrt(C):
    """The symmetric square root of a positive semi-definite matrix (eigenvalues below 0 from
    round-off are clipped; singular covariances, e.g. from dead ReLU features, are fine)."""
    C = 0.5 * (C + C.T)
    lam, V = linalg.eigh(C)
    return (V * np.sqrt(np.clip(lam, 0.0, None))) @ V.T


def frechet_distance(mu1, cov1, mu2, cov2):
    """``|μ₁ − μ₂|² + Tr(C₁ + C₂ − 2 (C₁^{½} C₂ C₁^{½})^{½})`` between two Gaussians."""
    mu1, mu2 = np.asarray(mu1, dtype=np.float64), np.asarray(mu2, dtype=np.float64)
    cov1, cov2 = np.asarray(cov1, dtype=np.float64), np.asarray(cov2, dtype=np.float64)
    s1 = _psd_sqrt(cov1)
    cross = _psd_sqrt(s1 @ cov2 @ s1)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1 + cov2 - 2.0 * cross))


class DigitsScorer:
    """A digits classifier trained once on the training split (see the module docstring).

    Parameters
    ----------
    hidden : int
        Width of the classifier's hidden layer (its features).
    seed : int
        Seed of the classifier and of the train/held-out split (``datasets.digits``).
    """

    def __init__(self, hidden=64, seed=0):
        try:
            from sklearn.neural_network import MLPClassifier
        except ImportError:
            raise ImportError('DigitsScorer needs scikit-learn: pip install "w1flow[data]".') from None
        x, y = digits("train", seed=seed)
        self.classifier = MLPClassifier(hidden_layer_sizes=(int(hidden),), max_iter=2000, random_state=seed)
        self.classifier.fit(x, y)
        self.seed = seed

    def probabilities(self, x):
        """Predicted label probabilities, shape (n, 10)."""
        return self.classifier.predict_proba(np.asarray(x, dtype=np.float64))

    def accuracy(self, x, labels):
        """Fraction of images classified as ``labels``."""
        return float(np.mean(self.classifier.predict(np.asarray(x, dtype=np.float64)) == np.asarray(labels)))

    def label_entropy(self, x):
        """``(entropy of the mean prediction, mean entropy of each prediction)`` in nats."""
        p = np.clip(self.probabilities(x), 1e-300, 1.0)
        mean = p.mean(axis=0)
        return float(-np.sum(mean * np.log(mean))), float(np.mean(-np.sum(p * np.log(p), axis=1)))

    def features(self, x):
        """The classifier's hidden ReLU features, shape (n, hidden)."""
        W, b = self.classifier.coefs_[0], self.classifier.intercepts_[0]
        return np.maximum(np.asarray(x, dtype=np.float64) @ W + b, 0.0)

    def frechet(self, x, y):
        """Fréchet distance between the Gaussians fitted to the features of ``x`` and ``y``."""
        fx, fy = self.features(x), self.features(y)
        return frechet_distance(fx.mean(axis=0), np.cov(fx, rowvar=False), fy.mean(axis=0), np.cov(fy, rowvar=False))

    @staticmethod
    def w1(x, y):
        """Exact W1 between two sets of images (uniform weights)."""
        return metrics.w1(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
