"""Run directories: layout, metadata and atomic writes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import yaml

from qnetrl import __version__
from qnetrl.experiments.rundir import atomic_write_text, create_run_dir


def test_run_dir_layout_and_metadata(tmp_path: Path) -> None:
    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    path = create_run_dir("edge", 7, {"lr": 0.001}, root=tmp_path, now=now)
    assert path == tmp_path / "edge" / "20260102T030405-7"
    assert yaml.safe_load((path / "config.yaml").read_text()) == {"lr": 0.001}
    meta = json.loads((path / "meta.json").read_text())
    assert meta["seed"] == 7 and meta["study"] == "edge"
    assert meta["qnetrl_version"] == __version__
    assert meta["git_sha"]


def test_same_timestamp_gets_a_new_directory(tmp_path: Path) -> None:
    now = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    a = create_run_dir("edge", 1, {}, root=tmp_path, now=now)
    b = create_run_dir("edge", 1, {}, root=tmp_path, now=now)
    assert a != b and a.exists() and b.exists()


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "x.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["x.txt"]
