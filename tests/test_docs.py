"""The Python examples in README.md and docs/*.md run as written.

Every fenced ```python block of a file is executed in order in one namespace per file (so a
block may use names defined by an earlier one), inside a temporary working directory. A block
whose first line is ``# not run`` is skipped (for commands that take minutes).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(path: Path) -> list[str]:
    """The ```python blocks of ``path`` that are meant to run."""
    blocks = BLOCK.findall(path.read_text())
    return [b for b in blocks if not b.lstrip().startswith("# not run")]


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_python_examples_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = python_blocks(path)
    assert blocks, f"{path.name} has no runnable Python example"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    namespace: dict[str, object] = {"__name__": f"docs_{path.stem}"}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"{path.name}[block {i}]", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message is the point
            raise AssertionError(
                f"{path.relative_to(ROOT)}: Python block {i} failed: {exc!r}\n{block}"
            ) from exc
    assert os.getcwd() == str(tmp_path)
