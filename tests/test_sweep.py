"""w1flow sweep: grids expand to validated cells, each cell leaves exactly one record in the store
(atomically, keyed by its fingerprint), re-runs skip finished cells, failures keep their
traceback, and a worker that dies mid-sweep (process pool or Dask) loses and duplicates nothing."""

import importlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import w1flow
from w1flow import FlowResult
from w1flow.cli import main
from w1flow.sweep import THREAD_ENV, SweepError, expand, fingerprint, read_store, run_sweep, summarize

SIMULATE = importlib.import_module("w1flow.simulate")  # the module (the attribute w1flow.simulate is the function)

BASE = """
[data]
dataset = "eight_gaussians"
n = {n}
seed = 1

[particles]
dataset = "gaussian_blob"
n = {n}
seed = 0
center = [3.0, 0.0]

[solver]
kind = "euler"

[run]
t1 = {t1}
dt = 0.1
save_every = 5
"""


def _config(tmp_path, sweep, n=30, t1=1.0, extra="", name="sweep.toml"):
    path = tmp_path / name
    path.write_text(BASE.format(n=n, t1=t1) + extra + "\n[sweep]\n" + textwrap.dedent(sweep))
    return path


GRID = '"solver.kind" = ["euler", "capped_euler"]\n"run.dt" = [0.1, 0.2]\n"data.seed" = [0, 1, 2]\n'


def _records(store):
    """Every file of the store's cells folder, by kind."""
    files = sorted(p.name for p in (store / "cells").iterdir())
    return ([f for f in files if f.endswith(".npz") and not f.startswith(".tmp-")],
            [f for f in files if f.endswith(".error.json")],
            [f for f in files if f.startswith(".tmp-")])


def _assert_each_cell_once(cells, store):
    done, errors, _ = _records(store)
    assert not errors
    assert sorted(done) == sorted(f"{c.fingerprint}.npz" for c in cells)  # no cell lost, none twice
    for c in cells:  # every record is complete and belongs to its cell
        path = store / "cells" / f"{c.fingerprint}.npz"
        res = FlowResult.load(path)
        meta = FlowResult.read_metadata(path)["metadata"]
        assert res.success and meta["sweep"]["fingerprint"] == c.fingerprint
        assert meta["sweep"]["params"] == c.params and meta["config"] == c.config


# -- grids ------------------------------------------------------------------------------------
def test_grids_expand_to_their_cartesian_product_in_order(tmp_path):
    cells = expand(_config(tmp_path, GRID))
    assert len(cells) == 12 and [c.index for c in cells] == list(range(12))
    assert [tuple(c.params.values()) for c in cells[:4]] == [("euler", 0.1, 0), ("euler", 0.1, 1),
                                                            ("euler", 0.1, 2), ("euler", 0.2, 0)]
    assert cells[-1].params == {"solver.kind": "capped_euler", "run.dt": 0.2, "data.seed": 2}
    c = cells[-1].config
    assert c["solver"] == {"kind": "capped_euler"} and c["run"]["dt"] == 0.2 and c["data"]["seed"] == 2
    assert c["run"]["t1"] == 1.0 and c["particles"]["center"] == [3.0, 0.0]  # the base is kept
    assert "sweep" not in c
    assert len({x.fingerprint for x in cells}) == 12


def test_unquoted_dotted_keys_and_new_tables_mean_the_same(tmp_path):
    quoted = expand(_config(tmp_path, '"run.dt" = [0.1, 0.2]\n"potential.kind" = ["exact", "quantile"]\n'))
    dotted = expand(_config(tmp_path, 'run.dt = [0.1, 0.2]\npotential.kind = ["exact", "quantile"]\n', name="b.toml"))
    assert [c.fingerprint for c in quoted] == [c.fingerprint for c in dotted]
    assert quoted[1].config["potential"] == {"kind": "quantile"}  # a table the base config did not have


@pytest.mark.parametrize("sweep, names", [
    ('"run.dtt" = [0.1]', ["'run.dtt'", "'dtt'", "dt"]),
    ('"solver.stepsize" = [1]', ["'stepsize'", "[solver]"]),
    ('"sovler.kind" = ["euler"]', ["'sovler.kind'", "'sovler'"]),
    ('"dt" = [0.1]', ["'dt'", "table.key"]),
    ('"run.dt.x" = [0.1]', ["'run.dt.x'"]),
    ('"run.dt" = 0.1', ["'run.dt'", "non-empty list"]),
    ('"run.dt" = []', ["'run.dt'", "non-empty list"]),
    ('"run.dt" = [0.1, 0.1]', ["'run.dt'", "twice"]),
    ('"output.dir" = ["a", "b"]', ["'output.dir'", "cannot be swept"]),
    ('"solver.kind" = ["euler", "leapfrog"]', ["cell 1", "solver.kind='leapfrog'", "leapfrog"]),
    ('"run.dt" = [0.1, -0.1]', ["cell 1", "dt", "> 0"]),
    ('"particles.std" = [0.5, "wide"]', ["cell 1", "std"]),
])
def test_a_bad_sweep_key_or_value_is_an_error_naming_it(tmp_path, sweep, names):
    with pytest.raises(SweepError) as info:
        expand(_config(tmp_path, sweep))
    for name in names:
        assert name in str(info.value), (name, str(info.value))


def _write_text(path, text):
    path.write_text(text)
    return path


def test_the_base_config_is_checked_as_w1flow_run_checks_it(tmp_path):
    text = _config(tmp_path, '"run.dt" = [0.1]').read_text()
    with pytest.raises(SweepError, match="unknown key 'step' in \\[run\\]"):
        expand(_write_text(tmp_path / "bad.toml", text.replace("save_every", "step")))
    with pytest.raises(SweepError, match=r"needs a \[sweep\] table.*w1flow run"):
        expand(_write_text(tmp_path / "plain.toml", BASE.format(n=5, t1=1)))
    with pytest.raises(SweepError, match="per-cell figures"):
        expand(_config(tmp_path, '"run.dt" = [0.1]', extra="\n[output]\nsnapshots = true\n"))


def test_every_cell_is_validated_before_any_runs(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(SIMULATE, "simulate", lambda *a, **k: calls.append(1))
    cfg = _config(tmp_path, '"data.seed" = [0, 1, 2]\n"solver.kind" = ["euler", "heun", "rk5"]\n')
    with pytest.raises(SweepError, match="cell 2 .*rk5"):
        run_sweep(cfg, store=tmp_path / "store", workers=1)
    assert calls == [] and not (tmp_path / "store").exists()


# -- fingerprints -----------------------------------------------------------------------------
@pytest.mark.slow
def test_fingerprints_are_stable_and_change_with_what_runs(tmp_path):
    cfg = expand(_config(tmp_path, '"run.dt" = [0.1]'))[0].config
    fp = fingerprint(cfg)
    assert len(fp) == 24 and fingerprint(json.loads(json.dumps(cfg))) == fp
    reordered = {k: dict(reversed(list(v.items()))) for k, v in reversed(list(cfg.items()))}
    assert fingerprint(reordered) == fp
    # the same in a fresh interpreter (no dependence on hash seeds or process state)
    code = f"import json; from w1flow.sweep import fingerprint; print(fingerprint(json.loads({json.dumps(json.dumps(cfg))})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "123"}).stdout.strip()
    assert out == fp
    assert fingerprint({**cfg, "output": {"dir": "elsewhere"}}) == fp  # where files go is not what runs
    for table, key, value in [("run", "dt", 0.05), ("data", "seed", 2), ("solver", "kind", "heun"),
                              ("particles", "center", [3.0, 0.5])]:
        changed = json.loads(json.dumps(cfg))
        changed[table][key] = value
        assert fingerprint(changed) != fp, (table, key)
    assert fingerprint(cfg, version="9.9") != fp and fingerprint(cfg, version=w1flow.__version__) == fp


def test_a_data_file_counts_by_its_content_not_its_path(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    y = np.random.default_rng(0).standard_normal((10, 2))
    np.save(tmp_path / "a" / "y.npy", y)
    np.save(tmp_path / "b" / "y.npy", y)
    base = {"particles": {"dataset": "gaussian_blob", "n": 10, "seed": 0}, "run": {"t1": 1.0, "dt": 0.1}}
    fa = fingerprint({**base, "data": {"file": str(tmp_path / "a" / "y.npy")}})
    assert fingerprint({**base, "data": {"file": str(tmp_path / "b" / "y.npy")}}) == fa
    np.save(tmp_path / "b" / "y.npy", y + 1e-9)
    assert fingerprint({**base, "data": {"file": str(tmp_path / "b" / "y.npy")}}) != fa
    # a relative file in a sweep is read from the config's folder and stored as an absolute path
    cfg = _config(tmp_path, '"run.dt" = [0.1]').read_text().replace(
        'dataset = "eight_gaussians"\nn = 30\nseed = 1', 'file = "a/y.npy"')
    cell = expand(_write_text(tmp_path / "f.toml", cfg))[0]
    assert cell.config["data"]["file"] == str(tmp_path / "a" / "y.npy")
    with pytest.raises(SweepError, match="does not exist"):
        expand(_write_text(tmp_path / "g.toml", cfg.replace("a/y.npy", "missing.npy")))


# -- the store --------------------------------------------------------------------------------
def test_a_sweep_writes_one_readable_record_per_cell_and_its_summary(tmp_path):
    cfg = _config(tmp_path, '"solver.kind" = ["euler", "capped_euler"]\n"data.seed" = [0, 1]\n')
    report = run_sweep(cfg, store=tmp_path / "store", workers=1)
    assert report.ran == 4 and report.skipped == 0 and report.failed == []
    _assert_each_cell_once(report.cells, tmp_path / "store")
    # the record is the run of the cell's config, as `w1flow run` would do it
    from w1flow.config import run_config

    cell = report.cells[3]
    ref = run_config(cell.config, out=tmp_path / "ref", progress=False)
    got = FlowResult.load(tmp_path / "store" / "cells" / f"{cell.fingerprint}.npz")
    assert np.array_equal(got.w1, ref.w1) and np.array_equal(got.x_final, ref.x_final)
    rows = report.rows
    assert [(r["solver.kind"], r["data.seed"], r["status"]) for r in rows] == [
        ("euler", 0, "success"), ("euler", 1, "success"), ("capped_euler", 0, "success"), ("capped_euler", 1, "success")]
    assert rows[3]["w1_final"] == pytest.approx(float(got.w1[-1]))
    csv_lines = (tmp_path / "store" / "summary.csv").read_text().splitlines()
    assert csv_lines[0].startswith("solver.kind,data.seed,status,w1_start,w1_final,wall_time") and len(csv_lines) == 5
    assert "4 cells: 4 success" in (tmp_path / "store" / "summary.md").read_text()
    assert (tmp_path / "store" / "summary.png").stat().st_size > 1000


def test_a_rerun_skips_finished_cells_and_runs_only_new_ones(tmp_path, monkeypatch):
    store = tmp_path / "store"
    run_sweep(_config(tmp_path, '"data.seed" = [0, 1]'), store=store, workers=1)
    before = {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in (store / "cells").iterdir()}
    real, calls = SIMULATE.simulate, []

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(SIMULATE, "simulate", counting)
    again = run_sweep(_config(tmp_path, '"data.seed" = [0, 1]'), store=store, workers=1)
    assert calls == [] and again.ran == 0 and again.skipped == 2
    assert {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in (store / "cells").iterdir()} == before
    grown = run_sweep(_config(tmp_path, '"data.seed" = [0, 1, 2]'), store=store, workers=1)
    assert len(calls) == 1 and grown.ran == 1 and grown.skipped == 2
    _assert_each_cell_once(grown.cells, store)
    assert all((store / "cells" / name).stat().st_mtime_ns == m for name, (m, _) in before.items())


@pytest.mark.slow
def test_a_failing_cell_keeps_its_traceback_and_is_retried_only_when_asked(tmp_path, monkeypatch):
    store = tmp_path / "store"
    # a quantile oracle on 2-D data validates (its options are fine) but raises when the flow runs
    cfg = _config(tmp_path, '"potential.kind" = ["exact", "quantile"]')
    report = run_sweep(cfg, store=store, workers=2)
    bad = report.cells[1].fingerprint
    assert report.failed == [bad] and report.ran == 2
    done, errors, tmp = _records(store)
    assert done == [f"{report.cells[0].fingerprint}.npz"] and errors == [f"{bad}.error.json"] and not tmp
    rec = json.loads((store / "cells" / f"{bad}.error.json").read_text())
    assert rec["status"] == "error" and rec["params"] == {"potential.kind": "quantile"}
    tb = rec["attempts"][0]["traceback"]
    assert tb.startswith("Traceback") and "1-D only" in tb and "simulate" in tb and rec["error"].startswith("ValueError")
    assert [r["status"] for r in report.rows] == ["success", "error"]
    assert "1 error, 1 success" in (store / "summary.md").read_text()
    # not run again by default ...
    assert run_sweep(cfg, store=store, workers=1).ran == 0
    # ... retried on request, and a second failure keeps the first traceback
    again = run_sweep(cfg, store=store, workers=1, retry_failed=True)
    assert again.ran == 1 and again.failed == [bad]
    assert len(json.loads((store / "cells" / f"{bad}.error.json").read_text())["attempts"]) == 2
    # a retry that succeeds replaces the failure record; its tracebacks move into the result's metadata
    real = SIMULATE.simulate
    monkeypatch.setattr(SIMULATE, "simulate",
                        lambda problem, *a, **k: real(problem.__class__(problem.target), *a, **k))
    fixed = run_sweep(cfg, store=store, workers=1, retry_failed=True)
    assert fixed.ran == 1 and fixed.failed == []
    done, errors, _ = _records(store)
    assert len(done) == 2 and errors == []
    meta = FlowResult.read_metadata(store / "cells" / f"{bad}.npz")["metadata"]["sweep"]
    assert len(meta["previous_errors"]) == 2 and "1-D only" in meta["previous_errors"][1]["traceback"]


@pytest.mark.slow
def test_a_crash_mid_write_leaves_no_partial_record(tmp_path):
    """A process killed while writing a record leaves only a temporary file, which readers ignore
    and the next sweep removes; the record's own name never holds a partial file."""
    cfg = _config(tmp_path, '"data.seed" = [0]')
    store = tmp_path / "store"
    cell = expand(cfg)[0]
    code = textwrap.dedent(f"""
        import os, json
        from w1flow import result, __version__
        from w1flow.sweep import run_cell
        real = result.np.savez
        def crash(fh, **arrays):
            fh.write(b"PK partial")   # half a zip file, then the process dies
            fh.flush()
            os._exit(3)
        result.np.savez = crash
        task = {{"fingerprint": {cell.fingerprint!r}, "params": {{}}, "config": json.loads({json.dumps(json.dumps(cell.config))}),
                 "w1flow": __version__, "store": {str(store)!r}}}
        run_cell(task)
    """)
    (store / "cells").mkdir(parents=True)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    done, errors, tmp = _records(store)
    assert done == [] and errors == [] and len(tmp) == 1  # the partial bytes are in a temporary file only
    assert read_store(store) == {}
    report = run_sweep(cfg, store=store, workers=1)
    assert report.ran == 1
    done, errors, tmp = _records(store)
    assert tmp == [] and done == [f"{cell.fingerprint}.npz"]
    assert FlowResult.load(store / "cells" / done[0]).success


# -- workers dying mid-sweep ------------------------------------------------------------------
def _kill_when(store, min_done, kill):
    """In a thread: once ``min_done`` records exist, call ``kill()`` (which returns what it killed)."""
    seen = {}

    def watch():
        deadline = time.monotonic() + 50
        while time.monotonic() < deadline:
            cells = store / "cells"
            n = len([p for p in cells.glob("*.npz") if not p.name.startswith(".tmp-")]) if cells.exists() else 0
            if n >= min_done:
                seen["done_at_kill"] = n
                seen["killed"] = kill()
                if seen["killed"]:
                    return
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread, seen


@pytest.mark.slow
def test_a_pool_worker_killed_mid_sweep_loses_and_duplicates_nothing(tmp_path):
    import multiprocessing

    cfg = _config(tmp_path, '"data.seed" = [0, 1, 2, 3, 4, 5]', n=120, t1=3.0)
    store = tmp_path / "store"

    def kill():
        kids = multiprocessing.active_children()
        if not kids:
            return None
        os.kill(kids[0].pid, signal.SIGKILL)
        return kids[0].pid

    thread, seen = _kill_when(store, 1, kill)
    report = run_sweep(cfg, store=store, workers=2)
    thread.join(1)
    assert seen.get("killed") and seen["done_at_kill"] < 6  # killed mid-sweep
    assert report.failed == []
    _assert_each_cell_once(report.cells, store)
    assert [r["status"] for r in summarize(store)] == ["success"] * 6


@pytest.mark.slow
def test_a_dask_worker_killed_mid_sweep_loses_and_duplicates_nothing(tmp_path):
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    start = time.monotonic()
    cfg = _config(tmp_path, '"data.seed" = [0, 1, 2, 3, 4, 5, 6, 7]', n=150, t1=3.0)
    store = tmp_path / "store"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  env=dict(THREAD_ENV)) as cluster, distributed.Client(cluster) as client:
        pids = client.run(os.getpid)
        envs = client.run(lambda: {k: os.environ.get(k) for k in THREAD_ENV})
        assert all(env == THREAD_ENV for env in envs.values())

        def kill():  # SIGKILL a worker process while it runs a cell (its nanny starts a new one)
            for addr in pids:
                running = client.run(lambda dask_worker: [str(ts.key) for ts in dask_worker.state.executing],
                                     workers=[addr]).get(addr)
                if running:
                    os.kill(pids[addr], signal.SIGKILL)
                    seen["kill_time"] = time.time()  # the signal is sent: the process writes nothing after this
                    seen["running"] = running
                    return pids[addr]
            return None

        thread, seen = _kill_when(store, 1, kill)
        report = run_sweep(cfg, store=store, client=client)
        thread.join(1)
        seconds = time.monotonic() - start
        after = set(client.run(os.getpid).values())
        assert seen.get("killed") and seen["done_at_kill"] < 8  # a worker died mid-sweep, in a cell ...
        assert seen["killed"] not in after
        assert report.failed == [] and report.ran == 8  # ... and the sweep completed
        _assert_each_cell_once(report.cells, store)
        pid_of = {c.fingerprint: FlowResult.read_metadata(store / "cells" / f"{c.fingerprint}.npz")["metadata"]["sweep"]["pid"]
                  for c in report.cells}
        (key,) = seen["running"]
        fp = key.removeprefix("w1flow-cell-")
        if pid_of[fp] == seen["killed"]:
            # the cell finished (its record renamed into place) between the query and the signal:
            # then its record is older than the kill, and the re-sent task kept it instead of recomputing
            assert (store / "cells" / f"{fp}.npz").stat().st_mtime <= seen["kill_time"]
        else:
            assert pid_of[fp] in after  # the interrupted cell ran again, in a live worker
        assert seconds < 60
        # the same cluster from the command line, by its address: only the new cell runs
        grown = _config(tmp_path, '"data.seed" = [0, 1, 2, 3, 4, 5, 6, 7, 8]', n=150, t1=3.0, name="grown.toml")
        assert main(["sweep", str(grown), "--out", str(store), "--scheduler", cluster.scheduler_address,
                     "--quiet"]) == 0
        _assert_each_cell_once(expand(grown), store)


@pytest.mark.slow
def test_a_local_dask_cluster_on_request(tmp_path):
    pytest.importorskip("distributed")
    report = run_sweep(_config(tmp_path, '"data.seed" = [0, 1]'), store=tmp_path / "store", local_cluster=1,
                       summary=False)
    assert report.ran == 2 and report.failed == [] and report.rows == []
    _assert_each_cell_once(report.cells, tmp_path / "store")
    sweeps = [FlowResult.read_metadata(tmp_path / "store" / "cells" / f"{c.fingerprint}.npz")["metadata"]["sweep"]
              for c in report.cells]
    assert os.getpid() not in {sw["pid"] for sw in sweeps}  # they ran in the cluster's worker process
    assert all(sw["threads"]["numba"] == 1 and sw["threads"]["blas"] == 1 for sw in sweeps)  # one thread per worker


# -- the command line -------------------------------------------------------------------------
def test_the_cli_runs_a_sweep_resumes_it_and_rebuilds_its_summary(tmp_path, capsys):
    cfg = _config(tmp_path, '"potential.kind" = ["exact", "quantile"]', extra=f'\n[output]\ndir = "{tmp_path / "st"}"\n')
    assert main(["sweep", str(cfg), "--workers", "1", "--quiet"]) == 1  # a cell raised
    out, err = capsys.readouterr()
    assert "2 cells: ran 2" in out and "1 raised" in out and "--retry-failed" in err
    assert main(["sweep", str(cfg), "--dry-run"]) == 0
    assert "2 cells, all valid: 2 in" in capsys.readouterr().out
    assert main(["sweep", str(cfg), "--quiet"]) == 0
    assert "ran 0, skipped 2" in capsys.readouterr().out
    (tmp_path / "st" / "summary.csv").unlink()
    assert main(["sweep", str(cfg), "--summary-only"]) == 0
    assert (tmp_path / "st" / "summary.csv").exists()
    with pytest.raises(SystemExit):
        main(["sweep", str(cfg), "--workers", "2", "--local-cluster", "2"])
    with pytest.raises(SystemExit):
        main(["sweep", str(cfg), "--workers", "0"])
    assert "workers must be an int >= 1" in capsys.readouterr().err


def test_a_truncated_record_is_run_again_and_logged_and_the_summary_is_complete(tmp_path, caplog):
    store = tmp_path / "store"
    cfg = _config(tmp_path, '"data.seed" = [0, 1]')
    first = run_sweep(cfg, store=store, workers=1, summary=False)
    cut = store / "cells" / f"{first.cells[1].fingerprint}.npz"
    whole = cut.read_bytes()
    cut.write_bytes(whole[: len(whole) // 2])
    with caplog.at_level("WARNING", logger="w1flow.sweep"):
        again = run_sweep(cfg, store=store, workers=1)
    assert again.ran == 1 and again.skipped == 1 and again.failed == []
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(str(cut) in m and "runs again" in m for m in warned), warned
    assert (cut.parent / (cut.name + ".unreadable")).read_bytes() == whole[: len(whole) // 2]  # kept aside
    _assert_each_cell_once(again.cells, store)
    assert [r["status"] for r in again.rows] == ["success", "success"]
    assert all(r["w1_final"] is not None for r in again.rows)


def test_foreign_results_and_corrupt_error_records_are_skipped_named_and_rerun(tmp_path, caplog):
    from w1flow import ResultFileError

    store = tmp_path / "store"
    cfg = _config(tmp_path, '"data.seed" = [0, 1, 2]')
    first = run_sweep(cfg, store=store, workers=1, summary=False)
    a, b, c = (cell.fingerprint for cell in first.cells)
    cells = store / "cells"
    # a result of another cell under b's name, a plain FlowResult beside the records, and a
    # corrupt failure record in place of c's
    (cells / f"{b}.npz").write_bytes((cells / f"{a}.npz").read_bytes())
    FlowResult.load(cells / f"{a}.npz").save(cells / "mine.npz", metadata={"note": "not a sweep"})
    (cells / f"{c}.npz").unlink()
    (cells / f"{c}.error.json").write_text('{"format": "w1flow.SweepError", "fingerprint": ')
    with caplog.at_level("WARNING", logger="w1flow.sweep"):
        rows = summarize(store, figures=False)
    assert [(r["fingerprint"], r["status"]) for r in rows] == [(a, "success"), (b, "unreadable"), (c, "unreadable")]
    assert "metadata.sweep.fingerprint" in rows[1]["error"] and "not valid JSON" in rows[2]["error"]
    text = (store / "summary.md").read_text()
    assert "3 cells: 1 success, 2 unreadable" in text
    for name in (f"{b}.npz", "mine.npz", f"{c}.error.json"):
        assert f"- {name}: " in text, name
        assert any(name in r.getMessage() for r in caplog.records if r.levelname == "WARNING"), name
    with pytest.raises(ResultFileError, match="metadata.sweep'"):
        from w1flow.sweep import _read_done
        _read_done(cells / "mine.npz")
    assert set(read_store(store)) == {a}
    # the next run runs b and c again (a is kept) and the summary is whole
    again = run_sweep(cfg, store=store, workers=1, summary=True)
    assert again.ran == 2 and again.skipped == 1 and again.failed == []
    assert [r["status"] for r in again.rows] == ["success"] * 3
    for cell in again.cells:
        meta = FlowResult.read_metadata(cells / f"{cell.fingerprint}.npz")["metadata"]
        assert meta["sweep"]["fingerprint"] == cell.fingerprint and meta["config"] == cell.config


def test_a_record_of_another_config_under_the_right_name_is_run_again(tmp_path):
    store = tmp_path / "store"
    cfg = _config(tmp_path, '"data.seed" = [0]')
    cell = run_sweep(cfg, store=store, workers=1, summary=False).cells[0]
    path = store / "cells" / f"{cell.fingerprint}.npz"
    res, meta = FlowResult.load(path), FlowResult.read_metadata(path)["metadata"]
    meta["config"]["run"]["dt"] = 0.5  # the name and fingerprint say this cell; the config does not
    res.save(path, metadata=meta)
    again = run_sweep(cfg, store=store, workers=1, summary=False)
    assert again.ran == 1 and again.skipped == 0
    assert FlowResult.read_metadata(path)["metadata"]["config"] == cell.config


def test_a_damaged_sweep_json_is_named(tmp_path):
    store = tmp_path / "store"
    run_sweep(_config(tmp_path, '"data.seed" = [0]'), store=store, workers=1, summary=False)
    (store / "sweep.json").write_text('{"grids": ')
    with pytest.raises(SweepError, match=r"sweep\.json cannot be read"):
        summarize(store, figures=False)


def test_a_failure_record_under_another_cells_name_is_skipped(tmp_path, caplog):
    store = tmp_path / "store"
    cfg = _config(tmp_path, '"data.seed" = [0]')
    cell = run_sweep(cfg, store=store, workers=1, summary=False).cells[0]
    other = "0" * 24
    rec = {"format": "w1flow.SweepError", "version": 1, "fingerprint": cell.fingerprint, "params": {},
           "config": {}, "w1flow": w1flow.__version__, "status": "error", "error": "ValueError: x", "attempts": []}
    (store / "cells" / f"{other}.error.json").write_text(json.dumps(rec))  # names cell, filed as `other`
    rows = summarize(store, figures=False)
    assert [(r["fingerprint"], r["status"]) for r in rows] == [(cell.fingerprint, "success")]
    assert f"- {other}.error.json: " in (store / "summary.md").read_text()
    assert set(read_store(store)) == {cell.fingerprint}


def test_a_dask_client_in_this_process_runs_each_cell_once_as_w1flow_run_would(tmp_path):
    """The fast tier's Dask path (the clusters of processes are in the slow tier): a client given by
    the caller, its one worker a thread of this process; each record is the cell's `w1flow run`."""
    distributed = pytest.importorskip("distributed")
    from w1flow.config import run_config

    cfg = _config(tmp_path, '"data.seed" = [0, 1]\n"solver.kind" = ["euler", "capped_euler"]\n')
    store = tmp_path / "store"
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as client:
        report = run_sweep(cfg, store=store, client=client, summary=False)
    assert report.ran == 4 and report.failed == []
    _assert_each_cell_once(report.cells, store)
    for cell in report.cells[::3]:
        ref = run_config(cell.config, out=tmp_path / f"ref-{cell.fingerprint}", progress=False)
        got = FlowResult.load(store / "cells" / f"{cell.fingerprint}.npz")
        assert np.array_equal(got.w1, ref.w1) and np.array_equal(got.x_final, ref.x_final)
