"""Shared fixtures: the reference facts of the official LowFormer code, read once per session.

``tests/data/lowformer_official.json`` is a copy of the project's measured reference
(params, MACs, parameter/buffer shape hashes, feature shapes of each official variant).
"""
import json
from pathlib import Path
from typing import Any, Dict

import pytest

REFERENCE_FILE = Path(__file__).parent / "data" / "lowformer_official.json"


def registry_name(official: str) -> str:
    """Official config name (``b15``, ``E1``) -> registry name (``lowformer_b15``)."""
    return f"lowformer_{official.lower()}"


@pytest.fixture(scope="session")
def reference() -> Dict[str, Dict[str, Any]]:
    """Registry name -> reference entry (with its official name under ``official``)."""
    variants = json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))["variants"]
    return {registry_name(k): dict(v, official=k) for k, v in variants.items()}
