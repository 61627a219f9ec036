"""A wheel built from this source, installed (not editable) into a fresh virtual environment, runs `flownet infer`
with no extra flags: the shipped model travels with the package."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from flownet.io import image_to_tensor, read_flo, read_image, tensor_to_flow, write_image

REPO = Path(__file__).resolve().parents[1]


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(list(map(str, args)), capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.slow
def test_wheel_install_runs_infer_with_the_shipped_model(tmp_path):
    if not list((REPO / "checkpoints").glob("flownets_*.pt")):
        pytest.skip("no shipped checkpoint in this checkout")
    pytest.importorskip("setuptools", reason="building the wheel offline needs setuptools in this environment")
    src = tmp_path / "src"  # only what is committed to ship: the build leaves nothing in the checkout
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "flownet", src / "flownet", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "checkpoints", src / "checkpoints")
    # offline: this environment's setuptools builds; the new environment sees this one's packages (torch & co.)
    # through a .pth line, which adds the folder but runs none of its own .pth files (no editable flownet)
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", src)
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site_packages = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    (site_packages / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel, = (tmp_path / "dist").glob("flownet-*.whl")
    # --ignore-installed: the editable flownet of this environment, seen through deps.pth, must not count
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", "--ignore-installed",
        wheel)

    work = tmp_path / "work"  # outside the checkout: nothing of the source tree on the path
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = run(python, "-c", "import flownet.weights as w; print(w.__file__); print(w.default_checkpoint())",
                cwd=work, env=env).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where  # the installed package and its model
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (70, 90, 3), dtype=np.uint8)
    write_image(work / "a.png", img)
    write_image(work / "b.png", np.roll(img, (2, 3), axis=(0, 1)))
    run(venv / "bin" / "flownet", "infer", "a.png", "b.png", "-o", "f.flo", cwd=work, env=env)
    # pip install --target DIR: the package and its model land in DIR, found with DIR on the path alone
    run(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", tmp_path / "target", wheel)
    found = run(sys.executable, "-c", "import sys; sys.path[:0] = sys.argv[1:]; import flownet.weights as w; "
                "print(w.default_checkpoint())", tmp_path / "target", cwd=work, env=env).stdout.strip()
    assert Path(found).is_relative_to(tmp_path / "target"), found

    from flownet.evaluate import model_flow_fn
    from flownet.pipeline import refine_fn
    from flownet.weights import load_model

    shipped = sorted((REPO / "checkpoints").glob("flownets_*.pt"))[-1]
    default = refine_fn(model_flow_fn(load_model(shipped)), "fuse")  # what `flownet infer` runs without flags
    expected = tensor_to_flow(default(image_to_tensor(read_image(work / "a.png")),
                                      image_to_tensor(read_image(work / "b.png"))))
    np.testing.assert_allclose(read_flo(work / "f.flo"), expected, atol=1e-3)
