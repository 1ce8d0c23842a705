"""``pip install -e .[notebook]`` installs what running the notebooks needs (each import they make, a kernel,
the executor the tests use, and a front end to open them)."""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib

from tests.conftest import REPO

IMPORT_NAMES = {"yaml": "pyyaml", "sklearn": "scikit-learn"}


def _requirement_names(items: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~ ;]", item, maxsplit=1)[0].strip().lower().replace("_", "-") for item in items}


def test_the_notebook_extra_covers_every_import_of_the_notebooks() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    available = _requirement_names(project["dependencies"]) | _requirement_names(
        project["optional-dependencies"]["notebook"]
    )
    imported: set[str] = set()
    for nb in sorted((REPO / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "code":
                continue
            for node in ast.walk(ast.parse("".join(cell["source"]))):
                if isinstance(node, ast.Import):
                    imported.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m not in ("analyzer", "tests")}
    missing = {m for m in third_party if IMPORT_NAMES.get(m, m).lower() not in available}
    assert not missing, f"the notebooks import {sorted(missing)}, which [notebook] does not install"
    assert {"ipykernel", "nbclient", "nbformat", "matplotlib", "jupyterlab"} <= available
