"""Read a Hugging Face (model.safetensors + config.json) or timm (.safetensors) ViT checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

from edgevit.errors import ModelError
from edgevit.weights import families
from edgevit.weights.layout import SourceViT

# config.json `model_type` -> the family its tensor names follow.
HF_MODEL_TYPES = {"vit": families.HF_VIT, "dinov2": families.HF_DINOV2}
_REGISTER_TYPES = ("dinov2_with_registers",)


def load_state(path: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"{path}: not a readable safetensors file ({reason}); the file is truncated or corrupt, "
                         "download it again") from None


def read_config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not a readable config.json ({type(exc).__name__}); pass the config.json saved "
                         "with the checkpoint") from None
    if not isinstance(config, dict):
        raise ModelError(f"{path}: config.json must hold a JSON object")
    return config


def _hf_family(config: dict, config_path: Path) -> str:
    model_type = config.get("model_type")
    if model_type in _REGISTER_TYPES or int(config.get("num_register_tokens", 0) or 0) > 0:
        raise ModelError(f"{config_path}: the model has register tokens ({model_type}); edgevit cannot import register "
                         "tokens yet: use a checkpoint without registers")
    if model_type not in HF_MODEL_TYPES:
        raise ModelError(f"{config_path}: unknown architecture model_type={model_type!r} "
                         f"(architectures {config.get('architectures')}); edgevit imports model_type "
                         f"{', '.join(sorted(HF_MODEL_TYPES))} and timm ViTs")
    act = config.get("hidden_act", "gelu")
    if act != "gelu":
        raise ModelError(f"{config_path}: hidden_act {act!r} differs from vit-keras's exact GELU; only 'gelu' imports exactly")
    if config.get("use_swiglu_ffn"):
        raise ModelError(f"{config_path}: a SwiGLU DINOv2 (use_swiglu_ffn) has no vit-keras equivalent")
    if config.get("qkv_bias") is False:
        raise ModelError(f"{config_path}: qkv_bias=false checkpoints are not supported (vit-keras always has q/k/v biases)")
    return HF_MODEL_TYPES[model_type]


def _normalisation(folder: Path) -> tuple | None:
    """image_mean / image_std from preprocessor_config.json beside the checkpoint (Hugging Face), if present."""
    pre = folder / "preprocessor_config.json"
    if not pre.is_file():
        return None
    config = read_config(pre)
    mean, std = config.get("image_mean"), config.get("image_std")
    if isinstance(mean, list) and isinstance(std, list) and len(mean) == 3 and len(std) == 3:
        return tuple(float(v) for v in mean), tuple(float(v) for v in std)
    return None


def read_safetensors(path: Path, config_path: Path | None) -> SourceViT:
    state = load_state(path)
    what = str(path)
    config_path = config_path or (path.parent / "config.json" if (path.parent / "config.json").is_file() else None)
    config = read_config(config_path) if config_path is not None else None
    family = families.detect_family(state)
    if config is not None and "model_type" in config:
        expected = _hf_family(config, config_path)
        classifier = state.get("classifier.weight")  # a *ForImageClassification head, outside the "dinov2." prefix
        state = families.strip_prefix(state, "embeddings.cls_token")
        if families.detect_family(state) != expected:
            raise families.not_a_vit(state, f"{what} (config.json says {config['model_type']})")
        source = families.from_hf(state, expected, heads=int(config["num_attention_heads"]), what=what)
        eps = float(config.get("layer_norm_eps", 1e-6))
        if abs(eps - 1e-6) > 1e-9:
            source.notes.append(f"layer_norm_eps {eps:g} in the source, 1e-06 in vit-keras")
        if classifier is not None and classifier.ndim == 2 and classifier.shape[1] == 2 * source.width:
            source.pool = "token+mean"  # Dinov2ForImageClassification: [class token, mean of patch tokens]
        norm = _normalisation(config_path.parent)
        if norm is not None:
            source.mean, source.std = norm
        source.source = f"{expected} (safetensors + config.json)"
        return source
    if family == families.TIMM:
        source = families.from_timm(families.strip_prefix(state, "patch_embed.proj.weight"), what=what)
        if config is not None:
            _apply_timm_config(source, config, config_path)
        source.source = "timm ViT (safetensors, fused qkv)"
        return source
    if family in (families.HF_VIT, families.HF_DINOV2):
        raise ModelError(f"{what}: a Hugging Face checkpoint needs its config.json (number of heads, architecture); "
                         "put it beside the file or pass --config")
    if config is not None and "architecture" not in config:
        raise ModelError(f"{config_path}: unknown architecture (no model_type or timm architecture); edgevit imports "
                         f"model_type {', '.join(sorted(HF_MODEL_TYPES))} and timm ViTs")
    raise families.not_a_vit(state, what)


def _apply_timm_config(source: SourceViT, config: dict, config_path: Path) -> None:
    """timm's hub config.json: {"architecture": ..., "pretrained_cfg": {"mean", "std"}, "model_args": {...}}."""
    arch = str(config.get("architecture", ""))
    if not arch.startswith(("vit_", "deit_")):
        raise ModelError(f"{config_path}: unknown architecture {arch!r}; edgevit imports timm vit_* / deit_* models")
    cfg = config.get("pretrained_cfg") or {}
    if isinstance(cfg.get("mean"), list) and isinstance(cfg.get("std"), list):
        source.mean, source.std = tuple(cfg["mean"]), tuple(cfg["std"])
    args = config.get("model_args") or {}
    if (config.get("global_pool") or args.get("global_pool")) == "avg":
        source.pool = "mean"
    if args.get("num_heads"):
        source.heads = int(args["num_heads"])

