"""The on-device harness: numpy + ONE runtime (ai-edge-litert, tflite_runtime or onnxruntime) + stdlib.

`edgevit device bundle` copies this package, as plain files, into a bundle next to its `run.py`, so
it must never import TensorFlow or any other edgevit module: only relative imports inside this
package. The record it writes follows edgevit/schemas/record-v1.schema.json.
"""

# The bundle layout the harness and the host-side bundler agree on.
BUNDLE_INDEX = "bundle.json"
BUNDLE_SCHEMA_VERSION = 1
PRODUCER_NAME = "edgevit-device"

# Exit codes (the same numbers edgevit's own errors use, so scripts treat both alike).
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_BUNDLE = 4  # the bundle, artifact or golden vectors cannot be used, or no runtime can load it
EXIT_PARITY = 6
