"""Read and amend a .tflite file without TensorFlow: its op list, its metadata and its packed labels.

Labels travel the way TFLite metadata defines it (tflite-support's metadata_schema.fbs, file
identifier "M001"): a `TFLITE_METADATA` entry in the model's metadata points at a buffer holding a
ModelMetadata flatbuffer, whose output tensor names an associated file `labels.txt` of type
TENSOR_AXIS_LABELS; the file itself is appended to the .tflite as an uncompressed zip archive (the
model file is then also a valid zip). This is what the TFLite Task Library (Android, iOS
TensorFlowLiteTaskVision) and MediaPipe's ImageClassifier read; LiteRT's interpreter ignores both the
metadata and the appended bytes. tflite-support itself is not installable next to numpy 2 and
protobuf 7, so the metadata flatbuffer is built here with the `flatbuffers` builder, field by field
in schema order.
"""

from __future__ import annotations

import io
import mmap
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

METADATA_NAME = "TFLITE_METADATA"
MIN_RUNTIME_NAME = b"min_runtime_version"  # the converter's metadata entry naming the oldest runtime that loads the model
METADATA_IDENTIFIER = b"M001"
TFLITE_IDENTIFIER = b"TFL3"
FLATBUFFER_LIMIT = 2**31  # a flatbuffer's offsets are 32-bit signed: a larger model keeps its weights outside it
LABELS_FILE = "labels.txt"
MIN_PARSER_VERSION = "1.0.0"  # every field written here exists since metadata schema 1.0.0

# metadata_schema.fbs enum values used here.
_TENSOR_AXIS_LABELS = 2  # AssociatedFileType
_RGB = 1  # ColorSpaceType
_FEATURE_PROPERTIES, _IMAGE_PROPERTIES = 1, 2  # ContentProperties union
_NORMALIZATION_OPTIONS = 1  # ProcessUnitOptions union

# Builtin ops that mean the weights were not embedded (resource variables survived conversion).
_VARIABLE_OPS = {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"}


def _schema():
    # LiteRT's copy of the TFLite schema (tflite/schema.fbs), importable without TensorFlow.
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


# --------------------------------------------------------------------------------------------- ops


def _op_names(root) -> list[str]:
    """The name of each operator code of the model, by index: builtin op names, custom ops as their custom code."""
    fb = _schema()
    names = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    codes = []
    for i in range(root.OperatorCodesLength()):
        code = root.OperatorCodes(i)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())  # the schema's two code fields
        if builtin == fb.BuiltinOperator.CUSTOM:
            codes.append((code.CustomCode() or b"?").decode())
        else:
            codes.append(names.get(builtin, f"BUILTIN_{builtin}"))
    return codes


def operator_counts(model: bytes) -> dict[str, int]:
    """Op name -> how many operators use it, over every subgraph. Custom ops appear as their custom code."""
    return dict(sorted(Counter(op.op for op in operators(model)).items()))


@dataclass(frozen=True)
class Operator:
    """One operator of a .tflite: its op name, its output tensors' names, and its inputs' tensor types."""

    op: str  # e.g. FULLY_CONNECTED
    outputs: tuple[str, ...]  # tensor names; each may carry several fused TF op names (edgevit.layer_names)
    input_types: tuple[str | None, ...]  # TensorType names (FLOAT32, INT8, ...); None for an absent optional input


def operators(model) -> list[Operator]:
    """Every operator of every subgraph, in order."""
    fb = _schema()
    root = fb.Model.GetRootAs(model, 0)
    codes = _op_names(root)
    types = {v: k for k, v in vars(fb.TensorType).items() if not k.startswith("_")}
    found = []
    for s in range(root.SubgraphsLength()):
        subgraph = root.Subgraphs(s)
        for k in range(subgraph.OperatorsLength()):
            op = subgraph.Operators(k)
            outputs = tuple((subgraph.Tensors(i).Name() or b"").decode() for i in op.OutputsAsNumpy() if i >= 0) \
                if op.OutputsLength() else ()
            inputs = tuple(types.get(subgraph.Tensors(i).Type()) if i >= 0 else None for i in op.InputsAsNumpy()) \
                if op.InputsLength() else ()
            found.append(Operator(codes[op.OpcodeIndex()], outputs, inputs))
    return found


def op_versions(model) -> list[tuple[str, int]]:
    """(op name, version) of every operator code the model declares, sorted: what a runtime must implement to load it.

    One op may appear at two versions (say FULLY_CONNECTED 9 for float weights and 12 for per-channel int8)."""
    root = _schema().Model.GetRootAs(model, 0)
    return sorted({(name, int(root.OperatorCodes(i).Version())) for i, name in enumerate(_op_names(root))})


def min_runtime_version(model) -> str | None:
    """The `min_runtime_version` metadata the converter wrote: the oldest TFLite runtime that has every op
    version the model uses (by the converter's own table). None when the model carries none."""
    fb = _schema()
    root = fb.Model.GetRootAs(model, 0)
    for i in range(root.MetadataLength()):
        entry = root.Metadata(i)
        if entry.Name() == MIN_RUNTIME_NAME:
            # A fixed 16-byte buffer, the version string padded with NULs.
            text = root.Buffers(entry.Buffer()).DataAsNumpy().tobytes().split(b"\0", 1)[0].decode("ascii", "replace")
            return text or None
    return None


def non_builtin_ops(counts: dict[str, int]) -> list[str]:
    """Ops that a stock LiteRT runtime cannot run as shipped: Flex (SELECT_TF_OPS), other custom ops, variables."""
    fb = _schema()
    builtin = {k for k in vars(fb.BuiltinOperator) if not k.startswith("_")} - {"CUSTOM"}
    return sorted(op for op in counts if op not in builtin or op in _VARIABLE_OPS)


# ----------------------------------------------------------------------------- metadata (writing)


@dataclass(frozen=True)
class ClassifierMetadata:
    """What the metadata says about an image classifier (mirrors the artifact manifest)."""

    name: str
    description: str
    version: str
    labels: tuple[str, ...]
    height: int
    width: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_name: str = "images"
    output_name: str = "probabilities"
    author: str = "edgevit"


class _Writer:
    """A thin layer over flatbuffers.Builder: children are built before the table that points at them."""

    def __init__(self):
        import flatbuffers

        self.b = flatbuffers.Builder(1024)

    def string(self, text: str) -> int:
        return self.b.CreateString(text)

    def offsets(self, items: list[int]) -> int:
        self.b.StartVector(4, len(items), 4)
        for item in reversed(items):
            self.b.PrependUOffsetTRelative(item)
        return self.b.EndVector()

    def floats(self, values) -> int:
        values = list(values)
        self.b.StartVector(4, len(values), 4)
        for value in reversed(values):
            self.b.PrependFloat32(float(value))
        return self.b.EndVector()

    def table(self, num_fields: int, *, offsets: dict[int, int] | None = None, bytes_: dict[int, int] | None = None,
              uints: dict[int, int] | None = None) -> int:
        """A table of `num_fields` slots; slot -> child offset, int8 (enums, union types) or uint32 value."""
        b = self.b
        b.StartObject(num_fields)
        for slot, value in (offsets or {}).items():
            b.PrependUOffsetTRelativeSlot(slot, value, 0)
        for slot, value in (uints or {}).items():
            b.PrependUint32Slot(slot, value, 0)
        for slot, value in (bytes_ or {}).items():
            b.PrependInt8Slot(slot, value, 0)
        return b.EndObject()


def metadata_flatbuffer(meta: ClassifierMetadata) -> bytes:
    """A ModelMetadata flatbuffer ("M001") describing one image input and one labelled probability output.

    Field slots follow metadata_schema.fbs: ModelMetadata(name 0, description 1, version 2,
    subgraph_metadata 3, author 4, license 5, associated_files 6, min_parser_version 7);
    SubGraphMetadata(name 0, description 1, input_tensor_metadata 2, output_tensor_metadata 3);
    TensorMetadata(name 0, description 1, dimension_names 2, content 3, process_units 4, stats 5,
    associated_files 6); Content(content_properties_type 0, content_properties 1);
    ImageProperties(color_space 0, default_size 1); ImageSize(width 0, height 1);
    ProcessUnit(options_type 0, options 1); NormalizationOptions(mean 0, std 1); Stats(max 0, min 1);
    AssociatedFile(name 0, description 1, type 2).
    """
    w = _Writer()
    low = [(0.0 - m) / s for m, s in zip(meta.mean, meta.std)]
    high = [(255.0 - m) / s for m, s in zip(meta.mean, meta.std)]

    # Input: an RGB image, normalised (x - mean) / std per channel from 0..255 pixels.
    size = w.table(2, uints={0: meta.width, 1: meta.height})
    image = w.table(2, offsets={1: size}, bytes_={0: _RGB})
    image_content = w.table(3, offsets={1: image}, bytes_={0: _IMAGE_PROPERTIES})
    norm = w.table(2, offsets={0: w.floats(meta.mean), 1: w.floats(meta.std)})
    unit = w.table(2, offsets={1: norm}, bytes_={0: _NORMALIZATION_OPTIONS})
    input_stats = w.table(2, offsets={0: w.floats(high), 1: w.floats(low)})
    input_tensor = w.table(7, offsets={
        0: w.string(meta.input_name),
        1: w.string(f"{meta.width}x{meta.height} RGB image, normalised per channel as (pixel - mean) / std"),
        3: image_content, 4: w.offsets([unit]), 5: input_stats,
    })

    # Output: one probability per class, labelled by labels.txt (one name a line, in class order).
    labels_file = w.table(5, offsets={0: w.string(LABELS_FILE), 1: w.string("class names, one a line, in output order")},
                          bytes_={2: _TENSOR_AXIS_LABELS})
    feature = w.table(0)
    output_content = w.table(3, offsets={1: feature}, bytes_={0: _FEATURE_PROPERTIES})
    output_stats = w.table(2, offsets={0: w.floats([1.0]), 1: w.floats([0.0])})
    output_tensor = w.table(7, offsets={
        0: w.string(meta.output_name),
        1: w.string(f"softmax probabilities over {len(meta.labels)} classes"),
        3: output_content, 5: output_stats, 6: w.offsets([labels_file]),
    })

    subgraph = w.table(10, offsets={0: w.string("image_classifier"), 2: w.offsets([input_tensor]), 3: w.offsets([output_tensor])})
    root = w.table(8, offsets={
        0: w.string(meta.name), 1: w.string(meta.description), 2: w.string(meta.version),
        3: w.offsets([subgraph]), 4: w.string(meta.author), 7: w.string(MIN_PARSER_VERSION),
    })
    w.b.Finish(root, file_identifier=METADATA_IDENTIFIER)
    return bytes(w.b.Output())


def _aligned_buffer_type():
    """BufferT whose data vector is 16-byte aligned, as the TFLite converter writes it (the generated
    Pack aligns numpy data to its item size only, which would misalign weights for SIMD kernels)."""
    fb = _schema()

    class AlignedBufferT(fb.BufferT):
        def Pack(self, builder):  # noqa: N802 (flatbuffers' name)
            data = None
            if self.data is not None:
                payload = np.asarray(self.data, dtype=np.uint8).tobytes()
                builder.StartVector(1, len(payload), 16)
                builder.head -= len(payload)
                builder.Bytes[builder.head : builder.head + len(payload)] = payload
                data = builder.EndVector()
            fb.BufferStart(builder)
            if data is not None:
                fb.BufferAddData(builder, data)
            fb.BufferAddOffset(builder, self.offset)
            fb.BufferAddSize(builder, self.size)
            return fb.BufferEnd(builder)

    return AlignedBufferT


def write_with_metadata(model: bytes, meta: ClassifierMetadata, path: Path, *, hybrid_op_versions: dict[str, int] | None = None) -> None:
    """Write the model with a TFLITE_METADATA entry to `path` (then `append_labels` to it).

    hybrid_op_versions: op name -> the version to declare for that op where it computes on float activations with
    int8 weights (a model quantized by a tool that does not version ops); its min_runtime_version follows."""
    import flatbuffers

    fb = _schema()
    metadata = metadata_flatbuffer(meta)
    obj = fb.ModelT.InitFromObj(fb.Model.GetRootAs(model, 0))
    if any(b.offset for b in obj.buffers or []) and len(model) >= FLATBUFFER_LIMIT:
        # Buffers past 2 GB live outside the flatbuffer; re-packing those is not supported here.
        raise ValueError("model buffers are stored by offset (> 2 GB model); metadata cannot be attached")
    aligned = _aligned_buffer_type()
    # AI Edge Quantizer stores every buffer by offset, after the flatbuffer, whatever the model's size (a layout
    # older TFLite runtimes cannot read): below 2 GB they are written back inline, as the converter writes them.
    obj.buffers = [aligned(data=np.frombuffer(model, np.uint8, b.size, b.offset) if b.offset else b.data)
                   for b in obj.buffers]
    if hybrid_op_versions is not None:
        _version_hybrid_ops(obj, hybrid_op_versions)
    obj.metadata = [m for m in (obj.metadata or []) if (m.name or b"").decode() != METADATA_NAME]
    entry = fb.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(obj.buffers)
    obj.buffers.append(aligned(data=np.frombuffer(metadata, dtype=np.uint8)))
    obj.metadata.append(entry)
    # Sized up front so the builder never doubles and copies a model of hundreds of MB.
    builder = flatbuffers.Builder(len(model) + len(metadata) + (1 << 20))
    builder.Finish(obj.Pack(builder), file_identifier=TFLITE_IDENTIFIER)
    del obj
    with open(path, "wb") as f:
        # Straight from the builder's buffer: Output() would copy the whole model once more.
        f.write(memoryview(builder.Bytes)[builder.Head() :])


def _version_hybrid_ops(obj, versions: dict[str, int]) -> None:
    """Point every op with float activations and constant int8 weights at an operator code of the version
    `versions` gives its op (ValueError for an op it has none for), and raise min_runtime_version to match."""
    from edgevit.compat import is_newer, tflite_op_runtime

    fb = _schema()
    names = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    codes: dict[tuple[int, int], int] = {}  # (builtin, version) -> operator code index
    for index, code in enumerate(obj.operatorCodes):
        codes.setdefault((max(code.builtinCode, code.deprecatedBuiltinCode), code.version), index)
    needed = []
    for subgraph in obj.subgraphs:
        tensors = subgraph.tensors
        for op in subgraph.operators:
            inputs = [tensors[i] for i in (op.inputs if op.inputs is not None else []) if i >= 0]
            weights = [t for t in inputs if t.type == fb.TensorType.INT8 and obj.buffers[t.buffer].data is not None
                       and len(obj.buffers[t.buffer].data)]
            if not weights or not any(t.type == fb.TensorType.FLOAT32 for t in inputs):
                continue
            code = obj.operatorCodes[op.opcodeIndex]
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
            name = names.get(builtin, f"BUILTIN_{builtin}")
            if name not in versions:
                raise ValueError(f"{name} computes on float activations with int8 weights and the version that needs is not "
                                 "known here, so the runtimes that load the model cannot be stated")
            key = (builtin, versions[name])
            if key not in codes:
                new = fb.OperatorCodeT()
                new.builtinCode, new.deprecatedBuiltinCode, new.version = builtin, min(builtin, 127), versions[name]
                obj.operatorCodes.append(new)
                codes[key] = len(obj.operatorCodes) - 1
            op.opcodeIndex = codes[key]
            needed.append(tflite_op_runtime(name, versions[name]))
    # The codes no op uses any more go: a model declares what a runtime must implement to load it.
    used = sorted({op.opcodeIndex for subgraph in obj.subgraphs for op in subgraph.operators})
    renumber = {old: new for new, old in enumerate(used)}
    obj.operatorCodes = [obj.operatorCodes[i] for i in used]
    for subgraph in obj.subgraphs:
        for op in subgraph.operators:
            op.opcodeIndex = renumber[op.opcodeIndex]
    for entry in obj.metadata or []:
        if entry.name == MIN_RUNTIME_NAME:
            data = obj.buffers[entry.buffer].data
            current = bytes(data).split(b"\0", 1)[0].decode("ascii", "replace")
            for version in needed:
                if version and is_newer(version, current):
                    current = version
            obj.buffers[entry.buffer].data = np.frombuffer(current.encode().ljust(len(data), b"\0"), np.uint8)


def append_labels(model_file: Path, labels) -> None:
    """Append labels.txt to the model file as a zip archive whose offsets count from the file's start.

    Written with zipfile's "w" mode from the end of the file rather than "a" mode: "a" first searches
    the file's tail for a zip end record, and weight bytes could happen to look like one.
    """
    with open(model_file, "r+b") as f:
        f.seek(0, io.SEEK_END)
        # Stored uncompressed: metadata readers memory-map associated files in place.
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
            info = zipfile.ZipInfo(LABELS_FILE, date_time=(1980, 1, 1, 0, 0, 0))  # fixed: same model, same bytes
            archive.writestr(info, "\n".join(labels) + "\n")


# ----------------------------------------------------------------------------- metadata (reading)


class _Table:
    """Read access to one flatbuffer table (what generated code does, for the few fields read here)."""

    def __init__(self, buf: bytes, pos: int):
        from flatbuffers import table

        self.t = table.Table(bytearray(buf) if not isinstance(buf, bytearray) else buf, pos)

    def _offset(self, slot: int) -> int:
        return self.t.Offset(4 + 2 * slot)

    def string(self, slot: int) -> str | None:
        o = self._offset(slot)
        return self.t.String(o + self.t.Pos).decode() if o else None

    def byte(self, slot: int) -> int:
        from flatbuffers import number_types as N

        o = self._offset(slot)
        return self.t.Get(N.Int8Flags, o + self.t.Pos) if o else 0

    def uint(self, slot: int) -> int:
        from flatbuffers import number_types as N

        o = self._offset(slot)
        return self.t.Get(N.Uint32Flags, o + self.t.Pos) if o else 0

    def table(self, slot: int) -> "_Table | None":
        o = self._offset(slot)
        return _Table(self.t.Bytes, self.t.Indirect(o + self.t.Pos)) if o else None

    def tables(self, slot: int) -> list["_Table"]:
        o = self._offset(slot)
        if not o:
            return []
        start = self.t.Vector(o)
        return [_Table(self.t.Bytes, self.t.Indirect(start + 4 * i)) for i in range(self.t.VectorLen(o))]

    def floats(self, slot: int) -> list[float]:
        o = self._offset(slot)
        if not o:
            return []
        from flatbuffers import number_types as N

        return self.t.GetVectorAsNumpy(N.Float32Flags, o).tolist()


def read_metadata(model_file: Path) -> dict:
    """The TFLite metadata of a .tflite written by edgevit (or any classifier with image metadata) as a dict."""
    with open(model_file, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return _read_metadata(data, model_file)


def _read_metadata(data, model_file: Path) -> dict:
    fb = _schema()
    root = fb.Model.GetRootAs(data, 0)
    buffer = None
    for i in range(root.MetadataLength()):
        entry = root.Metadata(i)
        if entry.Name() and entry.Name().decode() == METADATA_NAME:
            buffer = root.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
    if buffer is None:
        raise ValueError(f"{model_file}: no {METADATA_NAME} entry")
    if buffer[4:8] != METADATA_IDENTIFIER:
        raise ValueError(f"{model_file}: metadata identifier {buffer[4:8]!r}, expected {METADATA_IDENTIFIER!r}")
    import struct

    model_meta = _Table(buffer, struct.unpack_from("<I", buffer, 0)[0])
    subgraph = model_meta.tables(3)[0]
    inp, = subgraph.tables(2)
    out, = subgraph.tables(3)
    image = inp.table(3).table(1)
    size = image.table(1)
    norm = inp.tables(4)[0].table(1)
    files = [{"name": f.string(0), "type": f.byte(2)} for f in out.tables(6)]
    return {
        "name": model_meta.string(0),
        "description": model_meta.string(1),
        "version": model_meta.string(2),
        "author": model_meta.string(4),
        "min_parser_version": model_meta.string(7),
        "input": {"name": inp.string(0), "content_type": inp.table(3).byte(0), "color_space": image.byte(0),
                  "width": size.uint(0), "height": size.uint(1), "mean": norm.floats(0), "std": norm.floats(1)},
        "output": {"name": out.string(0), "content_type": out.table(3).byte(0), "associated_files": files},
    }


def read_labels(model_file: Path) -> list[str]:
    """The class labels packed into the .tflite: the output tensor's TENSOR_AXIS_LABELS file, read from the appended zip."""
    meta = read_metadata(model_file)
    names = [f["name"] for f in meta["output"]["associated_files"] if f["type"] == _TENSOR_AXIS_LABELS]
    if not names:
        raise ValueError(f"{model_file}: the output tensor has no TENSOR_AXIS_LABELS file")
    with zipfile.ZipFile(model_file) as archive:
        return archive.read(names[0]).decode("utf-8").splitlines()
