"""Model summaries: Keras's `model.summary()` numbers plus connections, MACs and sizes."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from archspec.errors import ArchspecError
from archspec.layers.base import Shape
from archspec.spec import Spec

BYTES_PER_VALUE = 4  # float32
DEFAULT_LENGTH = 32  # the length a free axis (None) takes for MACs and activation memory


def concrete_shapes(spec: Spec, length: int) -> tuple[dict[str, Shape], dict[str, list[Shape]]]:
    """(output shape by input/layer name, input shapes by layer name) with every free axis of the
    inputs set to `length`: what MACs and activation memory are counted on."""
    shapes: dict[str, Shape] = {i.name: tuple(length if d is None else d for d in i.shape) for i in spec.inputs}
    inputs: dict[str, list[Shape]] = {}
    free = any(d is None for i in spec.inputs for d in i.shape)
    for node in spec.nodes:
        if not free:
            shapes[node.name], inputs[node.name] = node.output_shape, node.input_shapes
            continue
        inputs[node.name] = [shapes[r] for r in node.inputs]
        shapes[node.name] = tuple(node.layer.output_shape(inputs[node.name], spec.data_format))
    return shapes, inputs


def summarize(spec: Spec, length: int = DEFAULT_LENGTH) -> dict[str, Any]:
    """The summary as plain data (SPEC-FORMAT section 6). A free axis (None) stays null in the
    shapes; MACs and activation memory are those at `length` on every free axis."""
    if length < 1:
        raise ArchspecError("--length must be at least 1")
    shapes, input_shapes = concrete_shapes(spec, length)
    free = any(d is None for i in spec.inputs for d in i.shape)
    layers = []
    for node in spec.nodes:
        macs = node.layer.macs(input_shapes[node.name], shapes[node.name], spec.data_format)
        layers.append(
            {
                "name": node.name,
                "type": node.type,
                "inputs": list(node.inputs),
                "output_shape": [None, *node.output_shape],
                "params": node.params,
                "trainable_params": node.trainable_params,
                "non_trainable_params": node.params - node.trainable_params,
                "macs": macs,
                "trainable": node.trainable,
            }
        )
    total = spec.total_params
    trainable = spec.trainable_params
    activation_values = sum(math.prod(shapes[n.name]) for n in spec.nodes)
    activation_values += sum(math.prod(shapes[i.name]) for i in spec.inputs)
    return {
        "name": spec.name,
        "description": spec.description,
        "data_format": spec.data_format,
        "inputs": [i.name for i in spec.inputs],
        "input_shapes": {i.name: [None, *i.shape] for i in spec.inputs},
        "input_dtypes": {i.name: i.dtype for i in spec.inputs},
        "length": length if free else None,
        "outputs": list(spec.outputs),
        "output_shapes": {o: [None, *spec.shape_of(o)] for o in spec.outputs},
        "total_params": total,
        "trainable_params": trainable,
        "non_trainable_params": total - trainable,
        "macs": sum(layer["macs"] for layer in layers),
        "weight_bytes": total * BYTES_PER_VALUE,
        "activation_bytes": activation_values * BYTES_PER_VALUE,
        "classes": spec.classes,
        "layers": layers,
    }


def to_json(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2, ensure_ascii=False)


def _ratio(n: float, size: int) -> str:
    """n / size with two decimals, also for integers too large for a float (absurd but valid specs)."""
    try:
        return f"{n / size:.2f}"
    except OverflowError:
        return f"{Decimal(n) / Decimal(size):.2f}"


def human_bytes(n: float) -> str:
    """Keras's style: 1.27 MB (binary multiples, as keras.utils.summary_utils does)."""
    for power, unit in enumerate(("B", "KB", "MB", "GB")):
        if n < 1024 ** (power + 1) or unit == "GB":
            return f"{_ratio(n, 1024 ** power)} {unit}" if unit != "B" else f"{int(n)} B"
    raise AssertionError("unreachable")


def human_count(n: int) -> str:
    for unit, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{_ratio(n, size)}{unit}"
    return str(n)


def shape_text(shape: list[Any]) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def render_table(summary: dict[str, Any], spec: Spec):
    """A rich renderable that reads like Keras's summary, with MACs and connections."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    functional = not spec.is_sequential
    table = Table(title=f'Model: "{summary["name"]}"', title_justify="left", show_lines=False)
    table.add_column("Layer (type)", no_wrap=True)
    table.add_column("Output Shape", no_wrap=True)
    table.add_column("Param #", justify="right", no_wrap=True)
    table.add_column("MACs", justify="right", no_wrap=True)
    if functional:
        table.add_column("Connected to")
        for name, shape in summary["input_shapes"].items():
            table.add_row(f"{name} (InputLayer)", shape_text(shape), "0", "0", "-")
    for layer in summary["layers"]:
        label = Text(f"{layer['name']} ({layer['type']})")
        if not layer["trainable"]:
            label.append(" frozen", style="cyan")
        row = [label, shape_text(layer["output_shape"]), f"{layer['params']:,}", human_count(layer["macs"])]
        if functional:
            row.append(", ".join(layer["inputs"]))
        table.add_row(*row)
    total, trainable, frozen = summary["total_params"], summary["trainable_params"], summary["non_trainable_params"]
    footer = Text()
    footer.append(f" Total params: {total:,} ({human_bytes(total * BYTES_PER_VALUE)})\n", style="bold")
    footer.append(f" Trainable params: {trainable:,} ({human_bytes(trainable * BYTES_PER_VALUE)})\n")
    footer.append(f" Non-trainable params: {frozen:,} ({human_bytes(frozen * BYTES_PER_VALUE)})\n")
    footer.append(f" MACs per sample: {summary['macs']:,} ({human_count(summary['macs'])})\n")
    footer.append(f" Activation memory per sample: {human_bytes(summary['activation_bytes'])}")
    if summary.get("length") is not None:
        footer.append(f"\n MACs and activation memory at length {summary['length']} on every free axis (None); "
                      "--length N for another")
    return Group(table, footer)


def render_markdown(summary: dict[str, Any], spec: Spec) -> str:
    functional = not spec.is_sequential
    head = ["Layer (type)", "Output Shape", "Param #", "MACs"] + (["Connected to"] if functional else [])
    lines = [f"### Model: `{summary['name']}`", "", "| " + " | ".join(head) + " |",
             "|" + "|".join(["---", "---", "---:", "---:"] + (["---"] if functional else [])) + "|"]
    if functional:
        for name, shape in summary["input_shapes"].items():
            lines.append(f"| `{name}` (InputLayer) | {shape_text(shape)} | 0 | 0 | - |")
    for layer in summary["layers"]:
        frozen = " *(frozen)*" if not layer["trainable"] else ""
        cells = [f"`{layer['name']}` ({layer['type']}){frozen}", shape_text(layer["output_shape"]),
                 f"{layer['params']:,}", f"{layer['macs']:,}"]
        if functional:
            cells.append(", ".join(f"`{i}`" for i in layer["inputs"]))
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"- Total params: {summary['total_params']:,} ({human_bytes(summary['weight_bytes'])})",
        f"- Trainable params: {summary['trainable_params']:,}",
        f"- Non-trainable params: {summary['non_trainable_params']:,}",
        f"- MACs per sample: {summary['macs']:,}",
        f"- Activation memory per sample: {human_bytes(summary['activation_bytes'])}",
    ]
    if summary.get("length") is not None:
        lines.append(f"- MACs and activation memory at length {summary['length']} on every free axis (None)")
    return "\n".join(lines)
