"""The README's Python quick start runs as written (building the model, one forward pass, saving)."""

import os
import re

from support import REPO


def test_readme_model_quick_start_runs(tmp_path, monkeypatch):
    text = (REPO / "README.md").read_text()
    section = text[text.index("## The model in Python"):text.index("## Pretrained weights")]
    block = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "README.md (The model in Python)", "exec"), namespace)
    config = namespace["config"]
    assert tuple(namespace["out"]["logits"].shape) == (1, config.image_size, config.image_size, 1)
    assert os.path.exists(tmp_path / "acga.keras")


def test_readme_opens_with_the_demo_and_test_commands():
    first_block = re.search(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S).group(1)
    lines = first_block.strip().splitlines()
    assert "acga demo" in lines[0] and "pytest" in lines[1]
    ci = (REPO / ".ci" / "run").read_text()
    assert 'pip install --quiet -e ".[test]"' in ci and "python3 -m pytest -q" in ci
