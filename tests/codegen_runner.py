"""Runs generated modules where archspec cannot be imported (tests/test_codegen.py starts it with
`python -I`): for each job, build the model, load the neutral weights, run the inputs and write
the outputs; an `export` job also goes through torch.export (torch) or a saved `.keras` file (Keras). Argument: a JSON file of jobs {module, backend, weights, inputs, outputs}."""

import importlib.abc
import importlib.util
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class _NoArchspec(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "archspec" or name.startswith("archspec."):
            raise ImportError("archspec must not be imported by generated code")
        return None


sys.meta_path.insert(0, _NoArchspec())

import numpy as np  # noqa: E402


def _run(job):
    spec = importlib.util.spec_from_file_location(f"generated_{job['name']}", job["module"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.build()
    module.load_weights(model, job["weights"])
    data = np.load(job["inputs"])
    arrays = [data[f"arr_{i}"] for i in range(len(data.files))]
    if job["backend"] == "torch":
        import torch

        with torch.inference_mode():
            outputs = model(*[torch.from_numpy(a) for a in arrays])
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        outputs = [o.numpy() for o in outputs]
        if job.get("export"):
            exported = torch.export.export(model, tuple(torch.from_numpy(a) for a in arrays))
            again = exported.module()(*[torch.from_numpy(a) for a in arrays])
            again = again if isinstance(again, tuple) else (again,)
            if any(not np.allclose(a.detach().numpy(), b, atol=1e-6) for a, b in zip(again, outputs)):
                raise AssertionError("torch.export changed the outputs")
    else:
        outputs = model(arrays if len(arrays) > 1 else arrays[0], training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        outputs = [np.asarray(o) for o in outputs]
        if job.get("export"):  # a .keras file loads back with the classes the module registered
            import keras

            path = job["outputs"].replace(".npz", ".keras")
            model.save(path)
            again = keras.saving.load_model(path)(arrays if len(arrays) > 1 else arrays[0], training=False)
            again = again if isinstance(again, (list, tuple)) else [again]
            if any(not np.allclose(np.asarray(a), b, atol=1e-6) for a, b in zip(again, outputs)):
                raise AssertionError("the saved .keras model computes something else")
    np.savez(job["outputs"], *outputs)


def main():
    with open(sys.argv[1]) as handle:
        jobs = json.load(handle)
    failures = {}
    for job in jobs:
        try:
            _run(job)
        except Exception as exc:  # noqa: BLE001 - every job reports, one failure does not hide the others
            failures[job["name"]] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(failures))


if __name__ == "__main__":
    main()
