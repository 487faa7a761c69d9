"""The ``qnetrl`` command line: ``demo``, ``physics``, ``reproduce edge`` / ``resilience``.

Each study adds a ``reproduce`` subcommand as it lands. Bad arguments exit with status 2 and a
message naming the option and its allowed range.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

os.environ.setdefault("OMP_NUM_THREADS", "1")

import typer
from rich.console import Console

from qnetrl import __version__
from qnetrl._validation import InvalidParameterError

if TYPE_CHECKING:
    from qnetrl.config import ConfigBase

__all__ = ["app", "main"]

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="qnetrl: simulate quantum networks and learn how to run them.",
)
physics_app = typer.Typer(no_args_is_help=True, help="Tables and plots of the physics layer.")
app.add_typer(physics_app, name="physics")
network_app = typer.Typer(no_args_is_help=True, help="Time-slotted QKD network simulation.")
app.add_typer(network_app, name="network")
reproduce_app = typer.Typer(
    no_args_is_help=True, help="Re-run a published study and set our numbers beside its claims."
)
app.add_typer(reproduce_app, name="reproduce")

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
    from rich.markup import escape

    console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
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


def _parse_sets(items: list[str]) -> dict[str, object]:
    """``key=value`` strings to overrides; values are read as YAML scalars or lists."""
    import yaml

    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidParameterError(
                f"The '--set' option must look like 'field=value' (e.g. agent.lr=5e-4). "
                f"Got {item!r} instead."
            )
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


#: ``--force`` of the reproduce commands.
ForceOption = Annotated[bool, typer.Option("--force", help="Overwrite a finished run in --out.")]
#: Hidden ``--root`` of the reproduce commands.
RootOption = Annotated[Path, typer.Option(hidden=True, help="Parent of new run directories.")]
#: ``--tensorboard`` of the reproduce and sweep commands.
TensorBoardOption = Annotated[
    bool,
    typer.Option(
        "--tensorboard",
        help=(
            "Also log training curves to TensorBoard event files under <run>/tensorboard/ "
            "(needs pip install 'qnetrl\\[tensorboard]'; view with tensorboard --logdir DIR)."
        ),
    ),
]


def _check_tensorboard(tensorboard: bool) -> None:
    if tensorboard:
        from qnetrl.experiments.tensorboard import require_tensorboard

        require_tensorboard("--tensorboard")


_Config = TypeVar("_Config", bound="ConfigBase")


def _prepare_study(
    config_cls: type[_Config],
    prepare_run_dir: Callable[..., Path],
    *,
    quick: bool,
    config: Path | None,
    set_: list[str] | None,
    shortcuts: Mapping[str, Any],
    tensorboard: bool,
    out: Path | None,
    root: Path,
    force: bool,
) -> tuple[_Config, Path]:
    """The study's config (preset or YAML file, then --set, then the ``shortcuts`` options that
    were given) and its prepared run directory; bad input exits with status 2."""
    try:
        if quick and config is not None:
            raise InvalidParameterError(
                "The '--quick' and '--config' options cannot be combined; use --set overrides."
            )
        if config is not None:
            cfg = config_cls.from_yaml(config)
        else:
            cfg = config_cls.quick() if quick else config_cls()
        overrides = _parse_sets(set_ or [])
        overrides.update({k: v for k, v in shortcuts.items() if v is not None})
        if overrides:
            cfg = cfg.with_overrides(overrides)
        _check_tensorboard(tensorboard)
        run_dir = prepare_run_dir(cfg, out, root=root, force=force)
    except InvalidParameterError as exc:
        raise _fail(exc) from None
    return cfg, run_dir


@reproduce_app.command("edge")
def reproduce_edge(
    quick: Annotated[
        bool, typer.Option("--quick", help="Small preset: 3 seeds, short training (1-2 min).")
    ] = False,
    seeds: Annotated[
        int | None,
        typer.Option(
            min=1, max=1000, help="Seeds (training runs) per method (default 10; 3 with --quick)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help=(
                "Run directory to write into, used as given; an unfinished run of the same "
                "config there is resumed, a finished one is never overwritten without --force. "
                "Default: a new runs/edge/<timestamp>-<seed0>/."
            )
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="YAML file of EdgeStudyConfig fields (not with --quick)."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Override a config field, e.g. --set agent.lr=5e-4 (repeatable)."
        ),
    ] = None,
    train_steps: Annotated[
        int | None,
        typer.Option(min=1, hidden=True, help="Shortcut for --set agent.total_env_steps=N."),
    ] = None,
    force: ForceOption = False,
    tensorboard: TensorBoardOption = False,
    root: RootOption = Path("runs"),
) -> None:
    """The edge-scheduling study: DDQN vs DQN, heuristics and an oracle, beside the claims."""
    from qnetrl.experiments.edge_study import EdgeStudyConfig, prepare_run_dir, run_edge_study

    cfg, run_dir = _prepare_study(
        EdgeStudyConfig,
        prepare_run_dir,
        quick=quick,
        config=config,
        set_=set_,
        shortcuts={"seeds": seeds, "agent.total_env_steps": train_steps},
        tensorboard=tensorboard,
        out=out,
        root=root,
        force=force,
    )
    run_edge_study(cfg, run_dir, console=console, tensorboard=tensorboard)


@reproduce_app.command("resilience")
def reproduce_resilience(
    quick: Annotated[
        bool, typer.Option("--quick", help="Small preset: 2 seeds, short training (< 3 min).")
    ] = False,
    seeds: Annotated[
        int | None,
        typer.Option(min=1, max=1000, help="Seeds per configuration (default 10; 2 with --quick)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help=(
                "Run directory, used as given; an unfinished run of the same config there is "
                "resumed. Default: a new runs/resilience/<timestamp>-<seed0>/."
            )
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="YAML file of ResilienceStudyConfig fields (not with --quick)."
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config field, e.g. --set agent.lr=5e-4."),
    ] = None,
    force: ForceOption = False,
    tensorboard: TensorBoardOption = False,
    root: RootOption = Path("runs"),
) -> None:
    """The resilience study: baseline, ABFT, DRA and ABFT + DRA under Byzantine nodes."""
    from qnetrl.experiments.resilience_study import (
        ResilienceStudyConfig,
        prepare_run_dir,
        run_resilience_study,
    )

    cfg, run_dir = _prepare_study(
        ResilienceStudyConfig,
        prepare_run_dir,
        quick=quick,
        config=config,
        set_=set_,
        shortcuts={"seeds": seeds},
        tensorboard=tensorboard,
        out=out,
        root=root,
        force=force,
    )
    run_resilience_study(cfg, run_dir, console=console, tensorboard=tensorboard)


@reproduce_app.command("entanglement")
def reproduce_entanglement(
    quick: Annotated[
        bool,
        typer.Option("--quick", help="Small preset: 20-node mesh, 3 seeds (~2-3 min on 2 cores)."),
    ] = False,
    seeds: Annotated[
        int | None,
        typer.Option(
            min=1, max=1000, help="Seeds (training runs) per method (default 10; 3 with --quick)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help=(
                "Run directory, used as given; an unfinished run of the same config there is "
                "resumed, a finished one is never overwritten without --force. Default: a new "
                "runs/entanglement/<timestamp>-<seed0>/."
            )
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Processes running units in parallel (default 2)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="YAML file of EntanglementStudyConfig fields (not with --quick)."
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Override a config field, e.g. --set env.n_nodes=50 (repeatable)."
        ),
    ] = None,
    force: ForceOption = False,
    tensorboard: TensorBoardOption = False,
    root: RootOption = Path("runs"),
) -> None:
    """The DPEM entanglement study: forecast + PPO + DP-FedAvg, ablations and allocators."""
    from qnetrl.experiments import entanglement_study as es

    cfg, run_dir = _prepare_study(
        es.EntanglementStudyConfig,
        es.prepare_run_dir,
        quick=quick,
        config=config,
        set_=set_,
        shortcuts={"seeds": seeds, "workers": workers},
        tensorboard=tensorboard,
        out=out,
        root=root,
        force=force,
    )
    es.run_entanglement_study(cfg, run_dir, console=console, tensorboard=tensorboard)


def _finite_or_none(summary: dict[str, float]) -> dict[str, float | None]:
    """Summary for JSON: undefined (NaN) metrics become null."""
    return {k: (None if v != v else v) for k, v in summary.items()}


@network_app.command("simulate")
def network_simulate(
    topology: Annotated[
        str | None,
        typer.Option(
            help="Registry name (tokyo, secoqc, grid, ring, waxman, geometric) or a .json / "
            ".graphml file \\[default: tokyo]."
        ),
    ] = None,
    byzantine: Annotated[
        float | None,
        typer.Option(
            help="Fraction of nodes that are Byzantine relays, in [0, 0.3] \\[default: 0]."
        ),
    ] = None,
    slots: Annotated[
        int | None,
        typer.Option(help="Slots to simulate (1 ms each by default) \\[default: 10000]."),
    ] = None,
    paths: Annotated[
        int | None,
        typer.Option(
            help="Multi-path routing: Shamir shares over this many node-disjoint paths; omit for "
            "single-path trusted relaying."
        ),
    ] = None,
    threshold: Annotated[
        int | None,
        typer.Option(
            help="Shares needed to rebuild a key, in [1, paths] \\[default: min(2, paths)]."
        ),
    ] = None,
    batch: Annotated[
        int | None, typer.Option(help="Independent copies B simulated together \\[default: 1].")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the run (faults, demand, keys).")] = 0,
    fluctuations: Annotated[
        bool | None,
        typer.Option(
            "--fluctuations/--no-fluctuations",
            help="Fibre-loss, stress, cut and drift processes \\[default: off].",
        ),
    ] = None,
    byte_level: Annotated[
        bool | None,
        typer.Option(
            "--byte-level/--fast",
            help="Relay, share, decode and MAC-check real key bytes for every served request, "
            "or use the decoding bound \\[default: byte-level].",
        ),
    ] = None,
    nodes: Annotated[
        int | None, typer.Option(help="n_nodes of the ring, waxman and geometric builders.")
    ] = None,
    end_nodes: Annotated[
        int | None,
        typer.Option(help="Number of end nodes drawn at random \\[default: auto, see the docs]."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="YAML file of NetworkSimConfig fields; options override it."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Root folder for run directories.")] = Path("runs"),
) -> None:
    """Simulate a QKD network with key pools, trusted relays and Byzantine nodes."""
    import time

    from rich.progress import Progress

    from qnetrl.experiments.rundir import create_run_dir, write_json
    from qnetrl.experiments.tables import print_table, write_table
    from qnetrl.network.metrics import plot_key_rate, plot_pool_levels
    from qnetrl.network.simulator import NetworkSimConfig, NetworkSimulator

    overrides: dict[str, object] = {}
    for key, value in (
        ("topology", topology),
        ("faults.byzantine_fraction", byzantine),
        ("slots", slots),
        ("batch_size", batch),
        ("fluctuations.enabled", fluctuations),
        ("byte_level", byte_level),
        ("end_nodes", end_nodes),
    ):
        if value is not None:
            overrides[key] = value
    if paths is not None:
        overrides["routing"] = "multipath"
        overrides["n_paths"] = paths
        overrides["threshold"] = threshold if threshold is not None else min(2, max(paths, 1))
    elif threshold is not None:
        overrides["threshold"] = threshold
    try:
        base = NetworkSimConfig.from_yaml(config) if config is not None else None
        if base is None:
            base = NetworkSimConfig(byte_level=True)
        if nodes is not None:
            overrides["topology_params"] = {**base.topology_params, "n_nodes": nodes}
        cfg = base.with_overrides(overrides) if overrides else base
        sim = NetworkSimulator(cfg, seed)
    except InvalidParameterError as exc:
        raise _fail(exc) from None

    run_dir = create_run_dir("network", seed, cfg, root=out)
    total = cfg.slots
    start = time.perf_counter()
    if console.is_terminal:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("simulating slots", total=total)
            result = sim.run(lambda done: bar.update(task, completed=done))
    else:
        marks = {max(1, round(total * f / 10)) for f in range(1, 11)}
        result = sim.run(
            lambda done: console.print(f"slot {done}/{total}") if done in marks else None,
            every=1 if total < 200 else max(1, total // 200),
        )
    wall = time.perf_counter() - start
    summary = result.summary()
    name = sim.graph.graph.get("name", cfg.topology)
    print_table(
        {"metric": list(summary), "value": list(summary.values())},
        f"network simulate: {name}, {cfg.routing} routing, B={cfg.batch_size}, seed={seed}",
        console,
    )
    write_json(run_dir / "summary.json", _finite_or_none(summary))
    write_table(result.pair_table(), run_dir / "pairs")
    write_table(result.link_table(), run_dir / "links")
    plot_pool_levels(result, run_dir / "pool_levels.png")
    plot_key_rate(result, run_dir / "key_rate.png")
    rate = total * cfg.batch_size / wall if wall > 0 else float("inf")
    console.print(f"{total} slots x {cfg.batch_size} copies in {wall:.1f} s ({rate:.0f} slots/s)")
    console.print(f"outputs in {run_dir}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Root folder for run directories.")] = Path("runs"),
    skip_studies: Annotated[
        bool, typer.Option("--skip-studies", hidden=True, help="Physics summary only.")
    ] = False,
    skip_resilience: Annotated[
        bool, typer.Option("--skip-resilience", hidden=True, help="Leave out the resilience study.")
    ] = False,
    skip_entanglement: Annotated[
        bool,
        typer.Option("--skip-entanglement", hidden=True, help="Leave out the DPEM study."),
    ] = False,
) -> None:
    """The main job: the physics summary, then each study in quick mode (edge: 1-2 min)."""
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

    sections = ["physics"] if skip_studies else ["physics", "edge"]
    if not (skip_studies or skip_entanglement):
        sections.append("entanglement")
    if not (skip_studies or skip_resilience):
        sections.append("resilience")
    run_dir = create_run_dir("demo", 0, {"study": "demo", "sections": sections}, root=out)
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
    if not skip_studies:
        from qnetrl.experiments.edge_study import (
            EdgeStudyConfig,
            prepare_run_dir,
            run_edge_study,
        )

        edge_cfg = EdgeStudyConfig.quick()
        run_edge_study(edge_cfg, prepare_run_dir(edge_cfg, run_dir / "edge"), console=console)
    if "entanglement" in sections:
        from qnetrl.experiments import entanglement_study as es

        ent_cfg = es.EntanglementStudyConfig.quick()
        es.run_entanglement_study(
            ent_cfg, es.prepare_run_dir(ent_cfg, run_dir / "entanglement"), console=console
        )
    if "resilience" in sections:
        from qnetrl.experiments import resilience_study as rs

        res_cfg = rs.ResilienceStudyConfig.quick()
        rs.run_resilience_study(
            res_cfg, rs.prepare_run_dir(res_cfg, run_dir / "resilience"), console=console
        )
    from qnetrl.experiments.report import write_report

    report = write_report(run_dir)
    console.print(f"demo outputs in {run_dir}")
    console.print(f"report: {report}")


@app.command()
def sweep(
    config: Annotated[
        Path | None,
        typer.Argument(
            help="Sweep YAML (fields study, config, grid, seeds, seed0), or a plain study "
            "config with --study."
        ),
    ] = None,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            help="Grid axis 'field=v1,v2' (repeatable; YAML values; 'field=[[32],[64,64]]' "
            "for list values). Overrides the file's axis of the same field.",
        ),
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option(
            min=1, max=100_000, help="Seeds per grid point (default: the file's, else 1)."
        ),
    ] = None,
    seed0: Annotated[
        int | None, typer.Option(min=0, help="First seed (default: the file's, else 0).")
    ] = None,
    study: Annotated[
        str | None,
        typer.Option(
            help="Study of a plain config file: toy, edge, resilience or entanglement "
            "(files with a 'study' field name it themselves)."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=0, help="Runs in parallel, 0: in this process (default: CPU count)."),
    ] = None,
    backend: Annotated[
        str, typer.Option(help="'local' (process pool) or 'ray' (needs the ray extra).")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(help="Ray cluster address for --backend ray; none starts a local Ray."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="New sweep directory (default: runs/sweeps/<study>/<time>-<seed0>)."),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            help="Continue the sweep in this directory: finished runs are kept, the others "
            "continue (studies from their finished units, the toy study from its checkpoint).",
        ),
    ] = None,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Write report.html at the end.")
    ] = True,
    tensorboard: TensorBoardOption = False,
) -> None:
    """Run a study over a grid of config values and seeds (local pool or Ray), resumable."""
    import yaml

    from qnetrl._validation import check_choice
    from qnetrl.experiments.report import write_report
    from qnetrl.experiments.sweep import (
        BACKENDS,
        SweepConfig,
        available_studies,
        create_sweep,
        load_sweep,
        parse_grid_options,
        run_sweep,
    )

    try:
        check_choice("--backend", backend, BACKENDS, owner="qnetrl sweep")
        _check_tensorboard(tensorboard)
        if (config is None) == (resume is None):
            raise InvalidParameterError(
                "qnetrl sweep needs either a CONFIG file or --resume DIR (exactly one)."
            )
        if resume is not None:
            options = {"--grid": grid, "--seeds": seeds, "--seed0": seed0, "--study": study}
            given = [name for name, value in {**options, "--out": out}.items() if value]
            if given:
                raise InvalidParameterError(
                    f"The option(s) {', '.join(given)} cannot be combined with --resume: a "
                    f"sweep continues with the plan it was created with."
                )
            load_sweep(resume)
            sweep_dir = resume
        else:
            assert config is not None
            try:
                data = yaml.safe_load(config.read_text()) or {}
            except FileNotFoundError:
                raise InvalidParameterError(
                    f"Config file {str(config)!r} does not exist."
                ) from None
            except yaml.YAMLError as exc:
                raise InvalidParameterError(
                    f"Config file {str(config)!r} is not valid YAML: {exc}"
                ) from None
            if not isinstance(data, dict):
                raise InvalidParameterError(
                    f"Config file {str(config)!r} must hold a mapping of fields."
                )
            if "study" in data:
                if study is not None and study != data["study"]:
                    raise InvalidParameterError(
                        f"The '--study' option ({study!r}) contradicts the file's study "
                        f"({data['study']!r})."
                    )
                spec = SweepConfig.validate_dict(data, source=str(config))
            elif study is None:
                raise InvalidParameterError(
                    f"Config file {str(config)!r} has no 'study' field; name the study with "
                    f"--study ({', '.join(sorted(available_studies()))})."
                )
            else:
                spec = SweepConfig(study=study, config=data)
            sweep_dir = create_sweep(
                spec.study,
                spec.config,
                {**spec.grid, **parse_grid_options(grid or [])},
                seeds=spec.seeds if seeds is None else seeds,
                seed0=spec.seed0 if seed0 is None else seed0,
                out=out,
            )
        console.print(f"sweep directory: {sweep_dir}", highlight=False)
        result = run_sweep(
            sweep_dir,
            workers=workers,
            backend=backend,
            address=address,
            console=console,
            tensorboard=tensorboard,
        )
    except InvalidParameterError as exc:
        raise _fail(exc) from None
    console.print(
        f"{result.done}/{result.total} runs done ({result.skipped} finished before), "
        f"{len(result.failed)} failed, {result.wall_s:.1f} s; index in "
        f"{sweep_dir / 'index.csv'}",
        highlight=False,
    )
    if report:
        console.print(f"report: {write_report(sweep_dir)}", highlight=False)
    if result.failed:
        for run_id in result.failed:
            console.print(
                f"[red]failed:[/] {run_id} (see {sweep_dir / 'runs' / run_id / 'error.txt'})",
                highlight=False,
            )
        raise typer.Exit(code=1)


@app.command()
def report(
    runs_dir: Annotated[
        Path, typer.Argument(help="A run, a sweep or a folder of them (searched recursively).")
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="HTML file (default: RUNS_DIR/report.html); Markdown beside it."),
    ] = None,
) -> None:
    """One self-contained HTML report (and Markdown) of every finished study under RUNS_DIR."""
    from qnetrl.experiments.report import write_report

    try:
        path = write_report(runs_dir, out)
    except InvalidParameterError as exc:
        raise _fail(exc) from None
    console.print(f"wrote {path} and {path.with_suffix('.md')}", highlight=False)


def main() -> None:
    """Console-script entry point."""
    app()
