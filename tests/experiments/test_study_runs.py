"""The shared study plumbing: run directories, the unit loop, claims-table formatting."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from qnetrl.config import ConfigError
from qnetrl.experiments.rundir import json_safe
from qnetrl.experiments.study_runs import prepare_study_run_dir, run_study_units, unit_path
from qnetrl.experiments.sweep import SweepConfig
from qnetrl.experiments.sweep import json_safe as sweep_json_safe
from qnetrl.experiments.tables import claims_columns, format_interval, format_measure


def _config(study: str = "toy") -> SweepConfig:
    return SweepConfig.model_validate({"study": study})


def test_run_dir_resumes_same_config_and_refuses_others(tmp_path: Path) -> None:
    out = tmp_path / "run"
    path = prepare_study_run_dir("demo", _config(), 7, out)
    assert (path / "config.yaml").exists()
    assert json.loads((path / "meta.json").read_text())["study"] == "demo"
    (path / "units").mkdir()
    (path / "logs").mkdir()
    assert prepare_study_run_dir("demo", _config(), 7, out) == out  # unfinished: resumed
    assert (path / "units").exists()
    with pytest.raises(ConfigError, match="unfinished demo study of a different config"):
        prepare_study_run_dir("demo", _config("edge"), 7, out)
    (path / "summary.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"finished demo study.*--force to overwrite"):
        prepare_study_run_dir("demo", _config(), 7, out)
    prepare_study_run_dir("demo", _config(), 7, out, force=True, fresh_dirs=("units", "logs"))
    assert not any((path / n).exists() for n in ("summary.json", "units", "logs"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="holds no demo study"):
        prepare_study_run_dir("demo", _config(), 7, other)
    with pytest.raises(ConfigError, match="not a directory"):
        prepare_study_run_dir("demo", _config(), 7, other / "notes.txt")
    new = prepare_study_run_dir("demo", _config(), 7, root=tmp_path / "runs")
    assert new.parent == tmp_path / "runs" / "demo" and new.name.endswith("-7")


def test_unit_loop_writes_json_safe_units_and_resumes(tmp_path: Path) -> None:
    calls: list[tuple[str, int]] = []

    def run_unit(method: str, index: int, progress: Callable[[float], None]) -> dict[str, Any]:
        calls.append((method, index))
        progress(0.5)
        return {"method": method, "value": math.nan, "pair": (index, 1.5), "wall_s": 0.0}

    console = Console(file=None, force_terminal=False, width=100, quiet=True)
    kw: dict[str, Any] = {"seed_of": lambda i: 10 + i, "console": console, "show_progress": True}
    units, resumed = run_study_units("demo", ("a", "b"), 2, tmp_path, run_unit, **kw)
    assert resumed == 0 and calls == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    assert list(units) == calls
    assert math.isnan(units[("a", 0)]["value"])  # the study keeps what run_unit returned
    on_disk = json.loads(unit_path(tmp_path, "b", 1).read_text())
    assert on_disk == {"method": "b", "value": None, "pair": [1, 1.5], "wall_s": 0.0}
    unit_path(tmp_path, "a", 1).unlink()
    calls.clear()
    units, resumed = run_study_units("demo", ("a", "b"), 2, tmp_path, run_unit, **kw)
    assert resumed == 3 and calls == [("a", 1)]
    assert units[("b", 1)] == on_disk


def test_json_safe_is_one_function() -> None:
    assert sweep_json_safe is json_safe


def test_claims_columns_and_formats() -> None:
    claim = {
        "claim": "25 % lower latency",
        "publication": 0.25,
        "band": [0.2, 0.3],
        "rule": "25 % read as 20-30 %",
        "kind": "percent",
        "measured_as": "latency cut",
        "short": "cut",
        "baseline": None,
        "measured": {"mean": 0.22, "ci_low": None, "ci_high": 0.3, "n": 4},
        "verdict": "supported",
        "note": "",
    }
    csv_cols, md, con = claims_columns([claim])
    assert csv_cols["baseline"] == [""] and math.isnan(csv_cols["ci_low"][0])
    assert md["measured [95 % CI]"] == ["22.0 % [n/a, 30.0 %]"]
    csv_cols, md, con = claims_columns(
        [claim], interval_header="measured [CI]", baseline=False, claim_width=6, signed=True
    )
    assert "baseline" not in csv_cols and con["claim"] == ["25 % l"]
    assert con["measured [CI]"] == ["+22.0 % [n/a, +30.0 %]"]
    assert format_measure("fraction", 0.5) == "0.5000" and format_measure("count", 3.0) == "3"
    assert format_measure("usd", 0.01234) == "0.0123" and format_measure("num", 1234.56) == "1235"
    rec = {"mean": 1.0, "ci_low": 0.4, "ci_high": 2.0}
    assert format_interval("episodes", rec) == "1 [0, 2]"
