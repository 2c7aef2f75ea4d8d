"""GraphQL enums, mapped one-to-one onto the resolvers' values."""

from __future__ import annotations

from enum import Enum

import strawberry

from vignett.resolvers import FusionMethod as _FusionMethod
from vignett.resolvers import SortOrder as _SortOrder


@strawberry.enum(description="Which embedding a vector search compares (see `stats.models`).")
class Model(Enum):
    VIT = "vit"
    CLIP = "clip"
    SIGLIP = "siglip"
    PHASH = "phash"


@strawberry.enum(description="Result order. RELEVANCE is score order (page order when nothing is scored).")
class Sort(Enum):
    RELEVANCE = "relevance"
    YEAR_ASC = "year_asc"
    YEAR_DESC = "year_desc"
    PAGE_ORDER = "page_order"

    def to_request(self) -> _SortOrder:
        return _SortOrder(self.value)


@strawberry.enum(description="How text (BM25) and vector (kNN) rankings are merged.")
class Fusion(Enum):
    LINEAR = "linear"
    RRF = "rrf"

    def to_request(self) -> _FusionMethod:
        return _FusionMethod(self.value)


@strawberry.enum
class JobStatus(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
