"""What every resolver receives as `info.context`: the API, the caller's key, batch loaders."""

from __future__ import annotations

from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader
from strawberry.types import Info as _Info

from vignett.resolvers import VignettApi
from vignett.resolvers.records import ImageRecord


@dataclass
class ApiContext:
    api: VignettApi
    api_key: str | None = None
    image_loader: DataLoader[str, ImageRecord | None] = field(init=False)

    def __post_init__(self) -> None:
        # One loader per request: `images(ids)` and many `image(id)` fields become one mget.
        self.image_loader = DataLoader(load_fn=self.api.images)


Info = _Info[ApiContext, None]
