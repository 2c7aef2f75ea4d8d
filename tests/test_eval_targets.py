"""Which pictures count as the same target in `vignett eval retrieval`, on the shared NLN crops.

The chr24-nln folder holds the same engraving cut out twice at slightly different sizes
(pHash 2 bits apart) and different engravings of the same man (10-12 bits apart): the first
must become one target whose copies all count as a hit, the second must stay two targets.
"""

from __future__ import annotations

import shutil

from vignett.evaluation.retrieval import rank_of
from vignett.evaluation.targets import NEAR_DUPLICATE_BITS, folder_targets

from tests.support import SHARED_DATA

NLN = SHARED_DATA / "images" / "chr24-nln"


def test_copies_of_one_picture_are_one_target_and_different_pictures_are_not(tmp_path):
    names = ["1-ivar_aasen__CLIP__04.jpg", "1-ivar_aasen__ViT__02.jpg",  # one engraving, two crops
             "1-ivar_aasen.jpg", "1-ivar_aasen__CLIP__02.jpg"]  # two other engravings of him
    for name in names:
        shutil.copy(NLN / name, tmp_path / name)
    shutil.copy(NLN / names[2], tmp_path / "byte-identical-copy.jpg")

    found = folder_targets(tmp_path, None, seed=0)

    assert found.found == 5 and found.unique_by_content == 3 and found.duplicates_dropped == 2
    by_source = {t.source: t for t in found.targets}
    assert set(by_source) == {"1-ivar_aasen__CLIP__04.jpg", "1-ivar_aasen.jpg", "1-ivar_aasen__CLIP__02.jpg"}
    assert len(by_source["1-ivar_aasen__CLIP__04.jpg"].copies) == 2
    assert len(by_source["1-ivar_aasen.jpg"].copies) == 2  # with its byte-identical copy
    assert by_source["1-ivar_aasen__CLIP__02.jpg"].copies == (by_source["1-ivar_aasen__CLIP__02.jpg"].doc_id,)
    assert str(NEAR_DUPLICATE_BITS) in found.dedup


def test_whole_shared_folder_groups_the_known_copies():
    found = folder_targets(NLN, None, seed=0)
    assert found.found == 51
    assert 40 <= found.unique_by_content < 51  # it does hold copies; not everything collapses
    assert sum(len(t.copies) for t in found.targets) == 51  # every file is in exactly one group


def test_rank_is_the_first_position_of_any_copy():
    assert rank_of(("a", "b"), ["x", "b", "a"]) == 2
    assert rank_of(("a",), ["x", "y"]) is None
    assert rank_of(("a",), ["a"]) == 1
