"""The on-device harness, and the one home of everything host and device share: numpy + ONE runtime
(ai-edge-litert, tflite_runtime or onnxruntime) + stdlib.

`edgevit device bundle` copies this package, as plain files, into a bundle next to its `run.py`, so
it must never import TensorFlow or any other edgevit module: only relative imports inside this
package. Host modules import from here (never the reverse). The record it writes follows
edgevit/schemas/record-v1.schema.json.
"""

# The bundle layout the harness and the host-side bundler agree on.
BUNDLE_INDEX = "bundle.json"
BUNDLE_SCHEMA_VERSION = 1
PRODUCER_NAME = "edgevit-device"

