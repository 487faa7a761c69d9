"""Column tables: print with rich, write CSV and Markdown; columns are equal-length 1-D arrays.

Also the cell formats the studies share: a measured value by its kind (percent, bit/s, USD,
...), a mean with its confidence interval, and the table that puts each publication claim
beside our measurement (``table.csv``, ``table.md`` and the console).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from qnetrl.experiments.rundir import atomic_write_text

__all__ = [
    "claims_columns",
    "format_interval",
    "format_measure",
    "format_value",
    "print_table",
    "to_csv",
    "to_markdown",
    "write_table",
]

Columns = Mapping[str, Sequence[object] | np.ndarray]


def format_value(value: object) -> str:
    """Compact text for a table cell: 7 significant digits, scientific below 1e-3."""
    if isinstance(value, float | np.floating):
        v = float(value)
        if v == 0.0 or (1e-3 <= abs(v) < 1e7):
            return f"{v:.7g}"
        return f"{v:.4e}"
    return str(value)


def _rows(columns: Columns) -> list[list[str]]:
    n = len(next(iter(columns.values())))
    return [[format_value(columns[k][i]) for k in columns] for i in range(n)]


def print_table(columns: Columns, title: str, console: Console | None = None) -> None:
    """Print a table; rich falls back to plain text when stdout is not a terminal."""
    table = Table(title=title)
    for name in columns:
        table.add_column(escape(name), justify="right")
    for row in _rows(columns):
        table.add_row(*(escape(cell) for cell in row))
    (console or Console()).print(table)


def to_csv(columns: Columns) -> str:
    """CSV text with full precision."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(list(columns))
    n = len(next(iter(columns.values())))
    for i in range(n):
        writer.writerow(
            [
                repr(float(columns[k][i]))
                if isinstance(columns[k][i], float | np.floating)
                else columns[k][i]
                for k in columns
            ]
        )
    return buf.getvalue()


def to_markdown(columns: Columns) -> str:
    """A GitHub-flavoured Markdown table."""
    head = "| " + " | ".join(columns) + " |"
    sep = "|" + "|".join("---:" for _ in columns) + "|"
    body = ["| " + " | ".join(row) + " |" for row in _rows(columns)]
    return "\n".join([head, sep, *body]) + "\n"


def write_table(
    columns: Columns, stem: str | Path, *, markdown: Columns | None = None
) -> tuple[Path, Path]:
    """Write ``stem.csv`` and ``stem.md``; returns both paths.

    ``markdown`` gives the Markdown table other columns than the CSV (e.g. formatted text
    where the CSV keeps full precision); by default both hold ``columns``.
    """
    stem = Path(stem)
    csv_path = atomic_write_text(stem.with_suffix(".csv"), to_csv(columns))
    md_text = to_markdown(columns if markdown is None else markdown)
    md_path = atomic_write_text(stem.with_suffix(".md"), md_text)
    return csv_path, md_path


def format_measure(kind: str, x: float | None, *, signed: bool = False) -> str:
    """Text of a measured value by its kind; ``"n/a"`` for None.

    Kinds: ``"percent"`` (a fraction shown in %, with its sign if ``signed``), ``"bps"``
    (bit/s, thousands separated), ``"usd"`` (3 significant digits), ``"episodes"`` and
    ``"count"`` (integers), ``"fraction"`` (4 decimals); any other kind, 4 significant digits.

    Examples
    --------
    >>> format_measure("percent", 0.253), format_measure("percent", 0.253, signed=True)
    ('25.3 %', '+25.3 %')
    >>> format_measure("bps", 820523.4), format_measure("num", None)
    ('820,523', 'n/a')
    """
    if x is None:
        return "n/a"
    if kind == "percent":
        return f"{100.0 * x:+.1f} %" if signed else f"{100.0 * x:.1f} %"
    if kind == "bps":
        return f"{x:,.0f}"
    if kind == "usd":
        return f"{x:.3g}"
    if kind in ("episodes", "count"):
        return f"{x:.0f}"
    if kind == "fraction":
        return f"{x:.4f}"
    return f"{x:.4g}"


def format_interval(kind: str, rec: Mapping[str, Any], *, signed: bool = False) -> str:
    """``"mean [ci_low, ci_high]"`` of a summary record, each by :func:`format_measure`."""
    mean, lo, hi = (
        format_measure(kind, rec[k], signed=signed) for k in ("mean", "ci_low", "ci_high")
    )
    return f"{mean} [{lo}, {hi}]"


def claims_columns(
    claims: Sequence[Mapping[str, Any]],
    *,
    interval_header: str = "measured [95 % CI]",
    baseline: bool = True,
    claim_width: int | None = None,
    signed: bool = False,
) -> tuple[dict[str, list[Any]], dict[str, list[Any]], dict[str, list[Any]]]:
    """Columns of the claims table: for ``table.csv``, ``table.md`` and the console.

    Parameters
    ----------
    claims : sequence of dict
        A study's ``summary["claims"]``: each with ``claim``, ``publication``, ``band``,
        ``rule``, ``kind``, ``measured_as``, ``short``, ``baseline``, ``measured`` (``mean``,
        ``ci_low``, ``ci_high``, ``n``), ``verdict`` and ``note``.
    interval_header : str, default "measured [95 % CI]"
        Header of the Markdown and console column of the measured interval.
    baseline : bool, default True
        Give the CSV a ``baseline`` column.
    claim_width : int, optional
        Cut the console's claim text to this many characters.
    signed : bool, default False
        Show percentages with their sign (see :func:`format_measure`).

    Returns
    -------
    tuple of dict
        CSV columns (full precision; the publication's figure empty where it states none),
        Markdown columns (full text) and console columns.
    """
    csv_keys = ("claim", "publication", "band_low", "band_high", "measured_as")
    csv_keys += ("baseline",) if baseline else ()
    csv_cols: dict[str, list[Any]] = {
        k: [] for k in (*csv_keys, "mean", "ci_low", "ci_high", "n", "verdict", "note")
    }
    md_keys = ("publication claim", "read as", "our measurement", interval_header, "verdict")
    md: dict[str, list[Any]] = {k: [] for k in md_keys}
    con: dict[str, list[Any]] = {k: [] for k in ("claim", "ours", interval_header, "verdict")}
    for c in claims:
        m = c["measured"]
        pub = c["publication"]
        csv_cols["claim"].append(c["claim"])
        csv_cols["publication"].append("" if pub is None else float(pub))
        csv_cols["band_low"].append(float(c["band"][0]))
        csv_cols["band_high"].append(float(c["band"][1]))
        csv_cols["measured_as"].append(c["measured_as"])
        if baseline:
            csv_cols["baseline"].append(c["baseline"] or "")
        for key in ("mean", "ci_low", "ci_high"):
            csv_cols[key].append(math.nan if m[key] is None else float(m[key]))
        csv_cols["n"].append(m["n"])
        csv_cols["verdict"].append(c["verdict"])
        csv_cols["note"].append(c["note"])
        measured = format_interval(c["kind"], m, signed=signed)
        md["publication claim"].append(c["claim"])
        md["read as"].append(c["rule"])
        md["our measurement"].append(c["measured_as"] + (f" ({c['note']})" if c["note"] else ""))
        md[interval_header].append(measured)
        md["verdict"].append(c["verdict"])
        con["claim"].append(c["claim"][:claim_width])
        con["ours"].append(c["short"])
        con[interval_header].append(measured)
        con["verdict"].append(c["verdict"])
    return csv_cols, md, con
