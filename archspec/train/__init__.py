"""Training through either backend from the spec's `training` section.

`archspec.train.config` is framework-free (the spec loader validates with it); the loop in
`archspec.train.loop` drives a backend trainer (`torch_backend`, `keras_backend`), and
`archspec.train.run.train` is what `archspec train` calls.
"""
