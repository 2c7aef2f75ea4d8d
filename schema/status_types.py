"""GraphQL types for `stats` and background jobs."""

from __future__ import annotations

import json

import strawberry
from strawberry.scalars import JSON

from vignett.resolvers import records
from vignett.resolvers.jobs import JobRecord

from .connection import FacetBucket
from .enums import JobStatus


def _buckets(items: tuple[records.FacetBucket, ...]) -> list[FacetBucket]:
    return [FacetBucket(value=b.value, count=b.count) for b in items]


@strawberry.type
class ModelStats:
    name: str
    dim: int
    images: int = strawberry.field(description="Pictures that have this model's vector.")
    versions: list[FacetBucket] = strawberry.field(description="Pictures per exact model version.")


@strawberry.type(description="What the index holds.")
class Stats:
    alias: str
    index: str = strawberry.field(description="The physical index behind the alias (its version).")
    mapping_hash: str
    total_images: int
    labelled_images: int
    classes: list[FacetBucket]
    decades: list[FacetBucket]
    models: list[ModelStats]
    weights: list[FacetBucket] = strawberry.field(description="Pictures per weights kind: pretrained | random.")

    @classmethod
    def from_record(cls, s: records.IndexStats) -> Stats:
        return cls(
            alias=s.alias, index=s.index, mapping_hash=s.mapping_hash, total_images=s.total_images,
            labelled_images=s.labelled_images, classes=_buckets(s.classes), decades=_buckets(s.decades),
            models=[ModelStats(name=m.name, dim=m.dim, images=m.images, versions=_buckets(m.versions))
                    for m in s.models],
            weights=_buckets(s.weights),
        )


@strawberry.type(description="A background job (ingest, reindex); poll it with `job(id)`.")
class Job:
    id: strawberry.ID
    kind: str
    status: JobStatus
    arguments: list[str]
    created_at: str
    started_at: str | None
    finished_at: str | None
    progress: str
    done: int
    error: str | None
    summary: JSON = strawberry.field(description="The runner's final counts (ingest: files, indexed, failures...).")

    @classmethod
    def from_record(cls, job: JobRecord) -> Job:
        return cls(
            id=strawberry.ID(job.id), kind=job.kind, status=JobStatus(job.status.value),
            arguments=list(job.arguments), created_at=job.created_at, started_at=job.started_at,
            finished_at=job.finished_at, progress=job.progress, done=job.done, error=job.error,
            summary=json.loads(json.dumps(job.summary, default=str)),
        )
