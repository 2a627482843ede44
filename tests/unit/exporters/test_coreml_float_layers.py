"""Core ML `float_layers`: the named Keras layers keep uncompressed weights (coremltools op_name_configs None), every
other weight is compressed, and the plan is in the manifest. Read from the saved package's MIL program: which op
produces each weight a computing op reads (a plain `const`, or a `constexpr_*` decompression)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.exports import read_json

from edgevit.errors import UsageError
from edgevit.exporters import export
from edgevit.exporters.coreml import WEIGHT_THRESHOLD, mil_operations

FLOAT_BLOCK = "Transformer_encoderblock_1"
FLOAT_SCOPE = f"_{FLOAT_BLOCK}_"  # how the block's name scope reads in MIL names (edgevit.layer_names.mil_name)


def _weights_by_consumer(folder) -> list[tuple[str, str, str]]:
    """(consuming op, type of the op producing its weight, that op's name) for every weight of WEIGHT_THRESHOLD
    elements or more."""
    import coremltools as ct

    spec = ct.models.MLModel(str(folder / "model.mlpackage"), skip_model_load=True).get_spec()
    operations = mil_operations(spec)
    producers = {}
    for op in operations:
        if op.type == "const" or op.type.startswith("constexpr_"):
            dims = op.outputs[0].type.tensorType.dimensions
            size = int(np.prod([d.constant.size for d in dims])) if len(dims) else 1
            producers[op.outputs[0].name] = (op.type, size)
    found = []
    for op in operations:
        if op.type == "const" or op.type.startswith("constexpr_"):
            continue
        for argument in op.inputs.values():
            for binding in argument.arguments:
                if binding.WhichOneof("binding") == "name" and binding.name in producers:
                    kind, size = producers[binding.name]
                    if size >= WEIGHT_THRESHOLD:
                        found.append((op.outputs[0].name, kind, binding.name))
    return found


@pytest.fixture(scope="module")
def int8_with_a_float_block(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("coreml-float-layers")
    return export("coreml", saved_model=tiny_run.saved_model, out_dir=out, quantization="int8", float_layers=[FLOAT_BLOCK])


def test_the_float_block_keeps_its_weights_and_every_other_weight_is_compressed(int8_with_a_float_block):
    weights = _weights_by_consumer(int8_with_a_float_block)
    inside = [kind for name, kind, _ in weights if FLOAT_SCOPE in name]
    outside = [kind for name, kind, _ in weights if FLOAT_SCOPE not in name]
    # q, k, v, the attention output and both MLP kernels: six weights in the block, all plain fp16 constants.
    assert len(inside) >= 6 and set(inside) == {"const"}, inside
    # The other three blocks (and the embedding, head) stay int8.
    assert len(outside) >= 18 and set(outside) == {"constexpr_affine_dequantize"}, outside


def test_the_plan_is_in_the_manifest_and_the_file_sits_between_int8_and_fp16(int8_with_a_float_block, tiny_artifacts):
    conversion = read_json(int8_with_a_float_block / "manifest.json")["conversion"]
    assert conversion["float_layers"] == [FLOAT_BLOCK]
    # The plan names exactly the constants the block's ops read.
    read_in_block = {weight for name, _, weight in _weights_by_consumer(int8_with_a_float_block) if FLOAT_SCOPE in name}
    assert len(read_in_block) == 6 and sorted(read_in_block) == conversion["float_ops"]

    shared = tiny_artifacts([("coreml", "int8"), ("coreml", "fp16")])  # built once for every test that needs them
    plain, fp16 = shared / "coreml-int8", shared / "coreml-fp16"
    int8, mixed, half = (read_json(f / "manifest.json")["file_size"] for f in (plain, int8_with_a_float_block, fp16))
    assert int8 < mixed < half
    assert "float_layers" not in read_json(plain / "manifest.json")["conversion"]


def test_a_layer_not_in_the_model_and_a_mode_without_compression_are_refused(tiny_run, tmp_path):
    with pytest.raises(UsageError, match="float layer 'Transformer_encoderblock_9' is not a layer of this model"):
        export("coreml", saved_model=tiny_run.saved_model, out_dir=tmp_path, quantization="palettize4",
               float_layers=["Transformer_encoderblock_9"])
    with pytest.raises(UsageError, match="fp16 has none to keep"):
        export("coreml", saved_model=tiny_run.saved_model, out_dir=tmp_path, quantization="fp16", float_layers=[FLOAT_BLOCK])
    assert not any(tmp_path.iterdir())
