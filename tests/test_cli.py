"""The demo writes its files and its summary matches the exact flow's closed form."""

import json

import numpy as np

import pytest

from w1flow.cli import main, run_demo


def test_demo_writes_pictures_gif_and_summary(tmp_path):
    out = tmp_path / "demo"
    summary = run_demo(out=out, n=64, dt=0.1, seed=3, progress=False, gif=True)
    for name in ("snapshots.png", "w1.png", "flow.gif"):
        assert (out / name).stat().st_size > 1000, name
    assert (out / "flow.gif").read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    assert (out / "snapshots.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((out / "summary.json").read_text())
    assert data["n"] == 64 and data["files"] == ["snapshots.png", "w1.png", "flow.gif", "summary.json"]
    assert summary["capped"]["status"] == "success"
    assert summary["capped"]["w1_final"] == 0.0
    assert summary["capped"]["max_abs_error_vs_closed_form"] < 1e-12
    # fixed-dt Euler chatters: its plateau is below dt but not 0
    assert 0 < summary["euler"]["w1_plateau_max_after_arrival"] <= summary["dt"]


def test_cli_reports_where_files_are(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--n", "32", "--no-gif", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert str((tmp_path / "d").resolve()) in printed and "w1.png" in printed


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        main(["demo", "--out", str(tmp_path), "--dt", "-1", "--quiet"])
    assert err.value.code == 2
    assert "dt must be > 0" in capsys.readouterr().err


# -- bad inputs end in one line on stderr and exit status 2, never a traceback ------------------
RUN = """
[data]
{data}

[particles]
dataset = "gaussian_blob"
n = 20
seed = 0

[run]
t1 = {t1}
dt = {dt}
"""


def _cfg(tmp_path, data='dataset = "eight_gaussians"\nn = 20\nseed = 1', dt=0.1, t1=0.5):
    path = tmp_path / "flow.toml"
    path.write_text(RUN.format(data=data, dt=dt, t1=t1))
    return path


def _fails_with(argv, capsys, match):
    import re

    with pytest.raises(SystemExit) as err:
        main(argv)
    lines = capsys.readouterr().err.splitlines()
    assert err.value.code == 2
    assert len(lines) == 1 and lines[0].startswith("w1flow: error: "), lines
    assert re.search(match, lines[0]), lines[0]
    return lines[0]


def _not_an_array(tmp_path):
    (tmp_path / "y.npy").write_text("x,y\n1,2\n")
    return 'file = "y.npy"'


def _strings(tmp_path):
    np.save(tmp_path / "y.npy", np.array(["a", "b"]))
    return 'file = "y.npy"'


def _damaged_npz(tmp_path):
    import io

    buf = io.BytesIO()
    np.savez(buf, y=np.ones((50, 2)))
    (tmp_path / "y.npz").write_bytes(buf.getvalue()[:120])
    return 'file = "y.npz"'


def _a_folder(tmp_path):
    (tmp_path / "y.npy").mkdir()
    return 'file = "y.npy"'


@pytest.mark.parametrize("make, match", [
    (_a_folder, r"\[data\] file '.*y\.npy' is a directory"),
    (_not_an_array, r"\[data\] file '.*y\.npy' is not a numpy array file"),
    (_strings, r"\[data\] file '.*y\.npy' must hold the points .* <U1 of shape \(2,\)"),
    (_damaged_npz, r"\[data\] file '.*y\.npz' is not a numpy array file"),
    (lambda p: "dataset = \"eight_gaussians\"\nn = 1e10", r"\[data\] n = 1e\+10 needs 160 GB .* memory; lower n"),
    (lambda p: "dataset = \"eight_gaussians\"\nn = 10000000000", r"\[data\] n = 10000000000 needs 160 GB"),
    (lambda p: "dataset = \"eight_gaussians\"\nn = 2.5", r"\[data\] n must be a whole number >= 1"),
])
def test_bad_data_is_one_line_and_exit_2_and_writes_nothing(tmp_path, capsys, monkeypatch, make, match):
    import w1flow.datasets as ds

    real = ds.eight_gaussians

    def guarded(n, *a, **k):  # never build a huge cloud, even if the check before it breaks
        assert n <= 1000, f"built a cloud of n = {n}"
        return real(n, *a, **k)

    monkeypatch.setattr(ds, "eight_gaussians", guarded)
    cfg = _cfg(tmp_path, data=make(tmp_path))
    _fails_with(["run", str(cfg), "--out", str(tmp_path / "out"), "--quiet"], capsys, match)
    assert not (tmp_path / "out").exists()


def test_an_out_that_is_a_file_is_refused_before_running(tmp_path, capsys, monkeypatch):
    import importlib

    sim = importlib.import_module("w1flow.simulate")
    monkeypatch.setattr(sim, "simulate", lambda *a, **k: pytest.fail("ran although --out cannot be written"))
    (tmp_path / "taken").write_text("keep me")
    for out in ("taken", "taken/sub"):
        _fails_with(["run", str(_cfg(tmp_path)), "--out", str(tmp_path / out), "--quiet"], capsys,
                    r"output folder .*taken.* (is an existing file|cannot be made)")
    assert (tmp_path / "taken").read_text() == "keep me"
    _fails_with(["sweep", str(_cfg(tmp_path)), "--out", str(tmp_path / "taken"), "--quiet"], capsys,
                r"a sweep config needs a \[sweep\]")
    sweep = _cfg(tmp_path)
    sweep.write_text(sweep.read_text() + '\n[sweep]\n"data.seed" = [0, 1]\n')
    _fails_with(["sweep", str(sweep), "--out", str(tmp_path / "taken"), "--workers", "1", "--quiet"], capsys,
                r"store .*taken' is a file")


def test_a_config_simulate_refuses_leaves_no_output_folder(tmp_path, capsys):
    _fails_with(["run", str(_cfg(tmp_path, dt=-0.1)), "--out", str(tmp_path / "out"), "--quiet"], capsys,
                r"dt must be")
    assert not (tmp_path / "out").exists()
    # one that only simulate refuses (the config checks the values, not the clouds' dimensions)
    _fails_with(["run", str(_cfg(tmp_path, data='dataset = "gaussian_blob"\nn = 20\ncenter = [0.0]')), "--out",
                 str(tmp_path / "out"), "--quiet"], capsys, r"dimension")
    assert not (tmp_path / "out").exists()
    _fails_with(["run", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "out"), "--quiet"], capsys,
                r"No such file")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_console_script_prints_no_traceback(tmp_path):
    import subprocess
    import sys

    cfg = _cfg(tmp_path, data=_a_folder(tmp_path))
    r = subprocess.run([sys.executable, "-m", "w1flow.cli", "run", str(cfg), "--quiet"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.splitlines() == [f"w1flow: error: [data] file {str(tmp_path / 'y.npy')!r} is a directory, not a "
                                     "file; give an .npy file (or an .npz with key = ...) holding the points as an "
                                     "(m, d) array."]
    assert not (tmp_path / "w1flow-run").exists()


def test_running_out_of_memory_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    import w1flow.config as config

    def no_memory(*a, **k):
        raise MemoryError("Unable to allocate 74.5 GiB for an array with shape (100000, 100000)")

    monkeypatch.setattr(config, "run_config", no_memory)
    _fails_with(["run", str(_cfg(tmp_path)), "--quiet"], capsys,
                r"not enough memory: Unable to allocate 74\.5 GiB .*; lower n")


BENCHMARK_SCRIPTS = ("bench_exact_flow", "bench_incremental", "bench_scaling", "bench_geomloss", "bench_cold_start")


def test_there_is_no_bench_command_and_the_benchmarks_run_as_scripts(capsys):
    # `w1flow bench` read ../benchmarks next to the installed package, which a wheel does not
    # ship: it left the CLI; docs/performance.md names the scripts, run from a source checkout
    import subprocess
    import sys
    from pathlib import Path

    with pytest.raises(SystemExit) as info:
        main(["bench"])
    assert info.value.code == 2 and "invalid choice: 'bench'" in capsys.readouterr().err
    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "performance.md").read_text(encoding="utf-8")
    assert not any(line.lstrip().startswith("w1flow bench") for line in doc.splitlines())
    for name in BENCHMARK_SCRIPTS:
        assert f"{name}.py" in doc, name
        r = subprocess.run([sys.executable, str(root / "benchmarks" / f"{name}.py"), "--help"], cwd=root.parent,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and "--quick" in r.stdout, (name, r.stderr[-500:])
