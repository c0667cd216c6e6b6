"""The `archspec` command line: thin commands over the library.

Commands that need no framework (validate, summary, plot, schema) import neither
TensorFlow nor torch; backends are imported inside the commands that use them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Callable, List, Optional

import typer
from rich.console import Console
from rich.markup import escape

from archspec import __version__
from archspec.errors import ArchspecError, CheckFailed

app = typer.Typer(
    name="archspec",
    help="Declare a neural network once, in YAML; get summaries, diagrams, Keras, PyTorch and ONNX that agree.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# emoji=False: rich would print "spec.yaml:100:3" as "spec.yaml💯3" (":100:" is an emoji code)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200, emoji=False)
err = Console(stderr=True, soft_wrap=True, emoji=False)


def _guard(fn: Callable) -> Callable:
    """Turn ArchspecError into exit 2 and CheckFailed into exit 1, without tracebacks."""

    @functools.wraps(fn)
    def wrapper(*a, **kw):
        try:
            return fn(*a, **kw)
        except ArchspecError as exc:
            for problem in exc.render().splitlines():
                err.print(f"[bold red]error:[/] {escape(problem)}", highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except CheckFailed as exc:
            if str(exc):
                err.print(f"[bold red]failed:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None

    return wrapper


def command(*args, typer_app: typer.Typer | None = None, **kwargs) -> Callable:
    """`app.command()` wrapped by `_guard`."""

    def decorate(fn: Callable) -> Callable:
        return (typer_app or app).command(*args, **kwargs)(_guard(fn))

    return decorate


def _version(value: bool) -> None:
    if value:
        out.print(f"archspec {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """archspec: one spec, every framework, the same function."""


# ---------------------------------------------------------------- framework-free commands


@command()
def validate(specs: List[Path] = typer.Argument(..., help="Spec files to check.")) -> None:
    """Check spec files: YAML, keys, values, wiring and shapes. Exit 2 if any is invalid."""
    from archspec.spec import load

    failures: list[ArchspecError] = []
    for path in specs:
        try:
            spec = load(path)
        except ArchspecError as exc:
            failures.append(exc)
            continue
        out.print(
            f"[green]ok[/] {path}: {spec.name}, {len(spec.nodes)} layers, {spec.total_params:,} params",
            highlight=False,
        )
    if failures:
        raise ArchspecError([p for exc in failures for p in exc.problems])


class SummaryFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


@command()
def summary(
    spec_path: Path = typer.Argument(..., metavar="SPEC", help="Spec file."),
    format: SummaryFormat = typer.Option(SummaryFormat.table, "--format", "-f", help="table, json or markdown."),
    length: int = typer.Option(32, "--length", help="Length of every free axis (None) for MACs and activation memory."),
) -> None:
    """Layer-by-layer output shapes, parameters (Keras's counts), MACs and sizes."""
    from archspec.spec import load
    from archspec.summary import render_markdown, render_table, summarize, to_json

    spec = load(spec_path)
    data = summarize(spec, length)
    if format is SummaryFormat.json:
        sys.stdout.write(to_json(data) + "\n")
    elif format is SummaryFormat.markdown:
        sys.stdout.write(render_markdown(data, spec) + "\n")
    else:
        out.print(render_table(data, spec))


class RankDir(str, Enum):
    TB = "TB"
    LR = "LR"


@command()
def plot(
    spec_path: Path = typer.Argument(..., metavar="SPEC", help="Spec file."),
    output: Path = typer.Option(..., "--output", "-o", help="FILE.svg, .png, .pdf or .dot"),
    rankdir: RankDir = typer.Option(RankDir.TB, help="TB: top to bottom; LR: left to right."),
) -> None:
    """Draw the layer graph with names and shapes (Graphviz)."""
    from archspec.plot import plot as draw
    from archspec.spec import load

    path = draw(load(spec_path), output, rankdir.value)
    out.print(f"wrote {path}", highlight=False)


@command()
def schema(output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to FILE instead of stdout.")) -> None:
    """JSON Schema of the spec format (for editors: see the README)."""
    from archspec.fileio import atomic_write_text
    from archspec.schema import spec_schema

    text = json.dumps(spec_schema(), indent=2)
    if output:
        atomic_write_text(output, text + "\n")
        out.print(f"wrote {output}", highlight=False)
    else:
        sys.stdout.write(text + "\n")


# ---------------------------------------------------------------- backends


class Backend(str, Enum):
    keras = "keras"
    torch = "torch"


@command()
def build(
    spec_path: Path = typer.Argument(..., metavar="SPEC", help="Spec file."),
    backend: Backend = typer.Option(..., "--backend", "-b", help="keras or torch."),
    output: Path = typer.Option(..., "--output", "-o", help="FILE.keras (Keras) or FILE.pt (torch state dict)."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="Neutral weights (.safetensors)."),
    seed: Optional[int] = typer.Option(None, help="Seeded initial weights when --weights is not given."),
) -> None:
    """Write a native model file: a .keras archive, or a torch state dict (loads with weights_only=True)."""
    import archspec
    from archspec.fileio import atomic_path

    spec = archspec.load(spec_path)
    if weights is not None and not weights.is_file():
        raise ArchspecError(f"weights file not found: {weights}")
    model = archspec.build(spec, backend.value, weights=weights, seed=seed)
    if backend is Backend.keras:
        if output.suffix != ".keras":
            raise ArchspecError(f"{output}: a Keras model file must end in .keras")
        with atomic_path(output, suffix=".keras") as tmp:
            model.save(tmp)
    else:
        import torch

        with atomic_path(output, suffix=output.suffix or ".pt") as tmp:
            torch.save(model.state_dict(), tmp)
    out.print(f"wrote {output} ({backend.value}, {spec.total_params:,} params)", highlight=False)


@command()
def codegen(
    spec_path: Path = typer.Argument(..., metavar="SPEC", help="Spec file."),
    backend: Backend = typer.Option(..., "--backend", "-b", help="torch or keras."),
    output: Path = typer.Option(..., "--output", "-o", help="FILE.py to write."),
) -> None:
    """Write standalone PyTorch or Keras source for the spec (a module that never imports archspec)."""
    import archspec
    from archspec.codegen import generate
    from archspec.fileio import atomic_path

    source = generate(archspec.load(spec_path), backend.value)
    with atomic_path(output, suffix=".py") as tmp:
        Path(tmp).write_text(source, encoding="utf-8")
    out.print(f"wrote {output} ({backend.value}, {source.count(chr(10))} lines)", highlight=False)


weights_app = typer.Typer(help="Neutral weights files (safetensors, Keras layout).", no_args_is_help=True)
app.add_typer(weights_app, name="weights")


@command("init", typer_app=weights_app)
def weights_init(
    spec_path: Path = typer.Argument(..., metavar="SPEC", help="Spec file."),
    output: Path = typer.Option(..., "--output", "-o", help="FILE.safetensors"),
    seed: int = typer.Option(0, help="Random seed."),
) -> None:
    """Seeded initial weights from each layer's Keras initializer, the same for every backend."""
    from archspec.spec import load
    from archspec.weights import init_weights, write_weights

    spec = load(spec_path)
    write_weights(init_weights(spec, seed), output, spec, {"seed": str(seed)})
    out.print(f"wrote {output} ({len(spec.weight_keys())} tensors, {spec.total_params:,} values)", highlight=False)


@command("import", typer_app=weights_app)
def weights_import(
    source: str = typer.Argument(..., help="A .keras archive, a legacy .h5 model, keras.applications.NAME, or a "
                                 "PyTorch module.path:callable / path/to/file.py:callable (with --input-shape)."),
    spec_path: Path = typer.Option(..., "--spec", "-s", help="The spec the weights are for."),
    output: Path = typer.Option(..., "--output", "-o", help="FILE.safetensors"),
    weights_from: Optional[Path] = typer.Option(None, "--weights-from", help="keras.applications: weights (.h5, "
                                                ".keras) to build it with."),
    arg: List[str] = typer.Option([], "--arg", help="KEY=VALUE for the keras.applications constructor or the torch "
                                  "callable (repeatable)."),
    input_shape: List[str] = typer.Option([], "--input-shape", help="PyTorch: per-sample shape of an input in "
                                          "torch's layout, C,H,W (repeat for several inputs)."),
    state_dict: Optional[Path] = typer.Option(None, "--state-dict", help="PyTorch: weights to load first (.pt; "
                                              "weights_only=True)."),
) -> None:
    """Another model's weights onto a spec: by layer name, then by graph position and shape (exit 2 if any
    spec weight stays unfilled)."""
    from archspec.importers.weights import import_weights, source_layers
    from archspec.spec import load
    from archspec.weights import write_weights

    spec = load(spec_path)
    if ":" in source and Path(source).suffix not in (".keras", ".h5"):
        from archspec.importers.torch import parse_shape, read_torch_source

        if not input_shape:
            raise ArchspecError(f"source '{source}' is a PyTorch callable: give --input-shape (C,H,W) to trace it")
        # a channels_last spec flattens feature maps in another order: trace the source the same way
        graph = read_torch_source(source, [parse_shape(s) for s in input_shape], _import_args(arg), state_dict,
                                  spec.data_format == "channels_last")
    else:
        from archspec.importers.keras import read_keras

        graph = read_keras(source, str(weights_from) if weights_from else None, _import_args(arg)).graph
    result = import_weights(spec, source_layers(graph))
    write_weights(result.weights, output, spec, {"imported_from": source})
    out.print(f"wrote {output}: {len(result.by_name)} layers matched by name, {len(result.by_position)} by position "
              f"and shape", highlight=False)
    for spec_layer, source_layer in result.by_position:
        out.print(f"  {spec_layer} <- {source_layer}", highlight=False)
    for tensor in result.unused:
        err.print(f"[yellow]unused:[/] {escape(tensor)}", highlight=False)


def _import_args(pairs: List[str]) -> dict:
    """--arg KEY=VALUE pairs; values read as YAML (safe: numbers, lists, strings)."""
    import yaml

    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ArchspecError(f"--arg {pair!r}: expected KEY=VALUE")
        try:
            result[key] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ArchspecError(f"--arg {pair!r}: {exc}") from None
    return result


import_app = typer.Typer(help="Bring a model in: a readable spec and neutral weights, proved equal to it.",
                         no_args_is_help=True)
app.add_typer(import_app, name="import")


@command("keras", typer_app=import_app)
def import_keras_command(
    source: str = typer.Argument(..., help="A .keras archive, a legacy .h5 model, or keras.applications.NAME."),
    output: Path = typer.Option(..., "--output", "-o", help="SPEC.yaml to write."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="Also write the weights (.safetensors)."),
    weights_from: Optional[Path] = typer.Option(None, "--weights-from", help="keras.applications: weights (.h5, "
                                                ".keras) to build it with (default: weights=None)."),
    arg: List[str] = typer.Option([], "--arg", help="keras.applications: KEY=VALUE for the constructor "
                                  "(repeatable), e.g. --arg input_shape=[96,96,3] --arg classes=7."),
    flat: bool = typer.Option(False, "--flat", help="Do not fold repeated sub-graphs into blocks."),
    atol: float = typer.Option(1e-5, "--atol", help="Largest |difference| the proof accepts."),
    check: bool = typer.Option(False, "--check", help="Also run archspec check (Keras, PyTorch, both ONNX exports)."),
) -> None:
    """Write a Keras model as a spec (+ weights) and prove that it computes what the model computes (exit 1 if not)."""
    from archspec.importers.keras import import_keras

    result = import_keras(source, output, weights, weights_from=str(weights_from) if weights_from else None,
                          args=_import_args(arg), fold=not flat, atol=atol, check=check)
    _report_import(result, output, weights, atol, "original Keras model vs the imported spec in Keras")


@command("torch", typer_app=import_app)
def import_torch_command(
    source: str = typer.Argument(..., help="module.path:callable (torchvision.models:resnet18) or "
                                 "path/to/file.py:callable; the callable returns the nn.Module."),
    input_shape: List[str] = typer.Option(..., "--input-shape", help="Per-sample shape of an input in torch's "
                                          "layout, C,H,W (repeat for several inputs)."),
    output: Path = typer.Option(..., "--output", "-o", help="SPEC.yaml to write."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="Also write the weights (.safetensors)."),
    state_dict: Optional[Path] = typer.Option(None, "--state-dict", help="Weights to load first (.pt; read with "
                                              "weights_only=True, so no code in it runs)."),
    arg: List[str] = typer.Option([], "--arg", help="KEY=VALUE for the callable (repeatable), e.g. --arg "
                                  "num_classes=10."),
    channels_last: bool = typer.Option(False, "--channels-last", help="Write a channels_last spec (weights "
                                       "permuted to compute the same function)."),
    flat: bool = typer.Option(False, "--flat", help="Do not fold repeated sub-graphs into blocks."),
    atol: float = typer.Option(1e-5, "--atol", help="Largest |difference| the proof accepts."),
    check: bool = typer.Option(False, "--check", help="Also run archspec check (Keras, PyTorch, both ONNX exports)."),
) -> None:
    """Write a PyTorch module as a spec (+ weights) and prove that it computes what the module computes (exit 1
    if not)."""
    from archspec.importers.torch import import_torch, parse_shape

    result = import_torch(source, [parse_shape(s) for s in input_shape], output, weights,
                          args=_import_args(arg), state_dict=state_dict, channels_last=channels_last, fold=not flat,
                          atol=atol, check=check)
    _report_import(result, output, weights, atol, "original module vs the imported spec in PyTorch")


def _report_import(result, output: Path, weights: Optional[Path], atol: float, proof: str) -> None:
    """What an import wrote, its proof (exit 1 above atol) and, with --check, the four paths."""
    for note in result.notes:
        err.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    emitted = result.emitted
    written = f" and {weights}" if weights else ""
    out.print(f"wrote {output}{written}: {len(emitted.spec.nodes)} layers, {emitted.spec.total_params:,} params, "
              f"{emitted.lines} lines{' (blocks folded)' if emitted.folded else ''}", highlight=False)
    verdict = "[green]ok[/]" if result.max_abs_diff <= atol else "[red]DIFFERS[/]"
    out.print(f"proof: {proof}, max |diff| {result.max_abs_diff:.3g} (atol {atol:g}) {verdict}", highlight=False)
    if result.check is not None:
        from archspec.check import render_report

        for line in render_report(result.check):
            out.print(line, highlight=False)
    if not result.passed:
        raise CheckFailed("the imported spec does not compute what the original computes")


@command()
def check(
    spec_path: Path = typer.Argument(..., metavar="SPEC", help="Spec file."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="Neutral weights; default: seeded random."),
    batch: int = typer.Option(4, "--batch", help="Samples per comparison."),
    atol: float = typer.Option(1e-5, help="Absolute tolerance."),
    rtol: float = typer.Option(1e-5, help="Relative tolerance."),
    layers: bool = typer.Option(False, "--layers", help="Compare every layer; name the first that diverges."),
    seed: int = typer.Option(0, help="Seed of the random weights and inputs."),
    onnx: Optional[bool] = typer.Option(None, "--onnx/--no-onnx", help="Include onnxruntime on both ONNX exports "
                                        "(default: when onnxruntime is installed)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Build every available path from the same weights and prove they agree (exit 1 if not)."""
    from archspec.check import run_check
    from archspec.spec import load
    from archspec.weights import read_weights

    spec = load(spec_path)
    arrays = read_weights(weights, spec) if weights is not None else None
    report = run_check(spec, arrays, batch=batch, atol=atol, rtol=rtol, layers=layers, seed=seed, onnx=onnx)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        from archspec.check import render_report

        for line in render_report(report):
            out.print(line, highlight=False)
    if not report.passed:
        raise CheckFailed("" if as_json else "the paths disagree beyond the tolerance")


# ---------------------------------------------------------------- training

DEFAULT_SPEC = Path("specs/vgg7.yaml")


@command()
def train(
    spec_path: Optional[Path] = typer.Argument(None, metavar="[SPEC]", help="Spec file (default: specs/vgg7.yaml)."),
    backend: Backend = typer.Option(Backend.torch, "--backend", "-b", help="torch or keras."),
    data: Optional[str] = typer.Option(None, "--data", "-d", help="Data set name or path; overrides the spec."),
    epochs: Optional[int] = typer.Option(None, "--epochs", "-e", min=1, help="Overrides training.epochs."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Overrides training.batch_size."),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Default: runs/<spec>-<backend>-<time>/"),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue a run that was stopped."),
    limit: Optional[int] = typer.Option(None, "--limit", min=8, help="Use only this many training samples."),
    base_weights: Optional[Path] = typer.Option(None, "--base-weights", help="Transfer learning: the base's run."),
    device: str = typer.Option("auto", "--device", help="torch: auto (the GPU if any), cpu, cuda, cuda:1, ..."),
    precision: Optional[Precision] = typer.Option(None, "--precision", help="fp32 (default), bf16 or fp16 "
                                                  "(mixed: autocast / Keras's mixed policy; weights stay float32)."),
    compile: bool = typer.Option(False, "--compile", help="torch: torch.compile the training step."),
    channels_last: Optional[bool] = typer.Option(None, "--channels-last/--no-channels-last",
                                                 help="torch: channels_last memory format (default: on a GPU)."),
    checkpoint_every: Optional[int] = typer.Option(None, "--checkpoint-every", min=1,
                                                   help="Write the resumable state every N epochs (default 1)."),
    nproc_per_node: Optional[int] = typer.Option(None, "--nproc-per-node", min=1, help="torch: data-parallel "
                                                 "training in N processes per node (torchrun; --batch-size is global)."),
    nnodes: str = typer.Option("1", "--nnodes", help="With --nproc-per-node: nodes (or MIN:MAX)."),
    node_rank: int = typer.Option(0, "--node-rank", help="With --nproc-per-node: this node's rank."),
    rdzv_endpoint: Optional[str] = typer.Option(None, "--rdzv-endpoint", help="With --nnodes > 1: HOST:PORT."),
) -> None:
    """Train a spec through Keras or PyTorch; writes a run directory (weights, history, metrics, curves)."""
    from archspec.train import distributed
    from archspec.train.run import train as run_training

    if spec_path is None and resume is None:
        spec_path = DEFAULT_SPEC
    options = dict(data=data, epochs=epochs, batch_size=batch_size, run_dir=run_dir, resume=resume, limit=limit,
                   base_weights=base_weights, device=device, precision=precision.value if precision else None,
                   compile=compile, channels_last=channels_last, checkpoint_every=checkpoint_every)
    if nproc_per_node is not None:
        distributed.launch_training(spec_path, backend.value, options, nproc_per_node, nnodes, node_rank,
                                    rdzv_endpoint)
        return
    if not distributed.is_main():  # a torchrun worker other than rank 0: it trains and stays quiet
        with _rank_errors():
            run_training(spec_path, backend.value, **options)
        return
    from archspec.train.progress import TrainingProgress

    progress = TrainingProgress(out, err)
    try:
        with progress, _rank_errors():
            directory, metrics = run_training(spec_path, backend.value, on_event=progress.event, **options)
    except KeyboardInterrupt:
        err.print(f"[yellow]interrupted[/]: the best weights so far are in {progress.run_dir or 'the run directory'}; "
                  "continue with --resume")
        raise typer.Exit(130) from None
    _print_metrics(directory, metrics)


class Precision(str, Enum):
    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"


@contextlib.contextmanager
def _rank_errors():
    """In a data-parallel job, a collective broken by another rank's failure: one line, not a traceback
    (the launcher names the rank that failed first)."""
    from archspec.train import distributed

    try:
        yield
    except RuntimeError as exc:
        if distributed.world_size() == 1:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        err.print(f"[bold red]rank {distributed.rank()} stopped:[/] {escape(first)}", highlight=False)
        raise typer.Exit(1) from None


def _print_metrics(directory: Path, metrics: dict) -> None:
    tests = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k.startswith("test_") and isinstance(v, float))
    best = f" (best epoch {metrics['best_epoch']} of {metrics['epochs']})" if metrics.get("best_epoch") else ""
    out.print(f"[bold]{tests}[/] on {metrics.get('test_samples')} held-out samples{best}", highlight=False)
    out.print(f"run: {directory}", highlight=False)


@command()
def evaluate(
    run: Path = typer.Argument(Path("runs/latest"), help="Run directory."),
    data: Optional[str] = typer.Option(None, "--data", "-d", help="Evaluate on other data."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="Default: the run's best weights."),
    onnx: Optional[Path] = typer.Option(None, "--onnx", help="Evaluate this ONNX export in onnxruntime instead."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Re-evaluate a run's best weights (or its ONNX export) on its test split."""
    from archspec.train.evaluate import evaluate_run

    metrics = evaluate_run(run, data=data, weights=weights, onnx=onnx)
    if as_json:
        sys.stdout.write(json.dumps(metrics, indent=2) + "\n")
        return
    if onnx is not None:
        out.print(f"onnxruntime on {onnx}:", highlight=False)
    _print_metrics(run, metrics)


@command("plot-history")
def plot_history(
    run: Path = typer.Argument(Path("runs/latest"), help="Run directory."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Default: RUN/curves.png"),
) -> None:
    """Loss/val_loss and accuracy/val_accuracy per epoch, as a PNG."""
    from archspec.train.evaluate import read_history
    from archspec.train.loop import resolve_run
    from archspec.train.pictures import plot_history as draw

    directory = resolve_run(run)
    target = output or directory / "curves.png"
    draw(read_history(directory), target, title=directory.name)
    out.print(f"wrote {target}", highlight=False)


inspect_app = typer.Typer(help="Look inside a trained run: weights and feature maps.", no_args_is_help=True)
app.add_typer(inspect_app, name="inspect")


@command("weights", typer_app=inspect_app)
def inspect_weights(
    run: Path = typer.Argument(Path("runs/latest"), help="Run directory."),
    layer: str = typer.Option(..., "--layer", "-l", help="Layer name."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Default: RUN/weights-<layer>.png"),
) -> None:
    """Histogram of a layer's weights, and its kernels as a grid."""
    from archspec.train.evaluate import layer_weights
    from archspec.train.pictures import plot_weights

    directory, values = layer_weights(run, layer)
    target = output or directory / f"weights-{layer.replace('/', '_')}.png"
    plot_weights(layer, values, target)
    out.print(f"wrote {target}", highlight=False)


@command("features", typer_app=inspect_app)
def inspect_features(
    run: Path = typer.Argument(Path("runs/latest"), help="Run directory."),
    layer: str = typer.Option(..., "--layer", "-l", help="Layer name (an image-shaped output)."),
    image: Path = typer.Option(..., "--image", "-i", help="Image file (PNG/JPEG), .npy sample."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Default: RUN/features-<layer>.png"),
) -> None:
    """The feature maps one layer computes for an image."""
    from archspec.train.evaluate import feature_maps
    from archspec.train.pictures import plot_features

    directory, maps, sample = feature_maps(run, layer, image)
    target = output or directory / f"features-{layer.replace('/', '_')}.png"
    plot_features(layer, maps, sample, target)
    out.print(f"wrote {target}", highlight=False)


data_app = typer.Typer(help="Data sets that ship with archspec or that it generates.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@command("shapes", typer_app=data_app)
def data_shapes(
    output: Path = typer.Option(..., "--output", "-o", help="Folder to create (one sub-folder per class)."),
    per_class: int = typer.Option(200, "--per-class", min=1, help="Images per class."),
    size: int = typer.Option(24, "--size", min=8, help="Image width and height in pixels."),
    seed: int = typer.Option(0, help="Random seed."),
) -> None:
    """Write the handwriting-style shapes (circle, rectangle, triangle) as an image folder, like seed 002's."""
    from archspec.data.sources import shapes, write_image_folder

    if output.exists() and any(output.iterdir()):
        raise ArchspecError(f"{output} already holds files; choose a new folder")
    write_image_folder(shapes(per_class=per_class, size=size, seed=seed), output)
    out.print(f"wrote {3 * per_class} images to {output}/{{circle,rectangle,triangle}}", highlight=False)


# ---------------------------------------------------------------- ONNX

export_app = typer.Typer(help="Export a spec or a trained run.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@command("onnx", typer_app=export_app)
def export_onnx_command(
    source: Path = typer.Argument(Path("runs/latest"), metavar="[SPEC|RUN]", help="A spec file or a run directory."),
    backend: Optional[Backend] = typer.Option(None, "--backend", "-b", help="Exporter: torch or keras (default: "
                                              "the run's backend, else torch)."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="Neutral weights (default: the run's best)."),
    opset: int = typer.Option(18, "--opset", help="ONNX opset (13-21; torch exports below 18 use the TorchScript "
                              "exporter)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Default: exports/<name>.onnx"),
    simplify: bool = typer.Option(False, "--simplify", help="Simplify the graph with onnxslim."),
) -> None:
    """Write an ONNX file that onnxruntime runs exactly like the trained model."""
    from archspec.export.onnx import export_onnx
    from archspec.export.sources import export_source

    spec, arrays, default_backend, extra, note = export_source(source, weights)
    chosen = backend.value if backend else default_backend
    target = output or Path("exports") / f"{spec.name}.onnx"
    path = export_onnx(spec, arrays, target, backend=chosen, opset=opset, simplify=simplify, extra_metadata=extra)
    if note:
        err.print(f"[yellow]note:[/] {note}", highlight=False)
    out.print(f"wrote {path} ({chosen} exporter, opset {opset}, {path.stat().st_size / 1e6:.2f} MB)", highlight=False)


@command()
def predict(
    model: Path = typer.Argument(..., metavar="MODEL.onnx", help="An archspec ONNX export."),
    inputs: Optional[List[Path]] = typer.Argument(None, metavar="[INPUT...]", help="Images (PNG/JPEG), .npy files, "
                                                  "CSV rows (a CSV series for a forecaster), .txt lines (a character "
                                                  "model)."),
    named: Optional[List[str]] = typer.Option(None, "--input", "-i", metavar="NAME=FILE",
                                              help="A file for the input NAME; one per input of a multi-input model."),
    top_k: int = typer.Option(3, "--top-k", "-k", min=1, help="Classes to show per sample."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Run an ONNX export in onnxruntime (no TensorFlow, no torch) and print its predictions."""
    from archspec.predict import predict_files

    feeds: dict[str, Path] = {}
    for item in named or []:
        name, sep, file = item.partition("=")
        if not sep or not name or not file:
            raise ArchspecError(f"--input {item}: expected NAME=FILE")
        if name in feeds:
            raise ArchspecError(f"--input {name}=... is given twice")
        feeds[name] = Path(file)
    results = predict_files(model, list(inputs or []), top_k, named=feeds)
    if as_json:
        sys.stdout.write(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        return
    for item in results["predictions"]:
        parts = []
        for output in item["outputs"]:
            if "forecast" in output:
                unit = f" ({output['unit']})" if output.get("unit") else ""
                parts.append(f"forecast {', '.join(f'{v:.4g}' for v in output['forecast'])}{unit}")
            elif "top" in output:
                parts.append(", ".join(f"{t['label']} {t['probability']:.3f}" for t in output["top"]))
            else:
                parts.append(f"{output['name']}: {output['values']}")
        out.print(f"{item['input']}: " + " | ".join(parts), highlight=False)


@command()
def generate(
    run: Path = typer.Argument(Path("runs/latest"), help="A run trained with target next_token (a character model)."),
    prompt: str = typer.Option(..., "--prompt", "-p", help="The text to continue (characters of the run's vocabulary)."),
    length: int = typer.Option(200, "--length", "-n", min=1, help="Characters to generate."),
    temperature: float = typer.Option(1.0, "--temperature", "-t", min=0.0, help="Sampling temperature; 0: always the "
                                      "most likely character."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sampling (the same seed gives the same text)."),
    backend: Optional[Backend] = typer.Option(None, "--backend", "-b", help="torch or keras (default: the run's)."),
) -> None:
    """Sample text from a character model's run, one character at a time."""
    from archspec.train.generate import generate as sample_text

    text = sample_text(run, prompt, length, temperature=temperature, seed=seed,
                       backend=backend.value if backend else None)
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    app()
