"""Proxy datasets: digits, fashion-mnist IDX, cifar10 pickles, imagefolder; clear errors."""
import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest

from lowformer_nas.errors import DatasetError
from lowformer_nas.accuracy.datasets import check_dataset_spec, load_dataset

SYSTEM_FASHION = Path("/usr/share/datasets/fashion-mnist")


def _check(d, classes, chans, hw):
    assert d.num_classes == classes and d.in_chans == chans
    assert tuple(d.train_x.shape[1:]) == (chans, hw, hw)
    assert len(d.train_x) == len(d.train_y) and len(d.val_x) == len(d.val_y) > 0
    assert abs(float(d.train_x.mean())) < 1e-3  # standardised on the train split
    assert int(d.train_y.max()) < classes


def test_digits_zero_setup():
    d = load_dataset("digits", seed=0)
    _check(d, 10, 1, 8)
    assert len(d.train_y) + len(d.val_y) == 1797
    again = load_dataset("digits", seed=0)
    assert (again.train_y == d.train_y).all()  # seeded split


def test_digits_subset_sizes():
    d = load_dataset("digits", max_train=100, max_val=50)
    assert len(d.train_y) == 100 and len(d.val_y) == 50


def _write_idx(path: Path, arr: np.ndarray, gz: bool = False) -> None:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(n).to_bytes(4, "big")
                                                       for n in arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def _fake_fashion(folder: Path, gz: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    for prefix, n in (("train", 60), ("t10k", 20)):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}",
                   rng.integers(0, 255, (n, 28, 28)), gz)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(n) % 10, gz)
    return folder


@pytest.mark.parametrize("gz", [False, True])
def test_fashion_mnist_idx_files(tmp_path, gz):
    d = load_dataset("fashion-mnist", str(_fake_fashion(tmp_path / "fm", gz)))
    _check(d, 10, 1, 28)
    assert len(d.train_y) == 60 and len(d.val_y) == 20  # official train/test split kept


@pytest.mark.skipif(not SYSTEM_FASHION.is_dir(), reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_system_location():
    d = load_dataset("fashion-mnist", max_train=500, max_val=100)
    _check(d, 10, 1, 28)


def test_fashion_mnist_malformed(tmp_path):
    folder = _fake_fashion(tmp_path / "fm")
    (folder / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x01" + b"\x00" * 8)
    with pytest.raises(DatasetError, match="IDX"):
        load_dataset("fashion-mnist", str(folder))
    _fake_fashion(folder)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte"):
        load_dataset("fashion-mnist", str(folder))


def test_fashion_truncated_body(tmp_path):
    folder = _fake_fashion(tmp_path / "fm")
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DatasetError, match="header says"):
        load_dataset("fashion-mnist", str(folder))


def _fake_cifar(folder: Path, n: int = 20) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 255, (n, 3072)).astype(np.uint8),
                 b"labels": [int(i % 10) for i in range(n)]}
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh)
    return folder


def test_cifar10_pickle_folder(tmp_path):
    d = load_dataset("cifar10", str(_fake_cifar(tmp_path / "cifar-10-batches-py")))
    _check(d, 10, 3, 32)
    assert len(d.train_y) == 100 and len(d.val_y) == 20


def test_cifar10_malformed(tmp_path):
    folder = _fake_cifar(tmp_path / "c")
    with open(folder / "data_batch_3", "wb") as fh:
        pickle.dump({b"nope": 1}, fh)
    with pytest.raises(DatasetError, match="data_batch_3"):
        load_dataset("cifar10", str(folder))
    _fake_cifar(folder)
    (folder / "test_batch").unlink()
    with pytest.raises(DatasetError, match="test_batch"):
        load_dataset("cifar10", str(folder))


def _fake_imagefolder(root: Path, classes=("cat", "dog", "fish"), per_class: int = 5) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            arr = rng.integers(0, 255, (20 + i, 24, 3)).astype(np.uint8)
            Image.fromarray(arr).save(root / c / f"{i}.png")
    return root


def test_imagefolder_class_subfolders(tmp_path):
    root = _fake_imagefolder(tmp_path / "imgs")
    d = load_dataset(f"imagefolder:{root}", image_size=32)
    _check(d, 3, 3, 32)
    assert len(d.train_y) + len(d.val_y) == 15


def test_imagefolder_train_val_split(tmp_path):
    _fake_imagefolder(tmp_path / "ds" / "train")
    _fake_imagefolder(tmp_path / "ds" / "val", per_class=2)
    d = load_dataset(f"imagefolder:{tmp_path / 'ds'}", image_size=16)
    assert len(d.train_y) == 15 and len(d.val_y) == 6


def test_imagefolder_errors(tmp_path):
    with pytest.raises(DatasetError, match="not a directory"):
        load_dataset(f"imagefolder:{tmp_path / 'missing'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError):
        load_dataset(f"imagefolder:{tmp_path / 'empty'}")
    _fake_imagefolder(tmp_path / "one", classes=("only",))
    with pytest.raises(DatasetError, match="2 class"):
        load_dataset(f"imagefolder:{tmp_path / 'one'}")


def test_missing_dirs_and_unknown_names(tmp_path):
    with pytest.raises(DatasetError, match="--data"):
        load_dataset("cifar10", str(tmp_path / "nowhere"))
    for bad in ("mnist", "imagefolder:", "Digits"):
        with pytest.raises(DatasetError):
            check_dataset_spec(bad)
