"""Column tables: print with rich, write CSV and Markdown; columns are equal-length 1-D arrays."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from qnetrl.experiments.rundir import atomic_write_text

__all__ = ["format_value", "print_table", "to_csv", "to_markdown", "write_table"]

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


def write_table(columns: Columns, stem: str | Path) -> tuple[Path, Path]:
    """Write ``stem.csv`` and ``stem.md``; returns both paths."""
    stem = Path(stem)
    csv_path = atomic_write_text(stem.with_suffix(".csv"), to_csv(columns))
    md_path = atomic_write_text(stem.with_suffix(".md"), to_markdown(columns))
    return csv_path, md_path
