"""Backends turn a resolved `Spec` into framework objects. Each is imported only when used."""
