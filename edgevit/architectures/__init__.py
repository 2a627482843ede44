"""The image classifiers edgevit compares against ViT, written in Keras 3 from their papers.

Each module exposes `build_body(keras, inputs, **size)`: the network from an NHWC image tensor to
pooled features (no head). `edgevit.models` registers the variants (sizes) and adds the shared
noise input and softmax head. Shapes are static where a converter needs them to be (token counts,
window grids, LSTM sequence lengths), which is what lets every format take them; see
`edgevit.models.ZOO` for the conversion route each one records.
"""
