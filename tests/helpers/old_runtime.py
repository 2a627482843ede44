"""An old TFLite runtime that nobody here wrote: the TFLite Task Library (tflite-support 0.4.4, the
ImageClassifier Android apps use), in its own Python 3.11 venv that the tests build once and cache.

It cannot live in the project's venv: tflite-support pins protobuf < 4 (the stack has protobuf 7).
Its native modules link libusb-1.0.so.0, which slim machines lack; the libusb-package wheel ships that
library, and the classifier runs with its folder on LD_LIBRARY_PATH. The classifier reads only the
.tflite: its TFLite metadata (input size, normalisation) and its packed labels.txt
(edgevit/exporters/tflite_file.py writes both).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# The set measured together (2026-11-30, Python 3.11): the Task Library and what pip resolved for it.
PINS = ("tflite-support==0.4.4", "libusb-package==1.0.30.0", "numpy==2.4.6", "protobuf==3.20.3", "flatbuffers==25.12.19",
        "pybind11==3.1.0", "sounddevice==0.5.6", "absl-py==2.5.1", "cffi==2.1.1", "pycparser==3.12")
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgevit-test" / "tflite-support-0.4.4-py311"
_DONE = ".complete"  # written last: a half-built venv (killed install) is rebuilt, never used

CLASSIFY = r'''
import json, sys
from tflite_support.task import core, processor, vision
model, images = sys.argv[1], json.loads(sys.argv[2])
try:
    classifier = vision.ImageClassifier.create_from_options(vision.ImageClassifierOptions(
        base_options=core.BaseOptions(file_name=model), classification_options=processor.ClassificationOptions(max_results=1)))
except Exception as exc:
    print(json.dumps({"loaded": False, "error": (str(exc).strip().splitlines() or [type(exc).__name__])[0]}))
    sys.exit(0)
top = []
for path in images:
    best = classifier.classify(vision.TensorImage.create_from_file(path)).classifications[0].categories[0]
    top.append([best.category_name, best.score])
print(json.dumps({"loaded": True, "top1": top}))
'''


class Unavailable(Exception):
    """Why the old runtime cannot be had on this machine (the test skips with it)."""


def task_library_python() -> Path:
    """The venv's python, building the venv on first use; Unavailable says why it cannot be built."""
    python = CACHE / "bin" / "python"
    if (CACHE / _DONE).is_file() and python.is_file():
        return python
    if sys.version_info[:2] != (3, 11):
        raise Unavailable(f"tflite-support 0.4.4 has wheels up to Python 3.11; this is {sys.version.split()[0]}")
    import shutil

    shutil.rmtree(CACHE, ignore_errors=True)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    steps = ([sys.executable, "-m", "venv", str(CACHE)],
             [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PINS])
    for command in steps:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Unavailable(f"cannot build the Task Library venv ({exc})") from None
        if done.returncode:
            tail = (done.stderr.strip().splitlines() or ["?"])[-1]
            raise Unavailable(f"cannot build the Task Library venv: {' '.join(command[2:5])} failed: {tail}")
    _link_libusb(python)
    check = _run(python, ["-c", "from tflite_support.task import vision"])
    if check.returncode:
        raise Unavailable(f"the Task Library does not import here: {(check.stderr.strip().splitlines() or ['?'])[-1]}")
    (CACHE / _DONE).write_text("\n".join(PINS) + "\n")
    return python


def _link_libusb(python: Path) -> None:
    """libusb-1.0.so.0 in CACHE/lib-extra, the soname the Task Library's modules ask for."""
    found = subprocess.run([str(python), "-c", "import libusb_package, pathlib; print(pathlib.Path(libusb_package.__file__).parent)"],
                           capture_output=True, text=True)
    library = Path(found.stdout.strip()) / "libusb-1.0.so"
    extra = CACHE / "lib-extra"
    extra.mkdir(exist_ok=True)
    link = extra / "libusb-1.0.so.0"
    if library.is_file() and not link.exists():
        link.symlink_to(library)


def _run(python: Path, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "LD_LIBRARY_PATH": os.pathsep.join(filter(None, [str(CACHE / "lib-extra"), os.environ.get("LD_LIBRARY_PATH")]))}
    return subprocess.run([str(python), *args], capture_output=True, text=True, env=env, timeout=300)


def classify(python: Path, model: Path, images: list[Path]) -> dict:
    """{"loaded": True, "top1": [[label, score], ...]} or {"loaded": False, "error": line} from the Task Library."""
    done = _run(python, ["-c", CLASSIFY, str(model), json.dumps([str(p) for p in images])])
    if done.returncode:
        raise AssertionError(f"the Task Library process failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
