"""Building the optional C extensions from source for the tests (``setup.py build_ext`` into a temp dir).

Why: a test of a native module must prove the source in the checkout, whatever module sits built in place
(a stale ``.so`` would otherwise pass for a broken source).  Without a toolchain the callers skip, saying why.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO


def compiler_missing() -> str | None:
    """Why the extensions cannot be built here, or None when a C compiler and Python's headers exist.

    Only the POSIX toolchain sysconfig names is detected; on Windows, setuptools finds MSVC by itself and
    the tests leave it alone."""
    if sys.platform == "win32":
        return "compiler detection covers POSIX toolchains only (setuptools finds MSVC by itself)"
    if importlib.util.find_spec("setuptools") is None:
        return "setuptools is not installed"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        return "Python's C headers (Python.h) are not installed"
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        return f"no C compiler ({cc}) on PATH"
    return None


def fresh_module(name: str, out: Path) -> ModuleType | str:
    """``analyzer.readers.<name>`` compiled from the current source into ``out``: the module, or why there is
    none (a string starting with "cannot build" is a broken build, anything else a missing toolchain)."""
    missing = compiler_missing()
    if missing:
        return missing
    done = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--build-lib", str(out / "lib"), "--build-temp", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    built = [
        p
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
        for p in (out / "lib" / "analyzer" / "readers").glob(f"{name}{suffix}")
    ]
    if not built:  # optional=True: a failed compile still exits 0, without the module
        return f"cannot build: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    spec = importlib.util.spec_from_file_location(f"analyzer.readers.{name}", built[0])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def installed_module(name: str) -> ModuleType | str:
    """``analyzer.readers.<name>`` as the package imports it (built in place), or why it is not there."""
    try:
        return importlib.import_module(f"analyzer.readers.{name}")
    except ImportError as error:
        return f"the package's native module is not built ({error}); build it with `pip install -e .`"


def usable(found: ModuleType | str) -> ModuleType:
    """The module; else the test skips (no toolchain, not built) or fails (the source does not build)."""
    if isinstance(found, str):
        if found.startswith("cannot build"):
            pytest.fail(found)
        pytest.skip(found)
    return found
