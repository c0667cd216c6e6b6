"""Per-output losses, targets and metrics, framework-free (numpy for evaluation)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archspec.errors import ArchspecError
from archspec.spec import Spec
from archspec.train.config import Training

EPSILON = 1e-7  # keras.config.epsilon()


@dataclass
class OutputPlan:
    name: str
    units: int
    loss: str
    weight: float
    target: str  # label | parity | one_hot | mask | input | next_token | next_value
    metrics: list[str]
    activation: str
    shape: tuple[int, ...] = ()  # the output's per-sample shape; rank > 1 for masks and images

    def key(self, metric: str, multi: bool) -> str:
        return f"{self.name}_{metric}" if multi else metric


def plan_outputs(spec: Spec, training: Training) -> list[OutputPlan]:
    plans = []
    for name in spec.outputs:
        node = spec.node(name)
        units = node.output_shape[-1]
        activation = node.layer.activation_name
        target = training.targets.get(name, "label")
        if isinstance(training.loss, dict):
            loss = training.loss.get(name)
        else:
            loss = training.loss
        if loss is None:
            if activation == "softmax":
                loss = "categorical_crossentropy" if target == "one_hot" else "sparse_categorical_crossentropy"
            elif activation == "sigmoid":
                loss = "binary_crossentropy"
            else:
                loss = "mse"
        if loss == "sparse_categorical_crossentropy" and units < 2:
            raise ArchspecError(f"output '{name}' has {units} unit; sparse_categorical_crossentropy needs 2 or more")
        shape = tuple(node.output_shape)
        _check_target(spec, name, shape, target, loss)
        weight = (training.loss_weights or {}).get(name, 1.0)
        metrics = [m for m in training.metrics if m != "accuracy" or "crossentropy" in loss]
        plans.append(OutputPlan(name, units, loss, weight, target, metrics, activation, shape))
    return plans


def _check_target(spec: Spec, name: str, shape: tuple, target: str, loss: str) -> None:
    """An output's shape must fit its target: a vector for a label, (H, W, classes) for a mask, the
    input's shape for the input."""
    where = f"training.targets: output '{name}' gives {list(shape)} per sample"
    if target == "input":
        if shape != tuple(spec.inputs[0].shape):
            raise ArchspecError(f"{where}; target 'input' needs an output of the input's shape "
                                f"{list(spec.inputs[0].shape)}")
    elif target == "mask":
        if len(shape) < 3:
            raise ArchspecError(f"{where}; target 'mask' needs a per-pixel output (height, width, classes)")
        if loss not in ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy"):
            raise ArchspecError(f"{where}; target 'mask' is per-pixel classes: use a cross-entropy loss, not {loss}")
    elif target == "next_token":
        if len(shape) != 2:
            raise ArchspecError(f"{where}; target 'next_token' needs a class per step: (steps, vocabulary)")
        if loss not in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
            raise ArchspecError(f"{where}; target 'next_token' is a character per step: use "
                                f"sparse_categorical_crossentropy, not {loss}")
    elif target == "next_value":
        if len(shape) != 1:
            raise ArchspecError(f"{where}; target 'next_value' needs the forecast values: (horizon,)")
        if "crossentropy" in loss:
            raise ArchspecError(f"{where}; target 'next_value' forecasts numbers: use mse or mae, not {loss}")
    elif len(shape) > 1:
        raise ArchspecError(f"{where}, but a '{target}' target is one value per sample; per-pixel classes are "
                            f"targets: {{{name}: mask}}, an autoencoder's are {{{name}: input}}")


def make_targets(plans: list[OutputPlan], data) -> list[np.ndarray]:
    """Each output's targets for a split (`archspec.data.Split`) or for bare labels.

    label/parity/one_hot come from the labels; mask from the split's per-pixel masks (sparse:
    (N, H, W) ints, categorical: one-hot, binary: foreground (N, H, W, 1)); input from the split's
    clean inputs (its noise-free copy, or the inputs themselves)."""
    if isinstance(data, np.ndarray):
        labels, extras, inputs = data, {}, None
    else:
        labels, extras, inputs = data.labels, data.extras, data.x[0]
    targets = []
    for plan in plans:
        if plan.target in ("mask", "input"):
            if inputs is None:
                raise ArchspecError(f"output '{plan.name}': target '{plan.target}' is taken from the data's "
                                    f"{'masks' if plan.target == 'mask' else 'inputs'}, not from its labels")
            targets.append(_image_target(plan, extras, inputs))
            continue
        values = labels % 2 if plan.target == "parity" else labels
        if plan.loss == "sparse_categorical_crossentropy":
            targets.append(values.astype(np.int64))
        elif plan.loss == "categorical_crossentropy" or plan.target == "one_hot":
            targets.append(np.eye(plan.units, dtype=np.float32)[values.astype(np.int64)])
        else:
            values = values.astype(np.float32)
            targets.append(values.reshape(len(values), -1) if values.ndim > 1 else values[:, None])
    return targets


def _image_target(plan: OutputPlan, extras: dict[str, np.ndarray], inputs: np.ndarray) -> np.ndarray:
    if plan.target == "input":
        return extras.get("input", inputs)
    masks = extras.get("mask")
    if masks is None:
        raise ArchspecError(f"output '{plan.name}': target 'mask' needs data with per-pixel masks "
                            "(the generated 'shapes' data has them: data: shapes)")
    if tuple(masks.shape[1:]) != tuple(plan.shape[:-1]):
        raise ArchspecError(f"output '{plan.name}' gives {list(plan.shape)} per sample, but the masks are "
                            f"{list(masks.shape[1:])}: the output needs the masks' height and width, then the classes")
    top = int(masks.max()) if masks.size else 0
    if plan.loss == "binary_crossentropy":
        if plan.units != 1:
            raise ArchspecError(f"output '{plan.name}': a binary mask (foreground) takes 1 channel, not {plan.units}")
        return (masks > 0).astype(np.float32)[..., None]
    if top >= plan.units:
        raise ArchspecError(f"output '{plan.name}' has {plan.units} channels, but the masks hold classes 0..{top} "
                            f"(0 the background): it needs {top + 1}")
    if plan.loss == "categorical_crossentropy":
        return np.eye(plan.units, dtype=np.float32)[masks]
    return masks.astype(np.int64)


def loss_value(plan: OutputPlan, y: np.ndarray, p: np.ndarray) -> float:
    """Keras's loss of probabilities `p` (clipped like Keras when no logits are at hand).

    Any rank: a per-pixel loss is the mean over samples and pixels, as Keras's reduction gives."""
    p = p.astype(np.float64)
    if plan.loss == "sparse_categorical_crossentropy":
        p = np.clip(p / p.sum(-1, keepdims=True), EPSILON, 1 - EPSILON)
        return float(-np.mean(np.log(np.take_along_axis(p, y[..., None].astype(np.int64), -1))))
    if plan.loss == "categorical_crossentropy":
        p = np.clip(p / p.sum(-1, keepdims=True), EPSILON, 1 - EPSILON)
        return float(-np.mean(np.sum(y * np.log(p), axis=-1)))
    if plan.loss == "binary_crossentropy":
        p = np.clip(p, EPSILON, 1 - EPSILON)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    if plan.loss == "mse":
        return float(np.mean((p - y) ** 2))
    return float(np.mean(np.abs(p - y)))


def metric_value(plan: OutputPlan, metric: str, y: np.ndarray, p: np.ndarray) -> float:
    if metric == "accuracy":
        if plan.loss == "sparse_categorical_crossentropy":
            return float(np.mean(np.argmax(p, -1) == y))
        if plan.loss == "categorical_crossentropy":
            return float(np.mean(np.argmax(p, -1) == np.argmax(y, -1)))
        return float(np.mean((p > 0.5) == (y > 0.5)))
    if metric == "mse":
        return float(np.mean((p - y) ** 2))
    return float(np.mean(np.abs(p - y)))


def evaluate_outputs(plans: list[OutputPlan], targets: list[np.ndarray], outputs: list[np.ndarray]) -> dict[str, float]:
    multi = len(plans) > 1
    logs: dict[str, float] = {}
    total = 0.0
    for plan, y, p in zip(plans, targets, outputs):
        value = loss_value(plan, y, p)
        total += plan.weight * value
        if multi:
            logs[f"{plan.name}_loss"] = value
        for metric in plan.metrics:
            logs[plan.key(metric, multi)] = metric_value(plan, metric, y, p)
    return {"loss": total, **logs}
