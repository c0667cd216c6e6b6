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
    target: str  # label | parity | one_hot
    metrics: list[str]
    activation: str

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
        weight = (training.loss_weights or {}).get(name, 1.0)
        metrics = [m for m in training.metrics if m != "accuracy" or "crossentropy" in loss]
        plans.append(OutputPlan(name, units, loss, weight, target, metrics, activation))
    return plans


def make_targets(plans: list[OutputPlan], labels: np.ndarray) -> list[np.ndarray]:
    targets = []
    for plan in plans:
        values = labels % 2 if plan.target == "parity" else labels
        if plan.loss == "sparse_categorical_crossentropy":
            targets.append(values.astype(np.int64))
        elif plan.loss == "categorical_crossentropy" or plan.target == "one_hot":
            targets.append(np.eye(plan.units, dtype=np.float32)[values.astype(np.int64)])
        else:
            values = values.astype(np.float32)
            targets.append(values.reshape(len(values), -1) if values.ndim > 1 else values[:, None])
    return targets


def loss_value(plan: OutputPlan, y: np.ndarray, p: np.ndarray) -> float:
    """Keras's loss of probabilities `p` (clipped like Keras when no logits are at hand)."""
    p = p.astype(np.float64)
    if plan.loss == "sparse_categorical_crossentropy":
        p = np.clip(p / p.sum(-1, keepdims=True), EPSILON, 1 - EPSILON)
        return float(-np.mean(np.log(p[np.arange(len(y)), y])))
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
