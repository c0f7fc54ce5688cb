"""Shared fixtures: the reference facts of the official LowFormer code, read once per session.

``tests/data/lowformer_official.json`` is a copy of the project's measured reference
(params, MACs, parameter/buffer shape hashes, feature shapes of each official variant); its
``b2`` entry was measured from timm's ``lowformer_b2``, as the official code's b2 is broken.
"""
import json
from pathlib import Path
from typing import Any

import pytest

REFERENCE_FILE = Path(__file__).parent / "data" / "lowformer_official.json"


def registry_name(official: str) -> str:
    """Official config name (``b15``, ``E1``) -> registry name (``lowformer_b15``)."""
    return f"lowformer_{official.lower()}"


@pytest.fixture(scope="session")
def reference() -> dict[str, dict[str, Any]]:
    """Registry name -> reference entry (with the name of its official lists under
    ``official``: B2's entry, measured from timm, names timm's lists)."""
    variants = json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))["variants"]
    return {registry_name(k): dict(v, official=v.get("lists_name", k))
            for k, v in variants.items()}
