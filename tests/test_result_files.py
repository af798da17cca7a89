"""FlowResult.save / FlowResult.load: every field round-trips bitwise (ragged splitting runs, runs
without W1, health messages, a NaN dt), metadata and versions are kept, nothing is pickled, and
foreign or newer files are refused with a message."""

import dataclasses
import json

import numpy as np
import pytest

from conftest import generic_cloud, rand_weights
from w1flow import Euler, FlowResult, MeanFieldODE, W1Flow, simulate
from w1flow.monitors import HealthMonitor


def _same(r1, r2):
    for f in dataclasses.fields(FlowResult):
        a, b = getattr(r1, f.name), getattr(r2, f.name)
        if isinstance(a, np.ndarray) or a is None:
            assert (a is None) == (b is None), f.name
            if a is not None:
                assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), f.name
        elif isinstance(a, dict) and f.name == "params":
            assert isinstance(b, dict) and a.keys() == b.keys(), f.name
            for k in a:
                assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and a[k].tobytes() == b[k].tobytes()
        elif f.name in ("xs", "weights", "parents"):
            assert len(a) == len(b), f.name
            for p, q in zip(a, b):
                assert p.dtype == q.dtype and p.shape == q.shape and p.tobytes() == q.tobytes(), f.name
        elif isinstance(a, float) and np.isnan(a):
            assert np.isnan(b), f.name
        else:
            assert a == b and type(a) is type(b), f.name


class _Flags(HealthMonitor):
    every_step = True

    def check(self, t, x, a, w1_history, field):
        return "too slow" if t > 0.25 else None


def _runs(rng):
    y = generic_cloud(rng, 7, 2)
    split = simulate(W1Flow(y), generic_cloud(rng, 5, 2, shift=2.0), 1.0, 0.5, weights=rand_weights(rng, 5),
                     solver=Euler(split=True))
    assert len({x.shape[0] for x in split.xs}) > 1  # ragged
    with pytest.warns(RuntimeWarning):
        warned = simulate(W1Flow(y), y + 1.0, 0.5, 0.1, monitors=[_Flags()], on_unhealthy="warn")
    assert warned.health
    mean_field = simulate(MeanFieldODE(lambda x, a, t: -x), np.linspace(0, 1, 6)[:, None], 0.3, 0.1)
    assert mean_field.w1 is None
    bare = FlowResult(ts=np.zeros(1), xs=[np.ones((2, 3))], weights=[np.full(2, 0.5)], parents=[np.arange(2)],
                      w1=None, status="success", message="", n_steps=0, n_field_evals=0, n_lp_solves=0,
                      wall_time=0.0)
    assert np.isnan(bare.dt)
    x0 = np.linspace(0, 1, 6)[:, None]
    named = simulate(MeanFieldODE(lambda x, a, t, p: -p["rate"][:, None] * x + p["kind"][:, None],
                                  params={"rate": np.linspace(1, 2, 6), "kind": np.arange(6) % 2}), x0, 0.3, 0.1)
    plain = simulate(MeanFieldODE(lambda x, a, t, p: -p * x, params=np.linspace(1, 2, 6)[:, None]), x0, 0.3, 0.1)
    assert isinstance(named.params, dict) and plain.params.shape == (6, 1)
    from w1flow import W2Flow

    w2 = simulate(W2Flow(y), y + 1.0, 0.3, 0.1)
    assert w2.functional_name == "W2" and w2.functional.shape == w2.ts.shape
    return {"split": split, "warned": warned, "mean_field": mean_field, "bare": bare, "named": named,
            "plain": plain, "w2": w2}


def test_every_field_round_trips_bitwise(rng, tmp_path):
    for name, res in _runs(rng).items():
        path = res.save(tmp_path / name)
        assert path.suffix == ".npz" and path.exists()
        _same(res, FlowResult.load(path))


def test_metadata_and_versions_are_kept_and_nothing_is_pickled(rng, tmp_path):
    res = _runs(rng)["mean_field"]
    path = res.save(tmp_path / "r.npz", metadata={"seed": 3, "config": {"dt": 0.1, "solver": "euler"}})
    meta = FlowResult.read_metadata(path)
    assert meta["metadata"] == {"seed": 3, "config": {"dt": 0.1, "solver": "euler"}}
    assert meta["result"]["status"] == "success" and meta["format"] == "w1flow.FlowResult"
    assert {"python", "w1flow", "numpy", "scipy", "pot", "numba"} <= set(meta["versions"])
    with np.load(path, allow_pickle=False) as npz:  # every entry loads without pickle
        assert all(npz[k].dtype != object for k in npz.files)
    with pytest.raises(TypeError, match=r"\bmetadata must be JSON-serialisable"):
        res.save(tmp_path / "bad.npz", metadata={"seed": np.random.default_rng(0)})


def test_foreign_and_newer_files_are_refused(rng, tmp_path):
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match=r"not a saved FlowResult: it has no 'meta'"):
        FlowResult.load(tmp_path / "other.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match=r"not a saved FlowResult"):
        FlowResult.load(tmp_path / "text.npz")
    path = _runs(rng)["bare"].save(tmp_path / "new.npz")
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["meta"]))
    meta["version"] = 99
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"newer w1flow .* upgrade w1flow"):
        FlowResult.load(path)
    meta["format"], meta["version"] = "something.else", 1
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"not a saved FlowResult \(format 'something.else'\)"):
        FlowResult.load(path)
