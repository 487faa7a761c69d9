"""Progress over a study's units (method x seed): a rich bar on a terminal, else plain lines."""

from __future__ import annotations

from typing import Any

from rich.console import Console

__all__ = ["UnitProgress"]


class UnitProgress:
    """Progress over ``total`` units; ``partial`` moves the bar inside a unit.

    Parameters
    ----------
    name : str
        Study name shown before the unit label, e.g. ``"edge study"``.
    console : rich.console.Console
        Where to draw; a non-terminal console gets one plain line per finished unit.
    total : int
        Number of units.
    enabled : bool
        ``False`` prints nothing.
    """

    def __init__(self, name: str, console: Console, total: int, enabled: bool) -> None:
        self.console, self.total, self.enabled = console, total, enabled
        self.bar: Any = None
        self.done = 0
        if enabled and console.is_terminal:
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn(f"[bold]{name}[/] {{task.description}}"),
                BarColumn(),
                TextColumn("{task.completed:.1f}/{task.total:.0f} units"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            self.task = self.bar.add_task("", total=total)
            self.bar.start()

    def start(self, label: str) -> None:
        """A unit begins."""
        if self.bar is not None:
            self.bar.update(self.task, description=label, completed=self.done)

    def partial(self, fraction: float) -> None:
        """The running unit is ``fraction`` done."""
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done + min(fraction, 0.999))

    def finish(self, label: str, seconds: float, resumed: bool) -> None:
        """A unit ended (or was read back from disk)."""
        self.done += 1
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, description=label)
        elif self.enabled:
            how = "resumed from disk" if resumed else f"{seconds:.1f} s"
            self.console.print(f"[{self.done}/{self.total}] {label}: {how}", highlight=False)

    def stop(self) -> None:
        """Remove the bar."""
        if self.bar is not None:
            self.bar.stop()
