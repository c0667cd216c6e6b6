"""Training through either backend from the spec's `training` section."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from archspec.errors import ArchspecError
from archspec.spec import Spec, load
from archspec.train.config import Training
from archspec.weights import init_weights, read_weights


def initial_weights(spec: Spec, training: Training, warn: Callable[[str], None] | None = None):
    """Seeded weights, with a transfer-learning base's trained weights where the spec has one."""
    weights = init_weights(spec, training.seed)
    if spec.base is not None and spec.base_weights is None and warn is not None:
        warn(f"{spec.name} starts from the layers of {spec.base}, but no trained weights were given for them "
             "(--base-weights RUN, or base.weights in the spec): they keep their seeded initial weights")
    if spec.base_weights is not None:
        path = Path(spec.base_weights)
        path = path / "weights.safetensors" if path.is_dir() else path
        if not path.is_file():
            raise ArchspecError(f"base weights not found: {spec.base_weights} (a run directory or a .safetensors "
                                "file); train the base spec first, or pass --base-weights")
        trained = read_weights(path)
        for key in weights:
            if key in trained:
                if trained[key].shape != weights[key].shape:
                    raise ArchspecError(f"{spec.base_weights}: '{key}' has shape {list(trained[key].shape)}, "
                                        f"the spec needs {list(weights[key].shape)}")
                weights[key] = trained[key]
    return weights


def train(
    spec_path: str | Path,
    backend: str = "torch",
    *,
    data: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    run_dir: str | Path | None = None,
    resume: str | Path | None = None,
    limit: int | None = None,
    base_weights: str | Path | None = None,
    device: str | None = None,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
    precision: str | None = None,
    compile: bool = False,
    channels_last: bool | None = None,
    checkpoint_every: int | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Train a spec; returns the run directory and its test metrics.

    Started by torchrun with several processes, this is one rank of a data-parallel job (torch
    backend): rank 0 alone writes the run directory and reports events; the other ranks return {}."""
    from archspec.train import distributed

    group = distributed.setup(device)
    finished = False
    try:
        result = _train(spec_path, backend, data, epochs, batch_size, run_dir, resume, limit, base_weights, device,
                        on_event if distributed.is_main() else None, precision, compile, channels_last,
                        checkpoint_every, group)
        finished = True
        return result
    finally:
        distributed.teardown(finished)


def _train(spec_path, backend, data, epochs, batch_size, run_dir, resume, limit, base_weights, device, on_event,
           precision, compile, channels_last, checkpoint_every, group):
    from archspec.train.loop import Trainer, new_run_dir, point_latest, prepare_data, resolve_run, training_config

    main = group is None or group.rank == 0
    info: dict[str, Any] = {}
    if resume is not None:
        run = resolve_run(resume)
        spec = load(run / "spec.yaml")
        import json

        info = json.loads((run / "run.json").read_text())
        backend = info["backend"]
        training = Training.model_validate(info["training"])
        if epochs:
            training = training.model_copy(update={"epochs": epochs})
        data_source = data or info.get("data_source") or training.data
    else:
        spec = load(spec_path)
        if base_weights is not None:
            spec.base_weights = str(base_weights)
        training = training_config(spec, {"epochs": epochs, "batch_size": batch_size})
        data_source = data or _relative_to_spec(training.data, spec)
        if training.validation_data:
            training = training.model_copy(update={"validation_data": _relative_to_spec(training.validation_data, spec)})
    from archspec.data.sequences import run_sequence

    prepared = prepare_data(spec, training, data_source, limit, fitted=run_sequence(run) if resume is not None else None)
    if resume is not None:
        directory = run
    elif not main:
        directory = None
    elif run_dir is not None:
        directory = Path(run_dir)
        if directory.exists() and any(directory.iterdir()):
            raise ArchspecError(f"{directory} already holds files; choose a new --run-dir or --resume it")
        directory.mkdir(parents=True, exist_ok=True)
    else:
        directory = new_run_dir(spec, backend)
    if group is not None:
        directory = group.broadcast(directory)  # rank 0's new run directory, the only one
    def warn(message: str) -> None:
        if on_event:
            on_event("warning", {"message": message})

    start = initial_weights(spec, training, warn) if resume is None else init_weights(spec, training.seed)
    # a resumed run keeps its precision and checkpoint interval unless told otherwise
    trainer = Trainer(spec, backend, training, prepared, directory, initial_weights=start,
                      on_event=on_event, device=device, precision=precision or info.get("precision", "fp32"),
                      compile=compile, channels_last=channels_last,
                      checkpoint_every=checkpoint_every or info.get("checkpoint_every", 1))
    if resume is not None:
        trainer.resume()
    elif main:
        trainer.write_spec(data_source or training.data)
    if main and (directory.parent.name == "runs" or run_dir is None):
        point_latest(directory)
    try:
        trainer.fit()
    except KeyboardInterrupt:
        if on_event:
            on_event("interrupted", {"run_dir": str(directory)})
        raise
    metrics = trainer.finish()
    return directory, metrics


def _relative_to_spec(source: str | None, spec: Spec) -> str | None:
    """A data path in a spec is relative to the spec's own folder (if it exists there)."""
    if source is None or spec.path is None:
        return source
    candidate = Path(spec.path).parent / source
    return str(candidate.resolve()) if candidate.exists() else source
