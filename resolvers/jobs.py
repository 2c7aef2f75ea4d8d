"""Background jobs (ingest, reindex) the API starts and clients poll by id.

A job runs its `JobRunner` in a worker thread; the runner reports progress through the
`JobProgress` it is given and returns a summary (a flat dict of counts and notes). Runners are
injected, so the API does not depend on how ingest or reindex work inside.
"""

from __future__ import annotations

import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from .errors import NotFound

MAX_JOBS_KEPT = 200


class JobStatus(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class JobRecord:
    id: str
    kind: str
    status: JobStatus
    arguments: tuple[str, ...]
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    progress: str = ""
    done: int = 0
    error: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)


class JobProgress:
    """Handed to a runner: `report` updates what `job(id)` shows while it runs."""

    def __init__(self, registry: JobRegistry, job_id: str) -> None:
        self._registry, self._job_id = registry, job_id

    def report(self, message: str, done: int | None = None) -> None:
        self._registry._update(self._job_id, progress=message, **({"done": done} if done is not None else {}))


JobRunner = Callable[[tuple[str, ...], JobProgress], dict[str, Any]]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class JobRegistry:
    """Starts jobs in daemon threads and keeps the latest MAX_JOBS_KEPT records in memory."""

    def __init__(self) -> None:
        self._jobs: dict[str, JobRecord] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def start(self, kind: str, arguments: tuple[str, ...], runner: JobRunner) -> JobRecord:
        job = JobRecord(uuid.uuid4().hex[:16], kind, JobStatus.QUEUED, arguments, _now())
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > MAX_JOBS_KEPT:
                self._jobs.pop(next(iter(self._jobs)))
        thread = threading.Thread(target=self._run, args=(job.id, runner), name=f"job-{kind}-{job.id}", daemon=True)
        self._threads[job.id] = thread
        thread.start()
        return job

    def get(self, job_id: str) -> JobRecord:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job with id {job_id!r} (jobs are kept in memory until the server restarts)")
        return job

    def wait(self, job_id: str, timeout_s: float | None = None) -> JobRecord:
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout_s)
        return self.get(job_id)

    def _run(self, job_id: str, runner: JobRunner) -> None:
        self._update(job_id, status=JobStatus.RUNNING, started_at=_now())
        try:
            summary = runner(self.get(job_id).arguments, JobProgress(self, job_id))
        except Exception as exc:  # noqa: BLE001 - the job records every failure
            traceback.print_exc()
            self._update(job_id, status=JobStatus.FAILED, finished_at=_now(), error=f"{type(exc).__name__}: {exc}")
            return
        self._update(job_id, status=JobStatus.SUCCEEDED, finished_at=_now(), summary=dict(summary or {}))

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            if job_id in self._jobs:
                self._jobs[job_id] = replace(self._jobs[job_id], **changes)
