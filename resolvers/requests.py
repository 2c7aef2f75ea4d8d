"""What a client asks for, as plain dataclasses the schema fills in and the resolvers check.

Validation that needs no Elasticsearch lives here (one query image source at most, bounds on
`first`, `k` and `numCandidates`), so every entry point refuses bad input the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

from vignett.config import ApiSettings

from .errors import BadUserInput

# Elasticsearch's index.max_result_window: offset pagination stops here.
MAX_RESULT_WINDOW = 10_000


class SortOrder(Enum):
    RELEVANCE = "relevance"
    YEAR_ASC = "year_asc"
    YEAR_DESC = "year_desc"
    PAGE_ORDER = "page_order"


class FusionMethod(Enum):
    LINEAR = "linear"
    RRF = "rrf"


@dataclass(frozen=True)
class SearchFilter:
    """Restrictions applied inside the kNN search (pre-filter) and the text query alike."""

    classes: tuple[str, ...] = ()
    exclude_classes: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    book_ids: tuple[str, ...] = ()
    page_ids: tuple[str, ...] = ()
    min_class_probability: float | None = None
    labelled: bool | None = None

    def check(self) -> None:
        if self.year_from is not None and self.year_to is not None and self.year_from > self.year_to:
            raise BadUserInput(f"filter.yearFrom ({self.year_from}) is after filter.yearTo ({self.year_to})")
        p = self.min_class_probability
        if p is not None and not 0.0 <= p <= 1.0:
            raise BadUserInput(f"filter.minClassProbability must be within 0..1, got {p}")


@dataclass(frozen=True)
class UploadedImage:
    data: bytes
    filename: str = ""


@dataclass(frozen=True)
class ImageAtUrl:
    url: str


@dataclass(frozen=True)
class SimilarToImage:
    id: str


@dataclass(frozen=True)
class RawVector:
    values: tuple[float, ...]


QueryImage = UploadedImage | ImageAtUrl | SimilarToImage | RawVector


@dataclass(frozen=True)
class Fusion:
    """How text and vector hits are merged when both are asked for."""

    method: FusionMethod = FusionMethod.RRF
    text_weight: float = 1.0
    vector_weight: float = 1.0
    rank_constant: int = 60

    def check(self) -> None:
        if self.text_weight < 0 or self.vector_weight < 0 or self.text_weight + self.vector_weight == 0:
            raise BadUserInput("fusion weights must be >= 0 and not both 0")
        if self.rank_constant < 1:
            raise BadUserInput(f"fusion.rankConstant must be >= 1, got {self.rank_constant}")


@dataclass(frozen=True)
class SearchRequest:
    """One `search` call. Every part is optional; an empty request browses the collection."""

    model: str
    text: str | None = None
    semantic_text: str | None = None
    query_image: QueryImage | None = None
    filter: SearchFilter = field(default_factory=SearchFilter)
    fusion: Fusion = field(default_factory=Fusion)
    min_score: float | None = None
    sort: SortOrder = SortOrder.RELEVANCE
    first: int = 20
    after: str | None = None
    k: int | None = None  # None: api.default_k
    num_candidates: int | None = None
    # Ids never returned (the query image itself for `similar`).
    exclude_ids: tuple[str, ...] = ()

    @property
    def has_vector(self) -> bool:
        return self.query_image is not None or bool(self.semantic_text)

    @property
    def has_text(self) -> bool:
        return bool(self.text and self.text.strip())

    def k_or_default(self, api: ApiSettings) -> int:
        return self.k if self.k is not None else api.default_k

    def candidates(self, api: ApiSettings) -> int:
        """numCandidates: asked for, else 2k (at least 50), always within [k, max]."""
        k = self.k_or_default(api)
        wanted = self.num_candidates if self.num_candidates is not None else max(2 * k, 50)
        return min(max(wanted, k), api.max_num_candidates)

    def check(self, api: ApiSettings) -> None:
        check_first(self.first, api)
        k = self.k_or_default(api)
        if not 1 <= k <= api.max_k:
            raise BadUserInput(f"k must be within 1..{api.max_k} (api.max_k), got {k}")
        if self.num_candidates is not None and not k <= self.num_candidates <= api.max_num_candidates:
            raise BadUserInput(
                f"numCandidates must be within k ({k})..{api.max_num_candidates}, got {self.num_candidates}"
            )
        if self.semantic_text is not None and self.query_image is not None:
            raise BadUserInput(
                "give one vector source at most: semanticText, image, imageUrl, similarTo or vector"
            )
        if self.semantic_text is not None and not self.semantic_text.strip():
            raise BadUserInput("semanticText is empty; leave it out or give a prompt")
        if self.min_score is not None and not math.isfinite(self.min_score):
            raise BadUserInput("minScore must be a finite number")
        self.filter.check()
        self.fusion.check()


def check_first(first: int, api: ApiSettings) -> None:
    if not 1 <= first <= api.max_first:
        raise BadUserInput(f"first must be within 1..{api.max_first}, got {first}; page with `after`")
