"""Shared fixtures: the real evaluation data beside the repo (skipped when absent), tiny generated datasets."""

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# commands run in subprocesses from any working folder use this checkout's package, not another installed one
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real Middlebury, Flying Chairs, interpolation triplets, video), or skip."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data not present (a fresh clone without the shared evaluation data)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_chairs(tmp_path_factory) -> Path:
    """16 generated Flying-Chairs-format pairs of 64 x 96 (with a split file)."""
    from flownet.data import write_synthetic_chairs

    root = tmp_path_factory.mktemp("tiny_chairs")
    write_synthetic_chairs(root, 16, (64, 96), seed=3)
    return root
