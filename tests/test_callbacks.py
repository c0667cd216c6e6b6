"""archspec's callbacks against Keras's own: the same monitored values must give the same decisions.

Keras's EarlyStopping, ReduceLROnPlateau and ModelCheckpoint are driven directly (set_model,
on_train_begin, on_epoch_end) with sequences that have plateaus, exact ties and differences
below float32's precision, and compared step by step with archspec's rule.
"""

from __future__ import annotations

import itertools
import os
import stat

import numpy as np
import pytest

from archspec.errors import ArchspecError
from archspec.train.config import EarlyStopping, ReduceLROnPlateau
from archspec.train.loop import (Improvement, RunState, checkpoint_step, early_stopping_step, monitor_direction,
                                 reduce_lr_step)
from archspec.train.objectives import OutputPlan
from conftest import needs_keras

PLANS = [OutputPlan("out", 1, "binary_crossentropy", 1.0, "label", ["accuracy", "mse", "mae"], "sigmoid")]


def sequences(seed: int, count: int, length: int = 14):
    """Monitored values with plateaus, exact ties, near-ties (below float32's precision) and noise."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        kind = rng.integers(3)
        if kind == 0:  # a few distinct values: many exact ties
            values = rng.choice([0.5, 0.52, 0.55, 0.6], size=length)
        elif kind == 1:  # a noisy descent that levels off
            values = 0.9 * np.exp(-np.arange(length) / rng.uniform(2, 8)) + rng.normal(0, 0.02, length) + 0.3
        else:  # a random walk in steps of about min_delta's size, with repeats
            values = 0.6 + np.cumsum(rng.choice([-0.02, -0.01, 0.0, 0.0, 0.01, 0.03], size=length))
        values = [float(v) for v in values]
        for i in rng.choice(np.arange(1, length), size=2, replace=False):  # equal in float32, not in float64
            values[i] = values[i - 1] + float(rng.choice([-1e-9, 1e-9]))
        # Python floats, as Keras's fit() hands its callbacks (and archspec's logs are): Keras
        # compares them in float32
        yield values


@pytest.fixture(scope="module")
def keras_model():
    """A compiled and evaluated tiny model: Keras's 'auto' mode looks up its built metrics."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.SGD(0.1), "binary_crossentropy", metrics=["accuracy", "mse", "mae"])
    model.evaluate(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0)
    return model


EARLY_STOPPING_CASES = [
    dict(patience=p, min_delta=d, baseline=b, start_from_epoch=s, monitor=m, mode=mode)
    for p, d, b, s, (m, mode) in itertools.product(
        [0, 1, 2, 3], [0.0, 0.01], [None, 0.55], [0, 2],
        [("val_loss", "auto"), ("val_loss", "min"), ("val_accuracy", "auto"), ("val_accuracy", "max"),
         ("val_mse", "auto")])
]


@needs_keras
def test_early_stopping_decides_like_keras(keras_model):
    import keras

    compared = stopped = 0
    for case_index, case in enumerate(EARLY_STOPPING_CASES):
        config = EarlyStopping(restore_best_weights=True, **case)
        improves = Improvement(monitor_direction(config.monitor, config.mode, PLANS), config.min_delta)
        for values in sequences(case_index, 2):
            if "accuracy" in config.monitor:
                values = [1.0 - v for v in values]  # up is better: mirror the losses
            reference = keras.callbacks.EarlyStopping(**case, restore_best_weights=True)
            reference.set_model(keras_model)
            keras_model.stop_training = False
            reference.on_train_begin()
            state = RunState()
            for epoch, value in enumerate(values):
                reference.on_epoch_end(epoch, {config.monitor: value})
                early_stopping_step(state, config, improves, epoch, value)
                where = f"{case} {values[:epoch + 1]}"
                assert state.stopped_early == keras_model.stop_training, where
                assert state.wait_stop == reference.wait, where
                assert state.stop_best == reference.best, where
                if reference.best is not None:
                    assert state.stop_best_epoch == reference.best_epoch + 1, where  # the weights restored
                compared += 1
                if keras_model.stop_training:
                    assert reference.stopped_epoch == epoch
                    stopped += 1
                    break
    assert stopped > 100 and compared > 1500  # the cases exercise both outcomes


REDUCE_LR_CASES = [
    dict(patience=p, min_delta=d, cooldown=c, min_lr=lr, factor=f, monitor=m, mode=mode)
    for p, d, c, (lr, f), (m, mode) in itertools.product(
        [0, 1, 3], [0.0, 1e-4, 0.01], [0, 2], [(0.0, 0.5), (0.002, 0.1), (0.002, 0.5)],
        [("val_loss", "auto"), ("val_accuracy", "max")])
]


@needs_keras
def test_reduce_lr_on_plateau_decides_like_keras(keras_model):
    import keras

    reductions = stuck = 0
    for case_index, case in enumerate(REDUCE_LR_CASES):
        config = ReduceLROnPlateau(**case)
        improves = Improvement(monitor_direction(config.monitor, config.mode, PLANS), config.min_delta)
        for values in sequences(1000 + case_index, 2):
            if "accuracy" in config.monitor:
                values = [1.0 - v for v in values]
            keras_model.optimizer.learning_rate.assign(0.01)
            reference = keras.callbacks.ReduceLROnPlateau(**case)
            reference.set_model(keras_model)
            reference.on_train_begin()
            state, learning_rate = RunState(), 0.01
            for epoch, value in enumerate(values):
                reference.on_epoch_end(epoch, {config.monitor: value})
                lowered = reduce_lr_step(state, config, improves, value, learning_rate)
                if lowered is not None:
                    learning_rate = lowered
                    reductions += 1
                stuck += state.wait_lr > config.patience > 0  # waiting on at min_lr
                where = f"{case} {values[:epoch + 1]}"
                # Keras keeps the rate in a float32 variable
                assert np.float32(learning_rate) == keras_model.optimizer.learning_rate.numpy(), where
                assert (state.wait_lr, state.cooldown_lr, state.plateau_best) == \
                       (reference.wait, reference.cooldown_counter, reference.best), where
    assert reductions > 200 and stuck > 10


@needs_keras
@pytest.mark.parametrize("threshold", [None, 0.55])
@pytest.mark.parametrize("monitor, mode", [("val_loss", "auto"), ("val_accuracy", "auto"), ("val_loss", "max")])
def test_checkpoint_saves_like_keras(keras_model, tmp_path, threshold, monitor, mode):
    import keras

    improves = Improvement(monitor_direction(monitor, mode, PLANS))
    for values in sequences(7, 20):
        reference = keras.callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), monitor=monitor, mode=mode,
                                                    save_best_only=True, initial_value_threshold=threshold)
        reference.set_model(keras_model)
        reference._set_monitor_op()
        state = RunState(best=threshold)
        for epoch, value in enumerate(values):
            saved = reference._should_save_model(epoch, None, {monitor: value}, "m.keras")
            assert checkpoint_step(state, improves, epoch, value) == saved, (values[:epoch + 1])
            assert state.best == reference.best


@needs_keras
@pytest.mark.parametrize("monitor", ["loss", "val_loss", "accuracy", "val_accuracy", "val_mse", "mae"])
def test_auto_mode_follows_keras_metric_directions(keras_model, monitor):
    import keras
    from keras import ops

    reference = keras.callbacks.EarlyStopping(monitor=monitor)
    reference.set_model(keras_model)
    reference._set_monitor_op()
    assert monitor_direction(monitor, "auto", PLANS) == ("min" if reference.monitor_op is ops.less else "max")


def test_auto_mode_decides_per_output_names_and_refuses_unknown_ones():
    plans = [OutputPlan("probs", 4, "sparse_categorical_crossentropy", 1.0, "label", ["accuracy"], "softmax"),
             OutputPlan("value", 2, "mse", 1.0, "label", ["mae"], "linear")]
    assert monitor_direction("val_probs_accuracy", "auto", plans) == "max"
    assert monitor_direction("val_probs_loss", "auto", plans) == "min"
    assert monitor_direction("value_mae", "auto", plans) == "min"
    assert monitor_direction("val_whatever", "max", plans) == "max"
    with pytest.raises(ArchspecError, match="mode: min or mode: max"):
        monitor_direction("val_auc", "auto", plans)


def test_min_delta_is_strict_and_compared_in_float32():
    lower, higher = Improvement("min", 0.01), Improvement("max", 0.01)
    assert lower(0.5, None) and higher(0.5, None)
    assert lower(0.48, 0.5) and not lower(0.4900001, 0.5)
    assert higher(0.52, 0.5) and not higher(0.5099999, 0.5)
    tie = Improvement("min")
    assert not tie(0.5, 0.5) and not tie(0.5 - 1e-9, 0.5)  # equal in float32: no improvement, as in Keras
    assert tie(0.5 - 1e-7, 0.5)


def test_atomic_files_get_the_umask_mode(tmp_path):
    from safetensors.numpy import save_file

    from archspec.fileio import atomic_path, atomic_write_text
    from archspec.weights import write_weights

    for umask in (0o022, 0o002, 0o077):
        old = os.umask(umask)
        try:
            atomic_write_text(tmp_path / "a.txt", "x")
            write_weights({"w": np.zeros(3)}, tmp_path / "w.safetensors")
            with atomic_path(tmp_path / "s.safetensors", suffix=".safetensors") as tmp:
                save_file({"w": np.zeros(3)}, str(tmp))  # replaces our temporary file with a 0o600 one
        finally:
            os.umask(old)
        for name in ("a.txt", "w.safetensors", "s.safetensors"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, (name, oct(umask))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "s.safetensors", "w.safetensors"]
