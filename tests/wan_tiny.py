"""A tiny Wan2.1 text-to-video pipeline with random weights, saved like the real one.

The real weights are 29 GB and cannot be downloaded here; this pipeline has the same
components (UMT5 text encoder and tokenizer, Wan transformer, Wan VAE, flow-matching
scheduler) at a few hundred kilobytes, saved with ``save_pretrained`` so that the backend
loads it through the same ``from_pretrained`` path as the published model.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["build_tiny_wan"]

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def build_tiny_wan(folder: Path) -> Path:
    """Save a tiny random Wan pipeline in ``folder`` and return it (deterministic: the
    same weights every time)."""
    import torch
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanPipeline,
        WanTransformer3DModel,
    )
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    vocab.update({char: index + 3 for index, char in enumerate(_ALPHABET)})
    words = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    words.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=words,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=512,
    )
    text_encoder = UMT5EncoderModel(
        UMT5Config(
            vocab_size=64,
            d_model=16,
            d_kv=4,
            d_ff=32,
            num_layers=1,
            num_heads=2,
            relative_attention_num_buckets=8,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
    )
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=8,
        in_channels=16,
        out_channels=16,
        text_dim=16,
        freq_dim=32,
        ffn_dim=32,
        num_layers=1,
        rope_max_seq_len=1024,
    )
    vae = AutoencoderKLWan(
        base_dim=8,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )
    pipe = WanPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        transformer=transformer,
    )
    pipe.save_pretrained(folder)
    return folder
