"""Start-up of the command: what each command imports, and its --help."""

import argparse
import subprocess
import sys

import numpy as np
import pytest

from flownet.cli import build_parser
from flownet.io import write_image
from flownet.models import FlowNetS
from flownet.weights import save_weights

REPORT = "import sys; print(' '.join(sorted(m for m in ('torch', 'pytorch_lightning', 'lightning', 'matplotlib') " \
         "if m in sys.modules)))"


def modules_after(*args, cwd=None) -> set[str]:
    """Run ``flownet ARGS`` in a fresh interpreter and list which heavy packages it imported."""
    code = (f"import sys; from flownet.cli import main; sys.argv = ['flownet', *{list(map(str, args))!r}]\n"
            f"try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n{REPORT}")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split("\n")[-2].split())


def test_help_imports_neither_torch_nor_lightning():
    assert modules_after("--help") == set()
    assert modules_after("infer", "--help") == set()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    t = tmp_path_factory.mktemp("pair")
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        write_image(t / name, rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    save_weights(FlowNetS(width=0.25), t / "w.pt")
    return t


@pytest.mark.parametrize("args", [
    ["infer", "a.png", "b.png", "-o", "f.flo"],
    ["viz", "f.flo", "-o", "f_color.png", "--legend"],
    ["interpolate", "a.png", "b.png", "-o", "mid.png"],
], ids=["infer", "viz", "interpolate"])
def test_commands_that_do_not_train_import_no_lightning(pair, args):
    if args[0] == "viz" and not (pair / "f.flo").exists():
        subprocess.run([sys.executable, "-m", "flownet.cli", "infer", "a.png", "b.png", "-o", "f.flo",
                        "--checkpoint", "w.pt", "--device", "cpu"], cwd=pair, check=True, capture_output=True)
    extra = [] if args[0] == "viz" else ["--checkpoint", "w.pt", "--device", "cpu"]
    loaded = modules_after(*args, *extra, cwd=pair)
    assert (pair / args[args.index("-o") + 1]).exists()  # the command ran
    assert "torch" in loaded and not {"pytorch_lightning", "lightning"} & loaded


def all_parsers():
    """(name, parser) of the command and of every subcommand, nested ones included."""
    todo = [("flownet", build_parser())]
    while todo:
        name, parser = todo.pop()
        yield name, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend((f"{name} {n}", p) for n, p in action.choices.items())


def test_every_option_has_help_and_one_default():
    for name, parser in all_parsers():
        text = parser.format_help()
        assert "(default: None)" not in text and "(default: False)" not in text, name
        for action in parser._actions:
            if action.option_strings:
                assert action.help, f"{name} {action.option_strings[0]} has no help"
                shown = parser.formatter_class(name)._get_help_string(action)
                if "default" in action.help:  # the help says it: nothing is added
                    assert shown == action.help, f"{name} {action.option_strings[0]} says its default twice"
