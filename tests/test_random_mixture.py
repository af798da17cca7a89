"""The seeded random family of 2-D Gaussian mixtures (the persistence study's unseen targets):
its stated ranges, determinism, the sample moments against the mixture's, and the connectivity
flag against a direct reading of its definition."""

import itertools

import numpy as np
import pytest

from w1flow.datasets import random_mixture, random_mixture_spec


@pytest.mark.parametrize("family_seed", [0, 7, 100, 101, 102, 103])
def test_the_spec_keeps_its_stated_ranges_and_is_reproducible(family_seed):
    s = random_mixture_spec(family_seed)
    k = s["weights"].size
    assert 2 <= k <= 8 and s["means"].shape == (k, 2) and s["covs"].shape == (k, 2, 2)
    assert np.all(np.abs(s["means"]) <= 2.0) and s["weights"].sum() == pytest.approx(1.0, abs=1e-14)
    sd = np.sqrt(np.linalg.eigvalsh(s["covs"]))
    assert np.all(sd >= 0.05 - 1e-12) and np.all(sd <= 0.5 + 1e-12)
    again = random_mixture_spec(family_seed)
    assert all(np.array_equal(s[key], again[key]) for key in ("means", "covs", "weights"))
    # connected: one cluster when modes within 2 (σ_i + σ_j) of each other are linked (Floyd-style closure)
    reach = sd.max(axis=1)
    link = np.linalg.norm(s["means"][:, None] - s["means"][None], axis=2) <= 2 * (reach[:, None] + reach[None])
    for m, i, j in itertools.product(range(k), repeat=3):
        link[i, j] |= link[i, m] and link[m, j]
    assert s["connected"] == bool(link.all())


def test_samples_have_the_mixtures_moments():
    s = random_mixture_spec(101)
    x = random_mixture(400_000, 101, seed=0)
    mean = s["weights"] @ s["means"]
    second = np.einsum("k,kij->ij", s["weights"], s["covs"] + np.einsum("ki,kj->kij", s["means"], s["means"]))
    np.testing.assert_allclose(x.mean(axis=0), mean, atol=0.01)
    np.testing.assert_allclose(x.T @ x / x.shape[0], second, atol=0.02)
    assert np.array_equal(random_mixture(10, 101, seed=3), random_mixture(10, 101, seed=3))
    assert not np.array_equal(random_mixture(10, 101, seed=3), random_mixture(10, 102, seed=3))


@pytest.mark.parametrize("bad", [-1, 1.5, True, "100"])
def test_a_bad_family_seed_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match="family_seed"):
        random_mixture_spec(bad)
