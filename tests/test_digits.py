"""The digits task's pieces: the offline loader and its split, the Fréchet distance against its
closed form for diagonal covariances, and the scorer on real and on corrupted digits."""

import numpy as np
import pytest

pytest.importorskip("sklearn")

from w1flow.datasets import digits  # noqa: E402
from w1flow.generative.digits import DigitsScorer, frechet_distance  # noqa: E402


def test_the_loader_splits_once_and_scales_to_the_unit_interval():
    xa, la = digits("all")
    xt, lt = digits("train")
    xh, lh = digits("held_out")
    assert xa.shape == (1797, 64) and xh.shape == (500, 64) and xt.shape == (1297, 64)
    assert xa.min() == 0.0 and xa.max() == 1.0
    rows = {r.tobytes() for r in xt}
    assert sum(r.tobytes() in rows for r in xh) <= 10  # disjoint up to duplicate images in the data
    np.testing.assert_array_equal(digits("held_out")[0], xh)  # deterministic
    assert not np.array_equal(digits("held_out", seed=1)[0], xh)
    with pytest.raises(ValueError, match="split must be"):
        digits("test")


def test_frechet_distance_matches_the_diagonal_closed_form():
    rng = np.random.default_rng(0)
    m1, m2 = rng.normal(size=5), rng.normal(size=5)
    c1, c2 = rng.uniform(0.5, 2, 5), rng.uniform(0.5, 2, 5)
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(c1) - np.sqrt(c2)) ** 2)
    assert frechet_distance(m1, np.diag(c1), m2, np.diag(c2)) == pytest.approx(expected, rel=1e-10)
    A = rng.normal(size=(5, 5))
    C = A @ A.T + np.eye(5)
    assert frechet_distance(m1, C, m1, C) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.slow
def test_the_scorer_sees_real_digits_as_digits_and_noise_as_noise():
    scorer = DigitsScorer()
    xh, lh = digits("held_out")
    xt, _ = digits("train")
    assert scorer.accuracy(xh, lh) > 0.9
    diversity, confidence = scorer.label_entropy(xh)
    assert diversity > 0.95 * np.log(10) and confidence < 0.3
    noise = np.random.default_rng(0).uniform(0, 1, xh.shape)
    assert scorer.frechet(xh, xt[:500]) < 0.1 * scorer.frechet(xh, noise)
    assert scorer.w1(xh, xt[:500]) < 0.5 * scorer.w1(xh, noise)


def test_digit_transforms_do_what_they_say():
    from w1flow.datasets import transform_digits

    x = np.zeros((2, 64))
    x[0, 8 * 3 + 4] = 1.0  # one lit pixel at row 3, column 4
    x[1, :8] = 0.5  # the top row
    t = transform_digits(x, "thicken")
    # a 2x2 grey dilation: each pixel takes the max over its 2x2 block, so the lit pixel grows to a
    # 2x2 square and nothing else changes
    lit = {divmod(int(k), 8) for k in np.flatnonzero(t[0])}
    assert len(lit) == 4 and (3, 4) in lit and np.all(t[0][t[0] > 0] == 1.0)
    assert np.all(t >= x) and t[1].max() == 0.5
    assert np.abs(transform_digits(x, "rotate", angle=0.0) - x).max() == 0.0
    r = transform_digits(x, "rotate", angle=90.0)
    assert r[1].reshape(8, 8)[:, 0].sum() > 2.0 or r[1].reshape(8, 8)[:, -1].sum() > 2.0  # the row became a column
    b = transform_digits(x, "blur")
    np.testing.assert_allclose(b.sum(axis=1), x.sum(axis=1), rtol=0.35)  # mass kept up to the border
    assert b[0].max() < 1.0
    with pytest.raises(ValueError, match="kind must be one of"):
        transform_digits(x, "shear")
    with pytest.raises(ValueError, match=r"shape \(n, 64\)"):
        transform_digits(np.zeros((2, 10)))
