#!/usr/bin/env python3
"""Entry point of an edgevit device bundle: `python3 run.py [--runs N] [--threads N] [--out FILE]`.

Needs Python 3.9+, numpy and one runtime (ai-edge-litert, tflite-runtime or onnxruntime); see README.md.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the `harness` package beside this file, whatever the working folder

from harness.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(default_bundle=HERE))
