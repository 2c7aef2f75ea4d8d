"""Which OCR text belongs to a picture: its caption and the text around it on the page."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from vignett.config import AltoSettings

if TYPE_CHECKING:
    from .alto import BBox

# A caption sits within this fraction of the page height below or above its picture, and is
# short: a text column that happens to start under a picture is not its caption.
CAPTION_MAX_GAP = 0.04
CAPTION_MAX_BLOCK_CHARS = 300


class TextIndex:
    """The page's text blocks as arrays, so each picture's neighbours cost a few numpy passes
    rather than a Python loop over every block (a newspaper page has thousands)."""

    def __init__(self, blocks: list[tuple[BBox | None, str, int | None]]):
        """blocks: (box in pixels or None, text, index of the picture it sits inside or None)."""
        self.texts = [text for _, text, _ in blocks]
        self.owner = np.array([-1 if owner is None else owner for _, _, owner in blocks], dtype=np.int64)
        self.length = np.array([len(t) for t in self.texts], dtype=np.int64)
        edges = [(b.x, b.y, b.x + b.w, b.y + b.h) if b else (np.nan,) * 4 for b, _, _ in blocks]
        self.x0, self.y0, self.x1, self.y1 = np.array(edges, dtype=np.float64).reshape(-1, 4).T

    def near(self, box: BBox, picture: int, page_height: int, settings: AltoSettings) -> tuple[str, str]:
        """(caption, context) for one picture.

        Caption: the nearest short block just below, then just above (horizontally overlapping,
        within CAPTION_MAX_GAP of the page height). OCR text inside the picture's own block is
        mostly the OCR engine reading the engraving, so it goes to the context, not the caption.
        Context: the page's text blocks nearest first (inside ones at 0), up to `context_chars`.
        """
        if not self.texts:
            return "", ""
        px1, py1 = box.x + box.w, box.y + box.h
        with np.errstate(invalid="ignore"):  # blocks without coordinates compare as False
            overlap = np.minimum(self.x1, px1) - np.maximum(self.x0, box.x)
            wide_enough = overlap >= 0.5 * np.minimum(self.x1 - self.x0, box.w)
            candidate = wide_enough & (self.owner != picture) & (self.length <= CAPTION_MAX_BLOCK_CHARS)
            max_gap, tolerance = CAPTION_MAX_GAP * page_height, 0.1 * box.h
            to_below, to_above = self.y0 - py1, box.y - self.y1
            below = candidate & (to_below >= -tolerance) & (to_below <= max_gap)
            above = candidate & ~below & (to_above >= -tolerance) & (to_above <= max_gap)
            dx = np.maximum(np.maximum(self.x0 - px1, box.x - self.x1), 0)
            dy = np.maximum(np.maximum(self.y0 - py1, box.y - self.y1), 0)
        parts = [self.texts[int(np.argmin(np.where(side, np.maximum(gap, 0), np.inf)))]
                 for side, gap in ((below, to_below), (above, to_above)) if side.any()]
        caption = "\n".join(parts)[: settings.caption_chars]

        distance = np.where(self.owner == picture, 0.0, np.nan_to_num(np.hypot(dx, dy), nan=np.inf))
        k = min(len(distance), settings.context_chars)  # each block adds at least one character
        nearest = np.sort(np.argpartition(distance, k - 1)[:k])  # ties stay in reading order
        context: list[str] = []
        size = 0
        for i in nearest[np.argsort(distance[nearest], kind="stable")]:
            if size >= settings.context_chars:
                break
            context.append(self.texts[i][: settings.context_chars - size])
            size += len(context[-1]) + 1
        return caption, "\n".join(context)[: settings.context_chars]
