"""Shared fixtures and hypothesis profiles.

Profiles: ``dev`` (default locally) and ``ci`` (loaded when CI=true). Both disable the deadline,
because the first example of a test pays Numba compilation and LP warm-up.
``mutation`` (loaded when W1FLOW_MUTATION=1, it wins over CI=true) is for mutation-testing runs
(mutmut, ``docs/reliability.md``): the same checks on fewer, derandomized examples.
"""

import os

# One BLAS thread in the test process and what it starts (set before numpy loads OpenBLAS): the
# suite's matrices are small, and OpenBLAS's threads spin waiting for each other whenever the
# other core is busy (measured: the `gan_js_flow` and `monoflow_particles` quick checks took
# 8-35 s beside a busy core with two BLAS threads, 0.4 and 0.7 s with one). Numba keeps its
# threads, so the parallel kernels still run in parallel. An explicit setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest
from hypothesis import HealthCheck, settings

from w1flow import ExactPotential
from w1flow.closed_forms import tanh_critic_drift
from w1flow.potentials.base import Potential, PotentialOracle

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "mutation",
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MUTATION_RUN = os.environ.get("W1FLOW_MUTATION", "") == "1"
if MUTATION_RUN:
    settings.load_profile("mutation")
else:
    settings.load_profile("ci" if os.environ.get("CI", "").lower() == "true" else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def examples(n):
    """At most ``n`` hypothesis examples, or fewer if the loaded profile asks for fewer."""
    return min(n, settings.default.max_examples)


def stop_after(k):
    """A simulate callback that raises KeyboardInterrupt at its k-th call (an interrupted run)."""
    calls = []

    def callback(t, x, a):
        calls.append(t)
        if len(calls) == k:
            raise KeyboardInterrupt

    return callback


class InterruptingExact(ExactPotential):
    """The exact oracle with a Ctrl-C at its 4th call (an interrupted training run). Module level,
    as tests import it by name; set ``InterruptingExact.calls = 0`` before a run."""

    calls = 0
    # no state of its own besides the class-level counter: the exact oracle's protocol (w1flow.checkpoint)
    state_dict = ExactPotential.state_dict
    load_state = ExactPotential.load_state

    def __call__(self, *args, **kwargs):
        type(self).calls += 1
        if type(self).calls == 4:
            raise KeyboardInterrupt
        return super().__call__(*args, **kwargs)


def generic_cloud(rng, n, d, scale=1.0, shift=0.0):
    """Gaussian points: distinct pairwise distances with probability 1 (no ties)."""
    return shift + scale * rng.standard_normal((n, d))


def tol(*arrays):
    """Round-off tolerance scaled by the data: 1e-12 · (1 + max |x|) · sqrt(n)."""
    scale = max(float(np.max(np.abs(a))) for a in arrays)
    size = max(a.shape[0] for a in arrays)
    return 1e-12 * (1.0 + scale) * np.sqrt(size)


def north_west(a, b):
    """The north-west corner plan of masses ``a``, ``b`` in their given order (rows, cols, mass):
    feasible, its support a path (a tree), far from optimal."""
    rows, cols, mass = [], [], []
    i = j = 0
    ra, rb = np.array(a, dtype=float), np.array(b, dtype=float)
    while i < ra.size and j < rb.size:
        t = min(ra[i], rb[j])
        rows.append(i), cols.append(j), mass.append(t)
        ra[i] -= t
        rb[j] -= t
        if ra[i] <= rb[j]:
            i += 1
        else:
            j += 1
    return np.array(rows), np.array(cols), np.array(mass)


def rand_weights(rng, n):
    """Generic positive weights summing to 1."""
    w = rng.uniform(0.1, 1.0, n)
    return w / w.sum()


def weights_of_kind(rng, k, kind):
    """Uniform, random positive, or random with some zeros (at least one point keeps mass)."""
    if kind == "uniform":
        return np.full(k, 1.0 / k)
    w = rand_weights(rng, k)
    if kind == "zeros":
        w[rng.random(k) < 0.3] = 0.0
        if w.sum() == 0:
            w[-1] = 1.0
        w = w / w.sum()
    return w


def lp_rays(x, a, y, b):
    """Lengths and masses of the transport rays of an optimal plan from POT directly: ``ot.emd``
    on ``cdist`` costs, built here, independent of w1flow's LP layer (a reference for closed
    forms; unique on generic clouds)."""
    import ot
    from scipy.spatial.distance import cdist

    x, y = np.asarray(x, dtype=float).reshape(len(x), -1), np.asarray(y, dtype=float).reshape(len(y), -1)
    a = np.full(len(x), 1 / len(x)) if a is None else np.asarray(a, dtype=float)
    b = np.full(len(y), 1 / len(y)) if b is None else np.asarray(b, dtype=float)
    G = ot.emd(a, b, cdist(x, y))
    rows, cols = np.nonzero(G)
    return np.linalg.norm(x[rows] - y[cols], axis=1), G[rows, cols]


def lp_w1(x, a, y, b):
    """Exact W1 from POT directly (``ot.emd2`` on ``cdist`` costs built here): the independent
    reference every W1 identity is checked against."""
    import ot
    from scipy.spatial.distance import cdist

    a = np.full(len(x), 1 / len(x)) if a is None else np.asarray(a, dtype=float)
    b = np.full(len(y), 1 / len(y)) if b is None else np.asarray(b, dtype=float)
    return float(ot.emd2(a, b, cdist(np.asarray(x, dtype=float), np.asarray(y, dtype=float))))


def ray_lengths(pot):
    """Lengths |x_i − y_j| of the plan's transport rays, one per plan entry."""
    return np.linalg.norm(pot.x[pot.plan_rows] - pot.y[pot.plan_cols], axis=1)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


SLOW_TIMEOUT = 900  # seconds: the slow tier's own limit (pyproject's `timeout = 300` is the fast tier's)


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (the README's test command): one worker per core this process may use (its CPU
    affinity; pytest-xdist would count the machine's cores, more than a container may use).
    ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still wins: then this returns None and xdist's own hook reads it."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    from w1flow.threads import available_cores

    return available_cores()


def pytest_collection_modifyitems(config, items):
    """A ``slow`` test without its own ``@pytest.mark.timeout`` gets ``SLOW_TIMEOUT``."""
    for item in items:
        if item.get_closest_marker("slow") is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))


class TanhPotential(Potential):
    """A fixed smooth potential φ(z) = w₂·tanh(W₁z + b₁) (independent of the batches)."""

    def __init__(self, x, a, drift):
        self.x, self.a, self.drift = x, a, drift
        self.status, self.message = "converged", "frozen"
        self.w1 = float(np.mean(drift.critic(x)))

    def value(self, z):
        return self.drift.critic(z)

    def gradient(self, z):
        return -self.drift(z, None, 0.0)


class FrozenTanhOracle(PotentialOracle):
    """A deterministic oracle: the same smooth φ at every call (for exact equivalences)."""

    def __init__(self, d=2, seed=3, scale=2.0):
        super().__init__()
        self.drift = tanh_critic_drift(d, width=16, seed=seed, scale=scale)

    def __call__(self, x, a, y, b, t=0.0):
        self.counters["evaluations"] += 1
        return TanhPotential(x, a, self.drift)
