"""Query requests -> Elasticsearch requests -> result records: search, fusion, facets,
lookups, stats and the protected operations. Knows nothing of GraphQL or HTTP."""

from .errors import (
    ApiError, BadUserInput, Forbidden, IngestUnavailable, ModelUnavailable, NotFound,
    PayloadTooLarge, SearchBackendUnavailable, Unauthenticated, UpstreamImageError,
)
from .requests import (
    Fusion, FusionMethod, ImageAtUrl, RawVector, SearchFilter, SearchRequest, SimilarToImage,
    SortOrder, UploadedImage,
)
from .service import Runners, VignettApi

__all__ = [
    "ApiError", "BadUserInput", "Forbidden", "Fusion", "FusionMethod", "ImageAtUrl",
    "IngestUnavailable", "ModelUnavailable", "NotFound", "PayloadTooLarge", "RawVector",
    "Runners", "SearchBackendUnavailable", "SearchFilter", "SearchRequest", "SimilarToImage",
    "SortOrder", "Unauthenticated", "UpstreamImageError", "UploadedImage", "VignettApi",
]
