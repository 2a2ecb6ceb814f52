"""The real presets' architectures at their published sizes, so a machine with a GPU and no
internet can measure what a real model would cost before anyone downloads its weights.

Each entry lists the component classes a checkpoint's ``model_index.json`` names and the
configs its ``config.json`` files give (written here from the model cards; nothing is
fetched). `build_random_pipeline` builds them with random weights: the output is noise, but
the work per step, the memory and the effect of the speed options are the real model's.

``smoke=True`` applies each entry's ``smoke`` overrides, which shrink widths and depths while
keeping the things the presets' rules depend on (the VAE's compression, the patch size), so
the same code runs on a CPU in seconds. Data only at import time: torch, diffusers and
transformers are imported inside `build_random_pipeline`.
"""

from __future__ import annotations

import string
import warnings
from dataclasses import dataclass, field
from typing import Any

_T5_XXL = {
    "vocab_size": 32128,
    "d_model": 4096,
    "d_kv": 64,
    "d_ff": 10240,
    "num_layers": 24,
    "num_heads": 64,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "feed_forward_proj": "gated-gelu",
    "dropout_rate": 0.0,
    "pad_token_id": 0,
    "eos_token_id": 1,
    "decoder_start_token_id": 0,
}
_T5_SMOKE = {
    "d_model": 16,
    "d_kv": 4,
    "d_ff": 32,
    "num_layers": 2,
    "num_heads": 4,
    "relative_attention_num_buckets": 8,
    "relative_attention_max_distance": 32,
}


@dataclass(frozen=True)
class Component:
    """One pipeline component: ``library.cls(**config)``, or ``cls(config_cls(**config))``."""

    library: str  # "diffusers" | "transformers"
    cls: str
    config: dict[str, Any]
    smoke: dict[str, Any] = field(default_factory=dict)
    config_cls: str | None = None  # transformers models take a config object


@dataclass(frozen=True)
class Architecture:
    pipeline_class: str
    components: dict[str, Component]
    tokenizer: str  # "t5" | "clip"
    max_length: int
    source: str  # where the figures come from


_ARCHITECTURES: dict[str, Architecture] = {
    "ltx-video": Architecture(
        pipeline_class="LTXPipeline",
        source="Lightricks/LTX-Video 0.9 transformer, vae and text_encoder (T5 v1.1 XXL) config.json",
        tokenizer="t5",
        max_length=128,
        components={
            "transformer": Component(
                "diffusers",
                "LTXVideoTransformer3DModel",
                {
                    "in_channels": 128,
                    "out_channels": 128,
                    "patch_size": 1,
                    "patch_size_t": 1,
                    "num_attention_heads": 32,
                    "attention_head_dim": 64,
                    "cross_attention_dim": 2048,
                    "num_layers": 28,
                    "caption_channels": 4096,
                    "qk_norm": "rms_norm_across_heads",
                },
                smoke={
                    "in_channels": 8,
                    "out_channels": 8,
                    "num_attention_heads": 2,
                    "attention_head_dim": 8,
                    "cross_attention_dim": 16,
                    "num_layers": 2,
                    "caption_channels": 16,
                },
            ),
            "vae": Component(
                "diffusers",
                "AutoencoderKLLTXVideo",
                {
                    "latent_channels": 128,
                    "block_out_channels": (128, 256, 512, 512),
                    "decoder_block_out_channels": (128, 256, 512, 512),
                    "layers_per_block": (4, 3, 3, 3, 4),
                    "decoder_layers_per_block": (4, 3, 3, 3, 4),
                    "spatio_temporal_scaling": (True, True, True, False),
                    "decoder_spatio_temporal_scaling": (True, True, True, False),
                    "patch_size": 4,
                    "patch_size_t": 1,
                    "encoder_causal": True,
                    "decoder_causal": False,
                },
                smoke={
                    "latent_channels": 8,
                    "block_out_channels": (8, 8, 8, 8),
                    "decoder_block_out_channels": (8, 8, 8, 8),
                    "layers_per_block": (1, 1, 1, 1, 1),
                    "decoder_layers_per_block": (1, 1, 1, 1, 1),
                },
            ),
            "text_encoder": Component("transformers", "T5EncoderModel", _T5_XXL, _T5_SMOKE, "T5Config"),
            "scheduler": Component(
                "diffusers",
                "FlowMatchEulerDiscreteScheduler",
                {
                    "base_image_seq_len": 1024,
                    "base_shift": 0.95,
                    "max_image_seq_len": 4096,
                    "max_shift": 2.05,
                    "shift": 1.0,
                    "shift_terminal": 0.1,
                    "use_dynamic_shifting": True,
                },
            ),
        },
    ),
    "wan2.1-1.3b": Architecture(
        pipeline_class="WanPipeline",
        source="Wan-AI/Wan2.1-T2V-1.3B-Diffusers transformer, vae and text_encoder (UMT5 XXL) config.json",
        tokenizer="t5",
        max_length=512,
        components={
            "transformer": Component(
                "diffusers",
                "WanTransformer3DModel",
                {
                    "patch_size": (1, 2, 2),
                    "num_attention_heads": 12,
                    "attention_head_dim": 128,
                    "in_channels": 16,
                    "out_channels": 16,
                    "text_dim": 4096,
                    "freq_dim": 256,
                    "ffn_dim": 8960,
                    "num_layers": 30,
                    "cross_attn_norm": True,
                    "qk_norm": "rms_norm_across_heads",
                    "eps": 1e-6,
                    "rope_max_seq_len": 1024,
                },
                smoke={
                    "num_attention_heads": 2,
                    "attention_head_dim": 12,
                    "text_dim": 16,
                    "freq_dim": 32,
                    "ffn_dim": 32,
                    "num_layers": 2,
                    "rope_max_seq_len": 32,
                },
            ),
            "vae": Component(
                "diffusers",
                "AutoencoderKLWan",
                {
                    "base_dim": 96,
                    "z_dim": 16,
                    "dim_mult": [1, 2, 4, 4],
                    "num_res_blocks": 2,
                    "temperal_downsample": [False, True, True],
                },
                smoke={"base_dim": 3, "dim_mult": [1, 1, 1, 1], "num_res_blocks": 1},
            ),
            "text_encoder": Component(
                "transformers", "UMT5EncoderModel", {**_T5_XXL, "vocab_size": 256384}, _T5_SMOKE, "UMT5Config"
            ),
            "scheduler": Component(
                "diffusers",
                "UniPCMultistepScheduler",
                {
                    "prediction_type": "flow_prediction",
                    "use_flow_sigmas": True,
                    "flow_shift": 3.0,
                    "num_train_timesteps": 1000,
                },
            ),
        },
    ),
    "cogvideox-2b": Architecture(
        pipeline_class="CogVideoXPipeline",
        source="THUDM/CogVideoX-2b transformer, vae and text_encoder (T5 v1.1 XXL) config.json",
        tokenizer="t5",
        max_length=226,
        components={
            "transformer": Component(
                "diffusers",
                "CogVideoXTransformer3DModel",
                {
                    "num_attention_heads": 30,
                    "attention_head_dim": 64,
                    "in_channels": 16,
                    "out_channels": 16,
                    "time_embed_dim": 512,
                    "text_embed_dim": 4096,
                    "num_layers": 30,
                    "sample_width": 90,
                    "sample_height": 60,
                    "sample_frames": 49,
                    "patch_size": 2,
                    "temporal_compression_ratio": 4,
                    "max_text_seq_length": 226,
                },
                smoke={
                    "num_attention_heads": 2,
                    "attention_head_dim": 8,
                    "in_channels": 4,
                    "out_channels": 4,
                    "time_embed_dim": 4,
                    "text_embed_dim": 16,
                    "num_layers": 2,
                    "sample_width": 4,
                    "sample_height": 2,
                    "sample_frames": 9,
                },
            ),
            "vae": Component(
                "diffusers",
                "AutoencoderKLCogVideoX",
                {
                    "block_out_channels": (128, 256, 256, 512),
                    "latent_channels": 16,
                    "layers_per_block": 3,
                    "norm_num_groups": 32,
                    "temporal_compression_ratio": 4,
                    "scaling_factor": 1.15258426,
                },
                smoke={
                    "block_out_channels": (8, 8, 8, 8),
                    "latent_channels": 4,
                    "layers_per_block": 1,
                    "norm_num_groups": 2,
                },
            ),
            "text_encoder": Component("transformers", "T5EncoderModel", _T5_XXL, _T5_SMOKE, "T5Config"),
            "scheduler": Component(
                "diffusers",
                "CogVideoXDDIMScheduler",
                {
                    "beta_schedule": "scaled_linear",
                    "clip_sample": False,
                    "prediction_type": "v_prediction",
                    "rescale_betas_zero_snr": True,
                    "set_alpha_to_one": True,
                    "snr_shift_scale": 3.0,
                    "timestep_spacing": "trailing",
                },
            ),
        },
    ),
    "modelscope": Architecture(
        pipeline_class="TextToVideoSDPipeline",
        source="damo-vilab/text-to-video-ms-1.7b unet, vae, text_encoder (OpenCLIP ViT-H text) config.json",
        tokenizer="clip",
        max_length=77,
        components={
            "unet": Component(
                "diffusers",
                "UNet3DConditionModel",
                {
                    "block_out_channels": (320, 640, 1280, 1280),
                    "layers_per_block": 2,
                    "cross_attention_dim": 1024,
                    "attention_head_dim": 64,
                    "in_channels": 4,
                    "out_channels": 4,
                    "norm_num_groups": 32,
                    "sample_size": 32,
                },
                smoke={
                    "block_out_channels": (8, 16),
                    "layers_per_block": 1,
                    "cross_attention_dim": 16,
                    "attention_head_dim": 4,
                    "norm_num_groups": 4,
                    "sample_size": 8,
                    "down_block_types": ("CrossAttnDownBlock3D", "DownBlock3D"),
                    "up_block_types": ("UpBlock3D", "CrossAttnUpBlock3D"),
                },
            ),
            "vae": Component(
                "diffusers",
                "AutoencoderKL",
                {
                    "block_out_channels": (128, 256, 512, 512),
                    "down_block_types": ("DownEncoderBlock2D",) * 4,
                    "up_block_types": ("UpDecoderBlock2D",) * 4,
                    "layers_per_block": 2,
                    "latent_channels": 4,
                    "norm_num_groups": 32,
                    "sample_size": 512,
                },
                smoke={
                    "block_out_channels": (8, 8, 8, 8),
                    "layers_per_block": 1,
                    "norm_num_groups": 4,
                    "sample_size": 64,
                },
            ),
            "text_encoder": Component(
                "transformers",
                "CLIPTextModel",
                {
                    "vocab_size": 49408,
                    "hidden_size": 1024,
                    "intermediate_size": 4096,
                    "num_hidden_layers": 23,
                    "num_attention_heads": 16,
                    "max_position_embeddings": 77,
                    "hidden_act": "gelu",
                    "projection_dim": 512,
                    "bos_token_id": 0,
                    "eos_token_id": 1,
                    "pad_token_id": 1,
                },
                smoke={
                    "hidden_size": 16,
                    "intermediate_size": 32,
                    "num_hidden_layers": 2,
                    "num_attention_heads": 2,
                    "projection_dim": 16,
                },
                config_cls="CLIPTextConfig",
            ),
            "scheduler": Component(
                "diffusers",
                "DDIMScheduler",
                {
                    "beta_schedule": "scaled_linear",
                    "beta_start": 0.00085,
                    "beta_end": 0.012,
                    "clip_sample": False,
                    "set_alpha_to_one": False,
                },
            ),
        },
    ),
}
# LTX-Video 0.9.5 keeps the 0.9 transformer's shape; its condition pipeline takes a fixed shift
# (the 0.9.5 scheduler config turns dynamic shifting off, and the pipeline passes no `mu`).
_ltx = _ARCHITECTURES["ltx-video"]
_ARCHITECTURES["ltx-video-i2v"] = Architecture(
    pipeline_class="LTXConditionPipeline",
    source="Lightricks/LTX-Video-0.9.5 config.json files (transformer and VAE shapes as 0.9)",
    tokenizer=_ltx.tokenizer,
    max_length=_ltx.max_length,
    components={
        **_ltx.components,
        "scheduler": Component(
            "diffusers", "FlowMatchEulerDiscreteScheduler", {"shift": 1.0, "use_dynamic_shifting": False}
        ),
    },
)
# Zeroscope is a fine-tune of ModelScope: the same architecture, trained at 576x320.
_ARCHITECTURES["zeroscope"] = _ARCHITECTURES["modelscope"]

_CHARS = [c for c in string.printable if not c.isspace()]


def architecture(preset_name: str) -> Architecture:
    try:
        return _ARCHITECTURES[preset_name]
    except KeyError:
        known = ", ".join(sorted(_ARCHITECTURES))
        raise ValueError(f"no published architecture for preset {preset_name!r}; known: {known}") from None


def known() -> list[str]:
    return list(_ARCHITECTURES)


def _tokenizer(kind: str, max_length: int) -> Any:
    """Character-level tokenizers built in memory: the real vocabularies need a download, and
    token ids only have to be valid for the text encoder, not meaningful."""
    if kind == "clip":
        from transformers import CLIPTokenizer

        tokens = ["<|startoftext|>", "<|endoftext|>", *_CHARS, *(c + "</w>" for c in _CHARS)]
        return CLIPTokenizer(
            vocab={t: i for i, t in enumerate(tokens)}, merges=[], model_max_length=max_length
        )
    from transformers import T5Tokenizer

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(c, -3.0) for c in _CHARS] + [("▁" + c, -3.0) for c in _CHARS]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=max_length)


def parameter_count(pipe: Any) -> int:
    import torch

    return sum(
        p.numel() for c in pipe.components.values() if isinstance(c, torch.nn.Module) for p in c.parameters()
    )


def build_random_pipeline(
    preset_name: str,
    *,
    smoke: bool = False,
    device: str = "cpu",
    dtype: Any = None,
) -> Any:
    """The preset's pipeline with random weights, built directly on ``device``.

    Building under ``torch.device(device)`` allocates the weights where they will run, so a
    5-billion-parameter text encoder never passes through host memory first.
    """
    import diffusers
    import torch
    import transformers

    arch = architecture(preset_name)
    torch.manual_seed(0)
    parts: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, comp in arch.components.items():
            config = {**comp.config, **(comp.smoke if smoke else {})}
            if name == "scheduler":
                # Schedulers keep their tables on the CPU on purpose; they are not weights.
                parts[name] = getattr(diffusers, comp.cls)(**config)
                continue
            with torch.device(device):
                parts[name] = _module(diffusers, transformers, comp, config, smoke)
            if dtype is not None:
                parts[name].to(dtype)
        parts["tokenizer"] = _tokenizer(arch.tokenizer, arch.max_length)
        return getattr(diffusers, arch.pipeline_class)(**parts)


def _module(diffusers: Any, transformers: Any, comp: Component, config: dict[str, Any], smoke: bool) -> Any:
    if comp.library == "transformers":
        config_cls = getattr(transformers, comp.config_cls or "")
        if smoke and comp.cls.endswith("T5EncoderModel"):
            config["vocab_size"] = 256  # the character tokenizer has under 200 tokens
        module = getattr(transformers, comp.cls)(config_cls(**config))
    else:
        module = getattr(diffusers, comp.cls)(**config)
    return module.eval()
