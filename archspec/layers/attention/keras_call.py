"""The Keras side of the attention layers: Keras's own classes, called the way a spec lists them.

A spec lists a layer's call inputs as one list, `[query, value(, key)]`, and writes the call
flag `use_causal_mask` as a layer parameter. MultiHeadAttention and GroupQueryAttention take
query, value and key as separate arguments, and every attention layer takes use_causal_mask
at call time; these subclasses of Keras's classes do both, and keep Keras's variables, masks
and computation unchanged, with one exception: Keras 3.15's MultiHeadAttention removes the
masks from its input tensors while it runs, so that a layer reading one of those tensors after
it (in Keras's execution order) silently loses the mask; here the inputs keep their masks, so
that masks flow along the spec's graph, as in the PyTorch backend and both ONNX exports.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=None)
def keras_class(type_name: str) -> type:
    import keras

    base = getattr(keras.layers, type_name)
    takes_list = type_name in ("Attention", "AdditiveAttention")  # call(inputs=[q, v, k], mask=[...])

    class Called(base):
        def __init__(self, *args, use_causal_mask: bool = False, **kwargs):
            super().__init__(*args, **kwargs)
            self.use_causal_mask = use_causal_mask

        def __call__(self, *args, **kwargs):
            if not takes_list and len(args) == 1 and isinstance(args[0], (list, tuple)):
                args = tuple(args[0])
            kwargs.setdefault("use_causal_mask", self.use_causal_mask)
            return super().__call__(*args, **kwargs)

        if type_name == "MultiHeadAttention":

            # Keras reads call()'s signature to hand it query_mask, value_mask, key_mask and
            # training: the same signature as MultiHeadAttention.call
            def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
                     attention_mask=None, return_attention_scores=False, training=None, use_causal_mask=False):
                from keras.src.backend import get_keras_mask, set_keras_mask

                kept = [(t, get_keras_mask(t)) for t in (query, value, key) if t is not None]
                try:
                    return super().call(query, value, key, query_mask=query_mask, value_mask=value_mask,
                                        key_mask=key_mask, attention_mask=attention_mask,
                                        return_attention_scores=return_attention_scores, training=training,
                                        use_causal_mask=use_causal_mask)
                finally:
                    for tensor, mask in kept:
                        if mask is not None:
                            set_keras_mask(tensor, mask)

        def get_config(self):
            return {**super().get_config(), "use_causal_mask": self.use_causal_mask}

    Called.__name__ = Called.__qualname__ = type_name
    return keras.saving.register_keras_serializable(package="archspec", name=type_name)(Called)


def keras_attention_layer(cfg, kwargs: dict, name: str):
    """The Keras layer for attention config `cfg`, from `keras.layers.<type>`'s keyword arguments."""
    from archspec.backends.keras.layers import initializer

    kwargs = {k: initializer(v) if k.endswith("_initializer") else v for k, v in kwargs.items()}
    return keras_class(cfg.type_name)(**kwargs, name=name)
