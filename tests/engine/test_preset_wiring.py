"""Each real preset's wiring, checked against a tiny pipeline of the same diffusers class.

The tiny models (see `tiny_components`) are saved to disk once per pipeline class and loaded
back through `load_pipeline`, exactly as a server owner's downloaded weights would be. A
render then shows whether what the preset says about the model (frame rule, callback style,
output type, extra call arguments) matches what the pipeline really does.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.loader import ModelUnavailable, load_pipeline
from engine.presets import Preset, get_preset
from engine.render import Cancelled, Renderer
from engine.request import RenderRequest, build_request
from engine.settings import EngineSettings
from tests.engine.tiny_components import build_tiny

REAL_PRESETS = ["ltx-video", "ltx-video-i2v", "wan2.1-1.3b", "cogvideox-2b", "modelscope", "zeroscope"]

# Small, non-square sizes (so a width/height swap shows) that are multiples of each preset's
# size_multiple, far below the real models' working sizes.
SMALL_SIZE = {
    "ltx-video": (64, 32),
    "ltx-video-i2v": (64, 32),
    "wan2.1-1.3b": (32, 16),
    "cogvideox-2b": (32, 16),
    "modelscope": (32, 16),
    "zeroscope": (32, 16),
}


@pytest.fixture(scope="session")
def tiny_model_folder(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Save one tiny pipeline per diffusers class, on first use, and return its folder."""
    folders: dict[str, Path] = {}

    def folder_for(pipeline_class: str) -> Path:
        if pipeline_class not in folders:
            folder = tmp_path_factory.mktemp("models") / pipeline_class
            build_tiny(pipeline_class).save_pretrained(folder)
            folders[pipeline_class] = folder
        return folders[pipeline_class]

    return folder_for


@pytest.fixture(params=REAL_PRESETS)
def preset(request: pytest.FixtureRequest) -> Preset:
    return get_preset(request.param)


@pytest.fixture
def renderer(
    preset: Preset, tiny_model_folder: Callable[[str], Path], make_settings: Callable[..., EngineSettings]
) -> Renderer:
    # make_settings (conftest): data_dir=tmp_path, CPU, offline, `.env` and PROMPTREEL_* ignored.
    return Renderer(make_settings(model_path=tiny_model_folder(preset.pipeline_class)), preset)


def small_request(preset: Preset, frames: int | None = None, seed: int = 1) -> RenderRequest:
    width, height = SMALL_SIZE[preset.name]
    return build_request(
        "a cat",
        model=preset.name,
        frames=preset.min_frames if frames is None else frames,
        width=width,
        height=height,
        steps=2,
        seed=seed,
    )


def assert_video(frames: np.ndarray, request: RenderRequest) -> None:
    assert frames.dtype == np.uint8
    assert frames.shape == (request.frames, request.height, request.width, 3)


# The diffusers class behind each real model, written out rather than read from the preset.
PIPELINE_CLASS = {
    "ltx-video": "LTXPipeline",
    "ltx-video-i2v": "LTXConditionPipeline",
    "wan2.1-1.3b": "WanPipeline",
    "cogvideox-2b": "CogVideoXPipeline",
    "modelscope": "TextToVideoSDPipeline",
    "zeroscope": "TextToVideoSDPipeline",
}


def test_tiny_pipeline_is_the_presets_class(renderer: Renderer) -> None:
    assert set(PIPELINE_CLASS) == set(REAL_PRESETS)
    assert type(renderer.pipe).__name__ == PIPELINE_CLASS[renderer.preset.name]


def test_render_shape_progress_and_seed(renderer: Renderer) -> None:
    request = small_request(renderer.preset)
    progress: list[tuple[int, int]] = []

    first = renderer.render(request, on_progress=lambda step, total: progress.append((step, total)))
    assert len(first) == 1 and first[0].request == request
    assert_video(first[0].frames, request)
    assert progress == [(1, 2), (2, 2)]
    assert first[0].frames.std() > 0, "random weights should render noise, not a flat clip"

    again = renderer.render(request)
    np.testing.assert_array_equal(again[0].frames, first[0].frames)
    other_seed = renderer.render(request.with_seed(2))
    assert not np.array_equal(other_seed[0].frames, first[0].frames)
    # The prompt reaches the denoiser through the tokenizer and text encoder.
    other_prompt = renderer.render(replace(request, prompt="a dog"))
    assert not np.array_equal(other_prompt[0].frames, first[0].frames)


def test_rounded_frame_count_is_what_the_pipeline_returns(renderer: Renderer) -> None:
    """One frame past the minimum is rounded up by the preset's rule; the model must agree."""
    preset = renderer.preset
    request = small_request(preset, frames=preset.min_frames + 1)
    assert request.frames == preset.min_frames + preset.frame_step
    assert_video(renderer.render(request)[0].frames, request)


def test_cancel_after_first_step_then_render_again(renderer: Renderer) -> None:
    request = small_request(renderer.preset)
    reference = renderer.render(request)[0].frames

    progress: list[tuple[int, int]] = []
    with pytest.raises(Cancelled):
        renderer.render(
            request,
            on_progress=lambda step, total: progress.append((step, total)),
            should_cancel=lambda: bool(progress),
        )
    assert progress == [(1, 2)]

    # The abandoned call must leave nothing behind (scheduler state, interrupt flags).
    after = renderer.render(request)[0].frames
    np.testing.assert_array_equal(after, reference)


@pytest.mark.parametrize("name", REAL_PRESETS)
@pytest.mark.parametrize("make_folder", ["missing", "empty"])
def test_folder_without_weights_is_model_unavailable(
    name: str, make_folder: str, make_settings: Callable[..., EngineSettings], tmp_path: Path
) -> None:
    folder = tmp_path / "weights"
    if make_folder == "empty":
        folder.mkdir()
    with pytest.raises(ModelUnavailable) as excinfo:
        load_pipeline(get_preset(name), make_settings(model_path=folder))
    message = str(excinfo.value)
    assert repr(name) in message
    assert "\n" not in message


@pytest.mark.parametrize("name", ["wan2.1-1.3b", "modelscope"])
@pytest.mark.parametrize("missing", ["tokenizer", "tokenizer/tokenizer.json", "text_encoder", "vae"])
def test_folder_missing_a_component_is_model_unavailable(
    name: str,
    missing: str,
    tiny_model_folder: Callable[[str], Path],
    make_settings: Callable[..., EngineSettings],
    tmp_path: Path,
) -> None:
    """A half-finished download must not load: transformers quietly builds a default, near-empty
    tokenizer when a tokenizer's files are missing, and every prompt would render the same."""
    preset = get_preset(name)
    folder = tmp_path / "weights"
    shutil.copytree(tiny_model_folder(preset.pipeline_class), folder)
    target = folder / missing
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()
    with pytest.raises(ModelUnavailable) as excinfo:
        load_pipeline(preset, make_settings(model_path=folder))
    message = str(excinfo.value)
    assert repr(name) in message and missing.split("/")[0] in message
    assert "\n" not in message


# --- memory and speed options ------------------------------------------------------------------
# They must reach the model for real. CPU offload needs an accelerator and is only checked for
# its message here; the others run on the CPU.


def attention_backends(model: Any) -> set[str | None]:
    """The backend named on every attention processor of a model (None where none was set)."""
    from diffusers.models.attention import AttentionModuleMixin

    backends = set()
    for module in model.modules():
        if isinstance(module, AttentionModuleMixin):
            backend = module.processor._attention_backend
            backends.add(None if backend is None else str(backend.value))
    return backends


def test_first_block_cache_and_attention_backend_reach_the_model(
    tiny_model_folder: Callable[[str], Path], make_settings: Callable[..., EngineSettings]
) -> None:
    preset = get_preset("wan2.1-1.3b")  # its tiny transformer has the two blocks the cache needs
    folder = tiny_model_folder(preset.pipeline_class)
    plain = Renderer(make_settings(model_path=folder), preset)
    tuned = Renderer(
        make_settings(model_path=folder, first_block_cache=0.5, attention_backend="native", vae_tiling=True),
        preset,
    )
    transformer = tuned.pipe.transformer
    assert transformer.is_cache_enabled and not plain.pipe.transformer.is_cache_enabled
    # set_attention_backend marks each attention processor; a plain load leaves them unset.
    assert attention_backends(transformer) == {"native"}
    assert attention_backends(plain.pipe.transformer) == {None}
    assert tuned.pipe.vae.use_tiling and not plain.pipe.vae.use_tiling
    request = small_request(preset)
    [fast] = tuned.render(request)
    [exact] = plain.render(request)
    assert_video(fast.frames, request)
    assert exact.frames.shape == fast.frames.shape


def test_options_a_model_lacks_are_skipped_not_fatal(
    tiny_model_folder: Callable[[str], Path], make_settings: Callable[..., EngineSettings]
) -> None:
    """The UNet of TextToVideoSD has no first block cache: the render goes on without it."""
    preset = get_preset("modelscope")
    settings = make_settings(model_path=tiny_model_folder(preset.pipeline_class), first_block_cache=0.2)
    renderer = Renderer(settings, preset)
    request = small_request(preset)
    [result] = renderer.render(request)
    assert_video(result.frames, request)


def test_cpu_offload_without_a_gpu_says_so(
    tiny_model_folder: Callable[[str], Path], make_settings: Callable[..., EngineSettings]
) -> None:
    from engine.presets import ModelUnavailable

    preset = get_preset("modelscope")
    settings = make_settings(model_path=tiny_model_folder(preset.pipeline_class), cpu_offload=True)
    with pytest.raises(ModelUnavailable, match="needs a GPU"):
        Renderer(settings, preset)


def test_previews_decode_the_first_frame_with_the_presets_vae(renderer: Renderer) -> None:
    """Each real preset's pipeline class gets previews: one per step asked for, of the clip's size,
    and at the last step close to the clip's own first frame (the same VAE on the same latents)."""
    from engine.preview import Previews

    preset = renderer.preset
    width, height = SMALL_SIZE[preset.name]
    request = replace(small_request(preset), steps=3)
    previews = Previews(every_steps=1, min_seconds=0.0, max_side=max(width, height), max_cost=1e9, last=True)
    shown: list[tuple[int, np.ndarray]] = []
    [result] = renderer.render(
        request,
        previews=previews,
        on_preview=lambda step, _total, images: shown.extend((step, i) for i in images),
    )
    # The first step has no step time to weigh a preview against yet: previews start at step 2.
    assert [step for step, _ in shown] == [2, 3]
    for _, image in shown:
        assert image.dtype == np.uint8 and image.shape == (height, width, 3)
        assert image.std() > 0
    last, first_frame = shown[-1][1].astype(float), result.frames[0].astype(float)
    # (Exactly it where frames are decoded one by one; LTX's decoder also looks at the next frames.)
    assert np.corrcoef(last.ravel(), first_frame.ravel())[0, 1] > 0.3
