"""Optional TensorBoard logging of training curves (``--tensorboard``).

The trainers (:func:`qnetrl.agents.dqn.train`, :func:`qnetrl.agents.mappo.train`) hand every
log record (``{"step": ..., "charts/episodic_return": ..., "losses/td_loss": ...}``, the same
records their JSONL logs hold) to an ``on_log`` callback. :class:`TensorBoardLogger` is such a
callback: it writes each numeric field as a TensorBoard scalar at the record's step, one
event directory per training run (``<run>/tensorboard/<method>-seed<k>/``), so

    tensorboard --logdir runs/<study>/<run>/tensorboard

shows every method and seed of a study side by side. The ``tensorboard`` package is an optional
extra (``pip install 'qnetrl[tensorboard]'``); it is imported only when a logger is made.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from qnetrl._validation import InvalidParameterError

__all__ = ["TensorBoardLogger", "read_scalars", "require_tensorboard", "unit_logdir"]


def require_tensorboard(option: str = "tensorboard") -> None:
    """Fail with a clear message unless the ``tensorboard`` package can be imported.

    Raises
    ------
    InvalidParameterError
        Naming ``option`` and the command that installs the package.
    """
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError as exc:
        raise InvalidParameterError(
            f"The '{option}' option needs the 'tensorboard' package, which could not be "
            f"imported ({exc}). Install it with: pip install 'qnetrl[tensorboard]'."
        ) from None


def unit_logdir(run_dir: str | Path, method: str, index: int) -> Path:
    """Event directory of one (method, seed) training run of a study."""
    return Path(run_dir) / "tensorboard" / f"{method}-seed{index:03d}"


def _event_files(logdir: Path) -> list[Path]:
    """The directory's event files, oldest first (by their first event's time, then name)."""

    def first_time(path: Path) -> float:
        for ev in _load_events(path):
            return float(ev.wall_time)
        return 0.0

    files = [p for p in logdir.iterdir() if "tfevents" in p.name and p.is_file()]
    return sorted(files, key=lambda p: (first_time(p), p.name))


def _load_events(path: Path) -> Iterator[Any]:
    """The events of one file exactly as written (no data-format conversion)."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto.event_pb2 import Event

    for record in RawEventFileLoader(str(path)).Load():
        yield Event.FromString(record)


def read_scalars(logdir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Scalars of one event directory as TensorBoard loads them: tag -> [(step, value)].

    Events that a resumed run purged are dropped, as in the TensorBoard UI.
    """
    require_tensorboard()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    acc.Reload()
    return {
        tag: [(int(e.step), float(e.value)) for e in acc.Scalars(tag)]
        for tag in acc.Tags()["scalars"]
    }


class TensorBoardLogger:
    """Training-log records to TensorBoard scalars; use as a trainer's ``on_log`` callback.

    Parameters
    ----------
    logdir : str or Path
        Event directory of one training run.
    fresh : bool, default True
        Delete ``logdir`` first (a study unit that is run again starts a clean curve).
        With ``fresh=False`` a resumed trainer's first record (``type == "resume"``, at the
        checkpoint's step) drops the events written after that step (the directory is
        rewritten into one file), so no step appears twice.

    Notes
    -----
    A ``config`` record becomes a text summary and other typed records (``resume``) are not
    plotted; every untyped record's fields except ``step`` that are finite numbers (not
    booleans) become scalars at ``record["step"]`` (0 when absent).
    """

    def __init__(self, logdir: str | Path, *, fresh: bool = True) -> None:
        require_tensorboard()
        self.logdir = Path(logdir)
        if fresh:
            shutil.rmtree(self.logdir, ignore_errors=True)
        self._writer: Any = None

    def _open(self, resume_step: int | None) -> Any:
        """A new event file; when resuming, it starts with the old events up to the step.

        The events a killed run wrote after its checkpoint are dropped by rewriting, not by
        TensorBoard's ``purge_step``: that relies on the order of event-file names, which two
        writers opened in the same second need not follow.
        """
        from torch.utils.tensorboard import SummaryWriter

        self.logdir.mkdir(parents=True, exist_ok=True)
        old = _event_files(self.logdir) if resume_step is not None else []
        kept = [
            ev
            for f in old
            for ev in _load_events(f)
            if not ev.HasField("file_version") and ev.step <= (resume_step or 0)
        ]
        writer = SummaryWriter(str(self.logdir), flush_secs=10)
        file_writer = writer._get_file_writer()
        for ev in kept:
            file_writer.add_event(ev)
        file_writer.flush()
        for f in old:
            f.unlink()
        return writer

    def __call__(self, record: dict[str, Any]) -> None:
        """Write one log record."""
        kind = record.get("type")
        step = int(record.get("step", 0))
        if self._writer is None:
            # a checkpoint at step s holds every record logged up to and including s
            self._writer = self._open(step if kind == "resume" else None)
        if kind == "config":
            text = json.dumps({k: v for k, v in record.items() if k != "type"}, indent=2)
            self._writer.add_text("config", f"```json\n{text}\n```", 0)
        if kind is not None:  # config, resume: meta records, not curves
            return
        for key, value in record.items():
            if key == "step" or isinstance(value, bool):
                continue
            if isinstance(value, int | float) and math.isfinite(value):
                self._writer.add_scalar(key, float(value), step)

    def scalars(self, values: dict[str, float], step: int) -> None:
        """Write ``values`` (tag -> number) at ``step``, as one record."""
        self({"step": step, **values})

    def close(self) -> None:
        """Flush and close the event file."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> TensorBoardLogger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
