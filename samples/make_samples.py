"""Regenerate the bundled sample cases, byte for byte: ``python samples/make_samples.py [OUTDIR]``.

``python samples/make_samples.py --update-readmes`` pastes the analyzer's current text output into
each case's README.md (between the ``analyzer output`` markers).

Every file is made with the project's own writers (``tests/writers/``) from fixed events and
registry values, so the output never depends on the clock, the machine or the locale.  The names
follow the fixture placeholders of ``analyzer.rules.factories``: organisation ``/o=Contoso/ou=Berlin``, servers EXCH01 and
EXCH02, service account ``CONTOSO\\exsvc``.  The per-case README.md files are written by hand and not
touched here.

Event facts used below: 1023 is a Failure Audit of MSExchangeIS Private in the Application log, with
the account and two DNs as insertion strings (KB 306308; the string order is inferred);
4018 and 4116 are MSExchangeIMC errors (KB 306308); 4018's full message ID 0xC0000FB2 is the one seen in
exported logs, the other full IDs follow the severity-bit convention (inferred); MSExchangeES 11 with
0x8004011d is the KB 259578 pairing.  No ``Event`` here is Microsoft's message text: the .evt/.evtx
files hold insertion strings only, and text exports use ``analyzer.messages`` paraphrases.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from analyzer.model import Event, EventType, RegistryKey  # noqa: E402
from tests.writers.evt_writer import write_evt  # noqa: E402
from tests.writers.evtext_writer import write_evcsv, write_evtxt  # noqa: E402
from tests.writers.evtx_writer import write_evtx  # noqa: E402
from tests.writers.hive_writer import multi_sz, offline_system, write_hive  # noqa: E402
from tests.writers.regtext_writers import reg_text, regedt32_text  # noqa: E402

SAMPLES = Path(__file__).resolve().parent

ORG = "/o=Contoso/ou=Berlin"
ACCOUNT = "CONTOSO\\exsvc"
IMS_DN = f"{ORG}/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"
ADMIN_DN = f"{ORG}/cn=Recipients/cn=admin"
USER3_DN = f"{ORG}/cn=Recipients/cn=user-3"


def sa_dn(n: int) -> str:
    return f"{ORG}/cn=Configuration/cn=Servers/cn=EXCH{n:02d}/cn=Microsoft System Attendant"


def dsa_dn(n: int) -> str:
    return f"{ORG}/cn=Configuration/cn=Servers/cn=EXCH{n:02d}/cn=Microsoft DSA"


PARAMS_PARTS = ["HKEY_LOCAL_MACHINE", "SYSTEM", "CurrentControlSet", "Services", "MSExchangeIS", "ParametersSystem"]
PARAMS_KEY = "\\".join(PARAMS_PARTS)
KEY_TIME = datetime(2002, 5, 28, 17, 2, 0, tzinfo=UTC)  # the list was last edited before every failure below

# Full 32-bit message IDs (see the module docstring).
FULL_IDS = {
    ("MSExchangeIS Private", 1023): 1023,
    ("MSExchangeIMC", 4018): 0xC0000FB2,
    ("MSExchangeIMC", 4116): 0xC0001014,
    ("MSExchangeES", 11): 0xC000000B,
}
CATEGORY_NAMES = {1: "Logons"}  # how a text export made on the server names the 1023 category (KB 306308)


def event(
    when: datetime, source: str, event_id: int, etype: EventType, strings: tuple[str, ...], *, category: int = 0
) -> Event:
    """An Application-log event of EXCH01 (no user SID, as the service events are shown with User N/A)."""
    return Event(
        path="",
        record=0,
        offset=None,
        time_generated=when,
        time_written=when,
        event_id=event_id,
        event_id_full=FULL_IDS.get((source, event_id), event_id),
        type=etype,
        category=category,
        source=source,
        computer="EXCH01",
        sid=None,
        strings=strings,
        log="Application",
    )


def refused(when: datetime, validated_as: str, target: str | None = None) -> Event:
    """Event 1023: the account was validated as ``validated_as`` but could not log on to ``target``."""
    return event(
        when,
        "MSExchangeIS Private",
        1023,
        EventType.FAILURE_AUDIT,
        (ACCOUNT, validated_as, target or validated_as),
        category=1,
    )


def ims_start_failure(when: datetime) -> list[Event]:
    """One failed IMS start of the KB 306308 kind: the refusal, then 4018 and 4116 seconds later."""
    return [
        refused(when, IMS_DN),
        event(when.replace(second=when.second + 1), "MSExchangeIMC", 4018, EventType.ERROR, ()),
        event(when.replace(second=when.second + 2), "MSExchangeIMC", 4116, EventType.ERROR, ()),
    ]


def t(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2002, 6, day, hour, minute, second, tzinfo=UTC)


def params_tree(entries: list[str] | None) -> RegistryKey:
    """A nameless root holding HKLM\\…\\ParametersSystem, with ``Logon Only As`` unless ``entries`` is None."""
    root = RegistryKey("")
    node = root.ensure_path(PARAMS_PARTS)
    node.last_write = KEY_TIME
    if entries is not None:
        node.set_value(multi_sz("Logon Only As", entries))
    return root


def regedit_export(entries: list[str] | None, version: int) -> bytes:
    """``regedit /e file.reg "HKEY_LOCAL_MACHINE\\…\\ParametersSystem"``: the header and that key only.

    The writer emits every key of the tree (its ancestors too); regedit exports the chosen key and
    its subkeys, so the ancestor blocks are cut off here."""
    text = reg_text(params_tree(entries), version)
    header, _, rest = text.partition("\n\n")
    body = rest[rest.index(f"[{PARAMS_KEY}]") :]
    text = f"{header}\n\n{body}".replace("\n", "\r\n")
    return text.encode("cp1252") if version == 4 else b"\xff\xfe" + text.encode("utf-16-le")


def regedt32_export(entries: list[str], language: str = "en") -> bytes:
    """Regedt32 Registry > Save Subtree As (text) on ParametersSystem: that key's block only (``language``: the
    labels of a localised Regedt32)."""
    text = regedt32_text(params_tree(entries), language=language)
    relative = "\\".join(PARAMS_PARTS[1:])
    start = next(i for i, line in enumerate(text.split("\n")) if line.endswith(" " + relative))
    return "\r\n".join(text.split("\n")[start:]).encode("cp1252")


# --------------------------------------------------------------------------- cases


def nt4_kb306308(out: Path) -> None:
    """Scenario 1: the IMS DN is missing from [SA-DN(01), admin]; two start attempts of the IMS."""
    events = [*ims_start_failure(t(12, 9, 14, 3)), *ims_start_failure(t(12, 9, 31, 40))]
    write_evt(out / "AppEvent.Evt", events)
    (out / "ParametersSystem.reg").write_bytes(regedit_export([sa_dn(1), ADMIN_DN], 4))


def w2k_two_controlsets(out: Path) -> None:
    """Scenario 9: offline SYSTEM hive, Select\\Current = 2; ControlSet001 lists the IMS, ControlSet002 does not."""
    events = ims_start_failure(t(14, 8, 5, 11))
    # .evtx keeps each event's own EventRecordID (the .evt writer numbers records itself): number them.
    write_evtx(out / "Application.evtx", [replace(e, record=n) for n, e in enumerate(events, start=1)])
    path = r"Services\MSExchangeIS\ParametersSystem"
    root = offline_system(
        {
            1: {path: [multi_sz("Logon Only As", [sa_dn(1), ADMIN_DN, IMS_DN])]},
            2: {path: [multi_sz("Logon Only As", [sa_dn(1), ADMIN_DN])]},
        },
        current=2,
        last_known_good=1,
        root_name="$$$PROTO.HIV",
    )
    for number in (1, 2):  # the writer stamps every key with its default time; the list was edited later
        node = root.subkey(f"ControlSet{number:03d}")
        for part in path.split("\\"):
            node = node.subkey(part)
        node.last_write = KEY_TIME
    write_hive(out / "SYSTEM", root, version=(1, 3), written=KEY_TIME)


def move_mailbox(out: Path) -> None:
    """Scenario 7: moving mailboxes from EXCH02 to EXCH01; EXCH01 lists only its own SA and DSA."""
    events = [
        refused(t(15, 22, 0, 5), sa_dn(2)),
        refused(t(15, 22, 0, 6), dsa_dn(2)),
        refused(t(15, 22, 12, 30), sa_dn(2)),
        refused(t(15, 22, 12, 31), dsa_dn(2)),
    ]
    write_evtxt(out / "AppEvent.txt", events, category_names=CATEGORY_NAMES)
    (out / "ParametersSystem.txt").write_bytes(regedt32_export([sa_dn(1), dsa_dn(1)]))


def harmless_1023(out: Path) -> None:
    """Scenario 10 with the value absent: an Event Service script still points at a deleted mailbox."""
    events = []
    for minute in (0, 15, 30):
        when = t(17, 3, minute, 2)
        events.append(refused(when, sa_dn(1), USER3_DN))
        events.append(event(when.replace(second=3), "MSExchangeES", 11, EventType.ERROR, ("0x8004011d",)))
    write_evcsv(out / "Application.csv", events, category_names=CATEGORY_NAMES, mode="wrapper", wrapper="w2k")
    (out / "ParametersSystem.reg").write_bytes(regedit_export(None, 5))


def de_nt4_kb306308(out: Path) -> None:
    """Scenario 1 on a German Windows NT 4.0 server: Event Viewer "Save as" text of the Application and
    System logs (tab-separated, cp1252, dates 12.06.02) and a German Regedt32 "Save Subtree As" report.
    The German words come from analyzer/languages/data/de.yaml; most of its message texts are marked
    reconstructed there (not Microsoft's wording)."""
    events = [*ims_start_failure(t(12, 9, 14, 3)), *ims_start_failure(t(12, 9, 31, 40))]
    write_evtxt(out / "AppEvent.txt", events, language="de", date_style="dmy2", category_names={1: "Anmeldungen"})
    stops = [
        replace(
            event(
                when,
                "Service Control Manager",
                7023,
                EventType.ERROR,
                ("Microsoft Exchange Internet Mail Service", "%%2140"),
            ),
            log="System",
        )
        for when in (t(12, 9, 14, 9), t(12, 9, 31, 46))
    ]
    write_evtxt(out / "SysEvent.txt", stops, language="de", date_style="dmy2")
    (out / "ParametersSystem.txt").write_bytes(regedt32_export([sa_dn(1), ADMIN_DN], language="de"))


MPS_SERVER = "EXCH01"
CAB_TIME = datetime(2002, 6, 12, 10, 0, 0)  # fixed member times: the cabinet is the same on every run


def mps_reports_cab(out: Path) -> None:
    """Scenario 1 as MPS Reports (Exchange) collects it: one .cab whose files carry the server prefix --
    ``EXCH01_Application.evt`` / ``EXCH01_System.evt``, their text versions ``.txt`` (the same logs) and a
    registry export.  MSZIP-compressed with cabarchive; gcab and cabextract read it too (tests/test_archives.py)."""
    from cabarchive import CabArchive, CabFile

    app = [*ims_start_failure(t(12, 9, 14, 3)), *ims_start_failure(t(12, 9, 31, 40))]
    stops = [
        replace(
            event(
                when,
                "Service Control Manager",
                7023,
                EventType.ERROR,
                ("Microsoft Exchange Internet Mail Service", "%%2140"),
            ),
            log="System",
        )
        for when in (t(12, 9, 14, 9), t(12, 9, 31, 46))
    ]
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_evt(folder / f"{MPS_SERVER}_Application.evt", app)
        write_evtxt(folder / f"{MPS_SERVER}_Application.txt", app, category_names=CATEGORY_NAMES)
        write_evt(folder / f"{MPS_SERVER}_System.evt", stops)
        write_evtxt(folder / f"{MPS_SERVER}_System.txt", stops)
        (folder / f"{MPS_SERVER}_ParametersSystem.reg").write_bytes(regedit_export([sa_dn(1), ADMIN_DN], 4))
        cab = CabArchive()
        for f in sorted(folder.iterdir()):
            cab[f.name] = CabFile(f.read_bytes(), mtime=CAB_TIME)
        (out / f"MPSReports_{MPS_SERVER}.cab").write_bytes(cab.save(compress=True))


CASES: dict[str, Callable[[Path], None]] = {
    "nt4-kb306308": nt4_kb306308,
    "w2k-two-controlsets": w2k_two_controlsets,
    "move-mailbox": move_mailbox,
    "harmless-1023": harmless_1023,
    "de-nt4-kb306308": de_nt4_kb306308,
    "mps-reports-cab": mps_reports_cab,
}
GENERATED = {
    "nt4-kb306308": ["AppEvent.Evt", "ParametersSystem.reg"],
    "w2k-two-controlsets": ["Application.evtx", "SYSTEM"],
    "move-mailbox": ["AppEvent.txt", "ParametersSystem.txt"],
    "harmless-1023": ["Application.csv", "ParametersSystem.reg"],
    "de-nt4-kb306308": ["AppEvent.txt", "SysEvent.txt", "ParametersSystem.txt"],
    "mps-reports-cab": ["MPSReports_EXCH01.cab"],
}


def build(out: Path = SAMPLES) -> list[Path]:
    """Write every case under ``out`` (one folder per case); returns the files written."""
    written: list[Path] = []
    for name, make in CASES.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        make(folder)
        written.extend(folder / f for f in GENERATED[name])
    return written


BEGIN, END = "<!-- analyzer output: begin -->", "<!-- analyzer output: end -->"


def diagnose_text(case: str) -> tuple[int, str]:
    """What ``python -m analyzer diagnose samples/<case>`` prints (stdout) and its exit code."""
    import contextlib
    import io

    from analyzer.cli import main as analyzer_main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = analyzer_main(["diagnose", f"samples/{case}"])
    return code, out.getvalue()


def update_readmes() -> None:
    """Paste the current text output of each case between the markers of its README.md."""
    import os

    os.chdir(REPO)  # the paths in the output are the ones a user types from the checkout
    for case in CASES:
        readme = SAMPLES / case / "README.md"
        text = readme.read_text(encoding="utf-8")
        code, output = diagnose_text(case)
        block = (
            f"{BEGIN}\n`python -m analyzer diagnose samples/{case}` prints (exit code {code}):\n\n"
            f"```text\n{output.rstrip()}\n```\n{END}"
        )
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        readme.write_text(head + block + tail, encoding="utf-8", newline="\n")
        print(f"updated {readme.relative_to(REPO)}")


def main(argv: list[str]) -> int:
    if argv[1:] == ["--update-readmes"]:
        update_readmes()
        return 0
    out = Path(argv[1]) if len(argv) > 1 else SAMPLES
    for path in build(out):
        print(f"{path.stat().st_size:>8}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
