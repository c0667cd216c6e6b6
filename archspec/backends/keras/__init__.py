"""The Keras 3 backend: a `keras.Model` (functional API) from a resolved spec."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from archspec.backends.keras.layers import FACTORIES  # noqa: E402
from archspec.errors import ArchspecError  # noqa: E402
from archspec.spec import Spec  # noqa: E402
from archspec.weights import Weights, check_weights  # noqa: E402


def keras_name(name: str) -> str:
    """Keras forbids '/' in names; spec names never contain '.', so this is reversible."""
    return name.replace("/", ".")


def spec_name(name: str) -> str:
    return name.replace(".", "/")


def build_model(spec: Spec, weights: Weights | None = None) -> keras.Model:
    missing = sorted({n.type for n in spec.nodes if n.type not in FACTORIES})
    if missing:
        raise ArchspecError(f"the Keras backend cannot build layer type(s) {', '.join(missing)}")
    tensors = {i.name: keras.Input(shape=i.shape, name=i.name) for i in spec.inputs}
    for node in spec.nodes:
        layer = FACTORIES[node.type](node.layer, spec.data_format, keras_name(node.name))
        args = [tensors[r] for r in node.inputs]
        tensors[node.name] = layer(args if node.layer.max_inputs != 1 else args[0])
        if not node.trainable:
            layer.trainable = False
    model = keras.Model(
        inputs=[tensors[i.name] for i in spec.inputs] if len(spec.inputs) > 1 else tensors[spec.inputs[0].name],
        outputs=[tensors[o] for o in spec.outputs] if len(spec.outputs) > 1 else tensors[spec.outputs[0]],
        name=spec.name,
    )
    if weights is not None:
        set_weights(model, spec, weights)
    return model


def predict(model: keras.Model, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Inference-mode outputs as a list in the spec's output order."""
    outputs = model(arrays if len(arrays) > 1 else arrays[0], training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [np.asarray(o) for o in outputs]


def layer_outputs(model: keras.Model, spec: Spec, arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Every layer's inference-mode output (for layer-by-layer checks)."""
    probe = keras.Model(model.inputs if len(model.inputs) > 1 else model.inputs[0], [model.get_layer(keras_name(n.name)).output for n in spec.nodes])
    outputs = probe(arrays if len(arrays) > 1 else arrays[0], training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return {n.name: np.asarray(o) for n, o in zip(spec.nodes, outputs)}


def get_weights(model: keras.Model, spec: Spec) -> Weights:
    weights: Weights = {}
    for node in spec.nodes:
        values = model.get_layer(keras_name(node.name)).get_weights()
        for weight, value in zip(node.weights, values):
            weights[f"{node.name}/{weight.name}"] = np.asarray(value, dtype=np.float32)
    return weights


def set_weights(model: keras.Model, spec: Spec, weights: Weights) -> None:
    check_weights(spec, weights)
    for node in spec.nodes:
        if node.weights:
            model.get_layer(keras_name(node.name)).set_weights([weights[f"{node.name}/{w.name}"] for w in node.weights])
