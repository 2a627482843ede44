"""InceptionV3 (Szegedy et al. 2016), the seed's CNN baseline: keras.applications, random init.

keras.applications ships the exact architecture and is part of the pinned Keras; writing it again
would add nothing. Its smallest input is 75x75 (the stem and reduction blocks use valid padding).
"""

from __future__ import annotations

MIN_IMAGE_SIZE = 75


def build_body(keras, inputs):
    base = keras.applications.InceptionV3(
        include_top=False, weights=None, input_tensor=inputs, pooling="avg"
    )
    return base.output
