"""Data sources and their preparation for a spec."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

import archspec
from archspec.data.sources import PIMA_CSV
from archspec.data import load_data, read_source
from archspec.data.sources import read_idx, shapes, write_image_folder
from archspec.errors import ArchspecError
from conftest import SPECS


def write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_mnist5k_is_real_mnist_split_four_to_one():
    data = load_data("mnist5k", archspec.load(SPECS / "mnist_cnn.yaml"), validation_split=0.1)
    assert len(data.train) + len(data.val) == 4000 and len(data.test) == 1000
    assert data.train.x[0].shape[1:] == (28, 28, 1) and data.train.x[0].dtype == np.float32
    assert 0.0 <= data.train.x[0].min() and data.train.x[0].max() == 1.0
    assert sorted(np.unique(data.test.labels)) == list(range(10))
    again = load_data("mnist5k", archspec.load(SPECS / "mnist_cnn.yaml"), validation_split=0.1)
    np.testing.assert_array_equal(again.test.labels, data.test.labels)  # seeded split


def test_pima_csv():
    data = load_data(PIMA_CSV, archspec.load(SPECS / "pima_mlp.yaml"),
                     standardize=True)
    assert len(data.train) + len(data.test) == 768
    assert int((np.concatenate([data.train.labels, data.test.labels]) == 1).sum()) == 268
    assert abs(float(data.train.x[0].mean())) < 1e-5
    assert len(data.standardize["mean"]) == 8


def test_idx_files_as_keras_publishes_them(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (20, 28, 28)), rng.integers(0, 10, 20)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images[:5])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels[:5])
    np.testing.assert_array_equal(read_idx(tmp_path / "train-images-idx3-ubyte.gz"), images)
    data = load_data(tmp_path, archspec.load(SPECS / "mnist_cnn.yaml"))
    assert len(data.train) == 20 and len(data.test) == 5  # the files' own test split
    assert data.train.x[0].max() <= 1.0


def test_truncated_idx_file_is_a_clear_error(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 28, 28)))
    (tmp_path / "train-images-idx3-ubyte").write_bytes((tmp_path / "train-images-idx3-ubyte").read_bytes()[:-10])
    with pytest.raises(ArchspecError, match="truncated"):
        read_idx(tmp_path / "train-images-idx3-ubyte")


def test_image_folder_round_trip(tmp_path):
    raw = shapes(per_class=5)
    write_image_folder(raw, tmp_path / "shapes")
    back = read_source(tmp_path / "shapes", archspec.load(SPECS / "shapes_cnn.yaml"))
    assert back.classes == ["circle", "rectangle", "triangle"]
    assert back.x.shape == (15, 24, 24, 3) and sorted(np.bincount(back.y)) == [5, 5, 5]


def test_shapes_are_deterministic_and_distinct():
    a, b = shapes(per_class=3), shapes(per_class=3)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.x.shape == (9, 24, 24, 3) and a.x.dtype == np.uint8
    assert len({image.tobytes() for image in a.x}) == 9


@pytest.mark.parametrize("content, message", [
    ("1,2,3\n3,x,5\n", "not a numeric CSV"),
    ("1\n2\n", "feature columns and a label column"),
])
def test_bad_csv(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ArchspecError, match=message):
        read_source(path)


def test_wrong_shape_and_labels_out_of_range(tmp_path):
    np.savez(tmp_path / "wrong.npz", x=np.zeros((10, 5), np.float32), y=np.zeros(10, np.int64))
    with pytest.raises(ArchspecError, match=r"samples have shape \[5\], but input 'features' of pima_mlp takes \[8\]"):
        load_data(tmp_path / "wrong.npz", archspec.load(SPECS / "pima_mlp.yaml"))
    np.savez(tmp_path / "labels.npz", x=np.zeros((10, 8, 8), np.float32), y=np.arange(10))
    with pytest.raises(ArchspecError, match="labels run from 0 to 9, but the model has 3 classes"):
        load_data(tmp_path / "labels.npz", archspec.load(SPECS / "lego_8x8.yaml"))


def test_unknown_data_name_suggests():
    with pytest.raises(ArchspecError, match="did you mean 'mnist5k'"):
        read_source("mnist5")


def test_missing_keras_dataset_names_data_option(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("ARCHSPEC_OFFLINE", "1")
    with pytest.raises(ArchspecError, match="--data"):
        read_source("fashion_mnist")


def test_validation_data_of_its_own(tmp_path):
    raw = shapes(per_class=4, seed=1)
    write_image_folder(raw, tmp_path / "val")
    spec = archspec.load(SPECS / "shapes_cnn.yaml")
    data = load_data("shapes", spec, validation_split=0.5, validation_source=tmp_path / "val")
    assert len(data.val) == 12 and len(data.train) == 480  # the split is not taken when a set is given
    assert data.val.x[0].shape[1:] == (24, 24, 3) and data.val.x[0].max() <= 1.0


def test_downloads_check_their_checksums(tmp_path, monkeypatch):
    import hashlib
    import io
    import urllib.request

    from archspec.data import sources

    monkeypatch.delenv("ARCHSPEC_OFFLINE", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    files = {}
    rng = np.random.default_rng(0)
    for name, array in [("train-images-idx3-ubyte.gz", rng.integers(0, 256, (6, 28, 28))),
                        ("train-labels-idx1-ubyte.gz", rng.integers(0, 10, 6)),
                        ("t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (2, 28, 28))),
                        ("t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, 2))]:
        write_idx(tmp_path / name, array)
        files[name] = (tmp_path / name).read_bytes()
    served = []

    def fake_urlopen(url, timeout):
        served.append(url)
        return io.BytesIO(files[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    monkeypatch.setattr(sources, "FASHION_MD5", {k: hashlib.md5(v).hexdigest() for k, v in files.items()})
    raw = read_source("fashion_mnist")
    assert raw.x.shape == (6, 28, 28) and raw.x_test.shape == (2, 28, 28) and len(served) == 4
    assert raw.classes[9] == "Ankle boot"
    # a corrupt download is refused and not saved
    monkeypatch.setattr(sources, "FASHION_MD5", {k: "0" * 32 for k in files})
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "other"))
    with pytest.raises(ArchspecError, match="checksum does not match"):
        read_source("fashion_mnist")
    assert not list((tmp_path / "other").rglob("*.gz"))
