"""Attention layers: MultiHeadAttention, GroupQueryAttention, Attention, AdditiveAttention."""

# the data formats of the examples on sequences: features are the last axis whatever the
# data_format, and the contract test's channels_first reading would make a free steps axis
# the features
SEQUENCE = ("channels_last",)
