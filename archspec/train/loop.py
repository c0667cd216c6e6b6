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
from archspec.train.config import Training
from archspec.train.objectives import OutputPlan, evaluate_outputs, make_targets, plan_outputs
from archspec.weights import Weights, init_weights, read_weights, write_weights

RUNS = Path("runs")


@dataclass
class RunState:
    """What `--resume` needs, written after every epoch."""

    epoch: int = 0  # epochs completed
    best: float | None = None
    best_epoch: int | None = None
    wait_stop: int = 0
    wait_lr: int = 0
    plateau_best: float | None = None
    stop_best: float | None = None
    learning_rate: float | None = None
    stopped_early: bool = False
    history: list[dict[str, float]] = field(default_factory=list)


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


def prepare_data(spec: Spec, training: Training, data_source: str | None, limit: int | None = None) -> Data:
    source = data_source or training.data
    if source is None:
        raise ArchspecError(f"{spec.name} names no training data: add training.data to the spec or pass --data")
    data = load_data(source, spec, test_split=training.test_split, validation_split=training.validation_split,
                     standardize=training.standardize, seed=training.seed, limit=limit,
                     keep_labels=training.keep_labels, validation_source=training.validation_data)
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
    ):
        self.spec, self.training, self.data, self.run_dir = spec, training, data, run_dir
        self.plans: list[OutputPlan] = plan_outputs(spec, training)
        weights = initial_weights if initial_weights is not None else init_weights(spec, training.seed)
        options = {"device": device} if backend == "torch" else {}
        if device not in (None, "auto", "cpu") and backend != "torch":
            raise ArchspecError("--device applies to the torch backend (Keras places work itself)")
        self.backend = load_trainer(backend)(spec, training, self.plans, weights, **options)
        self.backend_name = backend
        self.on_event = on_event or (lambda kind, info: None)
        self.state = RunState(learning_rate=training.optimizer.learning_rate)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archspec-writer")
        self._pending: Future | None = None
        self._stop_best_weights: Weights | None = None
        self.targets = {
            "train": make_targets(self.plans, data.train.labels),
            "val": make_targets(self.plans, data.val.labels) if data.val else None,
            "test": make_targets(self.plans, data.test.labels),
        }

    # ------------------------------------------------------------------ files

    def write_spec(self, data_source: str | None = None) -> None:
        from archspec.spec.resolved import resolved_yaml

        atomic_write_text(self.run_dir / "spec.yaml", resolved_yaml(self.spec, self.training))
        info = {"archspec_version": __version__, "backend": self.backend_name, "spec": self.spec.name,
                "data": self.data.name, "classes": self.data.classes, "standardize": self.data.standardize,
                "training": self.training.model_dump(mode="json"), "data_source": data_source}
        atomic_write_text(self.run_dir / "run.json", json.dumps(info, indent=2))

    def _save_epoch(self, weights: Weights, best: bool) -> None:
        """Snapshot the epoch now; write it in the background while the next epoch trains.

        At most one write is in flight, so a kill loses at most the epoch being written."""
        snapshot = (weights, best, self.backend.optimizer_snapshot(), [dict(r) for r in self.state.history],
                    json.dumps(self.state.__dict__, indent=2), self.state.epoch)
        self.flush()
        self._pending = self._writer.submit(self._write_epoch, *snapshot)

    def flush(self) -> None:
        """Wait for the background write (and raise its error, if any)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def _write_epoch(self, weights, best, optimizer, history, state_text, epoch) -> None:
        meta = {"epoch": str(epoch), "backend": self.backend_name}
        if best:
            write_weights(weights, self.run_dir / "weights.safetensors", self.spec, meta)
        write_weights(weights, self.run_dir / "last.safetensors", self.spec, meta)
        suffix = ".pt" if self.backend_name == "torch" else ".npz"
        with atomic_path(self.run_dir / f"optimizer{suffix}", suffix=suffix) as tmp:
            self.backend.write_optimizer(optimizer, tmp)
        self._write_history(history)
        atomic_write_text(self.run_dir / "state.json", state_text)

    def _write_history(self, rows: list[dict[str, float]]) -> None:
        keys = ["epoch"] + sorted({k for row in rows for k in row} - {"epoch"})
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.run_dir / "history.csv", buffer.getvalue())

    def resume(self) -> None:
        state_file = self.run_dir / "state.json"
        if not state_file.is_file():
            raise ArchspecError(f"{self.run_dir}: nothing to resume (no state.json)")
        self.state = RunState(**json.loads(state_file.read_text()))
        self.backend.set_weights(read_weights(self.run_dir / "last.safetensors", self.spec))
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

    def _monitor(self, logs: dict[str, float], name: str, mode: str) -> tuple[float, bool] | None:
        if name not in logs:
            fallback = name.removeprefix("val_")
            if fallback not in logs:
                return None
            name = fallback
        value = logs[name]
        higher_better = mode == "max" or (mode == "auto" and ("acc" in name))
        return (-value if higher_better else value), higher_better

    def fit(self, epochs: int | None = None) -> RunState:
        """Train from the state's epoch to `epochs` (the backend drives its own loop; see EpochHooks)."""
        epochs = epochs or self.training.epochs
        try:
            if self.state.epoch < epochs and not self.state.stopped_early:
                self.backend.run(EpochHooks(self, epochs), self.state.epoch, epochs)
        finally:
            self.flush()  # whatever happened, the files of the last finished epoch are complete
        return self.state

    def end_epoch(self, epoch: int, epochs: int, logs: dict[str, float], seconds: float) -> bool:
        """Validation, callbacks and files after an epoch; True asks the backend to stop."""
        if not math.isfinite(logs.get("loss", 0.0)):
            raise CheckFailed(f"the loss became {logs['loss']} in epoch {epoch + 1}; training stopped "
                              "(the best weights so far are kept). Try a lower learning rate.")
        if self.data.val is not None:
            logs.update({f"val_{k}": v for k, v in self.evaluate("val").items()})
        logs["learning_rate"] = self.backend.learning_rate
        logs["epoch"] = epoch + 1
        logs["seconds"] = round(seconds, 3)
        self.state.history.append(logs)
        self.state.epoch = epoch + 1
        weights = self.backend.get_weights()
        best = self._callbacks(logs, self.training.callbacks, weights)
        self._save_epoch(weights, best)
        self.on_event("epoch_end", {"epoch": epoch + 1, "epochs": epochs, "logs": logs,
                                     "best": self.state.best_epoch == epoch + 1})
        return self.state.stopped_early

    def _improvement(self, logs, monitor: str, mode: str, best: float | None, min_delta: float):
        """(the monitored value as a lower-is-better score, whether it beats `best` by min_delta), or None."""
        monitored = self._monitor(logs, monitor, mode)
        if monitored is None:
            return None
        value = monitored[0]
        return value, best is None or value < best - min_delta

    def _callbacks(self, logs, callbacks, weights: Weights) -> bool:
        """Checkpoint, early stopping, LR schedule (Keras's rules); True when this epoch is the best so far."""
        state = self.state
        checkpoint = self._improvement(logs, callbacks.checkpoint.monitor, callbacks.checkpoint.mode, state.best, 0.0)
        score, best = checkpoint if checkpoint else (-state.epoch, True)
        if best:
            state.best, state.best_epoch = score, state.epoch
        stop = callbacks.early_stopping
        result = stop and self._improvement(logs, stop.monitor, stop.mode, state.stop_best, stop.min_delta)
        if result:
            value, improved = result
            if improved:
                state.stop_best, state.wait_stop = value, 0
                self._stop_best_weights = weights
            else:
                state.wait_stop += 1
                if state.wait_stop > stop.patience:
                    state.stopped_early = True
                    if stop.restore_best_weights and self._stop_best_weights is not None:
                        self.backend.set_weights(self._stop_best_weights)
        plateau = callbacks.reduce_lr_on_plateau
        result = plateau and self._improvement(logs, plateau.monitor, plateau.mode, state.plateau_best,
                                               plateau.min_delta)
        if result:
            value, improved = result
            if improved:
                state.plateau_best, state.wait_lr = value, 0
            else:
                state.wait_lr += 1
                if state.wait_lr >= plateau.patience:
                    self.backend.learning_rate = max(self.backend.learning_rate * plateau.factor, plateau.min_lr)
                    state.wait_lr = 0
        state.learning_rate = self.backend.learning_rate
        return best

    def finish(self) -> dict[str, Any]:
        """Evaluate the best weights on the test split; write metrics.json and curves.png."""
        best = self.run_dir / "weights.safetensors"
        if best.is_file():
            self.backend.set_weights(read_weights(best, self.spec))
        results = self.evaluate("test")
        metrics = {f"test_{k}": v for k, v in results.items()}
        metrics.update({"epochs": self.state.epoch, "best_epoch": self.state.best_epoch,
                        "stopped_early": self.state.stopped_early, "backend": self.backend_name,
                        "test_samples": len(self.data.test)})
        atomic_write_text(self.run_dir / "metrics.json", json.dumps(metrics, indent=2))
        from archspec.train.pictures import plot_history

        plot_history(self.state.history, self.run_dir / "curves.png", title=f"{self.spec.name} ({self.backend_name})")
        return metrics
