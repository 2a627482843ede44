"""The SavedModel's own values at each boundary: its inlined serving graph run in TensorFlow with the
boundary nodes fetched (the same graph every converter started from)."""

from __future__ import annotations

import numpy as np

from edgevit.keras_backend import import_tf


class ReferenceGraph:
    def __init__(self, serving_graph):
        tf = import_tf()
        self._graph = tf.Graph()
        with self._graph.as_default():
            tf.graph_util.import_graph_def(serving_graph.graph_def, name="")
        self._session = tf.compat.v1.Session(graph=self._graph)
        self._input = serving_graph.input_name
        self._feeds = {f"{name}:0": value for name, value in serving_graph.weights.items()}

    def run(self, images: np.ndarray, nodes: list[str]) -> dict[str, np.ndarray]:
        """node name -> its float32 value for `images` (N, H, W, 3)."""
        fetches = [f"{node}:0" for node in nodes]
        values = self._session.run(fetches, feed_dict={self._input: images, **self._feeds})
        return {node: np.asarray(value, np.float32) for node, value in zip(nodes, values)}

    def close(self) -> None:
        self._session.close()
