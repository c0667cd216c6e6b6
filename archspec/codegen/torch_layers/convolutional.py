"""Convolutions: nn.ConvNd (grouped for depthwise), transposed and separable ones, with TensorFlow's
'same' padding written out as an F.pad wherever it is uneven."""

from __future__ import annotations

from archspec.codegen.torch_layers import Context, Step, TorchLayer, ctor, emits, unwrap
from archspec.codegen.torch_layers.activations import activation_steps

PAD_COMMENT = "TensorFlow's 'same' padding puts the odd pixel after; nn.Conv pads both sides alike"


def _pad_steps(stub) -> list[Step]:
    if getattr(stub, "pad", None) is None:
        return []
    return [Step("F.pad({x}, {0})", (tuple(stub.pad),), ("pad",), PAD_COMMENT)]


def _kernel_permute(rank: int) -> tuple[int, ...]:
    return (rank + 1, rank, *range(rank))


@emits("Conv1D", "Conv2D", "Conv3D")
def _conv(ctx: Context) -> TorchLayer:
    cfg, rank = ctx.cfg, ctx.cfg.rank
    stub = ctx.setup()
    channels = ctx.shape[0]
    args = [("in_channels", channels, True), ("out_channels", cfg.filters, True),
            ("kernel_size", unwrap(cfg.kernel_size), True)]
    if max(cfg.strides) > 1 or "strides" in cfg.model_fields_set:  # as written: one class for all uses
        args.append(("stride", unwrap(cfg.strides), False))
    if any(stub.padding):
        args.append(("padding", unwrap(tuple(stub.padding)), False))
    if max(cfg.dilation_rate) > 1:
        args.append(("dilation", unwrap(cfg.dilation_rate), False))
    if cfg.groups > 1:
        args.append(("groups", cfg.groups, False))
    if not cfg.use_bias:
        args.append(("bias", False, False))
    steps = _pad_steps(stub) if cfg.padding != "causal" else [
        Step("F.pad({x}, {0})", (tuple(stub.pad),), ("pad",), "causal: all the padding before the first step")]
    steps.append(Step("{m}({x})"))
    cls = f"Conv{rank}d"
    return TorchLayer(module=ctor(f"nn.{cls}", args), steps=steps + activation_steps(cfg.activation, ctx.inside),
                      module_class=cls, weights={"kernel": ("weight", _kernel_permute(rank)), "bias": ("bias", None)})


@emits("DepthwiseConv1D", "DepthwiseConv2D")
def _depthwise(ctx: Context) -> TorchLayer:
    cfg, rank = ctx.cfg, ctx.cfg.rank
    stub = ctx.setup()
    channels = ctx.shape[0]
    args = [("in_channels", channels, True), ("depth_multiplier", cfg.depth_multiplier, True),
            ("kernel_size", unwrap(cfg.kernel_size), True)]
    if max(cfg.strides) > 1 or "strides" in cfg.model_fields_set:  # as written: one class for all uses
        args.append(("stride", unwrap(cfg.strides), False))
    if any(stub.padding):
        args.append(("padding", unwrap(tuple(stub.padding)), False))
    if max(cfg.dilation_rate) > 1:
        args.append(("dilation", unwrap(cfg.dilation_rate), False))
    if not cfg.use_bias:
        args.append(("bias", False, False))
    cls = f"DepthwiseConv{rank}d"
    steps = _pad_steps(stub) + [Step("{m}({x})")]
    permute = (rank, rank + 1, *range(rank))
    return TorchLayer(module=ctor(cls, args), steps=steps + activation_steps(cfg.activation, ctx.inside),
                      module_class=cls, weights={ctx.node.weights[0].name: ("weight", permute), "bias": ("bias", None)},
                      helpers=(cls,))


@emits("SeparableConv1D", "SeparableConv2D")
def _separable(ctx: Context) -> TorchLayer:
    cfg, rank = ctx.cfg, ctx.cfg.rank
    stub = ctx.setup()
    channels = ctx.shape[0]
    args = [("in_channels", channels, True), ("out_channels", cfg.filters, True),
            ("kernel_size", unwrap(cfg.kernel_size), True)]
    if max(cfg.strides) > 1 or "strides" in cfg.model_fields_set:  # as written: one class for all uses
        args.append(("stride", unwrap(cfg.strides), False))
    if any(stub.padding):
        args.append(("padding", unwrap(tuple(stub.padding)), False))
    if max(cfg.dilation_rate) > 1:
        args.append(("dilation", unwrap(cfg.dilation_rate), False))
    if cfg.depth_multiplier != 1:
        args.append(("depth_multiplier", cfg.depth_multiplier, False))
    if not cfg.use_bias:
        args.append(("bias", False, False))
    cls = f"SeparableConv{rank}d"
    steps = _pad_steps(stub) + [Step("{m}({x})")]
    return TorchLayer(module=ctor(cls, args), steps=steps + activation_steps(cfg.activation, ctx.inside),
                      module_class=cls, weights={
                          "depthwise_kernel": ("depthwise.weight", (rank, rank + 1, *range(rank))),
                          "pointwise_kernel": ("pointwise.weight", _kernel_permute(rank)),
                          "bias": ("pointwise.bias", None)}, helpers=(cls, f"DepthwiseConv{rank}d"))


@emits("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
def _transpose(ctx: Context) -> TorchLayer:
    cfg, rank = ctx.cfg, ctx.cfg.rank
    stub = ctx.setup()
    channels = ctx.shape[0]
    args = [("in_channels", channels, True), ("out_channels", cfg.filters, True),
            ("kernel_size", unwrap(cfg.kernel_size), True)]
    if max(cfg.strides) > 1 or "strides" in cfg.model_fields_set:  # as written: one class for all uses
        args.append(("stride", unwrap(cfg.strides), False))
    if any(stub.padding):
        args.append(("padding", unwrap(tuple(stub.padding)), False))
    if any(stub.output_padding):
        args.append(("output_padding", unwrap(tuple(stub.output_padding)), False))
    if max(cfg.dilation_rate) > 1:
        args.append(("dilation", unwrap(cfg.dilation_rate), False))
    cls = f"ConvTranspose{rank}d"
    weights = {"kernel": ("weight", _kernel_permute(rank)), "bias": ("bias", None)}
    if not cfg.use_bias:
        args.append(("bias", False, False))
    steps = [Step("{m}({x})")]
    if stub.crop is not None:
        ends = ", ".join(":" if c.stop is None else f":{c.stop}" for c in stub.crop)
        steps.append(Step(f"{{x}}[:, :, {ends}]", (), (),
                          "TensorFlow's 'same' output drops the odd step at the end; PyTorch cannot crop unevenly"))
    return TorchLayer(module=ctor(f"nn.{cls}", args), steps=steps + activation_steps(cfg.activation, ctx.inside),
                      module_class=cls, weights=weights)
