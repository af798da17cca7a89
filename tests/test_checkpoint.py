"""Resume refuses another run: the fingerprint covers the drift (code, closure, module-level values
it reads), the oracle and its settings, the solver and its settings, the data, weights and times;
what cannot be compared is refused unless Checkpoint(override=True)."""

import threading
from pathlib import Path

import numpy as np
import pytest

from conftest import generic_cloud, rand_weights, stop_after
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


def _theta0():
    return np.random.default_rng(3).uniform(-np.pi, np.pi, (40, 1))


def _interrupted(tmp_path, problem, solver=None, potential=None, x0=None, weights=None, k=50):
    ck = tmp_path / "run.ckpt"
    x0 = _theta0() if x0 is None else x0
    part = simulate(problem, x0, 2.0, 0.01, solver=solver or RK4(), potential=potential, weights=weights,
                    checkpoint=Checkpoint(ck, every=10), callback=stop_after(k))
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
    (dict(x0="moved"), "x0"),
    (dict(t1=2.0), "t1"),
    (dict(dt=0.04), "dt"),
    (dict(problem="W2Flow"), r"problem(?!\.)"),
])
def test_another_oracle_solver_weights_or_target_is_refused(tmp_path, rng, change, part):
    x, y = _w1_case(rng)
    ck = tmp_path / "w1.ckpt"
    simulate(W1Flow(y), x, 1.0, 0.05, solver=Euler(), checkpoint=Checkpoint(ck, every=5),
             callback=stop_after(7))
    kw = dict(solver=Euler(), checkpoint=Checkpoint(ck, resume=True))
    target, x0, t1, dt, problem = y, x, 1.0, 0.05, W1Flow
    for key, value in change.items():
        if key == "weights":
            kw["weights"] = rand_weights(rng, 20)
        elif key == "target":
            target = y + 1e-9
        elif key == "x0":
            x0 = x + 1e-9
        elif key == "t1":
            t1 = value
        elif key == "dt":
            dt = value
        elif key == "problem":
            from w1flow import W2Flow

            problem = W2Flow
        else:
            kw[key] = value
    with pytest.raises(CheckpointError, match=rf"different run: .*\b{part}\b.* differ"):
        simulate(problem(target), x0, t1, dt, **kw)
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


# ---------------------------------------------------------------------------------------------
# What the fingerprint describes (each case a way two runs can differ)
# ---------------------------------------------------------------------------------------------
from scipy.spatial.distance import cdist  # noqa: E402  (a library function a drift may call)

from w1flow.closed_forms import linear_mean_field_drift  # noqa: E402

SCALE = 2.0


def _fp(obj):
    return fingerprint(d=obj).parts["d"]


def test_code_constants_attribute_names_and_nested_code_are_fingerprinted():
    assert _fp(lambda x, a, t: -2.0 * x) != _fp(lambda x, a, t: -3.0 * x)  # a constant
    assert _fp(lambda x, a, t: np.sin(x)) != _fp(lambda x, a, t: np.cos(x))  # an attribute name
    global SCALE
    nested = lambda x, a, t: np.array([[SCALE * v for v in row] for row in x])  # noqa: E731
    before = _fp(nested)
    try:
        SCALE = 3.0  # read only inside the comprehension's own code object
        assert _fp(nested) != before
    finally:
        SCALE = 2.0
    assert _fp(nested) == before


def test_library_functions_are_named_and_closures_of_w1flow_drifts_hashed():
    uses_cdist = lambda x, a, t: -cdist(x, x).mean(axis=1, keepdims=True) * x  # noqa: E731
    assert _fp(uses_cdist) == _fp(uses_cdist) and not fingerprint(d=uses_cdist).unverifiable
    A = np.array([[-1.0, 0.2], [0.0, -0.5]])
    assert _fp(linear_mean_field_drift(A, A)) == _fp(linear_mean_field_drift(A.copy(), A.copy()))
    assert _fp(linear_mean_field_drift(A, A)) != _fp(linear_mean_field_drift(2 * A, A))


def test_an_empty_closure_cell_does_not_hide_the_others():
    def make(b):
        def drift(x, a, t):
            return late * b * x  # noqa: F821 - `late` is bound after the fingerprint

        fp = _fp(drift)
        late = 1.0  # noqa: F841
        return fp

    assert make(1.0) != make(2.0)

    def make_first(b):  # the empty cell comes first among the free variables
        def drift(x, a, t):
            return aa_late * b * x  # noqa: F821

        assert drift.__code__.co_freevars == ("aa_late", "b")
        fp = _fp(drift)
        aa_late = 1.0  # noqa: F841
        return fp

    assert make_first(1.0) != make_first(2.0)


OUTER = 2.0
INNER = 2.0


def test_globals_read_by_the_function_and_by_its_nested_code_are_both_fingerprinted():
    global OUTER, INNER
    drift = lambda x, a, t: OUTER * np.array([[INNER * v for v in row] for row in x])  # noqa: E731
    before = _fp(drift)
    for name in ("OUTER", "INNER"):
        globals()[name] = 3.0
        try:
            assert _fp(drift) != before, name
        finally:
            globals()[name] = 2.0
    assert _fp(drift) == before


def test_unverifiable_values_are_named_by_where_they_are():
    lock = threading.Lock()

    def closure(x, a, t):
        with lock:
            return x

    def default(x, a, t, guard=threading.Lock()):
        return x

    assert fingerprint(d=closure).unverifiable == ("d.<closure lock> (lock)",)
    assert fingerprint(d=default).unverifiable == ("d.<defaults>[0][0] (lock)",)
    assert fingerprint(d=_reads_global_lock).unverifiable == ("d.<global GLOBAL_LOCK> (lock)",)


GLOBAL_LOCK = threading.Lock()


def _reads_global_lock(x, a, t):
    with GLOBAL_LOCK:
        return x


def test_fingerprint_differences_name_missing_parts_too():
    a = fingerprint(x=1, y=2)
    b = fingerprint(x=1, z=2)
    assert a.differences(b) == ["y", "z"] and a.differences(a) == []


def test_checkpoint_files_are_written_atomically_into_new_folders(tmp_path):
    from w1flow.checkpoint import read_checkpoint, write_checkpoint

    path = tmp_path / "a" / "b" / "run.ckpt"
    write_checkpoint(path, {"k": 1})
    assert read_checkpoint(path)["k"] == 1
    with pytest.raises(TypeError, match=r"state\['bad'\]: a builtins\.function cannot be checkpointed"):
        write_checkpoint(path, {"k": 2, "bad": lambda: None})  # not data: nothing replaces the file
    assert read_checkpoint(path)["k"] == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["run.ckpt"]  # no temporary file left


def test_the_temporary_file_is_a_sibling_of_the_checkpoint(tmp_path, monkeypatch):
    """os.replace is atomic only within one file system: the temporary file must be written in
    the checkpoint's own folder, named after it, and renamed onto it."""
    import os

    from w1flow.checkpoint import read_checkpoint, write_checkpoint

    seen = []
    real = os.replace

    def spy(src, dst):
        seen.append((os.fspath(src), os.fspath(dst)))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    path = tmp_path / "run.ckpt"
    write_checkpoint(path, {"k": 3})
    (src, dst), = seen
    src = Path(src)
    assert Path(dst) == path and src.parent == path.parent
    assert src.name.startswith(".run.ckpt.") and src.name.endswith(".tmp") and src != path
    assert read_checkpoint(path)["k"] == 3


def _npz_checkpoint(path, tree, magic="w1flow-checkpoint", **arrays):
    """A hand-made checkpoint file: the magic entry, a JSON tree, and arrays."""
    import json

    np.savez(path, __magic__=np.array(magic), __tree__=np.array(json.dumps(tree)), **arrays)
    Path(str(path) + ".npz").replace(path)


def test_unreadable_or_foreign_checkpoints_are_refused(tmp_path):
    from w1flow.checkpoint import FORMAT_VERSION, read_checkpoint

    path = tmp_path / "x.ckpt"
    for foreign in (["not", "a", "dict"], ["format_version"], {"no": "version"}):
        _npz_checkpoint(path, foreign)
        with pytest.raises(CheckpointError, match="unknown format"):
            read_checkpoint(path)
    _npz_checkpoint(path, {"format_version": 2})
    with pytest.raises(CheckpointError, match=r"format version 2.*reads format 3"):
        read_checkpoint(path)
    for saved in ("0123abcd", None, {"parts": {"x": 1}}):  # not a fingerprint: belongs to no run
        _npz_checkpoint(path, {"format_version": FORMAT_VERSION, "fingerprint": saved,
                               "state": {"$": "dict", "items": []}})
        with pytest.raises(CheckpointError, match="different run: everything differ"):
            read_checkpoint(path, expected_fingerprint=fingerprint(x=1))
    _npz_checkpoint(path, {"format_version": FORMAT_VERSION}, magic="something else")
    with pytest.raises(CheckpointError, match="an .npz but not a w1flow checkpoint"):
        read_checkpoint(path)


def test_checkpoint_records_status_and_wall_time_across_a_resume(tmp_path):
    import time

    from w1flow.checkpoint import read_checkpoint

    ck = tmp_path / "w.ckpt"
    x0 = _theta0()
    start = time.perf_counter()
    part = simulate(MeanFieldODE(kuramoto(2.0)), x0, 2.0, 0.01, solver=RK4(), checkpoint=Checkpoint(ck, every=10),
                    callback=stop_after(50))
    saved = read_checkpoint(ck)
    assert saved["status"] == "interrupted" and saved["k"] == 50 == part.n_steps
    done = simulate(MeanFieldODE(kuramoto(2.0)), x0, 2.0, 0.01, solver=RK4(), checkpoint=Checkpoint(ck, resume=True))
    total = time.perf_counter() - start
    assert part.wall_time > 0 and part.wall_time < done.wall_time <= total
    assert read_checkpoint(ck)["status"] == "success"


def test_checkpoint_spec_validates_every_option():
    with pytest.raises(TypeError, match=r"^override must be True or False"):
        Checkpoint("x.ckpt", override="yes")
    with pytest.raises(TypeError, match=r"^every must be an integer"):
        Checkpoint("x.ckpt", every=2.5)


def test_library_modules_are_told_from_user_code(tmp_path, monkeypatch):
    import importlib

    from w1flow.checkpoint import _library_module

    for name in ("numpy", "numpy.linalg", "scipy.spatial", "ot", "w1flow.problems", "builtins", "math", "json",
                 "collections.abc", "tqdm", "pytest"):
        importlib.import_module(name)  # a drift's module globals are loaded modules
        assert _library_module(name), name
    (tmp_path / "my_drifts.py").write_text("def f(x):\n    return x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("my_drifts")
    for name in ("my_drifts", "conftest", None, "", "not_a_loaded_module"):
        assert not _library_module(name), name
    import sysconfig
    import types

    for path, expect in [("/opt/env/lib/python3.11/site-packages/fake/__init__.py", True),
                         ("/usr/lib/python3/dist-packages/fake/__init__.py", True),
                         (sysconfig.get_paths()["stdlib"] + "/fake.py", True),
                         ("/home/me/project/fake.py", False), (None, False)]:
        fake = types.ModuleType("fake_pkg")
        if path is not None:
            fake.__file__ = path
        monkeypatch.setitem(__import__("sys").modules, "fake_pkg", fake)
        assert _library_module("fake_pkg.sub") is expect, path


class _Holder:
    """A drift as a bound method: its instance's attributes are part of the run."""

    def __init__(self, k):
        self.k = k

    def drift(self, x, a, t):
        return -self.k * x


class _Plain:
    def __init__(self, k):
        self.k = k


def _scaled(k, x, a, t):
    return -k * x


def _numba_drifts():
    import numba

    return numba.njit(lambda x: -x), numba.njit(lambda x: -2.0 * x)


def test_every_kind_of_value_a_drift_can_hold_is_described():
    """Each pair: built twice equal, and changed in one value (or only in its kind or shape)."""
    import dataclasses
    import functools

    Params = dataclasses.make_dataclass("Params", [("k", float)])
    nb1, nb2 = _numba_drifts()
    cases = {
        "object array": (lambda: np.array([1.0, "a"], dtype=object), np.array([1.0, "b"], dtype=object)),
        "object array shape": (lambda: np.array([[1.0, 2.0]], dtype=object), np.array([1.0, 2.0], dtype=object)),
        "tuple is not list": (lambda: (1, 2), [1, 2]),
        "set": (lambda: {1, "a"}, {2, "a"}),
        "set of containers": (lambda: {(1, 2)}, {(1, 3)}),
        "dict keys of mixed types": (lambda: {1: "x", "a": "y"}, {2: "x", "a": "y"}),
        "dict container keys": (lambda: {(1, 2): 0}, {(1, 3): 0}),
        "dict values": (lambda: {"a": (1,)}, {"a": (2,)}),
        "bound method": (lambda: _Holder(2.0).drift, _Holder(3.0).drift),
        "bound method's function": (lambda: _Holder(2.0).drift, _Holder(2.0).__init__),
        "partial": (lambda: functools.partial(_scaled, 2.0), functools.partial(_scaled, 3.0)),
        "ufunc": (lambda: np.sin, np.cos),
        "numba dispatcher": (lambda: nb1, nb2),
        "dataclass": (lambda: Params(1.0), Params(2.0)),
        "plain object": (lambda: _Plain((1.0,)), _Plain((2.0,))),
    }
    for name, (make, other) in cases.items():
        assert _fp(make()) == _fp(make()), name
        assert _fp(make()) != _fp(other), name
        assert not fingerprint(d=make()).unverifiable, name
    # a partial is not the tuple of what it holds
    assert _fp(functools.partial(_scaled, 2.0)) != _fp((_scaled, (2.0,), {}))
    # sets and dicts are described in a fixed order, whatever the insertion order
    assert _fp({"a", 1, (2, 3)}) == _fp({(2, 3), 1, "a"})
    assert _fp({1: "x", "a": "y"}) == _fp({"a": "y", 1: "x"})


def test_unverifiable_values_inside_containers_are_named_by_where_they_are():
    import functools

    lock = threading.Lock()
    where = {
        "list": ([1, lock], "d[1] (lock)"),
        "object array": (np.array([lock, 1], dtype=object), "d[0] (lock)"),
        "set": ({lock}, "d{} (lock)"),
        "dict key": ({lock: 1}, "d.key (lock)"),
        "dict value": ({"k": lock}, "d['k'] (lock)"),
        "bound method's instance": (_Holder(lock).drift, "d.__self__['k'] (lock)"),
        "partial argument": (functools.partial(_scaled, lock), "d[1][0] (lock)"),
    }
    for name, (obj, path) in where.items():
        assert fingerprint(d=obj).unverifiable == (path,), name


def test_only_a_checkpointed_run_is_fingerprinted(monkeypatch, tmp_path):
    """Describing the drift and hashing x0 costs time: a run without a checkpoint skips it."""
    import importlib

    sim = importlib.import_module("w1flow.simulate")

    calls = []
    real = sim.fingerprint
    monkeypatch.setattr(sim, "fingerprint", lambda **parts: calls.append(sorted(parts)) or real(**parts))
    x0 = np.linspace(0.0, 1.0, 5)[:, None]
    simulate(MeanFieldODE(lambda x, a, t: -x), x0, 0.5, 0.1)
    assert calls == []
    simulate(MeanFieldODE(lambda x, a, t: -x), x0, 0.5, 0.1, checkpoint=Checkpoint(tmp_path / "c.ckpt"))
    assert len(calls) == 1 and {"x0", "weights", "t1", "dt", "solver", "oracle", "problem"} <= set(calls[0])


def _nested(k):
    x = 1
    for _ in range(k):
        x = [x]
    return x


def test_cycles_and_the_depth_limit_are_unverifiable_where_they_are():
    cyc = [1]
    cyc.append(cyc)
    assert fingerprint(d=cyc).unverifiable == ("d[1] (nested too deeply or cyclic)",)
    # nine nested lists are described; the tenth level is too deep (max_depth = 8 below the part)
    assert fingerprint(d=_nested(9)).unverifiable == ()
    assert fingerprint(d=_nested(10)).unverifiable == ("d" + "[0]" * 9 + " (nested too deeply or cyclic)",)


def test_modules_classes_builtins_and_numpy_scalars_are_told_apart():
    import math

    import w1flow

    Outer = type("Outer", (), {})
    Inner = type("Inner", (), {"__qualname__": "Outer.Inner", "__module__": __name__})
    TopInner = type("Inner", (), {"__qualname__": "Inner", "__module__": __name__})
    pairs = [
        (np.float64(1.0), np.float32(1.0)),  # numpy scalars by dtype
        (np.linalg, np.fft),  # modules by name
        (w1flow.Euler, type("Euler", (), {"__module__": "elsewhere"})),  # classes by module ...
        (Inner, TopInner),  # ... and qualified name
        (np.linalg, type("linalg", (), {"__module__": "", "__qualname__": "numpy.linalg"})),  # a module is no class
        (np.sin, math.sin),  # builtins by module ...
        ([].pop, {}.pop),  # ... and qualified name
    ]
    for one, other in pairs:
        assert _fp(one) != _fp(other), (one, other)
    assert Outer is not None


class _CountingOracle(ExactPotential):
    """An oracle subclass: the same settings as its base, another class."""


def test_oracles_and_solvers_by_class_and_settings_not_by_their_counters(rng):
    import dataclasses

    fresh, used = ExactPotential(), ExactPotential()
    x, y = generic_cloud(rng, 5, 2), generic_cloud(rng, 5, 2)
    used(x, None, y, None)
    assert used.counters["lp_solves"] == 1
    assert _fp(fresh) == _fp(used)  # counters are not part of a run's identity
    assert _fp(ExactPotential()) != _fp(_CountingOracle())
    same_module = type("MyExact", (ExactPotential,), {"__module__": ExactPotential.__module__})
    assert _fp(ExactPotential()) != _fp(same_module())  # by qualified name alone
    assert _fp(ExactPotential()) != _fp(type("ExactPotential", (ExactPotential,), {"__module__": "elsewhere"})())
    MyEuler = type("MyEuler", (Euler,), {"__module__": Euler.__module__})
    assert _fp(Euler()) != _fp(MyEuler())  # by qualified name alone
    assert _fp(Euler()) != _fp(type("Euler", (Euler,), {"__module__": "elsewhere"})())
    # dataclasses by class and fields (also with slots), plain objects by class and attributes
    A = dataclasses.make_dataclass("A", [("k", float)])
    B = dataclasses.make_dataclass("B", [("k", float)])
    S = dataclasses.make_dataclass("S", [("k", float)], slots=True)
    assert _fp(A(1.0)) != _fp(B(1.0)) and not fingerprint(d=S(1.0)).unverifiable and _fp(S(1.0)) != _fp(S(2.0))
    Other = type("_Plain", (), {"__module__": "elsewhere", "__init__": _Plain.__init__})
    assert _fp(_Plain(1.0)) != _fp(Other(1.0))
    Renamed = type("_Renamed", (), {"__module__": _Plain.__module__, "__init__": _Plain.__init__})
    assert _fp(_Plain(1.0)) != _fp(Renamed(1.0))


def test_unverifiable_settings_options_and_fields_are_named_by_where_they_are():
    import dataclasses

    from w1flow.potentials.base import PotentialOracle

    lock = threading.Lock()

    class LockedOracle(PotentialOracle):
        def settings(self):
            return {"guard": lock}

    class LockedEuler(Euler):
        @property
        def options(self):
            return {"guard": lock}

    D = dataclasses.make_dataclass("D", [("guard", object)])
    assert fingerprint(o=LockedOracle()).unverifiable == ("o['guard'] (lock)",)
    assert fingerprint(s=LockedEuler()).unverifiable == ("s['guard'] (lock)",)
    assert fingerprint(c=D(lock)).unverifiable == ("c['guard'] (lock)",)


def test_checkpoints_written_before_the_lp_package_still_load(tmp_path):
    """The exact LP moved from ``w1flow._lp``/``w1flow._netsimplex`` to ``w1flow.lp``: a checkpoint
    naming the old classes (an incremental flow's plan and basis) resumes to the same result."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 2)) + 2, rng.normal(size=(25, 2))

    def run(path, resume=False, **kw):
        prob = W1Flow(y, potential=ExactPotential(incremental=True))
        return simulate(prob, x, 1.0, 0.1, solver=Euler(reuse_plan=False),
                        checkpoint=Checkpoint(path, every=2, resume=resume), **kw)

    path = tmp_path / "run.ckpt"
    assert not run(path, callback=stop_after(5)).success  # interrupted
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    tree = str(arrays["__tree__"])
    assert "w1flow.lp.result:LPResult" in tree and "w1flow.lp.netsimplex:TransportBasis" in tree
    arrays["__tree__"] = np.array(tree.replace("w1flow.lp.result:LPResult", "w1flow._lp:LPResult")
                                  .replace("w1flow.lp.netsimplex:TransportBasis", "w1flow._netsimplex:TransportBasis"))
    old = tmp_path / "old.ckpt"
    with open(old, "wb") as f:
        np.savez(f, **arrays)
    fresh = run(tmp_path / "fresh.ckpt")
    resumed = run(old, resume=True)
    assert resumed.success and np.array_equal(resumed.x_final, fresh.x_final) and np.array_equal(resumed.w1, fresh.w1)
