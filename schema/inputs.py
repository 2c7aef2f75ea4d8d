"""GraphQL input objects and their conversion into the resolvers' request dataclasses."""

from __future__ import annotations

import strawberry

from vignett.resolvers import Fusion as FusionSpec
from vignett.resolvers import SearchFilter

from .enums import Fusion


@strawberry.input(description="Restrictions applied inside the kNN search (pre-filter) and the text query alike.")
class SearchFilterInput:
    classes: list[str] | None = strawberry.field(default=None, description="Predicted class is one of these.")
    exclude_classes: list[str] | None = strawberry.field(default=None, description="Predicted class is none of these.")
    year_from: int | None = strawberry.field(default=None, description="Publication year >= this.")
    year_to: int | None = strawberry.field(default=None, description="Publication year <= this.")
    book_ids: list[str] | None = None
    page_ids: list[str] | None = None
    min_class_probability: float | None = strawberry.field(
        default=None,
        description="With `classes`: one of them is at least this probable; without: the predicted class is.",
    )
    labelled: bool | None = strawberry.field(default=None, description="true: has a human label; false: has none.")

    def to_request(self) -> SearchFilter:
        return SearchFilter(
            classes=tuple(self.classes or ()),
            exclude_classes=tuple(self.exclude_classes or ()),
            year_from=self.year_from,
            year_to=self.year_to,
            book_ids=tuple(self.book_ids or ()),
            page_ids=tuple(self.page_ids or ()),
            min_class_probability=self.min_class_probability,
            labelled=self.labelled,
        )


@strawberry.input(description="Fusion of text and vector hits (used when both are given).")
class FusionInput:
    method: Fusion = Fusion.RRF
    text_weight: float = 1.0
    vector_weight: float = 1.0
    rank_constant: int = strawberry.field(default=60, description="RRF only: score = weight / (rankConstant + rank).")

    def to_request(self) -> FusionSpec:
        return FusionSpec(self.method.to_request(), self.text_weight, self.vector_weight, self.rank_constant)


def filter_of(value: SearchFilterInput | None) -> SearchFilter:
    return value.to_request() if value is not None else SearchFilter()
