"""Run directories: ``runs/<study>/<timestamp>-<seed>/`` with everything needed to reproduce.

Each run directory holds ``config.yaml`` (the resolved config) and ``meta.json`` (study, seed,
package version, git SHA, Python and platform, creation time). Files are written atomically
(temporary file, then rename) so a killed run never leaves a half-written result behind.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from qnetrl import __version__
from qnetrl.config import ConfigBase

__all__ = [
    "atomic_write_text",
    "create_run_dir",
    "git_sha",
    "json_safe",
    "run_metadata",
    "run_study_as_sweep_run",
    "write_json",
]


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def json_safe(obj: Any) -> Any:
    """A copy of ``obj`` that is plain JSON: non-finite floats become None, numpy scalars and
    arrays become Python numbers and lists, tuples become lists.

    Examples
    --------
    >>> json_safe({"a": float("nan"), "b": (1, 2.5)})
    {'a': None, 'b': [1, 2.5]}
    """
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "tolist") and callable(obj.tolist):  # numpy arrays and scalars
        return json_safe(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


def write_json(path: str | Path, data: Any) -> Path:
    """Atomically write ``data`` as indented JSON."""
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def git_sha() -> str:
    """The git commit of the qnetrl source tree, ``"unknown"`` outside a checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    sha = out.stdout.strip()
    if out.returncode != 0 or not sha:
        return "unknown"
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=here,
        capture_output=True,
        text=True,
        timeout=5,
    )
    return sha + ("-dirty" if dirty.stdout.strip() else "")


def run_metadata(study: str, seed: int) -> dict[str, Any]:
    """What a run directory records besides the config."""
    return {
        "study": study,
        "seed": seed,
        "qnetrl_version": __version__,
        "git_sha": git_sha(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def create_run_dir(
    study: str,
    seed: int,
    config: ConfigBase | dict[str, Any],
    *,
    root: str | Path = "runs",
    now: _dt.datetime | None = None,
) -> Path:
    """Create ``root/<study>/<timestamp>-<seed>/`` holding ``config.yaml`` and ``meta.json``.

    Parameters
    ----------
    study : str
        Study name, e.g. ``"edge"``.
    seed : int
        The run's seed.
    config : ConfigBase or dict
        The resolved config to store.
    root : str or Path, default "runs"
        Parent folder of all studies.
    now : datetime, optional
        Timestamp to use (UTC now by default).

    Returns
    -------
    Path
        The new, empty-but-for-metadata run directory. An existing name gets a ``-N`` suffix.
    """
    stamp = (now or _dt.datetime.now(_dt.UTC)).strftime("%Y%m%dT%H%M%S")
    base = Path(root) / study / f"{stamp}-{seed}"
    path, k = base, 1
    while True:
        try:
            path.mkdir(parents=True, exist_ok=False)
            break
        except FileExistsError:
            k += 1
            path = base.with_name(f"{base.name}-{k}")
    if isinstance(config, ConfigBase):
        text = config.to_yaml()
    else:
        text = yaml.safe_dump(config, sort_keys=False)
    atomic_write_text(path / "config.yaml", text)
    write_json(path / "meta.json", run_metadata(study, seed))
    return path


def run_study_as_sweep_run(
    run_study: Any,
    config: ConfigBase,
    run_dir: str | Path,
    *,
    resume: bool,
    fresh_dirs: tuple[str, ...] = ("units",),
    tensorboard: bool = False,
) -> dict[str, Any]:
    """Run a study inside a sweep run directory and return its summary.

    Writes ``config.yaml``; without ``resume`` first deletes ``fresh_dirs`` (the study's
    per-unit results, so nothing from an earlier attempt is read back); the study's console
    output is appended to ``console.txt``.

    Parameters
    ----------
    run_study : callable
        ``run_study(config, run_dir, *, console, show_progress, tensorboard)`` returning an
        object with a ``summary`` dict (e.g. :func:`~qnetrl.experiments.edge_study.run_edge_study`).
    config : ConfigBase
        The validated study config.
    run_dir : str or Path
        The sweep run's directory.
    resume : bool
        Continue from the unit files already there.
    fresh_dirs : tuple of str, default ("units",)
        Subdirectories deleted when not resuming.
    tensorboard : bool, default False
        Passed on to the study.
    """
    import shutil

    from rich.console import Console

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        for name in (*fresh_dirs, "tensorboard"):
            shutil.rmtree(run_dir / name, ignore_errors=True)
    atomic_write_text(run_dir / "config.yaml", config.to_yaml())
    with open(run_dir / "console.txt", "a", encoding="utf-8") as fh:
        console = Console(file=fh, width=140, force_terminal=False, color_system=None)
        result = run_study(
            config, run_dir, console=console, show_progress=False, tensorboard=tensorboard
        )
    return dict(result.summary)
