"""Read the ViT inside an ONNX export (a Hugging Face ViT / DINOv2, or a timm ViT, possibly with other heads).

Named initializers keep their PyTorch names. The exporter strips the names of MatMul weights
(`onnx::MatMul_1966`) and of constant-folded position embeddings; the MatMul's node name still carries the
module path (`/backbone/encoder/layer.0/attention/attention/query/MatMul`), so the weight gets the name
`backbone.encoder.layer.0.attention.attention.query.weight` (transposed back to PyTorch's (out, in)).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from edgevit.errors import ModelError
from edgevit.weights import families
from edgevit.weights.layout import SourceViT
from edgevit.weights.resample import BICUBIC


def load_model(path: Path):
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path))
    except (DecodeError, OSError, ValueError, RuntimeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"{path}: not a readable ONNX model ({reason}); the file is truncated or corrupt") from None
    if not model.graph.node:
        raise ModelError(f"{path}: not a readable ONNX model (no graph nodes); the file is truncated or corrupt")
    return model


def _module_path(node_name: str, suffix: str) -> str | None:
    """'/backbone/encoder/layer.0/attention/attention/query/MatMul' -> 'backbone.encoder.layer.0.attention.attention.query.weight'."""
    parts = [p for p in node_name.split("/") if p]
    if len(parts) < 2 or not parts[-1].startswith(("MatMul", "Gemm")):
        return None
    return ".".join(parts[:-1]) + suffix


def state_from_graph(model) -> tuple[dict, dict]:
    """(name -> array in PyTorch layout, facts read from the graph: head dim, resize attributes)."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    arrays: dict[str, np.ndarray] = {}
    for name, init in inits.items():
        if not name.startswith("onnx::"):
            arrays[name] = numpy_helper.to_array(init)
    constants = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node
                 if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"}
    facts: dict = {}
    for node in graph.node:
        if node.op_type in ("MatMul", "Gemm") and len(node.input) > 1 and node.input[1] in inits:
            name = _module_path(node.name, ".weight")
            if name is not None and name not in arrays:
                weight = numpy_helper.to_array(inits[node.input[1]])
                trans_b = any(a.name == "transB" and a.i for a in node.attribute)
                arrays[name] = weight if trans_b else weight.T
        if node.op_type == "Resize" and "/embeddings/" in node.name:
            facts["resize"] = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type in ("Mul", "Div") and "/attention/" in node.name and "head_scale" not in facts:
            scalars = [constants[i] for i in node.input if i in constants and constants[i].size == 1]
            if scalars and "/layer.0/" in node.name:
                facts["head_scale"] = (node.op_type, float(scalars[0]))
    # Position embeddings that the exporter constant-folded lose their names: the class position (1, 1, D)
    # and the patch grid (1, G*G, D) consumed inside the embeddings module.
    if not any(k.endswith("embeddings.position_embeddings") for k in arrays):
        cls_key = next((k for k in arrays if k.endswith("embeddings.cls_token")), None)
        if cls_key is not None:
            width = arrays[cls_key].shape[-1]
            unnamed = {i for n in graph.node if "/embeddings/" in n.name for i in n.input if i.startswith("onnx::") and i in inits}
            pieces = {name: numpy_helper.to_array(inits[name]) for name in unnamed}
            cls_pos = [a for a in pieces.values() if a.shape == (1, 1, width)]
            grids = [a for a in pieces.values() if a.ndim == 3 and a.shape[-1] == width and a.shape[1] > 1]
            if len(cls_pos) == 1 and len(grids) == 1:
                arrays[cls_key.replace("cls_token", "position_embeddings")] = np.concatenate([cls_pos[0], grids[0]], axis=1)
    return arrays, facts


def _heads(facts: dict, width: int) -> int | None:
    """The attention scale in the graph gives the head size: 1/sqrt(d) once, or d^-1/4 on both q and k (DINOv2)."""
    if "head_scale" not in facts:
        return None
    op, value = facts["head_scale"]
    if value <= 0:
        return None
    candidates = [value ** -4, value ** -2] if op == "Mul" else [value ** 2, value ** 4]
    for head_dim in candidates:
        d = round(head_dim)
        if d > 0 and abs(head_dim - d) < 1e-3 and width % d == 0:
            return width // d
    return None


def read_onnx(path: Path) -> SourceViT:
    model = load_model(path)
    state, facts = state_from_graph(model)
    what = str(path)
    family = families.detect_family(state)
    if family is None:
        raise families.not_a_vit(state, what)
    if family == families.TIMM:
        source = families.from_timm(families.strip_prefix(state, "patch_embed.proj.weight"), what=what)
    else:
        state = families.strip_prefix(state, "embeddings.cls_token")
        source = families.from_hf(state, family, heads=None, what=what)
    source.heads = _heads(facts, source.width)
    resize = facts.get("resize")
    if resize is not None:
        mode = resize.get("mode", b"nearest").decode()
        coeff = float(resize.get("cubic_coeff_a", -0.75))
        transform = resize.get("coordinate_transformation_mode", b"half_pixel").decode()
        antialias = int(resize.get("antialias", 0))
        if (mode, transform, antialias) != ("cubic", "half_pixel", 0) or abs(coeff + 0.75) > 1e-6:
            raise ModelError(f"{what}: the graph resizes its position embeddings with mode={mode}, a={coeff}, "
                             f"{transform}, antialias={antialias}; edgevit reproduces cubic a=-0.75 half_pixel only")
        source.interpolation = BICUBIC
        source.notes.append("position-grid interpolation read from the graph's Resize node (cubic, a=-0.75, half_pixel)")
    if not math.isfinite(float(np.abs(source.patch_w).max())):
        raise ModelError(f"{what}: the patch embedding holds NaN or infinite values")
    source.source = f"{family} (ONNX, opset {max(o.version for o in model.opset_import)})"
    return source
