"""ONNX export from either backend, with the spec's names, layout and metadata.

torch: `torch.onnx.export` through `torch.export` (opset 18 and above, the default), or the
TorchScript exporter below opset 18; keras: `model.export(format="onnx")` (tf2onnx). Both files get the spec's input
and output names, a dynamic batch axis named `batch`, and metadata a consumer needs.
Every file passes `onnx.checker` with full shape inference before it is written.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from archspec import __version__
from archspec.errors import ArchspecError
from archspec.fileio import atomic_write_bytes
from archspec.spec import Spec
from archspec.weights import Weights

DEFAULT_OPSET = 18
DYNAMO_MIN_OPSET = 18  # torch.export-based exporter; below it, the TorchScript exporter


def spec_sha256(spec: Spec) -> str:
    from archspec.spec.resolved import resolved_yaml

    return hashlib.sha256(resolved_yaml(spec, training=None).encode("utf-8")).hexdigest()


def metadata(spec: Spec, backend: str, opset: int, extra: dict[str, Any] | None = None) -> dict[str, str]:
    layouts = {}
    for spec_input in spec.inputs:
        if len(spec_input.shape) == 3:
            layouts[spec_input.name] = "NHWC" if spec.data_format == "channels_last" else "NCHW"
        else:
            layouts[spec_input.name] = "N" + "F" * len(spec_input.shape)
    props = {
        "archspec_version": __version__,
        "spec_name": spec.name,
        "spec_sha256": spec_sha256(spec),
        "data_format": spec.data_format,
        "input_layout": json.dumps(layouts),
        "input_shapes": json.dumps({i.name: [None, *i.shape] for i in spec.inputs}),
        "input_dtypes": json.dumps({i.name: i.dtype for i in spec.inputs}),
        "outputs": json.dumps(list(spec.outputs)),
        "backend": backend,
        "opset": str(opset),
    }
    if spec.classes:
        props["classes"] = json.dumps(spec.classes, ensure_ascii=False)
    for key, value in (extra or {}).items():
        props[key] = value if isinstance(value, str) else json.dumps(value)
    return props


EXAMPLE_LENGTH = 7  # a free axis's size in the example an exporter traces (not 0 or 1: those specialise)


def example_shape(shape) -> tuple[int, ...]:
    return tuple(EXAMPLE_LENGTH if d is None else d for d in shape)


def free_dim_name(input_name: str, axis: int) -> str:
    """The ONNX name of input `input_name`'s free axis `axis` (the batch axis counts as 0)."""
    return f"{input_name}_dim{axis}"


def _export_torch(spec: Spec, weights: Weights, opset: int, path: Path) -> None:
    """torch.export-based export (opset >= 18), else the (deprecated) TorchScript exporter."""
    import logging

    import torch

    from archspec.backends.torch import build_model

    model = build_model(spec, weights).eval()
    examples = tuple(torch.zeros(2, *example_shape(i.shape), dtype=getattr(torch, i.dtype)) for i in spec.inputs)
    names = [i.name for i in spec.inputs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if opset >= DYNAMO_MIN_OPSET:
            batch = torch.export.Dim("batch")
            logging.getLogger("torch.onnx").setLevel(logging.ERROR)
            # forward(*inputs): one tuple of inputs, each with a dynamic batch axis. Outputs are
            # named afterwards (_rename_boundary): the exporter would reuse names of its own values
            dims = {}  # free axes stay free (one symbol per input axis), named like the ONNX dims
            for i in spec.inputs:
                dims[i.name] = {0: batch, **{k + 1: torch.export.Dim(free_dim_name(i.name, k + 1), min=1)
                                             for k, d in enumerate(i.shape) if d is None}}
            program = torch.onnx.export(model, examples, input_names=names,
                                        dynamic_shapes=(tuple(dims[n] for n in names),), opset_version=opset,
                                        dynamo=True, verbose=False, optimize=True)
            program.save(str(path))
        else:
            dynamic = {name: {0: "batch"} for name in [*names, *spec.outputs]}
            for i in spec.inputs:
                dynamic[i.name].update({k + 1: free_dim_name(i.name, k + 1) for k, d in enumerate(i.shape) if d is None})
            torch.onnx.export(model, examples, str(path), input_names=names, output_names=list(spec.outputs),
                              dynamic_axes=dynamic, opset_version=opset, dynamo=False, do_constant_folding=True)


def _export_keras(spec: Spec, weights: Weights, opset: int, path: Path) -> None:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from archspec.backends.keras import build_model, predict
    from archspec.backends.keras.layers import FOR_EXPORT

    for node in spec.nodes:
        if node.layer.keras_onnx_problem:
            raise ArchspecError(f"the Keras exporter cannot export {node.type} '{node.name}': "
                                f"{node.layer.keras_onnx_problem}; try --backend torch")
    token = FOR_EXPORT.set(True)
    try:
        model = build_model(spec, weights)
    finally:
        FOR_EXPORT.reset(token)
    predict(model, [np.zeros((1, *example_shape(i.shape)), i.dtype) for i in spec.inputs])  # Keras exports called models only
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf2onnx's numpy deprecation noise
        model.export(str(path), format="onnx", verbose=False, opset_version=opset)


def _refuse_frozen_axes(model, spec: Spec, backend: str) -> None:
    """An exporter that could not keep a free axis free (torch.export specialises a length some op
    guards on, then exports the traced length) gets a clear refusal, never a file that only takes
    the example's length."""
    for value, spec_input in zip(model.graph.input, spec.inputs):
        dims = value.type.tensor_type.shape.dim
        frozen = [k for k, d in enumerate(spec_input.shape, start=1) if d is None and k < len(dims)
                  and dims[k].HasField("dim_value")]
        if frozen:
            other = "keras" if backend == "torch" else "torch"
            raise ArchspecError(f"the {backend} exporter fixed the free axis {frozen[0]} of input '{spec_input.name}' "
                                f"to the traced length {dims[frozen[0]].dim_value} (one of the model's operations "
                                f"specialises on the length); try --backend {other}, or give the input a fixed length")


def _rename_boundary(model, spec: Spec) -> None:
    """Spec names for the graph's outputs (tf2onnx calls them Identity:0, ...) and `batch` for the batch axis.

    An internal value that already bears a spec output's name (torch.export names values
    after their ops: conv1d, conv1d_1, ...) is renamed first, so the graph stays in SSA form.
    """
    graph = model.graph
    renames = {}
    for output, name in zip(graph.output, spec.outputs):
        if output.name != name:
            renames[output.name] = name
    taken = {n for node in graph.node for n in [*node.input, *node.output]}
    taken |= {i.name for i in graph.initializer} | {v.name for v in graph.value_info}
    for target in set(renames.values()) & taken:
        if target in renames:
            continue
        fresh, n = f"{target}__inner", 1
        while fresh in taken:
            fresh, n = f"{target}__inner{n}", n + 1
        renames[target] = fresh
    for node in graph.node:
        node.output[:] = [renames.get(n, n) for n in node.output]
        node.input[:] = [renames.get(n, n) for n in node.input]
    for initializer in graph.initializer:
        initializer.name = renames.get(initializer.name, initializer.name)
    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = renames.get(value.name, value.name)
    # free axes: `batch`, and `<input>_dim<k>` for the spec's free axes; an output's dimension
    # that the exporter named like an input's free axis gets that axis's name too
    symbols: dict[str, str] = {}
    for value, spec_input in zip(graph.input, spec.inputs):
        dims = value.type.tensor_type.shape.dim
        for k, size in enumerate(spec_input.shape):
            if size is None and k + 1 < len(dims) and not dims[k + 1].HasField("dim_value"):
                new = free_dim_name(spec_input.name, k + 1)
                if dims[k + 1].dim_param:
                    symbols[dims[k + 1].dim_param] = new
                dims[k + 1].dim_param = new
    for value in [*graph.input, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = "batch"
        for dim in list(dims)[1:]:
            if dim.dim_param in symbols:
                dim.dim_param = symbols[dim.dim_param]


def export_onnx(
    spec: Spec,
    weights: Weights,
    output: str | Path,
    *,
    backend: str = "torch",
    opset: int = DEFAULT_OPSET,
    simplify: bool = False,
    extra_metadata: dict[str, Any] | None = None,
) -> Path:
    import onnx

    if backend not in ("torch", "keras"):
        raise ArchspecError(f"unknown backend '{backend}'; choose torch or keras")
    if not 13 <= opset <= 21:
        raise ArchspecError(f"--opset {opset}: supported opsets are 13 to 21")
    output = Path(output)
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "model.onnx"
        (_export_torch if backend == "torch" else _export_keras)(spec, weights, opset, raw)
        model = onnx.load(str(raw))
    _refuse_frozen_axes(model, spec, backend)
    _rename_boundary(model, spec)
    if simplify:
        model = _simplify(model)
    for key, value in metadata(spec, backend, opset, extra_metadata).items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    model.producer_name, model.producer_version = "archspec", __version__
    data = model.SerializeToString()
    try:
        onnx.checker.check_model(data, full_check=True)
    except onnx.checker.ValidationError as exc:
        reason = str(exc).strip().splitlines()[0]
        hint = " (the Keras exporter, tf2onnx, cannot convert it: try --backend torch)" if backend == "keras" else ""
        raise ArchspecError(f"the {backend} exporter's ONNX model does not pass onnx.checker: {reason}{hint}") from None
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(output, data)
    return output


def _simplify(model):
    try:
        import onnxslim
    except ImportError:
        raise ArchspecError("--simplify needs onnxslim: pip install onnxslim") from None
    return onnxslim.slim(model)
