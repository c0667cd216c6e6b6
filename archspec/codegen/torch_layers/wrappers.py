"""Wrappers: TimeDistributed runs the wrapped layer on every step."""

from __future__ import annotations
