"""Preprocessing layers that live in models: Rescaling, Resizing and CenterCrop as plain tensor
steps, the random augmentations as small classes (active in training, the identity in eval)."""

from __future__ import annotations

from archspec.codegen.torch_layers import Context, Step, TorchLayer, ctor, emits
from archspec.codegen.torch_layers.helpers import HELPERS
from archspec.layers.preprocessing.base_image_preprocessing import factor_bounds, image_size, shift_bounds

NEAREST_COMMENT = "TensorFlow's nearest resize samples half-pixel centres, as PyTorch's nearest-exact"


@emits("Rescaling")
def _rescaling(ctx: Context) -> TorchLayer:
    return TorchLayer(steps=[Step("{x} * {0} + {1}", (ctx.cfg.scale, ctx.cfg.offset), ("scale", "offset"))])


def _crop_step(crop: tuple, height: int, width: int) -> list[Step]:
    """`x[:, :, top:bottom, left:right]` for a channels-first crop, without the axes it keeps whole."""
    parts = [":", ":"]
    for s, size in zip(crop[2:], (height, width)):
        parts.append(":" if (s.start or 0) == 0 and s.stop >= size else f"{s.start or ''}:{s.stop}")
    while len(parts) > 2 and parts[-1] == ":":
        parts.pop()
    return [Step(f"{{x}}[{', '.join(parts)}]")] if len(parts) > 2 else []


def _resize_step(size: tuple[int, int], interpolation: str, antialias: bool = False) -> Step:
    if interpolation == "nearest":
        return Step("F.interpolate({x}, size={0}, mode=\"nearest-exact\")", (size,), ("size",), NEAREST_COMMENT)
    extra = ", antialias=True" if antialias else ""
    return Step(f"F.interpolate({{x}}, size={{0}}, mode=\"bilinear\", align_corners=False{extra})", (size,),
                ("size",))


@emits("Resizing")
def _resizing(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    stub = ctx.setup()
    height, width, _ = image_size(ctx.node.input_shapes[0], ctx.data_format)
    steps = []
    if stub.crop is not None:
        steps += _crop_step(stub.crop, height, width)
    elif stub.pad is not None:
        if cfg.fill_value == 0:
            steps.append(Step("F.pad({x}, {0})", (tuple(stub.pad),), ("pad",)))
        else:
            steps.append(Step("F.pad({x}, {0}, value={1})", (tuple(stub.pad), cfg.fill_value), ("pad", "fill_value")))
    antialias = cfg.antialias and cfg.interpolation == "bilinear"
    steps.append(_resize_step((cfg.height, cfg.width), cfg.interpolation, antialias))
    return TorchLayer(steps=steps)


@emits("CenterCrop")
def _center_crop(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    stub = ctx.setup()
    height, width, _ = image_size(ctx.node.input_shapes[0], ctx.data_format)
    steps = _crop_step(stub.crop, height, width)
    if stub.resize:
        # Keras's smart_resize: an image smaller than the target is cropped to its aspect ratio and resized
        steps.append(_resize_step((cfg.height, cfg.width), "bilinear"))
    return TorchLayer(steps=steps)


# ---------------------------------------------------------------- random augmentation

HELPERS["RandomAugmentation"] = '''class RandomAugmentation(nn.Module):
    """Base of Keras's random image augmentations: `augment` in training, the identity in
    eval. A seed gives the layer its own torch.Generator (PyTorch's draws, not Keras's)."""

    def __init__(self, seed=None):
        super().__init__()
        self.seed = seed
        self.generator = None

    def uniform(self, shape, low, high, like):
        """Draws in [low, high) from the layer's generator (or torch's, without a seed)."""
        generator = None
        if self.seed is not None:
            if self.generator is None or self.generator.device != like.device:
                self.generator = torch.Generator(device=like.device)
                self.generator.manual_seed(self.seed)
            generator = self.generator
        draws = torch.rand(
            shape, generator=generator, device=like.device, dtype=like.dtype
        )
        return low + (high - low) * draws

    def forward(self, x):
        return self.augment(x) if self.training else x
'''

HELPERS["RandomAffine"] = '''class RandomAffine(RandomAugmentation):
    """Base of the augmentations that move pixels, with TensorFlow's ImageProjectiveTransformV3
    (keras.ops.image.affine_transform) on a channels-first batch."""

    def __init__(
        self, fill_mode="reflect", interpolation="bilinear", fill_value=0.0, seed=None
    ):
        super().__init__(seed)
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = fill_value

    def transform(self, x, matrix):
        """Output pixel (x, y) reads the input at (a0 x + a1 y + a2, b0 x + b1 y + b2), the
        rows of `matrix` (batch, 6): integer coordinates, no half-pixel shift. Reads outside
        the image are mapped back by fill_mode, or read fill_value ("constant")."""
        n, c, height, width = x.shape
        ys, xs = torch.meshgrid(
            torch.arange(height, device=x.device, dtype=torch.float32),
            torch.arange(width, device=x.device, dtype=torch.float32),
            indexing="ij",
        )
        t = matrix.to(torch.float32).view(n, 6, 1, 1).unbind(1)
        in_x = self.map_coordinate(t[0] * xs + t[1] * ys + t[2], width)
        in_y = self.map_coordinate(t[3] * xs + t[4] * ys + t[5], height)
        flat = x.reshape(n, c, height * width)

        def read(iy, ix):
            inside = (iy >= 0) & (iy < height) & (ix >= 0) & (ix < width)
            index = iy.clamp(0, height - 1) * width + ix.clamp(0, width - 1)
            index = index.long().view(n, 1, -1).expand(n, c, -1)
            values = flat.gather(2, index).view(n, c, height, width)
            return torch.where(inside.unsqueeze(1), values, self.fill_value)

        if self.interpolation == "nearest":
            # TensorFlow rounds halves away from zero; torch.round rounds them to even
            iy = torch.sign(in_y) * torch.floor(in_y.abs() + 0.5)
            ix = torch.sign(in_x) * torch.floor(in_x.abs() + 0.5)
            return read(iy, ix)
        y0, x0 = torch.floor(in_y), torch.floor(in_x)
        y1, x1 = y0 + 1, x0 + 1
        wy0, wy1 = (y1 - in_y).unsqueeze(1), (in_y - y0).unsqueeze(1)
        wx0, wx1 = (x1 - in_x).unsqueeze(1), (in_x - x0).unsqueeze(1)
        top = wx0 * read(y0, x0) + wx1 * read(y0, x1)
        bottom = wx0 * read(y1, x0) + wx1 * read(y1, x1)
        return (wy0 * top + wy1 * bottom).to(x.dtype)

    def map_coordinate(self, coord, size):
        """TensorFlow's MapCoordinate: a coordinate outside [0, size - 1] mapped back inside
        (reflect: dcba|abcd|dcba, wrap: abcd|abcd|abcd, nearest: the edge)."""
        if self.fill_mode == "constant":
            return coord
        if size <= 1 or self.fill_mode == "nearest":
            return coord.clamp(0, size - 1)
        if self.fill_mode == "reflect":
            period = 2 * size
            low = period * torch.trunc(-coord / period) + coord
            low = torch.where(low < -size, low + period, -low - 1)
            high = coord - period * torch.trunc(coord / period)
            high = torch.where(high >= size, period - high - 1, high)
        else:  # wrap
            low = coord + size * (torch.trunc(-coord / (size - 1)) + 1)
            high = coord - size * torch.trunc(coord / (size - 1))
        mapped = torch.where(coord < 0, low, torch.where(coord > size - 1, high, coord))
        return mapped.clamp(0, size - 1)
'''

HELPERS["RandomFlip"] = '''class RandomFlip(RandomAugmentation):
    """Keras's RandomFlip: each image flipped with probability 1/2; one draw per image
    decides both flips of "horizontal_and_vertical"."""

    def __init__(self, mode="horizontal_and_vertical", seed=None):
        super().__init__(seed)
        self.mode = mode

    def augment(self, x):
        flips = self.uniform((x.shape[0], 1, 1, 1), 0.0, 1.0, x) <= 0.5
        if self.mode != "vertical":
            x = torch.where(flips, x.flip(-1), x)
        if self.mode != "horizontal":
            x = torch.where(flips, x.flip(-2), x)
        return x
'''

HELPERS["RandomRotation"] = '''class RandomRotation(RandomAffine):
    """Keras's RandomRotation: each image turned about its centre by an angle drawn in
    factor (lower, upper) x 360 degrees, counter-clockwise."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def augment(self, x):
        n, _, height, width = x.shape
        lower, upper = self.factor
        angle = self.uniform((n,), lower * 360.0, upper * 360.0, x) * (math.pi / 180.0)
        cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
        a0, a1, b0, b1 = angle.cos(), -angle.sin(), angle.sin(), angle.cos()
        matrix = [a0, a1, cx - cx * a0 - cy * a1, b0, b1, cy - cx * b0 - cy * b1]
        return self.transform(x, torch.stack(matrix, dim=1))
'''

HELPERS["RandomZoom"] = '''class RandomZoom(RandomAffine):
    """Keras's RandomZoom about the centre: the input is read at zoom x coordinates, zoom
    drawn in 1 + height_factor (lower, upper); without width_factor, both axes alike."""

    def __init__(self, height_factor, width_factor=None, **kwargs):
        super().__init__(**kwargs)
        self.height_factor = height_factor
        self.width_factor = width_factor

    def augment(self, x):
        n, _, height, width = x.shape
        lower, upper = self.height_factor
        zoom_y = self.uniform((n,), 1.0 + lower, 1.0 + upper, x)
        zoom_x = zoom_y
        if self.width_factor is not None:
            lower, upper = self.width_factor
            zoom_x = self.uniform((n,), 1.0 + lower, 1.0 + upper, x)
        zero = torch.zeros_like(zoom_x)
        shift_x = (width - 1) / 2.0 * (1.0 - zoom_x)
        shift_y = (height - 1) / 2.0 * (1.0 - zoom_y)
        matrix = [zoom_x, zero, shift_x, zero, zoom_y, shift_y]
        return self.transform(x, torch.stack(matrix, dim=1))
'''

HELPERS["RandomTranslation"] = '''class RandomTranslation(RandomAffine):
    """Keras's RandomTranslation: each image shifted by (lower, upper) x its height (down)
    and x its width (right)."""

    def __init__(self, height_factor, width_factor, **kwargs):
        super().__init__(**kwargs)
        self.height_factor = height_factor
        self.width_factor = width_factor

    def augment(self, x):
        n, _, height, width = x.shape
        dy = self.uniform((n,), *self.height_factor, x) * height
        dx = self.uniform((n,), *self.width_factor, x) * width
        one, zero = torch.ones_like(dx), torch.zeros_like(dx)
        matrix = [one, zero, -dx, zero, one, -dy]
        return self.transform(x, torch.stack(matrix, dim=1))
'''

HELPERS["RandomContrast"] = '''class RandomContrast(RandomAugmentation):
    """Keras's RandomContrast: each channel becomes (x - mean) * c + mean (mean over the
    image's pixels), c drawn in [1 - lower, 1 + upper], then clipped to value_range."""

    def __init__(self, factor, value_range=(0, 255), seed=None):
        super().__init__(seed)
        self.factor = factor
        self.value_range = value_range

    def augment(self, x):
        lower, upper = self.factor
        contrast = self.uniform((x.shape[0], 1, 1, 1), 1.0 - lower, 1.0 + upper, x)
        mean = x.mean(dim=(2, 3), keepdim=True)
        return ((x - mean) * contrast + mean).clamp(*self.value_range)
'''

HELPERS["RandomBrightness"] = '''class RandomBrightness(RandomAugmentation):
    """Keras's RandomBrightness: each image offset by factor (lower, upper) x the width of
    value_range, then clipped to value_range."""

    def __init__(self, factor, value_range=(0, 255), seed=None):
        super().__init__(seed)
        self.factor = factor
        self.value_range = value_range

    def augment(self, x):
        low, high = self.value_range
        delta = self.uniform((x.shape[0], 1, 1, 1), *self.factor, x) * (high - low)
        return (x + delta).clamp(low, high)
'''


def _bounds(pair: tuple[float, float]) -> tuple[float, float]:
    return tuple(float(v) + 0.0 for v in pair)  # + 0.0: no -0.0 in the source


def _random(ctx: Context, cls: str, args: list, base: str = "RandomAugmentation") -> TorchLayer:
    cfg = ctx.cfg
    if base == "RandomAffine":
        for name, default in (("fill_mode", "reflect"), ("interpolation", "bilinear"), ("fill_value", 0.0)):
            if getattr(cfg, name) != default:
                args.append((name, getattr(cfg, name), False))
    if cfg.seed is not None:
        args.append(("seed", cfg.seed, False))
    helpers = ("RandomAugmentation", base, cls) if base != "RandomAugmentation" else (base, cls)
    return TorchLayer(module=ctor(cls, args), steps=[Step("{m}({x})")], helpers=helpers)


@emits("RandomFlip")
def _random_flip(ctx: Context) -> TorchLayer:
    mode = ctx.cfg.mode
    return _random(ctx, "RandomFlip", [("mode", mode, True)] if mode != "horizontal_and_vertical" else [])


@emits("RandomRotation")
def _random_rotation(ctx: Context) -> TorchLayer:
    factor = _bounds(factor_bounds(ctx.cfg.factor, -1.0, 1.0))
    return _random(ctx, "RandomRotation", [("factor", factor, True)], "RandomAffine")


@emits("RandomZoom")
def _random_zoom(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    args = [(name, _bounds(shift_bounds(getattr(cfg, name), -1.0, 1.0, name, low_inclusive=False)), True)
            for name in ("height_factor", "width_factor") if getattr(cfg, name) is not None]
    return _random(ctx, "RandomZoom", args, "RandomAffine")


@emits("RandomTranslation")
def _random_translation(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    args = [(name, _bounds(shift_bounds(getattr(cfg, name), -1.0, 1.0, name)), True)
            for name in ("height_factor", "width_factor")]
    return _random(ctx, "RandomTranslation", args, "RandomAffine")


@emits("RandomContrast")
def _random_contrast(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    args = [("factor", _bounds(factor_bounds(cfg.factor, 0.0, 1.0)), True)]
    if tuple(cfg.value_range) != (0, 255):
        args.append(("value_range", tuple(cfg.value_range), False))
    return _random(ctx, "RandomContrast", args)


@emits("RandomBrightness")
def _random_brightness(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    args = [("factor", _bounds(factor_bounds(cfg.factor, -1.0, 1.0)), True)]
    value_range = tuple(sorted(cfg.value_range))  # Keras sorts it
    if value_range != (0, 255):
        args.append(("value_range", value_range, False))
    return _random(ctx, "RandomBrightness", args)
