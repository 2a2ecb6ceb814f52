"""Tiny, randomly initialised versions of the pipelines behind the real presets.

Each builder uses the same component classes as the preset's real checkpoint (the classes its
`model_index.json` names), with small configs in the spirit of diffusers' own pipeline tests.
Where it decides what the preset's rules must match (the VAE's temporal compression, which
sets the frame rule; the spatial compression times the patch size, which sets the size
multiple), the tiny model keeps the real value. Everything else is shrunk so a render takes
well under a second on a CPU. Nothing is downloaded: tokenizers are built from in-memory
character vocabularies, like `engine.tiny` does for CLIP.
"""

from __future__ import annotations

import string
import warnings
from collections.abc import Callable
from typing import Any

import torch

# T5-family text encoders here are all this size; the denoisers' text widths follow it.
TEXT_DIM = 16

_CHARS = [c for c in string.printable if not c.isspace()]


def tiny_t5_tokenizer(model_max_length: int = 512) -> Any:
    """A T5 (Unigram) tokenizer over single characters, built without a sentencepiece file.

    The layout mirrors T5's: <pad>=0, </s>=1, <unk>=2. Words split into characters, so
    different prompts always give different ids.
    """
    from transformers import T5Tokenizer

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(c, -3.0) for c in _CHARS] + [("▁" + c, -3.0) for c in _CHARS]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=model_max_length)


def _t5_config_kwargs(vocab_size: int) -> dict[str, Any]:
    return {
        "vocab_size": vocab_size,
        "d_model": TEXT_DIM,
        "d_kv": 4,
        "d_ff": 32,
        "num_layers": 2,
        "num_heads": 4,
        "relative_attention_num_buckets": 8,
        "relative_attention_max_distance": 32,
        "dropout_rate": 0.0,
        "pad_token_id": 0,
        "eos_token_id": 1,
        "decoder_start_token_id": 0,
    }


def tiny_t5_encoder(vocab_size: int) -> Any:
    from transformers import T5Config, T5EncoderModel

    return T5EncoderModel(T5Config(**_t5_config_kwargs(vocab_size)))


def tiny_umt5_encoder(vocab_size: int) -> Any:
    from transformers import UMT5Config, UMT5EncoderModel

    return UMT5EncoderModel(UMT5Config(**_t5_config_kwargs(vocab_size)))


def _assemble(pipeline_cls: Any, **components: Any) -> Any:
    # Modules built directly start in training mode (dropout on); from_pretrained sets eval.
    for component in components.values():
        if isinstance(component, torch.nn.Module):
            component.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pipeline_cls(**components)


def build_tiny_ltx() -> Any:
    """LTX-Video: real VAE compression (32x spatial via patch 4 and three 2x stages, 8x in time)."""
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        num_layers=1,
        caption_channels=TEXT_DIM,
    )
    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, False),
        decoder_spatio_temporal_scaling=(True, True, True, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False,
        patch_size=4,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    # The scheduler config of Lightricks/LTX-Video.
    scheduler = FlowMatchEulerDiscreteScheduler(
        base_image_seq_len=1024,
        base_shift=0.95,
        max_image_seq_len=4096,
        max_shift=2.05,
        shift=1.0,
        shift_terminal=0.1,
        use_dynamic_shifting=True,
    )
    tokenizer = tiny_t5_tokenizer(model_max_length=128)
    text_encoder = tiny_t5_encoder(len(tokenizer))
    return _assemble(
        LTXPipeline,
        transformer=transformer,
        vae=vae,
        scheduler=scheduler,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
    )


def build_tiny_wan() -> Any:
    """Wan 2.1: real VAE compression (8x spatial, 4x in time) and transformer patch (1, 2, 2)."""
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel

    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=TEXT_DIM,
        freq_dim=32,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    # z_dim stays 16: the default latents_mean/latents_std have 16 channels.
    vae = AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )
    # The scheduler config of Wan-AI/Wan2.1-T2V-1.3B-Diffusers.
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        flow_shift=3.0,
        num_train_timesteps=1000,
    )
    tokenizer = tiny_t5_tokenizer(model_max_length=512)
    text_encoder = tiny_umt5_encoder(len(tokenizer))
    return _assemble(
        WanPipeline,
        transformer=transformer,
        vae=vae,
        scheduler=scheduler,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
    )


def build_tiny_cogvideox() -> Any:
    """CogVideoX 2B: real VAE compression (8x spatial, 4x in time), patch 2, sinusoidal positions."""
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
    )

    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2,
        attention_head_dim=8,
        in_channels=4,
        out_channels=4,
        time_embed_dim=4,
        text_embed_dim=TEXT_DIM,
        num_layers=1,
        sample_width=4,
        sample_height=2,
        sample_frames=9,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=226,
    )
    vae = AutoencoderKLCogVideoX(
        in_channels=3,
        out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    # The scheduler config of THUDM/CogVideoX-2b.
    scheduler = CogVideoXDDIMScheduler(
        beta_schedule="scaled_linear",
        clip_sample=False,
        prediction_type="v_prediction",
        rescale_betas_zero_snr=True,
        set_alpha_to_one=True,
        snr_shift_scale=3.0,
        timestep_spacing="trailing",
    )
    tokenizer = tiny_t5_tokenizer(model_max_length=226)
    text_encoder = tiny_t5_encoder(len(tokenizer))
    return _assemble(
        CogVideoXPipeline,
        transformer=transformer,
        vae=vae,
        scheduler=scheduler,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
    )


def build_tiny_text_to_video_sd() -> Any:
    from engine.tiny import build_tiny_pipeline

    return build_tiny_pipeline()


def build_tiny_ltx_condition() -> Any:
    from engine.tiny import build_tiny_i2v_pipeline

    return build_tiny_i2v_pipeline()


BUILDERS: dict[str, Callable[[], Any]] = {
    "LTXPipeline": build_tiny_ltx,
    "LTXConditionPipeline": build_tiny_ltx_condition,
    "WanPipeline": build_tiny_wan,
    "CogVideoXPipeline": build_tiny_cogvideox,
    "TextToVideoSDPipeline": build_tiny_text_to_video_sd,
}


def build_tiny(pipeline_class_name: str, seed: int = 0) -> Any:
    """A tiny random-weight pipeline of the named diffusers class, ready to `save_pretrained`."""
    try:
        builder = BUILDERS[pipeline_class_name]
    except KeyError:
        raise ValueError(f"no tiny builder for {pipeline_class_name}; known: {', '.join(BUILDERS)}") from None
    torch.manual_seed(seed)
    return builder()
