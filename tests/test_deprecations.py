"""The 0.1 keywords of simulate() keep working until 0.3: each warns, names its replacement, and gives
bitwise the result of the new spelling."""

import numpy as np
import pytest

from conftest import generic_cloud, rand_weights
from w1flow import CappedEuler, Checkpoint, Euler, Heun, MeanFieldODE, SaveAt, W1Flow, simulate
from w1flow.convergence import dt_ladder, order_study


def _same(r1, r2):
    assert r1.status == r2.status == "success"
    assert r1.ts.tobytes() == r2.ts.tobytes()
    assert (r1.w1 is None) == (r2.w1 is None)
    if r1.w1 is not None:
        assert r1.w1.tobytes() == r2.w1.tobytes()
    assert len(r1.xs) == len(r2.xs)
    assert all(p.tobytes() == q.tobytes() for p, q in zip(r1.xs, r2.xs))
    assert all(p.tobytes() == q.tobytes() for p, q in zip(r1.weights, r2.weights))
    assert all(p.tobytes() == q.tobytes() for p, q in zip(r1.parents, r2.parents))
    assert (r1.n_steps, r1.n_lp_solves, r1.n_field_evals) == (r2.n_steps, r2.n_lp_solves, r2.n_field_evals)


@pytest.fixture
def clouds(rng):
    x, y = generic_cloud(rng, 15, 2, shift=2.0), generic_cloud(rng, 11, 2)
    return x, y, rand_weights(rng, 15)


@pytest.mark.parametrize("old, new, replacement", [
    (dict(save_every=3), dict(saveat=SaveAt(every=3)), r"saveat=SaveAt\(every=\.\.\.\)"),
    (dict(record_w1=False), dict(saveat=SaveAt(w1=None)), r"saveat=SaveAt\(w1=None\)"),
    (dict(w1_method="lp"), dict(saveat=SaveAt(w1="lp")), r"saveat=SaveAt\(w1=\.\.\.\)"),
    (dict(save_every=2, w1_method="lp"), dict(saveat=SaveAt(every=2, w1="lp")), r"SaveAt"),
    (dict(split=True), dict(solver=Euler(split=True)), r"Euler\(split=True\)"),
    (dict(split=True, solver=CappedEuler()), dict(solver=CappedEuler(split=True)), r"CappedEuler\(split=True\)"),
])
def test_old_keyword_warns_and_equals_the_new_spelling(clouds, old, new, replacement):
    x, y, a = clouds
    with pytest.warns(DeprecationWarning, match=rf"removed in 0\.3; use .*{replacement}"):
        r_old = simulate(W1Flow(y), x, 1.2, 0.1, weights=a, **old)
    r_new = simulate(W1Flow(y), x, 1.2, 0.1, weights=a, **new)
    _same(r_old, r_new)


def _stop_at(k):
    calls = []

    def callback(t, x, a):
        calls.append(t)
        if len(calls) == k:
            raise KeyboardInterrupt

    return callback


def test_checkpoint_every_and_resume_warn_and_equal_checkpoint_spec(tmp_path, clouds):
    x, y, a = clouds
    old_ck, new_ck = tmp_path / "old.ckpt", tmp_path / "new.ckpt"
    with pytest.warns(DeprecationWarning, match=r"checkpoint=Checkpoint\(path, every=\.\.\.\)"):
        part_old = simulate(W1Flow(y), x, 2.0, 0.1, weights=a, checkpoint=old_ck, checkpoint_every=4,
                            callback=_stop_at(9))
    part_new = simulate(W1Flow(y), x, 2.0, 0.1, weights=a, checkpoint=Checkpoint(new_ck, every=4),
                        callback=_stop_at(9))
    assert part_old.status == part_new.status == "interrupted"
    with pytest.warns(DeprecationWarning, match=r"checkpoint=Checkpoint\(path, resume=True\)"):
        done_old = simulate(W1Flow(y), x, 2.0, 0.1, weights=a, checkpoint=old_ck, resume=True)
    done_new = simulate(W1Flow(y), x, 2.0, 0.1, weights=a, checkpoint=Checkpoint(new_ck, resume=True))
    _same(done_old, done_new)
    _same(done_new, simulate(W1Flow(y), x, 2.0, 0.1, weights=a))


@pytest.mark.parametrize("old, exc, match", [
    (dict(save_every=0), ValueError, r"\bsave_every must be >= 1"),
    (dict(save_every=1.5), TypeError, r"\bsave_every must be an integer"),
    (dict(split="yes"), TypeError, r"\bsplit must be True or False"),
    (dict(w1_method="closed"), ValueError, r"\bw1_method must be 'auto' or 'lp'"),
    (dict(checkpoint="x.ckpt", checkpoint_every=0), ValueError, r"\bcheckpoint_every must be >= 1"),
    (dict(save_every=2, saveat=SaveAt(every=2)), TypeError, r"saveat= or the deprecated"),
    (dict(checkpoint=Checkpoint("x.ckpt"), resume=True), TypeError, r"not both"),
    (dict(checkpoint=Checkpoint("x.ckpt"), checkpoint_every=3), TypeError, r"not both"),
    (dict(split=True, solver=Heun()), ValueError, r"Heun does not support split=True"),
    (dict(savevery=2), TypeError, r"unexpected keyword argument 'savevery'"),
])
def test_old_keywords_are_still_validated_by_their_own_name(old, exc, match):
    with pytest.warns(DeprecationWarning) if set(old) & {"save_every", "split", "w1_method", "resume",
                                                         "checkpoint_every"} else _nothing():
        with pytest.raises(exc, match=match):
            simulate(W1Flow(np.zeros((3, 2))), np.ones((3, 2)), 1.0, 0.1, **old)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_order_study_ignores_old_saving_keywords_with_a_warning():
    x0 = np.random.default_rng(0).standard_normal((5, 2))
    prob = MeanFieldODE(lambda x, a, t: -x)
    ref = lambda x, w, T: x * np.exp(-T)  # noqa: E731
    with pytest.warns(DeprecationWarning, match="record_w1"):
        old = order_study(prob, x0, Euler(), 1.0, dt_ladder(0.1, 3), reference=ref, metric="max",
                          simulate_kwargs={"record_w1": False})
    new = order_study(prob, x0, Euler(), 1.0, dt_ladder(0.1, 3), reference=ref, metric="max")
    assert old.errors.tobytes() == new.errors.tobytes()
