"""The package stays layered: no import cycle, no import from a lower layer to a higher one, no
undocumented import inside a function, and docs/architecture.md shows the graph the code has.

The layers and the reasons for the remaining lazy imports are declared in tools/import_graph.py.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_graph", Path(REPO) / "tools" / "import_graph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("import_graph", module)
    spec.loader.exec_module(module)
    return module


graph = _tool()


def test_layering_holds() -> None:
    assert graph.problems() == []


def test_every_module_has_a_layer() -> None:
    for name in graph.modules():
        graph.layer_of(name)  # raises KeyError naming the module otherwise


def test_architecture_doc_is_up_to_date() -> None:
    text = graph.DOC.read_text(encoding="utf-8")
    assert text == graph.updated_doc(text), "docs/architecture.md is stale: run python tools/import_graph.py --write"


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, body in files.items():
        path = tmp_path / "analyzer" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body), encoding="utf-8")
    return tmp_path


@pytest.fixture
def fake_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Point the checker at a small package written in a temp dir (the checks must be able to fail)."""

    def make(files: dict[str, str]) -> None:
        monkeypatch.setattr(graph, "ROOT", _package(tmp_path, {"__init__.py": "", **files}))

    return make


def test_a_cycle_is_found(fake_root) -> None:
    fake_root({"model.py": "from analyzer import limits\n", "limits.py": "import analyzer.model\n"})
    assert graph.cycles(graph.all_imports()) == [["analyzer.limits", "analyzer.model"]]
    assert any(line.startswith("cycle among: analyzer.limits, analyzer.model") for line in graph.problems())


def test_an_upward_import_is_found(fake_root) -> None:
    fake_root({"model.py": "def f():\n    pass\n", "limits.py": "from analyzer.cli import main\n", "cli.py": ""})
    ups = graph.upward(graph.all_imports())
    assert [(i.source, i.target) for i in ups] == [("analyzer.limits", "analyzer.cli")]


def test_a_lazy_import_is_found_and_type_checking_imports_are_not(fake_root) -> None:
    fake_root(
        {
            "model.py": "",
            "cli.py": """\
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from analyzer.limits import X
                def main():
                    from analyzer import model
                """,
            "limits.py": "",
        }
    )
    imports = graph.all_imports()
    assert [(i.source, i.target, i.in_function) for i in imports] == [("analyzer.cli", "analyzer.model", True)]
    assert [line for line in graph.problems() if "inside a function" in line] == [
        "import inside a function: analyzer.cli line 5 imports analyzer.model"
    ]
