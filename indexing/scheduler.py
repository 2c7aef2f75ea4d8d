"""Scheduled jobs (apscheduler): re-scan watched folders and ingest what is new or changed;
re-apply the classifier when a newly trained model appears.

Each job run is logged and recorded in `ScheduledJobs.runs`; a run that raises is recorded as
failed and the scheduler carries on with the next run. Runs of one job never overlap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from vignett.config import Settings

log = logging.getLogger("vignett.schedule")


@dataclass(frozen=True)
class JobRun:
    job: str
    started_at: float
    seconds: float
    ok: bool
    message: str


class ScheduledJobs:
    """Owns the scheduler and the record of runs; `start()` returns at once."""

    def __init__(self, settings: Settings, make_ingest: Callable[[list[Path]], object],
                 reapply: Callable[[], str | None] | None = None):
        self.settings = settings
        self.make_ingest = make_ingest
        self.reapply = reapply
        self.runs: list[JobRun] = []
        self.scheduler = BackgroundScheduler(job_defaults={"coalesce": True, "max_instances": 1})

    def start(self) -> None:
        interval = IntervalTrigger(seconds=self.settings.schedule.interval_s)
        if self.settings.schedule.watch:
            self.scheduler.add_job(self._guarded("ingest", self.ingest_watched), interval,
                                   id="ingest", next_run_time=_now())
        if self.reapply is not None and self.settings.schedule.reapply_classifier:
            self.scheduler.add_job(self._guarded("reapply-classifier", self.reapply), interval,
                                   id="reapply-classifier", next_run_time=_now())
        self.scheduler.start()

    def shutdown(self) -> None:
        self.scheduler.shutdown(wait=True)

    def ingest_watched(self) -> str:
        folders = [Path(p) for p in self.settings.schedule.watch]
        missing = [str(p) for p in folders if not p.exists()]
        if missing:
            raise FileNotFoundError(f"watched folder(s) missing: {', '.join(missing)}")
        summary = asyncio.run(self.make_ingest(folders).run())
        return (f"{summary.indexed} indexed from {summary.files - summary.files_skipped} new or "
                f"changed files ({summary.files_skipped} unchanged, {summary.files_failed} failed)")

    def _guarded(self, name: str, job: Callable[[], str | None]) -> Callable[[], None]:
        def run() -> None:
            started = time.time()
            try:
                message = job() or "done"
                ok = True
            except Exception as exc:  # noqa: BLE001 - a failing run must not stop the schedule
                message, ok = f"{exc.__class__.__name__}: {exc}", False
            record = JobRun(name, started, time.time() - started, ok, message)
            self.runs.append(record)
            (log.info if ok else log.error)("%s run %s in %.1fs: %s", name, "ok" if ok else "FAILED",
                                             record.seconds, message)
        return run


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)
