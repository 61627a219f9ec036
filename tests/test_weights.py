"""Which weights the commands load by default."""


import pytest

from flownet import weights
from flownet.errors import FlowNetError


def test_default_checkpoint_is_the_file_the_registry_names(tmp_path, monkeypatch):
    """A newer-looking file beside the shipped one (flownets_1.0.pt, synthesis_8.pt) changes no default: catches
    picking the alphabetically last <model>_*.pt."""
    for model, name in weights.DEFAULT_WEIGHTS.items():
        (tmp_path / name).write_bytes(b"shipped")
    for extra in ("flownets_1.0.pt", "flownets_zz.pt", "synthesis_8.pt", "synthesis_99.pt"):
        (tmp_path / extra).write_bytes(b"other")
    monkeypatch.setattr(weights, "checkpoint_dirs", lambda: [tmp_path])
    for model, name in weights.DEFAULT_WEIGHTS.items():
        assert weights.default_checkpoint(model) == tmp_path / name
    with pytest.raises(FlowNetError, match="no shipped weights"):
        weights.default_checkpoint("flownets-stack")


def test_shipped_default_files_exist():
    """Every default the registry names for the flow and synthesis models is in the repository."""
    for model in ("flownets", "synthesis"):
        assert weights.default_checkpoint(model).is_file()
