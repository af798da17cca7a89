"""w1flow run CONFIG: a TOML config runs the flow it describes (the same result as building the
objects by hand), writes its outputs, and every unknown or missing key is an error that names it."""

import json

import numpy as np
import pytest

from w1flow import CappedEuler, ExactPotential, FlowResult, SaveAt, W1Flow, simulate
from w1flow.cli import main
from w1flow.config import ConfigError, load_config, run_config
from w1flow.datasets import eight_gaussians, gaussian_blob

CONFIG = """
[problem]
kind = "w1"

[data]
dataset = "eight_gaussians"
n = 40
seed = 1

[particles]
dataset = "gaussian_blob"
n = 40
seed = 0
center = [3.0, 0.0]

[potential]
kind = "exact"

[solver]
kind = "capped_euler"

[run]
t1 = 4.0
dt = 0.1
save_every = 5

[output]
gif = true
"""


def _write(tmp_path, text=CONFIG, name="flow.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_config_runs_the_flow_it_describes_and_writes_its_outputs(tmp_path):
    res = run_config(_write(tmp_path), out=tmp_path / "out", progress=False)
    y, x0 = eight_gaussians(40, seed=1), gaussian_blob(40, center=(3.0, 0.0), seed=0)
    ref = simulate(W1Flow(y, potential=ExactPotential()), x0, 4.0, 0.1, solver=CappedEuler(),
                   saveat=SaveAt(every=5))
    assert res.success and np.array_equal(res.w1, ref.w1) and np.array_equal(res.x_final, ref.x_final)
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"result.npz", "summary.json", "snapshots.png", "w1.png", "flow.gif"}
    saved = FlowResult.load(out / "result.npz")
    assert np.array_equal(saved.w1, res.w1)
    meta = FlowResult.read_metadata(out / "result.npz")["metadata"]
    assert meta["config"]["solver"] == {"kind": "capped_euler"} and meta["config"]["run"]["dt"] == 0.1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "success" and summary["w1_end"] == float(res.w1[-1])


@pytest.mark.parametrize("edit, match", [
    (("[run]", "[run]\nstepsize = 0.1"), r"unknown key 'stepsize' in \[run\]; allowed: dt, max_steps, save_every, t1, w1"),
    (("[output]", "[outputs]"), r"unknown key 'outputs' in \[top level\]"),
    (("center = [3.0, 0.0]", "centre = [3.0, 0.0]"), r"unknown key 'centre' in \[particles\] \(options of gaussian_blob\); allowed: .*\bcenter\b"),
    (('kind = "capped_euler"', 'kind = "capped_euler"\nreuse_plan = true'), r"unknown key 'reuse_plan' in \[solver\] \(options of CappedEuler\)"),
    (('kind = "exact"', 'kind = "exact"\nreg = 0.1'), r"unknown key 'reg' in \[potential\] \(options of ExactPotential\)"),
    (('kind = "capped_euler"', 'kind = "midpoint"'), r"\[solver\] kind must be one of euler, capped_euler, heun, rk4, euler_maruyama, milstein, "
                                                         r"symplectic_euler, velocity_verlet, got 'midpoint'"),
    (('dataset = "eight_gaussians"', 'dataset = "eight_gausians"'), r"\[data\] dataset must be one of .*, got 'eight_gausians'"),
    (("t1 = 4.0", ""), r"\[run\] needs t1"),
    (("n = 40\nseed = 1", "seed = 1"), r"\[data\] needs n"),
    (('kind = "w1"', 'kind = "w2"'), r"\[potential\] is for W1 flows"),
    (("save_every = 5", 'w1 = "exact"'), r"\[run\] w1 must be 'auto', 'lp' or 'none'"),
])
def test_every_unknown_or_missing_key_is_named(tmp_path, edit, match):
    text = CONFIG.replace(*edit, 1)
    assert text != CONFIG
    with pytest.raises(ConfigError, match=match):
        load_config(_write(tmp_path, text))


def test_missing_tables_and_bad_toml_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"needs a \[data\] table"):
        load_config({"particles": {"dataset": "ring", "n": 5}, "run": {"t1": 1, "dt": 0.1}})
    with pytest.raises(ConfigError, match=r"exactly one of dataset = '...' or file = '...'"):
        load_config({"data": {"n": 5}, "particles": {"dataset": "ring", "n": 5}, "run": {"t1": 1, "dt": 0.1}})
    with pytest.raises(ConfigError, match=r"is not valid TOML"):
        load_config(_write(tmp_path, "[run\nt1 = 1"))


def test_data_from_npy_and_npz_files_next_to_the_config(tmp_path):
    y = eight_gaussians(30, seed=4)
    np.save(tmp_path / "y.npy", y)
    np.savez(tmp_path / "clouds.npz", x0=y + 2.0, other=y)
    text = CONFIG.replace('dataset = "eight_gaussians"\nn = 40\nseed = 1', 'file = "y.npy"')
    text = text.replace('dataset = "gaussian_blob"\nn = 40\nseed = 0\ncenter = [3.0, 0.0]',
                        'file = "clouds.npz"\nkey = "x0"')
    res = run_config(_write(tmp_path, text), out=tmp_path / "o", progress=False)
    ref = simulate(W1Flow(y), y + 2.0, 4.0, 0.1, solver=CappedEuler(), saveat=SaveAt(every=5))
    assert np.array_equal(res.w1, ref.w1)
    with pytest.raises(ConfigError, match=r"give key = one of x0, other"):
        run_config(_write(tmp_path, text.replace('key = "x0"\n', ""), "nokey.toml"), out=tmp_path / "p")
    with pytest.raises(ConfigError, match=r"file .*missing\.npy' does not exist"):
        run_config(_write(tmp_path, text.replace("y.npy", "missing.npy"), "missing.toml"), out=tmp_path / "q")


def test_the_cli_runs_a_config_and_reports_bad_ones(tmp_path, capsys):
    path = _write(tmp_path, CONFIG.replace("gif = true", "gif = false"))
    assert main(["run", str(path), "--out", str(tmp_path / "cli"), "--quiet"]) == 0
    assert "success: t = 4 after 40 steps, W1 " in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["run", str(_write(tmp_path, CONFIG.replace("dt = 0.1", "dt = 0.1\nfoo = 1"), "bad.toml"))])
    assert exc.value.code == 2 and "unknown key 'foo' in [run]" in capsys.readouterr().err
