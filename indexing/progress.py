"""Ingest progress: a live bar on a terminal, plain log lines otherwise (CI, cron, pipes)."""

from __future__ import annotations

import time
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

LOG_EVERY_S = 10.0


class IngestProgress:
    """Counts finished files and indexed pictures; use as a context manager."""

    def __init__(self, total_files: int, stream: TextIO):
        self.total = total_files
        self.files = 0
        self.pictures = 0
        self.started = time.monotonic()
        self._last_log = 0.0
        self._console = Console(file=stream)
        self._stream = stream
        self._bar: Progress | None = None
        self._task = None

    def __enter__(self) -> IngestProgress:
        if self._console.is_terminal:
            self._bar = Progress(
                TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(),
                TextColumn("files · {task.fields[pictures]} pictures · {task.fields[rate]:.1f} img/s"),
                TimeElapsedColumn(), TimeRemainingColumn(), console=self._console,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("ingest", total=self.total, pictures=0, rate=0.0)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
        else:
            self._log(force=True)

    def update(self, _event: str, pictures: int) -> None:
        self.files += 1
        self.pictures += pictures
        rate = self.pictures / max(time.monotonic() - self.started, 1e-6)
        if self._bar is not None:
            self._bar.update(self._task, advance=1, pictures=self.pictures, rate=rate)
        else:
            self._log()

    def _log(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_log < LOG_EVERY_S and self.files != self.total:
            return
        self._last_log = now
        elapsed = now - self.started
        rate = self.pictures / max(elapsed, 1e-6)
        self._stream.write(
            f"ingest: {self.files}/{self.total} files, {self.pictures} pictures, "
            f"{rate:.1f} img/s, {elapsed:.0f}s elapsed\n"
        )
        self._stream.flush()
