"""`edgevit import`: a Keras image classifier edgevit did not train -> the SavedModel + manifest.json `train` writes.

Four forms come in: a `.keras` file, a Keras `model.export()` folder (two serving signatures, `serve`
and `serving_default`, the same function), a `tf.saved_model.save` folder, or a Python builder
(`module:function` or `file.py:function`) returning a Keras model. Each is reduced to one callable
(an image batch -> one tensor) plus the tf.Variables it reads, and written by `save_serving`: one
signature, each weight stored once and tracked as a plain tf.Variable. That last part is the fix for
the TFLite "needs READ_VARIABLE, VAR_HANDLE" failure of a `tf.saved_model.save(keras_model)` folder:
there the checkpoint reaches Keras' variable wrappers, and the TFLite converter then keeps the
weights in resource variables instead of embedding them as constants.

What the model knows (input size, number of outputs, whether the outputs are probabilities) is read
from it; what it cannot know (labels, preprocessing) comes from the caller. Missing or contradicting
information is a UsageError that names the flag to pass.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgevit.config import RESIZE_METHODS, Preprocessing
from edgevit.errors import ModelError, UsageError
from edgevit.fsutil import atomic_write_json
from edgevit.keras_backend import import_keras, import_tf
from edgevit.manifest import SAVEDMODEL_KIND, io_spec, label_problem, now_iso, tool_versions
from edgevit.outputs import IMPORT_INDEX, IMPORTED, SAVED_MODEL, Output, check_outputs, prepare_dir
from edgevit.savedmodel.write import save_serving, tf_variable

logger = logging.getLogger(__name__)

# Named input scalings, as (mean, std) per channel on 0..255 pixels: input = (pixel - mean) / std.
PRESETS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "[-1,1]": ((127.5,) * 3, (127.5,) * 3),  # vit-keras, MobileNetV2's preprocess_input, Inception
    "[0,1]": ((0.0,) * 3, (255.0,) * 3),
    "imagenet": ((123.675, 116.28, 103.53), (58.395, 57.12, 57.375)),  # torchvision's mean/std, in pixels
    "[0,255]": ((0.0,) * 3, (1.0,) * 3),  # raw pixels: models that rescale inside (MobileNetV3, EfficientNet)
}
FORMS = ("keras-file", "keras-export", "tf-savedmodel", "builder")
_BUILDER = re.compile(r"^(?P<module>[^:]+):(?P<function>[A-Za-z_]\w*)$")
_PROBE_IMAGES = 4
_PROBABILITY_TOLERANCE = 1e-3  # a softmax row sums to 1 within float32 rounding


@dataclass(frozen=True)
class ImportOptions:
    labels: tuple[str, ...] | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    resize: str = "bilinear"
    softmax: bool = False
    allow_unsafe: bool = False
    signature: str | None = None
    image_size: int | None = None


@dataclass(frozen=True)
class ImportResult:
    saved_model: Path
    form: str
    height: int
    width: int
    labels: tuple[str, ...]
    params: int
    softmax_added: bool
    signature: str | None


@dataclass
class _Servable:
    """What every form reduces to: a callable on an image batch and the variables it reads."""

    form: str
    name: str
    call: object  # tf tensor (N, H, W, 3) -> tf tensor (N, classes)
    variables: list
    input_shape: tuple  # (batch, H, W, C), None where dynamic
    output_shape: tuple  # (batch, classes)
    signature: str | None = None


def preset_names() -> list[str]:
    return list(PRESETS)


def parse_labels_file(path: Path | str) -> tuple[str, ...]:
    """One class name a line (a trailing empty line is fine); UsageError naming the line at fault."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UsageError(f"--labels {path}: no such file; pass a text file with one class name a line") from None
    except IsADirectoryError:
        raise UsageError(f"--labels {path}: is a folder; pass a text file with one class name a line") from None
    except UnicodeDecodeError:
        raise UsageError(f"--labels {path}: not UTF-8 text; pass a text file with one class name a line") from None
    except OSError as exc:
        raise UsageError(f"--labels {path}: cannot be read ({exc.strerror}); make it readable") from None
    labels = text.splitlines()
    while labels and not labels[-1].strip():
        labels.pop()
    for number, label in enumerate(labels, start=1):
        problem = label_problem(label)
        if problem:
            raise UsageError(f"--labels {path}: line {number} {problem}; give one class name a line")
    if len(set(labels)) != len(labels):
        twice = next(label for label in labels if labels.count(label) > 1)
        raise UsageError(f"--labels {path}: {twice!r} appears more than once; each class needs its own name")
    return tuple(labels)


def parse_triple(flag: str, text: str) -> tuple[float, float, float]:
    """'127.5' or '123.675,116.28,103.53' -> three floats (R, G, B); UsageError naming the flag."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) == 1:
        values *= 3
    if len(values) != 3 or not all(np.isfinite(values)):
        raise UsageError(f"{flag} {text!r}: give one number or three comma-separated numbers (R,G,B) on 0..255 pixels")
    return (values[0], values[1], values[2])


def resolve_preprocessing(preset: str | None, mean: str | None, std: str | None) -> tuple[tuple, tuple]:
    """(mean, std) from a named preset or from --mean and --std; UsageError naming the flags otherwise."""
    if preset is not None and (mean is not None or std is not None):
        raise UsageError("--preprocess and --mean/--std both given; pass a preset or the numbers, not both")
    if preset is not None:
        if preset not in PRESETS:
            raise UsageError(f"--preprocess {preset!r}: unknown preset; use one of {', '.join(PRESETS)} or --mean/--std")
        return PRESETS[preset]
    if mean is None and std is None:
        raise UsageError("the model does not say how its input is scaled; pass --preprocess "
                         f"{'|'.join(PRESETS)} or --mean R,G,B --std R,G,B")
    if mean is None or std is None:
        missing = "--std" if std is None else "--mean"
        raise UsageError(f"{missing} is missing; pass --mean and --std together (or a --preprocess preset)")
    std_values = parse_triple("--std", std)
    if not all(v > 0 for v in std_values):
        raise UsageError(f"--std {std!r}: every value must be > 0")
    return parse_triple("--mean", mean), std_values


def model_form(model: str) -> str:
    """Which of FORMS `model` is; UsageError saying what is accepted otherwise."""
    path = Path(model)
    if path.is_file() and path.suffix == ".keras":
        return "keras-file"
    if path.is_dir() and (path / "saved_model.pb").is_file():
        return "keras-export" if _has_keras_export_signatures(path) else "tf-savedmodel"
    if not path.exists() and _BUILDER.match(model):
        return "builder"
    if path.is_dir():
        raise UsageError(f"{model}: a folder without saved_model.pb; pass a SavedModel folder, a .keras file or module:function")
    if path.is_file():
        raise UsageError(f"{model}: not a .keras file; pass a .keras file, a SavedModel folder or a module:function "
                         "that builds the model")
    raise UsageError(f"{model}: no such file or folder; pass a .keras file, a SavedModel folder or a module:function "
                     "that builds the model")


def _has_keras_export_signatures(path: Path) -> bool:
    from edgevit.savedmodel.proto import ProtoError, read_signatures

    try:
        graphs = read_signatures(path / "saved_model.pb")
    except ProtoError:
        return False
    return len(graphs) == 1 and {"serve", "serving_default"} <= set(graphs[0])


def import_model(model: str, out: Path | str, options: ImportOptions, *, labels_file: Path | None = None) -> ImportResult:
    """Read `model` (see model_form), check it against `options`, write OUT/saved_model + OUT/import.json."""
    out = Path(out)
    form = model_form(model)
    if options.resize not in RESIZE_METHODS:
        raise UsageError(f"--resize {options.resize!r}: use one of {', '.join(RESIZE_METHODS)}")
    if options.mean is None or options.std is None:
        resolve_preprocessing(None, None, None)  # raises the one line naming the flags
    if options.labels is None:  # told before the (slow) model load; the count is checked against the model after it
        raise UsageError("a model holds no class names; pass --labels FILE (one name a line, in the order of its outputs)")
    inputs = [Path(model)] if form != "builder" else []
    if labels_file is not None:
        inputs.append(Path(labels_file))
    # Before any model is read: RUN is new, empty or an earlier import, and its saved_model/ only a SavedModel.
    check_outputs([Output("--out", out, IMPORTED, replace=False)], inputs=inputs)
    check_outputs([Output(None, out / "saved_model", SAVED_MODEL)], inputs=inputs)

    servable = _load(model, form, options)
    height, width = _image_size(servable, options)
    num_outputs = _num_outputs(servable)
    labels = _labels(options, num_outputs)
    preprocessing = Preprocessing(height=height, width=width, resize=options.resize, mean=options.mean, std=options.std)
    call = _with_softmax(servable.call) if options.softmax else servable.call
    _check_probabilities(servable, call, preprocessing, options.softmax)

    params = int(sum(int(np.prod(v.shape)) for v in servable.variables))
    input_spec, output_spec = io_spec(preprocessing, num_outputs)
    source = {"path": model if form == "builder" else str(Path(model).resolve()), "form": form,
              "signature": servable.signature, "softmax_added": options.softmax, "unsafe_deserialization": options.allow_unsafe}
    manifest = {
        "schema_version": 1,
        "kind": SAVEDMODEL_KIND,
        "created": now_iso(),
        "model": {"variant": "imported", "name": servable.name, "image_size": height, "num_classes": num_outputs,
                  "params": params, "imported": source},
        "input": input_spec,
        "output": output_spec,
        "preprocessing": preprocessing.to_dict(),
        "labels": list(labels),
        "dataset": None,  # verify needs --data: edgevit does not know what the model was trained on
        "metrics": None,
        "tool_versions": tool_versions(),
    }
    prepare_dir(out, IMPORTED, flag="--out", inputs=inputs)
    save_serving(call, servable.variables, out / "saved_model", manifest, height=height, width=width)  # atomic
    options_record = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(options).items()}
    atomic_write_json(out / IMPORT_INDEX, {"kind": "import", "created": manifest["created"], "source": source,
                                           "options": options_record})
    return ImportResult(out / "saved_model", form, height, width, labels, params, options.softmax, servable.signature)


# --- the four forms -------------------------------------------------------------------------------

def _load(model: str, form: str, options: ImportOptions) -> _Servable:
    if form == "keras-file":
        return _from_keras(_load_keras_file(Path(model), options.allow_unsafe), form)
    if form == "builder":
        return _from_keras(_run_builder(model), form)
    return _from_savedmodel(Path(model), form, options.signature)


def _load_keras_file(path: Path, allow_unsafe: bool):
    keras = import_keras()
    if allow_unsafe:
        logger.warning(f"{path}: loading with Keras safe mode off (--allow-unsafe): Python code stored in the file "
                       "(Lambda layers) will run; do this only with files you trust")
    try:
        return keras.saving.load_model(str(path), compile=False, safe_mode=not allow_unsafe)
    except Exception as exc:  # Keras raises ValueError, TypeError, zipfile errors... for a file it cannot read
        text = str(exc)
        if "Lambda" in text and "safe" in text.lower():
            raise UsageError(f"{path}: holds a Lambda layer (Python code), which Keras' safe mode refuses to load; pass "
                             "--allow-unsafe if you trust the file, or pass a module:function that builds the model") from None
        unknown = re.search(r"Could not locate (?:class|function) '?([\w.]+)'?", text)
        if unknown:
            raise ModelError(f"{path}: uses {unknown.group(1)}, which Keras cannot find; pass a module:function that "
                             "builds the model (and loads its weights) instead") from None
        reason = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        raise ModelError(f"{path}: Keras cannot load it ({reason[:200]}); re-save it with model.save('x.keras')") from None


def _run_builder(spec: str):
    keras = import_keras()
    match = _BUILDER.match(spec)
    module_name, function_name = match["module"], match["function"]
    try:
        if module_name.endswith(".py"):
            file = Path(module_name)
            if not file.is_file():
                raise UsageError(f"{spec}: no file {file}; pass module:function or path/to/file.py:function")
            module_spec = importlib.util.spec_from_file_location(f"edgevit_builder_{file.stem}", file)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            with _cwd_on_path():
                module = importlib.import_module(module_name)
    except UsageError:
        raise
    except ImportError as exc:
        raise UsageError(f"{spec}: cannot import {module_name} ({exc}); run from the folder that holds it or "
                         "pass path/to/file.py:function") from None
    except Exception as exc:  # the user's module raised while importing
        raise ModelError(f"{spec}: importing {module_name} raised {type(exc).__name__}: {exc}") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise UsageError(f"{spec}: {module_name} has no function {function_name}")
    try:
        model = function()
    except Exception as exc:
        raise ModelError(f"{spec}: the builder raised {type(exc).__name__}: {exc}") from None
    if not isinstance(model, keras.Model):
        raise ModelError(f"{spec}: the builder returned {type(model).__name__}, not a keras.Model")
    return model


@contextlib.contextmanager
def _cwd_on_path():
    """`python -m` puts the working folder on sys.path, the `edgevit` script does not: both find ./module.py."""
    added = "" not in sys.path
    if added:
        sys.path.insert(0, "")
    try:
        yield
    finally:
        if added:
            sys.path.remove("")


def _from_keras(model, form: str) -> _Servable:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(f"model {model.name!r} has {len(model.inputs)} input(s) and {len(model.outputs)} output(s); "
                         "an image classifier takes one image batch and returns one score tensor")
    try:
        variables = [tf_variable(v) for v in model.weights]
    except ModelError:
        raise ModelError(f"model {model.name!r} was not built on TensorFlow; run edgevit with KERAS_BACKEND=tensorflow") from None
    return _Servable(form, model.name, lambda images: model(images, training=False), variables,
                     tuple(model.inputs[0].shape), tuple(model.outputs[0].shape))


def _from_savedmodel(folder: Path, form: str, wanted: str | None) -> _Servable:
    tf = import_tf()
    try:
        loaded = tf.saved_model.load(str(folder))
    except Exception as exc:  # TF raises many types for a damaged SavedModel
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{folder}: cannot load SavedModel ({reason[:200]})") from None
    signatures = dict(loaded.signatures)
    key = _pick_signature(folder, signatures, wanted)
    function = signatures[key]
    inputs = function.structured_input_signature[1]
    (input_name, spec), = inputs.items()
    (output_name, output), = function.structured_outputs.items()
    variables = list(function.variables)

    def call(images):
        return function(**{input_name: images})[output_name]

    call.keep_alive = loaded  # the variables live as long as the loaded object
    return _Servable(form, folder.name, call, variables, tuple(spec.shape.as_list()), tuple(output.shape.as_list()), key)


def _is_image_signature(function) -> bool:
    inputs, outputs = function.structured_input_signature[1], function.structured_outputs
    if len(inputs) != 1 or not isinstance(outputs, dict) or len(outputs) != 1:
        return False
    (spec,), (out,) = inputs.values(), outputs.values()
    return spec.shape.rank == 4 and out.shape.rank == 2


def _pick_signature(folder: Path, signatures: dict, wanted: str | None) -> str:
    """The serving signature to import: --signature, else the one image classifier signature.

    A Keras model.export() folder holds `serve` and `serving_default`, the same function: the
    default one is taken.
    """
    if wanted is not None:
        if wanted not in signatures:
            raise UsageError(f"--signature {wanted!r}: {folder} has {', '.join(sorted(signatures)) or 'no signatures'}")
        if not _is_image_signature(signatures[wanted]):
            raise UsageError(f"--signature {wanted!r} does not take one image batch and return one score tensor; "
                             f"pick another of {', '.join(sorted(signatures))}")
        return wanted
    candidates = sorted(k for k, f in signatures.items() if _is_image_signature(f))
    if not candidates:
        listed = ", ".join(sorted(signatures)) or "none"
        raise ModelError(f"{folder}: no signature takes one image batch and returns one score tensor (signatures: {listed}); "
                         "pass a module:function that builds the Keras model instead")
    if "serving_default" in candidates:
        return "serving_default"
    if len(candidates) == 1:
        return candidates[0]
    raise UsageError(f"{folder}: {len(candidates)} signatures could be the classifier ({', '.join(candidates)}); "
                     "pass --signature NAME")


# --- what the model knows, checked against what the user said ------------------------------------

def _image_size(servable: _Servable, options: ImportOptions) -> tuple[int, int]:
    shape = servable.input_shape
    if len(shape) != 4 or shape[3] != 3:
        raise ModelError(f"{servable.name}: input shape {list(shape)} is not (batch, height, width, 3): edgevit takes "
                         "channels-last RGB images; re-build the model channels-last")
    if shape[0] is not None:
        raise ModelError(f"{servable.name}: input has a fixed batch of {shape[0]}; re-save it with a dynamic batch (None)")
    height, width = shape[1], shape[2]
    if height is None or width is None:
        if options.image_size is None:
            raise UsageError(f"{servable.name}: the model takes any image size; pass --image-size PIXELS")
        return options.image_size, options.image_size
    if options.image_size is not None and (height, width) != (options.image_size, options.image_size):
        raise UsageError(f"--image-size {options.image_size}: the model takes {height}x{width} images; drop --image-size")
    return int(height), int(width)


def _num_outputs(servable: _Servable) -> int:
    shape = servable.output_shape
    if len(shape) != 2 or shape[1] is None:
        raise ModelError(f"{servable.name}: output shape {list(shape)} is not (batch, classes); "
                         "an image classifier returns one score per class")
    if shape[1] < 2:
        raise ModelError(f"{servable.name}: returns {shape[1]} score; edgevit needs at least 2 classes")
    return int(shape[1])


def _labels(options: ImportOptions, num_outputs: int) -> tuple[str, ...]:
    if len(options.labels) != num_outputs:
        raise UsageError(f"--labels names {len(options.labels)} classes, the model returns {num_outputs} scores; "
                         "pass one name a line for each output, in output order")
    return options.labels


def _with_softmax(call):
    tf = import_tf()

    def probabilities(images):
        return tf.nn.softmax(call(images), axis=-1)

    return probabilities


def _check_probabilities(servable: _Servable, call, preprocessing: Preprocessing, softmax: bool) -> None:
    """Run the model once on random pixels: its outputs must be probabilities (rows >= 0 summing to 1).

    A model that returns logits is caught here, not later as an artifact whose 'probabilities' are not.
    """
    tf = import_tf()
    rng = np.random.default_rng(0)
    pixels = rng.uniform(0, 255, (_PROBE_IMAGES, preprocessing.height, preprocessing.width, 3)).astype(np.float32)
    images = (pixels - np.float32(preprocessing.mean)) / np.float32(preprocessing.std)
    try:
        raw = np.asarray(servable.call(tf.constant(images)), np.float32)
    except Exception as exc:  # the user's graph failed on a batch of the declared shape
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{servable.name}: running it on a batch of {_PROBE_IMAGES} images failed ({text[:200]})") from None
    if not np.all(np.isfinite(raw)):
        raise ModelError(f"{servable.name}: returns NaN or infinite values on random images; check the model's weights")
    is_probabilities = bool(np.all(raw >= -1e-6) and np.allclose(raw.sum(axis=-1), 1.0, atol=_PROBABILITY_TOLERANCE))
    if softmax and is_probabilities:
        raise UsageError(f"{servable.name}: already returns probabilities (each row sums to 1); drop --softmax")
    if not softmax and not is_probabilities:
        raise UsageError(f"{servable.name}: its outputs are not probabilities (rows sum to {raw.sum(axis=-1)[0]:.3g}, not 1); "
                         "if they are logits, pass --softmax")
