"""Generator runs from TOML: ``w1flow train CONFIG``, generator cells in ``w1flow sweep`` (TrainResult
records in the same resumable store as flows), the shipped K-study configs, and config errors that
name the table and the key."""

import textwrap
from pathlib import Path

import numpy as np
import pytest

from w1flow import ExactPotential
from w1flow.cli import main
from w1flow.config import ConfigError
from w1flow.generative import W1FE, Adam, Batches, Evaluation, MLPGenerator, TrainResult, train
from w1flow.generative.config import build_train, load_train_config, run_train_config
from w1flow.generative.experiments import TARGETS
from w1flow.sweep import SweepError, expand, read_store, run_sweep, summarize

ROOT = Path(__file__).resolve().parents[1]

RUN = """
[generator]
hidden = [8, 8]

[data]
target = "8 Gaussians"
n = 300
held_out = 100

[potential]
kind = "exact"

[method]
name = "w1fe"
K = 2
dt = 0.1

[optimizer]
lr = 2e-3

[batches]
size = 32

[evaluation]
every = 10
samples = 100

[train]
n_iter = 20
seed = 0
"""


def _write(tmp_path, text, name="gen.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_generator_config_runs_as_train_called_by_hand(tmp_path):
    """The config's objects are the ones a script would build: the same history, bitwise."""
    res = run_train_config(_write(tmp_path, RUN))
    rng = np.random.default_rng([0, 7])  # [data] seed defaults to [[train] seed, 7]: data, then held-out
    data, held = TARGETS["8 Gaussians"](300, seed=rng), TARGETS["8 Gaussians"](100, seed=rng)
    ref = train(MLPGenerator(2, 2, hidden=(8, 8), seed=0), data, ExactPotential(), W1FE(K=2, dt=0.1), n_iter=20,
                batches=Batches(size=32, seed=0), optimizer=Adam(lr=2e-3),
                evaluation=Evaluation(held_out=held, every=10, samples=100))
    for key in ("w1", "critic_dual", "generator_steps", "critic_steps"):
        assert res.history[key].tobytes() == ref.history[key].tobytes(), key
    assert res.generator.theta.tobytes() == ref.generator.theta.tobytes()


def test_w1flow_train_writes_a_result_that_loads(tmp_path, capsys):
    cfg = _write(tmp_path, RUN)
    assert main(["train", str(cfg), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert "success: 20 outer steps" in capsys.readouterr().out
    res = TrainResult.load(tmp_path / "run" / "result.npz")
    assert res.status == "success" and res.n_iter == 20 and np.isfinite(res.w1[1]).all()
    meta = TrainResult.read_metadata(tmp_path / "run" / "result.npz")["metadata"]
    assert meta["config"]["method"] == {"name": "w1fe", "K": 2, "dt": 0.1}


@pytest.mark.parametrize("old, new, message", [
    ("K = 2", 'K = "8"', r"\[method\] K: W1FE\(K=...\) must be an integer"),
    ("K = 2", "K = 0", r"\[method\] K: "),
    ("dt = 0.1", "dt = -1.0", r"\[method\] dt: "),
    ('name = "w1fe"', 'name = "w2fe"', r"\[method\] name: must be one of w1fe, wgan"),
    ("seed = 0", "seed = 1.5", r"\[train\] seed: must be an integer >= 0"),
    ("n_iter = 20", "n_iter = 2.0", r"\[train\] n_iter: "),
    ("lr = 2e-3", 'lr = "fast"', r"\[optimizer\] lr: "),
    ("size = 32", "size = 0", r"\[batches\] size: "),
    ("size = 32", "size = 32\nseed = 0.5", r"\[batches\] seed: "),
    ("every = 10", 'every = "often"', r"\[evaluation\] every: "),
    ("hidden = [8, 8]", "hiden = [8, 8]", r"\[generator\] hiden: unknown key"),
    ('kind = "exact"', 'kind = "exact"\nfoo = 1', r"\[potential\] foo: unknown key"),
    ('kind = "exact"', 'kind = "oracle"', r"\[potential\] kind: must be one of"),
    ('target = "8 Gaussians"', 'target = "9 Gaussians"', r"\[data\] target: must be one of"),
    ("n = 300", "n = 30.5", r"\[data\] n: "),
    ("[train]", "[training]\nx = 1\n[train]", r"unknown table \[training\]"),
])
def test_config_errors_name_the_table_and_key(tmp_path, old, new, message):
    cfg = _write(tmp_path, RUN.replace(old, new, 1))
    with pytest.raises(ConfigError, match=message):
        build_train(load_train_config(cfg), small=True)
    with pytest.raises(SystemExit) as exc:
        main(["train", str(cfg), "--out", str(tmp_path / "run")])
    assert exc.value.code == 2
    assert not (tmp_path / "run").exists()


def test_a_sweep_cell_with_a_bad_value_names_the_cell_table_and_key(tmp_path):
    cfg = _write(tmp_path, RUN + '\n[sweep]\n"method.K" = [1, "4"]\n')
    with pytest.raises(SweepError, match=r"sweep cell 1 \(method.K='4'\): \[method\] K: "):
        expand(cfg)
    with pytest.raises(SweepError, match=r"unknown key 'k' in \[optimizer\]"):
        expand(_write(tmp_path, RUN + '\n[sweep]\n"optimizer.k" = [1, 2]\n'))


def _k_sweep(tmp_path, Ks=(1, 4)):
    return _write(tmp_path, RUN + f'\n[sweep]\n"method.K" = {list(Ks)}\n', name="k.toml")


def test_a_k_sweep_of_generators_leaves_trainresult_records_and_resumes(tmp_path):
    store = tmp_path / "store"
    first = run_sweep(_k_sweep(tmp_path), store=store, workers=1)
    assert first.ran == 2 and first.failed == []
    assert [r["status"] for r in first.rows] == ["success", "success"]
    for cell in first.cells:
        res = TrainResult.load(store / "cells" / f"{cell.fingerprint}.npz")
        assert res.n_iter == 20 and res.generator_steps == 20 * cell.params["method.K"]
    recs = read_store(store)
    assert {r["n_steps"] for r in recs.values()} == {20} and all(r["w1_final"] > 0 for r in recs.values())
    again = run_sweep(_k_sweep(tmp_path), store=store, workers=1)
    assert again.ran == 0 and again.skipped == 2
    more = run_sweep(_k_sweep(tmp_path, Ks=(1, 4, 8)), store=store, workers=1)
    assert more.ran == 1 and more.skipped == 2  # only K = 8 is new
    assert len(summarize(store, figures=False)) == 3


def test_an_interrupted_generator_sweep_reruns_only_the_cells_left(tmp_path, monkeypatch):
    from w1flow.sweep import kinds

    store, calls = tmp_path / "store", []
    real = kinds.GeneratorKind.run

    def interrupted(self, config):
        calls.append(config["method"]["K"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, config)

    monkeypatch.setattr(kinds.GeneratorKind, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(_k_sweep(tmp_path, Ks=(1, 2, 4)), store=store, workers=1)
    assert len(read_store(store)) == 1
    monkeypatch.setattr(kinds.GeneratorKind, "run", real)
    again = run_sweep(_k_sweep(tmp_path, Ks=(1, 2, 4)), store=store, workers=1)
    assert again.ran == 2 and again.skipped == 1 and again.failed == []


def test_a_damaged_generator_record_is_set_aside_and_rerun(tmp_path):
    store = tmp_path / "store"
    first = run_sweep(_k_sweep(tmp_path), store=store, workers=1, summary=False)
    cut = store / "cells" / f"{first.cells[0].fingerprint}.npz"
    cut.write_bytes(cut.read_bytes()[:200])
    again = run_sweep(_k_sweep(tmp_path), store=store, workers=1, summary=False)
    assert again.ran == 1 and again.skipped == 1
    assert (cut.parent / (cut.name + ".unreadable")).exists()
    TrainResult.load(cut)


def test_the_shipped_single_run_config_is_valid():
    cfg = load_train_config(ROOT / "examples" / "configs" / "generative" / "w1fe_generator.toml")
    args = build_train(cfg, small=True)
    # the recipe: train's defaults (w1flow.generative.recipe), written out in the config only where required
    assert args["method"] == W1FE() and args["n_iter"] == 3000 and args["optimizer"] == Adam()
    pot = args["potential"]
    assert (pot.penalty, pot.n_critic, pot.n_warmup, pot.hidden, pot.seed) == ("one-sided", 10, 500, (48, 48), 0)


def test_the_shipped_digits_grid_expands_to_30_valid_cells():
    pytest.importorskip("sklearn")
    pytest.importorskip("torch")
    cells = expand(ROOT / "benchmarks" / "digits_grid.toml")
    assert len(cells) == 2 * 5 * 3
    assert {c.config["method"]["name"] for c in cells} == {"w1fe", "wgan_gp_reference"}


@pytest.mark.parametrize("name", ["k_study_critic.toml", "k_study_exact.toml"])
def test_the_shipped_k_study_configs_expand_to_180_valid_cells(name):
    cells = expand(ROOT / "examples" / "configs" / "generative" / name)
    assert len(cells) == 4 * 15 * 3
    methods = {(c.config["method"]["name"], c.config["method"].get("K")) for c in cells}
    assert ("wgan", None) in methods and ("w1fe", 32) in methods and ("naive_fresh", 4) in methods


def _example(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_w1fe_protocol_runs_its_jobs_through_the_runner_once(tmp_path):
    """examples/w1fe_sweep.py: each job is one cell of one store (a re-run, or a repeated job, runs
    nothing), with the records its figures read."""
    ws = _example("w1fe_sweep")
    tiny = dict(critic_updates=30, n_warmup=20, exact_steps=3, eval_samples=100, n_data=400, batch_size=64)
    jobs = [ws.job("8 Gaussians", "w1fe", 2, 0.1, 0, "critic", **tiny),
            ws.job("two moons", "wgan", 1, 0.0, 1, "exact", **tiny)]
    cells = ws.run_jobs(tmp_path / "store", jobs, progress=False)
    assert [c["method"] for c in cells] == ["w1fe", "wgan"]
    assert cells[0]["n_iter"] == 3 and cells[0]["critic_steps"][-1] == 30  # 20 warm-up + 2 x 5
    assert cells[1]["n_iter"] == 3 and cells[1]["critic_steps"][-1] == 3  # one LP per step
    for c in cells:
        assert c["final_w1"] > 0 and c["status"] == "success" and len(c["samples"]) == 500
    records = sorted(p.name for p in (tmp_path / "store" / "cells").iterdir())
    again = ws.run_jobs(tmp_path / "store", jobs + jobs[:1], progress=False)
    assert sorted(p.name for p in (tmp_path / "store" / "cells").iterdir()) == records  # nothing re-run
    assert again[2] == again[0] == cells[0]
    assert ws.label(cells[0]) == "W1-FE K=2 dt=0.1" + "".join(
        f" {k}={v:g}" if isinstance(v, float) else f" {k}={v}" for k, v in sorted(tiny.items()))
    with pytest.raises(TypeError, match=r"\bcritic_udpates\b"):
        ws.job("8 Gaussians", "w1fe", 1, 0.1, 0, critic_udpates=5)
    with pytest.raises(ValueError, match=r"\btarget must be one of"):
        ws.job("9 Gaussians", "w1fe", 1, 0.1, 0)


def test_sweep_keys_may_set_whole_tables_and_several_entries_in_step(tmp_path):
    cfg = _write(tmp_path, RUN + textwrap.dedent('''
        [sweep]
        method = [{name = "wgan"}, {name = "naive_same", K = 2}]
        "potential, train.n_iter" = [[{kind = "exact"}, 5], [{kind = "critic", hidden = [8], n_warmup = 3}, 7]]
    '''))
    cells = expand(cfg)
    assert [(c.config["method"], c.config["potential"]["kind"], c.config["train"]["n_iter"]) for c in cells] == [
        ({"name": "wgan"}, "exact", 5), ({"name": "wgan"}, "critic", 7),
        ({"name": "naive_same", "K": 2}, "exact", 5), ({"name": "naive_same", "K": 2}, "critic", 7)]
    assert cells[1].config["potential"] == {"kind": "critic", "hidden": [8], "n_warmup": 3}  # replaced, not merged
    bad = _write(tmp_path, RUN + '\n[sweep]\n"method.K, train.n_iter" = [[1, 5], [2]]\n', name="bad.toml")
    with pytest.raises(SweepError, match=r"sets 2 entries in step: each value must be a list of 2 values, got \[2\]"):
        expand(bad)
    bad = _write(tmp_path, RUN + '\n[sweep]\n"method.K, trian.n_iter" = [[1, 5], [2, 6]]\n', name="bad.toml")
    with pytest.raises(SweepError, match=r"unknown table 'trian'"):
        expand(bad)


def test_a_generator_config_reads_its_data_from_files(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.standard_normal((200, 2)))
    np.savez(tmp_path / "y.npz", y=rng.standard_normal((50, 2)))
    text = RUN.replace('target = "8 Gaussians"\nn = 300\nheld_out = 100', 'file = "x.npy"\nheld_out_file = "y.npz"')
    res = run_train_config(_write(tmp_path, text))
    assert res.success and res.w1[1].size == 2
    with pytest.raises(ConfigError, match=r"\[data\] file: .* does not exist"):
        load_train_config(_write(tmp_path, text.replace("x.npy", "nothere.npy")))


REFERENCE = """
[generator]
kind = "torch"
architecture = "mlp"
latent_dim = 2
hidden = [8]

[data]
target = "8 Gaussians"
n = 300
held_out = 100

[potential]
kind = "gp_critic"
architecture = "mlp"
hidden = [8]
n_critic = 2
lr = 1e-3

[method]
name = "wgan_gp_reference"

[batches]
size = 32

[evaluation]
every = 2
samples = 100

[train]
n_iter = 4
backend = "torch"
num_threads = 1
"""


def test_the_plain_torch_loop_runs_from_a_config(tmp_path):
    pytest.importorskip("torch")
    from w1flow.generative import Batches, GPCritic, TorchGenerator, wgan_gp_reference

    res = run_train_config(_write(tmp_path, REFERENCE))
    assert res.success and res.n_iter == 4
    rng = np.random.default_rng([0, 7])
    data, held = TARGETS["8 Gaussians"](300, seed=rng), TARGETS["8 Gaussians"](100, seed=rng)
    ref = wgan_gp_reference(TorchGenerator("mlp", 2, 2, hidden=(8,), seed=0), data,
                            GPCritic(kind="mlp", hidden=(8,), n_critic=2, optimizer=Adam(lr=1e-3, ema=0.0)), n_iter=4,
                            batches=Batches(size=32), evaluation=Evaluation(held_out=held, every=2, samples=100),
                            num_threads=1)
    assert res.history["w1"].tobytes() == ref.history["w1"].tobytes()
    cfg = load_train_config(_write(tmp_path, REFERENCE))
    with pytest.raises(ConfigError, match=r"\[potential\] kind: 'gp_critic' goes with"):
        build_train(dict(cfg, method={"name": "wgan"},
                         train={k: v for k, v in cfg["train"].items() if k != "num_threads"}), small=True)
    with pytest.raises(ConfigError, match=r"\[train\] num_threads: is for \[method\] name = 'wgan_gp_reference'"):
        build_train(dict(cfg, method={"name": "wgan"}), small=True)
    with pytest.raises(ConfigError, match=r"\[potential\] hiden: unknown key"):
        build_train(dict(cfg, potential=dict(cfg["potential"], hiden=3)), small=True)
    with pytest.raises(ConfigError, match=r"\[method\] K: unknown key"):
        build_train(dict(cfg, method={"name": "wgan_gp_reference", "K": 2}), small=True)


def test_w1flow_sweep_runs_and_resumes_a_generator_grid(tmp_path, capsys):
    cfg, store = _k_sweep(tmp_path), tmp_path / "store"
    assert main(["sweep", str(cfg), "--out", str(store), "--workers", "1", "--quiet"]) == 0
    assert "2 cells: ran 2, skipped 0" in capsys.readouterr().out
    assert main(["sweep", str(cfg), "--out", str(store), "--workers", "1", "--quiet"]) == 0
    assert "2 cells: ran 0, skipped 2" in capsys.readouterr().out
    assert (store / "summary.png").stat().st_size > 10_000


@pytest.mark.slow  # two spawned workers import w1flow and compile the generator's kernels
def test_a_generator_sweep_runs_in_the_process_pool(tmp_path):
    import os

    report = run_sweep(_k_sweep(tmp_path), store=tmp_path / "store", workers=2, summary=False)
    assert report.ran == 2 and report.failed == []
    for cell in report.cells:
        sw = TrainResult.read_metadata(tmp_path / "store" / "cells" / f"{cell.fingerprint}.npz")["metadata"]["sweep"]
        assert sw["pid"] != os.getpid() and sw["threads"]["numba"] == 1


def test_run_each_refuses_runs_with_different_tables(tmp_path):
    from w1flow.sweep import run_each

    with pytest.raises(ValueError, match=r"^configs: every run must give the same tables"):
        run_each([{"train": {"n_iter": 1}, "data": {}}, {"train": {"n_iter": 2}}], tmp_path / "s", workers=1)
