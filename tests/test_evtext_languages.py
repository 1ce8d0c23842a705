"""Localised Event Viewer exports and Regedt32 reports: detection by content, code pages, dates, descriptions.

Inputs are written by the project's writers (tests/writers) from the language files, or spelled out line by
line where the point is a shape the writers do not make (an uncovered language, mixed date orders).
"""

from __future__ import annotations

import codecs
from datetime import datetime
from pathlib import Path

import pytest

from analyzer import languages
from analyzer.model import Event, EventType, ReadWarning, RegistryKey
from analyzer.readers import evtext, regedt32
from analyzer.readers.text import ReadNote
from analyzer.sniff import sniff
from tests.writers.evtext_writer import encode_lines, event_viewer_lines, write_evcsv, write_evtxt
from tests.writers.regtext_writers import build_tree, write_regedt32

ACCOUNT = "CONTOSO\\exsvc"
IMS_DN = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"
WHEN = datetime(2002, 5, 28, 17, 2, 0)


def ev(
    event_id: int = 1023, source: str = "MSExchangeIS Private", strings: tuple[str, ...] = (), **kw: object
) -> Event:
    fields: dict[str, object] = {
        "path": "x", "record": 1, "offset": None, "time_generated": WHEN, "time_written": None,
        "event_id": event_id, "event_id_full": event_id, "type": EventType.FAILURE_AUDIT, "category": 1,
        "source": source, "computer": "EXCH01", "sid": None,
        "strings": strings or (ACCOUNT, IMS_DN, IMS_DN), "message": None,
    }  # fmt: skip
    fields.update(kw)
    return Event(**fields)  # type: ignore[arg-type]


def _find(root: RegistryKey, key: str) -> RegistryKey:
    node: RegistryKey | None = root
    for part in key.replace("HKLM", "HKEY_LOCAL_MACHINE").split("\\"):
        node = node.subkey(part) if node is not None else None
    assert node is not None, key
    return node


def read_all(path: Path, **options: object) -> tuple[list[Event], list[ReadWarning], list[ReadNote]]:
    sink: list[ReadWarning] = []
    events = list(evtext.read(str(path), warn=sink.append, **options))  # type: ignore[arg-type]
    notes = [w for w in sink if isinstance(w, ReadNote)]
    return events, [w for w in sink if not isinstance(w, ReadNote)], notes


def test_german_windows_2000_csv_in_utf16_is_recognised_and_read(tmp_path: Path) -> None:
    """The issue's first refusal: header Datum,Zeit,Quelle,Typ,... in UTF-16LE."""
    path = write_evcsv(tmp_path / "app.csv", [ev()], language="de", header=True, encoding="utf-16")
    assert path.read_bytes().startswith(codecs.BOM_UTF16_LE + "Datum,Zeit,Quelle,Typ".encode("utf-16-le"))
    assert sniff(str(path)) == "evcsv"
    (got,), warnings, notes = read_all(path)
    assert warnings == []
    assert got.type is EventType.FAILURE_AUDIT and got.time_generated == WHEN
    assert got.strings == (ACCOUNT, IMS_DN, IMS_DN)
    assert "überprüft" in (got.message or "")  # the evidence stays in its language
    assert [n.message for n in notes] == ["read as German Event Viewer CSV, UTF-16LE (byte order mark)"]


@pytest.mark.parametrize("code", ["de", "fr", "es", "it", "ja"])
@pytest.mark.parametrize("style", ["nt4", "w2k"])
def test_localised_wrappers_give_the_insertion_strings(tmp_path: Path, code: str, style: str) -> None:
    event = ev(4116, "MSExchangeIMC", strings=("0x80040115", "BAD"), type=EventType.ERROR, category=0)
    path = write_evtxt(tmp_path / "a.txt", [event], language=code, mode="wrapper", wrapper=style,
                       encoding=languages.get(code).ansi[0])  # fmt: skip
    (got,), warnings, notes = read_all(path)
    assert warnings == [] and got.strings == ("0x80040115", "BAD") and got.message is None
    assert languages.get(code).name in notes[0].message


def test_a_localised_description_with_two_readings_yields_no_dn(tmp_path: Path) -> None:
    """DN safety: a DN that holds the template's own words cannot be cut out unambiguously: no strings."""
    tricky = "/o=Contoso/cn=a wurde als /o=Contoso/cn=b"
    path = write_evtxt(tmp_path / "a.txt", [ev(strings=(ACCOUNT, tricky, IMS_DN))], language="de")
    (got,), _, _ = read_all(path)
    assert got.strings == () and got.message is not None and tricky in got.message


def test_an_uncovered_language_is_read_by_position_with_one_warning(tmp_path: Path) -> None:
    lines = [
        "Datum,Tid,Källa,Typ,Kategori,Händelse,Användare,Dator,Beskrivning",
        "01/02/2002,17:02:00,MSExchangeIMC,Fel,Ingen,4018,Ej tillämpligt,EXCH01,Något gick fel.",
        "02/03/2002,17:03:00,MSExchangeIMC,Fel,Ingen,4116,Ej tillämpligt,EXCH01,Något annat.",
    ]
    path = tmp_path / "sv.csv"
    path.write_bytes(encode_lines(lines, "cp1252"))
    assert sniff(str(path)) == "evcsv"
    got, warnings, _ = read_all(path)
    assert [(e.event_id, e.source, e.computer) for e in got] == [(4018, "MSExchangeIMC", "EXCH01"), (4116, "MSExchangeIMC", "EXCH01")]  # fmt: skip
    assert all(e.type is EventType.INFORMATION and e.time_generated is None for e in got)
    assert all(e.message and e.message.startswith("Något") for e in got)
    messages = [w.message for w in warnings]
    assert len(messages) == 2, messages
    assert "left out" in messages[0] and "01/02/2002" in messages[0]
    assert "language not covered" in messages[1] and "'Fel'" in messages[1] and "Källa" in messages[1]


def test_language_option_overrides_detection(tmp_path: Path) -> None:
    """Spanish SCM errors: 'Error' is English too, so only --language (or the descriptions) says Spanish."""
    event = ev(7023, "Service Control Manager", ("Microsoft Exchange Internet Mail Service", "%%2140"),
               type=EventType.ERROR, category=0)  # fmt: skip
    path = write_evtxt(tmp_path / "sys.txt", [event], language="es")
    (got,), _, notes = read_all(path)
    assert got.strings == ("Microsoft Exchange Internet Mail Service", "%%2140")
    assert notes[0].message.startswith("read as Spanish Event Viewer text (from its descriptions)")
    (got,), _, notes = read_all(path, language="es")
    assert got.strings == ("Microsoft Exchange Internet Mail Service", "%%2140")
    assert notes[0].message.startswith("read as Spanish Event Viewer text (--language)")
    with pytest.raises(Exception, match="unknown language 'xx'"):
        read_all(path, language="xx")


def _dates_file(tmp_path: Path, dates: list[str], type_word: str = "Erreur") -> Path:
    lines = [f"{d}\t10:00:00\tFoo\t{type_word}\tAucun\t5\tN/A\tPC\ttext" for d in dates]
    path = tmp_path / "d.txt"
    path.write_bytes(encode_lines(lines))
    return path


def test_an_ambiguous_order_is_settled_by_the_language(tmp_path: Path) -> None:
    got, warnings, _ = read_all(_dates_file(tmp_path, ["01/02/2002", "03/02/2002"]))  # French: day first
    assert [e.time_generated for e in got] == [datetime(2002, 2, 1, 10), datetime(2002, 2, 3, 10)]
    assert warnings == []
    got, warnings, _ = read_all(_dates_file(tmp_path, ["01/02/2002"], "Error"))  # English: month first
    assert [e.time_generated for e in got] == [datetime(2002, 1, 2, 10)] and warnings == []


def test_the_whole_file_settles_the_order_before_the_first_entry(tmp_path: Path) -> None:
    got, warnings, _ = read_all(_dates_file(tmp_path, ["01/02/2002", "02/13/2002"]))  # French words, US dates
    assert [e.time_generated for e in got] == [datetime(2002, 1, 2, 10), datetime(2002, 2, 13, 10)]
    assert len(warnings) == 1 and "line 2: date 02/13/2002 is month/day/year" in warnings[0].message


def test_mixed_orders_are_reported_and_each_date_read_as_it_can(tmp_path: Path) -> None:
    got, warnings, _ = read_all(_dates_file(tmp_path, ["13/01/2002", "01/13/2002", "01/02/2002"]))
    assert [e.time_generated for e in got] == [datetime(2002, 1, 13, 10)] * 2 + [datetime(2002, 2, 1, 10)]
    assert len(warnings) == 1 and "mix" in warnings[0].message


@pytest.mark.parametrize(
    ("date", "clock", "word", "expected"),
    [
        ("28.05.02", "17:02:00", "Fehler", datetime(2002, 5, 28, 17, 2)),  # German NT 4.0, two-digit year
        ("28.05.99", "17:02", "Fehler", datetime(1999, 5, 28, 17, 2)),
        ("2002/05/28", "午後 5:02:00", "エラー", datetime(2002, 5, 28, 17, 2)),  # Japanese, AM/PM word first
        ("2002/05/28", "午前 12:02:00", "エラー", datetime(2002, 5, 28, 0, 2)),
        ("28/05/2002", "17.02.00", "Errore", datetime(2002, 5, 28, 17, 2)),  # Italian time separator
        ("28-5-2002", "17:02:00", "Fout", datetime(2002, 5, 28, 17, 2)),  # Dutch short date (language uncovered)
        ("5/28/2002", "5:02:00 PM", "Error", datetime(2002, 5, 28, 17, 2)),
    ],
)
def test_date_and_time_shapes(tmp_path: Path, date: str, clock: str, word: str, expected: datetime) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(encode_lines([f"{date}\t{clock}\tFoo\t{word}\tNone\t5\tN/A\tPC\ttext"], "utf-8"))
    (got,), warnings, _ = read_all(path)
    assert got.time_generated == expected
    assert [w.message for w in warnings if "language not covered" not in w.message] == []


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_and_japanese_ansi(tmp_path: Path, codec: str) -> None:
    lines = event_viewer_lines([ev()], language="ja", header=True)
    path = tmp_path / "ja.txt"
    path.write_bytes(encode_lines(lines, codec))
    (got,), warnings, notes = read_all(path)
    assert warnings == [] and got.strings == (ACCOUNT, IMS_DN, IMS_DN) and got.type is EventType.FAILURE_AUDIT
    assert "(no byte order mark)" in notes[0].message
    path.write_bytes(encode_lines(lines, "cp932"))
    (got,), warnings, notes = read_all(path)
    assert warnings == [] and got.strings == (ACCOUNT, IMS_DN, IMS_DN)
    assert notes[0].message == "read as Japanese Event Viewer text, cp932 (chosen by content, confidence 1.00)"
    # --encoding decides the ANSI code page: cp1252 makes the Japanese words unreadable, and says so
    got, warnings, _ = read_all(path, encoding="cp1252")
    assert got and "language not covered" in warnings[-1].message


def test_german_regedt32_report_is_recognised_and_read(tmp_path: Path) -> None:
    """The issue's second refusal: Schlüsselname:, Klassenname:, Letzter Schreibzugriff:, Wert 0, ..."""
    key = r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"
    tree = build_tree({key: {"Logon Only As": ("REG_MULTI_SZ", [IMS_DN, "/o=Contoso/cn=admin"])}})
    node = tree.ensure_path(key.replace("HKLM", "HKEY_LOCAL_MACHINE").split("\\"))
    node.last_write = WHEN.replace(second=0)
    path = write_regedt32(tmp_path / "params.txt", tree, language="de")
    text = path.read_bytes().decode("cp1252")
    assert "Schlüsselname:" in text and "Wert 0" in text and "28.05.2002 - 17:02" in text
    assert sniff(str(path)) == "regedt32"
    sink: list[ReadWarning] = []
    reg = regedt32.read(str(path), warn=sink.append)
    node = _find(reg.root, key)
    assert node.value("Logon Only As").data == [IMS_DN, "/o=Contoso/cn=admin"]  # type: ignore[union-attr]
    assert node.last_write == WHEN.replace(second=0)
    assert [w.message for w in sink if not isinstance(w, ReadNote)] == []
    assert next(w.message for w in sink if isinstance(w, ReadNote)).startswith("read as German Regedt32 report")


@pytest.mark.parametrize("code", ["fr", "es", "it", "ja"])
def test_other_regedt32_languages(tmp_path: Path, code: str) -> None:
    key = r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"
    tree = build_tree({key: {"Logon Only As": ("REG_MULTI_SZ", [IMS_DN]), "": ("REG_SZ", "default")}})
    path = write_regedt32(tmp_path / "p.txt", tree, encoding=languages.get(code).ansi[0], language=code)
    assert sniff(str(path)) == "regedt32"
    reg = regedt32.read(str(path))
    node = _find(reg.root, key)
    assert node.value("Logon Only As").data == [IMS_DN]  # type: ignore[union-attr]
    assert node.value("").data == "default"  # type: ignore[union-attr]  # the localised <NO NAME>


def test_a_partial_language_file_gives_its_type_words_and_date_order(tmp_path: Path) -> None:
    """Dutch has only confirmed type words and its date format: an export without header is read with them."""
    lines = [
        "03-02-2002\t17:02:00\tMSExchangeIMC\tFout\tGeen\t4018\tN/B\tEXCH01\tx",
        "04-02-2002\t17:03:00\tMSExchangeIMC\tWaarschuwing\tGeen\t4116\tN/B\tEXCH01\ty",
    ]
    path = tmp_path / "nl.txt"
    path.write_bytes(encode_lines(lines))
    got, warnings, notes = read_all(path)
    assert [e.type for e in got] == [EventType.ERROR, EventType.WARNING]
    assert [e.time_generated for e in got] == [datetime(2002, 2, 3, 17, 2), datetime(2002, 2, 4, 17, 3)]
    assert warnings == [] and notes[0].message.startswith("read as Dutch Event Viewer text")
