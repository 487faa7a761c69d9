"""Run directories: ``runs/<study>/<timestamp>-<seed>/`` with everything needed to reproduce.

Each run directory holds ``config.yaml`` (the resolved config) and ``meta.json`` (study, seed,
package version, git SHA, Python and platform, creation time). Files are written atomically
(temporary file, then rename) so a killed run never leaves a half-written result behind.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from qnetrl import __version__
from qnetrl.config import ConfigBase

__all__ = ["atomic_write_text", "create_run_dir", "git_sha", "run_metadata", "write_json"]


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
