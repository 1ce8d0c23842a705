"""Shared fixtures: where the read-only sample corpus lives, and a skip when it is absent."""

from __future__ import annotations

import lzma
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the property tests with fixed seeds so that a submission's result is reproducible; local
# runs (and fuzz/run.py) keep exploring new examples, and what they find becomes a regression test.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("ANALYZER_CORPUS", REPO.parent / "shared" / "corpus"))


def corpus_file(*parts: str) -> Path:
    """Path of a corpus file, or skip the test with the reason when ../shared/corpus is absent."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"corpus file {'/'.join(parts)} not found (expected ../shared/corpus beside the checkout)")
    return path


def corpus_files(folder: str, pattern: str = "*") -> list[Path]:
    """All corpus files in a folder (for parametrize; empty when the corpus is absent)."""
    root = CORPUS / folder
    return sorted(p for p in root.glob(pattern) if p.is_file()) if root.is_dir() else []


@pytest.fixture(scope="session")
def corpus_xz(tmp_path_factory: pytest.TempPathFactory):
    """Decompress a ``.xz`` corpus file into a session temp dir (once) and return its path."""
    cache: dict[str, Path] = {}
    outdir = tmp_path_factory.mktemp("corpus_xz")

    def get(*parts: str) -> Path:
        src = corpus_file(*parts)
        key = "/".join(parts)
        if key not in cache:
            dst = outdir / src.name.removesuffix(".xz")
            with lzma.open(src) as fin, open(dst, "wb") as fout:
                shutil.copyfileobj(fin, fout)
            cache[key] = dst
        return cache[key]

    return get
