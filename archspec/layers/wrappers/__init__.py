"""Wrappers: TimeDistributed and Bidirectional, whose wrapped layers are nested layer configs."""
