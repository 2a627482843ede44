"""Layer-wise parity: where inside the model does an artifact start to differ from its SavedModel?

    report = layer_parity(["out/"], max_images=16)          # edgevit.verify.layers.run
    report.results[0].first_divergence                      # e.g. "Transformer_encoderblock_3"

Boundaries are the source Keras model's named layers (boundaries.py), found in the SavedModel's
serving graph by their name scopes; the same TF node names survive into every converter's output,
which is how each artifact's tensors are mapped back (capture.py). Metrics per boundary: compare.py.
"""
