"""The face check on uploads: a real detector on real photographs, with and without a face.

skimage's sample data ships in its wheel: `astronaut` is a NASA portrait (public domain) with
one frontal face; `chelsea` (a cat), `coffee` and `rocket` have none. Rendered noise from the
tiny model must not count as a face either, or image-to-video would refuse its own frames.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from engine.faces import count_faces

data = pytest.importorskip("skimage.data")


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def test_a_portrait_has_a_face() -> None:
    assert count_faces(_png(data.astronaut())) >= 1


def test_a_large_portrait_is_checked_at_the_same_cost_and_still_found() -> None:
    big = np.asarray(Image.fromarray(data.astronaut()).resize((2048, 2048)))
    assert count_faces(_png(big)) >= 1


@pytest.mark.parametrize("name", ["chelsea", "coffee", "rocket"])
def test_pictures_without_people_have_none(name: str) -> None:
    assert count_faces(_png(getattr(data, name)())) == 0


def test_noise_and_flat_colour_have_none() -> None:
    rng = np.random.default_rng(0)
    assert count_faces(_png(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8))) == 0
    assert count_faces(_png(np.full((128, 128, 3), 90, np.uint8))) == 0
