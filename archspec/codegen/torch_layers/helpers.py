"""Small nn.Module classes a generated file defines when its layers need them."""

from __future__ import annotations

DEPTHWISE = '''class DepthwiseConv{r}d(nn.Conv{r}d):
    """Keras's DepthwiseConv{r}D: depth_multiplier filters per input channel, channel-major."""

    def __init__(self, in_channels, depth_multiplier, kernel_size, **kwargs):
        out = in_channels * depth_multiplier
        super().__init__(in_channels, out, kernel_size, groups=in_channels, **kwargs)
'''

SEPARABLE = '''class SeparableConv{r}d(nn.Module):
    """Keras's SeparableConv{r}D: a depthwise convolution, then a 1x1 one with the bias."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        depth_multiplier=1,
        bias=True,
        **kwargs,
    ):
        super().__init__()
        middle = in_channels * depth_multiplier
        self.depthwise = DepthwiseConv{r}d(
            in_channels, depth_multiplier, kernel_size, bias=False, **kwargs
        )
        self.pointwise = nn.Conv{r}d(middle, out_channels, 1, bias=bias)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))
'''

HELPERS = {
    "PReLU": '''class PReLU(nn.Module):
    """Keras's PReLU: a learned slope for negative values, per element of `shape`."""

    def __init__(self, shape):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(shape))
''',
    "LayerScale": '''class LayerScale(nn.Module):
    """ConvNeXt's LayerScale (keras.applications): the last axis times a learned vector."""

    def __init__(self, projection_dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(projection_dim))
''',
    "avg_pool_same": '''def avg_pool_same(x, pad, kernel_size, stride):
    """TensorFlow's 'same' average pooling: the odd pixel padded after, real values averaged."""
    pool = {3: F.avg_pool1d, 4: F.avg_pool2d, 5: F.avg_pool3d}[x.dim()]
    counts = pool(F.pad(torch.ones_like(x[:, :1]), pad), kernel_size, stride)
    return pool(F.pad(x, pad), kernel_size, stride) / counts
''',
    "keras_relu": '''def keras_relu(x, negative_slope, max_value, threshold):
    """keras.activations.relu step by step, so that its corners (a ceiling below the threshold) agree."""
    y = torch.where(x > threshold, x, 0.0) if threshold != 0 else F.relu(x)
    if max_value is not None:
        y = torch.clamp(y, 0.0, max_value)
    if negative_slope != 0:
        y = y - negative_slope * F.relu(threshold - x)
    return y
''',
    **{f"DepthwiseConv{r}d": DEPTHWISE.replace("{r}", str(r)) for r in (1, 2)},
    **{f"SeparableConv{r}d": SEPARABLE.replace("{r}", str(r)) for r in (1, 2)},
}
ORDER = ("avg_pool_same", "keras_relu", "PReLU", "LayerScale", "DepthwiseConv1d", "DepthwiseConv2d", "SeparableConv1d", "SeparableConv2d")

POSITION = '''class PositionEmbedding(nn.Module):
    """keras_hub's PositionEmbedding: a learned (sequence_length, features) table whose first
    `steps` rows are broadcast to the input's shape (the input's values are not used)."""

    def __init__(self, sequence_length, features):
        super().__init__()
        self.embeddings = nn.Parameter(torch.zeros(sequence_length, features))

    def forward(self, x):
        # a copy: an output that is a view of the parameter would change with it
        return self.embeddings[: x.shape[-2]].expand(x.shape).clone()
'''

HELPERS.update({"PositionEmbedding": POSITION})
ORDER = (*ORDER, "PositionEmbedding")

HELPERS["without"] = '''def without(module, name):
    """The module without its parameter `name`: Keras's normalizations without center have no
    beta (without scale no gamma), and nn.BatchNorm/LayerNorm/GroupNorm skip the bias (weight)."""
    setattr(module, name, None)
    return module
'''
HELPERS["SharedDropout"] = '''class SharedDropout(nn.Module):
    """Keras's Dropout with noise_shape: one draw shared along the axes where it is 1."""

    def __init__(self, rate, noise_shape):
        super().__init__()
        self.rate = rate
        self.noise_shape = noise_shape

    def keep(self, x):
        """1 where a value is kept, one draw shared along the axes where noise_shape is 1."""
        shape = [x.shape[i] if n is None else n for i, n in enumerate(self.noise_shape)]
        return (torch.rand(shape, device=x.device) >= self.rate).to(x.dtype)

    def forward(self, x):
        if not self.training or self.rate == 0:
            return x
        return x * self.keep(x) / (1 - self.rate)
'''
ORDER = ("without", *ORDER, "SharedDropout")
HELPERS["Bidirectional"] = '''class Bidirectional(nn.Module):
    """Keras's Bidirectional: a forward and a backward recurrent layer read one sequence (named
    as Keras names them), their outputs merged."""

    def __init__(self, forward_layer, backward_layer, names, merge_mode="concat"):
        super().__init__()
        self.names = names
        self.merge_mode = merge_mode
        self.add_module(names[0], forward_layer)
        self.add_module(names[1], backward_layer)

    def forward(self, x, mask=None):
        forward_layer, backward_layer = (getattr(self, name) for name in self.names)
        y, y_rev = forward_layer(x, mask), backward_layer(x, mask)
        if backward_layer.return_sequences:  # its outputs come in its reversed order
            y_rev = y_rev.flip(1)
        if self.merge_mode == "concat":
            return torch.cat([y, y_rev], dim=-1)
        if self.merge_mode == "sum":
            return y + y_rev
        if self.merge_mode == "ave":
            return (y + y_rev) / 2
        return y * y_rev
'''
ORDER = (*ORDER, "Bidirectional")


def helper_order() -> tuple[str, ...]:
    """Definitions in the order a file needs them: ORDER's, then those a family module added to
    HELPERS (base classes first, as they were added)."""
    return (*ORDER, *(name for name in HELPERS if name not in ORDER))
