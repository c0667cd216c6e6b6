"""Model summaries: Keras's `model.summary()` numbers plus connections, MACs and sizes."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from archspec.spec import Spec

BYTES_PER_VALUE = 4  # float32


def summarize(spec: Spec) -> dict[str, Any]:
    """The summary as plain data (SPEC-FORMAT section 6)."""
    layers = []
    for node in spec.nodes:
        macs = node.layer.macs(node.input_shapes, node.output_shape, spec.data_format)
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
    activation_values = sum(math.prod(n.output_shape) for n in spec.nodes)
    activation_values += sum(math.prod(i.shape) for i in spec.inputs)
    return {
        "name": spec.name,
        "description": spec.description,
        "data_format": spec.data_format,
        "inputs": [i.name for i in spec.inputs],
        "input_shapes": {i.name: [None, *i.shape] for i in spec.inputs},
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
    return "\n".join(lines)
