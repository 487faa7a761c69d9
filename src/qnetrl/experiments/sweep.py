"""Parameter sweeps: grid expansion, a study registry, local or Ray execution, resumable runs.

A sweep is a study name, a base config, a grid of dotted-key values and a list of seeds;
:func:`expand_grid` turns them into :class:`RunSpec` objects (cartesian product of the grid,
times the seeds), each with a stable run id made of a readable slug and a short hash of the
resolved config and seed. :func:`create_sweep` writes the plan (``sweep.json``) and an index
(``index.sqlite``, one row per run with its status: pending, running, done or failed, start
and end times, wall seconds and error) into a sweep directory; :func:`run_sweep` executes
every unfinished run with a local process pool (``spawn`` start method, one torch thread per
worker), in this process (``workers=0``) or as Ray Core tasks, and can be called again on the
same directory to resume. Each run writes into ``runs/<run_id>/`` of the sweep: the study's
own files (checkpoints included, so a killed run continues where it stopped), then
``summary.json`` and, last, ``result.json``, both atomically (temporary file, then rename); a
run is finished exactly when ``result.json`` exists, so a killed sweep never loses or
duplicates a finished result. A run that raises is recorded as failed, with its traceback in
``error.txt``, and the sweep goes on. Studies are registered by name with a run function
``run(config_dict, seed, run_dir, *, resume) -> summary dict``, given as a callable or as a
``"module:function"`` path so that worker processes can import it.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import datetime as _dt
import hashlib
import importlib
import io
import itertools
import json
import multiprocessing
import os
import re
import sqlite3
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import Field

from qnetrl import __version__
from qnetrl._validation import InvalidParameterError, check_choice
from qnetrl.config import ConfigBase, ConfigError
from qnetrl.experiments.rundir import (
    atomic_write_text,
    create_run_dir,
    git_sha,
    json_safe,
    run_metadata,
    run_study_as_sweep_run,
    write_json,
)
from qnetrl.experiments.study_runs import init_worker

__all__ = [
    "BACKENDS",
    "INDEX_COLUMNS",
    "STATUSES",
    "RunSpec",
    "Study",
    "SweepConfig",
    "SweepResult",
    "available_studies",
    "create_sweep",
    "expand_grid",
    "get_study",
    "json_safe",
    "load_sweep",
    "parse_grid_options",
    "read_index",
    "register_study",
    "run_edge_sweep",
    "run_sweep",
]

#: Execution backends of :func:`run_sweep`.
BACKENDS: Final[tuple[str, ...]] = ("local", "ray")
#: Run statuses recorded in the sweep index.
STATUSES: Final[tuple[str, ...]] = ("pending", "running", "done", "failed")
#: Columns of the sweep index (``index.sqlite`` table ``runs`` and ``index.csv``).
INDEX_COLUMNS: Final[tuple[str, ...]] = (
    "run_id",
    "study",
    "seed",
    "params",
    "status",
    "attempts",
    "started",
    "finished",
    "wall_s",
    "error",
)
#: Format tag of ``sweep.json``.
SWEEP_FORMAT: Final[str] = "qnetrl.sweep/1"
_SLUG_MAX: Final[int] = 48
_OWNER: Final[str] = "run_sweep"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------
# grid expansion
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: a study, a resolved config and a seed.

    Attributes
    ----------
    study : str
        Registered study name.
    run_id : str
        Stable id: ``<slug>__s<seed>__<hash8>``; the hash covers the study, the resolved
        config and the seed, so equal runs get equal ids in every sweep.
    seed : int
        The run's seed.
    params : dict
        The grid point (dotted key -> value), in grid order.
    config : dict
        The base config with the grid point applied.
    """

    study: str
    run_id: str
    seed: int
    params: dict[str, Any] = field(hash=False)
    config: dict[str, Any] = field(hash=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (as stored in ``sweep.json``)."""
        return {
            "study": self.study,
            "run_id": self.run_id,
            "seed": self.seed,
            "params": self.params,
            "config": self.config,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(
            study=str(data["study"]),
            run_id=str(data["run_id"]),
            seed=int(data["seed"]),
            params=dict(data["params"]),
            config=dict(data["config"]),
        )


def _set_dotted(config: dict[str, Any], key: str, value: Any) -> None:
    """Set ``config[a][b] = value`` for ``key == "a.b"``, creating missing levels."""
    node = config
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise InvalidParameterError(
                f"The grid key {key!r} of expand_grid goes through {part!r}, which holds a "
                f"{type(child).__name__}, not a mapping of fields."
            )
        node = child
    node[parts[-1]] = value


def _slug(params: Mapping[str, Any]) -> str:
    if not params:
        return "base"
    text = "_".join(
        f"{k}={json.dumps(v, separators=(',', ':')) if not isinstance(v, str) else v}"
        for k, v in params.items()
    )
    text = re.sub(r"[^A-Za-z0-9._=+-]+", "-", text).strip("-") or "run"
    return text[:_SLUG_MAX].rstrip("-_.")


def _run_hash(study: str, config: Mapping[str, Any], seed: int) -> str:
    canon = json.dumps(
        {"study": study, "config": config, "seed": seed}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canon.encode()).hexdigest()[:8]


def _check_seeds(seeds: int | Sequence[int], seed0: int) -> list[int]:
    owner = "expand_grid"
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise InvalidParameterError(
                f"The 'seeds' parameter of {owner} must be an int in the range [1, inf) or a "
                f"list of distinct non-negative ints. Got {seeds!r} instead."
            )
        if isinstance(seed0, bool) or not isinstance(seed0, int) or seed0 < 0:
            raise InvalidParameterError(
                f"The 'seed0' parameter of {owner} must be an int in the range [0, inf). "
                f"Got {seed0!r} instead."
            )
        return list(range(seed0, seed0 + seeds))
    out = list(seeds)
    if (
        not out
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in out)
        or len(set(out)) != len(out)
    ):
        raise InvalidParameterError(
            f"The 'seeds' parameter of {owner} must be an int in the range [1, inf) or a "
            f"list of distinct non-negative ints. Got {seeds!r} instead."
        )
    return out


def expand_grid(
    base_config: Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]],
    seeds: int | Sequence[int] = 1,
    *,
    seed0: int = 0,
    study: str = "toy",
) -> list[RunSpec]:
    """The runs of a sweep: every combination of the grid's values, times every seed.

    Parameters
    ----------
    base_config : mapping
        The study config every run starts from (nested mappings; missing fields keep the
        study's defaults).
    grid : mapping of str to sequence
        Dotted config keys (``"agent.lr"``) to the values they take; an empty grid gives one
        grid point, the base config. Values of one key must be distinct.
    seeds : int or sequence of int, default 1
        Number of seeds (``seed0 .. seed0 + seeds - 1``) or the seeds themselves.
    seed0 : int, default 0
        First seed when ``seeds`` is a count.
    study : str, default "toy"
        Study name recorded in every spec (and part of the run-id hash).

    Returns
    -------
    list of RunSpec
        Grid points in row-major order of ``grid`` (the last key varies fastest), seeds
        innermost.

    Raises
    ------
    InvalidParameterError
        If a key is empty or has no values or repeated values, or ``seeds`` is invalid.

    Examples
    --------
    >>> specs = expand_grid({"agent": {"lr": 1e-3}}, {"agent.lr": [1e-3, 1e-4]}, seeds=2)
    >>> [(s.params["agent.lr"], s.seed) for s in specs]
    [(0.001, 0), (0.001, 1), (0.0001, 0), (0.0001, 1)]
    >>> specs[3].config
    {'agent': {'lr': 0.0001}}
    >>> specs[3].run_id.startswith("agent.lr=0.0001__s1__")
    True
    """
    seed_list = _check_seeds(seeds, seed0)
    keys = list(grid)
    values: list[list[Any]] = []
    for key in keys:
        vals = grid[key]
        if not isinstance(key, str) or not key or any(not p for p in key.split(".")):
            raise InvalidParameterError(
                f"The grid keys of expand_grid must be dotted field names such as 'agent.lr'. "
                f"Got {key!r} instead."
            )
        if isinstance(vals, str | bytes) or not isinstance(vals, Sequence) or len(vals) == 0:
            raise InvalidParameterError(
                f"The grid entry {key!r} of expand_grid must be a non-empty list of values. "
                f"Got {vals!r} instead."
            )
        canon = [json.dumps(json_safe(v), sort_keys=True) for v in vals]
        if len(set(canon)) != len(canon):
            raise InvalidParameterError(
                f"The grid entry {key!r} of expand_grid must hold distinct values. "
                f"Got {list(vals)!r} instead."
            )
        values.append([json_safe(v) for v in vals])
    base = json_safe(base_config)
    specs: list[RunSpec] = []
    for point in itertools.product(*values):
        params = dict(zip(keys, point, strict=True))
        config = json.loads(json.dumps(base))  # deep copy of plain JSON
        for key, value in params.items():
            _set_dotted(config, key, value)
        slug = _slug(params)
        for seed in seed_list:
            run_id = f"{slug}__s{seed}__{_run_hash(study, config, seed)}"
            specs.append(RunSpec(study, run_id, seed, dict(params), json.loads(json.dumps(config))))
    return specs


_FLOAT_RE: Final = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _numbers(value: Any) -> Any:
    """YAML 1.1 reads ``1e-3`` as a string; make such strings floats (in lists too)."""
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, str) and _FLOAT_RE.fullmatch(value.strip()):
        return float(value)
    return value


def parse_grid_options(items: Sequence[str]) -> dict[str, list[Any]]:
    """``--grid`` options to a grid: ``key=v1,v2`` (YAML scalars) or ``key=[[1, 2], [3]]``.

    Numbers in exponent notation without a dot (``1e-3``) are read as floats.

    Examples
    --------
    >>> parse_grid_options(["agent.lr=1e-3,5e-4", "agent.hidden_sizes=[[32], [64, 64]]"])
    {'agent.lr': [0.001, 0.0005], 'agent.hidden_sizes': [[32], [64, 64]]}
    """
    out: dict[str, list[Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key, text = key.strip(), text.strip()
        if not sep or not key or not text:
            raise InvalidParameterError(
                f"The '--grid' option must look like 'field=v1,v2' (e.g. agent.lr=1e-3,5e-4). "
                f"Got {item!r} instead."
            )
        values: Any = None
        if text.startswith("["):
            try:
                values = yaml.safe_load(text)
            except yaml.YAMLError:
                values = None
        if not isinstance(values, list):
            values = []
            for part in text.split(","):
                try:
                    values.append(yaml.safe_load(part.strip()))
                except yaml.YAMLError:
                    values.append(part.strip())
        out[key] = _numbers(values)
    return out


# --------------------------------------------------------------------------------------------
# study registry
# --------------------------------------------------------------------------------------------

RunFn = Callable[..., dict[str, Any]]


def _resolve(target: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Study:
    """A study the sweep runner can execute.

    Attributes
    ----------
    name : str
        Registry key (``--study`` / the ``study`` field of a sweep config).
    run : str or callable
        ``run(config_dict, seed, run_dir, *, resume) -> summary dict`` or its
        ``"module:function"`` path (needed for process-pool and Ray workers, which import it).
    validate : str, callable or None
        ``validate(config_dict)`` raising :class:`~qnetrl.config.ConfigError` on a bad config;
        called for every grid point before any run starts.
    description : str
        One line for ``--help`` and the report.
    """

    name: str
    run: str | RunFn
    validate: str | Callable[[dict[str, Any]], Any] | None = None
    description: str = ""

    def run_fn(self) -> RunFn:
        """The run function (imported if given as a path)."""
        return _resolve(self.run)

    def check_config(self, config: dict[str, Any]) -> None:
        """Validate ``config`` (no-op without a validator)."""
        if self.validate is not None:
            _resolve(self.validate)(config)


_STUDIES: dict[str, Study] = {}


def register_study(
    name: str,
    run: str | RunFn,
    *,
    validate: str | Callable[[dict[str, Any]], Any] | None = None,
    description: str = "",
) -> Study:
    """Register (or replace) a study; returns it.

    A study registered with a callable defined outside an importable module only runs with
    ``workers=0`` (in this process); give a ``"module:function"`` path for worker processes.
    """
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise InvalidParameterError(
            f"The 'name' parameter of register_study must be a non-empty string of letters, "
            f"digits, '_', '.' or '-'. Got {name!r} instead."
        )
    study = Study(name, run, validate, description)
    _STUDIES[name] = study
    return study


def get_study(name: str) -> Study:
    """The registered study ``name``; the error lists the known names."""
    check_choice("study", name, tuple(sorted(_STUDIES)), owner="get_study")
    return _STUDIES[name]


def available_studies() -> dict[str, str]:
    """Registered study names and their descriptions."""
    return {k: _STUDIES[k].description for k in sorted(_STUDIES)}


def _validate_edge(config: dict[str, Any]) -> Any:
    from qnetrl.experiments.edge_study import EdgeStudyConfig

    return EdgeStudyConfig.validate_dict(config, source="edge study config")


def run_edge_sweep(
    config: dict[str, Any],
    seed: int,
    run_dir: str | Path,
    *,
    resume: bool = False,
    tensorboard: bool = False,
) -> dict[str, Any]:
    """The edge study (:func:`qnetrl.experiments.edge_study.run_edge_study`) as a sweep run.

    The sweep seed becomes the study's ``seed0``: the run trains ``config["seeds"]`` seeds
    starting there (use ``seeds: 1`` in the base config for one training seed per sweep run).
    The study resumes from its per-unit files under ``units/``; its console output goes to
    ``console.txt`` in the run directory.
    """
    from qnetrl.experiments.edge_study import EdgeStudyConfig, run_edge_study

    cfg = EdgeStudyConfig.validate_dict({**config, "seed0": int(seed)}, source="edge study config")
    return run_study_as_sweep_run(
        run_edge_study, cfg, run_dir, resume=resume, tensorboard=tensorboard
    )


register_study(
    "toy",
    "qnetrl.experiments.toy_study:run_toy_study",
    validate="qnetrl.experiments.toy_study:validate_toy_config",
    description="DDQN on a 3-node edge env with checkpoints (seconds; runner self-test).",
)
register_study(
    "edge",
    "qnetrl.experiments.sweep:run_edge_sweep",
    validate="qnetrl.experiments.sweep:_validate_edge",
    description="QKD-secured edge scheduling: DDQN vs DQN, heuristics, oracle (seed -> seed0).",
)
register_study(
    "resilience",
    "qnetrl.experiments.resilience_study:run_resilience_sweep",
    validate="qnetrl.experiments.resilience_study:validate_config",
    description="ABFT + DRA under Byzantine nodes and fluctuations (seed -> seed0).",
)
register_study(
    "entanglement",
    "qnetrl.experiments.entanglement_study:run_entanglement_sweep",
    validate="qnetrl.experiments.entanglement_study:validate_config",
    description="DPEM entanglement allocation: forecast + PPO + DP-FedAvg vs allocators "
    "(seed -> seed0).",
)


# --------------------------------------------------------------------------------------------
# sweep directory: plan and index
# --------------------------------------------------------------------------------------------


class SweepConfig(ConfigBase):
    """A sweep file: which study, its base config, the grid and the seeds."""

    study: str = Field(description="Registered study name (see `qnetrl sweep --help`).")
    config: dict[str, Any] = Field(
        default_factory=dict, description="Base config of the study (its own fields)."
    )
    grid: dict[str, list[Any]] = Field(
        default_factory=dict, description="Dotted key -> values; runs are their product."
    )
    seeds: int = Field(1, ge=1, le=100_000, description="Seeds per grid point.")
    seed0: int = Field(0, ge=0, le=2**31 - 1, description="First seed.")


def _index_path(sweep_dir: Path) -> Path:
    return sweep_dir / "index.sqlite"


@contextmanager
def _index(sweep_dir: Path) -> Iterator[sqlite3.Connection]:
    con = sqlite3.connect(_index_path(sweep_dir), timeout=60.0, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=DELETE")
        yield con
    finally:
        con.close()


def _index_update(sweep_dir: Path, run_id: str, **values: Any) -> None:
    cols = ", ".join(f"{k} = ?" for k in values)
    with _index(sweep_dir) as con:
        con.execute(f"UPDATE runs SET {cols} WHERE run_id = ?", (*values.values(), run_id))


def read_index(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """The sweep index as a list of rows (dicts with :data:`INDEX_COLUMNS`), in plan order."""
    sweep_dir = Path(sweep_dir)
    if not _index_path(sweep_dir).exists():
        raise InvalidParameterError(
            f"The sweep directory {str(sweep_dir)!r} has no index.sqlite; is it a sweep?"
        )
    with _index(sweep_dir) as con:
        rows = con.execute(
            f"SELECT {', '.join(INDEX_COLUMNS)} FROM runs ORDER BY position"
        ).fetchall()
    out = []
    for row in rows:
        rec = dict(zip(INDEX_COLUMNS, row, strict=True))
        rec["params"] = json.loads(rec["params"])
        out.append(rec)
    return out


def _write_index_csv(sweep_dir: Path) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(INDEX_COLUMNS)
    for rec in read_index(sweep_dir):
        rec["params"] = json.dumps(rec["params"], sort_keys=True)
        writer.writerow(["" if rec[c] is None else rec[c] for c in INDEX_COLUMNS])
    return atomic_write_text(sweep_dir / "index.csv", buf.getvalue())


def create_sweep(
    study: str,
    base_config: Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]],
    *,
    seeds: int | Sequence[int] = 1,
    seed0: int = 0,
    out: str | Path | None = None,
    root: str | Path = "runs",
) -> Path:
    """Plan a sweep: validate every grid point, write ``sweep.json`` and the index.

    Parameters
    ----------
    study : str
        Registered study name.
    base_config, grid, seeds, seed0
        See :func:`expand_grid`.
    out : str or Path, optional
        Sweep directory (must not exist or be empty). Default: a new
        ``root/sweeps/<study>/<timestamp>-<seed0>/``.
    root : str or Path, default "runs"
        Parent of new sweep directories when ``out`` is None.

    Returns
    -------
    Path
        The sweep directory, every run pending.

    Raises
    ------
    ConfigError
        If a grid point's config is invalid for the study (the message names the field and
        the run), or ``out`` already holds files.
    """
    spec_study = get_study(study)
    specs = expand_grid(base_config, grid, seeds, seed0=seed0, study=study)
    seen: set[str] = set()
    for spec in specs:
        key = json.dumps(spec.config, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        try:
            spec_study.check_config(spec.config)
        except InvalidParameterError as exc:
            where = ", ".join(f"{k}={v!r}" for k, v in spec.params.items()) or "base config"
            raise ConfigError(f"Grid point {where}: {exc}") from None
    plan = {
        "format": SWEEP_FORMAT,
        "study": study,
        "base_config": json_safe(base_config),
        "grid": {k: json_safe(list(v)) for k, v in grid.items()},
        "seeds": sorted({s.seed for s in specs}),
        "runs": [s.to_dict() for s in specs],
        "created": _now(),
        "qnetrl_version": __version__,
        "git_sha": git_sha(),
    }
    if out is None:
        first = plan["seeds"][0]
        sweep_dir = create_run_dir(f"sweeps/{study}", first, dict(plan["base_config"]), root=root)
    else:
        sweep_dir = Path(out)
        if (sweep_dir / "sweep.json").exists():
            raise ConfigError(
                f"The 'out' directory {str(sweep_dir)!r} already holds a sweep; continue it "
                f"with `qnetrl sweep --resume {sweep_dir}` or choose another directory."
            )
        if sweep_dir.exists() and (not sweep_dir.is_dir() or any(sweep_dir.iterdir())):
            raise ConfigError(
                f"The 'out' path {str(sweep_dir)!r} exists and is not an empty directory."
            )
        sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / "runs").mkdir(exist_ok=True)
    with _index(sweep_dir) as con:
        con.execute(
            "CREATE TABLE IF NOT EXISTS runs (position INTEGER, run_id TEXT PRIMARY KEY, "
            "study TEXT, seed INTEGER, params TEXT, status TEXT, attempts INTEGER, "
            "started TEXT, finished TEXT, wall_s REAL, error TEXT)"
        )
        con.execute("BEGIN")
        con.executemany(
            "INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?, 'pending', 0, NULL, NULL, "
            "NULL, NULL)",
            [
                (i, s.run_id, s.study, s.seed, json.dumps(s.params, sort_keys=True))
                for i, s in enumerate(specs)
            ],
        )
        con.execute("COMMIT")
    write_json(sweep_dir / "sweep.json", plan)  # last: a sweep exists once its plan does
    _write_index_csv(sweep_dir)
    return sweep_dir


def load_sweep(sweep_dir: str | Path) -> tuple[dict[str, Any], list[RunSpec]]:
    """The plan (``sweep.json``) and run specs of a sweep directory."""
    sweep_dir = Path(sweep_dir)
    path = sweep_dir / "sweep.json"
    if not path.exists():
        raise InvalidParameterError(
            f"The sweep directory {str(sweep_dir)!r} holds no sweep.json; pass the directory "
            f"that `qnetrl sweep` created."
        )
    plan = json.loads(path.read_text())
    if plan.get("format") != SWEEP_FORMAT:
        raise InvalidParameterError(
            f"The file {str(path)!r} is not a {SWEEP_FORMAT} plan (format {plan.get('format')!r})."
        )
    return plan, [RunSpec.from_dict(r) for r in plan["runs"]]


# --------------------------------------------------------------------------------------------
# workers
# --------------------------------------------------------------------------------------------


def _execute(payload: dict[str, Any]) -> dict[str, Any]:
    """Run one sweep run in its directory; never raises for a failing study.

    Writes ``meta.json`` and ``spec.json`` first, the study's files, then ``summary.json``
    and finally ``result.json`` (the finished marker); on an exception, ``error.txt`` with
    the traceback. Returns the outcome the driver records in the index.
    """
    init_worker()
    run_dir = Path(payload["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    base = {k: payload[k] for k in ("run_id", "study", "seed", "params")}
    started, t0 = _now(), time.perf_counter()
    (run_dir / "error.txt").unlink(missing_ok=True)
    try:
        if not (run_dir / "meta.json").exists():
            meta = run_metadata(payload["study"], payload["seed"])
            write_json(run_dir / "meta.json", {**meta, "run_id": payload["run_id"]})
        write_json(run_dir / "spec.json", {**base, "config": payload["config"]})
        study = get_study(payload["study"])
        extra = {"tensorboard": True} if payload.get("tensorboard") else {}
        summary = study.run_fn()(
            payload["config"], payload["seed"], run_dir, resume=payload["resume"], **extra
        )
        if not isinstance(summary, Mapping):
            raise TypeError(
                f"The run function of study {payload['study']!r} must return a dict summary. "
                f"Got {type(summary).__name__} instead."
            )
        write_json(run_dir / "summary.json", json_safe(summary))
        result = {
            **base,
            "status": "done",
            "started": started,
            "finished": _now(),
            "wall_s": time.perf_counter() - t0,
            "resumed": bool(payload["resume"]),
            "summary": "summary.json",
        }
        write_json(run_dir / "result.json", result)
        return result
    except Exception as exc:
        tb = traceback.format_exc()
        atomic_write_text(run_dir / "error.txt", tb)
        return {
            **base,
            "status": "failed",
            "started": started,
            "finished": _now(),
            "wall_s": time.perf_counter() - t0,
            "error": f"{type(exc).__name__}: {exc}",
        }


class _SerialBackend:
    """Runs each payload in this process when it is waited for (``workers=0``)."""

    capacity = 1

    def __init__(self) -> None:
        self._queue: dict[int, dict[str, Any]] = {}
        self._next = 0

    def submit(self, payload: dict[str, Any]) -> int:
        self._next += 1
        self._queue[self._next] = payload
        return self._next

    def wait_any(self, handles: list[Any]) -> list[tuple[Any, dict[str, Any]]]:
        h = handles[0]
        return [(h, _execute(self._queue.pop(h)))]

    def close(self) -> None:
        self._queue.clear()


class _PoolBackend:
    """A ``spawn`` process pool; each worker is initialised with one torch thread."""

    def __init__(self, workers: int) -> None:
        self.capacity = workers
        self._pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(
            max_workers=self.capacity,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
        )

    def submit(self, payload: dict[str, Any]) -> cf.Future[dict[str, Any]]:
        try:
            return self._pool.submit(_execute, payload)
        except cf.process.BrokenProcessPool:  # a worker died (e.g. out of memory): start anew
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return self._pool.submit(_execute, payload)

    def wait_any(self, handles: list[Any]) -> list[tuple[Any, dict[str, Any]]]:
        done, _ = cf.wait(handles, return_when=cf.FIRST_COMPLETED)
        return [(f, _outcome(f.result)) for f in done]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class _RayBackend:
    """Ray Core tasks (``num_cpus=1`` each, no retries) on a local or remote Ray cluster."""

    def __init__(self, workers: int | None, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            raise InvalidParameterError(
                "The 'backend' parameter of run_sweep is 'ray' but ray is not installed; "
                "install the optional extra: pip install 'qnetrl[ray]'."
            ) from None
        import logging

        self._ray = ray
        self._owned = False
        if not ray.is_initialized():
            if address:
                ray.init(address=address, logging_level=logging.WARNING)
            else:
                ray.init(
                    num_cpus=workers or os.cpu_count() or 1,
                    include_dashboard=False,
                    logging_level=logging.WARNING,
                    log_to_driver=False,
                )
            self._owned = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.capacity = max(1, workers or cpus)
        self._task = ray.remote(num_cpus=1, max_retries=0)(_execute)

    def submit(self, payload: dict[str, Any]) -> Any:
        return self._task.remote(payload)

    def wait_any(self, handles: list[Any]) -> list[tuple[Any, dict[str, Any]]]:
        ready, _ = self._ray.wait(handles, num_returns=1)
        return [(r, _outcome(lambda r=r: self._ray.get(r))) for r in ready]

    def close(self) -> None:
        if self._owned:
            self._ray.shutdown()


def _outcome(get: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The worker's outcome, or a failure record if the worker itself died."""
    try:
        return get()
    except Exception as exc:
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "crash": True}


# --------------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    """What :func:`run_sweep` returns.

    Attributes
    ----------
    sweep_dir : Path
        The sweep directory.
    total : int
        Runs in the plan.
    done : int
        Runs finished (in this call or before).
    failed : list of str
        Run ids that failed in this call.
    skipped : int
        Runs already finished before this call (not run again).
    wall_s : float
        Wall-clock duration of this call (in s).
    """

    sweep_dir: Path
    total: int
    done: int
    failed: list[str]
    skipped: int
    wall_s: float


class _SweepProgress:
    """A rich progress bar (runs done / total, ETA) on a terminal, plain lines otherwise."""

    def __init__(self, console: Any, name: str, total: int, done: int, enabled: bool) -> None:
        self.console, self.total, self.done, self.enabled = console, total, done, enabled
        self.bar: Any = None
        if enabled and console.is_terminal:
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn(f"[bold]sweep {name}[/]"),
                BarColumn(),
                TextColumn("{task.completed:.0f}/{task.total:.0f} runs"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self.task = self.bar.add_task("", total=total, completed=done)
            self.bar.start()
        elif enabled:
            console.print(f"sweep {name}: {done}/{total} runs already done", highlight=False)

    def advance(self, run_id: str, outcome: dict[str, Any]) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done)
            if outcome["status"] == "failed":
                self.bar.console.print(f"[red]failed[/] {run_id}: {outcome.get('error')}")
        elif self.enabled:
            how = (
                f"done in {outcome.get('wall_s', 0.0):.1f} s"
                if outcome["status"] == "done"
                else f"FAILED: {outcome.get('error')}"
            )
            self.console.print(f"[{self.done}/{self.total}] {run_id}: {how}", highlight=False)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def run_sweep(
    sweep_dir: str | Path,
    *,
    workers: int | None = None,
    backend: Literal["local", "ray"] = "local",
    address: str | None = None,
    console: Any = None,
    show_progress: bool = True,
    tensorboard: bool = False,
) -> SweepResult:
    """Run every unfinished run of a sweep (a first run and a resume are the same call).

    Parameters
    ----------
    sweep_dir : str or Path
        Directory from :func:`create_sweep`.
    workers : int, optional
        Runs in parallel. ``local``: pool processes (default ``os.cpu_count()``), 0 runs
        everything in this process. ``ray``: runs in flight (default: the cluster's CPUs);
        without ``address`` also the ``num_cpus`` of the local Ray instance.
    backend : {"local", "ray"}, default "local"
        Process pool or Ray Core tasks. Both run the same function, so equal seeds give
        equal summaries.
    address : str, optional
        Ray cluster address (``ray``), e.g. ``"auto"`` or ``"ray://host:10001"``; the sweep
        directory must then be on a filesystem all nodes share. None starts a local instance.
    console : rich.console.Console, optional
        Where progress goes.
    show_progress : bool, default True
        Progress bar on a terminal, one line per finished run otherwise.
    tensorboard : bool, default False
        Ask every run started now to log its training curves to TensorBoard event files
        under ``runs/<run_id>/tensorboard/`` (the study's run function must take a
        ``tensorboard`` keyword; the built-in studies do).

    Returns
    -------
    SweepResult
        Counts and the ids of the runs that failed in this call.

    Notes
    -----
    A run is finished when its ``result.json`` exists; those are skipped (and the index is
    corrected if a killed driver did not record them). Every other run, pending, failed or
    left "running" by a killed sweep, is started again; one whose directory already holds
    files is started with ``resume=True`` so that the study continues from its checkpoints.
    """
    owner = _OWNER
    check_choice("backend", backend, BACKENDS, owner=owner)
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 0
    ):
        raise InvalidParameterError(
            f"The 'workers' parameter of {owner} must be an int in the range [0, inf). "
            f"Got {workers!r} instead."
        )
    if backend == "ray" and workers == 0:
        raise InvalidParameterError(
            f"The 'workers' parameter of {owner} must be an int in the range [1, inf) with "
            f"backend='ray'. Got 0 instead."
        )
    if tensorboard:
        from qnetrl.experiments.tensorboard import require_tensorboard

        require_tensorboard()
    start = time.perf_counter()
    sweep_dir = Path(sweep_dir)
    plan, specs = load_sweep(sweep_dir)
    if console is None:
        from rich.console import Console

        console = Console()

    todo: deque[RunSpec] = deque()
    skipped = 0
    with _index(sweep_dir) as con:
        status = dict(con.execute("SELECT run_id, status FROM runs").fetchall())
    for spec in specs:
        result_file = sweep_dir / "runs" / spec.run_id / "result.json"
        if result_file.exists():
            skipped += 1
            if status.get(spec.run_id) != "done":
                res = json.loads(result_file.read_text())
                _index_update(
                    sweep_dir,
                    spec.run_id,
                    status="done",
                    started=res.get("started"),
                    finished=res.get("finished"),
                    wall_s=res.get("wall_s"),
                    error=None,
                )
        else:
            if status.get(spec.run_id) != "pending":
                _index_update(sweep_dir, spec.run_id, status="pending")
            todo.append(spec)

    if not todo:
        _write_index_csv(sweep_dir)
        return SweepResult(sweep_dir, len(specs), skipped, [], skipped, time.perf_counter() - start)

    runner: _SerialBackend | _PoolBackend | _RayBackend
    if backend == "ray":
        runner = _RayBackend(workers, address)
    elif workers == 0:
        runner = _SerialBackend()
    else:
        runner = _PoolBackend(min(workers or os.cpu_count() or 1, len(todo)))
    progress = _SweepProgress(console, plan["study"], len(specs), skipped, show_progress)
    in_flight: dict[Any, RunSpec] = {}
    done, failed = skipped, []
    try:
        while todo or in_flight:
            while todo and len(in_flight) < runner.capacity:
                spec = todo.popleft()
                run_dir = sweep_dir / "runs" / spec.run_id
                resume = run_dir.is_dir() and any(run_dir.iterdir())
                with _index(sweep_dir) as con:
                    con.execute(
                        "UPDATE runs SET status = 'running', attempts = attempts + 1, "
                        "started = ?, finished = NULL, wall_s = NULL, error = NULL "
                        "WHERE run_id = ?",
                        (_now(), spec.run_id),
                    )
                payload = {
                    **spec.to_dict(),
                    "run_dir": str(run_dir),
                    "resume": resume,
                    "tensorboard": tensorboard,
                }
                in_flight[runner.submit(payload)] = spec
            for handle, outcome in runner.wait_any(list(in_flight)):
                spec = in_flight.pop(handle)
                if outcome.get("crash"):  # the worker died: record its error in the run dir
                    run_dir = sweep_dir / "runs" / spec.run_id
                    run_dir.mkdir(parents=True, exist_ok=True)
                    atomic_write_text(run_dir / "error.txt", outcome["error"] + "\n")
                values = {
                    "status": outcome["status"],
                    "finished": outcome.get("finished", _now()),
                    "wall_s": outcome.get("wall_s"),
                    "error": outcome.get("error"),
                }
                if outcome.get("started"):
                    values["started"] = outcome["started"]
                _index_update(sweep_dir, spec.run_id, **values)
                if outcome["status"] == "done":
                    done += 1
                else:
                    failed.append(spec.run_id)
                progress.advance(spec.run_id, outcome)
    finally:
        progress.stop()
        runner.close()
        _write_index_csv(sweep_dir)
    return SweepResult(sweep_dir, len(specs), done, failed, skipped, time.perf_counter() - start)
