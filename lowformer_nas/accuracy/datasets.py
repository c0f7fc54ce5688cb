"""Proxy datasets held in memory as tensors: small, fast to index, the same for every trial.

``digits`` ships with scikit-learn (zero setup, the default); ``fashion-mnist`` reads IDX files
(plain or .gz) from ``--data`` or Debian's ``/usr/share/datasets/fashion-mnist``; ``cifar10``
reads the python-pickle batch folder; ``imagefolder:PATH`` reads class sub-folders through
timm's ``ImageDataset`` and ``create_transform``. Images stay at their native size and are
resized per batch to the proxy resolution.
"""
from __future__ import annotations

import gzip
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ..errors import DatasetError

if TYPE_CHECKING:
    import torch

DATASETS = ("digits", "fashion-mnist", "cifar10", "imagefolder:PATH")
FASHION_DIRS = ("/usr/share/datasets/fashion-mnist", "~/.cache/lfnas/fashion-mnist")
CIFAR_DIRS = ("~/.cache/lfnas/cifar-10-batches-py", "/usr/share/datasets/cifar10")
Images = npt.NDArray[np.float32]  # (N, C, H, W)
Labels = npt.NDArray[np.int64]  # (N,)
Split = tuple[Images, Labels, int | None]  # images, labels, first validation index (or None)


@dataclass
class ProxyData:
    """Train/validation tensors (N, C, H, W), standardised, plus what a model needs to know."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    num_classes: int

    @property
    def in_chans(self) -> int:
        return int(self.train_x.shape[1])

    def describe(self) -> str:
        h, w = self.train_x.shape[-2:]
        return (f"{self.name}: {len(self.train_y)} train / {len(self.val_y)} val images, "
                f"{self.num_classes} classes, {self.in_chans}x{h}x{w}")


def check_dataset_spec(spec: str) -> str:
    """Validate the name (not the files) early, before a run directory is created."""
    if spec in ("digits", "fashion-mnist", "cifar10") or spec.startswith("imagefolder:"):
        if spec == "imagefolder:":
            raise DatasetError("imagefolder needs a path: imagefolder:PATH")
        return spec
    raise DatasetError(f"unknown dataset {spec!r}; choose one of {', '.join(DATASETS)}")


def load_dataset(spec: str, data_dir: str | None = None, max_train: int = 5000,
                 max_val: int = 1000, seed: int = 0, image_size: int = 64) -> ProxyData:
    """Load, subsample (seeded) and standardise a proxy dataset; errors name the file and rule."""
    check_dataset_spec(spec)
    if spec == "digits":
        x, y, split = _digits()
    elif spec == "fashion-mnist":
        x, y, split = _fashion(_find_dir(data_dir, FASHION_DIRS, "fashion-mnist"))
    elif spec == "cifar10":
        x, y, split = _cifar(_find_dir(data_dir, CIFAR_DIRS, "cifar10"))
    else:
        x, y, split = _imagefolder(spec.split(":", 1)[1], image_size)
    return _finish(spec, x, y, split, max_train, max_val, seed)


def _finish(name: str, x: Images, y: Labels, split: int | None, max_train: int,
            max_val: int, seed: int) -> ProxyData:
    import torch

    rng = np.random.default_rng(seed)
    if split is None:  # no official split: hold out 20 %
        perm = rng.permutation(len(y))
        split = int(round(len(y) * 0.8))
        x, y, split = x[perm], y[perm], split
    tr = rng.permutation(split)[:max_train]
    va = split + rng.permutation(len(y) - split)[:max_val]
    classes = int(y.max()) + 1
    if classes < 2 or len(va) == 0:
        raise DatasetError(f"dataset {name!r} needs >= 2 classes and a validation split, "
                           f"but has {classes} classes and {len(y) - split} validation images")
    train = x[tr].astype(np.float32)
    mean, std = train.mean(axis=(0, 2, 3), keepdims=True), train.std(axis=(0, 2, 3), keepdims=True)
    norm = lambda a: torch.from_numpy((a.astype(np.float32) - mean) / (std + 1e-6))  # noqa: E731
    return ProxyData(name, norm(train), torch.from_numpy(y[tr].astype(np.int64)), norm(x[va]),
                     torch.from_numpy(y[va].astype(np.int64)), classes)


def _find_dir(data_dir: str | None, defaults: tuple[str, ...], name: str) -> Path:
    candidates = [data_dir] if data_dir else list(defaults)
    for c in candidates:
        path = Path(os.path.expanduser(c))
        if path.is_dir():
            return path
    where = data_dir or " or ".join(defaults)
    raise DatasetError(f"{name} not found: no directory {where} (pass --data DIR)")


def _digits() -> Split:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images[:, None, :, :].astype(np.float32), d.target.astype(np.int64), None


def _read_idx(path: Path, ndim: int) -> npt.NDArray[np.uint8]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as e:
        raise DatasetError(f"cannot read IDX file {str(path)!r}: {e}") from None
    if len(data) < 4 + 4 * ndim or data[:2] != b"\0\0" or data[2] != 0x08 or data[3] != ndim:
        raise DatasetError(f"{str(path)!r} is not an IDX file of unsigned bytes with {ndim} "
                           f"dimension(s) (magic 0x0000080{ndim})")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise DatasetError(f"{str(path)!r}: header says shape {shape} ({int(np.prod(shape))} "
                           f"bytes) but the file holds {body.size}")
    return body.reshape(shape)


def _idx_file(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DatasetError(f"fashion-mnist: {stem}[.gz] missing in {str(folder)!r}")


def _fashion(folder: Path) -> Split:
    parts = []
    for prefix in ("train", "t10k"):
        images = _read_idx(_idx_file(folder, f"{prefix}-images-idx3-ubyte"), 3)
        labels = _read_idx(_idx_file(folder, f"{prefix}-labels-idx1-ubyte"), 1)
        if len(images) != len(labels):
            raise DatasetError(f"fashion-mnist {prefix}: {len(images)} images but {len(labels)} "
                               f"labels in {str(folder)!r}")
        parts.append((images, labels))
    (xt, yt), (xv, yv) = parts
    x = np.asarray(np.concatenate([xt, xv])[:, None].astype(np.float32) / 255.0, np.float32)
    return x, np.concatenate([yt, yv]).astype(np.int64), len(yt)


def _cifar_batch(path: Path) -> tuple[npt.NDArray[np.uint8], Labels]:
    if not path.is_file():
        raise DatasetError(f"cifar10: {path.name} missing in {str(path.parent)!r} "
                           f"(expected the python-pickle batch folder)")
    try:
        with open(path, "rb") as fh:
            d = pickle.load(fh, encoding="bytes")
        data = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(d[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, ValueError, EOFError, TypeError) as e:
        raise DatasetError(f"cifar10: {str(path)!r} is not a CIFAR-10 batch "
                           f"(dict with b'data' N x 3072 and b'labels'): {e!r}") from None
    if len(data) != len(labels):
        raise DatasetError(f"cifar10: {str(path)!r} has {len(data)} images, {len(labels)} labels")
    return data, labels


def _cifar(folder: Path) -> Split:
    train = [_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    test = _cifar_batch(folder / "test_batch")
    x = np.asarray(np.concatenate([b[0] for b in train] + [test[0]]).astype(np.float32) / 255.0,
                   np.float32)
    y = np.concatenate([b[1] for b in train] + [test[1]])
    return x, y, sum(len(b[1]) for b in train)


def _imagefolder(root: str, size: int) -> Split:
    path = Path(root)
    if not path.is_dir():
        raise DatasetError(f"imagefolder: {root!r} is not a directory")
    if (path / "train").is_dir() and (path / "val").is_dir():
        xt, yt, classes = _read_folder(path / "train", size, None)
        xv, yv, _ = _read_folder(path / "val", size, classes)
        return np.concatenate([xt, xv]), np.concatenate([yt, yv]), len(yt)
    x, y, _ = _read_folder(path, size, None)
    return x, y, None


def _read_folder(path: Path, size: int,
                 classes: list[str] | None) -> tuple[Images, Labels, list[str]]:
    from timm.data import ImageDataset, create_transform

    transform = create_transform(input_size=(3, size, size), is_training=False, crop_pct=1.0,
                                 mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    class_map = {c: i for i, c in enumerate(classes)} if classes else ""
    try:
        ds = ImageDataset(str(path), transform=transform, class_map=class_map)
    except (RuntimeError, OSError) as e:  # what timm raises for empty or unreadable folders
        raise DatasetError(f"imagefolder: cannot read {str(path)!r} as class sub-folders of "
                           f"images: {e}") from None
    names = sorted(ds.reader.class_to_idx, key=ds.reader.class_to_idx.get)
    if len(ds) == 0 or len(names) < 2:
        raise DatasetError(f"imagefolder: {str(path)!r} needs >= 2 class sub-folders with "
                           f"images, found {len(names)} classes and {len(ds)} images")
    xs, ys = [], []
    for i in range(len(ds)):
        img, label = ds[i]
        xs.append(img.numpy())
        ys.append(label)
    return np.stack(xs).astype(np.float32), np.asarray(ys, dtype=np.int64), names
