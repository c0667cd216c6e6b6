"""JSON Schema of the spec format, for editors (yaml-language-server) and other tools."""

from __future__ import annotations

from typing import Any

from archspec import __version__
from archspec.layers import LAYERS
from archspec.layers.wrappers.base_wrapper import WRAPPED_LAYER_SCHEMA
from archspec.spec.blocks import PARAM_RE
from archspec.spec.model import SpecFile

PARAM_REF = {"type": "string", "pattern": PARAM_RE.pattern, "description": "A block parameter, e.g. $filters."}


def _doc(cls) -> str:
    """The class's own docstring, stripped; '' when it has none (not the base class's, which says nothing)."""
    doc = cls.__dict__.get("__doc__")
    return doc.strip() if isinstance(doc, str) else ""


def _items_allow_params(schema: Any) -> Any:
    """`schema` with a $param allowed for every list item too (`target_shape: [1, 1, $channels]`)."""
    if isinstance(schema, list):
        return [_items_allow_params(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "items" and isinstance(value, dict):
            out[key] = {"anyOf": [_items_allow_params(value), PARAM_REF]}
        elif key == "prefixItems" and isinstance(value, list):
            out[key] = [{"anyOf": [_items_allow_params(v), PARAM_REF]} for v in value]
        elif key in ("anyOf", "oneOf", "allOf"):
            out[key] = _items_allow_params(value)
        else:
            out[key] = value
    return out


def _layer_schema(cls) -> tuple[dict[str, Any], dict[str, Any]]:
    schema = cls.model_json_schema()
    defs = schema.pop("$defs", {})
    props = schema.get("properties", {})
    for key, prop in list(props.items()):
        props[key] = {"anyOf": [_items_allow_params(prop), PARAM_REF]} if key not in ("name",) else prop
    doc = _doc(cls)
    props["type"] = {"enum": [cls.type_name, *cls.aliases], "description": doc.splitlines()[0] if doc else cls.type_name}
    schema["required"] = ["type", *schema.get("required", [])]
    schema["title"] = cls.type_name
    schema["description"] = doc or f"A {cls.type_name} layer."
    schema["additionalProperties"] = False
    return schema, defs


def _wrapped_refs(schema: Any) -> Any:
    """`schema` with each nested layer's stand-alone schema replaced by a reference to WrappedLayer."""
    if isinstance(schema, list):
        return [_wrapped_refs(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("$comment") == WRAPPED_LAYER_SCHEMA:
        kept = {k: v for k, v in schema.items() if k in ("description", "title")}
        return {**kept, "$ref": "#/$defs/WrappedLayer"}
    return {key: _wrapped_refs(value) for key, value in schema.items()}


def spec_schema() -> dict[str, Any]:
    schema = SpecFile.model_json_schema()
    defs = schema.setdefault("$defs", {})
    entries = []
    for name in sorted(LAYERS):
        layer_schema, layer_defs = _layer_schema(LAYERS[name])
        defs.update(layer_defs)
        defs[name] = layer_schema
        entries.append({"$ref": f"#/$defs/{name}"})
    defs["BlockUse"] = {
        "title": "BlockUse",
        "description": "Expands a block from 'blocks'; other keys set the block's params.",
        "type": "object",
        "properties": {
            "block": {"type": "string"},
            "name": {"type": "string"},
            "repeat": {"anyOf": [{"type": "integer", "minimum": 1}, PARAM_REF]},
            "inputs": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
            "trainable": {"type": "boolean"},
        },
        "required": ["block"],
    }
    # a wrapper's `layer:` is any registered type's entry (archspec.layers.wrappers)
    defs["WrappedLayer"] = {"description": "A wrapped layer: a mapping with its type and parameters.",
                            "anyOf": list(entries)}
    for name in LAYERS:
        defs[name] = _wrapped_refs(defs[name])
    entries.append({"$ref": "#/$defs/BlockUse"})
    entry_schema = {"anyOf": entries}
    schema["properties"]["layers"]["items"] = entry_schema
    defs["BlockDef"]["properties"]["layers"]["items"] = entry_schema
    # shorthands the validators accept: `optimizer: adam`
    training = defs["Training"]["properties"]
    training["optimizer"] = {"anyOf": [training["optimizer"], {"enum": ["adam", "adamw", "sgd", "rmsprop"]}],
                             "description": "An optimizer name, or a mapping with its type and parameters."}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "archspec spec"
    schema["description"] = f"An archspec architecture spec (format 1, archspec {__version__})."
    return schema
