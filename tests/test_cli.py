"""The demo writes its files and its summary matches the exact flow's closed form."""

import json

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
