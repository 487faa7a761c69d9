"""The ``qnetrl`` command line: ``demo``, ``physics key-rate``, ``physics ber``.

Each study adds a ``reproduce`` subcommand as it lands. Bad arguments exit with status 2 and a
message naming the option and its allowed range.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

os.environ.setdefault("OMP_NUM_THREADS", "1")

import typer
from rich.console import Console

from qnetrl import __version__
from qnetrl._validation import InvalidParameterError

__all__ = ["app", "main"]

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="qnetrl: simulate quantum networks and learn how to run them.",
)
physics_app = typer.Typer(no_args_is_help=True, help="Tables and plots of the physics layer.")
app.add_typer(physics_app, name="physics")

console = Console()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"qnetrl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """qnetrl: simulate quantum networks and learn how to run them."""


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[bold red]error:[/] {exc}", highlight=False)
    return typer.Exit(code=2)


@physics_app.command("key-rate")
def key_rate(
    distance: Annotated[
        str, typer.Option(help="Distances in km: 'start:stop:step', 'a,b,c' or one value.")
    ] = "0:150:5",
    mu: Annotated[float, typer.Option(help="Signal mean photon number (> 0).")] = 0.48,
    nu: Annotated[
        float | None,
        typer.Option(help="Weak decoy intensity in [0, mu); omit for infinite decoys."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the CSV, Markdown and PNG.")] = Path(
        "runs/physics"
    ),
) -> None:
    """Decoy-state BB84 (GYS detectors) key rate vs distance, with the PLOB bound."""
    from qnetrl.experiments.grids import parse_grid
    from qnetrl.experiments.physics_report import key_rate_table, plot_key_rate
    from qnetrl.experiments.tables import print_table, write_table

    try:
        distances = parse_grid(distance, "distance")
        table = key_rate_table(distances, mu=mu, nu=nu)
    except InvalidParameterError as exc:
        raise _fail(exc) from None
    label = f"decoy BB84, GYS, mu={mu}" + (" (infinite decoys)" if nu is None else f", nu={nu}")
    print_table(table, f"Key rate vs distance: {label}", console)
    csv_path, _ = write_table(table, out / "key_rate")
    png = plot_key_rate(table, out / "key_rate.png", label=label)
    console.print(f"wrote {csv_path} and {png}")


@physics_app.command("ber")
def ber(
    snr_db: Annotated[
        str, typer.Option(help="Average SNR in dB: 'start:stop:step', 'a,b,c' or one value.")
    ] = "0:30:2",
    out: Annotated[Path, typer.Option(help="Folder for the CSV, Markdown and PNG.")] = Path(
        "runs/physics"
    ),
) -> None:
    """BPSK bit-error rate vs SNR over AWGN and Rayleigh fading."""
    from qnetrl.experiments.grids import parse_grid
    from qnetrl.experiments.physics_report import ber_table, plot_ber
    from qnetrl.experiments.tables import print_table, write_table

    try:
        table = ber_table(parse_grid(snr_db, "snr-db"))
    except InvalidParameterError as exc:
        raise _fail(exc) from None
    print_table(table, "BPSK bit-error rate", console)
    csv_path, _ = write_table(table, out / "ber")
    png = plot_ber(table, out / "ber.png")
    console.print(f"wrote {csv_path} and {png}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Root folder for run directories.")] = Path("runs"),
) -> None:
    """The main job: the physics summary (and, as they land, each study in quick mode)."""
    import numpy as np

    from qnetrl.experiments.physics_report import (
        ber_table,
        key_rate_table,
        physics_summary,
        plot_ber,
        plot_key_rate,
    )
    from qnetrl.experiments.rundir import create_run_dir, write_json
    from qnetrl.experiments.tables import print_table

    run_dir = create_run_dir("demo", 0, {"study": "demo", "sections": ["physics"]}, root=out)
    summary = physics_summary()
    print_table(
        {"quantity": list(summary), "value": list(summary.values())},
        "qnetrl physics summary",
        console,
    )
    write_json(run_dir / "physics_summary.json", summary)
    plot_key_rate(
        key_rate_table(np.arange(0.0, 151.0, 5.0)),
        run_dir / "key_rate.png",
        label="decoy BB84, GYS, mu=0.48 (infinite decoys)",
    )
    plot_ber(ber_table(np.arange(0.0, 31.0, 2.0)), run_dir / "ber.png")
    console.print(f"demo outputs in {run_dir}")


def main() -> None:
    """Console-script entry point."""
    app()
