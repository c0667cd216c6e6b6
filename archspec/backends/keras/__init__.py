"""The Keras 3 backend: a `keras.Model` (functional API) from a resolved spec."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from archspec.errors import ArchspecError  # noqa: E402
from archspec.spec import Spec  # noqa: E402
from archspec.weights import Weights, check_weights  # noqa: E402


def keras_name(name: str) -> str:
    """Keras forbids '/' in names; spec names never contain '.', so this is reversible."""
    return name.replace("/", ".")


def spec_name(name: str) -> str:
    return name.replace(".", "/")


def build_model(spec: Spec, weights: Weights | None = None) -> keras.Model:
    tensors = {i.name: keras.Input(shape=i.shape, name=i.name, dtype=i.dtype) for i in spec.inputs}
    for node in spec.nodes:
        layer = node.layer.keras_layer(spec.data_format, keras_name(node.name))
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


def _variables(model: keras.Model, node) -> dict[str, "keras.Variable"]:
    """A layer's Keras variables by their path inside the layer (the neutral key's second part)."""
    layer = model.get_layer(keras_name(node.name))
    prefix = layer.name + "/"
    return {v.path.removeprefix(prefix): v for v in layer.weights}


def get_weights(model: keras.Model, spec: Spec) -> Weights:
    weights: Weights = {}
    for node in spec.nodes:
        variables = _variables(model, node)
        for weight in node.weights:
            weights[f"{node.name}/{weight.name}"] = np.asarray(variables[weight.name], dtype=np.float32)
    return weights


def set_weights(model: keras.Model, spec: Spec, weights: Weights) -> None:
    """Assign every weight by its name, after checking that the file and the model agree."""
    check_weights(spec, weights)
    for node in spec.nodes:
        if not node.weights:
            continue
        variables = _variables(model, node)
        expected = {w.name for w in node.weights}
        problems = [f"the Keras layer has no variable '{node.name}/{k}'" for k in sorted(expected - set(variables))]
        problems += [f"the spec does not describe Keras variable '{node.name}/{k}'" for k in sorted(set(variables) - expected)]
        for key, variable in variables.items():
            if key in expected and tuple(variable.shape) != tuple(weights[f"{node.name}/{key}"].shape):
                problems.append(f"Keras variable '{node.name}/{key}' has shape {list(variable.shape)}, "
                                f"the weights have {list(weights[f'{node.name}/{key}'].shape)}")
        if problems:
            raise ArchspecError("; ".join(problems))
        for key in expected:
            variables[key].assign(weights[f"{node.name}/{key}"])
