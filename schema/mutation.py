"""The `Mutation` root: every field needs an API key (header X-API-Key)."""

from __future__ import annotations

import strawberry

from .context import Info
from .status_types import Job
from .types import Image


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Start ingesting server-side paths (ALTO, METS, image folders); poll with job(id).")
    def ingest(self, info: Info, sources: list[str]) -> Job:
        return Job.from_record(info.context.api.start_ingest(info.context.api_key, sources))

    @strawberry.mutation(description="Set the human label of a picture; null clears it.")
    async def set_label(self, info: Info, id: strawberry.ID, label: str | None) -> Image:
        return Image(record=await info.context.api.set_label(info.context.api_key, str(id), label))

    @strawberry.mutation(description="Copy the index into a new version with the current mapping, then move the alias.")
    def reindex(self, info: Info) -> Job:
        return Job.from_record(info.context.api.start_reindex(info.context.api_key))
