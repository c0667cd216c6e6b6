"""Core layers: Dense, Activation, Identity."""
