"""Training in Keras: compile() with the spec's optimizer, losses and metrics, fit() one epoch at a time.

Batches come from archspec (same order and augmentation as the PyTorch backend) through a
PyDataset; Keras does the rest exactly as a hand-written `model.fit` would.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from archspec.backends.keras import build_model, get_weights, predict, set_weights
from archspec.spec import Spec
from archspec.train.config import SGD, Adam, AdamW, RMSprop, Training
from archspec.train.objectives import OutputPlan
from archspec.weights import Weights


def keras_optimizer(config) -> keras.optimizers.Optimizer:
    if isinstance(config, AdamW):
        return keras.optimizers.AdamW(config.learning_rate, weight_decay=config.weight_decay, beta_1=config.beta_1,
                                      beta_2=config.beta_2, epsilon=config.epsilon)
    if isinstance(config, Adam):
        return keras.optimizers.Adam(config.learning_rate, config.beta_1, config.beta_2, config.epsilon)
    if isinstance(config, SGD):
        return keras.optimizers.SGD(config.learning_rate, momentum=config.momentum, nesterov=config.nesterov)
    if isinstance(config, RMSprop):
        return keras.optimizers.RMSprop(config.learning_rate, rho=config.rho, epsilon=config.epsilon)
    raise TypeError(config)


class _EpochBatches(keras.utils.PyDataset):
    """archspec's batches (its order and augmentation) for a single fit() over all epochs."""

    def __init__(self, hooks, names: list[str], first_epoch: int, epochs: int):
        super().__init__()
        self.hooks, self.names, self.first_epoch, self.epochs = hooks, names, first_epoch, epochs

    def __len__(self) -> int:
        # every remaining epoch in one sequence: item i belongs to its epoch whatever Keras prefetches
        return self.hooks.steps * (self.epochs - self.first_epoch)

    def __getitem__(self, index):
        epoch, step = divmod(index, self.hooks.steps)
        xs, ys = self.hooks.batch_of(self.first_epoch + epoch, step)
        x = xs[0] if len(xs) == 1 else tuple(xs)
        y = ys[0] if len(ys) == 1 else {name: value for name, value in zip(self.names, ys)}
        return x, y


class _Bridge(keras.callbacks.Callback):
    """Keras's epoch and batch events -> archspec's hooks (progress, validation, callbacks, files)."""

    def __init__(self, hooks, canonical):
        super().__init__()
        self.hooks, self.canonical = hooks, canonical

    def on_epoch_begin(self, epoch, logs=None):
        self.hooks.start(epoch)

    def on_train_batch_end(self, batch, logs=None):
        self.hooks.after_batch(batch, self.canonical({k: float(v) for k, v in (logs or {}).items()}))

    def on_epoch_end(self, epoch, logs=None):
        if self.hooks.end(self.canonical({k: float(v) for k, v in (logs or {}).items()})):
            self.model.stop_training = True


class KerasTrainer:
    name = "keras"

    def __init__(self, spec: Spec, training: Training, plans: list[OutputPlan], weights: Weights,
                 precision: str = "fp32"):
        keras.utils.set_random_seed(training.seed)
        self.spec, self.plans = spec, plans
        self.precision = precision
        self.model = self._build(spec, weights, precision)
        multi = len(plans) > 1
        from archspec.backends.keras import keras_name

        names = [keras_name(p.name) for p in plans]
        self.names = names
        losses = {n: p.loss for n, p in zip(names, plans)}
        metrics = {n: list(p.metrics) for n, p in zip(names, plans)}
        self.model.compile(
            optimizer=keras_optimizer(training.optimizer),
            loss=losses if multi else plans[0].loss,
            loss_weights={n: p.weight for n, p in zip(names, plans)} if multi else None,
            metrics=metrics if multi else plans[0].metrics,
        )

    @staticmethod
    def _build(spec: Spec, weights: Weights, precision: str) -> keras.Model:
        """The model under Keras's mixed-precision policy for bf16/fp16 (float32 variables, low-precision
        compute; batch norm computes its statistics in float32 itself), with the output layers in float32
        as Keras's mixed-precision guide asks, so softmax and the losses see float32."""
        policies = {"fp32": None, "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
        if precision not in policies:
            from archspec.errors import ArchspecError

            raise ArchspecError(f"--precision {precision}: choose {', '.join(policies)}")
        if policies[precision] is None:
            return build_model(spec, weights)
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(policies[precision])
        try:
            model = build_model(spec, weights)
        finally:
            keras.config.set_dtype_policy(previous)
        from archspec.backends.keras import keras_name

        for name in spec.outputs:
            model.get_layer(keras_name(name)).dtype_policy = "float32"
        return model

    def run(self, hooks, first_epoch: int, epochs: int) -> None:
        # one fit() for all epochs: a fit() per epoch would pay Keras's set-up cost every epoch
        batches = _EpochBatches(hooks, self.names, first_epoch, epochs)
        self.model.fit(batches, initial_epoch=first_epoch, epochs=epochs, steps_per_epoch=hooks.steps, verbose=0,
                       shuffle=False, callbacks=[_Bridge(hooks, self._canonical)])

    def _canonical(self, logs: dict[str, float]) -> dict[str, float]:
        """Keras's log names -> archspec's (spec names, not Keras's '.'-for-'/' names)."""
        from archspec.backends.keras import spec_name

        logs = {spec_name(k): v for k, v in logs.items() if k != "learning_rate"}
        return dict(sorted(logs.items(), key=lambda item: (item[0] != "loss", not item[0].endswith("loss"))))

    def train_batch(self, xs: list[np.ndarray], ys: list[np.ndarray]) -> dict[str, float]:
        y = ys[0] if len(ys) == 1 else {n: v for n, v in zip(self.names, ys)}
        logs = self.model.train_on_batch(xs[0] if len(xs) == 1 else xs, y, return_dict=True)
        return self._canonical({k: float(v) for k, v in logs.items()})

    def predict(self, xs: list[np.ndarray], batch_size: int) -> list[np.ndarray]:
        chunks = [predict(self.model, [x[i: i + batch_size] for x in xs]) for i in range(0, len(xs[0]), batch_size)]
        return [np.concatenate([c[k] for c in chunks]) for k in range(len(self.spec.outputs))]

    def get_weights(self) -> Weights:
        return get_weights(self.model, self.spec)

    def set_weights(self, weights: Weights) -> None:
        set_weights(self.model, self.spec, weights)

    @property
    def learning_rate(self) -> float:
        return float(self.model.optimizer.learning_rate.numpy())

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self.model.optimizer.learning_rate.assign(value)

    def optimizer_snapshot(self) -> dict[str, np.ndarray]:
        return {f"v{i}": np.array(v.numpy()) for i, v in enumerate(self.model.optimizer.variables)}

    @staticmethod
    def write_optimizer(snapshot: dict[str, np.ndarray], path: Path) -> None:
        with open(path, "wb") as handle:
            np.savez(handle, **snapshot)

    def load_optimizer(self, path: Path) -> None:
        optimizer = self.model.optimizer
        if not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        with np.load(path) as data:
            for i, variable in enumerate(optimizer.variables):
                variable.assign(data[f"v{i}"])
