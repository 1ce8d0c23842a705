"""Valid starting inputs per fuzz target: files made by the test writers plus small ../shared/corpus files.

Why both: the writers give inputs whose every structure we know (and which hold the KB 306308 events
and values the diagnosis looks for); the corpus gives files written by real Windows with layouts the
writers do not produce (wrapped logs, string tables, big-data cells).  Seeds are capped in size so a
mutation campaign spends its time on structure, not on copying megabytes.
"""

from __future__ import annotations

import io
import lzma
import os
import tempfile
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from analyzer.model import Event, EventType, RegistryKey

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("ANALYZER_CORPUS", REPO.parent / "shared" / "corpus"))
MAX_SEED = 128 * 1024
LOA_KEY = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"
IMC_DN = "/o=Org/ou=Site/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"


def sample_events(count: int = 12) -> list[Event]:
    """A few events of the founding case (1023 audits, IMC 4018) and service chatter."""
    from tests.writers.evt_writer import sample_events as evt_samples

    return list(evt_samples(count))


def hostile_event(text: str, record: int = 1) -> Event:
    """An MSExchangeIS 1023 failure audit whose strings are ``text`` (for output-safety tests)."""
    when = datetime(2001, 3, 1, 12, 0, tzinfo=UTC)
    return Event(
        "", record, None, when, when, 1023, 1023, EventType.FAILURE_AUDIT, 2, "MSExchangeIS Private", "EXCH01",
        "S-1-5-21-1004336348-1177238915-682003330-1105", (text, text, text),
    )  # fmt: skip


def loa_tree(entries: list[str] | None = None) -> RegistryKey:
    """A nameless-root tree holding Logon Only As (as the text readers produce)."""
    from tests.writers.regtext_writers import build_tree

    items = entries if entries is not None else [IMC_DN, "/o=Org/ou=Site/cn=Configuration/cn=Servers/cn=EXCH01"]
    return build_tree(
        {
            LOA_KEY: {
                "Logon Only As": ("REG_MULTI_SZ", items),
                "Enable Tracing": ("REG_DWORD", 0),
                "Working Directory": ("REG_SZ", "C:\\exchsrvr\\mdbdata"),
            }
        }
    )


def system_hive_bytes(entries: list[str] | None = None) -> bytes:
    """An offline SYSTEM hive with ControlSet001\\Services\\MSExchangeIS\\ParametersSystem."""
    from tests.writers.hive_writer import build_hive, dword, multi_sz, offline_system

    items = entries if entries is not None else [IMC_DN]
    root = offline_system(
        {1: {r"Services\MSExchangeIS\ParametersSystem": [multi_sz("Logon Only As", items), dword("Enable Tracing", 0)]}}
    )
    return build_hive(root)


def _writer_bytes(write: Callable[[str], object]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="fuzzseed-") as tmp:
        path = os.path.join(tmp, "seed")
        write(path)
        return Path(path).read_bytes()


def _corpus(folder: str, *names: str) -> list[bytes]:
    out = []
    for name in names:
        path = CORPUS / folder / name
        if not path.is_file():
            continue
        data = lzma.decompress(path.read_bytes()) if name.endswith(".xz") else path.read_bytes()
        out.append(data[:MAX_SEED])
    return out


def _evt() -> list[bytes]:
    from tests.writers.evt_writer import write_evt

    events = sample_events(12)
    seeds = [
        _writer_bytes(lambda p: write_evt(p, events)),
        _writer_bytes(lambda p: write_evt(p, events, max_size=2048, wrap=True)),
        _writer_bytes(lambda p: write_evt(p, events, dirty=True, stale_after=5, slack=events[:2], slack_gap=8)),
    ]
    return seeds + _corpus("evt", "dissect__TestLog.evt", "dissect__TestLog-dirty.evt", "goevt__AppEvent.Evt")


def _evtx() -> list[bytes]:
    from tests.writers.evtx_writer import write_evtx

    events = sample_events(12)
    seeds = [
        _writer_bytes(lambda p: write_evtx(p, events)),
        _writer_bytes(lambda p: write_evtx(p, events, records_per_chunk=6, dirty=True, stale_chunk_count=True)),
    ]
    return seeds + _corpus(
        "evtx",
        "dissect__TestLogX.evtx",
        "pyevtx__dns_log_malformed.evtx",
        "rsevtx__Application_no_crc32.evtx",
        "rsevtx__MSExchange_Management_wec.evtx",
    )


def _evtext() -> list[bytes]:
    from tests.writers import evtext_writer as w

    events = sample_events(6)
    return [
        _writer_bytes(lambda p: w.write_evtxt(p, events)),
        _writer_bytes(lambda p: w.write_evtxt(p, events, encoding="utf-16", header=True)),
        _writer_bytes(lambda p: w.write_evcsv(p, events, quote="all")),
        _writer_bytes(lambda p: w.write_evblock(p, events)),
        _writer_bytes(lambda p: w.write_dumpel(p, events)),
    ]


def _hive() -> list[bytes]:
    return [
        system_hive_bytes(),
        *_corpus(
            "hive",
            "hivex__minimal",
            "hivex__special",
            "pyreg__UNICODE_TESTS",
            "regipy__SECURITY",
            "yarp__TruncatedHive",
        ),
    ]


def _reg() -> list[bytes]:
    from tests.writers.regtext_writers import write_reg

    tree = loa_tree()
    return [
        _writer_bytes(lambda p: write_reg(p, tree, version=4)),
        _writer_bytes(lambda p: write_reg(p, tree, version=5)),
        *_corpus("reg", "debloat__disable-edge-prelaunch.reg", "debloat__enable-photo-viewer.reg"),
    ]


def _regedt32() -> list[bytes]:
    from tests.writers.regtext_writers import write_regedt32

    tree = loa_tree()
    return [
        _writer_bytes(lambda p: write_regedt32(p, tree)),
        _writer_bytes(lambda p: write_regedt32(p, tree, encoding="utf-16", multi_sz="hex")),
    ]


def _regquery() -> list[bytes]:
    from tests.writers.regtext_writers import write_regquery

    tree = loa_tree()
    return [
        _writer_bytes(lambda p: write_regquery(p, tree)),
        _writer_bytes(lambda p: write_regquery(p, tree, style="3.0")),
    ]


def case_zip(members: dict[str, bytes]) -> bytes:
    """A zip archive (deflated) holding ``members``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _case() -> list[bytes]:
    return [
        case_zip({"EXCH01/AppEvent.Evt": _evt()[0], "EXCH01/loa.reg": _reg()[0]}),
        case_zip({"SYSTEM": system_hive_bytes(), "notes.txt": b"customer notes"}),
    ]


_BUILDERS: dict[str, Callable[[], list[bytes]]] = {
    "evt": _evt,
    "evtx-rust": _evtx,
    "evtx-python": _evtx,
    "evtext": _evtext,
    "hive": _hive,
    "reg": _reg,
    "regedt32": _regedt32,
    "regquery": _regquery,
    "case": _case,
}


@cache
def seeds(target: str) -> tuple[bytes, ...]:
    """The seed inputs of one fuzz target (deterministic; built once per process)."""
    return tuple(_BUILDERS[target]())
