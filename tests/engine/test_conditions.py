"""Starting from a picture, extending a clip and looping, on the real `tiny-i2v` pipeline.

Random weights cannot show that the first frame looks like the picture; what they can show is
that the clip depends on the picture (same seed, different pictures: different clips) and on
nothing else (same picture and seed: the same clip), that an extension is the old clip with new
frames joined on, and that presets refuse what they cannot condition on.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from engine.encode import encode_clip
from engine.image import clean
from engine.presets import get_preset
from engine.request import InvalidRequest, RenderRequest, build_request
from tests.helpers import decode_video

PROMPT = "a lighthouse in a storm"


def small(*args: Any, **options: Any) -> RenderRequest:
    """A tiny-i2v request at 64x64, a quarter of its default area, to keep the tests quick."""
    prompt = args[0] if args else PROMPT
    return build_request(prompt, model="tiny-i2v", width=64, height=64, **options)


@pytest.fixture(scope="module")
def i2v(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from engine.render import Renderer
    from engine.settings import EngineSettings
    from tests.helpers import isolated_settings

    root = tmp_path_factory.mktemp("i2v")
    return Renderer(isolated_settings(EngineSettings, data_dir=root, model="tiny-i2v"), "tiny-i2v")


def _picture(folder: Path, color: tuple[int, int, int]) -> str:
    pixels = np.zeros((96, 128, 3), np.uint8)
    pixels[:] = color
    pixels[24:72, 32:96] = 255 - np.array(color, np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return str(clean(out.getvalue()).save(folder))


def test_the_clip_depends_on_the_picture_and_only_on_it(i2v: Any, tmp_path: Path) -> None:
    red, blue = _picture(tmp_path, (200, 20, 20)), _picture(tmp_path, (20, 20, 200))
    a = i2v.render(small(image=red, seed=3))[0].frames
    again = i2v.render(small(image=red, seed=3))[0].frames
    other = i2v.render(small(image=blue, seed=3))[0].frames
    text_only = i2v.render(small(seed=3))[0].frames
    assert np.array_equal(a, again)
    assert not np.array_equal(a, other)
    assert not np.array_equal(a, text_only)


def test_an_extension_is_the_old_clip_with_new_frames_joined_on(i2v: Any, tmp_path: Path) -> None:
    preset = get_preset("tiny-i2v")
    first = small(frames=17, seed=5)
    frames = i2v.render(first)[0].frames
    clip = tmp_path / "first.mp4"
    encode_clip(frames, clip, fps=first.fps)
    seen, _ = decode_video(clip)

    more = small("the storm clears", frames=17, seed=6, extend=str(clip))
    joined = i2v.render(more)[0].frames
    assert len(joined) == len(seen) + more.frames - preset.extend_overlap
    assert joined.shape[1:] == seen.shape[1:]
    # The member's clip comes first, frame for frame as they saw it, with no repeated frame.
    assert np.array_equal(joined[: len(seen)], seen)


def test_a_loop_renders_from_a_picture_and_is_refused_without_one(i2v: Any, tmp_path: Path) -> None:
    red = _picture(tmp_path, (200, 20, 20))
    looped = i2v.render(small(image=red, loop=True, seed=1))[0].frames
    plain = i2v.render(small(image=red, seed=1))[0].frames
    assert looped.shape == plain.shape and not np.array_equal(looped, plain)
    with pytest.raises(InvalidRequest, match="picture"):
        small(loop=True)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"image": "x.png"}, "can't start from a picture"),
        ({"extend": "x.mp4"}, "can't extend"),
        ({"loop": True}, "can't loop"),
    ],
)
def test_a_text_only_preset_says_which_presets_can(options: dict[str, Any], says: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        build_request(PROMPT, model="tiny", **options)
    assert says in str(refused.value) and "tiny-i2v" in str(refused.value)


def test_jobs_recorded_before_pictures_existed_still_load() -> None:
    old = build_request(PROMPT, model="tiny", seed=1).to_dict()
    for key in ("image", "extend", "loop"):
        old.pop(key)
    assert RenderRequest.from_dict(old) == build_request(PROMPT, model="tiny", seed=1)


def test_requests_with_different_pictures_never_share_a_batch(tmp_path: Path) -> None:
    a = small(image="a.png", seed=1)
    b = small(image="b.png", seed=1)
    assert a.batch_key() != b.batch_key()
