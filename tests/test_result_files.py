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


# -- damaged files: every inconsistency is a ResultFileError naming the file and the field --------
def _entries(path):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return arrays, json.loads(str(arrays.pop("meta")))


def _rewrite(path, arrays, meta=None, text=None):
    np.savez(path, **arrays, meta=np.array(text if text is not None else json.dumps(meta)))


def _edit_arrays(fn):
    def edit(arrays, meta):
        fn(arrays)
        return meta
    return edit


def _edit_result(key, value):
    def edit(arrays, meta):
        if value is _DROP:
            del meta["result"][key]
        else:
            meta["result"][key] = value
        return meta
    return edit


_DROP = object()


def _inc(a, i, by):
    a = a.copy()
    a[i] += by
    return a


# the split run saves snapshots of 5, then more particles: counts like [5, 7, 9]
MALFORMED = {
    "counts shorter than ts": (_edit_arrays(lambda a: a.update(counts=a["counts"][:-1])), "counts"),
    "counts shorter than ts, same total": (_edit_arrays(lambda a: a.update(
        counts=np.append(a["counts"][:-2], a["counts"][-2:].sum()))), "counts"),
    "counts not adding up to the points": (_edit_arrays(lambda a: a.update(counts=_inc(a["counts"], -1, 1))),
                                           "counts"),
    "a negative count (same total)": (_edit_arrays(lambda a: a.update(
        counts=_inc(_inc(a["counts"], 0, -a["counts"][0] - 1), 1, a["counts"][0] + 1))), "counts"),
    "a parent index past the first snapshot": (_edit_arrays(lambda a: a.update(
        parents=_inc(a["parents"], -1, a["counts"][0] - a["parents"][-1]))), "parents"),
    "a negative parent index": (_edit_arrays(lambda a: a.update(parents=_inc(a["parents"], 0, -1))), "parents"),
    "w1 shorter than ts": (_edit_arrays(lambda a: a.update(w1=a["w1"][:-1])), "w1"),
    "weights shorter than the points": (_edit_arrays(lambda a: a.update(weights=a["weights"][:-1])), "weights"),
    "a negative weight": (_edit_arrays(lambda a: a.update(weights=_inc(a["weights"], 0, -5.0))), "weights"),
    "ts decreasing": (_edit_arrays(lambda a: a.update(ts=a["ts"][::-1].copy())), "ts"),
    "ts with a NaN": (_edit_arrays(lambda a: a.update(ts=_inc(a["ts"], -1, np.nan))), "ts"),
    "points of another dimension": (lambda a, m: {**m, "dim": 3}, "xs"),
    "an unknown entry": (_edit_arrays(lambda a: a.update(extra=np.zeros(2))), "extra"),
    "no ts": (_edit_arrays(lambda a: a.pop("ts")), "ts"),
    "status missing (KeyError)": (_edit_result("status", _DROP), "result.status"),
    "n_steps a string": (_edit_result("n_steps", "3"), "result.n_steps"),
    "n_lp_solves negative": (_edit_result("n_lp_solves", -1), "result.n_lp_solves"),
    "timings a list": (_edit_result("timings", [1.0]), "result.timings"),
    "health a string": (_edit_result("health", "fine"), "result.health"),
    "split a number": (_edit_result("split", 1), "result.split"),
    "functional_name without functional": (_edit_result("functional_name", "W2"), "functional"),
    "result a list (AttributeError)": (lambda a, m: {**m, "result": []}, "result"),
    "metadata a string": (lambda a, m: {**m, "metadata": "x"}, "metadata"),
    "meta a JSON list (AttributeError)": (lambda a, m: [m], "meta"),
    "version a string": (lambda a, m: {**m, "version": "1"}, "version"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_each_inconsistent_entry_is_refused_naming_the_file_and_field(rng, tmp_path, case):
    from w1flow import ResultFileError

    edit, field = MALFORMED[case]
    path = _runs(rng)["split"].save(tmp_path / "r.npz")
    arrays, meta = _entries(path)
    assert len(arrays["counts"]) >= 3 and arrays["counts"][0] < arrays["counts"][-1]  # what the cases assume
    _rewrite(path, arrays, edit(arrays, meta))
    for read in (FlowResult.load, FlowResult.read_metadata):
        with pytest.raises(ResultFileError) as err:
            read(path)
        assert err.value.field == field and err.value.path == path
        assert str(path) in str(err.value) and repr(field) in str(err.value)
        assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("case", ["functional shorter than ts", "params of another length", "params twice",
                                  "functional without its name"])
def test_functional_and_params_must_match_the_snapshots(rng, tmp_path, case):
    from w1flow import ResultFileError

    runs = _runs(rng)
    path = (runs["w2"] if "functional" in case else runs["named"]).save(tmp_path / "r.npz")
    arrays, meta = _entries(path)
    if case == "functional shorter than ts":
        arrays["functional"], field = arrays["functional"][1:], "functional"
    elif case == "functional without its name":
        meta["result"]["functional_name"], field = None, "functional"
    elif case == "params of another length":
        arrays["params.rate"], field = arrays["params.rate"][:-1], "params.rate"
    else:
        arrays["params"], field = np.zeros(6), "params"
    _rewrite(path, arrays, meta)
    with pytest.raises(ResultFileError) as err:
        FlowResult.load(path)
    assert err.value.field == field and str(path) in str(err.value)


def test_broken_json_and_archives_are_refused_not_raised_raw(rng, tmp_path):
    from w1flow import ResultFileError

    path = _runs(rng)["bare"].save(tmp_path / "r.npz")
    arrays, meta = _entries(path)
    good = path.read_bytes()
    cases = {
        "not JSON (JSONDecodeError)": ('{"format": ', "meta", r"not valid JSON"),
        "1e5-deep JSON (RecursionError)": ("[" * 100_000 + "]" * 100_000, "meta", r"nests 100000 levels"),
        "65 deep": ("[" * 65 + "]" * 65, "meta", r"nests 65 levels"),
    }
    for case, (text, field, match) in cases.items():
        _rewrite(path, arrays, text=text)
        with pytest.raises(ResultFileError, match=match) as err:
            FlowResult.load(path)
        assert err.value.field == field, case
    np.savez(path, **arrays, meta=np.array([json.dumps(meta)]))  # a 1-element array, not a string
    with pytest.raises(ResultFileError) as err:
        FlowResult.load(path)
    assert err.value.field == "meta"
    for cut in (len(good) // 2, len(good) - 30, 100):  # truncated archives (BadZipFile, EOFError, zlib)
        path.write_bytes(good[:cut])
        with pytest.raises(ResultFileError, match=r"not a saved FlowResult") as err:
            FlowResult.load(path)
        assert err.value.field == "file" and err.value.path == path
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(ResultFileError, match=r"holds one array"):
        FlowResult.load(tmp_path / "one.npy")


def test_metadata_nesting_at_the_cap_round_trips_and_brackets_in_strings_do_not_count(rng, tmp_path):
    from w1flow import ResultFileError
    from w1flow.result import MAX_JSON_DEPTH

    res = _runs(rng)["bare"]
    deep = []
    for _ in range(MAX_JSON_DEPTH - 3):  # 62 levels of lists; with the file's object and "metadata": 64
        deep = [deep]
    path = res.save(tmp_path / "deep.npz", metadata={"deep": deep, "text": "[{" * 500 + '\\"[' * 100})
    meta = FlowResult.read_metadata(path)["metadata"]
    assert meta["deep"] == deep and meta["text"] == "[{" * 500 + '\\"[' * 100
    _same(res, FlowResult.load(path))
    with pytest.raises(ValueError, match=r"more than 63 levels deep"):
        res.save(tmp_path / "deeper.npz", metadata={"deep": [deep]})
    assert not (tmp_path / "deeper.npz").exists()
    arrays, meta = _entries(path)  # one level more, written by hand: refused on loading
    meta["metadata"]["deep"] = [deep]
    _rewrite(path, arrays, meta)
    with pytest.raises(ResultFileError, match=r"nests 65 levels"):
        FlowResult.load(path)


def test_an_atomic_write_keeps_the_old_file_whole_when_the_writer_fails(tmp_path):
    """w1flow._files.atomic_replace, the one atomic write (checkpoints, sweep records and summaries,
    reports): the new content appears whole or not at all, no temporary file stays behind, and the
    temporary is a sibling (os.replace is atomic only within one file system)."""
    from w1flow._files import atomic_replace, atomic_write_text

    path = tmp_path / "out.txt"
    atomic_write_text(path, "old")
    seen = []

    def half_then_fail(tmp):
        seen.append(tmp)
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_replace(path, half_then_fail)
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    assert seen[0].parent == tmp_path and seen[0] != path
    atomic_write_text(path, "new")
    assert path.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
