"""The remediation invariant, checked on patches written to disk and re-read with the project's reader.

Every scenario test that builds a remediation writes the patch and its rollback with
``remedy.write_remediation``, reads both back with ``registry.read_registry`` (the same reader that
reads customer exports) and checks: the patched list is ``remediation.entries``; every entry of the
current list is in it verbatim (unless ``--replace-near-misses`` replaced a confirmed near miss);
each DN to add is in it; the rollback gives back the list as found.
"""

from __future__ import annotations

from pathlib import Path

from analyzer.diagnosis import Diagnosis
from analyzer.registry import read_registry
from analyzer.remedy import write_remediation

KEY = r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"


def reread(path: Path) -> list[str] | None:
    """``Logon Only As`` of a written .reg file as the project's reader sees it (None: deleted/absent)."""
    value = read_registry(str(path)).value(KEY, "Logon Only As")
    if value is None:
        return None
    assert value.type == "REG_MULTI_SZ", value
    return list(value.data)


def check_written_patch(dx: Diagnosis, folder: Path, *, replace_near_misses: bool = False) -> list[str] | None:
    """Write ``dx``'s patch into ``folder``, re-read it, assert the invariant; returns the re-read list."""
    rem = dx.remediation
    assert rem is not None
    patch, back = write_remediation(folder / "patch.reg", rem)
    patched = reread(patch)
    loa = dx.logon_only_as
    current = [e for e in loa.entries if e.strip()]
    if loa.state == "empty":
        assert patched is None  # a blank list: the patch deletes the value (nothing is dropped)
    else:
        assert patched == rem.entries, (patched, rem.entries)
        replaced = {m.entry for m in rem.near_misses if m.action == "replaced"}
        assert not replaced or replace_near_misses, f"entries replaced without --replace-near-misses: {replaced}"
        missing = [e for e in current if e not in patched and e not in replaced]
        assert not missing, f"the patch re-read from disk drops current entries: {missing}"
        for dn in dx.dns_to_add:
            assert any(dn.casefold() == p.casefold() for p in patched), (dn, patched)
    as_found = reread(back)
    raw = list(loa.raw_entries if loa.raw_entries is not None else loa.entries)
    while raw and raw[-1] == "":
        raw.pop()  # a trailing empty element cannot be told from the end of the list in hex(7)
    assert as_found == raw, (as_found, raw)
    return patched
