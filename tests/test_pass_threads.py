"""Threads of the certificate passes (``w1flow.threads.ThreadChoice``; ``w1flow.lp.cells.PASS_THREADS``).

A pass runs on all of Numba's threads or on one, whichever its own timing shows faster (on a busy
machine a parallel region can wait a scheduler time slice for a thread with no core). The results
must not depend on the choice: checked bitwise against the same pass on one thread, and the
pricing itself against ``cdist`` in ``test_lp_cell_pricing.py``.
"""

import contextlib
import types

import numba
import numpy as np
import pytest
from scipy.spatial.distance import cdist

import w1flow.lp.cells as cells
from w1flow.lp.cells import CellPricer
from w1flow.threads import ThreadChoice, _PassRecord
from w1flow.lp.netsimplex import _row_scan

needs_threads = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads")


@contextlib.contextmanager
def _threads(k):
    before = numba.get_num_threads()
    numba.set_num_threads(k)
    try:
        yield
    finally:
        numba.set_num_threads(before)


class _Spy:
    """A stand-in for a ThreadChoice that leaves the thread count alone and records each pass's
    size and reported work in ``seen``."""

    def __init__(self):
        self.seen = []

    @contextlib.contextmanager
    def __call__(self, pairs):
        rec = _PassRecord()
        yield rec
        self.seen.append((pairs, rec.work))


@needs_threads
@pytest.mark.parametrize("d", [2, 3])
def test_a_pass_is_bitwise_the_same_on_one_thread_and_on_two(monkeypatch, d):
    monkeypatch.setattr(cells, "PASS_THREADS", _Spy())
    import w1flow.lp.netsimplex as ns
    monkeypatch.setattr(ns, "PASS_THREADS", _Spy())
    rng = np.random.default_rng(d)
    n, m, K = 1100, 1000, 4
    x, y = rng.standard_normal((n, d)), rng.standard_normal((m, d)) + 0.3
    inv = 1.0 / cdist(x, y).max()
    u, v = 0.1 * rng.standard_normal(n), 0.1 * rng.standard_normal(m)
    outs = []
    for k in (1, 2):
        with _threads(k):
            p = CellPricer(x, y, inv)
            bj, br, rm = np.empty((n, K), dtype=np.int64), np.empty((n, K)), np.empty(n)
            p.scan(u, v, 0.05, bj, br, rm)
            fj, fr, fm = np.empty((n, K), dtype=np.int64), np.empty((n, K)), np.empty(n)
            _row_scan(x, np.arange(n), np.ascontiguousarray(y.T), u, v, inv, fj, fr, fm)  # n·m >= PARALLEL_PAIRS
            outs.append((bj, br, rm, p.pairs_checked, fj, fr, fm))
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    # and the full pass against cdist (an independent reference) on the row minima
    np.testing.assert_allclose(outs[0][6], (cdist(x, y) * inv - u[:, None] - v[None, :]).min(axis=1), atol=1e-12)


_NOW = [0.0]


@pytest.fixture
def clock(monkeypatch):
    """The choice's clock, advanced only by ``_pass``: real sleeps of 1 and 4 ms were not 1:4 on a
    loaded CI machine (a probe of the fast way overslept and the test failed once)."""
    import w1flow.threads as threads

    _NOW[0] = 0.0
    monkeypatch.setattr(threads, "time", types.SimpleNamespace(perf_counter=lambda: _NOW[0]))


def _pass(slow_on_all):
    """A pass that takes 4 ms on the threads it is slow on and 1 ms on the others (on ``clock``)."""
    slow = (numba.get_num_threads() > 1) == slow_on_all
    _NOW[0] += 0.004 if slow else 0.001


@needs_threads
@pytest.mark.parametrize("slow_on_all", [True, False])
def test_the_choice_is_the_way_its_probes_timed_faster(slow_on_all, clock):
    with _threads(2):
        choice = ThreadChoice(period=5)
        seen = []
        for _ in range(10):
            with choice(10**6) as rec:
                seen.append(numba.get_num_threads())
                _pass(slow_on_all)
                rec.work = 1
            assert numba.get_num_threads() == 2  # restored after every pass
        # probes (one thread, then two) at passes 0, 1 and 5, 6; the choice in between
        chosen = 1 if slow_on_all else 2
        assert seen == [1, 2, chosen, chosen, chosen, 1, 2, chosen, chosen, chosen]
        assert choice.uses_one_thread(10**6) is slow_on_all
        assert choice.uses_one_thread(10**3) is None  # another size class: not probed yet


@needs_threads
def test_work_normalises_the_probes(clock):
    """A probe that did 8 times the work in 4 times the time was the faster way per unit of work."""
    with _threads(2):
        choice = ThreadChoice(period=10)
        for work in (1, 8):  # one thread: 1 ms for 1 unit; two threads: 4 ms for 8 units
            with choice(10**5) as rec:
                _pass(slow_on_all=True)
                rec.work = work
        assert choice.uses_one_thread(10**5) is False


def test_one_thread_in_force_is_left_alone():
    with _threads(1):
        choice = ThreadChoice(period=3)
        for _ in range(3):
            with choice(10**6):
                assert numba.get_num_threads() == 1
        assert choice.uses_one_thread(10**6) is None


@needs_threads
def test_the_pairwise_drift_is_bitwise_the_same_on_one_thread_and_on_two(monkeypatch):
    import w1flow.interactions as inter
    from w1flow.interactions import PairwiseInteraction, morse_kernel

    monkeypatch.setattr(inter, "DRIFT_THREADS", _Spy())
    x = np.random.default_rng(1).standard_normal((300, 2))
    w = np.full(300, 1 / 300)
    drift = PairwiseInteraction(morse_kernel, params=(1.0, 1.5, 0.8, 0.5))
    outs = []
    for k in (1, 2):
        with _threads(k):
            outs.append(drift(x, w, 0.0))
    np.testing.assert_array_equal(outs[0], outs[1])
    # and the drift itself against numpy (independent): Σ_j w_j g(x_j − x_i), Morse g
    D = x[None, :, :] - x[:, None, :]
    r = np.linalg.norm(D, axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        du = -0.8 / 0.5 * np.exp(-r / 0.5) + 1.0 / 1.5 * np.exp(-r / 1.5)
        g = np.where(r[:, :, None] > 0, du[:, :, None] * D / r[:, :, None], 0.0)
    np.testing.assert_allclose(outs[0], np.einsum("j,ijk->ik", w, g), atol=1e-13)


def test_the_pairwise_drift_goes_through_its_thread_choice(monkeypatch):
    import w1flow.interactions as inter
    from w1flow.interactions import PairwiseInteraction, morse_kernel

    spy = _Spy()

    monkeypatch.setattr(inter, "DRIFT_THREADS", spy)
    PairwiseInteraction(morse_kernel, params=(1.0, 1.5, 0.8, 0.5))(np.zeros((7, 2)), np.full(7, 1 / 7), 0.0)
    assert spy.seen == [(49, 49)]


@needs_threads
def test_a_clear_winner_is_probed_less_often_until_it_changes(clock):
    with _threads(2):
        choice = ThreadChoice(period=3, max_period=12)
        seen = []

        def run(k, slow_on_all):
            for _ in range(k):
                with choice(10**6) as rec:
                    seen.append(numba.get_num_threads())
                    _pass(slow_on_all)
                    rec.work = 1

        run(24, slow_on_all=True)
        # probes (1, 2) at passes 0, 3, 9, 21: the period doubles 3 -> 6 -> 12 (the cap) as the
        # same way wins by more than 1.5x again
        assert seen == [1, 2, 1] + [1, 2, 1, 1, 1, 1] + [1, 2] + [1] * 10 + [1, 2, 1]
        run(11, slow_on_all=False)  # now one thread is the slow way: the probes at 33, 34 see it
        assert seen[33:35] == [1, 2] and choice.uses_one_thread(10**6) is False
        assert choice._state[(10**6).bit_length()].period == 3  # back to the base period


def test_a_cell_pass_reports_its_size_and_its_work(monkeypatch):
    """The choice compares passes per unit of work: a pass by cell bounds reports the points, the
    node pairs it visited and the pairs it checked."""
    spy = _Spy()

    monkeypatch.setattr(cells, "PASS_THREADS", spy)
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((700, 2)), rng.standard_normal((600, 2))
    p = CellPricer(x, y, 0.1)
    p.scan(np.zeros(700), np.zeros(600), 0.01, np.empty((700, 2), dtype=np.int64), np.empty((700, 2)),
           np.empty(700))
    assert p.pairs_checked > 0 and p.nodes_visited > 0
    assert spy.seen == [(700 * 600, 700 + 600 + p.nodes_visited + p.pairs_checked)]


def test_the_interval_must_leave_room_for_a_chosen_pass():
    with pytest.raises(ValueError, match="period must be >= 3"):
        ThreadChoice(period=2)
    with pytest.raises(ValueError, match="max_period must be >= 32"):
        ThreadChoice(max_period=16)
    with pytest.raises(TypeError, match="period must be an integer"):
        ThreadChoice(period=3.5)
