"""Runtime traits: the graph rewrites a device's runtime applies before it executes a model.

The same network runs as different kernel lists on different runtimes: TFLite's converter
removes graph parts the output does not depend on and folds products with zero, TensorRT and TFLite
fuse conv + BatchNorm + activation into one kernel, PyTorch eager runs every op as written.
A profile records which of these rewrites apply (``params["traits"]``) so the kernel list it
predicts from is the one the device runs. One source for the names: ``TRAITS``.
"""
from __future__ import annotations

from collections.abc import Iterable

from ...errors import ProfileError

TRAITS = ("dead_code_elimination", "fuse_conv_bn_act", "fold_constants", "fold_zero_products")
# fold_constants evaluates everything fold_zero_products removes, and more
IMPLIED = {"fold_zero_products": "fold_constants"}

DESCRIPTIONS: dict[str, str] = {
    "dead_code_elimination": "ops whose results never reach the model's output are removed "
                             "(TFLite, ONNX Runtime, TensorRT; not PyTorch eager)",
    "fuse_conv_bn_act": "BatchNorm and the activation right after a conv / linear run inside "
                        "that kernel instead of as separate passes (TensorRT, TFLite, "
                        "ONNX Runtime, TorchScript freeze; not PyTorch eager)",
    "fold_constants": "ops computed only from weights and constants (including multiplying "
                      "by zero and adding a zero tensor) are evaluated once at conversion "
                      "time (TFLite, TensorRT, ONNX Runtime)",
    "fold_zero_products": "only multiplying by zero and adding zero are simplified away (the "
                          "multiplied input is no longer needed); ops whose inputs are "
                          "constants still run (a converter whose folding stops at "
                          "convolutions; chosen by leave-one-out for the Pixel 3 TFLite data)",
}

# runtime name -> traits it applies (``--runtime NAME``); eager PyTorch applies none
RUNTIMES: dict[str, tuple[str, ...]] = {
    "pytorch": (),
    "torchscript": ("fuse_conv_bn_act",),
    "onnxruntime": TRAITS[:3],
    # TFLite folds products with zero but still runs convs fed with zeros: on the Pixel 3
    # NAS-Bench-201 data this set fits (Spearman 0.97) where full folding does not (0.91)
    "tflite": ("dead_code_elimination", "fuse_conv_bn_act", "fold_zero_products"),
    "tensorrt": TRAITS[:3],
}


def check_traits(traits: Iterable[str] | None) -> tuple[str, ...]:
    """Validated trait names in ``TRAITS`` order (None -> no traits)."""
    names = tuple(traits or ())
    bad = [t for t in names if t not in TRAITS]
    if bad:
        raise ProfileError(f"unknown runtime trait {bad[0]!r}; known: {', '.join(TRAITS)}")
    return tuple(t for t in TRAITS if t in names and IMPLIED.get(t) not in names)


def runtime_traits(runtime: str) -> tuple[str, ...]:
    """The traits of a named runtime (``tflite``, ``pytorch``, ...)."""
    key = runtime.strip().lower()
    if key not in RUNTIMES:
        raise ProfileError(f"unknown runtime {runtime!r}; known: {', '.join(RUNTIMES)}")
    return RUNTIMES[key]


def describe_traits(traits: Iterable[str]) -> str:
    """Short words for a provenance line."""
    names = check_traits(traits)
    return "runtime traits: " + (", ".join(names) if names else "none (ops run as written)")
