"""The driver loop of simulate: what it reports (progress, logs, counters, times), where it stops
(max_steps, callbacks, interrupts in and between steps) and what its checkpoints then hold."""

import logging
import re
import time

import numpy as np
import ot
import pytest
from scipy.spatial.distance import cdist

from conftest import MUTATION_RUN, generic_cloud, rand_weights
from w1flow import (CappedEuler, Checkpoint, EntropicPotential, Euler, MeanFieldODE, MemoryBudgetError, SaveAt,
                    W1Flow, simulate)
from w1flow.lp import LP_DENSE_MATRICES, dense_bytes


def _decay(x, a, t):
    return -x


def _ckpt(path):
    from w1flow.checkpoint import read_checkpoint

    return read_checkpoint(path)


def test_progress_bar_counts_every_step_also_after_a_resume(tmp_path, capsys):
    x0 = np.ones((3, 2))
    simulate(MeanFieldODE(_decay), x0, 1.0, 0.1)
    assert capsys.readouterr().err == ""  # no bar unless asked
    simulate(MeanFieldODE(_decay), x0, 1.0, 0.1, progress=True)
    err = capsys.readouterr().err
    assert "w1flow euler" in err and "10/10" in err

    calls = []

    def stop_at_4(t, x, a):
        calls.append(t)
        if len(calls) == 4:
            raise KeyboardInterrupt

    ck = tmp_path / "run.ckpt"
    part = simulate(MeanFieldODE(_decay), x0, 1.0, 0.1, checkpoint=Checkpoint(ck, every=2), callback=stop_at_4)
    assert part.status == "interrupted" and part.n_steps == 4
    capsys.readouterr()
    done = simulate(MeanFieldODE(_decay), x0, 1.0, 0.1, checkpoint=Checkpoint(ck, resume=True), progress=True)
    err = capsys.readouterr().err
    assert done.success and done.n_steps == 10
    assert "10/10" in err and " 4/10" in err  # starts where the run stopped


def test_max_steps_is_inclusive():
    x0 = np.ones((2, 1))
    stop = lambda t, x, a: True  # noqa: E731 - stop after the first step
    assert simulate(MeanFieldODE(_decay), x0, 1.0, 0.25, max_steps=4, callback=stop).status == "callback"
    with pytest.raises(ValueError, match=r"asks for 5 steps, more than max_steps=4"):
        simulate(MeanFieldODE(_decay), x0, 1.25, 0.25, max_steps=4)
    # the default guard: ten million steps are allowed, one more is refused before any work
    assert simulate(MeanFieldODE(_decay), x0, 10_000_000 * 0.5, 0.5, callback=stop).status == "callback"
    with pytest.raises(ValueError, match=r"max_steps=10000000\b"):
        simulate(MeanFieldODE(_decay), x0, 10_000_001 * 0.5, 0.5)


def _interrupting_drift(at_call):
    calls = []

    def drift(x, a, t):
        calls.append(t)
        if len(calls) == at_call:
            raise KeyboardInterrupt
        return -x

    return drift


def test_an_interrupt_inside_a_step_keeps_the_last_periodic_checkpoint(tmp_path):
    ck = tmp_path / "run.ckpt"
    x0 = np.linspace(1, 2, 6)[:, None]
    # Euler evaluates the drift once per step (the first call is step 1): interrupt step 8
    res = simulate(MeanFieldODE(_interrupting_drift(8)), x0, 1.0, 0.1, checkpoint=Checkpoint(ck, every=3))
    assert res.status == "interrupted" and res.n_steps == 7
    assert "interrupted mid-step: the last periodic checkpoint is kept" in res.message
    saved = _ckpt(ck)
    assert saved["k"] == 6 and saved["status"] == "running"
    # the kept state is a consistent one: resuming reproduces the uninterrupted run bitwise
    whole = simulate(MeanFieldODE(_decay), x0, 1.0, 0.1)
    # (a fresh drift of the same kind has the same fingerprint; it would stop at its 8th call only)
    again = simulate(MeanFieldODE(_interrupting_drift(8)), x0, 1.0, 0.1, checkpoint=Checkpoint(ck, resume=True))
    assert again.success and np.array_equal(again.x_final, whole.x_final)
    # an interrupt in the very first evaluation leaves no checkpoint at all
    ck2 = tmp_path / "first.ckpt"
    res = simulate(MeanFieldODE(_interrupting_drift(1)), x0, 1.0, 0.1, checkpoint=Checkpoint(ck2, every=3))
    assert res.status == "interrupted" and res.n_steps == 0 and not ck2.exists()
    # nor does an interrupt while the solver initialises (here: the first LP of a W1 flow)
    from w1flow import ExactPotential

    class Interrupting(ExactPotential):
        state_dict, load_state = ExactPotential.state_dict, ExactPotential.load_state  # adds no state

        def __call__(self, *args, **kwargs):
            raise KeyboardInterrupt

    ck3 = tmp_path / "init.ckpt"
    y = np.linspace(3, 4, 6)[:, None]
    res = simulate(W1Flow(y), x0, 1.0, 0.1, potential=Interrupting(), checkpoint=Checkpoint(ck3, every=3))
    assert res.status == "interrupted" and res.n_steps == 0 and not ck3.exists()
    assert "mid-step" in res.message


def test_an_interrupt_between_steps_checkpoints_the_state_reached(tmp_path):
    ck = tmp_path / "run.ckpt"
    x0 = np.linspace(1, 2, 6)[:, None]
    calls = []

    def stop(t, x, a):
        calls.append(t)
        if len(calls) == 5:
            raise KeyboardInterrupt

    res = simulate(MeanFieldODE(_decay), x0, 1.0, 0.1, checkpoint=Checkpoint(ck, every=3), callback=stop)
    assert res.status == "interrupted" and res.n_steps == 5
    assert res.message.endswith(f"; resume with checkpoint=Checkpoint({str(ck)!r}, resume=True)")
    assert "mid-step" not in res.message
    saved = _ckpt(ck)
    assert saved["k"] == 5 and saved["status"] == "interrupted"
    assert res.ts[-1] == pytest.approx(0.5, abs=1e-15)


def test_a_path_checkpoint_uses_the_0_1_defaults(tmp_path):
    ck = tmp_path / "run.ckpt"
    x0 = np.linspace(1, 2, 4)[:, None]
    res = simulate(MeanFieldODE(_interrupting_drift(131)), x0, 15.0, 0.1, checkpoint=str(ck))
    assert res.status == "interrupted" and _ckpt(ck)["k"] == 100  # every=100
    # no resume unless asked: another run on the same path starts afresh (and overwrites it)
    other = simulate(MeanFieldODE(_decay), 2 * x0, 1.0, 0.1, checkpoint=str(ck))
    assert other.success and other.n_steps == 10 and _ckpt(ck)["status"] == "success"


def test_a_stop_between_save_points_keeps_the_state_reached_without_more_lps(rng):
    n = 12
    x, y = generic_cloud(rng, n, 2), generic_cloud(rng, n, 2) + 2.0
    calls = []

    def stop(t, xx, a):
        calls.append(t)
        return len(calls) == 3

    res = simulate(W1Flow(y), x, 1.0, 0.1, solver=CappedEuler(), saveat=SaveAt(every=5), callback=stop)
    assert res.status == "callback" and res.n_steps == 3
    assert res.ts.tolist() == pytest.approx([0.0, 0.3], abs=1e-15)
    assert res.n_lp_solves == 1  # the whole capped run, the last snapshot included, costs one LP
    a = np.full(n, 1 / n)
    ref = ot.emd2(a, a, cdist(res.x_final, y), numItermax=10**7)
    assert abs(res.w1[-1] - ref) <= 1e-12


def test_the_driver_logs_only_failures(rng, caplog):
    x, y = generic_cloud(rng, 8, 2), generic_cloud(rng, 8, 2)
    with caplog.at_level(logging.INFO, logger="w1flow"):
        assert simulate(W1Flow(y), x, 0.3, 0.1).success
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    with caplog.at_level(logging.INFO, logger="w1flow"):
        res = simulate(W1Flow(y), x, 0.3, 0.1, callback=lambda t, xx, a: True)
    assert res.status == "callback"
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [f"simulate stopped: {res.message}"]


def test_recorded_w1_lps_keep_the_oracles_memory_budget(rng):
    n = 30
    x, y = rng.standard_normal((n, 2)), rng.standard_normal((n, 2)) + 2
    budget = dense_bytes(n, n, LP_DENSE_MATRICES)
    ok = simulate(W1Flow(y), x, 0.2, 0.1, potential=EntropicPotential(reg=0.1, max_memory=budget),
                  saveat=SaveAt(w1="lp"))
    assert ok.success and ok.n_lp_solves == 3
    with pytest.raises(MemoryBudgetError, match=r"\b30 x 30\b"):
        simulate(W1Flow(y), x, 0.2, 0.1, potential=EntropicPotential(reg=0.1, max_memory=budget - 1),
                 saveat=SaveAt(w1="lp"))


def test_result_reports_dt_and_wall_time(rng):
    x, y = generic_cloud(rng, 10, 2), generic_cloud(rng, 10, 2)
    start = time.perf_counter()
    res = simulate(W1Flow(y), x, 0.5, 0.125, solver=Euler(reuse_plan=False))
    outer = time.perf_counter() - start
    assert res.dt == 0.125 and res.n_steps == 4
    assert 0 < res.wall_time <= outer and res.timings["total"] == res.wall_time
    assert 0 < res.timings["field"] <= res.wall_time and 0 <= res.timings["w1"] <= res.wall_time


def test_lp_counts_are_per_run_when_an_oracle_is_reused(rng):
    from w1flow import ExactPotential

    x, y = generic_cloud(rng, 8, 2) + 2, generic_cloud(rng, 8, 2)
    oracle = ExactPotential()
    first = simulate(W1Flow(y), x, 0.3, 0.1, solver=Euler(reuse_plan=False), potential=oracle)
    second = simulate(W1Flow(y), x, 0.3, 0.1, solver=Euler(reuse_plan=False), potential=oracle)
    assert first.n_lp_solves == second.n_lp_solves == oracle.counters["lp_solves"] // 2 > 0


def test_a_w1_rise_from_the_previous_step_is_flagged_even_below_the_start(rng):
    """The every-step W1 trace compares each value with the one before it, not with W1(0)."""
    from w1flow.solvers import W1Record

    values = iter([3.0, 2.0, 2.5, 1.0, 0.5])

    class Rising(CappedEuler):
        def w1(self, ctx, state, t, x, a, certify=True):
            return W1Record(w1=next(values))

    x, y = generic_cloud(rng, 6, 2) + 2, generic_cloud(rng, 6, 2)
    res = simulate(W1Flow(y), x, 0.4, 0.1, solver=Rising(), saveat=SaveAt(w1=None))
    assert res.status == "unhealthy" and "W1 rose from 2 to 2.5" in res.message


def test_capped_euler_certifies_at_save_points_only(rng, monkeypatch):
    """The every-step W1 of the monitors is the O(n) plan cost; the O(nm) certificate runs where
    W1 is recorded."""
    from w1flow.potentials.exact import ExactKantorovichPotential

    calls = []
    real = ExactKantorovichPotential.certify

    def spy(self, *args, **kw):
        calls.append(1)
        return real(self, *args, **kw)

    monkeypatch.setattr(ExactKantorovichPotential, "certify", spy)
    x, y = generic_cloud(rng, 6, 2) + 2, generic_cloud(rng, 6, 2)
    res = simulate(W1Flow(y), x, 1.0, 0.1, solver=CappedEuler(certify=True), saveat=SaveAt(every=5))
    assert res.success and res.n_steps == 10 and len(res.ts) == 3
    assert len(calls) == len(res.ts)


def test_field_time_adds_up_every_evaluation():
    """timings['field'] is the sum over all field evaluations (here 5 of at least 20 ms each)."""
    def slow(x, a, t):
        time.sleep(0.02)
        return -x

    res = simulate(MeanFieldODE(slow), np.ones((4, 2)), 0.5, 0.1, solver=Euler())
    assert res.n_field_evals == 5
    assert 5 * 0.02 <= res.timings["field"] <= res.wall_time


def test_the_deprecated_checkpoint_every_and_resume_reach_the_checkpoint(tmp_path):
    ck = tmp_path / "run.ckpt"
    x0 = np.linspace(1, 2, 4)[:, None]
    with pytest.warns(DeprecationWarning, match=r"\bcheckpoint_every\b"):
        res = simulate(MeanFieldODE(_interrupting_drift(11)), x0, 1.5, 0.1, checkpoint=str(ck),
                       checkpoint_every=4)
    assert res.status == "interrupted" and _ckpt(ck)["k"] == 8  # every=4, not the default 100
    with pytest.warns(DeprecationWarning, match=r"\bresume\b"):
        again = simulate(MeanFieldODE(_interrupting_drift(11)), x0, 1.5, 0.1, checkpoint=str(ck), resume=True)
    # resumed at step 8: its drift is called for steps 9.. only, so it does not reach its 11th call
    assert again.success and again.n_steps == 15
    assert np.array_equal(again.x_final, simulate(MeanFieldODE(_decay), x0, 1.5, 0.1).x_final)


@pytest.mark.skipif(MUTATION_RUN, reason="mutmut's trampoline adds a frame between the caller and simulate()")
def test_a_deprecated_keyword_warns_at_the_callers_line(rng):
    y = generic_cloud(rng, 5, 2)
    with pytest.warns(DeprecationWarning) as caught:
        simulate(W1Flow(y), y + 1.0, 0.2, 0.1, save_every=1)
    assert [w.filename for w in caught] == [__file__]


def test_a_solver_class_is_instantiated_with_its_defaults(rng):
    y = generic_cloud(rng, 6, 2)
    by_class = simulate(W1Flow(y), y + 2.0, 0.5, 0.1, solver=CappedEuler)
    by_instance = simulate(W1Flow(y), y + 2.0, 0.5, 0.1, solver=CappedEuler())
    assert by_class.success and np.array_equal(by_class.w1, by_instance.w1)
    assert by_class.solver == by_instance.solver == "capped_euler"


def test_a_solver_that_needs_a_plan_names_the_oracle_or_problem_it_got(rng):
    y = generic_cloud(rng, 6, 2)
    with pytest.raises(TypeError, match=r"got EntropicPotential\. Use Euler\(\) without split"):
        simulate(W1Flow(y, potential=EntropicPotential(0.5)), y + 1.0, 1.0, 0.1, solver=Euler(split=True))
    with pytest.raises(TypeError, match=r"got MeanFieldODE\. Use Euler\(\) without split"):
        simulate(MeanFieldODE(_decay), y, 1.0, 0.1, solver=Euler(split=True))


class _Recorder:
    """A health monitor that records what it is shown and flags from ``flag_from`` on."""

    def __new__(cls, every_step, flag_from=np.inf):
        from w1flow.monitors import HealthMonitor

        class Rec(HealthMonitor):
            def check(self, t, x, a, w1_history, field):
                self.calls.append((t, np.array(x), np.array(a), list(w1_history), field, x.flags.writeable))
                return f"flagged at t={t:.2f}" if t >= flag_from - 1e-12 else None

        rec = Rec()
        rec.every_step, rec.calls = every_step, []
        return rec


def test_save_point_monitors_see_the_snapshot_its_w1_history_and_the_field(rng):
    y = generic_cloud(rng, 8, 2)
    x0, a = y + 3.0, rand_weights(rng, 8)
    late = _Recorder(every_step=False, flag_from=0.8)
    res = simulate(W1Flow(y), x0, 1.0, 0.1, weights=a, solver=Euler(), saveat=SaveAt(ts=(0.2, 0.4, 0.6, 0.8, 0.9)),
                   monitors=[late])
    assert res.status == "unhealthy" and "flagged at t=0.80" in res.message
    assert np.allclose(res.ts, [0.0, 0.2, 0.4, 0.6, 0.8], rtol=0, atol=1e-15)  # stopped where it flagged
    assert [c[0] for c in late.calls] == list(res.ts)  # save points only, t = 0 included
    for (t, x, w, hist, field, writeable), xs, w1 in zip(late.calls, res.xs, np.arange(len(res.ts))):
        assert np.array_equal(x, xs) and np.array_equal(w, a) and not writeable
        assert hist == list(res.w1[: w1 + 1])  # the recorded W1 values so far
        assert field is not None and field.w1 == hist[-1]  # the field W1 was read from, at this point


def test_every_step_monitors_see_each_new_field_once_and_the_weights(rng):
    y = generic_cloud(rng, 8, 2)
    x0, a = y + 3.0, rand_weights(rng, 8)
    each = _Recorder(every_step=True)
    res = simulate(W1Flow(y), x0, 0.5, 0.1, weights=a, solver=CappedEuler(split=True), monitors=[each],
                   saveat=SaveAt(ts=(0.5,)))
    assert res.success and len(each.calls) == 1 + res.n_steps  # t = 0, then every step
    fields = [c[4] for c in each.calls]
    # CappedEuler evaluates one field (its LP at t = 0) and W1 in O(n) afterwards: the monitors get
    # that field once, at the first check, and None at the steps that evaluated nothing
    assert fields[0] is not None and all(f is None for f in fields[1:])
    for t, x, w, hist, field, writeable in each.calls:
        assert not writeable and w.shape == (x.shape[0],) and np.isclose(w.sum(), 1.0)


def test_a_solver_that_fails_while_initialising_returns_the_start_only(rng):
    """A custom solver whose init evaluates the field (the contract allows it) and fails."""
    y = generic_cloud(rng, 12, 2)
    x0 = y + 3.0

    class EagerEuler(Euler):
        def init(self, ctx, t0, dt0, x, a):
            field = ctx.field(x, a, t0)
            if not field.success:
                from w1flow.solvers import StepResult

                return StepResult.failed(x, a, field)
            return super().init(ctx, t0, dt0, x, a)

    res = simulate(W1Flow(y, potential=EntropicPotential(0.01, max_iter=3)), x0, 1.0, 0.1, solver=EagerEuler())
    assert res.status == "sinkhorn_failed" and "Sinkhorn did not converge" in res.message
    assert res.n_steps == 0 and np.array_equal(res.ts, [0.0]) and np.array_equal(res.xs[0], x0)
    assert res.w1 is None


def test_recorded_w1_lps_of_an_oracle_without_a_budget_use_the_default(rng, monkeypatch):
    """The critic has no memory budget of its own: the W1 history's LPs keep the default one."""
    import importlib

    from w1flow import CriticPotential
    from w1flow.lp import DEFAULT_MEMORY_BUDGET

    saving = importlib.import_module("w1flow.saving")
    seen = []
    real = saving.w1_value
    monkeypatch.setattr(saving, "w1_value", lambda *args, **kw: seen.append(kw.get("max_memory")) or real(*args, **kw))
    y = generic_cloud(rng, 10, 2)
    oracle = CriticPotential(seed=0, n_warmup=20, max_critic=20)
    assert not hasattr(oracle, "max_memory")
    simulate(W1Flow(y, potential=oracle), y + 2.0, 0.1, 0.1, saveat=SaveAt(w1="lp"))
    assert seen and all(m == DEFAULT_MEMORY_BUDGET for m in seen)


class _FlagFrom:
    def __new__(cls, t0):
        from w1flow.monitors import HealthMonitor

        class Flag(HealthMonitor):
            every_step = True

            def check(self, t, x, a, w1_history, field):
                return f"late (t={t:.2f})" if t >= t0 - 1e-12 else None

        return Flag()


def test_a_monitor_still_flagging_after_a_resume_does_not_warn_again(tmp_path):
    ck = tmp_path / "run.ckpt"
    x0 = np.linspace(1, 2, 4)[:, None]

    def stop_at(k):
        calls = []

        def cb(t, x, a):
            calls.append(t)
            if len(calls) == k:
                raise KeyboardInterrupt

        return cb

    with pytest.warns(RuntimeWarning, match=r"late \(t=0\.30\)") as first:
        part = simulate(MeanFieldODE(_decay), x0, 1.0, 0.1, monitors=[_FlagFrom(0.3)], on_unhealthy="warn",
                        checkpoint=Checkpoint(ck), callback=stop_at(5))
    assert part.status == "interrupted" and len([w for w in first if "health" in str(w.message)]) == 1
    import warnings

    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        done = simulate(MeanFieldODE(_decay), x0, 1.0, 0.1, monitors=[_FlagFrom(0.3)], on_unhealthy="warn",
                        checkpoint=Checkpoint(ck, resume=True))
    assert done.success and not [w for w in again if "health check" in str(w.message)]
    assert done.health == ["late (t=0.30)"]  # flagged once, when it started, before the interrupt


def test_resuming_a_finished_run_returns_it_without_steps(tmp_path):
    ck = tmp_path / "run.ckpt"
    x0 = np.linspace(1, 2, 4)[:, None]
    whole = simulate(MeanFieldODE(_decay), x0, 1.0, 0.1, checkpoint=Checkpoint(ck))
    again = simulate(MeanFieldODE(_decay), x0, 1.0, 0.1, checkpoint=Checkpoint(ck, resume=True))
    assert again.success and again.message == whole.message and "mid-step" not in again.message
    assert np.array_equal(again.x_final, whole.x_final) and again.n_steps == whole.n_steps == 10
    assert _ckpt(ck)["status"] == "success"


def test_an_interrupt_inside_a_monitor_keeps_the_last_periodic_checkpoint(tmp_path):
    from w1flow.monitors import HealthMonitor

    class Interrupting(HealthMonitor):
        every_step = True

        def __init__(self):
            self.calls = 0

        def check(self, t, x, a, w1_history, field):
            self.calls += 1
            if self.calls == 6:  # the check after step 5 (the first call is at t = 0)
                raise KeyboardInterrupt
            return None

    ck = tmp_path / "run.ckpt"
    res = simulate(MeanFieldODE(_decay), np.linspace(1, 2, 4)[:, None], 1.0, 0.1, monitors=[Interrupting()],
                   checkpoint=Checkpoint(ck, every=3))
    assert res.status == "interrupted" and "mid-step" in res.message
    assert _ckpt(ck)["k"] == 3 and _ckpt(ck)["status"] == "running"


def test_stop_messages_say_where_the_run_stopped(tmp_path):
    x0 = np.linspace(1, 2, 4)[:, None]

    def blow_up(x, a, t):
        return np.full_like(x, np.inf) if t >= 0.25 else -x

    res = simulate(MeanFieldODE(blow_up), x0, 1.0, 0.1)
    assert res.status == "nonfinite" and re.search(r"non-finite.*\(step 4, t=0\.4\)$", res.message), res.message
    res = simulate(MeanFieldODE(_decay), x0, 1.0, 0.1, callback=lambda t, x, a: t >= 0.3 - 1e-12)
    assert res.status == "callback" and res.message.endswith("(t=0.3)"), res.message

    calls = []

    def interrupt(t, x, a):
        calls.append(t)
        if len(calls) == 5:
            raise KeyboardInterrupt

    res = simulate(MeanFieldODE(_decay), x0, 1.0, 0.1, callback=interrupt, saveat=SaveAt(every=4))
    assert res.status == "interrupted" and "(t=0.5, step 5)" in res.message, res.message
    # the state reached is the last snapshot, also between save points (every=4: t = 0, 0.4, then 0.5)
    assert np.allclose(res.ts, [0.0, 0.4, 0.5], rtol=0, atol=1e-15)


def test_a_w2_flow_records_the_exact_w1_to_its_data(rng):
    """W2Flow has no W1 oracle: its W1 history comes from LPs, checked against an independent one."""
    from w1flow import W2Flow

    y = generic_cloud(rng, 8, 2)
    res = simulate(W2Flow(y), y + 2.0, 0.3, 0.1, solver=Euler())
    ref = [ot.emd2(np.full(8, 1 / 8), np.full(8, 1 / 8), cdist(x, y)) for x in res.xs]
    assert res.w1 is not None and np.allclose(res.w1, ref, rtol=1e-12, atol=0)


def test_save_point_monitors_of_a_drift_see_no_field_before_the_first_evaluation():
    rec = _Recorder(every_step=False)
    res = simulate(MeanFieldODE(_decay), np.ones((3, 1)), 0.2, 0.1, monitors=[rec])
    assert res.success and [c[0] for c in rec.calls] == list(res.ts)
    assert rec.calls[0][4] is None  # t = 0: no drift evaluated yet
    assert all(c[4] is not None for c in rec.calls[1:])  # then the last drift evaluation


def test_capped_euler_asks_the_oracle_at_the_start_time(rng):
    from w1flow import ExactPotential

    class Recording(ExactPotential):
        def __call__(self, x, a, y, b, t=0.0):
            self.times.append(t)
            return super().__call__(x, a, y, b, t)

    oracle = Recording()
    oracle.times = []
    y = generic_cloud(rng, 6, 2)
    assert simulate(W1Flow(y, potential=oracle), y + 2.0, 0.3, 0.1, solver=CappedEuler()).success
    assert oracle.times and oracle.times[0] == 0.0 and isinstance(oracle.times[0], float)


def test_save_point_monitors_see_the_w1_trace_when_w1_is_not_recorded(rng):
    y = generic_cloud(rng, 6, 2)
    rec = _Recorder(every_step=False)
    res = simulate(W1Flow(y), y + 2.0, 0.4, 0.1, solver=CappedEuler(), saveat=SaveAt(w1=None), monitors=[rec])
    assert res.success and res.w1 is None
    # CappedEuler's O(n) W1 at every step feeds the trace: the first value and the newest ones
    hists = [c[3] for c in rec.calls]
    assert all(len(h) >= 1 for h in hists) and len(hists[-1]) >= 2 and hists[-1][-1] < hists[-1][0]


def test_divergence_rule_per_step_growth_and_bound():
    """Issue [S]: finite blow-ups stop as "diverged" (docs/reliability.md, "Divergence and growth").
    Explicit Euler on dx/dt = −11x multiplies x by exactly −10 per step: the per-step rule (tenfold on
    three steps in a row, past 100 S) fires at step 3, long before the 1e8 S bound (step 9). Real
    growth within the bound (dx/dt = x to t = 10: e^10 ≈ 2.2e4) is not flagged, and the bound
    scales with the data and x0 (S = max(1, max|x0|, max|y|))."""
    x0 = np.ones((4, 1))
    res = simulate(MeanFieldODE(lambda x, w, t: -11.0 * x), x0, 20.0, 1.0, monitors=None)
    assert res.status == "diverged" and res.n_steps == 3 and "10-fold" in res.message
    np.testing.assert_array_equal(res.x_final, -1000.0 * x0)  # (1 − 11)^3, exactly
    grow = simulate(MeanFieldODE(lambda x, w, t: x), x0, 10.0, 0.01, saveat=SaveAt(every=10**9), monitors=None)
    assert grow.status == "success" and grow.x_final[0, 0] > 2e4
    # the bound alone: growth of 2x per step from S = 1e3 (x0 = 1e3) crosses 1e8 S = 1e11 at step 27
    big = simulate(MeanFieldODE(lambda x, w, t: x), 1e3 * x0, 100.0, 1.0, saveat=SaveAt(every=10**9), monitors=None)
    assert big.status == "diverged" and big.n_steps == 27 and "exceeds" in big.message


def _tenfold(x, a, t):
    return -11.0 * x  # explicit Euler with dt = 1: x times -10 per step


def test_a_resumed_run_diverges_at_the_same_step_as_an_uninterrupted_one(tmp_path):
    """The divergence rule's count of tenfold steps is part of a checkpoint: interrupted after step 2
    (two tenfold steps counted) and resumed, the run stops as "diverged" at step 3, as it does in
    one go; a checkpoint written before the count was saved still loads (count 0: step 5)."""
    from w1flow.checkpoint import read_checkpoint, write_checkpoint

    x0 = np.ones((3, 1))
    whole = simulate(MeanFieldODE(_tenfold), x0, 20.0, 1.0, monitors=None)
    assert whole.status == "diverged" and whole.n_steps == 3

    def stop_after_2(t, x, a):
        if t >= 2.0:
            raise KeyboardInterrupt

    ck = tmp_path / "run.ckpt"
    part = simulate(MeanFieldODE(_tenfold), x0, 20.0, 1.0, monitors=None, checkpoint=Checkpoint(ck, every=1),
                    callback=stop_after_2)
    assert part.status == "interrupted" and part.n_steps == 2
    saved = read_checkpoint(ck)
    assert saved["run"]["growth_streak"] == 2
    again = simulate(MeanFieldODE(_tenfold), x0, 20.0, 1.0, monitors=None, checkpoint=Checkpoint(ck, resume=True))
    assert again.status == "diverged" and again.n_steps == 3, again.message
    np.testing.assert_array_equal(again.x_final, whole.x_final)
    del saved["run"]["growth_streak"]  # as an older w1flow wrote it
    write_checkpoint(ck, saved)
    old = simulate(MeanFieldODE(_tenfold), x0, 20.0, 1.0, monitors=None, checkpoint=Checkpoint(ck, resume=True))
    assert old.status == "diverged" and old.n_steps == 5, old.message
