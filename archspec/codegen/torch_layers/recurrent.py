"""Recurrent layers: SimpleRNN, LSTM, GRU and ConvLSTM1D/2D/3D as classes the file defines, each a
loop over the time steps in Keras's gate order, with Keras's masks and dropout; and Bidirectional."""

from __future__ import annotations

import re

from archspec.codegen.torch_layers import Context, Refused, Step, TorchLayer, ctor, emits, emitter, unwrap
from archspec.codegen.torch_layers.activations import activation_steps
from archspec.codegen.torch_layers.helpers import HELPERS
from archspec.codegen.torch_layers.wrappers import inner_context
from archspec.codegen.writer import Raw, identifier, literal
from archspec.layers.base import spatial

HELPERS["RNN"] = '''class RNN(nn.Module):
    """Keras's RNN layer: a cell run over dim 1 (time), its kernels in PyTorch's (out, in)
    layout and Keras's gate order. A mask (batch, time) skips steps: the states carry over and
    the output repeats the last one (zeros with zero_output_for_mask), as Keras's backend.rnn.
    In training, dropout and recurrent_dropout drop the inputs and the state with one draw per
    sequence, as Keras's DropoutRNNCell. Under torch.export the steps run as a scan, so that
    the exported graph keeps the time axis free."""

    gates = 1
    rank = 0  # spatial axes of a step (ConvLSTM's)

    def __init__(
        self,
        input_size,
        units,
        bias=True,
        return_sequences=False,
        go_backwards=False,
        zero_output_for_mask=False,
        dropout=0.0,
        recurrent_dropout=0.0,
        activation=torch.tanh,
        recurrent_activation=torch.sigmoid,
        window=(),
    ):
        super().__init__()
        self.units = units
        self.return_sequences = return_sequences
        self.go_backwards = go_backwards
        self.zero_output_for_mask = zero_output_for_mask
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.activation = activation
        self.recurrent_activation = recurrent_activation
        width = self.gates * units
        self.weight_ih = nn.Parameter(torch.zeros(width, input_size, *window))
        self.weight_hh = nn.Parameter(torch.zeros(width, units, *window))
        self.bias = nn.Parameter(torch.zeros(self.bias_shape(width))) if bias else None

    def bias_shape(self, width):
        return (width,)

    def input_bias(self):
        return self.bias

    def input_product(self, x, weight, bias):
        return F.linear(x, weight, bias)

    def recurrent_product(self, h, weight, bias=None):
        return F.linear(h, weight, bias)

    def input_dropout(self, x):
        # Keras's cell splits its kernel by gate where recurrent_dropout is set, each gate's
        # inputs with a dropout mask of their own; else one mask serves all gates
        count = self.gates if self.recurrent_dropout > 0 else 1
        return self.dropout_masks(x[:, :1], self.dropout, count)

    def dropout_masks(self, like, rate, count):
        """In training, `count` draws of kept / (1 - rate) shaped like `like`, each used at
        every step; None otherwise."""
        if not self.training or rate == 0:
            return None
        masks = [torch.rand_like(like) >= rate for _ in range(count)]
        return [m.to(like.dtype) / (1 - rate) for m in masks]

    def gated(self, product, x, weight, bias, masks):
        """product(x, weight, bias); with dropout masks, each gate's block of the kernel reads
        x dropped out by its own mask."""
        if masks is None:
            return product(x, weight, bias)
        n = len(masks)
        biases = [None] * n if bias is None else bias.chunk(n)
        parts = [
            product(x * m, w, b) for m, w, b in zip(masks, weight.chunk(n), biases)
        ]
        return torch.cat(parts, dim=-1 - self.rank)

    def initial_states(self, z):
        return (z.new_zeros(z.shape[0], self.units, *z.shape[3:]),)

    def forward(self, x, mask=None):
        # go_backwards: Keras reads from the end, and the outputs stay in that order
        if self.go_backwards:
            x = x.flip(1)
            mask = None if mask is None else mask.flip(1)
        dropped = self.input_dropout(x)
        # the input kernel's product for every step at once: (batch, time, gates * units, ...)
        z = self.gated(
            self.input_product, x, self.weight_ih, self.input_bias(), dropped
        )
        states = self.initial_states(z)
        masks = self.dropout_masks(states[0], self.recurrent_dropout, self.gates)

        def step(states, z, keep=None):
            new = self.cell(z, states, masks)
            if keep is None:
                return new, new[0]
            keep = keep.view(-1, *[1] * (z.dim() - 1))
            new = tuple(torch.where(keep, n, s) for n, s in zip(new, states))
            if self.zero_output_for_mask:
                return new, torch.where(keep, new[0], 0.0)
            return new, new[0]

        inputs = [z.transpose(0, 1)]  # time first
        if mask is not None:
            inputs.append(mask.transpose(0, 1))
        if torch.compiler.is_exporting():
            outputs = self.scan(step, states, inputs)
        else:
            outputs = []
            for xs in zip(*(t.unbind(0) for t in inputs)):
                states, out = step(states, *xs)
                outputs.append(out)
            outputs = torch.stack(outputs)
        return outputs.transpose(0, 1) if self.return_sequences else outputs[-1]

    @staticmethod
    def scan(step, states, inputs):
        """The steps as torch's scan op: a Python loop would fix their number in the graph."""
        from torch._higher_order_ops.scan import scan

        def combine(carry, xs):
            new, out = step(tuple(carry), *xs)
            return list(new), out.clone()  # scan's outputs may not alias its carry

        return scan(combine, list(states), inputs)[1]
'''

HELPERS["KerasSimpleRNN"] = '''class KerasSimpleRNN(RNN):
    """Keras's SimpleRNN: h = activation(x W + h U + b)."""

    def cell(self, z, states, masks):
        h = self.gated(self.recurrent_product, states[0], self.weight_hh, None, masks)
        return (self.activation(z + h),)
'''

HELPERS["KerasLSTM"] = '''class KerasLSTM(RNN):
    """Keras's LSTM: gates i, f, c, o (PyTorch's order too) and one bias where nn.LSTM has two."""

    gates = 4

    def initial_states(self, z):
        (h,) = super().initial_states(z)
        return h, torch.zeros_like(h)

    def cell(self, z, states, masks):
        h, c = states
        z = z + self.gated(self.recurrent_product, h, self.weight_hh, None, masks)
        i, f, g, o = z.chunk(4, dim=1)
        gate = self.recurrent_activation
        c = gate(f) * c + gate(i) * self.activation(g)
        return gate(o) * self.activation(c), c
'''

HELPERS["KerasGRU"] = '''class KerasGRU(RNN):
    """Keras's GRU: gates z, r, h (nn.GRU's are r, z, n). reset_after (Keras's default)
    applies the reset gate after the recurrent product and has a second, recurrent bias
    (bias[1])."""

    gates = 3

    def __init__(self, input_size, units, bias=True, reset_after=True, **kwargs):
        self.reset_after = reset_after
        super().__init__(input_size, units, bias, **kwargs)

    def bias_shape(self, width):
        return (2, width) if self.reset_after else (width,)

    def input_bias(self):
        return self.bias[0] if self.bias is not None and self.reset_after else self.bias

    def cell(self, z, states, masks):
        (h,) = states
        x_z, x_r, x_h = z.chunk(3, dim=1)
        gate = self.recurrent_activation
        if self.reset_after:
            bias = None if self.bias is None else self.bias[1]
            r = self.gated(self.recurrent_product, h, self.weight_hh, bias, masks)
            r_z, r_r, r_h = r.chunk(3, dim=1)
            z, r = gate(x_z + r_z), gate(x_r + r_r)
            candidate = self.activation(x_h + r * r_h)
        else:
            kernel_zr, kernel_h = self.weight_hh.split(2 * self.units)
            zr_masks = None if masks is None else masks[:2]
            r = self.gated(self.recurrent_product, h, kernel_zr, None, zr_masks)
            r_z, r_r = r.chunk(2, dim=1)
            z, r = gate(x_z + r_z), gate(x_r + r_r)
            h_h = h if masks is None else h * masks[2]
            candidate = self.activation(x_h + self.recurrent_product(r * h_h, kernel_h))
        return (z * h + (1 - z) * candidate,)
'''

HELPERS["ConvLSTM"] = '''class ConvLSTM(KerasLSTM):
    """Keras's ConvLSTM: an LSTM whose kernels are convolutions, run channels first inside.
    The input convolution has the layer's stride, dilation and padding (`pad`: TensorFlow's
    uneven 'same' padding, the odd pixel after, which nn.Conv cannot write); the recurrent
    one has stride 1 and TensorFlow's 'same' padding. In training each gate's inputs have a
    dropout mask of their own."""

    def __init__(
        self,
        in_channels,
        filters,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        pad=None,
        channels_last=False,
        **kwargs,
    ):
        if isinstance(kernel_size, int):
            kernel_size = (kernel_size,) * self.rank
        super().__init__(in_channels, filters, window=kernel_size, **kwargs)
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.pad = pad
        self.channels_last = channels_last
        self.conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[self.rank]
        halves = [((k - 1) // 2, k // 2) for k in reversed(kernel_size)]
        self.recurrent_pad = tuple(p for half in halves for p in half)

    def input_dropout(self, x):
        return self.dropout_masks(x[:, :1], self.dropout, self.gates)

    def input_product(self, x, weight, bias):
        steps = x.flatten(0, 1)
        if self.pad is not None:
            steps = F.pad(steps, self.pad)
        y = self.conv(steps, weight, bias, self.stride, self.padding, self.dilation)
        return y.unflatten(0, x.shape[:2])

    def recurrent_product(self, h, weight, bias=None):
        return self.conv(F.pad(h, self.recurrent_pad), weight, bias)

    def forward(self, x, mask=None):
        if not self.channels_last:
            return super().forward(x, mask)
        # PyTorch's convolutions take channels first: (batch, time, channels, *spatial)
        y = super().forward(x.movedim(-1, 2), mask)
        return y.movedim(-1 - self.rank, -1)
'''

for _rank in (1, 2, 3):
    HELPERS[f"ConvLSTM{_rank}d"] = f'''class ConvLSTM{_rank}d(ConvLSTM):
    """Keras's ConvLSTM{_rank}D."""

    rank = {_rank}
'''

_CALLABLE = re.compile(r"^((?:F|torch)\.\w+)\(\{x\}\)$")
_SLOT = re.compile(r"\{(\d+)\}")


def cell_activation(name: str, channels_dim1: bool = False) -> Raw:
    """Keras's activation `name` as a PyTorch callable: `torch.tanh`, or a lambda; axis
    activations act on the last axis of Keras's layout (dim 1 for channels-first states of a
    channels_last spec)."""
    steps = activation_steps(name, channels_dim1)
    if not steps:
        return Raw("nn.Identity()")
    step = steps[0]
    template = _SLOT.sub(lambda m: literal(step.values[int(m.group(1))]), step.template)
    match = _CALLABLE.match(template)
    return Raw(match.group(1) if match else "lambda x: " + template.replace("{x}", "x"))


def _options(cfg, channels_dim1: bool) -> list[tuple]:
    """The constructor arguments every recurrent layer shares, where they are not the default."""
    args = [(key, True, False) for key in ("return_sequences", "go_backwards", "zero_output_for_mask")
            if getattr(cfg, key)]
    args += [(key, float(getattr(cfg, key)), False) for key in ("dropout", "recurrent_dropout")
             if getattr(cfg, key) > 0]
    if cfg.activation != "tanh":
        args.append(("activation", cell_activation(cfg.activation, channels_dim1), False))
    if getattr(cfg, "recurrent_activation", "sigmoid") != "sigmoid":
        args.append(("recurrent_activation", cell_activation(cfg.recurrent_activation, channels_dim1), False))
    return args


def _step(ctx: Context) -> Step:
    return Step("{m}({x}, mask={mask})" if ctx.masks[0] else "{m}({x})")


def _refusing(type_name: str, fn, *args):
    try:
        return fn(*args)
    except Refused as exc:
        message = str(exc)
        raise Refused(message if type_name in message else f"{type_name}: {message}") from None


@emits("SimpleRNN", "LSTM", "GRU")
def _recurrent(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    cls = "Keras" + cfg.type_name
    args = [("input_size", ctx.node.input_shapes[0][-1], True), ("units", cfg.units, True)]
    if not cfg.use_bias:
        args.append(("bias", False, False))
    if cls == "KerasGRU" and not cfg.reset_after:
        args.append(("reset_after", False, False))
    args += _refusing(cfg.type_name, _options, cfg, False)
    cell = cfg.cell_name
    return TorchLayer(module=ctor(cls, args), steps=[_step(ctx)], module_class=cls,
                      weights={f"{cell}/kernel": ("weight_ih", (1, 0)), f"{cell}/recurrent_kernel": ("weight_hh", (1, 0)),
                               f"{cell}/bias": ("bias", None)},
                      helpers=("RNN", cls))


@emits("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")
def _conv_lstm(ctx: Context) -> TorchLayer:
    cfg, rank = ctx.cfg, ctx.cfg.rank
    channels_last = ctx.data_format == "channels_last"
    stub = ctx.setup()
    _, channels = spatial(ctx.node.input_shapes[0][1:], ctx.data_format)
    args = [("in_channels", channels, True), ("filters", cfg.filters, True),
            ("kernel_size", unwrap(cfg.kernel_size), True)]
    if max(cfg.strides) > 1:
        args.append(("stride", unwrap(cfg.strides), False))
    if stub.in_pad is not None:
        args.append(("pad", tuple(stub.in_pad), False))
    elif any(stub.in_padding):
        args.append(("padding", unwrap(tuple(stub.in_padding)), False))
    if max(cfg.dilation_rate) > 1:
        args.append(("dilation", unwrap(cfg.dilation_rate), False))
    if not cfg.use_bias:
        args.append(("bias", False, False))
    if channels_last:
        args.append(("channels_last", True, False))
    args += _refusing(cfg.type_name, _options, cfg, channels_last)
    cls = f"ConvLSTM{rank}d"
    permute = (rank + 1, rank, *range(rank))
    return TorchLayer(module=ctor(cls, args), steps=[_step(ctx)], module_class=cls,
                      weights={"conv_lstm_cell/kernel": ("weight_ih", permute),
                               "conv_lstm_cell/recurrent_kernel": ("weight_hh", permute),
                               "conv_lstm_cell/bias": ("bias", None)},
                      helpers=("RNN", "KerasLSTM", "ConvLSTM", cls))


def _shifted(template: str, by: int) -> str:
    return re.sub(r"\{(\d+)\}", lambda m: "{" + str(int(m.group(1)) + by) + "}", template)


@emits("Bidirectional")
def _bidirectional(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    parts, values, hints, weights, helpers = [], [], [], {}, []
    for layer, role in ((cfg.forward, "forward"), (cfg.backward, "backward")):
        try:
            inner = emitter(layer.type_name)(inner_context(ctx, layer, ctx.node.input_shapes, False, (True,)))
        except Refused as exc:
            raise Refused(f"Bidirectional of {exc}") from None
        template, inner_values, inner_hints = inner.module
        parts.append(_shifted(template, len(values)))
        values += inner_values
        hints += [f"{role}_{h}" for h in inner_hints]
        attr = identifier(layer.name)
        weights.update({f"{layer.name}/{k}": (f"{attr}.{a}", p) for k, (a, p) in inner.weights.items()})
        helpers += [h for h in inner.helpers if h not in helpers]
    names = (identifier(cfg.forward.name), identifier(cfg.backward.name))
    template = f"Bidirectional({parts[0]}, {parts[1]}, {{{len(values)}}}"
    values.append(names)
    hints.append("names")
    if cfg.merge_mode != "concat":
        template += f", {{{len(values)}}}"
        values.append(cfg.merge_mode)
        hints.append("merge_mode")
    mask = ", mask={mask}" if ctx.masks[0] else ""
    return TorchLayer(module=(template + ")", tuple(values), tuple(hints)), steps=[Step(f"{{m}}({{x}}{mask})")],
                      module_class="Bidirectional", weights=weights, helpers=(*helpers, "Bidirectional"))
