"""Reliability: public-API fuzzing, reproducibility, checkpoint/resume (with a real kill), monitors."""

import collections
import dataclasses
import re
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from w1flow.checkpoint import read_checkpoint
from w1flow import Checkpoint, CappedEuler, Euler, ExactPotential, SaveAt, W1Flow, metrics, simulate
from w1flow.checkpoint import CheckpointError
from w1flow.datasets import eight_gaussians, gaussian_blob
from w1flow.monitors import HealthCheckError, LipschitzDriftMonitor, W1IncreaseMonitor
from w1flow.potentials.base import PotentialOracle

REPO = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------------
# Fuzzing the public API: every input gives a finite, valid result or a documented exception
# (ValueError / TypeError) whose message names the offending argument.
# ---------------------------------------------------------------------------------------------

FUZZ_EXAMPLES = 100 if os.environ.get("W1FLOW_MUTATION", "") == "1" else 500  # fewer under mutation testing
FUZZ_LOG = collections.Counter()

# One fault at a time (or none), and the argument its error message must name.
FAULTS = {
    "none": None,
    "x0 NaN": "x0", "x0 inf": "x0", "x0 empty": "x0", "x0 3-D": "x0", "x0 wrong dimension": "x0",
    "x0 string": "x0", "x0 None": "x0",
    "target NaN": "target", "target empty": "target", "target string": "target",
    "weights negative": "weights", "weights zero total": "weights", "weights wrong length": "weights",
    "weights NaN": "weights", "weights string": "weights",
    "target_weights negative": "target_weights", "target_weights zero total": "target_weights",
    "target_weights wrong length": "target_weights",
    "dt zero": "dt", "dt negative": "dt", "dt NaN": "dt", "dt inf": "dt", "dt string": "dt", "dt None": "dt",
    "t1 negative": "t1", "t1 NaN": "t1", "t1 string": "t1", "t1 bool": "t1",
    "every 0": "every", "every negative": "every", "every float": "every",
    "every string": "every", "split string": "split",
}
FAULT_NAMES = ["none"] * (len(FAULTS) - 1) + [f for f in FAULTS if f != "none"]


def _names(message, arg):
    """True when the message starts by naming ``arg`` as a whole word (``weights`` is not
    ``target_weights``, and a message naming another argument first does not count)."""
    return re.match(rf"{re.escape(arg)}\b", message) is not None


def _variant(draw, base, rng):
    """A harmless form of a valid cloud: documented conversions, ties, coincident points."""
    form = draw(st.sampled_from(["array", "list", "int", "float32", "strided", "coincident"]))
    if form == "list":
        return form, base.tolist()
    if form == "int":
        return form, np.round(base).astype(np.int64)
    if form == "float32":
        return form, base.astype(np.float32)
    if form == "strided":
        wide = np.zeros((base.shape[0], 2 * base.shape[1]))
        wide[:, ::2] = base
        return form, wide[:, ::2]
    if form == "coincident":
        return form, np.repeat(base[:1], base.shape[0], axis=0)
    return form, base


def _weights(draw, n):
    form = draw(st.sampled_from(["None", "normalised", "unnormalised", "one zero"]))
    if form == "None":
        return form, None
    w = np.arange(1, n + 1, dtype=float)
    if form == "normalised":
        return form, w / w.sum()
    if form == "one zero" and n > 1:
        w[0] = 0.0
    return form, w


def _inject(fault, args, rng):
    x0, y = np.asarray(args["x0"], dtype=float), np.asarray(args["target"], dtype=float)
    bad = {
        "x0 NaN": lambda: np.where(np.arange(x0.size).reshape(x0.shape) == 0, np.nan, x0),
        "x0 inf": lambda: np.where(np.arange(x0.size).reshape(x0.shape) == 0, np.inf, x0),
        "x0 empty": lambda: np.zeros((0, x0.shape[1])),
        "x0 3-D": lambda: x0[:, :, None],
        "x0 wrong dimension": lambda: np.hstack([x0, x0]),
        "x0 string": lambda: "points",
        "x0 None": lambda: None,
        "target NaN": lambda: np.where(np.arange(y.size).reshape(y.shape) == 0, np.nan, y),
        "target empty": lambda: np.zeros((0, y.shape[1])),
        "target string": lambda: "data",
        "weights negative": lambda: -np.ones(x0.shape[0]),
        "weights zero total": lambda: np.zeros(x0.shape[0]),
        "weights wrong length": lambda: np.ones(x0.shape[0] + 1),
        "weights NaN": lambda: np.full(x0.shape[0], np.nan),
        "weights string": lambda: "heavy",
        "target_weights negative": lambda: -np.ones(y.shape[0]),
        "target_weights zero total": lambda: np.zeros(y.shape[0]),
        "target_weights wrong length": lambda: np.ones(y.shape[0] + 2),
        "dt zero": lambda: 0.0, "dt negative": lambda: -0.1, "dt NaN": lambda: np.nan,
        "dt inf": lambda: np.inf, "dt string": lambda: "0.1", "dt None": lambda: None,
        "t1 negative": lambda: -1.0, "t1 NaN": lambda: np.nan, "t1 string": lambda: "1", "t1 bool": lambda: True,
        "every 0": lambda: 0, "every negative": lambda: -2, "every float": lambda: 1.5,
        "every string": lambda: "2", "split string": lambda: "yes",
    }[fault]()
    key = FAULTS[fault]
    args[key] = bad


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_fuzz_public_api(data):
    """W1Flow + simulate + metrics.w1 on valid, converted and faulty input (one fault at a time)."""
    d = data.draw(st.integers(1, 3))
    n, m = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    scale = data.draw(st.sampled_from([1e-3, 1.0, 1e3]))
    xform, x0 = _variant(data.draw, rng.normal(size=(n, d)) * scale + scale, rng)
    yform, y = _variant(data.draw, rng.normal(size=(m, d)) * scale, rng)
    if data.draw(st.booleans()):  # particles sitting on data points, duplicated data points
        y = np.vstack([np.asarray(y, dtype=float), np.asarray(x0, dtype=float)[:1]])
        y = np.vstack([y, y[:1]])
    wform, w = _weights(data.draw, n)
    bform, b = _weights(data.draw, np.asarray(y).shape[0])
    args = dict(x0=x0, target=y, weights=w, target_weights=b, dt=data.draw(st.floats(0.05, 2.0)),
                t1=data.draw(st.floats(0.0, 3.0)), every=data.draw(st.integers(1, 4)),
                split=data.draw(st.booleans()))
    fault = data.draw(st.sampled_from(FAULT_NAMES))
    if fault != "none":
        _inject(fault, args, rng)
    solver_cls = data.draw(st.sampled_from([Euler, CappedEuler]))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # documented: weights normalised
            problem = W1Flow(args["target"], args["target_weights"])
            solver = solver_cls(split=args["split"])
            res = simulate(problem, args["x0"], args["t1"], args["dt"], solver=solver,
                           weights=args["weights"], saveat=SaveAt(every=args["every"]))
            direct = metrics.w1(args["x0"], args["target"], args["weights"], args["target_weights"])
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        if fault == "none":  # the one documented refusal of valid input
            assert solver_cls is CappedEuler and not args["split"] and "split=True" in msg, msg
            FUZZ_LOG["valid input -> CappedEuler asks for split=True"] += 1
        else:
            assert _names(msg, FAULTS[fault]), (fault, msg)
            FUZZ_LOG[f"{fault} -> {type(exc).__name__}"] += 1
        FUZZ_LOG[type(exc).__name__] += 1
        return
    assert fault == "none", f"{fault} was accepted"
    assert res.status == "success", res.message
    assert all(np.all(np.isfinite(x)) for x in res.xs)
    assert res.w1 is not None and np.all(np.isfinite(res.w1)) and np.all(res.w1 >= -1e-12)
    assert len(res.ts) == len(res.w1) == len(res.xs) and res.ts[0] == 0.0
    assert res.w1[0] == pytest.approx(direct, rel=1e-9, abs=1e-9 * scale)
    # W1 never drops by more than the time elapsed between saves
    assert np.all(np.diff(res.w1) >= -np.diff(res.ts) - 1e-9 * (1 + res.w1[0]))
    FUZZ_LOG["valid result"] += 1
    FUZZ_LOG[f"valid ({xform} x0, {wform} weights) -> result"] += 1


@pytest.mark.parametrize("fault", [f for f in FAULTS if f != "none"])
def test_every_fault_of_the_battery_is_refused_with_its_argument_named(fault):
    rng = np.random.default_rng(0)
    args = dict(x0=rng.normal(size=(4, 2)) + 2, target=rng.normal(size=(5, 2)), weights=None,
                target_weights=None, dt=0.1, t1=1.0, every=1, split=False)
    _inject(fault, args, rng)
    with pytest.raises((ValueError, TypeError)) as err:
        problem = W1Flow(args["target"], args["target_weights"])
        simulate(problem, args["x0"], args["t1"], args["dt"], weights=args["weights"],
                 saveat=SaveAt(every=args["every"]), solver=Euler(split=args["split"]))
    assert _names(str(err.value), FAULTS[fault]), str(err.value)


def test_fuzz_count_report(capsys):
    total = FUZZ_LOG["valid result"] + FUZZ_LOG["ValueError"] + FUZZ_LOG["TypeError"]
    if total == 0:  # the fuzz ran in another process (pytest -n) or was deselected: run it here
        test_fuzz_public_api()
        total = FUZZ_LOG["valid result"] + FUZZ_LOG["ValueError"] + FUZZ_LOG["TypeError"]
    with capsys.disabled():
        print(f"\n[fuzz] {total} public-API examples: {FUZZ_LOG['valid result']} valid results, "
              f"{FUZZ_LOG['ValueError']} ValueError, {FUZZ_LOG['TypeError']} TypeError")
        for key in sorted(k for k in FUZZ_LOG if "->" in k):
            print(f"[fuzz]   {FUZZ_LOG[key]:4d}  {key}")
    assert total >= FUZZ_EXAMPLES
    # the mix of outcomes, as fractions of FUZZ_EXAMPLES (100 / 50 / 20 of 500)
    assert FUZZ_LOG["valid result"] >= FUZZ_EXAMPLES // 5 and FUZZ_LOG["ValueError"] >= FUZZ_EXAMPLES // 10
    assert FUZZ_LOG["TypeError"] >= FUZZ_EXAMPLES // 25


# ---------------------------------------------------------------------------------------------
# Reproducibility
# ---------------------------------------------------------------------------------------------


def _demo_problem(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return gaussian_blob(n, seed=rng), eight_gaussians(n, seed=rng)


def test_same_seed_gives_bitwise_identical_runs():
    x1, y1 = _demo_problem(seed=7)
    x2, y2 = _demo_problem(seed=7)
    assert x1.tobytes() == x2.tobytes() and y1.tobytes() == y2.tobytes()
    r1 = simulate(W1Flow(y1), x1, 2.0, 0.1)
    r2 = simulate(W1Flow(y2), x2, 2.0, 0.1)
    assert r1.x_final.tobytes() == r2.x_final.tobytes()
    assert r1.w1.tobytes() == r2.w1.tobytes()
    x3, _ = _demo_problem(seed=8)
    assert x3.tobytes() != x1.tobytes()
    assert metrics.sliced_w1(x1, y1, seed=3) == metrics.sliced_w1(x1, y1, seed=np.random.default_rng(3))


# ---------------------------------------------------------------------------------------------
# Checkpoint / resume
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("solver_cls, split", [(Euler, False), (CappedEuler, False), (Euler, True)])
def test_interrupt_and_resume_is_bitwise_identical(tmp_path, solver_cls, split):
    x, y = _demo_problem(n=50, seed=1)
    w = np.linspace(1, 2, 50) / np.linspace(1, 2, 50).sum() if split else None
    kwargs = dict(solver=solver_cls(split=split), weights=w, saveat=SaveAt(every=3))
    ref = simulate(W1Flow(y), x, 2.0, 0.05, **kwargs)
    ck = tmp_path / "run.ckpt"
    steps = []

    def interrupt_once(t, xx, aa):
        steps.append(t)
        if len(steps) == 23:
            raise KeyboardInterrupt

    part = simulate(W1Flow(y), x, 2.0, 0.05, callback=interrupt_once, checkpoint=Checkpoint(ck, every=5),
                    **kwargs)
    assert part.status == "interrupted" and "resume=True" in part.message
    assert part.n_steps == 23 and ck.exists()
    done = simulate(W1Flow(y), x, 2.0, 0.05, checkpoint=Checkpoint(ck, resume=True), **kwargs)
    assert done.success and done.n_steps == ref.n_steps
    assert done.x_final.tobytes() == ref.x_final.tobytes()
    assert done.w1.tobytes() == ref.w1.tobytes()
    assert done.ts.tobytes() == ref.ts.tobytes()
    assert all(p.tobytes() == q.tobytes() for p, q in zip(done.xs, ref.xs))


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path):
    x, y = _demo_problem(n=20)
    ck = tmp_path / "run.ckpt"
    simulate(W1Flow(y), x, 0.5, 0.1, checkpoint=ck)
    with pytest.raises(CheckpointError, match="different run"):
        simulate(W1Flow(y), x, 0.5, 0.05, checkpoint=Checkpoint(ck, resume=True))
    ck.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not be read"):
        simulate(W1Flow(y), x, 0.5, 0.1, checkpoint=Checkpoint(ck, resume=True))


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from w1flow import Checkpoint, SaveAt, W1Flow, simulate
    from w1flow.datasets import gaussian_blob, eight_gaussians
    rng = np.random.default_rng(1)
    x, y = gaussian_blob(80, seed=rng), eight_gaussians(80, seed=rng)
    def slow(t, xx, aa):
        time.sleep(0.02)
    simulate(W1Flow(y), x, 3.0, 0.02, saveat=SaveAt(every=4), callback=slow if sys.argv[2] == "slow" else None,
             checkpoint=Checkpoint(sys.argv[1], every=10, resume=True))
    """
)


@pytest.mark.slow
def test_kill_the_process_and_resume_bitwise(tmp_path):
    ck = tmp_path / "killed.ckpt"
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, str(script), str(ck), "slow"], env=env)
    try:
        deadline = time.time() + 120
        k = 0
        while time.time() < deadline:
            if ck.exists():
                k = read_checkpoint(ck)["k"]
                if k >= 30:
                    break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # no chance to clean up
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert 30 <= k < 150, k
    rng = np.random.default_rng(1)
    x, y = gaussian_blob(80, seed=rng), eight_gaussians(80, seed=rng)
    resumed = simulate(W1Flow(y), x, 3.0, 0.02, saveat=SaveAt(every=4),
                       checkpoint=Checkpoint(ck, every=10, resume=True))
    ref = simulate(W1Flow(y), x, 3.0, 0.02, saveat=SaveAt(every=4))
    assert resumed.success
    assert resumed.x_final.tobytes() == ref.x_final.tobytes()
    assert resumed.w1.tobytes() == ref.w1.tobytes()


# ---------------------------------------------------------------------------------------------
# Health monitors
# ---------------------------------------------------------------------------------------------


class _Backwards(CappedEuler):
    """A broken solver: moves particles away from their targets (W1 must then rise)."""

    def step(self, ctx, t, dt, x, a, state):
        res = super().step(ctx, t, dt, x, a, state)
        return dataclasses.replace(res, x=2 * state.start - res.x)


def test_w1_rise_under_capped_flow_is_flagged():
    x, y = _demo_problem(n=30)
    stopped = simulate(W1Flow(y), x, 1.0, 0.1, solver=_Backwards())
    assert stopped.status == "unhealthy" and "W1 rose" in stopped.message
    with pytest.raises(HealthCheckError, match="W1 rose"):
        simulate(W1Flow(y), x, 1.0, 0.1, solver=_Backwards(), on_unhealthy="raise")
    with pytest.warns(RuntimeWarning, match="W1 rose"):
        warned = simulate(W1Flow(y), x, 1.0, 0.1, solver=_Backwards(), on_unhealthy="warn")
    assert warned.success and len(warned.health) >= 1
    # the healthy capped flow and the chattering uncapped Euler are not flagged
    assert simulate(W1Flow(y), x, 6.0, 0.1, solver=CappedEuler()).health == []
    chatter = simulate(W1Flow(y), x, 8.0, 0.3, solver=Euler())
    assert chatter.success and np.any(np.diff(chatter.w1) > 1e-9)  # W1 does rise there ...
    assert chatter.health == []  # ... legitimately


class _DriftingCritic(PotentialOracle):
    """A fake learned potential whose Lipschitz estimate drifts upward."""

    def __init__(self):
        super().__init__()
        self.exact = ExactPotential()

    def __call__(self, x, a, y, b, t=0.0):
        pot = self.exact(x, a, y, b)
        pot.lipschitz = 2.5 + t  # above the default bound 3 from t = 0.6 on
        self.counters["evaluations"] += 1
        return pot


def test_critic_lipschitz_drift_is_flagged():
    x, y = _demo_problem(n=20)
    res = simulate(W1Flow(y), x, 2.0, 0.1, potential=_DriftingCritic())
    assert res.status == "unhealthy" and "Lipschitz" in res.message
    # 2.5 + t first exceeds 3 for the field computed at t = 0.6 (the oracle's first evaluation
    # since the plan stopped being carried, in the step 0.6 -> 0.7): seen right after that step
    assert res.ts[-1] == pytest.approx(0.7)
    mon = LipschitzDriftMonitor(max_lipschitz=10)
    assert mon.check(0.0, x, None, [], type("P", (), {"lipschitz": 3.0})()) is None


def test_nan_from_a_bad_drift_stops_the_run():
    class NaNOracle(PotentialOracle):
        def __call__(self, x, a, y, b, t=0.0):
            pot = ExactPotential()(x, a, y, b)
            pot._velocity = np.full_like(x, np.nan)
            return pot

    x, y = _demo_problem(n=10)
    res = simulate(W1Flow(y), x, 1.0, 0.1, potential=NaNOracle(), saveat=SaveAt(w1=None))
    assert res.status == "nonfinite" and res.n_steps == 1
    assert all(np.all(np.isfinite(s)) for s in res.xs)
    assert W1IncreaseMonitor().check(0, x, None, [1.0, 1.0 + 1e-6], None) is not None


def test_max_steps_guard_names_dt():
    x, y = _demo_problem(n=5)
    with pytest.raises(ValueError, match=r"\bmax_steps\b"):
        simulate(W1Flow(y), x, 1.0, 1e-9)


def test_critic_driven_flow_resumes_bitwise(tmp_path):
    """The oracle (critic weights, Adam moments, random generator) is part of the checkpoint."""
    from w1flow import CriticPotential

    x, y = _demo_problem(n=48, seed=2)

    def critic():
        return CriticPotential(lipschitz="hard", hidden=(32, 32), n_warmup=40, n_critic=3, seed=5)

    every2 = SaveAt(every=2)
    ref = simulate(W1Flow(y), x, 0.6, 0.05, potential=critic(), saveat=every2)
    ck = tmp_path / "critic.ckpt"
    calls = []

    def stop(t, xx, aa):
        calls.append(t)
        if len(calls) == 7:
            raise KeyboardInterrupt

    part = simulate(W1Flow(y), x, 0.6, 0.05, potential=critic(), saveat=every2, callback=stop,
                    checkpoint=Checkpoint(ck, every=3))
    assert part.status == "interrupted"
    done = simulate(W1Flow(y), x, 0.6, 0.05, potential=critic(), saveat=every2,
                    checkpoint=Checkpoint(ck, resume=True))
    assert done.success
    assert done.x_final.tobytes() == ref.x_final.tobytes()
    assert done.w1.tobytes() == ref.w1.tobytes()
    # and a fresh critic with the same seed repeats the run bitwise
    again = simulate(W1Flow(y), x, 0.6, 0.05, potential=critic(), saveat=every2)
    assert again.x_final.tobytes() == ref.x_final.tobytes()


class _Flaky(ExactPotential):
    """An exact oracle that is interrupted on its 3rd call, in the middle of a step."""

    calls = 0
    # no state of its own besides the class-level counter: the exact oracle's protocol (w1flow.checkpoint)
    state_dict = ExactPotential.state_dict
    load_state = ExactPotential.load_state

    def __call__(self, *args, **kwargs):
        _Flaky.calls += 1
        if _Flaky.calls == 3:
            raise KeyboardInterrupt
        return super().__call__(*args, **kwargs)


def test_interrupt_inside_a_step_keeps_the_last_consistent_checkpoint(tmp_path):
    x, y = _demo_problem(n=40, seed=3)
    _Flaky.calls = 0  # a class-level counter: reset it, or a second run in one process never interrupts
    Flaky = _Flaky
    ck = tmp_path / "mid.ckpt"
    every4 = SaveAt(every=4)
    ref = simulate(W1Flow(y), x, 1.0, 0.05, saveat=every4, solver=Euler(reuse_plan=False))
    part = simulate(W1Flow(y), x, 1.0, 0.05, saveat=every4, potential=Flaky(), checkpoint=Checkpoint(ck, every=1),
                    solver=Euler(reuse_plan=False))
    assert part.status == "interrupted" and "last periodic checkpoint is kept" in part.message
    assert read_checkpoint(ck)["k"] == part.n_steps >= 1  # the last completed step
    done = simulate(W1Flow(y), x, 1.0, 0.05, saveat=every4, checkpoint=Checkpoint(ck, resume=True),
                    potential=Flaky(), solver=Euler(reuse_plan=False))  # the same oracle (past its fault)
    assert done.x_final.tobytes() == ref.x_final.tobytes()
    assert done.w1.tobytes() == ref.w1.tobytes()


# each fault, and how the error message must start: the argument it names, first
ORACLE_FAULTS = {
    "x NaN": (r"x contains", lambda x, a, y, b: (np.where(x == x[0, 0], np.nan, x), a, y, b)),
    "x empty": (r"x is empty", lambda x, a, y, b: (x[:0], a, y, b)),
    "x 3-D": (r"x must have shape", lambda x, a, y, b: (x[:, :, None], a, y, b)),
    "y inf": (r"y contains", lambda x, a, y, b: (x, a, np.where(y == y[0, 0], np.inf, y), b)),
    "y other dimension": (r"(x|y) has dimension \d+(,)? but (dimension|y has dimension)",
                          lambda x, a, y, b: (x, a, np.hstack([y, y]), b)),
    "a negative": (r"a must be non-negative", lambda x, a, y, b: (x, -np.ones(len(x)), y, b)),
    "a wrong length": (r"a must have shape", lambda x, a, y, b: (x, np.ones(len(x) + 1), y, b)),
    "b zero total": (r"b have zero total mass", lambda x, a, y, b: (x, a, y, np.zeros(len(y)))),
    "b string": (r"b must be an array", lambda x, a, y, b: (x, a, y, "uniform")),
}


def _oracles():
    from w1flow import CriticPotential, EntropicPotential, QuantilePotential

    return {
        "exact": (ExactPotential(), 2),
        "entropic": (EntropicPotential(0.5), 2),
        "quantile": (QuantilePotential(), 1),
        "critic": (CriticPotential(hidden=(8,), n_warmup=3, seed=0), 2),
    }


@pytest.mark.parametrize("oracle_name", ["exact", "entropic", "quantile", "critic"])
@pytest.mark.parametrize("fault", list(ORACLE_FAULTS))
def test_oracles_called_directly_name_the_bad_argument(oracle_name, fault):
    oracle, d = _oracles()[oracle_name]
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, d)) + 1, rng.normal(size=(5, d))
    a, b = np.full(6, 1 / 6), np.full(5, 1 / 5)
    name, make = ORACLE_FAULTS[fault]
    with pytest.raises((ValueError, TypeError)) as err:
        oracle(*make(x, a, y, b))
    assert re.match(name, str(err.value)), str(err.value)
    pot = oracle(x, a, y, b)  # and the valid call works, with finite values
    assert pot.success and np.all(np.isfinite(pot.velocity)) and np.isfinite(pot.w1)
