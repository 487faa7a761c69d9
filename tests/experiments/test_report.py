"""The report: every section rendered, tables complete, figures embedded, nothing external."""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from qnetrl.cli import app
from qnetrl.experiments.physics_report import physics_summary
from qnetrl.experiments.report import write_report
from qnetrl.experiments.rundir import write_json
from qnetrl.experiments.sweep import create_sweep, run_sweep

runner = CliRunner()

TOY = {
    "agent": {"total_env_steps": 200, "learning_starts": 50},
    "eval_episodes": 4,
    "bootstrap_resamples": 99,
}
EDGE = {
    "seeds": 2,
    "num_envs": 4,
    "env": {"horizon": 10},
    "agent": {
        "total_env_steps": 400,
        "learning_starts": 50,
        "batch_size": 16,
        "hidden_sizes": [16],
    },
    "eval_episodes": 4,
    "sweep_snr_offsets_db": [0.0],
    "sweep_episodes": 2,
    "bootstrap_resamples": 99,
    "oracle_depth": 1,
    "convergence_window": 5,
}
PNG = b"\x89PNG\r\n\x1a\n"


class Outline(HTMLParser):
    """Sections (by id), their first heading, table rows, images and external references."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.top: list[str] = []
        self.stack: list[str] = []
        self.heading: dict[str, str] = {}
        self.rows: dict[str, list[list[str]]] = defaultdict(list)
        self.images: dict[str, list[str]] = defaultdict(list)
        self.external: list[str] = []
        self._text: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("src", "href"):
            value = a.get(key) or ""
            if key in a and not (value.startswith("data:") or value.startswith("#")):
                self.external.append(value)
        if tag in ("script", "link", "iframe", "object"):
            self.external.append(tag)
        if tag == "section":
            if not self.stack:
                self.top.append(a["id"] or "")
            self.sections.append(a["id"] or "")
            self.stack.append(a["id"] or "")
        elif tag in ("h1", "h2", "h3", "h4", "td"):
            self._text = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self.stack:
            self.rows[self.stack[-1]].append([])
        elif tag == "img" and self.stack:
            self.images[self.stack[-1]].append(a.get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.stack.pop()
        elif tag in ("h1", "h2", "h3", "h4") and self._text is not None:
            if self.stack and self.stack[-1] not in self.heading:
                self.heading[self.stack[-1]] = "".join(self._text).strip()
            self._text = None
        elif tag == "td" and self._text is not None:
            self.rows[self.stack[-1]][-1].append("".join(self._text).strip())
            self._text = None
        elif tag == "tbody":
            self._in_body = False

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder: a toy sweep (one run fails), an edge sweep and a physics summary."""
    root = tmp_path_factory.mktemp("runs")
    toy = create_sweep("toy", TOY, {"fail_after_steps": [None, 20]}, out=root / "sweeps" / "toy")
    assert run_sweep(toy, workers=0, show_progress=False).failed
    edge = create_sweep("edge", EDGE, {}, out=root / "sweeps" / "edge")
    assert not run_sweep(edge, workers=0, show_progress=False).failed
    write_json(root / "demo" / "physics_summary.json", physics_summary())
    return root


def _summaries(root: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    """Sweep name -> (run directory relative to root, summary) of its finished run."""
    return {
        p.parent.parent.parent.name: (str(p.parent.relative_to(root)), json.loads(p.read_text()))
        for p in root.glob("sweeps/*/runs/*/summary.json")
    }


def test_report_renders_every_section(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "report.html"
    result = runner.invoke(app, ["report", str(root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    doc = Outline()
    doc.feed(page)
    assert doc.external == []  # self-contained: no external asset

    assert doc.top == ["overview", "environment", "physics", "sweeps", "studies"]
    assert doc.heading["overview"] == "Overview"
    assert doc.heading["environment"] == "Environment"
    assert doc.heading["physics"] == "Physics summary"
    env = {row[0]: row[1] for row in doc.rows["environment"]}
    assert env["package torch"] == torch.__version__
    assert env["cpu_model"] and env["git_sha"] and env["package qnetrl"]
    assert len(doc.rows["physics"]) == len(physics_summary())

    # sweeps: one row per planned run, with its status
    sweeps = [s for s in doc.sections if s.startswith("sweep-")]
    assert len(sweeps) == 2
    toy_sweep = next(s for s in sweeps if "toy" in s)
    assert sorted(row[3] for row in doc.rows[toy_sweep]) == ["done", "failed"]
    failed = next(row for row in doc.rows[toy_sweep] if row[3] == "failed")
    assert "InjectedFault" in failed[6]

    # studies: the two finished runs (the failed toy run has no summary), all subsections
    summaries = _summaries(root)
    parts = ("-claims", "-methods", "-statistics", "-figures", "-config")
    run_ids = [s for s in doc.sections if s.startswith("run-") and not s.endswith(parts)]
    assert sorted(r.startswith("run-sweeps-edge-") for r in run_ids) == [False, True]
    assert sorted(row[0] for row in doc.rows["overview"]) == ["edge", "toy"]
    for rid in run_ids:
        rel, summary = summaries["edge" if rid.startswith("run-sweeps-edge") else "toy"]
        assert doc.heading[rid].endswith(f": {rel}")
        for part, title in (
            ("claims", "Publication claims beside our measurement"),
            ("methods", "Methods (mean [confidence interval])"),
            ("statistics", "Statistics: reference method against the others"),
            ("figures", "Figures"),
            ("config", "Resolved config"),
        ):
            assert doc.heading[f"{rid}-{part}"] == title
        claims = doc.rows[f"{rid}-claims"]
        assert len(claims) == len(summary["claims"]) >= 1
        assert [row[-1] for row in claims] == [c["verdict"] for c in summary["claims"]]
        assert [row[0] for row in claims] == [c["claim"] for c in summary["claims"]]
        n_metrics = len({m for rec in summary["methods"].values() for m in rec})
        assert len(doc.rows[f"{rid}-methods"]) == n_metrics
        n_tests = sum(1 if "skipped" in t else len(t) for t in summary["tests"].values())
        assert len(doc.rows[f"{rid}-statistics"]) == n_tests > 0
        images = doc.images[f"{rid}-figures"]
        assert len(images) == 1 + len(summary.get("figures") or [])
        for src in images:
            assert src.startswith("data:image/png;base64,")
            assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG)
    edge_id = next(r for r in run_ids if "edge" in r)
    assert len(doc.rows[f"{edge_id}-claims"]) >= 10  # every claim, one row per baseline

    md = out.with_suffix(".md").read_text()
    headings = ("## Overview", "## Environment", "## Physics summary", "## Sweeps", "## Studies")
    for heading in (*headings, "#### Publication claims beside our measurement"):
        assert f"\n{heading}\n" in md
    assert summaries["edge"][1]["claims"][0]["claim"] in md
    for line in md.splitlines():
        if line.startswith("!["):
            assert (out.parent / line.split("](", 1)[1].rstrip(")")).is_file()


def test_report_of_an_empty_folder_and_a_missing_one(tmp_path: Path) -> None:
    path = write_report(tmp_path)
    assert path == tmp_path / "report.html"
    doc = Outline()
    doc.feed(path.read_text())
    assert doc.top == doc.sections == ["overview", "environment", "sweeps", "studies"]
    assert "No finished study run found." in path.read_text()
    result = runner.invoke(app, ["report", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "'runs_root' parameter of write_report must be an existing directory" in " ".join(
        result.output.split()
    )
