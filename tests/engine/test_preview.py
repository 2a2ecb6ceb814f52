"""Live previews on the tiny pipelines: real decodes of the step's latents, and their cost bound.

The pipelines are the real tiny ones (TextToVideoSD for `tiny`, LTX's condition pipeline for
`tiny-i2v`); nothing of ours is replaced. The wiring of every real preset's class is checked in
`test_preset_wiring.py::test_previews_decode_the_first_frame_with_the_presets_vae`.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from engine.preview import Previews, previewer_for
from engine.render import Renderer
from engine.request import build_request


def previews(**overrides: Any) -> Previews:
    values: dict[str, Any] = {"every_steps": 1, "min_seconds": 0.0, "max_side": 256, "max_cost": 1e9}
    return Previews(**{**values, **overrides})


def render_with_previews(renderer: Renderer, schedule: Previews, **request: Any) -> tuple[Any, list[Any]]:
    shown: list[tuple[int, int, np.ndarray]] = []
    values: dict[str, Any] = {"frames": 4, "width": 64, "height": 48, "steps": 6, "seed": 3}
    req = build_request("a lighthouse", model=renderer.preset.name, **{**values, **request})
    [result] = renderer.render(
        req, previews=schedule, on_preview=lambda step, total, images: shown.append((step, total, images[0]))
    )
    return result, shown


def test_the_last_steps_preview_is_the_clips_first_frame(tiny_renderer: Renderer) -> None:
    """TextToVideoSD decodes frame by frame: at the last step the preview is exactly frame 0."""
    result, shown = render_with_previews(tiny_renderer, previews(last=True))
    step, total, image = shown[-1]
    assert (step, total) == (6, 6)
    np.testing.assert_array_equal(image, result.frames[0])


def test_previews_change_as_the_picture_forms(tiny_renderer: Renderer) -> None:
    _, shown = render_with_previews(tiny_renderer, previews())
    # No preview at the last step (the clip follows at once) nor the first (no step time yet).
    assert [step for step, _, _ in shown] == [2, 3, 4, 5]
    images = [image for _, _, image in shown]
    assert all(not np.array_equal(a, b) for a, b in itertools.pairwise(images))


def test_every_n_steps_and_the_size_follow_the_settings(tiny_renderer: Renderer) -> None:
    _, shown = render_with_previews(tiny_renderer, previews(every_steps=2, max_side=32), width=64, height=48)
    assert [step for step, _, _ in shown] == [2, 4]
    assert {image.shape for _, _, image in shown} == {(24, 32, 3)}
    assert all(image.dtype == np.uint8 and image.std() > 0 for _, _, image in shown)


def test_the_seconds_bound_spaces_previews(tiny_renderer: Renderer) -> None:
    """A bound far longer than the render: the first due preview, then none."""
    _, shown = render_with_previews(tiny_renderer, previews(min_seconds=3600.0))
    assert [step for step, _, _ in shown] == [2]


def test_previews_costing_more_than_the_bound_stop_for_good(tiny_renderer: Renderer) -> None:
    """Bound 0: the measured preview always costs more, so none is shown, now or later."""
    schedule = previews(max_cost=0.0)
    result, shown = render_with_previews(tiny_renderer, schedule)
    assert shown == [] and result.frames.shape == (4, 48, 64, 3)
    assert schedule.worth_it is False
    assert schedule.preview_seconds is not None and schedule.preview_seconds > 0
    assert schedule.step_seconds is not None and schedule.step_seconds > 0
    _, again = render_with_previews(tiny_renderer, schedule, seed=4)
    assert again == []


def test_the_image_to_video_preset_previews_its_unpacked_latents(make_settings: Any) -> None:
    """LTX packs latents into tokens (and prepends condition tokens): unpacked, frame 0 decodes
    to a picture of the clip's shape that follows the clip's own first frame."""
    renderer = Renderer(make_settings(offline=False), "tiny-i2v")
    result, shown = render_with_previews(
        renderer, previews(last=True), frames=9, width=128, height=96, steps=3
    )
    assert [step for step, _, _ in shown] == [2, 3]
    assert {image.shape for _, _, image in shown} == {(96, 128, 3)}
    assert not np.array_equal(shown[0][2], shown[1][2])
    last, first = shown[-1][2].astype(float).ravel(), result.frames[0].astype(float).ravel()
    assert np.corrcoef(last, first)[0, 1] > 0.3


def test_a_pipeline_without_a_decoder_renders_without_previews(tiny_renderer: Renderer) -> None:
    import warnings

    from diffusers import VideoToVideoSDPipeline

    # A real class with a VAE but no decoder here (the tiny model's very components): no previewer.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = VideoToVideoSDPipeline(**tiny_renderer.pipe.components)
    assert previewer_for(other) is None
    renderer = Renderer(tiny_renderer.settings, tiny_renderer.preset, pipe=tiny_renderer.pipe)
    renderer.previewer = previewer_for(other)  # so the render goes on without previews
    result, shown = render_with_previews(renderer, previews())
    assert shown == [] and result.frames.shape == (4, 48, 64, 3)
