"""Capture (or check) the golden outputs: every bundled sample through every command and format.

The golden files pin what the CLI prints today so that a restructuring can prove it changed nothing.
A deliberate change of output regenerates them: ``python tests/golden/make_golden.py`` (then review the diff).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SAMPLES = sorted(p for p in (REPO / "samples").iterdir() if p.is_dir())


def _commands() -> Iterator[tuple[str, list[str]]]:
    """(golden file name, argv) for every sample x command x format."""
    for sample in SAMPLES:
        rel = f"samples/{sample.name}"
        for fmt in ("text", "json", "markdown", "html", "csv"):
            yield f"{sample.name}.diagnose.{fmt}", ["diagnose", rel, "--format", fmt]
        # The terminal layout at a wide terminal too (80 columns is the default when not a terminal).
        yield f"{sample.name}.diagnose.text120", ["diagnose", rel, "--width", "120"]
        for v in ("4", "5"):
            yield f"{sample.name}.patch{v}", ["diagnose", rel, "--reg-patch", "{tmp}/patch.reg", "--reg-version", v]
        for f in sorted(sample.iterdir()):
            if f.suffix.lower() in (".md", ".py"):
                continue
            frel = f"{rel}/{f.name}"
            yield f"{sample.name}.{f.name}.events.jsonl", ["events", frel, "--format", "jsonl"]
            yield f"{sample.name}.{f.name}.events.table", ["events", frel]
            yield f"{sample.name}.{f.name}.events.table120", ["events", frel, "--width", "120"]
            yield f"{sample.name}.{f.name}.registry.table", ["registry", frel]
            key = r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"
            yield f"{sample.name}.{f.name}.registry.key.table", ["registry", frel, "--key", key]
            yield f"{sample.name}.{f.name}.registry.key.table120", ["registry", frel, "--key", key, "--width", "120"]
            yield (
                f"{sample.name}.{f.name}.registry.json",
                [
                    "registry",
                    frel,
                    "--key",
                    r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem",
                    "--format",
                    "json",
                ],
            )
    yield "all.events.table", ["events", *(f"samples/{s.name}" for s in SAMPLES), "--id", "1023"]
    yield "all.events.table120", ["events", *(f"samples/{s.name}" for s in SAMPLES), "--id", "1023", "--width", "120"]
    yield "rules.list", ["rules"]


def run(argv: list[str]) -> str:
    """Run the CLI in this process from the repository root; return exit code, stdout, stderr and written files."""
    from analyzer.cli import main

    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        argv = [a.replace("{tmp}", tmp) for a in argv]
        os.chdir(REPO)
        # The engineer's own KB archive (ANALYZER_KB_URL) must not change the goldens: they pin the default.
        saved_kb_url = os.environ.pop("ANALYZER_KB_URL", None)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(argv)
                except SystemExit as exc:
                    code = exc.code
        finally:
            os.chdir(cwd)
            if saved_kb_url is not None:
                os.environ["ANALYZER_KB_URL"] = saved_kb_url
        files = ""
        for f in sorted(Path(tmp).iterdir()):
            files += f"--- file {f.name}\n{f.read_bytes().decode('latin-1')}\n"
    text = f"exit {code}\n--- stdout\n{out.getvalue()}\n--- stderr\n{err.getvalue().replace(tmp, '{tmp}')}\n{files}"
    return text.replace(tmp, "{tmp}")


def main() -> int:
    for name, argv in _commands():
        (HERE / "data").mkdir(exist_ok=True)
        (HERE / "data" / name).write_text(run(argv), encoding="utf-8", newline="\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
