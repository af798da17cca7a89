"""w1_by_modes: the exact W1 split by its optimal plan into bridges, between modes and within modes.

Each case moves the data's own points so that all of the transport cost falls in one part; the
total is checked against POT's LP on ``cdist`` costs (an independent reference), the part against
that total, and the masses and widths against sums written here.
"""

import numpy as np
import ot
import pytest
from scipy.spatial.distance import cdist

from w1flow.generative.evaluation import w1_by_modes

CENTRES = np.array([[0.0, 0.0], [3.0, 0.0]])
STD = 0.1


def _data(seed=0, per=150):
    rng = np.random.default_rng(seed)
    return np.concatenate([c + STD * rng.standard_normal((per, 2)) for c in CENTRES])


def _w1(x, y):
    return ot.emd2(np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y)), cdist(x, y), numItermax=10**7)


def test_a_narrowed_mode_costs_within_modes_only_and_shows_its_width():
    y = _data()
    x = y.copy()
    x[:150] = 0.5 * x[:150]  # mode 0 drawn at half its width about its centre (the origin)
    s = w1_by_modes(x, y, CENTRES, STD)
    ref = _w1(x, y)
    assert s.w1 == pytest.approx(ref, rel=1e-9) and s.within == pytest.approx(ref, rel=1e-9)
    assert s.bridge == 0.0 and s.between == 0.0 and s.bridge_mass == 0.0
    np.testing.assert_allclose(s.mode_mass, [0.5, 0.5])
    width = [np.sqrt(np.mean(np.sum((p - c) ** 2, axis=1))) / (STD * np.sqrt(2)) for p, c in
             ((x[:150], CENTRES[0]), (x[150:], CENTRES[1]))]
    np.testing.assert_allclose(s.spread, width, rtol=1e-12)
    assert s.spread[0] == pytest.approx(0.5 * s.spread[1], rel=0.25)


def test_mass_in_the_wrong_mode_costs_between_modes():
    y = _data(1)
    x = y.copy()
    x[:20] = y[150:170] + 1e-3 * np.random.default_rng(2).standard_normal((20, 2))  # 20 of mode 0's to mode 1
    s = w1_by_modes(x, y, CENTRES, STD)
    ref = _w1(x, y)
    assert s.w1 == pytest.approx(ref, rel=1e-9)
    # the 20 extra points of mode 1 pay ~3 each; the duplicates' 1e-3 jitter stays within mode 1
    assert s.between == pytest.approx(20 / 300 * 3.0, rel=0.05) and s.between > 0.95 * ref
    assert s.bridge == 0.0 and s.within == pytest.approx(ref - s.between, abs=1e-15)
    np.testing.assert_allclose(s.mode_mass, [130 / 300, 170 / 300])


def test_points_left_between_modes_cost_bridges():
    y = _data(3)
    x = y.copy()
    x[:20] = [1.0, 0.2] + 0.05 * np.random.default_rng(4).standard_normal((20, 2))  # > 4 std from both centres
    s = w1_by_modes(x, y, CENTRES, STD)
    ref = _w1(x, y)
    assert s.w1 == pytest.approx(ref, rel=1e-9) and s.bridge == pytest.approx(ref, rel=1e-9)
    assert s.between == 0.0 and s.within == 0.0
    d = cdist(x, CENTRES)
    far = d.min(axis=1) > 4 * STD  # the 20 moved points, and any of the data's own beyond 4 std
    assert far[:20].all() and s.bridge_mass == pytest.approx(far.mean())
    np.testing.assert_allclose(s.mode_mass, np.bincount(d[~far].argmin(axis=1), minlength=2) / 300)
    wider = w1_by_modes(x, y, CENTRES, STD, radius=12.0)  # at 12 std (1.2) they count as mode 0's
    assert wider.bridge_mass == 0.0 and wider.within == pytest.approx(ref, rel=1e-9)


def test_the_parts_of_a_mixed_error_add_up_to_the_lp_value():
    rng = np.random.default_rng(5)
    y = _data(6, per=200)
    x = np.concatenate([CENTRES[0] + 0.7 * STD * rng.standard_normal((170, 2)),
                        CENTRES[1] + 1.3 * STD * rng.standard_normal((210, 2)),
                        [1.5, 0.0] + 0.3 * rng.standard_normal((20, 2))])
    s = w1_by_modes(x, y, CENTRES, STD)
    assert s.w1 == pytest.approx(_w1(x, y), rel=1e-9)
    assert s.bridge + s.between + s.within == pytest.approx(s.w1, rel=1e-12)
    assert min(s.bridge, s.between, s.within) > 0
    d = cdist(x, CENTRES)
    far = d.min(axis=1) > 4 * STD
    assert s.bridge_mass == pytest.approx(far.mean())
    np.testing.assert_allclose(s.mode_mass, np.bincount(d[~far].argmin(axis=1), minlength=2) / 400)


@pytest.mark.parametrize("kw, match", [
    (dict(std=0.0), "std must be > 0"),
    (dict(radius=-1.0), "radius must be > 0"),
    (dict(centres=np.zeros((2, 3))), "same dimension"),
])
def test_bad_arguments_are_named(kw, match):
    y = _data()
    args = dict(generated=y, data=y, centres=CENTRES, std=STD) | kw
    with pytest.raises(ValueError, match=match):
        w1_by_modes(**args)
