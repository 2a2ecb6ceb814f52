"""The `tiny` preset's model: a real diffusers text-to-video pipeline with random weights.

It exists so that demos, tests and benchmarks exercise the exact code path of a real model
(save_pretrained on first use, from_pretrained afterwards, the same pipeline call) on a
machine with no GPU and no hub access. Its output is coloured noise that depends on the
prompt and seed, which is all a test needs. The VAE has four blocks so it downsamples 8x
like real ones; a one-block VAE would make 64x64 renders some 30x slower.
"""

from __future__ import annotations

import os
import shutil
import stat
import string
import warnings
from pathlib import Path
from typing import Any

import torch

# A character-level CLIP vocabulary: with no BPE merges every word splits into characters,
# so different prompts always give different token ids (and different videos).
_SPECIALS = ["<|startoftext|>", "<|endoftext|>"]
_CHARS = [c for c in string.printable if not c.isspace()]


def tiny_vocab() -> dict[str, int]:
    tokens = _SPECIALS + _CHARS + [c + "</w>" for c in _CHARS]
    return {tok: i for i, tok in enumerate(tokens)}


def build_tiny_pipeline(seed: int = 0) -> Any:
    """Build the tiny TextToVideoSDPipeline from small configs of its real component classes."""
    from diffusers import AutoencoderKL, DDIMScheduler, TextToVideoSDPipeline, UNet3DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    unet = UNet3DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
        up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
        cross_attention_dim=16,
        attention_head_dim=4,
        norm_num_groups=4,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 8, 8, 8),
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=64,
    )
    vocab = tiny_vocab()
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=16,
            intermediate_size=32,
            num_attention_heads=2,
            num_hidden_layers=2,
            vocab_size=len(vocab),
            projection_dim=16,
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    scheduler = DDIMScheduler(
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        clip_sample=False,
        set_alpha_to_one=False,
    )
    # Modules built directly start in training mode (dropout on); from_pretrained would set eval.
    for module in (unet, vae, text_encoder):
        module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TextToVideoSDPipeline(
            vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler
        )


def _usual_modes(folder: Path) -> tuple[int, int]:
    """The modes a new file and folder get here under the process's umask (0644/0755 under 022).

    Found by making a folder rather than by `os.umask`, which can only be read by changing it,
    for every thread of the process at once.
    """
    probe = folder / ".mode-probe"
    probe.mkdir(mode=0o777)
    try:
        dir_mode = stat.S_IMODE(probe.stat().st_mode)
    finally:
        probe.rmdir()
    return 0o666 & dir_mode, dir_mode


def _give_usual_permissions(folder: Path) -> None:
    """safetensors writes weights readable by their creator only (0600): a bot or worker run by
    another user, or a model folder shared between machines, could not load them."""
    file_mode, dir_mode = _usual_modes(folder)
    for root, _dirs, files in os.walk(folder):
        os.chmod(root, dir_mode)
        for name in files:
            os.chmod(os.path.join(root, name), file_mode)


def build_tiny_i2v_pipeline(seed: int = 0) -> Any:
    """The `tiny-i2v` preset's model: LTX-Video's condition pipeline at the shrunk sizes of
    `engine.architectures` (the real VAE compression and patching), with random weights."""
    from engine.architectures import build_random_pipeline

    torch.manual_seed(seed)
    return build_random_pipeline("ltx-video-i2v", smoke=True)


BUILDERS = {"tiny": build_tiny_pipeline, "tiny-i2v": build_tiny_i2v_pipeline}


def ensure_tiny_model(folder: Path, kind: str = "tiny") -> Path:
    """Build and save a built-in model once, so later loads go through from_pretrained.

    Its files get the usual permissions (the umask's), like any file the owner makes.
    """
    if not (folder / "model_index.json").exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        # Build under a private name and rename last: a crash mid-save never leaves a folder
        # that looks complete, and two workers starting together do not trip over each other.
        tmp = folder.with_name(f"{folder.name}.building-{os.getpid()}")
        BUILDERS[kind]().save_pretrained(tmp)
        _give_usual_permissions(tmp)
        try:
            tmp.rename(folder)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not (folder / "model_index.json").exists():
                raise
    return folder
