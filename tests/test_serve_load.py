"""A bounded load on ``analyzer serve`` over loopback: concurrent uploads, all diagnosed, none lost.

The full figures (50 uploads, 8 clients, p95 page time) come from ``benchmarks/serve_load.py``; this
smaller run asserts only outcomes, never time.
"""

from __future__ import annotations

import importlib.util

import pytest

from tests.serve_support import REPO

pytest.importorskip("uvicorn", reason="the web stack (requirements.txt) is not installed")


def _tool():
    spec = importlib.util.spec_from_file_location("serve_load", REPO / "benchmarks" / "serve_load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_concurrent_uploads_are_all_diagnosed_and_none_lost(tmp_path):
    tool = _tool()
    with tool.running_server(tmp_path / "data", jobs=2) as base:
        result = tool.load(base, uploads=12, clients=4, wait=600)
    assert result["errors"] == []
    assert len(result["ids"]) == len(set(result["ids"])) == 12
    assert result["pending"] == []
    assert sorted(result["listed"]) == sorted(result["ids"])
    for answer in result["statuses"].values():
        assert answer["status"] == "done", answer
        assert answer["dns_to_add"] == [
            "/o=Contoso/ou=Berlin/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"
        ]
    assert len(result["page_times"]) >= 12 * 3  # every client loaded its pages while the queue drained
