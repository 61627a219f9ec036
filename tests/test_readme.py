"""The README's Python example runs as written and prints what the README says it prints."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_python_example_runs_and_prints_the_quoted_line(shared_data, tmp_path):
    text = README.read_text()
    code = text.split("## Python", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    quoted = re.search(r"this prints `([^`]*)`", text).group(1)
    for name in ("frame10.png", "frame11.png"):
        shutil.copy(shared_data / "middlebury" / "RubberWhale" / name, tmp_path / name)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == quoted
    assert (tmp_path / "flow.flo").is_file()
