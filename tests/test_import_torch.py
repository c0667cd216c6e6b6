"""`archspec import torch`: torchvision models and a hand-written module become specs whose Keras and
PyTorch builds (and ONNX exports) give the original module's outputs; hostile inputs are refused."""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest

from tests.conftest import HAS_KERAS, HAS_TORCH

pytestmark = [pytest.mark.torch, pytest.mark.skipif(not HAS_TORCH, reason="PyTorch not installed")]

LOGITS_ATOL = 1e-4


def torchvision():
    from archspec.importers.torchvision_compat import import_torchvision

    return import_torchvision()


def randomized(module, seed: int = 0):
    """Batch-norm statistics away from (0, 1), so that the import of momentum/eps/stats shows."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=generator) - 0.5)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=generator) + 0.5)
    return module.eval()


def imported(module, shapes, channels_last=False):
    from archspec.importers.emit import emit
    from archspec.importers.torch import read_torch

    return emit(read_torch(module, shapes, channels_last, type(module).__name__))


def paths_agree(emitted, module, backends=("torch", "keras"), onnx=(), tmp_path=None, seed=1) -> dict[str, float]:
    """max |diff| against the original module for each path, on inputs with negative values too."""
    import archspec
    from archspec.check import sample_inputs
    from archspec.importers.torch import torch_outputs

    inputs = [2 * x - 1 for x in sample_inputs(emitted.spec, 2, seed)]
    expected = torch_outputs(module, emitted.spec.data_format)(inputs)
    diffs = {}
    for backend in backends:
        model = archspec.build(emitted.spec, backend, weights=emitted.weights)
        if backend == "keras":
            from archspec.backends.keras import predict
        else:
            from archspec.backends.torch import predict
        diffs[backend] = max(float(np.abs(a - b).max()) for a, b in zip(predict(model, inputs), expected))
    for exporter in onnx:
        from archspec.export.onnx import export_onnx
        from archspec.onnx import Session

        file = export_onnx(emitted.spec, emitted.weights, tmp_path / f"{exporter}.onnx", backend=exporter)
        got = Session(file).predict(*inputs)
        diffs[f"onnx:{exporter}"] = max(float(np.abs(a - b).max()) for a, b in zip(got, expected))
    return diffs


def assert_close(diffs: dict[str, float]) -> None:
    assert diffs and all(d <= LOGITS_ATOL for d in diffs.values()), diffs


def handwritten():
    """Explicit padding, depthwise, grouped and transposed convolutions, channel shuffle, hardswish, GELU,
    LayerNorm on a permuted map, a padded max pool after a ReLU, an average pool counting its padding,
    squeeze-excite, nearest upsampling, dropout and a flatten into Linear."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Shuffle(nn.Module):
        def forward(self, x):
            n, c, h, w = x.shape
            return x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=(2, 1))
            self.bn = nn.BatchNorm2d(8, momentum=0.2, eps=1e-3)
            self.pool = nn.MaxPool2d(3, stride=2, padding=1)
            self.depthwise = nn.Conv2d(8, 16, 3, padding=1, groups=8)
            self.shuffle = Shuffle()
            self.grouped = nn.Conv2d(16, 16, 1, groups=4, bias=False)
            self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(16, 4, 1), nn.ReLU(), nn.Conv2d(4, 16, 1),
                                    nn.Hardsigmoid())
            self.up = nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1)
            self.avg = nn.AvgPool2d(3, stride=2, padding=1)
            self.norm = nn.LayerNorm(8, eps=1e-6)
            self.drop = nn.Dropout(0.3)
            self.head = nn.Linear(8 * 16 * 12, 5)

        def forward(self, x):
            x = self.pool(F.relu(self.bn(self.stem(x))))
            x = F.hardswish(self.depthwise(x))
            x = self.shuffle(x)
            a, b = x.chunk(2, dim=1)
            x = self.grouped(torch.cat([a, F.gelu(b)], dim=1))
            x = x * self.se(x)
            x = self.avg(self.up(x))
            x = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            return self.head(self.drop(torch.flatten(x, 1)))

    torch.manual_seed(0)
    return randomized(Net())


HANDWRITTEN_SHAPE = (3, 30, 22)


# ---------------------------------------------------------------- the torchvision shim


def test_torchvision_imports_and_resnet18_builds():
    import torch

    tv = torchvision()
    model = tv.models.resnet18(num_classes=3).eval()
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 3)


# ---------------------------------------------------------------- a module written by hand


@pytest.mark.skipif(not HAS_KERAS, reason="needs Keras")
def test_handwritten_module_channels_first(tmp_path):
    module = handwritten()
    emitted = imported(module, [HANDWRITTEN_SHAPE])
    types = {n.type for n in emitted.spec.nodes}
    assert {"ZeroPadding2D", "DepthwiseConv2D", "Conv2DTranspose", "Reshape", "Permute", "Cropping2D",
            "LayerNormalization", "Multiply", "UpSampling2D", "Dropout"} <= types
    assert {n.layer.activation_name for n in emitted.spec.nodes} >= {"hard_silu", "gelu", "hard_sigmoid"}
    assert any(n.type == "Conv2D" and n.layer.groups == 4 for n in emitted.spec.nodes)
    assert_close(paths_agree(emitted, module, onnx=("keras", "torch"), tmp_path=tmp_path))


@pytest.mark.skipif(not HAS_KERAS, reason="needs Keras")
def test_handwritten_module_channels_last():
    module = handwritten()
    emitted = imported(module, [HANDWRITTEN_SHAPE], channels_last=True)
    assert emitted.spec.data_format == "channels_last"
    assert emitted.spec.inputs[0].shape == (30, 22, 3)
    assert_close(paths_agree(emitted, module))


# ---------------------------------------------------------------- torchvision classification models

# ONNX exports cost the most: the hand-written module and the tiny ViT take both in the fast tests,
# two torchvision models (the cheapest to export) one each in the slow ones
FAST = [("resnet18", 32, ())]
SLOW = [
    ("mobilenet_v3_small", 32, ("keras",)),
    ("efficientnet_b0", 32, ()),
    ("densenet121", 32, ()),
    ("vgg11_bn", 32, ()),
    ("convnext_tiny", 32, ()),
    ("regnet_y_400mf", 32, ()),
    ("shufflenet_v2_x0_5", 32, ()),
    ("squeezenet1_1", 48, ("torch",)),
]


def _torchvision_case(name, size, onnx, tmp_path, channels_last=False, keras=True):
    import torch

    torch.manual_seed(0)
    module = randomized(getattr(torchvision().models, name)(num_classes=7))
    emitted = imported(module, [(3, size, size)], channels_last)
    backends = ("torch", "keras") if HAS_KERAS and keras else ("torch",)
    diffs = paths_agree(emitted, module, backends, onnx if HAS_KERAS else (), tmp_path)
    assert_close(diffs)
    return emitted


@pytest.mark.parametrize("name,size,onnx", FAST, ids=[c[0] for c in FAST])
def test_torchvision_fast(name, size, onnx, tmp_path):
    emitted = _torchvision_case(name, size, onnx, tmp_path)
    assert emitted.folded and emitted.lines < 60  # resnet18's blocks read as blocks


@pytest.mark.slow
@pytest.mark.parametrize("name,size,onnx", SLOW, ids=[c[0] for c in SLOW])
def test_torchvision_slow(name, size, onnx, tmp_path):
    _torchvision_case(name, size, onnx, tmp_path)


@pytest.mark.slow
def test_vit_b_16():
    """torchvision's vit_b_16 itself (12 encoder blocks of 12 heads, 86M parameters) at 32x32: 4 patches."""
    import torch

    torch.manual_seed(0)
    module = perturbed(torchvision().models.vit_b_16(image_size=32, num_classes=7), scale=0.02)
    emitted = imported(module, [(3, 32, 32)])
    assert emitted.folded and "repeat: 12" in emitted.text and emitted.lines < 40
    assert_close(paths_agree(emitted, module, ("torch", "keras") if HAS_KERAS else ("torch",)))


@pytest.mark.slow
def test_convnext_channels_last_needs_no_permute(tmp_path):
    """ConvNeXt permutes to channels-last around its LayerNorm/Linear: in a channels_last spec those
    permutes vanish (checked in PyTorch; the plain ConvNeXt case runs Keras)."""
    emitted = _torchvision_case("convnext_tiny", 32, (), tmp_path, channels_last=True, keras=False)
    assert not any(n.type == "Permute" for n in emitted.spec.nodes)


def perturbed(module, seed: int = 0, scale: float = 0.3):
    """Every parameter moved off its initial value: torchvision's ViT starts with a zero class
    token and a zero head, which would hide a wrong class token or a wrong head."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator))
    return module.eval()


def tiny_vit(**kwargs):
    options = dict(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=5)
    return perturbed(torchvision().models.VisionTransformer(**{**options, **kwargs}))


@pytest.mark.skipif(not HAS_KERAS, reason="needs Keras")
def test_vision_transformer(tmp_path):
    """torchvision's ViT code path at a tiny size: the class token (a learned tensor broadcast over
    the batch) becomes a PositionEmbedding of one step joined to the patches, nn.MultiheadAttention
    a MultiHeadAttention, the token select x[:, 0] a Cropping1D + Flatten; the encoder folds."""
    module = tiny_vit()
    emitted = imported(module, [(3, 32, 32)])
    nodes = emitted.spec.nodes
    attention = [n for n in nodes if n.type == "MultiHeadAttention"]
    assert len(attention) == 2 and {(n.layer.num_heads, n.layer.key_dim) for n in attention} == {(2, 8)}
    embeddings = sorted(n.layer.sequence_length for n in nodes if n.type == "PositionEmbedding")
    assert embeddings == [1, 17]  # the class token, the position table of 1 + 16 patches
    assert {"Concatenate", "Cropping1D", "Flatten", "LayerNormalization"} <= {n.type for n in nodes}
    assert not any(n.type == "Dropout" for n in nodes)  # rate 0: nothing to carry
    assert emitted.folded and "repeat: 2" in emitted.text
    assert_close(paths_agree(emitted, module, onnx=("keras", "torch"), tmp_path=tmp_path))


def test_vision_transformer_channels_last_and_cross_attention():
    """A channels_last spec of the ViT; an nn.MultiheadAttention with distinct query and key/value
    inputs (the roles come from the call, not from the graph)."""
    import torch
    from torch import nn

    from archspec.errors import ArchspecError
    from archspec.importers.torch import read_torch

    module = tiny_vit(num_heads=4)
    emitted = imported(module, [(3, 32, 32)], channels_last=True)
    assert emitted.spec.inputs[0].shape == (32, 32, 3)
    # (H, W, C) patches reshape straight into (steps, features): torch's reshape + permute need no Permute
    assert not any(n.type == "Permute" for n in emitted.spec.nodes)
    assert_close(paths_agree(emitted, module, backends=("torch",)))

    class Cross(nn.Module):
        def __init__(self):
            super().__init__()
            self.attend = nn.MultiheadAttention(8, 2, batch_first=True, kdim=6, vdim=6)

        def forward(self, x):
            memory = torch.tanh(x[:, :, :6])
            return self.attend(torch.relu(x), memory, memory, need_weights=False)[0]

    torch.manual_seed(0)
    cross = perturbed(Cross())
    emitted = imported(cross, [(5, 8)])
    (node,) = [n for n in emitted.spec.nodes if n.type == "MultiHeadAttention"]
    assert len(node.inputs) == 2  # [query, value]: the key is the value
    assert_close(paths_agree(emitted, cross, backends=("torch",)))

    class Masked(nn.Module):
        def __init__(self):
            super().__init__()
            self.attend = nn.MultiheadAttention(8, 2, batch_first=True)
            self.register_buffer("mask", torch.ones(5, 5, dtype=torch.bool).triu(1))

        def forward(self, x):
            return self.attend(x, x, x, attn_mask=self.mask, need_weights=False)[0]

    with pytest.raises(ArchspecError, match=r"'attend' is called with attn_mask"):
        read_torch(Masked(), [(5, 8)])


def test_weights_of_a_torch_module_read_for_weights_import(user_file):
    from archspec.importers.torch import read_torch_source
    from archspec.importers.weights import source_layers

    graph = read_torch_source(f"{user_file}:tiny", [(3, 8, 8)], {"width": 5})
    layers = source_layers(graph)
    assert [layer.name for layer in layers] == ["0", "4"]
    assert graph.weights["0/kernel"].shape == (3, 3, 3, 5) and graph.weights["4/kernel"].shape == (5, 2)


# ---------------------------------------------------------------- the command, and hostile inputs


def run_cli(*args):
    from typer.testing import CliRunner

    from archspec.cli import app

    result = CliRunner().invoke(app, list(map(str, args)))
    assert "Traceback" not in result.output
    return result


USER_FILE = '''
import torch
from torch import nn


class Odd(nn.Module):
    def forward(self, x):
        return torch.cumsum(x, dim=1)


def tiny(width=4):
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(width, 2))


def odd():
    return nn.Sequential(nn.Conv2d(3, 4, 1), Odd())
'''


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "nets.py"
    path.write_text(USER_FILE)
    return path


def test_cli_imports_a_users_file_with_a_state_dict(user_file, tmp_path):
    import torch

    from archspec.spec import load
    from archspec.weights import read_weights

    sys.path.insert(0, str(tmp_path))
    try:
        import nets
    finally:
        sys.path.remove(str(tmp_path))
    trained = nets.tiny(width=6)
    torch.save(trained.state_dict(), tmp_path / "trained.pt")
    spec, weights = tmp_path / "tiny.yaml", tmp_path / "tiny.safetensors"
    result = run_cli("import", "torch", f"{user_file}:tiny", "--arg", "width=6", "--input-shape", "3,9,7",
                     "--state-dict", tmp_path / "trained.pt", "-o", spec, "-w", weights, "--channels-last")
    assert result.exit_code == 0, result.output
    assert "max |diff|" in result.output
    loaded = load(spec)
    assert loaded.data_format == "channels_last" and [n.type for n in loaded.nodes][-2:] == [
        "GlobalAveragePooling2D", "Dense"]
    arrays = read_weights(weights, loaded)
    dense = next(n.name for n in loaded.nodes if n.type == "Dense")
    np.testing.assert_array_equal(arrays[f"{dense}/kernel"], trained[4].weight.detach().numpy().T)


def test_cli_weights_import_maps_a_torchvision_model_onto_a_renamed_spec(tmp_path):
    """resnet18's weights (from a state dict) onto its imported spec with every layer renamed: matched by
    graph position and shape, and the spec with those weights computes what the module computes."""
    import torch
    import yaml

    import archspec
    from archspec.backends.torch import predict
    from archspec.check import sample_inputs
    from archspec.importers.emit import emit
    from archspec.importers.torch import read_torch, torch_outputs
    from archspec.weights import read_weights

    torch.manual_seed(0)
    module = randomized(torchvision().models.resnet18(num_classes=7))
    torch.save(module.state_dict(), tmp_path / "resnet18.pt")
    document = yaml.safe_load(emit(read_torch(module, [(3, 32, 32)]), fold=False).text)
    renamed = {layer["name"]: f"t{i}" for i, layer in enumerate(document["layers"]) if "name" in layer}
    for layer in document["layers"]:
        if "name" in layer:
            layer["name"] = renamed[layer["name"]]
        if isinstance(layer.get("inputs"), str):
            layer["inputs"] = renamed.get(layer["inputs"], layer["inputs"])
        elif "inputs" in layer:
            layer["inputs"] = [renamed.get(name, name) for name in layer["inputs"]]
    spec_file, weights = tmp_path / "renamed.yaml", tmp_path / "renamed.safetensors"
    spec_file.write_text(yaml.safe_dump(document, sort_keys=False))

    result = run_cli("weights", "import", "torchvision.models:resnet18", "--arg", "num_classes=7", "--input-shape",
                     "3,32,32", "--state-dict", tmp_path / "resnet18.pt", "--spec", spec_file, "-o", weights)
    assert result.exit_code == 0, result.output
    assert "0 layers matched by name, 41 by position" in result.output
    spec = archspec.load(spec_file)
    model = archspec.build(spec, "torch", weights=read_weights(weights, spec))
    inputs = [2 * x - 1 for x in sample_inputs(spec, 2, 3)]
    got, expected = predict(model, inputs), torch_outputs(module, spec.data_format)(inputs)
    assert float(np.abs(got[0] - expected[0]).max()) <= LOGITS_ATOL

    missing = run_cli("weights", "import", "torchvision.models:resnet18", "--spec", spec_file, "-o", weights)
    assert missing.exit_code == 2 and "--input-shape" in missing.output


class _Payload:
    """Unpickling this would create a file: proof that code from the pickle ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_cli_refuses_a_pickle_with_code(user_file, tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"0.weight": _Payload(str(marker))}, protocol=2))
    result = run_cli("import", "torch", f"{user_file}:tiny", "--input-shape", "3,8,8", "--state-dict", evil,
                     "-o", tmp_path / "x.yaml")
    assert result.exit_code == 2, result.output
    assert "refused" in result.output and "weights_only" in result.output
    assert not marker.exists()


def test_cli_refuses_a_wrong_input_shape(user_file, tmp_path):
    result = run_cli("import", "torch", f"{user_file}:tiny", "--input-shape", "5,8,8", "-o", tmp_path / "x.yaml")
    assert result.exit_code == 2
    assert "cannot be traced" in result.output and "(N, 5, 8, 8)" in result.output


def test_cli_refuses_an_unsupported_op_naming_it_and_its_module(user_file, tmp_path):
    result = run_cli("import", "torch", f"{user_file}:odd", "--input-shape", "3,8,8", "-o", tmp_path / "x.yaml")
    assert result.exit_code == 2
    assert "aten.cumsum" in result.output and "module '1' (Odd)" in result.output
    assert not (tmp_path / "x.yaml").exists()


def test_cli_bad_sources(tmp_path):
    for source, words in [("no_colon", "expected module.path:callable"),
                          ("archspec_no_such_module:x", "cannot import"),
                          (f"{tmp_path}/missing.py:net", "file not found")]:
        result = run_cli("import", "torch", source, "--input-shape", "3,8,8", "-o", tmp_path / "x.yaml")
        assert result.exit_code == 2 and words in result.output, (source, result.output)
