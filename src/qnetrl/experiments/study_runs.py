"""The run plumbing the studies share: resumable run directories and the loop over their units.

A study run is a directory holding ``config.yaml``, ``meta.json``, one JSON file per
(method, seed) unit under ``units/`` and, once finished, ``summary.json``.
:func:`prepare_study_run_dir` creates such a directory or reopens an unfinished one of the same
config; :func:`run_study_units` reads the finished units back and runs the missing ones, in
this process or in a pool of spawned processes, writing each unit file as soon as the unit
ends, so a killed run loses nothing already computed.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from qnetrl.config import ConfigBase, ConfigError
from qnetrl.experiments.progress import UnitProgress
from qnetrl.experiments.rundir import (
    atomic_write_text,
    create_run_dir,
    json_safe,
    run_metadata,
    write_json,
)

__all__ = [
    "StudyResult",
    "UnitKey",
    "UnitPool",
    "init_worker",
    "prepare_study_run_dir",
    "run_study_units",
    "unit_path",
]

#: A unit of a study: (method, seed index).
UnitKey = tuple[str, int]


@dataclass
class StudyResult:
    """What a study's ``run_*_study`` returns.

    Attributes
    ----------
    run_dir : Path
        Where the outputs are.
    summary : dict
        The content of ``summary.json``.
    wall_s : float
        Wall-clock duration of the call (in s).
    """

    run_dir: Path
    summary: dict[str, Any]
    wall_s: float


def prepare_study_run_dir(
    study: str,
    config: ConfigBase,
    seed0: int,
    out: str | Path | None = None,
    *,
    root: str | Path = "runs",
    force: bool = False,
    fresh_dirs: Sequence[str] = ("units",),
) -> Path:
    """The directory a study writes into, created with ``config.yaml`` and ``meta.json``.

    Parameters
    ----------
    study : str
        Study name, e.g. ``"edge"``: the folder under ``root`` and the name in messages.
    config : ConfigBase
        The resolved config.
    seed0 : int
        The run's first seed (recorded in ``meta.json`` and in a new directory's name).
    out : str, Path or None
        Run directory to use as given. None creates a new ``root/<study>/<timestamp>-<seed0>/``
        with :func:`qnetrl.experiments.rundir.create_run_dir`.
    root : str or Path, default "runs"
        Parent of new run directories (used when ``out`` is None).
    force : bool, default False
        Allow overwriting a finished run or a run of another config in ``out``.
    fresh_dirs : sequence of str, default ("units",)
        Subdirectories of per-unit results deleted (with ``summary.json``) when ``force``
        restarts a finished run or a run of another config.

    Returns
    -------
    Path
        The run directory. An unfinished run of the same config in ``out`` is kept, so that
        the study resumes it from its ``units/`` files.

    Raises
    ------
    ConfigError
        If ``out`` is a file, or holds a finished run (``summary.json``), a run of a different
        config, or other files, and ``force`` is False.
    """
    if out is None:
        return create_run_dir(study, seed0, config, root=root)
    path = Path(out)
    text = config.to_yaml()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"The 'out' path {str(path)!r} exists and is not a directory.")
    if path.is_dir() and any(path.iterdir()):
        finished = (path / "summary.json").exists()
        cfg_file = path / "config.yaml"
        same = cfg_file.exists() and cfg_file.read_text() == text
        if not force:
            if finished:
                raise ConfigError(
                    f"The 'out' directory {str(path)!r} already holds a finished {study} study "
                    f"(summary.json). Choose another directory or pass --force to overwrite it."
                )
            if not cfg_file.exists():
                raise ConfigError(
                    f"The 'out' directory {str(path)!r} is not empty and holds no {study} "
                    f"study. Choose an empty or new directory."
                )
            if not same:
                raise ConfigError(
                    f"The 'out' directory {str(path)!r} holds an unfinished {study} study of a "
                    f"different config. Choose another directory or pass --force to restart."
                )
        elif not same or finished:
            for name in fresh_dirs:
                shutil.rmtree(path / name, ignore_errors=True)
            (path / "summary.json").unlink(missing_ok=True)
    path.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path / "config.yaml", text)
    if not (path / "meta.json").exists():
        write_json(path / "meta.json", run_metadata(study, seed0))
    return path


def unit_path(run_dir: str | Path, method: str, index: int) -> Path:
    """The result file of a unit: ``run_dir/units/<method>-seed<index:03d>.json``."""
    return Path(run_dir) / "units" / f"{method}-seed{index:03d}.json"


def init_worker() -> None:
    """One thread per worker process: ``OMP_NUM_THREADS=1`` and ``torch.set_num_threads(1)``."""
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


@dataclass(frozen=True)
class UnitPool:
    """How :func:`run_study_units` runs units in a pool of spawned processes.

    Attributes
    ----------
    workers : int
        Most processes at once; 1 runs the units in this process.
    worker : callable
        Module-level function (it must pickle) ``worker(payload) -> unit``; each worker
        process is first set to one thread by :func:`init_worker`.
    payload : dict
        JSON-ready data every unit gets; ``method`` and ``index`` are added per unit.
    """

    workers: int
    worker: Callable[[dict[str, Any]], dict[str, Any]]
    payload: Mapping[str, Any]


def run_study_units(
    study: str,
    methods: Sequence[str],
    seeds: int,
    run_dir: str | Path,
    run_unit: Callable[[str, int, Callable[[float], None]], dict[str, Any]],
    *,
    seed_of: Callable[[int], int],
    console: Console,
    show_progress: bool,
    pool: UnitPool | None = None,
) -> tuple[dict[UnitKey, dict[str, Any]], int]:
    """Every (method, seed index) unit of a study: read back from ``units/`` or run now.

    Units go in order, methods outer and seed indices inner. A unit whose file exists (see
    :func:`unit_path`) is read back; the others run, and each one's :func:`json_safe` copy is
    written to its file as soon as it ends. With a ``pool`` of more than one worker and more
    than one unit to run, the finished units are read first and the missing ones then run in
    parallel. Progress goes through :class:`~qnetrl.experiments.progress.UnitProgress`.

    Parameters
    ----------
    study : str
        Study name; progress shows ``"<study> study"`` and labels units
        ``"<method> seed <seed>"``.
    methods : sequence of str
        The study's methods, in report order.
    seeds : int
        Seed indices ``0 .. seeds - 1`` per method.
    run_dir : str or Path
        The run directory; unit files are under its ``units/``.
    run_unit : callable
        ``run_unit(method, index, progress) -> unit``, a dict with the unit's ``wall_s``;
        ``progress(fraction)`` reports how far the unit is. The returned dict is what the
        study gets (return a JSON-safe one to see the same data as a resumed run).
    seed_of : callable
        Seed shown in a unit's label, from its seed index.
    console : rich.console.Console
        Where progress goes.
    show_progress : bool
        Show progress at all.
    pool : UnitPool, optional
        Run units in spawned processes; the unit a worker returns is kept as it is.

    Returns
    -------
    units : dict
        Unit dicts keyed by (method, index).
    resumed : int
        How many units were read back from disk.
    """
    run_dir = Path(run_dir)
    (run_dir / "units").mkdir(parents=True, exist_ok=True)
    todo = [(m, i) for m in methods for i in range(seeds)]
    missing = [key for key in todo if not unit_path(run_dir, *key).exists()]
    to_run = set(missing)
    parallel = pool is not None and pool.workers > 1 and len(missing) > 1
    units: dict[UnitKey, dict[str, Any]] = {}
    resumed = 0
    bar = UnitProgress(f"{study} study", console, len(todo), show_progress)

    def label(key: UnitKey) -> str:
        return f"{key[0]} seed {seed_of(key[1])}"

    def keep(key: UnitKey, unit: dict[str, Any]) -> None:
        write_json(unit_path(run_dir, *key), json_safe(unit))
        units[key] = unit
        bar.finish(label(key), unit["wall_s"], resumed=False)

    try:
        for key in todo:
            if key not in to_run:
                units[key] = json.loads(unit_path(run_dir, *key).read_text())
                resumed += 1
                bar.finish(label(key), 0.0, resumed=True)
            elif not parallel:
                bar.start(label(key))
                keep(key, run_unit(*key, bar.partial))
        if parallel:
            assert pool is not None
            ctx = multiprocessing.get_context("spawn")
            workers = min(pool.workers, len(missing))
            with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=init_worker) as ex:
                futures = {
                    ex.submit(pool.worker, {**pool.payload, "method": m, "index": i}): (m, i)
                    for m, i in missing
                }
                for fut in cf.as_completed(futures):
                    keep(futures[fut], fut.result())
    finally:
        bar.stop()
    return units, resumed
