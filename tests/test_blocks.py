"""Blocks, wiring and auto names."""

from __future__ import annotations

import archspec


def names(spec):
    return [n.name for n in spec.nodes]


def test_keras_auto_names_and_default_wiring():
    spec = archspec.loads(
        "input_shape: [8, 8, 1]\nlayers:\n"
        "  - {type: Conv2D, filters: 2, kernel_size: 3}\n  - {type: MaxPool2D}\n"
        "  - {type: Conv2D, filters: 2, kernel_size: 1, name: conv2d_1}\n  - {type: Conv2D, filters: 2, kernel_size: 1}\n"
        "  - {type: BatchNormalization}\n  - {type: GlobalAvgPool2D}\n"
    )
    # an explicit name is never generated again: the unnamed conv after it becomes conv2d_2
    assert names(spec) == ["conv2d", "max_pooling2d", "conv2d_1", "conv2d_2", "batch_normalization",
                           "global_average_pooling2d"]
    assert spec.nodes[1].type == "MaxPooling2D"  # alias resolved
    assert [n.inputs for n in spec.nodes][:2] == [["input"], ["conv2d"]]


def test_block_expansion_scoped_names_params_and_input():
    spec = archspec.loads(
        """
input_shape: [16, 16, 8]
blocks:
  double_conv:
    params: {filters: 32}
    layers:
      - {type: Conv2D, filters: $filters, kernel_size: 3, padding: same, activation: relu, name: a}
      - {type: Conv2D, filters: $filters, kernel_size: 3, padding: same, activation: relu, name: b}
      - {type: Add, inputs: [$input, b]}
layers:
  - {type: Conv2D, filters: 64, kernel_size: 1, name: stem}
  - {block: double_conv, name: stage1, filters: 64}
  - {block: double_conv, name: stage2, filters: 64, repeat: 3}
  - {type: GlobalAveragePooling2D, inputs: stage2_2}
outputs: [global_average_pooling2d, stage2]
"""
    )
    assert names(spec)[:4] == ["stem", "stage1/a", "stage1/b", "stage1/add"]
    assert "stage2_3/add" in names(spec)
    assert spec.node("stage1/a").inputs == ["stem"]
    assert spec.node("stage1/add").inputs == ["stem", "stage1/b"]
    assert spec.node("stage2_1/a").inputs == ["stage1/add"]
    assert spec.node("stage2_2/a").inputs == ["stage2_1/add"]
    # a block-use name (of one repetition) stands for its last layer
    assert spec.node("global_average_pooling2d").inputs == ["stage2_2/add"]
    assert spec.node("stage1/a").layer.filters == 64
    assert spec.outputs == ["global_average_pooling2d", "stage2_3/add"]


def test_nested_blocks_and_repeat_from_a_parameter():
    spec = archspec.loads(
        """
input_shape: [8]
blocks:
  unit: {params: {n: 4}, layers: [{type: Dense, units: $n, name: fc}]}
  stack: {params: {n: 4, depth: 2}, layers: [{block: unit, name: u, n: $n, repeat: $depth}]}
layers:
  - {block: stack, name: s, n: 3, depth: 3}
"""
    )
    assert names(spec) == ["s/u_1/fc", "s/u_2/fc", "s/u_3/fc"]
    assert spec.outputs == ["s/u_3/fc"]
    assert spec.total_params == (8 * 3 + 3) + 2 * (3 * 3 + 3)


def test_trainable_false_on_a_block_use_freezes_its_layers():
    spec = archspec.loads(
        "input_shape: [8]\nblocks:\n  mlp: {layers: [{type: Dense, units: 4}, {type: Dense, units: 4}]}\n"
        "layers:\n  - {block: mlp, trainable: false}\n  - {type: Dense, units: 1}\n"
    )
    assert spec.trainable_params == 5 and spec.total_params == (8 * 4 + 4) + (4 * 4 + 4) + 5


def test_forward_references_are_sorted_topologically():
    spec = archspec.loads(
        "inputs: [{name: x, shape: [4]}]\nlayers:\n"
        "  - {type: Add, inputs: [a, b], name: sum}\n"
        "  - {type: Dense, units: 2, name: a, inputs: x}\n"
        "  - {type: Dense, units: 2, name: b, inputs: x}\n"
        "outputs: [sum]\n"
    )
    assert names(spec) == ["a", "b", "sum"]


def test_resnet50_spec_names_follow_blocks():
    spec = archspec.load("specs/keras_applications/resnet50.yaml")
    assert "conv2/block1/0_conv" in names(spec)
    assert "conv5/block_2/out" in names(spec)
    assert spec.node("conv3/block1/add").inputs == ["conv3/block1/0_bn", "conv3/block1/3_bn"]
