"""`python -m engine check PRESET`: will this preset fit this machine's GPU, and with which memory option?

An out-of-memory failure shows up only when a member's first render dies, minutes after they
asked. This answers beforehand from what is known without loading anything: the GPU's memory
(torch, imported only here), the preset's published figures per memory option (each with where it
was published), and the size of the weights if they are on disk (measured: a floor, since every
weight sits on the GPU unless offloaded). An option with no published figure is said to be
unknown rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.download import gib
from engine.presets import MEMORY_OPTIONS, Preset
from engine.settings import EngineSettings

# The CUDA context and allocator reserve this much before the model gets any.
CONTEXT_GIB = 0.5
_OPTION_SETTINGS = {
    "none": "no memory option",
    "vae_tiling": "PROMPTREEL_VAE_TILING=true",
    "cpu_offload": "PROMPTREEL_CPU_OFFLOAD=true, VAE tiling too",
}
_WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


@dataclass(frozen=True)
class Gpu:
    name: str
    total_bytes: int
    given: bool = False  # from --gpu-memory, not from this machine


def this_gpu(device: str) -> Gpu | None:
    """The GPU renders would use here, or None on a machine without CUDA."""
    import torch

    if device == "cpu" or not torch.cuda.is_available():
        return None
    index = torch.device(device if device.startswith("cuda") else "cuda").index or 0
    props = torch.cuda.get_device_properties(index)
    return Gpu(props.name, int(props.total_memory))


def weights_on_disk(folder: Path) -> int | None:
    """The bytes of weight files in a model folder, or None where no weights are there yet."""
    if not (folder / "model_index.json").is_file():
        return None
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and p.name.endswith(_WEIGHTS))


def report(preset: Preset, settings: EngineSettings, gpu: Gpu | None) -> tuple[list[str], bool]:
    """The lines `check` prints, and whether the preset can run here with some option."""
    folder = settings.model_path or settings.resolved_models_dir / preset.name
    lines = []
    weights = weights_on_disk(folder)
    if weights is not None:
        lines.append(f"weights on disk: {gib(weights)} in {folder} (measured)")
    else:
        lines.append(f"weights not downloaded yet: `python -m engine download {preset.name}`")
    if gpu is None:
        lines.append(
            "No CUDA GPU on this machine: renders run on the CPU in float32, which suits only the tiny "
            "preset (a real model takes many minutes per clip, and the memory options need a GPU)."
        )
        return lines, preset.source.startswith("builtin:")
    room = gpu.total_bytes / 2**30 - CONTEXT_GIB
    origin = "given with --gpu-memory" if gpu.given else "this machine"
    lines.append(f"GPU: {gpu.name}, {gib(gpu.total_bytes)} ({origin}); {room:.2f} GiB for the model")
    fits_any = False
    for option in MEMORY_OPTIONS:
        figure = preset.memory.get(option)
        label = f"  {option:<12} ({_OPTION_SETTINGS[option]})"
        if figure is None:
            lines.append(f"{label}: unknown, no published figure")
            continue
        fits = figure.gib <= room
        fits_any |= fits
        verdict = "fits" if fits else "does NOT fit"
        lines.append(f"{label}: {verdict}, needs ~{figure.gib:g} GiB ({figure.source})")
    if weights is not None and preset.memory.get("none") is None:
        verdict = "fits" if weights / 2**30 <= room else "does NOT fit"
        lines.append(f"  weights alone {verdict} without offload (activations come on top)")
    return lines, fits_any
