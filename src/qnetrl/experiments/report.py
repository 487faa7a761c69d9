"""One report for every study under a runs folder: self-contained HTML plus Markdown.

:func:`write_report` walks a runs folder (a single run, a sweep, or a whole ``runs/`` tree),
reads every finished study's ``summary.json`` (stable keys ``methods``, ``claims``, ``tests``,
``config``), every sweep's plan and index and every ``physics_summary.json``, and writes
``report.html`` and ``report.md``. For each study run it sets the publication's claims beside
our measurement and verdict, tabulates the methods (mean and confidence interval per metric)
and the statistical tests against the reference method, embeds the run's figures and a chart
of its headline metric, and shows the resolved config. An environment section records the
package versions (:mod:`importlib.metadata`), the CPU model, Python, the platform and the git
SHA. The HTML needs nothing beside it: styles are inline and figures are embedded as base64
PNG. Every section has a stable ``id`` (``overview``, ``environment``, ``physics``,
``sweeps``, ``studies``; per run ``run-<slug>`` with ``-claims``, ``-methods``,
``-statistics``, ``-figures``, ``-config``), so tests and readers can find them.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import importlib.metadata as md
import io
import json
import math
import os
import platform
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from qnetrl._validation import InvalidParameterError
from qnetrl.experiments.rundir import atomic_write_text, git_sha
from qnetrl.experiments.tables import format_value

__all__ = ["REPORT_PACKAGES", "environment_info", "write_report"]

#: Packages whose versions the environment section lists.
REPORT_PACKAGES: Final[tuple[str, ...]] = (
    "qnetrl",
    "numpy",
    "scipy",
    "torch",
    "gymnasium",
    "pettingzoo",
    "networkx",
    "pydantic",
    "pyyaml",
    "matplotlib",
    "galois",
    "cryptography",
    "rich",
    "typer",
    "ray",
)

_STYLE: Final[str] = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #1a1a1a; line-height: 1.4; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #bbb; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: 90%; }
th, td { border: 1px solid #ccc; padding: .25em .6em; vertical-align: top; }
th { background: #f0f0f0; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.supported, td.exceeded, td.done { background: #e3f6e3; }
td.not-supported, td.failed { background: #fde2e2; }
td.not-comparable, td.inconclusive, td.running, td.pending { background: #fff6d8; }
img { max-width: 100%; border: 1px solid #ddd; margin: .5em 0; }
pre { background: #f7f7f7; padding: .6em; overflow-x: auto; font-size: 85%; }
nav ul { columns: 2; }
.note { color: #555; font-size: 90%; }
"""


# --------------------------------------------------------------------------------------------
# discovery
# --------------------------------------------------------------------------------------------


@dataclass
class _Run:
    """A finished study run found under the root."""

    path: Path
    rel: str
    slug: str
    summary: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    sweep: str | None = None

    @property
    def study(self) -> str:
        return str(self.summary.get("study") or self.meta.get("study") or "study")


@dataclass
class _Sweep:
    path: Path
    rel: str
    slug: str
    plan: dict[str, Any]
    index: list[dict[str, Any]]


@dataclass
class _Found:
    root: Path
    runs: list[_Run]
    sweeps: list[_Sweep]
    physics: list[tuple[str, dict[str, Any]]]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _slugify(text: str, used: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "root"
    slug, k = base, 1
    while slug in used:
        k += 1
        slug = f"{base}-{k}"
    used.add(slug)
    return slug


def _walk(root: Path, name: str) -> list[Path]:
    """Files called ``name`` under ``root`` (root included), skipping hidden and unit folders."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "units")
        if name in filenames:
            out.append(Path(dirpath) / name)
    return out


def _collect(root: str | Path) -> _Found:
    """Find finished study runs, sweeps and physics summaries under ``root``."""
    from qnetrl.experiments.sweep import load_sweep, read_index

    root = Path(root)
    used: set[str] = set()
    sweeps: list[_Sweep] = []
    sweep_dirs: dict[Path, str] = {}
    for plan_file in _walk(root, "sweep.json"):
        try:
            plan, _ = load_sweep(plan_file.parent)
            index = read_index(plan_file.parent)
        except (InvalidParameterError, KeyError, ValueError, OSError):
            continue
        rel = str(plan_file.parent.relative_to(root)) if plan_file.parent != root else "."
        slug = _slugify("sweep-" + rel, used)
        sweeps.append(_Sweep(plan_file.parent, rel, slug, plan, index))
        sweep_dirs[(plan_file.parent / "runs").resolve()] = rel if rel != "." else root.name
    runs: list[_Run] = []
    for summary_file in _walk(root, "summary.json"):
        summary = _read_json(summary_file)
        if not isinstance(summary, dict) or not any(
            k in summary for k in ("methods", "claims", "tests")
        ):
            continue
        run_dir = summary_file.parent
        rel = str(run_dir.relative_to(root)) if run_dir != root else root.resolve().name
        meta = _read_json(run_dir / "meta.json")
        runs.append(
            _Run(
                path=run_dir,
                rel=rel,
                slug=_slugify("run-" + rel, used),
                summary=summary,
                meta=meta if isinstance(meta, dict) else {},
                sweep=sweep_dirs.get(run_dir.parent.resolve()),
            )
        )
    physics = []
    for phys_file in _walk(root, "physics_summary.json"):
        data = _read_json(phys_file)
        if isinstance(data, dict):
            physics.append((str(phys_file.parent.relative_to(root)) or ".", data))
    return _Found(root, runs, sweeps, physics)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def environment_info() -> dict[str, Any]:
    """Package versions, CPU, Python, platform and git SHA of the machine writing the report."""
    versions = {}
    for name in REPORT_PACKAGES:
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "packages": versions,
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "git_sha": git_sha(),
        "generated": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


# --------------------------------------------------------------------------------------------
# formatting
# --------------------------------------------------------------------------------------------


def _fmt(x: Any, kind: str = "num") -> str:
    if x is None:
        return "n/a"
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    v = float(x)
    if not math.isfinite(v):
        return "n/a"
    if kind == "percent":
        return f"{100.0 * v:.1f} %"
    if kind == "bps":
        return f"{v:,.0f}"
    if kind == "usd":
        return f"{v:.3g}"
    if kind == "episodes":
        return f"{v:.0f}"
    if isinstance(x, int):
        return str(x)
    return format_value(v)


def _interval(rec: Mapping[str, Any] | None, kind: str = "num") -> str:
    if not isinstance(rec, Mapping):
        return "n/a"
    text = _fmt(rec.get("mean"), kind)
    if rec.get("ci_low") is not None or rec.get("ci_high") is not None:
        text += f" [{_fmt(rec.get('ci_low'), kind)}, {_fmt(rec.get('ci_high'), kind)}]"
    return text


def _band(claim: Mapping[str, Any]) -> str:
    if claim.get("rule"):
        return str(claim["rule"])
    band = claim.get("band") or [None, None]
    kind = str(claim.get("kind", "num"))
    return f"[{_fmt(band[0], kind)}, {_fmt(band[1], kind)}]"


@dataclass
class _Table:
    """Header plus rows of cells; each cell is text and an optional CSS class."""

    header: list[str]
    rows: list[list[tuple[str, str]]]


def _cell(text: Any, cls: str = "") -> tuple[str, str]:
    return (str(text), cls)


def _verdict_cls(verdict: str) -> str:
    return re.sub(r"[^a-z]+", "-", verdict.lower()).strip("-")


def _claims_table(summary: Mapping[str, Any]) -> _Table:
    rows = []
    for c in summary.get("claims") or []:
        kind = str(c.get("kind", "num"))
        ours = str(c.get("measured_as", ""))
        if c.get("note"):
            ours += f" ({c['note']})"
        measured = c.get("measured") or {}
        verdict = str(c.get("verdict", "n/a"))
        rows.append(
            [
                _cell(c.get("claim", c.get("id", ""))),
                _cell(_band(c)),
                _cell(ours),
                _cell(_interval(measured, kind), "num"),
                _cell(measured.get("n", "n/a"), "num"),
                _cell(verdict, _verdict_cls(verdict)),
            ]
        )
    header = ["publication claim", "read as", "our measurement", "measured [CI]", "n", "verdict"]
    return _Table(header, rows)


def _methods_table(summary: Mapping[str, Any]) -> _Table:
    methods = summary.get("methods") or {}
    labels = summary.get("method_labels") or {}
    names = list(methods)
    metrics: list[str] = []
    for name in names:
        for metric in methods[name] or {}:
            if metric not in metrics:
                metrics.append(metric)
    rows = []
    for metric in metrics:
        row = [_cell(metric)]
        for name in names:
            rec = (methods[name] or {}).get(metric)
            row.append(_cell(_interval(rec), "num"))
        rows.append(row)
    return _Table(["metric", *[str(labels.get(n, n)) for n in names]], rows)


_TEST_COLUMNS: Final[tuple[str, ...]] = (
    "mean_diff",
    "relative_diff",
    "welch_p_holm",
    "mannwhitney_p_holm",
    "cohens_d",
    "cliffs_delta",
)


def _tests_table(summary: Mapping[str, Any]) -> _Table:
    rows = []
    for metric, comparisons in (summary.get("tests") or {}).items():
        if not isinstance(comparisons, Mapping):
            continue
        if "skipped" in comparisons:
            rows.append(
                [
                    _cell(metric),
                    _cell("-"),
                    *[_cell("") for _ in _TEST_COLUMNS[:-1]],
                    _cell(f"skipped: {comparisons['skipped']}"),
                ]
            )
            continue
        for other, rec in comparisons.items():
            if not isinstance(rec, Mapping):
                continue
            rows.append(
                [_cell(metric), _cell(other)]
                + [_cell(_fmt(rec.get(k)), "num") for k in _TEST_COLUMNS]
            )
    return _Table(["metric", "vs method", *_TEST_COLUMNS], rows)


def _headline(summary: Mapping[str, Any]) -> tuple[str, list[str], list[dict[str, Any]]] | None:
    """The first metric of the methods table and each method's record of it."""
    methods = summary.get("methods") or {}
    if not methods:
        return None
    first = next(iter(methods.values())) or {}
    if not first:
        return None
    metric = next(iter(first))
    names = [n for n in methods if isinstance((methods[n] or {}).get(metric), Mapping)]
    return metric, names, [methods[n][metric] for n in names]


def _chart_png(summary: Mapping[str, Any], title: str) -> bytes | None:
    """Bar chart of the headline metric per method with its confidence interval, as PNG."""
    head = _headline(summary)
    if head is None:
        return None
    metric, names, recs = head
    means = [r.get("mean") for r in recs]
    if not any(isinstance(m, int | float) for m in means):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = summary.get("method_labels") or {}
    y = [float(m) if isinstance(m, int | float) else math.nan for m in means]
    lo = [
        max(0.0, yi - float(r["ci_low"])) if r.get("ci_low") is not None else 0.0
        for yi, r in zip(y, recs, strict=True)
    ]
    hi = [
        max(0.0, float(r["ci_high"]) - yi) if r.get("ci_high") is not None else 0.0
        for yi, r in zip(y, recs, strict=True)
    ]
    fig, ax = plt.subplots(figsize=(7.0, 3.6), dpi=90)
    try:
        ax.bar(range(len(y)), y, yerr=[lo, hi], capsize=4, color="#4c72b0")
        ax.set_xticks(range(len(y)), [str(labels.get(n, n))[:18] for n in names], rotation=20)
        definition = str((summary.get("metrics") or {}).get(metric, ""))
        unit = re.search(r"\(([^()]*)\)\s*$", definition)
        ax.set_ylabel(f"{metric} ({unit.group(1)})" if unit else metric, fontsize=8)
        ax.set_xlabel("method")
        ax.set_title(title, fontsize=9)
        ax.axhline(0.0, color="#888", linewidth=0.6)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    return buf.getvalue()


def _run_figures(run: _Run) -> list[Path]:
    names = run.summary.get("figures")
    if isinstance(names, list) and names:
        paths = [run.path / str(n) for n in names]
    else:
        paths = sorted(run.path.glob("*.png"))
    return [p for p in paths if p.suffix.lower() == ".png" and p.is_file()]


# --------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------


class _Doc:
    """Builds the HTML and the Markdown side by side."""

    def __init__(self, md_dir: Path, assets: Path) -> None:
        self.h: list[str] = []
        self.m: list[str] = []
        self.md_dir, self.assets = md_dir, assets

    def open(self, sid: str, level: int, title: str) -> None:
        self.h.append(f'<section id="{sid}">\n<h{level}>{html.escape(title)}</h{level}>')
        self.m.append(f"\n{'#' * level} {title}\n")

    def close(self) -> None:
        self.h.append("</section>")

    def para(self, text: str, cls: str = "") -> None:
        attr = f' class="{cls}"' if cls else ""
        self.h.append(f"<p{attr}>{html.escape(text)}</p>")
        self.m.append(f"{text}\n")

    def table(self, table: _Table, empty: str = "Nothing recorded.") -> None:
        if not table.rows:
            self.para(empty, "note")
            return
        head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
        body = []
        for row in table.rows:
            cells = "".join(
                f'<td class="{cls}">{html.escape(text)}</td>'
                if cls
                else f"<td>{html.escape(text)}</td>"
                for text, cls in row
            )
            body.append(f"<tr>{cells}</tr>")
        self.h.append(
            f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n"
            + "\n".join(body)
            + "\n</tbody>\n</table>"
        )

        def md_cell(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ")

        lines = ["| " + " | ".join(md_cell(h) for h in table.header) + " |"]
        lines.append("|" + "|".join("---" for _ in table.header) + "|")
        lines += ["| " + " | ".join(md_cell(t) for t, _ in row) + " |" for row in table.rows]
        self.m.append("\n".join(lines) + "\n")

    def figure(self, png: bytes, caption: str, md_path: Path) -> None:
        data = base64.b64encode(png).decode("ascii")
        self.h.append(
            f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
        rel = os.path.relpath(md_path, self.md_dir)
        self.m.append(f"![{caption}]({Path(rel).as_posix()})\n")

    def pre(self, text: str, summary: str) -> None:
        self.h.append(
            f"<details><summary>{html.escape(summary)}</summary><pre>{html.escape(text)}</pre>"
            "</details>"
        )
        self.m.append(
            f"<details><summary>{summary}</summary>\n\n```yaml\n{text}```\n\n</details>\n"
        )


def _verdict_counts(summary: Mapping[str, Any]) -> str:
    counts: dict[str, int] = {}
    for c in summary.get("claims") or []:
        v = str(c.get("verdict", "n/a"))
        counts[v] = counts.get(v, 0) + 1
    return ", ".join(f"{n} {v}" for v, n in counts.items()) or "no claims"


def _render_run(doc: _Doc, run: _Run) -> None:
    s = run.summary
    title = str(s.get("title") or f"{run.study} study")
    doc.open(run.slug, 3, f"{title}: {run.rel}")
    facts = [f"study {run.study}", f"run directory {run.rel}"]
    if run.meta.get("git_sha"):
        facts.append(f"git {run.meta['git_sha']}")
    if run.meta.get("created"):
        facts.append(f"created {run.meta['created']}")
    if s.get("seed") is not None:
        facts.append(f"seed {s['seed']}")
    doc.para("; ".join(facts) + ".", "note")

    doc.open(f"{run.slug}-claims", 4, "Publication claims beside our measurement")
    doc.table(_claims_table(s), "This study states no claims.")
    doc.close()
    doc.open(f"{run.slug}-methods", 4, "Methods (mean [confidence interval])")
    doc.table(_methods_table(s), "No per-method results.")
    doc.close()
    doc.open(f"{run.slug}-statistics", 4, "Statistics: reference method against the others")
    doc.table(_tests_table(s), "No statistical tests recorded.")
    doc.close()

    doc.open(f"{run.slug}-figures", 4, "Figures")
    n_fig = 0
    chart = _chart_png(s, f"{run.study}: {run.rel}")
    if chart is not None:
        path = doc.assets / f"{run.slug}-headline.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(chart)
        head = _headline(s)
        metric = head[0] if head else "headline metric"
        doc.figure(chart, f"{metric} per method, mean and confidence interval", path)
        n_fig += 1
    for fig_path in _run_figures(run):
        doc.figure(fig_path.read_bytes(), fig_path.name, fig_path)
        n_fig += 1
    if n_fig == 0:
        doc.para("No figures.", "note")
    doc.close()

    doc.open(f"{run.slug}-config", 4, "Resolved config")
    config = s.get("config")
    doc.pre(yaml.safe_dump(config, sort_keys=False) if config else "(not recorded)\n", "config")
    doc.close()
    doc.close()


def _render_sweep(doc: _Doc, sweep: _Sweep) -> None:
    plan = sweep.plan
    doc.open(sweep.slug, 3, f"Sweep {plan.get('study')}: {sweep.rel}")
    grid = plan.get("grid") or {}
    grid_text = "; ".join(f"{k} in {v}" for k, v in grid.items()) or "no grid (base config)"
    counts: dict[str, int] = {}
    for row in sweep.index:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    doc.para(
        f"{len(sweep.index)} runs: {grid_text}; seeds {plan.get('seeds')}; status "
        + ", ".join(f"{n} {k}" for k, n in counts.items())
        + f"; created {plan.get('created')}, git {plan.get('git_sha')}.",
        "note",
    )
    rows = []
    for row in sweep.index:
        params = ", ".join(f"{k}={v}" for k, v in row["params"].items()) or "-"
        rows.append(
            [
                _cell(row["run_id"]),
                _cell(params),
                _cell(row["seed"], "num"),
                _cell(row["status"], row["status"]),
                _cell(row["attempts"], "num"),
                _cell(_fmt(row["wall_s"]), "num"),
                _cell(row["error"] or ""),
            ]
        )
    doc.table(_Table(["run", "parameters", "seed", "status", "attempts", "wall s", "error"], rows))
    doc.close()


def write_report(runs_root: str | Path, out_path: str | Path | None = None) -> Path:
    """Write ``report.html`` (self-contained) and ``report.md`` for everything under a folder.

    Parameters
    ----------
    runs_root : str or Path
        A run directory, a sweep directory or a folder of them (searched recursively).
    out_path : str or Path, optional
        The HTML file; the Markdown goes beside it with suffix ``.md`` and the Markdown's
        figures into ``<stem>_files/``. Default: ``runs_root / "report.html"``.

    Returns
    -------
    Path
        The HTML report.

    Raises
    ------
    InvalidParameterError
        If ``runs_root`` is not a directory.
    """
    root = Path(runs_root)
    if not root.is_dir():
        raise InvalidParameterError(
            f"The 'runs_root' parameter of write_report must be an existing directory. "
            f"Got {str(root)!r} instead."
        )
    out = Path(out_path) if out_path is not None else root / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    found = _collect(root)
    env = environment_info()
    doc = _Doc(out.parent, out.parent / f"{out.stem}_files")

    doc.h.append(f'<h1 id="top">qnetrl report: {html.escape(str(root))}</h1>')
    doc.m.append(f"# qnetrl report: {root}\n")
    toc = [("overview", "Overview"), ("environment", "Environment")]
    if found.physics:
        toc.append(("physics", "Physics summary"))
    toc += [("sweeps", "Sweeps"), ("studies", "Studies")]
    doc.h.append(
        "<nav><ul>"
        + "".join(f'<li><a href="#{i}">{html.escape(t)}</a></li>' for i, t in toc)
        + "".join(
            f'<li><a href="#{r.slug}">{html.escape(r.study)}: {html.escape(r.rel)}</a></li>'
            for r in found.runs
        )
        + "</ul></nav>"
    )

    doc.open("overview", 2, "Overview")
    doc.para(
        f"{len(found.runs)} finished study runs, {len(found.sweeps)} sweeps under {root}; "
        f"generated {env['generated']}."
    )
    doc.table(
        _Table(
            ["study", "run", "sweep", "claims"],
            [
                [
                    _cell(r.study),
                    _cell(r.rel),
                    _cell(r.sweep or "-"),
                    _cell(_verdict_counts(r.summary)),
                ]
                for r in found.runs
            ],
        ),
        "No finished study run found.",
    )
    doc.close()

    doc.open("environment", 2, "Environment")
    doc.table(
        _Table(
            ["item", "value"],
            [
                [_cell(k), _cell(env[k])]
                for k in ("cpu_model", "cpu_count", "python", "platform", "git_sha")
            ]
            + [[_cell(f"package {k}"), _cell(v)] for k, v in env["packages"].items()],
        )
    )
    shas = sorted({str(r.meta["git_sha"]) for r in found.runs if r.meta.get("git_sha")})
    if shas:
        doc.para("Git SHAs recorded by the runs: " + ", ".join(shas) + ".", "note")
    doc.close()

    if found.physics:
        doc.open("physics", 2, "Physics summary")
        for rel, data in found.physics:
            doc.para(f"From {rel}/physics_summary.json.", "note")
            doc.table(
                _Table(
                    ["quantity", "value"],
                    [[_cell(k), _cell(_fmt(v), "num")] for k, v in data.items()],
                )
            )
        doc.close()

    doc.open("sweeps", 2, "Sweeps")
    if not found.sweeps:
        doc.para("No sweep found.", "note")
    for sweep in found.sweeps:
        _render_sweep(doc, sweep)
    doc.close()

    doc.open("studies", 2, "Studies")
    if not found.runs:
        doc.para("No finished study run found.", "note")
    for run in found.runs:
        _render_run(doc, run)
    doc.close()

    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>qnetrl report: {html.escape(str(root))}</title>\n<style>{_STYLE}</style>\n"
        "</head>\n<body>\n" + "\n".join(doc.h) + "\n</body>\n</html>\n"
    )
    atomic_write_text(out.with_suffix(".md"), "\n".join(doc.m))
    return atomic_write_text(out, page)
