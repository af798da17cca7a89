"""Every problem family runs from a TOML config (``examples/configs/``), with the same result as
the objects built by hand; a value of the wrong type names its table and key."""

import importlib.util
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from w1flow import (CappedEuler, Euler, EulerMaruyama, ExactPotential, McKeanVlasovSDE, MeanFieldODE, MonoFlow,
                    RK4, SaveAt, SecondOrderODE, VelocityVerlet, W1Flow, W2Flow, registry, simulate)
from w1flow.cli import main
from w1flow.config import ConfigError, build, load_config, run_config
from w1flow.datasets import eight_gaussians, gaussian_blob, two_moons

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "examples" / "configs"


def _functions():
    spec = importlib.util.spec_from_file_location("config_functions", CONFIGS / "functions.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


F = _functions()
N = 24  # tiny clouds: each config runs in well under a second (MonoFlow fits a classifier per step)


def _by_hand(name):
    """``(problem, x0, t1, dt, solver, save_every)`` of the example config ``name``, built by hand."""
    y = eight_gaussians(N, seed=1)
    blob = gaussian_blob(N, center=(3.0, 0.0), seed=0)
    return {
        "w1_flow.toml": (W1Flow(y, potential=ExactPotential()), blob, 1.0, 0.05, CappedEuler(), 10),
        "w2_flow.toml": (W2Flow(y), blob, 1.0, 0.1, Euler(), 5),
        "mean_field.toml": (MeanFieldODE(F.rotation, dim=2), two_moons(N, seed=0), 1.0, 0.05, RK4(), 10),
        "sde.toml": (McKeanVlasovSDE(F.mean_reverting, 0.5, seed=1), gaussian_blob(N, center=[2.0], seed=0), 1.0,
                     0.015625, EulerMaruyama(), 16),
        "second_order.toml": (SecondOrderODE(F.harmonic_trap, dim=1, velocity_dependent=False),
                              gaussian_blob(N, center=[1.0, 0.0], seed=0), 1.0, 0.05, VelocityVerlet(), 10),
        "monoflow.toml": (MonoFlow(gaussian_blob(N, center=[0.0, 0.0], seed=1), h="reverse_kl"),
                          gaussian_blob(N, center=[2.0, 0.0], seed=0), 0.2, 0.1, Euler(), 5),
    }[name]


def _small(name, tmp_path):
    """The example config, copied next to its functions with n = N and t1 of the hand-built run."""
    text = (CONFIGS / name).read_text()
    text = re.sub(r"(?m)^n = \d+$", f"n = {N}", text)
    text = re.sub(r"(?m)^t1 = .*$", f"t1 = {_by_hand(name)[2]}", text)
    shutil.copy(CONFIGS / "functions.py", tmp_path / "functions.py")
    path = tmp_path / name
    path.write_text(text)
    return path


EXAMPLES = sorted(p.name for p in CONFIGS.glob("*.toml"))


def test_the_examples_cover_every_family():
    kinds = {load_config(CONFIGS / name)["problem"]["kind"] for name in EXAMPLES}
    assert kinds == {"w1", "w2", "mean_field", "sde", "second_order", "monoflow"}
    assert kinds <= set(registry.PROBLEMS)


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_config_runs_its_family_like_the_objects_built_by_hand(name, tmp_path):
    path = _small(name, tmp_path)
    res = run_config(path, out=tmp_path / "out", progress=False)
    problem, x0, t1, dt, solver, every = _by_hand(name)
    ref = simulate(problem, x0, t1, dt, solver=solver, saveat=SaveAt(every=every))
    assert res.success, res.message
    assert type(build(path, tmp_path)[0]) is type(problem)
    assert np.array_equal(res.x_final, ref.x_final) and np.array_equal(res.ts, ref.ts)
    assert (res.w1 is None) == (ref.w1 is None)
    if ref.w1 is not None:
        assert np.array_equal(res.w1, ref.w1)
    assert (tmp_path / "out" / "result.npz").is_file() and (tmp_path / "out" / "summary.json").is_file()


def test_the_cli_runs_an_sde_config(tmp_path, capsys):
    path = _small("sde.toml", tmp_path)
    assert main(["run", str(path), "--out", str(tmp_path / "cli"), "--quiet"]) == 0
    assert "success: t = 1 after 64 steps" in capsys.readouterr().out


def test_run_help_lists_every_registered_name(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for names in registry.TABLES.values():
        for name in names:
            assert re.search(rf"\b{name}\b", out), name


SDE = {"problem": {"kind": "sde", "drift": "functions.py:mean_reverting", "diffusion": 0.5, "seed": 1},
       "particles": {"dataset": "gaussian_blob", "n": 10, "center": [0.0], "seed": 0},
       "run": {"t1": 0.1, "dt": 0.05}}


def _edit(cfg, table, key, value):
    out = {t: dict(v) for t, v in cfg.items()}
    if value is None:
        del out[table][key]
    else:
        out.setdefault(table, {})[key] = value
    return out


@pytest.mark.parametrize("table, key, value, match", [
    ("run", "dt", "0.1", r"^\[run\] dt must be a real number, got str"),
    ("run", "t1", True, r"^\[run\] t1 must be a real number, got bool"),
    ("run", "save_every", 2.0, r"^\[run\] save_every must be an integer, got float"),
    ("run", "max_steps", "10", r"^\[run\] max_steps must be an integer, got str"),
    ("run", "w1", 1, r"^\[run\] w1 must be a string"),
    ("particles", "seed", 1.5, r"^\[particles\] seed must be an integer, got float"),
    ("particles", "seed", True, r"^\[particles\] seed must be an integer, got bool"),
    ("problem", "seed", 2.0, r"^\[problem\] seed must be an integer, got float"),
    ("particles", "std", "wide", r"^\[particles\] std must be a real number, got str"),
    ("problem", "noise", "pink", r"^\[problem\] noise must be one of"),
    ("problem", "diffusion", "loud", r"^\[problem\] diffusion must be callable"),
    ("problem", "drift", "functions.py:no_such_drift", r"^\[problem\] drift: .*has no 'no_such_drift'"),
    ("problem", "drift", "missing.py:drift", r"^\[problem\] drift: file .*missing\.py' does not exist"),
    ("problem", "drfit", 1, r"unknown key 'drfit' in \[problem\] \(options of McKeanVlasovSDE\)"),
    ("solver", "kind", "rk4", r"^\[solver\] McKeanVlasovSDE is an SDE; RK4\(\) would drop its noise"),
    ("data", "dataset", "ring", r"\[data\] is for problems with a data measure; McKeanVlasovSDE"),
    ("problem", "kind", "w3", r"\[problem\] kind must be one of w1, w2, mean_field, sde, second_order, monoflow, js"),
])
def test_a_bad_value_names_its_table_and_key(table, key, value, match, tmp_path, monkeypatch):
    shutil.copy(CONFIGS / "functions.py", tmp_path / "functions.py")
    monkeypatch.chdir(tmp_path)  # a dict config reads its files from the current folder
    cfg = _edit(SDE, table, key, value)
    if table == "data":
        cfg["data"]["n"] = 5
    with pytest.raises(ConfigError, match=match):
        build(cfg, tmp_path)
    assert not (tmp_path / "w1flow-run").exists()


def test_a_float_seed_in_data_is_refused_before_numpy_sees_it(tmp_path):
    cfg = {"data": {"dataset": "ring", "n": 5, "seed": 0.5}, "particles": {"dataset": "ring", "n": 5},
           "run": {"t1": 1.0, "dt": 0.1}}
    with pytest.raises(ConfigError, match=r"^\[data\] seed must be an integer, got float"):
        load_config(cfg)


def test_a_solver_that_needs_second_order_states_is_refused_for_a_first_order_problem(tmp_path):
    cfg = {"problem": {"kind": "mean_field", "drift": "functions.py:mean_reverting"},
           "particles": {"dataset": "gaussian_blob", "n": 5, "center": [0.0]}, "solver": {"kind": "velocity_verlet"},
           "run": {"t1": 0.1, "dt": 0.05}}
    with pytest.raises(ConfigError, match=r"^\[solver\] VelocityVerlet needs a SecondOrderODE"):
        build(cfg, CONFIGS)


def test_an_sde_defaults_to_euler_maruyama_and_a_module_function_can_be_named(tmp_path):
    cfg = {"problem": {"kind": "sde", "drift": "w1flow.interactions:KuramotoCoupling", "diffusion": 0.1},
           "particles": {"dataset": "gaussian_blob", "n": 5, "center": [0.0]}, "run": {"t1": 0.1, "dt": 0.05}}
    problem, _, kwargs = build(cfg, CONFIGS)
    from w1flow.interactions import KuramotoCoupling

    assert problem.drift is KuramotoCoupling and isinstance(kwargs["solver"], EulerMaruyama)


def test_absolute_paths_lets_a_config_run_from_another_folder(tmp_path, monkeypatch):
    from w1flow.config import absolute_paths

    cfg = load_config(_small("sde.toml", tmp_path))
    moved = absolute_paths(cfg, tmp_path)
    assert moved["problem"]["drift"] == f"{(tmp_path / 'functions.py').resolve()}:mean_reverting"
    assert cfg["problem"]["drift"] == "functions.py:mean_reverting"  # the input is left as it was
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    problem, x0, kwargs = build(moved, ".")
    assert problem.drift.__name__ == "mean_reverting"
