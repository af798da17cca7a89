"""Resume refuses another run: the fingerprint covers the drift (code, closure, module-level values
it reads), the oracle and its settings, the solver and its settings, the data, weights and times;
what cannot be compared is refused unless Checkpoint(override=True)."""

import threading

import numpy as np
import pytest

from conftest import generic_cloud, rand_weights
from w1flow import (Checkpoint, CheckpointError, EntropicPotential, Euler, ExactPotential, MeanFieldODE, RK4,
                    SaveAt, W1Flow, simulate)
from w1flow.checkpoint import fingerprint

OMEGA = np.linspace(-1.0, 1.0, 40)  # natural frequencies, read by kuramoto_global
K_GLOBAL = 2.0


def kuramoto(K, omega=OMEGA):
    """Kuramoto oscillators: dθ_i/dt = ω_i + K Σ_j a_j sin(θ_j − θ_i)."""

    def drift(x, a, t):
        th = x[:, 0]
        return (omega + K * (a[None, :] * np.sin(th[None, :] - th[:, None])).sum(axis=1))[:, None]

    return drift


def kuramoto_global(x, a, t):
    th = x[:, 0]
    return (OMEGA + K_GLOBAL * (a[None, :] * np.sin(th[None, :] - th[:, None])).sum(axis=1))[:, None]


def _stop_after(k):
    calls = []

    def callback(t, x, a):
        calls.append(t)
        if len(calls) == k:
            raise KeyboardInterrupt

    return callback


def _theta0():
    return np.random.default_rng(3).uniform(-np.pi, np.pi, (40, 1))


def _interrupted(tmp_path, problem, solver=None, potential=None, x0=None, weights=None, k=50):
    ck = tmp_path / "run.ckpt"
    x0 = _theta0() if x0 is None else x0
    part = simulate(problem, x0, 2.0, 0.01, solver=solver or RK4(), potential=potential, weights=weights,
                    checkpoint=Checkpoint(ck, every=10), callback=_stop_after(k))
    assert part.status == "interrupted"
    return ck


def test_a_resumed_run_with_another_coupling_is_refused(tmp_path):
    ck = _interrupted(tmp_path, MeanFieldODE(kuramoto(2.0)))
    with pytest.raises(CheckpointError, match=r"different run: problem\.drift differ"):
        simulate(MeanFieldODE(kuramoto(3.0)), _theta0(), 2.0, 0.01, solver=RK4(),
                 checkpoint=Checkpoint(ck, resume=True))
    # the same coupling (a new closure, equal values) resumes, bitwise equal to a plain run
    done = simulate(MeanFieldODE(kuramoto(2.0)), _theta0(), 2.0, 0.01, solver=RK4(),
                    checkpoint=Checkpoint(ck, resume=True))
    ref = simulate(MeanFieldODE(kuramoto(2.0)), _theta0(), 2.0, 0.01, solver=RK4())
    assert done.success and done.x_final.tobytes() == ref.x_final.tobytes()


def test_module_level_values_a_drift_reads_are_fingerprinted(tmp_path):
    global K_GLOBAL
    ck = _interrupted(tmp_path, MeanFieldODE(kuramoto_global))
    try:
        K_GLOBAL = 3.0
        with pytest.raises(CheckpointError, match=r"problem\.drift"):
            simulate(MeanFieldODE(kuramoto_global), _theta0(), 2.0, 0.01, solver=RK4(),
                     checkpoint=Checkpoint(ck, resume=True))
    finally:
        K_GLOBAL = 2.0
    assert simulate(MeanFieldODE(kuramoto_global), _theta0(), 2.0, 0.01, solver=RK4(),
                    checkpoint=Checkpoint(ck, resume=True)).success


def test_other_frequencies_in_the_closure_are_refused(tmp_path):
    ck = _interrupted(tmp_path, MeanFieldODE(kuramoto(2.0)))
    with pytest.raises(CheckpointError, match=r"problem\.drift"):
        simulate(MeanFieldODE(kuramoto(2.0, OMEGA * 1.01)), _theta0(), 2.0, 0.01, solver=RK4(),
                 checkpoint=Checkpoint(ck, resume=True))


def _w1_case(rng):
    x, y = generic_cloud(rng, 20, 2, shift=2.0), generic_cloud(rng, 20, 2)
    return x, y


@pytest.mark.parametrize("change, part", [
    (dict(potential=EntropicPotential(0.5)), "oracle"),
    (dict(potential=ExactPotential(warm_start=True)), "oracle"),
    (dict(solver=Euler(reuse_plan=False)), "solver"),
    (dict(solver=Euler(split=True)), "solver"),
    (dict(weights="random"), "weights"),
    (dict(target="moved"), r"problem\.target"),
    (dict(saveat=SaveAt(every=3)), "saveat"),
])
def test_another_oracle_solver_weights_or_target_is_refused(tmp_path, rng, change, part):
    x, y = _w1_case(rng)
    ck = tmp_path / "w1.ckpt"
    simulate(W1Flow(y), x, 1.0, 0.05, solver=Euler(), checkpoint=Checkpoint(ck, every=5),
             callback=_stop_after(7))
    kw = dict(solver=Euler(), checkpoint=Checkpoint(ck, resume=True))
    target = y
    for key, value in change.items():
        if key == "weights":
            kw["weights"] = rand_weights(rng, 20)
        elif key == "target":
            target = y + 1e-9
        else:
            kw[key] = value
    with pytest.raises(CheckpointError, match=rf"different run: .*\b{part}\b.* differ"):
        simulate(W1Flow(target), x, 1.0, 0.05, **kw)
    # and the same run is accepted
    assert simulate(W1Flow(y), x, 1.0, 0.05, solver=Euler(), checkpoint=Checkpoint(ck, resume=True)).success


def test_what_cannot_be_compared_needs_override(tmp_path):
    lock = threading.Lock()  # an object with no value to compare

    def drift(x, a, t):
        with lock:
            return -x

    ck = _interrupted(tmp_path, MeanFieldODE(drift), x0=np.ones((5, 2)))
    with pytest.raises(CheckpointError, match=r"cannot be compared.*override=True"):
        simulate(MeanFieldODE(drift), np.ones((5, 2)), 2.0, 0.01, solver=RK4(),
                 checkpoint=Checkpoint(ck, resume=True))
    done = simulate(MeanFieldODE(drift), np.ones((5, 2)), 2.0, 0.01, solver=RK4(),
                    checkpoint=Checkpoint(ck, resume=True, override=True))
    ref = simulate(MeanFieldODE(drift), np.ones((5, 2)), 2.0, 0.01, solver=RK4())
    assert done.success and done.x_final.tobytes() == ref.x_final.tobytes()


def test_fingerprint_describes_values_not_identities():
    a1, a2 = kuramoto(2.0), kuramoto(2.0)
    assert fingerprint(d=a1).parts == fingerprint(d=a2).parts
    assert fingerprint(d=a1).parts != fingerprint(d=kuramoto(2.5)).parts
    assert fingerprint(d=lambda x, a, t: -x).parts != fingerprint(d=lambda x, a, t: x).parts
    assert fingerprint(o=ExactPotential()).parts == fingerprint(o=ExactPotential()).parts
    assert fingerprint(o=ExactPotential()).parts != fingerprint(o=ExactPotential(num_itermax=10)).parts
    assert fingerprint(r=np.random.default_rng(1)).parts == fingerprint(r=np.random.default_rng(1)).parts
    assert fingerprint(r=np.random.default_rng(1)).parts != fingerprint(r=np.random.default_rng(2)).parts
    assert not fingerprint(d=a1).unverifiable
    assert fingerprint(d=threading.Lock()).unverifiable == ("d (lock)",)
