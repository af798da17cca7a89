"""Checkpoints cannot run code: the file is an .npz read with allow_pickle=False plus a JSON tree,
loaded into the caller's own objects. A pickle (the old format), an .npz holding pickled objects, a
class name the code does not list, or a tree nested too deeply is refused with a CheckpointError; and
a run whose solver or oracle has no state protocol of its own is refused before its first step."""

import json

import numpy as np
import pytest

from conftest import stop_after
from w1flow import Checkpoint, CheckpointError, Euler, ExactPotential, MeanFieldODE, W1Flow, simulate
from w1flow.checkpoint import read_checkpoint, write_checkpoint
from w1flow.generative import Evaluation, MLPGenerator, train


class _Payload:
    """Unpickling this calls ``open(sentinel, "w")``: the file appears if anything unpickles it."""

    def __init__(self, sentinel):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (open, (self.sentinel, "w"))


def _problem():
    rng = np.random.default_rng(0)
    return rng.normal(size=(12, 2)), rng.normal(size=(10, 2)) + 2.0


def _train_args():
    rng = np.random.default_rng(1)
    return MLPGenerator(2, 2, hidden=(8,), seed=1), rng.normal(size=(40, 2))


def _resume_both(path):
    """Resume a flow and a training run from ``path``; both must refuse."""
    x, y = _problem()
    with pytest.raises(CheckpointError) as flow:
        simulate(W1Flow(y), x, 0.3, 0.1, checkpoint=Checkpoint(path, resume=True))
    gen, data = _train_args()
    with pytest.raises(CheckpointError) as gen_run:
        train(gen, data, ExactPotential(), n_iter=2, batches=8, checkpoint=Checkpoint(path, resume=True))
    return str(flow.value), str(gen_run.value)


def test_a_crafted_pickle_is_refused_and_its_payload_never_runs(tmp_path):
    import pickle

    sentinel = tmp_path / "sentinel"
    path = tmp_path / "run.ckpt"
    path.write_bytes(pickle.dumps({"format_version": 2, "run": _Payload(sentinel)}))
    for message in _resume_both(path):
        assert "is a pickle" in message and "runs whatever code it names" in message
        assert "Delete it" in message and "start the run again" in message
    assert not sentinel.exists()


def test_an_npz_holding_pickled_objects_is_refused_and_its_payload_never_runs(tmp_path):
    sentinel = tmp_path / "sentinel"
    path = tmp_path / "run.ckpt"
    tree = {"format_version": 3, "fingerprint": None, "state": {"$": "dict", "items": []}}
    with open(path, "wb") as fh:  # np.savez pickles an object array into the archive
        np.savez(fh, __magic__=np.array("w1flow-checkpoint"), __tree__=np.array(json.dumps(tree)),
                 a0=np.array([_Payload(sentinel)], dtype=object))
    for message in _resume_both(path):
        assert "holds pickled Python objects" in message
    with pytest.raises(CheckpointError, match="holds pickled Python objects"):
        read_checkpoint(path)  # also without a fingerprint to compare
    assert not sentinel.exists()


def test_checkpoint_files_hold_no_pickle(tmp_path):
    x, y = _problem()
    ck = tmp_path / "run.ckpt"
    simulate(W1Flow(y), x, 0.3, 0.1, checkpoint=Checkpoint(ck))
    assert ck.read_bytes()[:4] == b"PK\x03\x04"
    with np.load(ck, allow_pickle=False) as npz:  # every entry loads without pickle
        entries = {k: npz[k] for k in npz.files}
    assert all(not v.dtype.hasobject for v in entries.values())
    assert json.loads(str(entries["__tree__"]))["format_version"] == 3


def test_truncated_and_garbage_files_are_refused(tmp_path):
    x, y = _problem()
    ck = tmp_path / "run.ckpt"
    simulate(W1Flow(y), x, 0.3, 0.1, checkpoint=Checkpoint(ck))
    whole = ck.read_bytes()
    for broken in (whole[: len(whole) // 2], whole[:3], b"", b"\x00" * 64, b"PK\x03\x04garbage"):
        ck.write_bytes(broken)
        with pytest.raises(CheckpointError, match="could not be read"):
            simulate(W1Flow(y), x, 0.3, 0.1, checkpoint=Checkpoint(ck, resume=True))


def _tree_file(path, state, **arrays):
    tree = {"format_version": 3, "fingerprint": None, "state": state}
    with open(path, "wb") as fh:
        np.savez(fh, __magic__=np.array("w1flow-checkpoint"), __tree__=np.array(json.dumps(tree)), **arrays)


@pytest.mark.parametrize("state, match", [
    ({"$": "object", "class": "builtins:eval", "attrs": {"$": "dict", "items": []}}, "class 'builtins:eval'"),
    ({"$": "object", "class": "os:system", "attrs": {"$": "dict", "items": []}}, "class 'os:system'"),
    ({"$": "generator", "state": {"$": "dict", "items": [["bit_generator", "os.system"]]}}, "unknown kind"),
    ({"$": "array", "key": "missing"}, "missing array"),
    ({"$": "array", "key": "__tree__"}, "missing array"),
    ({"$": "float", "v": "1e309"}, "unknown number"),
    ({"$": "pickle", "data": "gASV"}, "unknown kind 'pickle'"),
    ({"no": "tag"}, "unknown entry"),
    ({"$": "ref", "name": "os.system"}, "refers to 'os.system', which this run does not have"),
])
def test_only_the_kinds_and_classes_the_code_lists_are_decoded(tmp_path, state, match):
    path = tmp_path / "run.ckpt"
    _tree_file(path, state)
    with pytest.raises(CheckpointError, match=match):
        read_checkpoint(path)


def test_deeply_nested_trees_are_refused(tmp_path):
    from w1flow.checkpoint import decode

    path = tmp_path / "run.ckpt"
    for depth in (70, 100_000):  # past the cap; past Python's own recursion limit
        with open(path, "wb") as fh:
            np.savez(fh, __magic__=np.array("w1flow-checkpoint"),
                     __tree__=np.array('{"format_version": 3, "fingerprint": null, "state": '
                                       + "[" * depth + "]" * depth + "}"))
        with pytest.raises(CheckpointError, match="nested deeper than 64"):
            read_checkpoint(path)
    with pytest.raises(CheckpointError, match="nested deeper than 64"):
        decode([[[]]], {}, depth=63)


class _UserOracle(ExactPotential):
    """A user's oracle: inherits the protocol but does not say it adds no state."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return super().__call__(*args, **kwargs)


class _UserEuler(Euler):
    pass


def test_objects_without_their_own_state_protocol_are_refused_before_the_first_step(tmp_path):
    x, y = _problem()
    ck = tmp_path / "run.ckpt"
    oracle = _UserOracle()
    for kwargs in (dict(potential=oracle), dict(problem=W1Flow(y, potential=oracle))):
        problem = kwargs.pop("problem", W1Flow(y))
        with pytest.raises(CheckpointError, match=r"potential oracle .*_UserOracle has no state protocol.*state_dict"):
            simulate(problem, x, 0.3, 0.1, checkpoint=Checkpoint(ck, every=1), **kwargs)
    with pytest.raises(CheckpointError, match=r"solver .*_UserEuler has no state protocol"):
        simulate(MeanFieldODE(lambda x, a, t: -x), x, 0.3, 0.1, solver=_UserEuler(), checkpoint=Checkpoint(ck))
    gen, data = _train_args()
    theta = gen.theta.copy()
    with pytest.raises(CheckpointError, match=r"potential oracle .*_UserOracle has no state protocol"):
        train(gen, data, oracle, n_iter=2, batches=8, checkpoint=Checkpoint(ck, every=1))
    assert oracle.calls == 0 and not ck.exists() and gen.theta.tobytes() == theta.tobytes()
    # without a checkpoint they run; with the protocol declared they checkpoint
    assert simulate(W1Flow(y), x, 0.3, 0.1, potential=oracle).success and oracle.calls > 0

    class Declared(_UserOracle):
        state_dict, load_state = ExactPotential.state_dict, ExactPotential.load_state

    assert simulate(W1Flow(y), x, 0.3, 0.1, potential=Declared(), checkpoint=Checkpoint(ck)).success
    assert read_checkpoint(ck)["status"] == "success"


def test_a_state_that_is_not_data_is_refused_when_written_naming_where(tmp_path):
    path = tmp_path / "x.ckpt"
    with pytest.raises(TypeError, match=r"state\['oracle'\]\['net'\]: a builtins\.function cannot be checkpointed"):
        write_checkpoint(path, {"oracle": {"net": lambda z: z}})
    with pytest.raises(TypeError, match="array of Python objects"):
        write_checkpoint(path, {"a": np.array([object()])})
    from collections import OrderedDict, namedtuple

    # a subclass of a container would come back as its base class: refused, not changed
    for value, kind in ((namedtuple("Pair", "p q")(1, 2), "Pair"), (OrderedDict(a=1), "OrderedDict")):
        with pytest.raises(TypeError, match=rf"state\['v'\]: a .*{kind} cannot be checkpointed"):
            write_checkpoint(path, {"v": value})
    assert not path.exists()


def test_values_of_every_kind_come_back_equal_and_of_their_type(tmp_path):
    path = tmp_path / "x.ckpt"
    rng = np.random.default_rng(7)
    rng.standard_normal(3)
    state = {"ints": [1, -2, 2**70], "floats": (0.1, float("nan"), float("-inf")), "none": None, "flag": True,
             "s": "text", "set": {1, 2}, 3: "int key", (1, 2): "tuple key", "arr": np.arange(6.0).reshape(2, 3),
             "i32": np.int32(5), "f64": np.float64(0.3), "rng": rng, "empty": np.zeros((0, 2))}
    write_checkpoint(path, state)
    back = read_checkpoint(path)
    assert back["ints"] == [1, -2, 2**70] and back["none"] is None and back["flag"] is True and back["s"] == "text"
    f = back["floats"]
    assert isinstance(f, tuple) and f[0] == 0.1 and np.isnan(f[1]) and f[2] == -np.inf
    assert back["set"] == {1, 2} and back[3] == "int key" and back[(1, 2)] == "tuple key"
    assert back["arr"].tobytes() == state["arr"].tobytes() and back["arr"].shape == (2, 3)
    assert type(back["i32"]) is np.int32 and type(back["f64"]) is np.float64 and back["f64"] == 0.3
    assert back["empty"].shape == (0, 2)
    assert back["rng"].standard_normal(4).tobytes() == rng.standard_normal(4).tobytes()


def test_resuming_a_training_run_with_other_held_out_data_is_refused(tmp_path):
    gen, data = _train_args()
    held = np.random.default_rng(2).normal(size=(30, 2))
    kw = dict(n_iter=2, batches=8, evaluation=Evaluation(held_out=held, every=1, samples=20))
    ck = tmp_path / "gen.ckpt"
    assert train(gen, data, ExactPotential(), checkpoint=Checkpoint(ck), **kw).success
    with pytest.raises(CheckpointError, match=r"different run: held_out differ"):
        train(MLPGenerator(2, 2, hidden=(8,), seed=1), data, ExactPotential(), checkpoint=Checkpoint(ck, resume=True),
              **dict(kw, evaluation=Evaluation(held_out=held + 1e-9, every=1, samples=20)))
    again = MLPGenerator(2, 2, hidden=(8,), seed=1)  # the same held-out data resumes (nothing left to run)
    done = train(again, data, ExactPotential(), checkpoint=Checkpoint(ck, resume=True), **kw)
    assert done.success and again.theta.tobytes() == gen.theta.tobytes()


def _torch_critic():
    pytest.importorskip("torch")
    from w1flow.potentials.torch_critic import TorchCriticPotential

    return TorchCriticPotential(hidden=(8,), n_critic=2, warmup=5, seed=0, device="cpu", num_threads=1)


def _penalised_critic():
    from w1flow import CriticPotential

    # two-sided: the penalty (and so the interpolates drawn from the generator) acts at every update
    return CriticPotential(hidden=(8,), n_warmup=5, n_critic=2, seed=3, penalty="two-sided")


@pytest.mark.parametrize("critic", [
    # the torch critic's weights, Adam state and penalty stream are saved as numpy arrays
    pytest.param(_torch_critic, id="torch critic"),
    # the gradient penalty draws from the critic's random generator at every update: its state (a
    # JSON dict in the file) must come back, as well as the weights and Adam's moments
    pytest.param(_penalised_critic, id="penalised numpy critic"),
])
def test_a_learned_critic_flow_resumes_bitwise(tmp_path, critic):
    x, y = _problem()
    ref = simulate(W1Flow(y), x, 0.5, 0.1, potential=critic())
    ck = tmp_path / "critic.ckpt"
    part = simulate(W1Flow(y), x, 0.5, 0.1, potential=critic(), checkpoint=Checkpoint(ck, every=1),
                    callback=stop_after(2))
    assert part.status == "interrupted"
    done = simulate(W1Flow(y), x, 0.5, 0.1, potential=critic(), checkpoint=Checkpoint(ck, resume=True))
    assert done.success and done.n_steps == ref.n_steps
    assert done.x_final.tobytes() == ref.x_final.tobytes() and done.w1.tobytes() == ref.w1.tobytes()


def _shipped_runs():
    from w1flow import (CappedEuler, EntropicPotential, EulerMaruyama, Heun, McKeanVlasovSDE, Milstein, MonoFlow,
                        QuantilePotential, W2Flow)
    from w1flow.potentials.fields import W2Potential
    from w1flow.second_order import SecondOrderODE, SymplecticEuler, VelocityVerlet

    x, y = _problem()
    sde = lambda: McKeanVlasovSDE(lambda x, a, t: -x, 0.3, seed=1)  # noqa: E731
    return {
        "exact, carried plan": lambda: (W1Flow(y), x, {}),
        "capped, split": lambda: (W1Flow(y), x, dict(solver=CappedEuler(split=True))),
        "exact, warm duals": lambda: (W1Flow(y), x, dict(potential=ExactPotential(warm_start=True),
                                                         solver=Euler(reuse_plan=False))),
        "exact, sparse incremental": lambda: (W1Flow(y), x, dict(solver=Euler(reuse_plan=False),
                                                                 potential=ExactPotential(sparse=True, incremental=True))),
        "entropic": lambda: (W1Flow(y), x, dict(potential=EntropicPotential(0.5))),
        "quantile": lambda: (W1Flow(y[:, :1]), x[:, :1], dict(potential=QuantilePotential())),
        "W2 flow": lambda: (W2Flow(y), x, {}),
        "W2 oracle": lambda: (W1Flow(y), x, dict(potential=W2Potential())),
        "MonoFlow (its h saved by name)": lambda: (MonoFlow(y), x, {}),
        "Heun": lambda: (MeanFieldODE(lambda x, a, t: -x), x, dict(solver=Heun())),
        "velocity Verlet": lambda: (SecondOrderODE(lambda q, v, a, t: -q, dim=1, velocity_dependent=False), x,
                                    dict(solver=VelocityVerlet())),
        "symplectic Euler": lambda: (SecondOrderODE(lambda q, v, a, t: -q, dim=1), x, dict(solver=SymplecticEuler())),
        "Euler-Maruyama": lambda: (sde(), x, dict(solver=EulerMaruyama())),
        "Milstein": lambda: (sde(), x, dict(solver=Milstein())),
    }


@pytest.mark.parametrize("name", list(_shipped_runs()))
def test_every_shipped_solver_and_oracle_resumes_bitwise(tmp_path, name):
    """Each shipped solver and oracle (and the field memo each leaves: plans, warm starts, a
    MonoFlow's classifier) goes through the .npz: the resumed run equals an uninterrupted one
    bitwise, with the same number of field evaluations."""
    make = _shipped_runs()[name]
    problem, x0, kw = make()
    ref = simulate(problem, x0, 0.5, 0.1, **kw)
    ck = tmp_path / "run.ckpt"
    problem, x0, kw = make()
    part = simulate(problem, x0, 0.5, 0.1, checkpoint=Checkpoint(ck, every=1), callback=stop_after(2), **kw)
    assert part.status == "interrupted"
    problem, x0, kw = make()
    done = simulate(problem, x0, 0.5, 0.1, checkpoint=Checkpoint(ck, resume=True), **kw)
    assert done.success and done.n_steps == ref.n_steps and done.n_field_evals == ref.n_field_evals
    assert done.x_final.tobytes() == ref.x_final.tobytes()
    assert (done.w1 is None) == (ref.w1 is None) and (ref.w1 is None or done.w1.tobytes() == ref.w1.tobytes())
    if ref.functional is not None:
        assert done.functional.tobytes() == ref.functional.tobytes()
