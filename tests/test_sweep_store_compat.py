"""A store written before the sweep became a package (w1flow/sweep.py at b4824c1) is read as done:
its fingerprints, records and checks are those of the package, and a fresh run of the same cells
gives the same arrays: bitwise for integers and flags, and floats to within 4 units in the last
place (the store was written on another CPU; sums over the plan round differently on other vector
units: 1 ulp in W1 at two steps was measured on an AVX-512 machine, 2026-12-05)."""

import json
import shutil
from pathlib import Path

import numpy as np

import w1flow
from w1flow.sweep import read_store, run_sweep

OLD = Path(__file__).parent / "data" / "sweep_b4824c1"


def _old_store(tmp_path, monkeypatch):
    store = tmp_path / "store"
    store.mkdir()
    shutil.copytree(OLD / "cells", store / "cells")
    shutil.copy(OLD / "sweep.json", store / "sweep.json")
    shutil.copy(OLD / "sweep.toml", tmp_path / "sweep.toml")
    # the fingerprints hash the version that wrote them
    monkeypatch.setattr(w1flow, "__version__", json.loads((OLD / "sweep.json").read_text())["w1flow"])
    return store


def test_a_store_written_by_the_single_module_sweep_is_done_not_rerun(tmp_path, monkeypatch):
    store = _old_store(tmp_path, monkeypatch)
    before = {p.name: p.read_bytes() for p in (store / "cells").iterdir()}
    report = run_sweep(tmp_path / "sweep.toml", store=store, workers=1, summary=True)
    assert report.ran == 0 and report.skipped == 4 and report.failed == []
    assert sorted(f"{c.fingerprint}.npz" for c in report.cells) == sorted(before)
    assert [r["status"] for r in report.rows] == ["success"] * 4
    assert {p.name: p.read_bytes() for p in (store / "cells").iterdir()} == before  # nothing rewritten or set aside
    assert set(read_store(store)) == {c.fingerprint for c in report.cells}


def test_the_same_cells_run_now_give_bitwise_the_stored_arrays(tmp_path, monkeypatch):
    old = _old_store(tmp_path, monkeypatch)
    report = run_sweep(tmp_path / "sweep.toml", store=tmp_path / "new", workers=1, summary=False)
    assert report.ran == 4
    for cell in report.cells:
        with np.load(old / "cells" / f"{cell.fingerprint}.npz") as a, \
                np.load(tmp_path / "new" / "cells" / f"{cell.fingerprint}.npz") as b:
            assert a.files == b.files
            for name in a.files:
                if name == "meta":  # the metadata holds timings and the host
                    continue
                assert a[name].dtype == b[name].dtype and a[name].shape == b[name].shape, (cell.params, name)
                if np.issubdtype(a[name].dtype, np.floating):
                    np.testing.assert_array_max_ulp(a[name], b[name], maxulp=4)
                    assert np.array_equal(np.isnan(a[name]), np.isnan(b[name])), (cell.params, name)
                else:
                    assert a[name].tobytes() == b[name].tobytes(), (cell.params, name)
