"""The training loop, framework-free: batches, augmentation, callbacks, the run directory.

A backend trainer (torch or keras) only trains an epoch on the batches it is given and
predicts; everything a user sees (order of samples, augmentation, early stopping, best
checkpoint, learning-rate schedule, files) is decided here, the same for both.
"""

from __future__ import annotations

import csv
import io
from concurrent.futures import Future, ThreadPoolExecutor
import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import numpy as np

from archspec import __version__
from archspec.data import Data, load_data
from archspec.errors import ArchspecError, CheckFailed
from archspec.fileio import atomic_path, atomic_write_text
from archspec.spec import Spec
from archspec.train.augment import augment_batch
from archspec.train.config import EarlyStopping, ReduceLROnPlateau, Training
from archspec.train.objectives import OutputPlan, evaluate_outputs, make_targets, plan_outputs
from archspec.weights import Weights, init_weights, read_weights, write_weights

RUNS = Path("runs")
STOP_BEST = "early_stopping_best.safetensors"  # EarlyStopping's best weights, for restore_best_weights


@dataclass
class RunState:
    """What `--resume` needs, written after every epoch (state.json).

    The callbacks' counters are Keras's (EarlyStopping.wait, ReduceLROnPlateau.cooldown_counter,
    ...), their best values the monitored values as logged; epochs count from 1."""

    epoch: int = 0  # epochs completed
    best: float | None = None  # checkpoint (weights.safetensors)
    best_epoch: int | None = None
    wait_stop: int = 0  # early stopping
    stop_best: float | None = None
    stop_best_epoch: int | None = None  # the weights in early_stopping_best.safetensors (restore_best_weights)
    stopped_early: bool = False
    restored_epoch: int | None = None  # last.safetensors holds this epoch's weights, restored at the end
    wait_lr: int = 0  # reduce-LR on plateau
    plateau_best: float | None = None
    cooldown_lr: int = 0
    learning_rate: float | None = None
    history: list[dict[str, float]] = field(default_factory=list)


METRIC_DIRECTIONS = {"accuracy": "max", "mse": "min", "mae": "min"}  # the Keras metrics' `_direction`


def monitor_direction(monitor: str, mode: str, plans: list[OutputPlan]) -> str:
    """'min' or 'max' for a callback's `mode` (Keras 3's MonitorCallback._set_monitor_op).

    'auto' is 'min' for the loss and the metric's own direction for a metric (accuracy up,
    mse and mae down), with or without the `val_` prefix. Keras finds a metric by its bare
    name only and raises for a multi-output model's `probs_loss` or `probs_accuracy`; archspec
    decides these too (a loss goes down, a metric goes its metric's way) and, like Keras, raises
    for a name it cannot decide.
    """
    if mode != "auto":
        return mode
    directions = {"loss": "min"}
    multi = len(plans) > 1
    for plan in plans:
        if multi:
            directions[f"{plan.name}_loss"] = "min"
        for metric in plan.metrics:
            directions[metric] = directions[plan.key(metric, multi)] = METRIC_DIRECTIONS[metric]
    name = monitor.removeprefix("val_")
    if name not in directions:
        raise ArchspecError(f"callbacks: cannot tell whether '{monitor}' should be minimized or maximized; "
                            f"set mode: min or mode: max (the logged values are {', '.join(directions)})")
    return directions[name]


class Improvement:
    """Keras 3's MonitorCallback._is_improvement, the rule of checkpoint, early stopping and reduce-LR.

    `current` improves on `reference` when `current - min_delta < reference` ('min'), or
    `current - min_delta > reference` ('max'), where Keras has flipped min_delta's sign for
    'min': a value must beat the reference by more than |min_delta|. No reference (None)
    means an improvement.
    """

    def __init__(self, direction: str, min_delta: float = 0.0):
        self.higher = direction == "max"
        self.min_delta = abs(min_delta) if self.higher else -abs(min_delta)

    def __call__(self, current: float, reference: float | None) -> bool:
        if reference is None:
            return True
        # keras.ops.less/greater turn the two Python floats into float32 tensors: values that differ
        # only beyond float32's precision are a tie in Keras, so they are here
        value, reference = np.float32(current - self.min_delta), np.float32(reference)
        return bool(value > reference) if self.higher else bool(value < reference)


def checkpoint_step(state: RunState, improves: Improvement, epoch: int, current: float | None) -> bool:
    """ModelCheckpoint(save_best_only=True) after `epoch` (0-based): True when this epoch's weights are the best.

    Like Keras, an epoch without the monitored value is saved."""
    if current is not None:
        if not improves(current, state.best):
            return False
        state.best = current
    state.best_epoch = epoch + 1
    return True


def early_stopping_step(state: RunState, config: EarlyStopping, improves: Improvement, epoch: int,
                        current: float | None) -> bool:
    """EarlyStopping.on_epoch_end after `epoch` (0-based); True when this epoch is its new best.

    Sets `state.stopped_early` once `wait >= patience`: the epoch that makes `patience` epochs
    without improvement is the last one (patience 0: the first epoch that does not improve).
    """
    if current is None or epoch < config.start_from_epoch:
        return False
    state.wait_stop += 1
    if improves(current, state.stop_best):
        state.stop_best, state.stop_best_epoch = current, epoch + 1
        # only beating both the best and the baseline restarts the count
        if config.baseline is None or improves(current, config.baseline):
            state.wait_stop = 0
        return True
    if state.wait_stop >= config.patience and epoch > 0:
        state.stopped_early = True
    return False


def reduce_lr_step(state: RunState, config: ReduceLROnPlateau, improves: Improvement, current: float | None,
                   learning_rate: float) -> float | None:
    """ReduceLROnPlateau.on_epoch_end; the new learning rate, or None to keep it."""
    if current is None:
        return None
    if state.cooldown_lr > 0:
        state.cooldown_lr -= 1
        state.wait_lr = 0
    if improves(current, state.plateau_best):
        state.plateau_best, state.wait_lr = current, 0
    elif state.cooldown_lr == 0:
        state.wait_lr += 1
        if state.wait_lr >= config.patience:
            # Keras reads the rate from the optimizer's float32 variable; at min_lr it keeps waiting
            old = float(np.float32(learning_rate))
            if old > np.float32(config.min_lr):
                state.cooldown_lr, state.wait_lr = config.cooldown, 0
                return max(old * config.factor, config.min_lr)
    return None


def load_trainer(backend: str):
    if backend == "torch":
        from archspec.train.torch_backend import TorchTrainer

        return TorchTrainer
    if backend == "keras":
        from archspec.train.keras_backend import KerasTrainer

        return KerasTrainer
    raise ArchspecError(f"unknown backend '{backend}'; choose keras or torch")


def training_config(spec: Spec, overrides: dict[str, Any] | None = None) -> Training:
    data = spec.training.model_dump() if spec.training is not None else {}
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return Training.model_validate(data)


def prepare_data(spec: Spec, training: Training, data_source: str | None, limit: int | None = None,
                 fitted: dict[str, Any] | None = None) -> Data:
    """`fitted`: a run's `sequence` (archspec.data.sequences.run_sequence), so that its text or series is
    read with the vocabulary or scale it was trained with."""
    source = data_source or training.data
    if source is None:
        raise ArchspecError(f"{spec.name} names no training data: add training.data to the spec or pass --data")
    data = load_data(source, spec, test_split=training.test_split, validation_split=training.validation_split,
                     standardize=training.standardize, seed=training.seed, limit=limit,
                     keep_labels=training.keep_labels, validation_source=training.validation_data,
                     targets=training.targets, input_noise=training.input_noise, windows=training.windows,
                     fitted=fitted)
    if spec.classes:
        data.classes = spec.classes
    return data


def new_run_dir(spec: Spec, backend: str, root: Path = RUNS) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = root / f"{spec.name}-{backend}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{spec.name}-{backend}-{stamp}-{n}"
    path.mkdir(parents=True)
    return path


def point_latest(run_dir: Path) -> None:
    """runs/latest -> this run (a symlink, replaced atomically)."""
    latest = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest.{run_dir.name}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_dir.name)
    tmp.replace(latest)


def resolve_run(run: str | Path) -> Path:
    path = Path(run)
    if path.is_dir() and (path / "spec.yaml").is_file():
        return path.resolve()
    raise ArchspecError(f"{run}: not a run directory (expected a folder with spec.yaml, e.g. runs/latest)")


class EpochHooks:
    """What a backend's training loop calls: batches, progress, and the end of each epoch."""

    def __init__(self, trainer: "Trainer", epochs: int):
        self.trainer, self.epochs = trainer, epochs
        self.steps = trainer.steps()
        self._epoch = -1  # the epoch being trained (progress and callbacks)
        self._started = 0.0
        self._order_epoch, self._order = -1, None  # the sample order of the epoch last read from

    def start(self, epoch: int) -> None:
        self._epoch, self._started = epoch, time.perf_counter()
        self.trainer.on_event("epoch_start", {"epoch": epoch + 1, "epochs": self.epochs, "steps": self.steps})

    def batch_of(self, epoch: int, index: int):
        """Batch `index` of any epoch (a backend may read ahead across epochs)."""
        if epoch != self._order_epoch:
            self._order_epoch, self._order = epoch, self.trainer._order(epoch)
        return self.trainer.batch(epoch, index, self._order)

    @property
    def batch_size(self) -> int:
        return self.trainer.training.batch_size

    def order(self, epoch: int) -> np.ndarray:
        """The sample order of an epoch: batch i is rows [i * batch_size, (i + 1) * batch_size) of it."""
        return self.trainer._order(epoch)

    def plain_arrays(self) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
        """The training inputs and targets when every batch is plain rows of them (no augmentation), so a
        backend may keep them on its device and gather batches there; None otherwise."""
        trainer = self.trainer
        augmentation = trainer.training.augmentation
        if augmentation is not None and augmentation.active and trainer.data.train.x[0].ndim == 4:
            return None
        return list(trainer.data.train.x), list(trainer.targets["train"])

    def batches(self):
        """The batches of the epoch being trained."""
        for index in range(self.steps):
            yield self.batch_of(self._epoch, index)

    def after_batch(self, index: int, logs: dict[str, float]) -> None:
        if not math.isfinite(logs.get("loss", 0.0)):
            raise CheckFailed(
                f"the loss became {logs['loss']} in epoch {self._epoch + 1}, batch {index + 1}; training stopped "
                "(the best weights so far are kept). Try a lower learning rate."
            )
        self.trainer.on_event("batch", {"epoch": self._epoch + 1, "step": index + 1, "steps": self.steps,
                                        "logs": logs})

    def end(self, logs: dict[str, float]) -> bool:
        return self.trainer.end_epoch(self._epoch, self.epochs, dict(logs), time.perf_counter() - self._started)


class Trainer:
    def __init__(
        self,
        spec: Spec,
        backend: str,
        training: Training,
        data: Data,
        run_dir: Path,
        *,
        initial_weights: Weights | None = None,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
        device: str | None = None,
        precision: str = "fp32",
        compile: bool = False,
        channels_last: bool | None = None,
        checkpoint_every: int = 1,
    ):
        from archspec.train import distributed

        self.spec, self.training, self.data, self.run_dir = spec, training, data, run_dir
        self.plans: list[OutputPlan] = plan_outputs(spec, training)
        weights = initial_weights if initial_weights is not None else init_weights(spec, training.seed)
        if backend == "torch":
            options = {"device": device, "precision": precision, "compile": compile, "channels_last": channels_last}
        else:
            if device not in (None, "auto", "cpu"):
                raise ArchspecError("--device applies to the torch backend (Keras places work itself)")
            if compile or channels_last:
                raise ArchspecError("--compile and --channels-last apply to the torch backend")
            if distributed.world_size() > 1:
                raise ArchspecError("the Keras backend trains in one process; use -b torch for data-parallel "
                                    "training (--nproc-per-node, torchrun)")
            options = {"precision": precision}
        if checkpoint_every < 1:
            raise ArchspecError("--checkpoint-every must be at least 1")
        self.precision, self.checkpoint_every = precision, checkpoint_every
        self.group = distributed.current()
        self.main = self.group is None or self.group.rank == 0  # the one process that writes files
        self.backend = load_trainer(backend)(spec, training, self.plans, weights, **options)
        self.backend_name = backend
        self.on_event = on_event or (lambda kind, info: None)
        self.state = RunState(learning_rate=training.optimizer.learning_rate,
                              best=training.callbacks.checkpoint.initial_value_threshold)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archspec-writer")
        self._pending: Future | None = None
        self._stop_best_weights: Weights | None = None  # EarlyStopping.best_weights
        self._rules: dict[str, Improvement] | None = None
        self.targets = {
            "train": make_targets(self.plans, data.train),
            "val": make_targets(self.plans, data.val) if data.val else None,
            "test": make_targets(self.plans, data.test),
        }

    # ------------------------------------------------------------------ files

    def write_spec(self, data_source: str | None = None) -> None:
        from archspec.spec.resolved import resolved_yaml

        atomic_write_text(self.run_dir / "spec.yaml", resolved_yaml(self.spec, self.training))
        info = {"archspec_version": __version__, "backend": self.backend_name, "spec": self.spec.name,
                "data": self.data.name, "classes": self.data.classes, "standardize": self.data.standardize,
                "training": self.training.model_dump(mode="json"), "data_source": data_source,
                "precision": self.precision, "checkpoint_every": self.checkpoint_every,
                "processes": self.group.size if self.group else 1}
        if self.data.sequence is not None:
            from archspec.data.sequences import VOCABULARY_FILE

            info["sequence"] = {k: v for k, v in self.data.sequence.items() if k != "vocabulary"}
            if "vocabulary" in self.data.sequence:
                atomic_write_text(self.run_dir / VOCABULARY_FILE,
                                  json.dumps(self.data.sequence["vocabulary"], ensure_ascii=False))
        atomic_write_text(self.run_dir / "run.json", json.dumps(info, indent=2))

    def _save_epoch(self, weights: Weights, best: bool, checkpoint: bool = True) -> None:
        """Snapshot the epoch now; write it in the background while the next epoch trains.

        At most one write is in flight, so a kill loses at most the epoch being written. Without
        `checkpoint` (between --checkpoint-every epochs) only a new best and the history are written:
        what --resume reads (state, last weights, optimizer) stays that of the last checkpoint."""
        if not self.main:
            return
        stop_best = weights if self._stop_best_weights is weights else None  # early stopping's new best
        optimizer = self.backend.optimizer_snapshot() if checkpoint else None
        snapshot = (weights, best, stop_best, optimizer, [dict(r) for r in self.state.history],
                    json.dumps(self.state.__dict__, indent=2) if checkpoint else None, self.state.epoch)
        self.flush()
        self._pending = self._writer.submit(self._write_epoch, *snapshot)

    def flush(self) -> None:
        """Wait for the background write (and raise its error, if any)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def _write_epoch(self, weights, best, stop_best, optimizer, history, state_text, epoch) -> None:
        meta = {"epoch": str(epoch), "backend": self.backend_name}
        if best:
            write_weights(weights, self.run_dir / "weights.safetensors", self.spec, meta)
        if stop_best is not None:  # carried for --resume, so that a resumed run restores what a whole one would
            write_weights(stop_best, self.run_dir / STOP_BEST, self.spec, meta)
        self._write_history(history)
        if state_text is None:
            return
        write_weights(weights, self.run_dir / "last.safetensors", self.spec, meta)
        suffix = ".pt" if self.backend_name == "torch" else ".npz"
        with atomic_path(self.run_dir / f"optimizer{suffix}", suffix=suffix) as tmp:
            self.backend.write_optimizer(optimizer, tmp)
        atomic_write_text(self.run_dir / "state.json", state_text)

    def _write_history(self, rows: list[dict[str, float]]) -> None:
        keys = ["epoch"] + sorted({k for row in rows for k in row} - {"epoch"})
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.run_dir / "history.csv", buffer.getvalue())

    def resume(self) -> None:
        """Continue from the run's files: state.json, last.safetensors, the optimizer, early stopping's best.

        A finished run's last.safetensors holds its final weights (restored ones with
        restore_best_weights): training it for more epochs starts from those, as a second
        `model.fit()` of the same model does in Keras.
        """
        state_file = self.run_dir / "state.json"
        if not state_file.is_file():
            raise ArchspecError(f"{self.run_dir}: nothing to resume (no state.json)")
        known = set(RunState.__dataclass_fields__)
        self.state = RunState(**{k: v for k, v in json.loads(state_file.read_text()).items() if k in known})
        self.backend.set_weights(read_weights(self.run_dir / "last.safetensors", self.spec))
        stop = self.training.callbacks.early_stopping
        if stop and stop.restore_best_weights and self.state.stop_best_epoch is not None \
                and (self.run_dir / STOP_BEST).is_file():
            self._stop_best_weights = read_weights(self.run_dir / STOP_BEST, self.spec)
        suffix = ".pt" if self.backend_name == "torch" else ".npz"
        optimizer_file = self.run_dir / f"optimizer{suffix}"
        if optimizer_file.is_file():
            self.backend.load_optimizer(optimizer_file)
        if self.state.learning_rate is not None:
            self.backend.learning_rate = self.state.learning_rate

    # ------------------------------------------------------------------ training

    def _order(self, epoch: int) -> np.ndarray:
        n = len(self.data.train)
        return np.random.default_rng([self.training.seed, epoch]).permutation(n) if self.training.shuffle else np.arange(n)

    def steps(self) -> int:
        return math.ceil(len(self.data.train) / self.training.batch_size)

    def batch(self, epoch: int, index: int, order: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Batch `index` of `epoch`: the same samples and augmentation whichever backend asks."""
        size = self.training.batch_size
        take = order[index * size: (index + 1) * size]
        xs = [x[take] for x in self.data.train.x]
        augmentation = self.training.augmentation
        if augmentation is not None and augmentation.active and xs[0].ndim == 4:
            rng = np.random.default_rng([self.training.seed, epoch, index])
            xs[0] = augment_batch(xs[0], augmentation, rng, self.spec.data_format == "channels_first")
            xs[0] = xs[0].astype(np.float32)
        return xs, [t[take] for t in self.targets["train"]]

    def evaluate(self, split: str) -> dict[str, float]:
        data = {"val": self.data.val, "test": self.data.test, "train": self.data.train}[split]
        outputs = self.backend.predict(data.x, max(self.training.batch_size, 256))
        return evaluate_outputs(self.plans, self.targets[split], outputs)

    @staticmethod
    def _monitored(logs: dict[str, float], name: str) -> float | None:
        """The monitored value; without validation data, `val_x` is monitored on `x`.

        (Keras would warn and skip the callback, or save every epoch; the training value is the
        closest thing archspec has.)"""
        if name in logs:
            return logs[name]
        return logs.get(name.removeprefix("val_"))

    def _improvement_rules(self) -> dict[str, Improvement]:
        """One rule per callback; an undecidable `auto` monitor fails here, before any epoch trains."""
        callbacks = self.training.callbacks
        rules = {"checkpoint": Improvement(monitor_direction(callbacks.checkpoint.monitor, callbacks.checkpoint.mode,
                                                             self.plans))}
        for name, config in (("early_stopping", callbacks.early_stopping),
                             ("reduce_lr_on_plateau", callbacks.reduce_lr_on_plateau)):
            if config is not None:
                rules[name] = Improvement(monitor_direction(config.monitor, config.mode, self.plans), config.min_delta)
        return rules

    def fit(self, epochs: int | None = None) -> RunState:
        """Train from the state's epoch to `epochs` (the backend drives its own loop; see EpochHooks).

        When training ends (the last epoch, or stopped early; not when interrupted), early
        stopping's restore_best_weights puts back its best weights, as Keras's on_train_end does.
        """
        epochs = epochs or self.training.epochs
        self._rules = self._improvement_rules()
        try:
            if self.state.epoch < epochs and not self.state.stopped_early:
                self.backend.run(EpochHooks(self, epochs), self.state.epoch, epochs)
        finally:
            self.flush()  # whatever happened, the files of the last finished epoch are complete
        self._end_training()
        return self.state

    def _end_training(self) -> None:
        """EarlyStopping.on_train_end: with restore_best_weights, the model ends with its best weights,
        whether training stopped early or ran to its last epoch, and last.safetensors holds them.

        weights.safetensors stays the checkpoint's best (its own monitor and rule); with the
        defaults (both val_loss, min_delta 0) the two are the same epoch.
        """
        stop = self.training.callbacks.early_stopping
        if not (stop and stop.restore_best_weights and self._stop_best_weights is not None):
            return
        self.backend.set_weights(self._stop_best_weights)
        self.state.restored_epoch = self.state.stop_best_epoch
        if not self.main:
            return
        meta = {"epoch": str(self.state.epoch), "backend": self.backend_name,
                "restored_epoch": str(self.state.restored_epoch)}
        write_weights(self._stop_best_weights, self.run_dir / "last.safetensors", self.spec, meta)
        atomic_write_text(self.run_dir / "state.json", json.dumps(self.state.__dict__, indent=2))

    def end_epoch(self, epoch: int, epochs: int, logs: dict[str, float], seconds: float) -> bool:
        """Validation, callbacks and files after an epoch; True asks the backend to stop."""
        if not math.isfinite(logs.get("loss", 0.0)):
            raise CheckFailed(f"the loss became {logs['loss']} in epoch {epoch + 1}; training stopped "
                              "(the best weights so far are kept). Try a lower learning rate.")
        if self.data.val is not None:
            logs.update({f"val_{k}": v for k, v in self.evaluate("val").items()})
        if self.group is not None:  # every rank takes rank 0's decisions (early stopping, best, learning rate)
            logs = self.group.broadcast(logs)
        logs["learning_rate"] = self.backend.learning_rate
        logs["epoch"] = epoch + 1
        logs["seconds"] = round(seconds, 3)
        self.state.history.append(logs)
        self.state.epoch = epoch + 1
        self.state.restored_epoch = None  # training goes on from restored weights: they are not the final ones
        weights = self.backend.get_weights()
        best = self._callbacks(epoch, logs, weights)
        last = epoch + 1 == epochs or self.state.stopped_early
        self._save_epoch(weights, best, checkpoint=last or (epoch + 1) % self.checkpoint_every == 0)
        self.on_event("epoch_end", {"epoch": epoch + 1, "epochs": epochs, "logs": logs,
                                     "best": self.state.best_epoch == epoch + 1})
        return self.state.stopped_early

    def _callbacks(self, epoch: int, logs: dict[str, float], weights: Weights) -> bool:
        """Checkpoint, early stopping and reduce-LR, Keras's rules; True when this epoch is the checkpoint's best."""
        callbacks, state, rules = self.training.callbacks, self.state, self._rules
        best = checkpoint_step(state, rules["checkpoint"], epoch, self._monitored(logs, callbacks.checkpoint.monitor))
        stop = callbacks.early_stopping
        if stop is not None:
            current = self._monitored(logs, stop.monitor)
            if stop.restore_best_weights and self._stop_best_weights is None and current is not None \
                    and epoch >= stop.start_from_epoch:
                # Keras takes the first monitored epoch's weights when it has none (a resumed run
                # without early_stopping_best.safetensors); early_stopping_step replaces them on improvement
                self._stop_best_weights, state.stop_best_epoch = weights, epoch + 1
            if early_stopping_step(state, stop, rules["early_stopping"], epoch, current) and stop.restore_best_weights:
                self._stop_best_weights = weights
        plateau = callbacks.reduce_lr_on_plateau
        if plateau is not None:
            lowered = reduce_lr_step(state, plateau, rules["reduce_lr_on_plateau"],
                                     self._monitored(logs, plateau.monitor), self.backend.learning_rate)
            if lowered is not None:
                self.backend.learning_rate = lowered
        state.learning_rate = self.backend.learning_rate
        return best

    def finish(self) -> dict[str, Any]:
        """Evaluate the run's best weights on the test split; write metrics.json and curves.png.

        The best weights are the checkpoint's (weights.safetensors), the ones `archspec evaluate`,
        export and inspect use, so metrics.json agrees with them. The model keeps its final
        weights (last.safetensors: restored ones with restore_best_weights), as a Keras model does
        after fit; `restored_epoch` says which epoch those are.
        """
        if not self.main:
            return {}
        final = self.backend.get_weights()
        best = self.run_dir / "weights.safetensors"
        if best.is_file():
            self.backend.set_weights(read_weights(best, self.spec))
        results = self.evaluate("test")
        from archspec.train.pictures import plot_history, plot_predictions

        plot_predictions(self, self.run_dir / "predictions.png")  # masks, images, forecasts; with the best weights
        self.backend.set_weights(final)
        metrics = {f"test_{k}": v for k, v in results.items()}
        series = self.data.sequence if self.data.sequence and self.data.sequence["kind"] == "series" else None
        if series is not None and "mae" in results:  # the standard scaling is linear: mae scales with std
            metrics["test_mae_in_units"] = results["mae"] * series["std"]
        metrics.update({"epochs": self.state.epoch, "best_epoch": self.state.best_epoch,
                        "stopped_early": self.state.stopped_early, "restored_epoch": self.state.restored_epoch,
                        "backend": self.backend_name, "test_samples": len(self.data.test),
                        "precision": self.precision, "processes": self.group.size if self.group else 1})
        atomic_write_text(self.run_dir / "metrics.json", json.dumps(metrics, indent=2))
        plot_history(self.state.history, self.run_dir / "curves.png", title=f"{self.spec.name} ({self.backend_name})")
        return metrics
