"""The thread policy (issue T): one way to set Numba's, BLAS's and torch's threads, one thread per
worker where the package starts workers, and `w1flow check` setting its own process's threads and
writing its report check by check."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numba
import pytest

import w1flow
from w1flow import threads
from w1flow.cli import main
from w1flow.paper_checks import _core

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_counts():
    return {d["num_threads"] for d in threadpoolctl.threadpool_info() if d["user_api"] == "blas"}


@pytest.fixture
def restore_threads():
    """Put the test process's thread counts back as they were (the policy changes them)."""
    n_numba = numba.get_num_threads()
    blas = max(_blas_counts() or {1})
    torch_n = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None
    yield
    numba.set_num_threads(n_numba)
    threadpoolctl.threadpool_limits(limits=blas, user_api="blas")
    if torch_n is not None:
        sys.modules["torch"].set_num_threads(torch_n)
    threads._POLICY.clear()


def test_set_num_threads_sets_numba_and_blas_and_reads_them_back(restore_threads):
    cores = threads.available_cores()
    assert cores == len(os.sched_getaffinity(0))
    got = w1flow.set_num_threads(1)
    assert numba.get_num_threads() == 1 and _blas_counts() == {1}
    assert got["numba"] == 1 and got["blas"] == 1 and got["policy"] == 1
    if "torch" in sys.modules:
        assert sys.modules["torch"].get_num_threads() == 1 and got["torch"] == 1
    got = w1flow.set_num_threads()  # default: the cores this process may use
    assert numba.get_num_threads() == min(cores, numba.config.NUMBA_NUM_THREADS)
    assert _blas_counts() == {cores}
    assert got == w1flow.get_num_threads() and got["policy"] == cores
    # more than Numba's pool: clipped for Numba, not an error
    w1flow.set_num_threads(numba.config.NUMBA_NUM_THREADS + 3)
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2, ValueError), (1.5, TypeError), ("2", TypeError),
                                        (True, TypeError)])
def test_a_bad_thread_count_is_an_error_naming_n(bad, error, restore_threads):
    before = numba.get_num_threads()
    with pytest.raises(error, match=r"^n must"):
        w1flow.set_num_threads(bad)
    with pytest.raises(error, match=r"^n must"):
        threads.worker_env(bad)
    assert numba.get_num_threads() == before  # nothing changed


def test_worker_env_gives_every_library_n_threads_and_the_sweep_reexports_it():
    from w1flow import sweep

    assert threads.worker_env() == threads.THREAD_ENV
    assert sweep.THREAD_ENV is threads.THREAD_ENV
    assert set(threads.worker_env(3)) >= {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                          "NUMBA_NUM_THREADS"}
    assert set(threads.worker_env(3).values()) == {"3"}


def test_the_torch_code_follows_the_policy_unless_given_its_own_count(restore_threads):
    assert threads.torch_threads(None) is None  # no policy yet: torch's own setting is left
    w1flow.set_num_threads(1)
    assert threads.torch_threads(None) == 1 and threads.torch_threads(3) == 3


def test_the_policy_never_imports_torch():
    code = ("import sys, w1flow; w1flow.set_num_threads(1); t = w1flow.get_num_threads(); "
            "assert 'torch' not in sys.modules and 'torch' not in t, t")
    env = dict(os.environ, POT_BACKEND_DISABLE_PYTORCH="1")  # POT would import torch itself
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr


# -- workers ----------------------------------------------------------------------------------
_SWEEP = """
[data]
dataset = "eight_gaussians"
n = 20
seed = 1
[particles]
dataset = "gaussian_blob"
n = 20
seed = 0
[solver]
kind = "euler"
[run]
t1 = 0.2
dt = 0.1
[sweep]
"data.seed" = [0, 1]
"""


@pytest.mark.slow  # about 7 s: two spawned workers import w1flow
def test_a_sweep_pool_worker_runs_on_one_thread_per_library(tmp_path, restore_threads):
    from w1flow import FlowResult
    from w1flow.sweep import run_sweep

    w1flow.set_num_threads(2)  # the parent uses more: the workers must not inherit it
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(_SWEEP)
    report = run_sweep(cfg, store=tmp_path / "store", workers=2, summary=False)
    assert report.ran == 2 and not report.failed
    for c in report.cells:
        sw = FlowResult.read_metadata(tmp_path / "store" / "cells" / f"{c.fingerprint}.npz")["metadata"]["sweep"]
        assert sw["pid"] != os.getpid()  # it ran in a worker process
        assert sw["threads"]["numba"] == 1 and sw["threads"]["blas"] == 1, sw["threads"]


def test_the_worker_initialiser_pins_threads_even_without_the_worker_env():
    """A worker whose libraries loaded with more threads (a reused or forked process, a Dask
    worker started elsewhere) is pinned by the initialiser, not only by the environment."""
    code = textwrap.dedent("""
        import numpy, numba, w1flow
        from w1flow.sweep import _pool_initializer
        from w1flow.threads import get_num_threads
        before = get_num_threads()
        _pool_initializer()
        after = get_num_threads()
        assert before["numba"] == 2 and before["blas"] == 2, before
        assert after["numba"] == 1 and after["blas"] == 1, after
    """)
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 cores to see a difference")
    env = {k: v for k, v in os.environ.items() if k not in threads.THREAD_ENV}
    env.update(NUMBA_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr


# -- w1flow check -----------------------------------------------------------------------------
def _fake_report(name, verdict="PASS"):
    mod = _core.load(name)
    return _core.CheckReport(name=name, title=mod.TITLE, source=mod.SOURCE, expected=mod.EXPECTED, verdict=verdict,
                             key="fake", broken=mod.BROKEN, broken_verdict="FAIL", holds=True, seconds=0.0,
                             numbers={}, thresholds={})


NAMES = ["first_variation", "dissipation", "euler_limit"]


def test_w1flow_check_sets_its_process_threads(tmp_path, monkeypatch, restore_threads, capsys):
    seen = []

    def fake_run_check(name, mode="quick", out=None):
        seen.append(w1flow.get_num_threads() | {"blas_all": _blas_counts()})
        return _fake_report(name)

    monkeypatch.setattr(_core, "run_check", fake_run_check)
    w1flow.set_num_threads(2)
    assert main(["check", "--quiet", "--threads", "1", "--only", "first_variation", "--out", str(tmp_path)]) == 0
    assert seen[0]["numba"] == 1 and seen[0]["blas_all"] == {1} and seen[0]["policy"] == 1
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["threads"]["numba"] == 1 and report["threads"]["policy"] == 1 and report["complete"]
    assert "threads: 1" in capsys.readouterr().out
    # default: one thread, whatever the process had before
    w1flow.set_num_threads(2)
    assert main(["check", "--quiet", "--only", "first_variation", "--out", str(tmp_path)]) == 0
    assert seen[1]["policy"] == 1 and seen[1]["blas_all"] == {1} and seen[1]["numba"] == 1
    # --threads N is honoured: the cores this process may use
    cores = len(os.sched_getaffinity(0))
    w1flow.set_num_threads(1)
    assert main(["check", "--quiet", "--threads", str(cores), "--only", "first_variation", "--out", str(tmp_path)]) == 0
    assert seen[2]["policy"] == cores and seen[2]["blas_all"] == {cores}
    assert seen[2]["numba"] == min(cores, numba.config.NUMBA_NUM_THREADS)


@pytest.mark.parametrize("bad", ["0", "-1", "two"])
def test_w1flow_check_refuses_a_bad_thread_count(bad, capsys):
    with pytest.raises(SystemExit):
        main(["check", "--threads", bad, "--only", "first_variation"])
    assert "--threads" in capsys.readouterr().err


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "sigint caught by the check", "sigterm caught by the check"])
def test_an_interrupted_check_run_keeps_the_finished_verdicts(tmp_path, monkeypatch, restore_threads, how):
    written = []

    def fake_run_check(name, mode="quick", out=None):
        if name == NAMES[0]:
            return _fake_report(name, "INCONCLUSIVE")
        # the first verdict is on disk before the second check starts, not only at the end
        written.append(json.loads((tmp_path / "report.json").read_text()))
        if how == "ctrl-c":
            raise KeyboardInterrupt
        sig = signal.SIGINT if how.startswith("sigint") else signal.SIGTERM
        try:
            os.kill(os.getpid(), sig)
            for _ in range(200):  # the handler runs between bytecodes
                time.sleep(0.01)
        except KeyboardInterrupt:
            if how == "sigterm":
                raise
        # like simulate and train: catch the interrupt and return a verdict on a cut-short run
        return _fake_report(name, "FAIL")

    monkeypatch.setattr(_core, "run_check", fake_run_check)
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    code = main(["check", "--quiet", "--threads", "1", "--only", ",".join(NAMES), "--out", str(tmp_path)])
    assert code == 130
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before  # handlers put back
    assert [c["verdict"] for c in written[0]["checks"]] == ["INCONCLUSIVE", "NOT RUN", "NOT RUN"]
    report = json.loads((tmp_path / "report.json").read_text())
    assert not report["complete"]
    assert [(c["name"], c["verdict"]) for c in report["checks"]] == [(NAMES[0], "INCONCLUSIVE"),
                                                                      (NAMES[1], "NOT RUN"), (NAMES[2], "NOT RUN")]
    md = (tmp_path / "report.md").read_text()
    assert md.count("| not run |") == 2 and "**INCONCLUSIVE**" in md
    assert not list(tmp_path.glob(".tmp-*"))  # every write completed its rename


def test_a_finished_check_run_is_marked_complete(tmp_path, monkeypatch):
    monkeypatch.setattr(_core, "run_check", lambda name, mode="quick", out=None: _fake_report(name))
    reports = _core.run_checks(NAMES, out=tmp_path)
    assert [r.name for r in reports] == NAMES
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["complete"] and [c["verdict"] for c in report["checks"]] == ["PASS"] * 3
    assert "not run" not in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize("explicit, expected", [(None, 1), (2, 2)])
def test_the_torch_critic_trains_on_the_policy_threads_unless_told_otherwise(explicit, expected, restore_threads):
    torch = pytest.importorskip("torch")
    import numpy as np

    from w1flow.potentials import TorchCriticPotential

    w1flow.set_num_threads(1)
    torch.set_num_threads(2)  # torch's own setting differs from the policy's
    pot = TorchCriticPotential(num_threads=explicit)
    seen = []
    pot._train = lambda *args: seen.append(torch.get_num_threads())  # the threads training would run on
    x, y = np.zeros((3, 2)), np.ones((3, 2))
    pot(x, np.full(3, 1 / 3), y, np.full(3, 1 / 3))
    assert seen == [expected]
    assert torch.get_num_threads() == 2  # put back afterwards


def test_without_threadpoolctl_openblas_is_set_through_its_own_api():
    """Where threadpoolctl is not installed (a plain `pip install w1flow`), the policy still limits
    numpy's OpenBLAS; read back by threadpoolctl itself, imported only after the policy ran."""
    code = """
import json, sys
sys.modules["threadpoolctl"] = None  # import threadpoolctl raises ImportError, as if not installed
import numpy as np, w1flow
np.dot(np.ones((64, 64)), np.ones((64, 64)))  # BLAS loaded and running
got = w1flow.set_num_threads(1)
del sys.modules["threadpoolctl"]
import threadpoolctl
blas = [d for d in threadpoolctl.threadpool_info() if d["user_api"] == "blas"]
print(json.dumps({"got": got["blas"], "counts": sorted({d["num_threads"] for d in blas}),
                  "apis": sorted({d["internal_api"] for d in blas})}))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if r["apis"] != ["openblas"]:
        pytest.skip(f"numpy's BLAS here is not OpenBLAS alone ({r['apis']})")
    assert r["got"] == 1 and r["counts"] == [1], r


def test_the_torch_thread_scope_gives_torch_its_count_back_even_on_an_error(restore_threads):
    """The one save-set-restore of torch's threads (the torch critic, the plain WGAN-GP loop): inside,
    the argument or else the policy; afterwards torch's own count, also when the block raises."""
    torch = pytest.importorskip("torch")
    from w1flow.threads import torch_thread_scope

    torch.set_num_threads(2)
    with pytest.raises(RuntimeError, match="boom"):
        with torch_thread_scope(1):
            assert torch.get_num_threads() == 1
            raise RuntimeError("boom")
    assert torch.get_num_threads() == 2
    with torch_thread_scope(None):  # no policy, no argument: torch's setting is left alone
        assert torch.get_num_threads() == 2
    w1flow.set_num_threads(1)
    torch.set_num_threads(2)
    with torch_thread_scope(None):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
