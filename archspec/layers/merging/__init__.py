"""Merging layers: several inputs, one output."""
