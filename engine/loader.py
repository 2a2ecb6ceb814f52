"""Loading a preset's pipeline onto a device, with the memory and speed options applied.

Missing weights are the most common first-run problem for server owners, so every way a load
can fail for lack of files ends in `ModelUnavailable` with one line saying what to do. Files
that are there but cannot be read (permissions) are reported as that, naming the file, not as
missing weights: fetching them again would not help.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from engine.presets import ModelUnavailable, Preset
from engine.settings import EngineSettings

log = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def quiet_libraries() -> None:
    """Silence progress bars and deprecation chatter that would drown our own output."""
    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def resolve_device(setting: str = "auto") -> torch.device:
    if setting != "auto":
        return torch.device(setting)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_dtype(setting: str, preset: Preset, device: torch.device) -> torch.dtype:
    """Half precision on accelerators, float32 on CPU where half is slow or unsupported."""
    if setting != "auto":
        try:
            return _DTYPES[setting]
        except KeyError:
            raise ValueError(f"Unknown dtype {setting!r}; use one of auto, {', '.join(_DTYPES)}.") from None
    if device.type == "cpu":
        return torch.float32
    dtype = _DTYPES[preset.dtype]
    if dtype is torch.bfloat16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return dtype


def _looks_like_path(source: str) -> bool:
    return source.startswith(("/", ".", "~")) or Path(source).exists() or source.count("/") > 1


def resolve_source(preset: Preset, settings: EngineSettings) -> str:
    """Where the weights come from: an explicit folder, the built-in tiny model, or the hub id."""
    if settings.model_path is not None:
        return str(settings.model_path.expanduser())
    if preset.source.startswith("builtin:"):
        from engine.tiny import ensure_tiny_model

        kind = preset.source.removeprefix("builtin:")
        folder = settings.resolved_models_dir / kind
        try:
            return str(ensure_tiny_model(folder, kind))
        except PermissionError as exc:
            raise _permission_denied(preset, Path(exc.filename or folder), folder) from exc
    local = settings.resolved_models_dir / preset.name
    if (local / "model_index.json").exists():
        return str(local)
    return preset.source


def _unavailable(preset: Preset, source: str, settings: EngineSettings, why: str) -> ModelUnavailable:
    folder = settings.resolved_models_dir / preset.name
    hub = preset.source if not preset.source.startswith("builtin:") else None
    fetch = f"`hf download {hub} --local-dir {folder}`" if hub else "rebuild it by deleting the folder"
    return ModelUnavailable(
        f"Model {preset.name!r}: {why} (looked in {source}). Fetch the weights with {fetch} "
        f"on a machine with internet access, or set PROMPTREEL_MODEL_PATH to a folder that has them."
    )


def _permission_denied(preset: Preset, path: Path, folder: Path) -> ModelUnavailable:
    return ModelUnavailable(
        f"Model {preset.name!r}: permission denied for {path}. Let the user running Promptreel read "
        f"the model folder (for example `chmod -R a+rX {folder}`), or set PROMPTREEL_MODEL_PATH to a "
        "copy it can read."
    )


def _unreadable(folder: Path) -> Path | None:
    """The first file or folder under `folder` this process may not read, if any."""
    denied: list[Path] = []

    def note(exc: OSError) -> None:
        if isinstance(exc, PermissionError):
            denied.append(Path(exc.filename or folder))

    try:
        os.stat(folder)
    except PermissionError:
        return folder
    except OSError:
        return None  # missing: reported as missing weights
    for root, _dirs, files in os.walk(folder, onerror=note):
        if denied:
            break
        for name in files:
            path = Path(root, name)
            try:
                with open(path, "rb"):
                    pass
            except PermissionError:
                return path
            except OSError:
                continue  # a dangling link, say: from_pretrained reports what it lacks
    return denied[0] if denied else None


def _denied_in(exc: BaseException) -> Path | None:
    """The path of a permission error anywhere in `exc`'s chain (libraries wrap them)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PermissionError):
            return Path(current.filename) if current.filename else None
        current = current.__cause__ or current.__context__
    return None


# Any one of these holds a tokenizer's vocabulary (fast tokenizer, sentencepiece, BPE, WordPiece).
_VOCAB_FILES = ("tokenizer.json", "spiece.model", "tokenizer.model", "vocab.json", "vocab.txt")


def _missing_components(folder: Path) -> list[str]:
    """Components model_index.json lists but the folder lacks.

    from_pretrained fails on most of these by itself, but not on a tokenizer: transformers
    quietly builds a default, near-empty one, and every prompt would render the same clip.
    """
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ["a readable model_index.json"]
    missing = []
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or None in spec:
            continue
        sub = folder / name
        if not sub.is_dir():
            missing.append(f"{name}/")
        elif "Tokenizer" in str(spec[-1]) and not any((sub / f).is_file() for f in _VOCAB_FILES):
            missing.append(f"{name}/ vocabulary")
    return missing


def load_pipeline(preset: Preset, settings: EngineSettings) -> Any:
    """Load the preset's pipeline once; the caller keeps it warm for every render."""
    import diffusers

    quiet_libraries()
    source = resolve_source(preset, settings)
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, preset, device)
    pipeline_cls = getattr(diffusers, preset.pipeline_class)

    if _looks_like_path(source):
        folder = Path(source)
        denied = _unreadable(folder)
        if denied is not None:
            raise _permission_denied(preset, denied, folder)
        if not (folder / "model_index.json").is_file():
            raise _unavailable(preset, source, settings, "no model_index.json there")
        missing = _missing_components(folder)
        if missing:
            raise _unavailable(preset, source, settings, f"incomplete download, missing {', '.join(missing)}")
        kwargs: dict[str, Any] = {"local_files_only": True}
    else:
        kwargs = {"local_files_only": settings.offline}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipe = pipeline_cls.from_pretrained(source, dtype=dtype, **kwargs)
    except (OSError, ValueError) as exc:
        denied = _denied_in(exc)
        if denied is not None:
            raise _permission_denied(preset, denied, denied.parent) from exc
        # The hub client reports "not cached locally" and connection errors alike as OSError.
        log.debug("loading %s failed", source, exc_info=True)
        why = "the weights are not on this machine and the hub could not be reached"
        raise _unavailable(preset, source, settings, why) from exc

    apply_options(pipe, settings, device)
    pipe.set_progress_bar_config(disable=True)
    log.info("loaded %s from %s on %s as %s", preset.name, source, device, dtype)
    return pipe


def denoiser(pipe: Any) -> Any:
    """The model that runs every step: a transformer in newer pipelines, a UNet in older ones."""
    return getattr(pipe, "transformer", None) or getattr(pipe, "unet", None)


def apply_options(pipe: Any, settings: EngineSettings, device: torch.device) -> None:
    """Memory and speed options; each one is skipped with a log line where a model lacks it."""
    if settings.cpu_offload:
        if device.type == "cpu":
            raise ModelUnavailable("CPU offload needs a GPU; unset PROMPTREEL_CPU_OFFLOAD on this machine.")
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    vae = getattr(pipe, "vae", None)
    if settings.vae_tiling and hasattr(vae, "enable_tiling"):
        vae.enable_tiling()
    if settings.vae_slicing and hasattr(vae, "enable_slicing"):
        vae.enable_slicing()
    model = denoiser(pipe)
    if settings.attention_backend:
        if hasattr(model, "set_attention_backend"):
            model.set_attention_backend(settings.attention_backend)
        else:
            log.warning("attention backend option ignored: %s has no set_attention_backend", type(model))
    if settings.first_block_cache > 0:
        from diffusers.hooks import FirstBlockCacheConfig

        try:
            model.enable_cache(FirstBlockCacheConfig(threshold=settings.first_block_cache))
        except Exception as exc:  # an optimisation that does not fit a model must not stop it
            log.warning("first block cache not available for %s: %s", type(model).__name__, exc)
    if settings.compile:
        if hasattr(model, "compile_repeated_blocks") and getattr(model, "_repeated_blocks", None):
            model.compile_repeated_blocks(fullgraph=True)
        else:
            model.compile()
