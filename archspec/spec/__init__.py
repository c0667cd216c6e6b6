"""The spec language: YAML with positions, pydantic models, blocks, the resolved graph."""

from archspec.spec.graph import Input, Node, Spec
from archspec.spec.load import load, loads

__all__ = ["Input", "Node", "Spec", "load", "loads"]
