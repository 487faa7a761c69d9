"""The command line: --help, --version, physics tables and plots, demo, clear errors."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from qnetrl import __version__
from qnetrl.cli import app

runner = CliRunner()


def test_help_and_version() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.output and "physics" in result.output
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"qnetrl {__version__}"


def test_physics_key_rate_writes_table_and_plot(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["physics", "key-rate", "--distance", "0:150:5", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "key_rate.csv").open()))
    assert len(rows) == 31
    assert float(rows[0]["distance_km"]) == 0.0 and float(rows[-1]["distance_km"]) == 150.0
    assert abs(float(rows[10]["key_rate_bits_per_pulse"]) / 2.2260e-4 - 1) < 1e-3  # 50 km
    for row in rows:
        assert float(row["key_rate_bits_per_pulse"]) <= float(row["plob_bits_per_pulse"])
    assert (tmp_path / "key_rate.png").stat().st_size > 10_000
    assert (tmp_path / "key_rate.md").read_text().startswith("| distance_km")


def test_physics_ber_writes_table_and_plot(tmp_path: Path) -> None:
    result = runner.invoke(app, ["physics", "ber", "--snr-db", "0:30:2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "ber.csv").open()))
    assert len(rows) == 16
    assert all(float(r["ber_rayleigh"]) >= float(r["ber_awgn"]) for r in rows)
    assert (tmp_path / "ber.png").stat().st_size > 10_000


def test_bad_grid_and_bad_physics_argument_name_the_option(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["physics", "key-rate", "--distance", "0:x", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "'distance'" in result.output
    result = runner.invoke(app, ["physics", "key-rate", "--distance", "-5", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "'distance_km'" in result.output
    result = runner.invoke(
        app, ["physics", "key-rate", "--mu", "0.1", "--nu", "0.2", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "'nu'" in result.output
    assert not (tmp_path / "key_rate.csv").exists()


def test_demo_prints_summary_and_writes_run_dir(tmp_path: Path) -> None:
    # The studies' quick runs have their own tests; here the demo's own outputs and report.
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--skip-studies"])
    assert result.exit_code == 0, result.output
    assert "physics summary" in result.output and "report:" in result.output
    (run_dir,) = (tmp_path / "demo").iterdir()
    for name in ["config.yaml", "meta.json", "physics_summary.json", "key_rate.png", "ber.png"]:
        assert (run_dir / name).exists(), name
    assert "<html" in (run_dir / "report.html").read_text().lower()
