"""The model presets: everything model-specific lives in one registry, as data.

A caller (the CLI, the chat side, a worker) asks for a preset by name and never branches on
which model it is: frame rounding, size multiples, defaults and limits all come from here.
This module is torch-free so the chat side can validate options without loading a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

CallbackStyle = Literal["step_end", "legacy"]
# What a weights licence allows an owner who charges members (credits, paid roles, a subscription):
# "yes" (e.g. Apache-2.0), "no" (non-commercial, e.g. CC-BY-NC-4.0), "conditions" (a custom
# licence with terms to read first, such as a revenue threshold).
CommercialUse = Literal["yes", "no", "conditions"]
# The memory options `engine check` reports on, in the order an owner tries them.
MEMORY_OPTIONS = ("none", "vae_tiling", "cpu_offload")


@dataclass(frozen=True)
class Licence:
    """The licence of a preset's weights, as its model card states it (not the code's licence)."""

    name: str
    url: str
    commercial: CommercialUse
    # Where the facts were read, and what could not be checked, so an owner knows how far to trust them.
    checked: str = ""


@dataclass(frozen=True)
class MemoryFigure:
    """GPU memory one render needs with a memory option, and where that figure comes from."""

    gib: float
    source: str


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    pipeline_class: str  # attribute of `diffusers`, imported only when a worker loads it
    source: str  # hub id, or "builtin:tiny" for the locally built test model
    dtype: str  # preferred dtype on a GPU; CPU always runs float32
    # Frame counts must be `frame_step * k + frame_offset` (Wan: 4k+1, LTX: 8k+1).
    frame_step: int
    frame_offset: int
    min_frames: int
    max_frames: int
    default_frames: int
    default_fps: int
    max_fps: int
    size_multiple: int
    default_width: int
    default_height: int
    max_side: int
    default_steps: int
    max_steps: int
    default_guidance: float
    max_guidance: float
    max_prompt_chars: int
    output_type: Literal["np", "pil"]
    callback_style: CallbackStyle
    # Extra keyword arguments every call needs (LTX takes the frame rate, for instance).
    call_kwargs: dict[str, Any] = field(default_factory=dict)
    # Pass the request's fps to the pipeline under this name, if the model conditions on it.
    fps_kwarg: str | None = None
    notes: str = ""
    # Can start a clip from a picture (the first frame follows it).
    image_input: bool = False
    # Can condition on several frames at chosen positions: continuing a clip from its last
    # frames (extend) and a clip whose last frame leads back into its first (loop).
    frame_conditions: bool = False
    # Frames of the previous clip an extension is conditioned on (LTX takes 8k+1).
    extend_overlap: int = 0
    licence: Licence | None = None
    # Published (or measured) GPU memory per memory option in MEMORY_OPTIONS; an option missing here
    # has no figure anyone published, and `engine check` says so instead of guessing.
    memory: dict[str, MemoryFigure] = field(default_factory=dict)

    def round_frames(self, frames: int) -> int:
        """The nearest valid frame count at or above `frames`, clamped to the limits."""
        k = max(0, -(-(frames - self.frame_offset) // self.frame_step))
        rounded = k * self.frame_step + self.frame_offset
        return max(self.min_frames, min(rounded, self.max_frames))

    def round_side(self, pixels: int) -> int:
        m = self.size_multiple
        return max(m, min(self.max_side // m * m, round(pixels / m) * m))

    def frame_rule(self) -> str:
        if self.frame_step == 1:
            return "any count"
        return f"{self.frame_step}k+{self.frame_offset}"


PRESETS: dict[str, Preset] = {}


def _register(preset: Preset) -> None:
    PRESETS[preset.name] = preset


_register(
    Preset(
        name="tiny",
        title="Tiny (random weights, for demos and tests)",
        pipeline_class="TextToVideoSDPipeline",
        source="builtin:tiny",
        dtype="float32",
        frame_step=1,
        frame_offset=0,
        min_frames=1,
        max_frames=32,
        default_frames=8,
        default_fps=8,
        max_fps=30,
        size_multiple=8,
        default_width=64,
        default_height=64,
        max_side=256,
        default_steps=2,
        max_steps=10,
        default_guidance=7.5,
        max_guidance=20.0,
        max_prompt_chars=500,
        output_type="np",
        callback_style="legacy",
        notes="Built locally from real diffusers classes with random weights; renders noise, quickly.",
        licence=Licence(
            "Apache-2.0 (built by Promptreel, random weights)",
            "https://www.apache.org/licenses/LICENSE-2.0",
            "yes",
            "built here: no third-party weights",
        ),
        memory={
            "none": MemoryFigure(0.1, "estimate: 0.6 MB of weights, activations of a few MB at 64x64"),
        },
    )
)
_register(
    Preset(
        name="ltx-video",
        title="LTX-Video (Lightricks)",
        pipeline_class="LTXPipeline",
        source="Lightricks/LTX-Video",
        dtype="bfloat16",
        frame_step=8,
        frame_offset=1,
        min_frames=9,
        max_frames=257,
        default_frames=97,
        default_fps=24,
        max_fps=30,
        size_multiple=32,
        default_width=704,
        default_height=480,
        max_side=1280,
        default_steps=40,
        max_steps=100,
        default_guidance=3.0,
        max_guidance=10.0,
        max_prompt_chars=1000,
        output_type="np",
        callback_style="step_end",
        fps_kwarg="frame_rate",
        notes="Fast: about real time on a large GPU. Needs ~12 GB VRAM at bf16, less with CPU offload.",
        licence=Licence(
            "LTX-Video Open Weights License (Lightricks' own)",
            "https://huggingface.co/Lightricks/LTX-Video",
            "conditions",
            "the card's licence is Lightricks' own; summaries describe commercial use as limited by the "
            "licensee's revenue; the card's full text could not be read here: read it before charging",
        ),
        memory={
            "none": MemoryFigure(12.0, "estimate in this preset's notes (unverified)"),
        },
    )
)
_register(
    Preset(
        name="tiny-i2v",
        title="Tiny image-to-video (random weights, for demos and tests)",
        pipeline_class="LTXConditionPipeline",
        source="builtin:tiny-i2v",
        dtype="float32",
        frame_step=8,
        frame_offset=1,
        min_frames=9,
        max_frames=33,
        default_frames=9,
        default_fps=8,
        max_fps=30,
        size_multiple=32,
        default_width=128,
        default_height=96,
        max_side=256,
        default_steps=2,
        max_steps=10,
        default_guidance=3.0,
        max_guidance=10.0,
        max_prompt_chars=500,
        output_type="np",
        callback_style="step_end",
        fps_kwarg="frame_rate",
        image_input=True,
        frame_conditions=True,
        extend_overlap=9,
        notes="LTX-Video's condition pipeline built locally with random weights: starts from a picture, "
        "extends and loops, renders noise.",
        licence=Licence(
            "Apache-2.0 (built by Promptreel, random weights)",
            "https://www.apache.org/licenses/LICENSE-2.0",
            "yes",
            "built here: no third-party weights",
        ),
    )
)
_register(
    Preset(
        name="ltx-video-i2v",
        title="LTX-Video 0.9.5 from a picture (Lightricks)",
        pipeline_class="LTXConditionPipeline",
        source="Lightricks/LTX-Video-0.9.5",
        dtype="bfloat16",
        frame_step=8,
        frame_offset=1,
        min_frames=9,
        max_frames=257,
        default_frames=97,
        default_fps=24,
        max_fps=30,
        size_multiple=32,
        default_width=704,
        default_height=480,
        max_side=1280,
        default_steps=40,
        max_steps=100,
        default_guidance=3.0,
        max_guidance=10.0,
        max_prompt_chars=1000,
        output_type="np",
        callback_style="step_end",
        fps_kwarg="frame_rate",
        image_input=True,
        frame_conditions=True,
        extend_overlap=17,
        notes="Starts from a picture, extends a clip from its last frames, loops. Same memory as ltx-video.",
        licence=Licence(
            "LTX-Video Open Weights License (Lightricks' own)",
            "https://huggingface.co/Lightricks/LTX-Video-0.9.5",
            "conditions",
            "the same licence family as ltx-video; the card's full text could not be read here: read it "
            "before charging",
        ),
        memory={
            "none": MemoryFigure(12.0, "as ltx-video: same transformer and VAE sizes (unverified estimate)"),
        },
    )
)
_register(
    Preset(
        name="wan2.1-1.3b",
        title="Wan 2.1 T2V 1.3B",
        pipeline_class="WanPipeline",
        source="Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
        dtype="bfloat16",
        frame_step=4,
        frame_offset=1,
        min_frames=5,
        max_frames=81,
        default_frames=33,
        default_fps=16,
        max_fps=24,
        size_multiple=16,
        default_width=832,
        default_height=480,
        max_side=1280,
        default_steps=30,
        max_steps=100,
        default_guidance=5.0,
        max_guidance=10.0,
        max_prompt_chars=1000,
        output_type="np",
        callback_style="step_end",
        notes="Good quality for its size; ~8 GB VRAM.",
        licence=Licence(
            "Apache-2.0",
            "https://huggingface.co/Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
            "yes",
            "Apache-2.0 as the Wan2.1 release states; the card's text could not be read here",
        ),
        memory={
            "cpu_offload": MemoryFigure(8.19, "model card: 8.19 GB for 5 s at 480p, with offload"),
        },
    )
)
_register(
    Preset(
        name="cogvideox-2b",
        title="CogVideoX 2B",
        pipeline_class="CogVideoXPipeline",
        source="THUDM/CogVideoX-2b",
        dtype="float16",
        # 8k+1, not 4k+1: the VAE decodes latents in pairs after an odd first chunk, so an even
        # latent count ((frames - 1) / 4 + 1) comes back 3 frames long (13 frames -> 16).
        frame_step=8,
        frame_offset=1,
        min_frames=9,
        max_frames=49,
        default_frames=49,
        default_fps=8,
        max_fps=16,
        size_multiple=16,
        default_width=720,
        default_height=480,
        max_side=720,
        default_steps=50,
        max_steps=100,
        default_guidance=6.0,
        max_guidance=10.0,
        max_prompt_chars=1000,
        output_type="np",
        callback_style="step_end",
        notes="Trained at 720x480, 49 frames at 8 fps.",
        licence=Licence(
            "Apache-2.0",
            "https://huggingface.co/THUDM/CogVideoX-2b",
            "yes",
            "card metadata: license apache-2.0 (fixed in the card's PR #8, Aug 2024)",
        ),
        memory={
            "none": MemoryFigure(19.0, "diffusers docs: ~19 GB to decode 49 frames at 720x480"),
            "vae_tiling": MemoryFigure(12.5, "model card: FP16 12.5 GB with diffusers"),
        },
    )
)
_register(
    Preset(
        name="modelscope",
        title="ModelScope text-to-video 1.7B",
        pipeline_class="TextToVideoSDPipeline",
        source="damo-vilab/text-to-video-ms-1.7b",
        dtype="float16",
        frame_step=1,
        frame_offset=0,
        min_frames=8,
        max_frames=32,
        default_frames=16,
        default_fps=8,
        max_fps=24,
        size_multiple=8,
        default_width=256,
        default_height=256,
        max_side=512,
        default_steps=25,
        max_steps=100,
        default_guidance=9.0,
        max_guidance=20.0,
        max_prompt_chars=300,
        output_type="np",
        callback_style="legacy",
        notes="The original two-second demo model.",
        licence=Licence(
            "CC-BY-NC-4.0 (non-commercial)",
            "https://huggingface.co/ali-vilab/text-to-video-ms-1.7b",
            "no",
            "card metadata of ali-vilab/text-to-video-ms-1.7b (formerly damo-vilab): cc-by-nc-4.0",
        ),
    )
)
_register(
    Preset(
        name="zeroscope",
        title="Zeroscope v2 576w",
        pipeline_class="TextToVideoSDPipeline",
        source="cerspense/zeroscope_v2_576w",
        dtype="float16",
        frame_step=1,
        frame_offset=0,
        min_frames=8,
        max_frames=40,
        default_frames=24,
        default_fps=8,
        max_fps=24,
        size_multiple=8,
        default_width=576,
        default_height=320,
        max_side=1024,
        default_steps=30,
        max_steps=100,
        default_guidance=9.0,
        max_guidance=20.0,
        max_prompt_chars=300,
        output_type="np",
        callback_style="legacy",
        notes="Watermark-free ModelScope fine-tune, trained at 576x320.",
        licence=Licence(
            "CC-BY-NC-4.0 (non-commercial)",
            "https://huggingface.co/cerspense/zeroscope_v2_576w",
            "no",
            "card metadata: cc-by-nc-4.0",
        ),
        memory={
            "none": MemoryFigure(7.9, "model card: 7.9 GB for 30 frames at 576x320"),
        },
    )
)


class UnknownPreset(ValueError):
    pass


class ModelUnavailable(RuntimeError):
    """The weights for a preset are not on this machine and cannot be fetched.

    Defined here, torch-free, so the chat side can catch it without importing the loader.
    """


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join(PRESETS)
        raise UnknownPreset(f"Unknown model {name!r}. Available: {known}.") from None


def licence_line(preset: Preset) -> str:
    """The weights' licence in a few words, with what it means for an owner who charges members."""
    lic = preset.licence
    if lic is None:
        return "licence unknown: check the model card before using it"
    use = {
        "yes": "commercial use allowed",
        "no": "NON-COMMERCIAL: not for a bot members pay for",
        "conditions": "commercial use only under its conditions: read it first",
    }[lic.commercial]
    return f"{lic.name}; {use} ({lic.url})"


def describe(preset: Preset) -> str:
    """A few lines per preset for `python -m engine presets`."""
    p = preset
    return (
        f"{p.name:<13} {p.title}\n"
        f"    source {p.source}; frames {p.min_frames}-{p.max_frames} ({p.frame_rule()}), "
        f"default {p.default_frames} @ {p.default_fps} fps; size {p.default_width}x{p.default_height}, "
        f"multiple of {p.size_multiple}, max side {p.max_side}; steps {p.default_steps} (max {p.max_steps}); "
        f"guidance {p.default_guidance:g} (max {p.max_guidance:g}); {starts(p)}\n"
        f"    weights licence: {licence_line(p)}"
    )


def starts(preset: Preset) -> str:
    """What a preset can start from, said the same way in the CLI, /help and refusals."""
    if not preset.image_input:
        return "text only (no picture, extend or loop)"
    extra = "; extends and loops" if preset.frame_conditions else ""
    return f"text or a picture{extra}"
