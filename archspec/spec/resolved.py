"""A resolved spec as YAML: blocks expanded, a transfer-learning base inlined, defaults explicit.

Runs keep this copy, so a run directory stays loadable without the files its spec named.
"""

from __future__ import annotations

from typing import Any

import yaml

from archspec.spec.graph import Spec


def resolved_dict(spec: Spec, training: Any = None) -> dict[str, Any]:
    layers = []
    for node in spec.nodes:
        entry: dict[str, Any] = {"type": node.type, "name": node.name, "inputs": list(node.inputs)}
        entry.update(node.layer.model_dump(mode="json", exclude={"name", "inputs", "trainable"}, exclude_defaults=True))
        if not node.trainable:
            entry["trainable"] = False
        layers.append(entry)
    data: dict[str, Any] = {"archspec": 1, "name": spec.name}
    if spec.description:
        data["description"] = spec.description
    data["data_format"] = spec.data_format
    data["inputs"] = [{"name": i.name, "shape": list(i.shape), **({"dtype": i.dtype} if i.dtype != "float32" else {})}
                      for i in spec.inputs]
    data["layers"] = layers
    data["outputs"] = list(spec.outputs)
    if spec.classes:
        data["classes"] = list(spec.classes)
    training = training if training is not None else spec.training
    if training is not None:
        data["training"] = training.model_dump(mode="json", exclude_none=True)
    return data


def resolved_yaml(spec: Spec, training: Any = None) -> str:
    return yaml.safe_dump(resolved_dict(spec, training), sort_keys=False, allow_unicode=True, width=120,
                          default_flow_style=None)
