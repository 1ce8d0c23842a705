""".reg import conformance cases: small files and what regedit puts into the registry from them.

Data for tests/test_reg_conformance.py.  Each group exercises one rule and names where the
behaviour is documented.  Most facts come from the Wine project's regedit conformance tests
(programs/regedit/tests/regedit.c, wine-mirror/wine): those tests are run against Windows'
regedit, so their assertions (outside ``todo_wine``) record Windows' import result; only the facts
are used here, the inputs are written for this project.  Microsoft KB 310516 documents the file
syntax, the two headers and the ``[-key]`` / ``"name"=-`` deletions; "Registry element size
limits" (Microsoft Learn) the name lengths.

Writing conventions (the runner expands them):

* ``[K`` stands for ``[HKEY_CURRENT_USER\\Software\\Test`` (also inside ``[-K``); every case
  looks at that key and below, and checks *all* keys and values there (no more, no less).
* ``⇥`` is a tab, ``·`` a space (so trailing blanks stay visible).
* ``w`` lists the body lines (1 = first line after the header and its blank line) reported as
  skipped or rejected; the reader must warn about exactly those lines.
* Each case runs as REGEDIT4 in an ANSI file and as 5.00 in a UTF-16LE file (with BOM) and in
  an ANSI file, unless ``versions`` says otherwise; hex(2)/hex(7) bytes depend on the header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WINE = "Wine regedit conformance tests (programs/regedit/tests/regedit.c), run against Windows regedit"
KB310516 = "Microsoft KB 310516, 'How to add, modify, or delete registry subkeys and values by using a .reg file'"
LIMITS = "Microsoft Learn, 'Registry element size limits'"
OURS = "this project (Windows' behaviour is not documented; the reader's choice, listed in the issue note)"


@dataclass(frozen=True)
class Expect:
    """One expected value: its type and either exact bytes or the decoded data."""

    type: str
    raw: bytes | None = None  # exact bytes (hex-written data)
    data: Any = None  # decoded data (strings, dwords, multi-strings)


def S(text: str) -> Expect:
    return Expect("REG_SZ", data=text)


def D(number: int) -> Expect:
    return Expect("REG_DWORD", raw=number.to_bytes(4, "little"), data=number)


def H(vtype: str, hexbytes: str, data: Any = None) -> Expect:
    return Expect(vtype, raw=bytes.fromhex(hexbytes.replace(",", " ")), data=data)


@dataclass(frozen=True)
class Case:
    name: str
    body: str
    values: dict[str | tuple[str, str], Expect] = field(default_factory=dict)  # name or (subkey path, name)
    keys: tuple[str, ...] = ("",)  # keys that exist below and including K ("" = K itself)
    w: tuple[int, ...] = ()
    versions: tuple[int, ...] = (4, 5)
    header: str | None = None  # replaces the standard header line
    error: str | None = None  # the read must fail with an error containing this
    eol: str = "\n"
    base: str = r"HKEY_CURRENT_USER\Software\Test"
    blank_after_header: bool = True


@dataclass(frozen=True)
class Group:
    rule: str
    source: str
    cases: list[Case]


def c(name: str, body: str, values: dict[str | tuple[str, str], Expect] | None = None, **kw: Any) -> Case:
    text = body[1:] if body.startswith("\n") else body
    return Case(name, text, values or {}, **kw)


GROUPS: list[Group] = [
    Group(
        "line ends, blank lines, end of file",
        f"{WINE}: test_basic_import (LF, CRLF and CR-only files; blank lines between values; no final line end)",
        [
            c("lf", '\n[K]\n"a"="A"\n', {"a": S("A")}),
            c("crlf", '\n[K]\n"a"="A"\n', {"a": S("A")}, eol="\r\n"),
            c("cr-only", '\n[K]\n"a"="A"\n', {"a": S("A")}, eol="\r"),
            c(
                "blank lines between values",
                '\n[K]\n"l1"="v1"\n\n"l2"="v2"\n\n\n"l3"="v3"\n\n\n\n"l4"="v4"\n\n',
                {"l1": S("v1"), "l2": S("v2"), "l3": S("v3"), "l4": S("v4")},
            ),
            c("no final line end", '\n[K]\n"a"="No newline"', {"a": S("No newline")}),
            c(
                "dword, blank, string without line end",
                '\n[K]\n"d"=dword:00000050\n\n"s"="No newline"',
                {"d": D(0x50), "s": S("No newline")},
            ),
            c("key without values", "\n[K]\n\n"),
            c("empty string", '\n[K]\n"e"=""\n', {"e": S("")}),
        ],
    ),
    Group(
        "headers",
        f"{KB310516} (the two headers); {WINE}: test_invalid_import (non-standard headers), "
        "test_import_with_whitespace (blanks before the header)",
        [
            c("leading spaces before REGEDIT4", '\n[K]\n"a"="v"\n', {"a": S("v")}, header="  REGEDIT4", versions=(4,)),
            c("leading tab before REGEDIT4", '\n[K]\n"a"="v"\n', {"a": S("v")}, header="\tREGEDIT4", versions=(4,)),
            c(
                "leading blanks before 5.00",
                '\n[K]\n"a"="v"\n',
                {"a": S("v")},
                header=" \t Windows Registry Editor Version 5.00",
                versions=(5,),
            ),
            *(
                c(f"refused header {h!r}", '\n[K]\n"a"="v"\n', header=h, error="regedit imports nothing", keys=())
                for h in (
                    "REGEDIT3",
                    "regedit4",
                    "Regedit4",
                    "REGEDIT 4",
                    "REGEDIT4FOO",
                    "REGEDIT4 FOO",
                    "REGEDIT5",
                    "Windows Registry Editor Version 4.00",
                    "Windows Registry Editor Version 5",
                    "WINDOWS REGISTRY EDITOR VERSION 5.00",
                    "Windows Registry Editor version 5.00",
                )
            ),
        ],
    ),
    Group(
        "key lines",
        f'{WINE}: test_key_creation_and_deletion, test_basic_import (Subkey"1, Subkey/2, https://winehq.org), '
        "test_invalid_import (key name concatenation), test_import_with_whitespace (blanks before '[')",
        [
            c("blanks before '['", '\n··[K]\n⇥"a"="v"\n', {"a": S("v")}),
            c("no opening bracket", "\n[K]\nHKEY_CURRENT_USER\\Software\\Test\\NoOpen]\n", w=(2,)),
            c("no closing bracket", '\n[K]\n[K\\NoClose\n"a"="v"\n', w=(2, 3)),
            c("space after '['", '\n[K]\n[ HKEY_CURRENT_USER\\Software\\Test\\S1]\n"a"="v"\n', w=(2, 3)),
            c("tab after '['", '\n[K]\n[⇥HKEY_CURRENT_USER\\Software\\Test\\S1]\n"a"="v"\n', w=(2, 3)),
            c("trailing space kept", '\n[K\\Sub·]\n"a"="v"\n', {("Sub ", "a"): S("v")}, keys=("", "Sub ")),
            c("trailing tab kept", '\n[K\\Sub⇥]\n"a"="v"\n', {("Sub\t", "a"): S("v")}, keys=("", "Sub\t")),
            c("trailing backslash", '\n[K\\Sub\\]\n"a"="v"\n', {("Sub", "a"): S("v")}, keys=("", "Sub")),
            c("two trailing backslashes", '\n[K\\Sub\\\\]\n"a"="v"\n', {("Sub", "a"): S("v")}, keys=("", "Sub")),
            c("slash is part of the name", "\n[K\\https://example.org]\n", keys=("", "https://example.org")),
            c(
                "slashes in a deep name",
                '\n[K\\a/b\\c/d]\n"x"="y"\n',
                {("a/b\\c/d", "x"): S("y")},
                keys=("", "a/b", "a/b\\c/d"),
            ),
            c("quote in a key name", '\n[K\\Sub"1]\n"n\\\\31"="v"\n', {('Sub"1', "n\\31"): S("v")}, keys=("", 'Sub"1')),
            c(
                "root in any case",
                "\n[hkey_CURRENT_user\\Software\\Test\\Sub3a]\n[HkEy_CuRrEnT_uSeR\\Software\\Test\\SuB3b]\n",
                keys=("", "Sub3a", "SuB3b"),
            ),
            c("unknown root", '\n[K]\n[HKEY_CURRENT_USERS\\Software\\Test\\Sub]\n"a"=dword:12345678\n', w=(2, 3)),
            c(
                "backslash at the end of a key line joins nothing",
                "\n[K]\n[HKEY_CURRENT_USER\\Software\\Test\\\nSub1]\n",
                w=(2, 3),
            ),
            c("key line split before a backslash", "\n[K]\n[HKEY_CURRENT_USER\\Software\\Test\n\\Sub2]\n", w=(2, 3)),
            c("empty key name", '\n[K]\n[]\n"a"="v"\n', w=(2, 3)),
        ],
    ),
    Group(
        "key deletion",
        f"{KB310516} ('[-key]'); {WINE}: test_key_creation_and_deletion",
        [
            c("delete a key the file created", '\n[K\\Sub]\n"a"="v"\n\n[-K\\Sub]\n'),
            c(
                "delete in another case",
                "\n[K\\Sub3a]\n[K\\SuBkEy3b]\n[-HKEY_current_USER\\Software\\Test\\sUB3A]\n[-hKeY_cUrReNt_UsEr\\Software\\Test\\sUbKeY3B]\n",
            ),
            c("values after a deletion are ignored", '\n[K]\n[-K\\Sub4a]\n"a"=dword:12345678\n', w=(3,)),
            c(
                "space before '-'",
                "\n[K\\Sub2a]\n[ -HKEY_CURRENT_USER\\Software\\Test\\Sub2a]\n",
                keys=("", "Sub2a"),
                w=(2,),
            ),
            c(
                "tab before '-'",
                "\n[K\\Sub2b]\n[⇥-HKEY_CURRENT_USER\\Software\\Test\\Sub2b]\n",
                keys=("", "Sub2b"),
                w=(2,),
            ),
            c(
                "space after '-'",
                "\n[K\\Sub2a]\n[- HKEY_CURRENT_USER\\Software\\Test\\Sub2a]\n",
                keys=("", "Sub2a"),
                w=(2,),
            ),
            c(
                "tab after '-'",
                "\n[K\\Sub2b]\n[-⇥HKEY_CURRENT_USER\\Software\\Test\\Sub2b]\n",
                keys=("", "Sub2b"),
                w=(2,),
            ),
            c(
                "delete then create again",
                '\n[K\\A]\n"x"="1"\n[-K\\A]\n[K\\A]\n"y"="2"\n',
                {("A", "y"): S("2")},
                keys=("", "A"),
            ),
            c("deleting a parent deletes the subtree", '\n[K\\A\\B\\C]\n"x"="1"\n[-K\\A]\n'),
        ],
    ),
    Group(
        "value names and '='",
        f"{WINE}: test_basic_import (With=Equals, quotes, escaped backslash, count/up, default value), "
        "test_invalid_import (names without quotes), test_import_with_whitespace (Wine3-Wine6, '@')",
        [
            c("equals sign in a name", '\n[K]\n"With=Equals"="asdf"\n', {"With=Equals": S("asdf")}),
            c("escaped quotes", '\n[K]\n"dq\\"x"="valid \\"or\\" not"\n', {'dq"x': S('valid "or" not')}),
            c("single quote in a name", '\n[K]\n"single\'quote"=dword:00000008\n', {"single'quote": D(8)}),
            c("escaped backslash in a name", '\n[K]\n"Name\\\\31"="v"\n', {"Name\\31": S("v")}),
            c(
                "slashes in names and data",
                '\n[K]\n"count/up"="one/two/three"\n"\\\\foo\\\\bar"=""\n',
                {"count/up": S("one/two/three"), "\\foo\\bar": S("")},
            ),
            c("odd characters in a name", '\n[K]\n"123/\\"4;\'5"="v"\n', {"123/\"4;'5": S("v")}),
            c(
                "empty name is the default value",
                '\n[K]\n""="Default registry value"\n',
                {"": S("Default registry value")},
            ),
            c("@ is the default value", '\n[K]\n@="Test"\n', {"": S("Test")}),
            c("blanks around '@' and '='", '\n[K]\n@··=··"Test Value"\n', {"": S("Test Value")}),
            c("tabs around a default dword", "\n[K]\n⇥@⇥=⇥dword:⇥00000008⇥\n", {"": D(8)}),
            c(
                "leading blanks before a name",
                '\n[K]\n··"w3a"="Two"\n⇥"w3b"="Tab"\n·⇥·"w3c"="Mixed"\n',
                {"w3a": S("Two"), "w3b": S("Tab"), "w3c": S("Mixed")},
            ),
            c(
                "blanks around '='",
                '\n[K]\n⇥⇥"w5b"⇥⇥="Tabs"\n⇥··"w5c"=⇥··"Both"\n····"w5d"····⇥····=····⇥····"More"\n',
                {"w5b": S("Tabs"), "w5c": S("Both"), "w5d": S("More")},
            ),
            c(
                "blanks inside quotes are kept",
                '\n[K]\n"··w6a"="x"\n"⇥⇥w6b"="y"\n··"··w6c··"··=··"··data··"··\n',
                {"  w6a": S("x"), "\t\tw6b": S("y"), "  w6c  ": S("  data  ")},
            ),
            c("name without end quote", '\n[K]\n"NameNoEndQuote="Asdf"\n', w=(2,)),
            c("name without begin quote", '\n[K]\nNameNoBeginQuote"="Asdf"\n', w=(2,)),
            c("name without quotes", '\n[K]\nNameNoQuotes="Asdf"\n', w=(2,)),
            c("name and data in one pair of quotes", '\n[K]\n"MixedQuotes=Asdf"\n', w=(2,)),
            c(
                "backslash at the end of a name joins nothing",
                '\n[K]\n"Test\\\n17a"="Value 1"\n"Test17b"="Value 2"\n"Test\n\\17c"="Value 3"\n',
                {"Test17b": S("Value 2")},
                w=(2, 3, 5, 6),
            ),
        ],
    ),
    Group(
        "string data",
        f"{WINE}: test_invalid_import (Test15, Test16, Test18b, Wine33 embedded '\\0'), "
        "test_basic_import (Wine23 escaped backslash-zero), test_comments (Wine15-Wine20), "
        "test_import_with_whitespace (Wine7, Wine8)",
        [
            c("quote inside the data", '\n[K]\n"t15a"="foo"bar"\n', w=(2,)),
            c("two strings", '\n[K]\n"t15b"="foo""bar"\n', w=(2,)),
            c("no data", '\n[K]\n"t16a"=\n', w=(2,)),
            c(
                "escaped quote instead of a string",
                '\n[K]\n"t16b"=\\"\n"t16c"=\\"Value\\"\n"t16d"=\\"Value"\n',
                w=(2, 3, 4),
            ),
            c("no begin quote", '\n[K]\n"tb"=Asdffdsa"\n', w=(2,)),
            c("no quotes", '\n[K]\n"tq"=Asdffdsa\n', w=(2,)),
            c("no end quote", '\n[K]\n"te"="Asdffdsa\n', w=(2,)),
            c("string over two lines", '\n[K]\n"t18b"="Test \\\nValue"\n', w=(2, 3)),
            c("backslash after the closing quote joins nothing", '\n[K]\n"a"="x"\\\n"b"="y"\n', {"b": S("y")}, w=(2,)),
            *(
                c(f"escape {esc!r} is refused", f'\n[K]\n"n"="{esc}"\n', w=(2,))
                for esc in ("\\0", "\\0\\0", "Value1\\0", "Value2\\0\\0\\0\\0", "Value3\\0Value4", "\\0Value5")
            ),
            c(
                "escaped backslash before 0 is plain text",
                '\n[K]\n"a"="\\\\0"\n"b"="\\\\0\\\\0"\n"c"="Value1\\\\0"\n"e"="Value3\\\\0Value4"\n"f"="\\\\0Value5"\n',
                {"a": S("\\0"), "b": S("\\0\\0"), "c": S("Value1\\0"), "e": S("Value3\\0Value4"), "f": S("\\0Value5")},
            ),
            c(
                "comment characters inside quotes are data",
                '\n[K]\n"w15"="#comment1"\n"w16"=";comment2"\n"w17"="Value#c3"\n"w18"="Value;c4"\n"w19"="Value #c5"\n"w20"="Value ;c6"\n',
                {
                    "w15": S("#comment1"),
                    "w16": S(";comment2"),
                    "w17": S("Value#c3"),
                    "w18": S("Value;c4"),
                    "w19": S("Value #c5"),
                    "w20": S("Value ;c6"),
                },
            ),
            c(
                "blanks in the data",
                '\n[K]\n"w7a"="····Four"\n"w7b"="⇥⇥Two tabs"\n',
                {"w7a": S("    Four"), "w7b": S("\t\tTwo tabs")},
            ),
            c(
                "blanks after the closing quote",
                '\n[K]\n"w8a"="Trailing"····\n"w8b"="Mixed"⇥··⇥\n',
                {"w8a": S("Trailing"), "w8b": S("Mixed")},
            ),
            c(
                "letters outside ASCII",
                '\n[K]\n"Caf\u00e9"="cr\u00e8me br\u00fbl\u00e9e"\n',
                {"Caf\u00e9": S("cr\u00e8me br\u00fbl\u00e9e")},
            ),
        ],
    ),
    Group(
        "dword data",
        f"{WINE}: test_basic_import (Wine1, Wine4, Wine6, Wine8), test_invalid_import (Test12-Test14, Test18a), "
        "test_import_with_whitespace (Wine9)",
        [
            c("eight digits", '\n[K]\n"a"=dword:00000782\n"b"=dword:12345678\n', {"a": D(0x782), "b": D(0x12345678)}),
            c("fewer digits", '\n[K]\n"a"=dword:1\n"b"=dword:4444\n', {"a": D(1), "b": D(0x4444)}),
            c("all bits set", '\n[K]\n"a"=dword:ffffffff\n', {"a": D(0xFFFFFFFF)}),
            *(
                c(f"refused dword {d!r}", f'\n[K]\n"t"=dword:{d}\n"ok"="after"\n', {"ok": S("after")}, w=(2,))
                for d in (
                    "",
                    "hello",
                    "123456789",
                    "012345678",
                    "000000001",
                    "0ffffffff",
                    "12345678abc",
                    "12345678 abc",
                    "0x123",
                    "123 456",
                    "1234 5678",
                )
            ),
            c("backslash after a dword joins nothing", '\n[K]\n"t18a"=dword:1234\\\n5678\n', w=(2, 3)),
            c(
                "blanks before the digits",
                '\n[K]\n"w9a"=dword:··00000008\n"w9b"=dword:⇥⇥00000008\n',
                {"w9a": D(8), "w9b": D(8)},
            ),
        ],
    ),
    Group(
        "hex data and types",
        f"{WINE}: test_basic_import (TestBinary, Wine9a, Wine13 type range, Wine15, Wine20-Wine22), "
        "test_invalid_import (Wine22 items over 0xff, Wine23 backslashes, Wine30, Wine32), "
        "test_export (improperly sized dwords stay as written)",
        [
            c("binary", '\n[K]\n"b"=hex:aa,bb,cc,11\n', {"b": H("REG_BINARY", "aa bb cc 11")}),
            c(
                "type numbers",
                '\n[K]\n"a"=hex(0):56,61,6c,75,65,00\n"b"=hex(10):56,61\n"c"=hex(100):56\n"d"=hex(1000):56\n'
                '"e"=hex(7fff):56\n"f"=hex(ffff):56\n"g"=hex(7fffffff):56\n"h"=hex(ffffffff):56\n',
                {
                    "a": H("REG_NONE", "56 61 6c 75 65 00"),
                    "b": H("REG_0x10", "56 61"),
                    "c": H("REG_0x100", "56"),
                    "d": H("REG_0x1000", "56"),
                    "e": H("REG_0x7FFF", "56"),
                    "f": H("REG_0xFFFF", "56"),
                    "g": H("REG_0x7FFFFFFF", "56"),
                    "h": H("REG_0xFFFFFFFF", "56"),
                },
            ),
            *(
                c(f"refused type {t!r}", f'\n[K]\n"t"={t}:56,61\n', w=(2,))
                for t in ("hex(100000000)", "hex(0x2)", "hex(0X2)", "hex(x2)", "qword", "hex()")
            ),
            c(
                "no data",
                '\n[K]\n"a"=hex(1):\n"b"=hex(2):\n"c"=hex(3):\n"e"=hex(7):\n"f"=hex(100):\n"g"=hex(abcd):\n"h"=hex:\n"i"=hex(0):\n',
                {
                    "a": H("REG_SZ", ""),
                    "b": H("REG_EXPAND_SZ", ""),
                    "c": H("REG_BINARY", ""),
                    "e": H("REG_MULTI_SZ", "", []),
                    "f": H("REG_0x100", ""),
                    "g": H("REG_0xABCD", ""),
                    "h": H("REG_BINARY", ""),
                    "i": H("REG_NONE", ""),
                },
            ),
            c(
                "dword of the wrong size is kept",
                '\n[K]\n"d"=hex(4):80,70,60,50,40,30,20,10\n',
                {"d": H("REG_DWORD", "80 70 60 50 40 30 20 10")},
                w=(2,),
            ),
            c("dword written as hex", '\n[K]\n"d"=hex(4):40,30,20,10\n', {"d": D(0x10203040)}),
            c(
                "trailing comma",
                '\n[K]\n"b"=hex:25,50,41,54,48,25,00,\n',
                {"b": H("REG_BINARY", "25 50 41 54 48 25 00")},
            ),
            c("item over 0xff", '\n[K]\n"a"=hex(0):25,50,100,54\n"b"=hex(0):25,1a4,100,164\n', w=(2, 3)),
            c("empty item", '\n[K]\n"a"=hex:63,,6f\n', w=(2,)),
            c("leading comma", '\n[K]\n"a"=hex:,63\n', w=(2,)),
            *(
                c(f"backslash inside data {d!r}", f'\n[K]\n"t"=hex(2):{d}\n', w=(2,))
                for d in (
                    "25,48\\,4f,4d",
                    "25,48,\\4f,4d",
                    "25,48\\·,4f,4d",
                    "25,48,\\·4f,4d",
                    "\\25,48,4f",
                    "\\·25,48,4f",
                    "25,48,4\\f,4d",
                    "25,50,\\,41,54",
                )
            ),
            c(
                "slash at the end of hex data",
                '\n[K]\n"a"=hex(0):25,48,5c,/\n··25,50\n"b"=hex(0):25,48,5c/\n··25,50\n',
                w=(2, 3, 4, 5),
            ),
            c(
                "REGEDIT4 hex(7)/hex(2) get a final NUL",
                '\n[K]\n"m1"=hex(7):4c,69,6e,65\n"m2"=hex(7):4c,69,6e,65,\n"m3"=hex(7):4c,69,6e,65,00\n"m4"=hex(7):4c,69,6e,65,00,00\n'
                '"x1"=hex(2):25,50,41,54,48,25\n"x2"=hex(2):25,50,41,54,48,25,00,\n',
                {
                    "m1": H("REG_MULTI_SZ", "4c 69 6e 65 00", ["Line"]),
                    "m2": H("REG_MULTI_SZ", "4c 69 6e 65 00", ["Line"]),
                    "m3": H("REG_MULTI_SZ", "4c 69 6e 65 00", ["Line"]),
                    "m4": H("REG_MULTI_SZ", "4c 69 6e 65 00 00", ["Line"]),
                    "x1": H("REG_EXPAND_SZ", "25 50 41 54 48 25 00", "%PATH%"),
                    "x2": H("REG_EXPAND_SZ", "25 50 41 54 48 25 00", "%PATH%"),
                },
                versions=(4,),
            ),
            c(
                "5.00 hex(7)/hex(2) get a final UTF-16 NUL",
                '\n[K]\n"m1"=hex(7):4c,00,69,00,6e,00,65,00\n"m3"=hex(7):4c,00,69,00,6e,00,65,00,00,00\n'
                '"m4"=hex(7):4c,00,69,00,6e,00,65,00,00,00,00,00,\n"x1"=hex(2):25,00,50,00,25,00\n',
                {
                    "m1": H("REG_MULTI_SZ", "4c00 6900 6e00 6500 0000", ["Line"]),
                    "m3": H("REG_MULTI_SZ", "4c00 6900 6e00 6500 0000", ["Line"]),
                    "m4": H("REG_MULTI_SZ", "4c00 6900 6e00 6500 0000 0000", ["Line"]),
                    "x1": H("REG_EXPAND_SZ", "2500 5000 2500 0000", "%P%"),
                },
                versions=(5,),
            ),
        ],
    ),
    Group(
        "continuation of hex data",
        f"{WINE}: test_basic_import (Wine3, Wine9c-Wine9g, Wine10-Wine12, Wine14, Wine16-Wine19), "
        "test_invalid_import (Multi-Line1-4, Test19-Test21, Wine24-Wine29, Wine31, Wine32), "
        "test_comments (Wine7, Wine9, Multi-Line1-6, Wine28, Wine29), test_import_with_whitespace (Wine4c, Wine10)",
        [
            c(
                "two lines",
                '\n[K]\n"a"=hex:11,22,33,44,\\\n··55,66,77,88\n',
                {"a": H("REG_BINARY", "11 22 33 44 55 66 77 88")},
            ),
            c(
                "three lines",
                '\n[K]\n"a"=hex(0):56,00,61,00,\\\n··6c,00,\\\n··75,00\n',
                {"a": H("REG_NONE", "56 00 61 00 6c 00 75 00")},
            ),
            c(
                "comment after the backslash",
                '\n[K]\n"a"=hex:11,22,\\;comment\n··33,\\;c\n··44\n',
                {"a": H("REG_BINARY", "11 22 33 44")},
            ),
            c(
                "';#' comment after the backslash",
                '\n[K]\n"a"=hex:11,\\;#comment\n··22\n',
                {"a": H("REG_BINARY", "11 22")},
            ),
            c("'#' after the backslash", '\n[K]\n"a"=hex:11,\\#comment\n··22\n', w=(2, 3)),
            c(
                "a line without backslash ends the value",
                '\n[K]\n"a"=hex:11,22,33,44,\\;comment\n··55,66,\n··77,88\n',
                {"a": H("REG_BINARY", "11 22 33 44 55 66")},
                w=(4,),
            ),
            c(
                "a comment after data ends the value",
                '\n[K]\n"a"=hex:11,22,33,44,\\;comment\n··55,66,;comment\n··77,88\n',
                {"a": H("REG_BINARY", "11 22 33 44 55 66")},
                w=(4,),
            ),
            c(
                "blanks before the backslash",
                '\n[K]\n"a"=hex:4c,69,··\\\n··6e\n"b"=hex:4c,69,⇥\\\n··6e\n',
                {"a": H("REG_BINARY", "4c 69 6e"), "b": H("REG_BINARY", "4c 69 6e")},
            ),
            c(
                "backslash right after the type",
                '\n[K]\n"a"=hex(2):\\\n··25,48,4f,4d,45,25,00\n',
                {"a": H("REG_EXPAND_SZ", "25 48 4f 4d 45 25 00")},
                versions=(4,),
            ),
            c(
                "file ends after the backslash",
                '\n[K]\n"a"=hex(0):56,61,6c,75,65,\\',
                {"a": H("REG_NONE", "56 61 6c 75 65")},
            ),
            c(
                "file ends after the backslash, binary",
                '\n[K]\n"a"=hex:11,22,33,44,55,\\',
                {"a": H("REG_BINARY", "11 22 33 44 55")},
            ),
            c("file ends after a backslash without comma", '\n[K]\n"a"=hex(7):4c,69,6e,65,20\\', w=(2,)),
            c(
                "blank lines inside the value are skipped",
                '\n[K]\n"a"=hex:01,\\\n··02,\\\n\n··03,\\\n\n\n··04,\\\n\n\n\n··05\n',
                {"a": H("REG_BINARY", "01 02 03 04 05")},
            ),
            c(
                "blank-only lines inside the value are skipped",
                '\n[K]\n"a"=hex:01,\\\n··02,\\\n·\n··03,\\\n⇥\n⇥\n··04,\\\n⇥·⇥\n··05\n',
                {"a": H("REG_BINARY", "01 02 03 04 05")},
            ),
            c(
                "comment lines inside the value are skipped",
                '\n[K]\n"a"=hex:01,02,\\\n;comment\n··03,\\;c\n··04\n"b"=hex:01,02,\\\n··;comment\n··03\n',
                {"a": H("REG_BINARY", "01 02 03 04"), "b": H("REG_BINARY", "01 02 03")},
            ),
            c(
                "mixed blank lines and comments",
                '\n[K]\n"a"=hex:4c,69,\\\n··6e,\\;comment\n··65,20,\\\n\n··63,\\;comment\n\n··6f\n',
                {"a": H("REG_BINARY", "4c 69 6e 65 20 63 6f")},
            ),
            c(
                "'#' line inside the value rejects it",
                '\n[K]\n"a"=hex:01,02,\\\n#comment\n··03\n"b"="A valid line"\n',
                {"b": S("A valid line")},
                w=(3, 4),
            ),
            c(
                "indented '#' line inside the value",
                '\n[K]\n"a"=hex:01,02,\\\n··#comment\n··03\n"b"="valid"\n',
                {"b": S("valid")},
                w=(3, 4),
            ),
            c(
                "indented data lines with tabs",
                '\n⇥⇥[K]\n⇥··⇥··"a"=hex:4c,69,\\\n········6e,\\;c\n⇥⇥⇥⇥65,\\;c\n··⇥20\n',
                {"a": H("REG_BINARY", "4c 69 6e 65 20")},
            ),
            c("a value line after a continuation", '\n[K]\n"a"=hex(2):4c,69,6e,\\\n"b"="Test value"\n', w=(3,)),
            c(
                "a value after a comment inside a continuation",
                '\n[K]\n"a"=hex(2):4c,69,\\\n;comment\n"b"="Test value"\n',
                w=(4,),
            ),
            c(
                "a value after a '#' line inside a continuation",
                '\n[K]\n"a"=hex(2):4c,69,\\\n#comment\n"b"="Test value"\n',
                {"b": S("Test value")},
                w=(3,),
            ),
            c(
                "a value after a blank line inside a continuation",
                '\n[K]\n"a"=hex(2):4c,69,\\\n\n"b"="Test value"\n',
                w=(4,),
            ),
            c(
                "no comma before the backslash: no joining",
                '\n[K]\n"a"=hex(2):4c,69,6e,65\\\n"b"="Test value"\n',
                {"b": S("Test value")},
                w=(2,),
            ),
            c("a dword after a continuation", '\n[K]\n"a"=hex(2):4c,\\\n"b"=dword:00000008\n', w=(3,)),
            c(
                "a dword after a '#' line",
                '\n[K]\n"a"=hex(2):4c,\\\n#comment\n"b"=dword:00000008\n',
                {"b": D(8)},
                w=(3,),
            ),
            c("a dword after no-comma backslash", '\n[K]\n"a"=hex(2):4c\\\n"b"=dword:00000008\n', {"b": D(8)}, w=(2,)),
            c("a hex value after a continuation", '\n[K]\n"a"=hex:25,5c,\\\n"b"=hex:25,00\n', w=(3,)),
            c(
                "a hex value after a '#' line",
                '\n[K]\n"a"=hex:25,5c,\\\n#comment\n"b"=hex:25,00\n',
                {"b": H("REG_BINARY", "25 00")},
                w=(3,),
            ),
            c("the default value after a continuation", '\n[K]\n"a"=hex:4c,\\\n@="Default value 1"\n', w=(3,)),
            c("the default value after a comment", '\n[K]\n"a"=hex:4c,\\\n;comment\n@="Default value 2"\n', w=(4,)),
            c(
                "the default value after a '#' line",
                '\n[K]\n"a"=hex:4c,\\\n#comment\n@="Default value 3"\n',
                {"": S("Default value 3")},
                w=(3,),
            ),
            c("the default value after a blank line", '\n[K]\n"a"=hex:4c,\\\n\n@="Default value 4"\n', w=(4,)),
            c(
                "the default value after no-comma backslash",
                '\n[K]\n"a"=hex:4c\\\n@="Default value 5"\n',
                {"": S("Default value 5")},
                w=(2,),
            ),
            c("a key line after a continuation", '\n[K]\n"a"=hex:4c,\\\n[K\\Subkey1]\n', w=(3,)),
            c(
                "a key line after no-comma backslash",
                '\n[K]\n"a"=hex:4c\\\n[K\\Subkey2]\n',
                keys=("", "Subkey2"),
                w=(2,),
            ),
            c("a lone backslash line", '\n[K]\n"a"=hex:11,22,33,\\\n\\\n··44,55,66\n', w=(3, 4)),
            c("an indented lone backslash line", '\n[K]\n"a"=hex:11,22,33,\\\n··\\\n··44,55,66\n', w=(3, 4)),
            c("a continuation line starting with a comma", '\n[K]\n"a"=hex:11,22,\\\n··,33,44\n', w=(3,)),
            c(
                "no comma, comma on the next line",
                '\n[K]\n"a"=hex:11,22\\\n,33,44\n"b"=hex:11,22\\\n··,33\n',
                w=(2, 3, 4, 5),
            ),
            c("no comma, next line without", '\n[K]\n"a"=hex:11,22\\\n··33,44\n', w=(2, 3)),
            c("a byte split over two lines", '\n[K]\n"a"=hex:11,2\\\n2,33\n"b"=hex:11,2\\\n··2,33\n', w=(2, 3, 4, 5)),
            c("hex(2) byte split over two lines", '\n[K]\n"a"=hex(2):25,50,4\\\n1,54\n', w=(2, 3)),
            c(
                "blanks and comments around the backslash",
                '\n[K]\n"a"=hex(0):25,48,5c,\\\n··25,50\n"b"=hex(0):25,48,5c\\\n··25,50\n"c"=hex(0):25,48,5c,··\\··;comment\n··25,50\n'
                '"d"=hex(0):25,48,5c··\\··;comment\n··25,50\n"e"=hex(0):25,48,5c,\\⇥··;comment\n··25,50\n"f"=hex(0):25,48,5c\\⇥··;comment\n··25,50\n',
                {
                    "a": H("REG_NONE", "25 48 5c 25 50"),
                    "c": H("REG_NONE", "25 48 5c 25 50"),
                    "e": H("REG_NONE", "25 48 5c 25 50"),
                },
                w=(4, 5, 8, 9, 12, 13),
            ),
            c("double backslash", '\n[K]\n"a"=hex(2):25,5c,\\\\\n··25,50\n', w=(2, 3)),
            c("comma and backslash only", '\n[K]\n"a"=hex(2):,\\\n··25,48\n', w=(2, 3)),
            c(
                "regedit's own wrapping, 5.00 multi-string",
                '\n[K]\n"m"=hex(7):4c,00,69,00,6e,00,65,00,31,00,00,00,4c,00,69,00,6e,\\\n··00,65,00,32,00,00,00,00,00\n',
                {
                    "m": H(
                        "REG_MULTI_SZ",
                        "4c00 6900 6e00 6500 3100 0000 4c00 6900 6e00 6500 3200 0000 0000",
                        ["Line1", "Line2"],
                    )
                },
                versions=(5,),
            ),
        ],
    ),
    Group(
        "comments",
        f"{WINE}: test_comments (Wine1-Wine6, Wine11-Wine14, Wine21-Wine27), test_basic_import ('#' and ';' lines)",
        [
            c(
                "comment lines ending in a backslash join nothing",
                '\n[K]\n#comment\\\n"a"="Line 1"\n;comment\\\n"b"="Line 2"\n',
                {"a": S("Line 1"), "b": S("Line 2")},
            ),
            c(
                "'#' and ';' lines between values",
                '\n[K]\n"a"=dword:1\n#comment\n@="Test"\n;comment\n\n"b"=dword:2\n',
                {"a": D(1), "": S("Test"), "b": D(2)},
            ),
            c("commented-out values", '\n[K]\n#"c1"="v"\n;"c2"="v"\n····#"c3"="v"\n····;"c4"="v"\n'),
            c("';' after a string", '\n[K]\n"a"="Value 2";comment\n', {"a": S("Value 2")}),
            c("'#' after a string", '\n[K]\n"a"="Value 1"#comment\n', w=(2,)),
            c(
                "';' after blanks after a string",
                '\n[K]\n"a"="V1"··;comment\n"b"="V2"⇥⇥;comment\n',
                {"a": S("V1"), "b": S("V2")},
            ),
            c("'#' after blanks after a string", '\n[K]\n"a"="V3"··#comment\n"b"="V4"⇥⇥#comment\n', w=(2, 3)),
            c("a value in a '#' comment after a string", '\n[K]\n"a"="V6"#"c5"="V5"\n', w=(2,)),
            c("a value in a ';' comment after a string", '\n[K]\n"a"="V7";"c6"="V6"\n', {"a": S("V7")}),
            c(
                "comment instead of data",
                '\n[K]\n"a"=#"Value 8"\n"b"=;"Value 9"\n"c"=#dword:00000001\n"d"=;dword:00000002\n',
                w=(2, 3, 4, 5),
            ),
            c(
                "';' after a dword",
                '\n[K]\n"a"=dword:02040608·;comment\n"b"=dword:00000004;comment\n"c"=dword:1234;5678\n',
                {"a": D(0x2040608), "b": D(4), "c": D(0x1234)},
            ),
            c(
                "'#' after a dword",
                '\n[K]\n"a"=dword:01020304·#comment\n"b"=dword:00000003#comment\n"c"=dword:1234#5678\n"d"=dword:1234·#5678\n',
                w=(2, 3, 4, 5),
            ),
            c(
                "';' after hex data",
                '\n[K]\n"a"=hex(2):25,50,41,54,48,25,00··;comment\n"b"=hex(2):25,50,41,54,48,25,00⇥;comment\n',
                {"a": H("REG_EXPAND_SZ", "25 50 41 54 48 25 00"), "b": H("REG_EXPAND_SZ", "25 50 41 54 48 25 00")},
                versions=(4,),
            ),
            c("'#' after hex data", '\n[K]\n"a"=hex(2):25,50,00··#comment\n"b"=hex(2):25,50,00⇥#comment\n', w=(2, 3)),
        ],
    ),
    Group(
        "value deletion",
        f"{KB310516} ('\"name\"=-'); {WINE}: test_value_deletion",
        [
            c("delete a value the file set", '\n[K]\n"a"="x"\n"a"=-\n'),
            c("blanks around '-'", '\n[K]\n"a"="x"\n"b"="y"\n"a"=··-\n"b"=··⇥-⇥··\n'),
            c("';' after '-'", '\n[K]\n"a"="x"\n"a"=-·;comment\n'),
            c("text after '-' keeps the value", '\n[K]\n"a"="x"\n"a"=-"Test"\n', {"a": S("x")}, w=(3,)),
            c("'#' after '-' keeps the value", '\n[K]\n"a"="x"\n"a"=-·#comment\n', {"a": S("x")}, w=(3,)),
            c("deleting a value the file never set", '\n[K]\n"gone"=-\n"b"="y"\n', {"b": S("y")}),
            c("delete the default value", '\n[K]\n@="x"\n@=-\n'),
        ],
    ),
    Group(
        "Windows 3.1 REGEDIT format",
        f"{WINE}: test_basic_import_31, test_invalid_import_31",
        [
            *(
                c(
                    f"value {label}",
                    f"\nHKEY_CLASSES_ROOT\\Software\\Test{line}\n",
                    {"": S(data)},
                    header="REGEDIT",
                    versions=(4,),
                    base=r"HKEY_CLASSES_ROOT\Software\Test",
                    blank_after_header=False,
                )
                for label, line, data in (
                    ("after ' = '", " = Value0", "Value0"),
                    ("after ' ='", " =Value1", "Value1"),
                    ("keeps a second blank after '='", " =··Value2", " Value2"),
                    ("keeps trailing blanks", " = Value3·", "Value3 "),
                    ("without '='", " Value4", "Value4"),
                    ("after two blanks", "··Value5", "Value5"),
                    ("empty", "", ""),
                    ("empty after blanks", "··", ""),
                )
            ),
            c(
                "no final line end",
                "\nHKEY_CLASSES_ROOT\\Software\\Test = No newline",
                {"": S("No newline")},
                header="REGEDIT",
                versions=(4,),
                base=r"HKEY_CLASSES_ROOT\Software\Test",
                blank_after_header=False,
            ),
            *(
                c(
                    f"ignored: {label}",
                    f"\nHKEY_CLASSES_ROOT\\Software\\Test = first\n{line}\n",
                    {"": S("first")},
                    header="REGEDIT",
                    versions=(4,),
                    base=r"HKEY_CLASSES_ROOT\Software\Test",
                    blank_after_header=False,
                    w=warned,
                )
                for label, line, warned in (
                    ("a blank before the root", "·HKEY_CLASSES_ROOT\\Software\\Test = Value1a", (2,)),
                    ("two blanks before the root", "··HKEY_CLASSES_ROOT\\Software\\Test = Value1b", (2,)),
                    ("a tab before the root", "⇥HKEY_CLASSES_ROOT\\Software\\Test = Value1c", (2,)),
                    ("';' comment", ";HKEY_CLASSES_ROOT\\Software\\Test = Value2a", ()),
                    ("'#' comment", "#HKEY_CLASSES_ROOT\\Software\\Test = Value2b", ()),
                    ("lower-case root", "hkey_classes_root\\Software\\Test = Value3a", (2,)),
                    ("mixed-case root", "hKEY_CLASSES_ROOT\\Software\\Test = Value3b", (2,)),
                    ("title-case root", "Hkey_Classes_Root\\Software\\Test = Value3c", (2,)),
                )
            ),
        ],
    ),
    Group(
        "size limits",
        f"{LIMITS} (key names up to 255 characters, value names up to 16,383, 512 levels)",
        [
            c("key name of 255 characters", f"\n[K\\{'k' * 255}]\n", keys=("", "k" * 255)),
            c("key name of 256 characters", f'\n[K]\n[K\\{"k" * 256}]\n"a"="v"\n', w=(2, 3)),
            c("value name of 16,383 characters", f'\n[K]\n"{"n" * 16383}"="v"\n', {"n" * 16383: S("v")}),
            c("value name of 16,384 characters", f'\n[K]\n"{"n" * 16384}"="v"\n', w=(2,)),
        ],
    ),
    Group(
        "undocumented cases: this reader's choice",
        OURS,
        [
            c("short root names are read", '\n[HKCU\\Software\\Test]\n"a"="v"\n', {"a": S("v")}),
            c("text after ']' rejects the key line", '\n[K]\n[K\\Sub]·x\n"a"="v"\n', w=(2, 3)),
            c("blanks after ']'", '\n[K\\Sub]··\n"a"="v"\n', {("Sub", "a"): S("v")}, keys=("", "Sub")),
            c("unknown escape in a value name", '\n[K]\n"a\\b"="v"\n', w=(2,)),
            c("escape \\n in a string", '\n[K]\n"a"="x\\ny"\n', w=(2,)),
            c(
                "upper-case type words",
                '\n[K]\n"a"=DWORD:00000001\n"b"=HEX:0A,fF\n',
                {"a": D(1), "b": H("REG_BINARY", "0a ff")},
            ),
            c("one-digit hex items", '\n[K]\n"a"=hex:1,2,ab\n', {"a": H("REG_BINARY", "01 02 ab")}),
            c("blanks around hex items", '\n[K]\n"a"=hex:11·,·22,⇥33\n', {"a": H("REG_BINARY", "11 22 33")}),
            c("file ends after backslash and line end", '\n[K]\n"a"=hex:11,22,\\\n', {"a": H("REG_BINARY", "11 22")}),
            c(
                "blank lines before the header",
                '\n[K]\n"a"="v"\n',
                {"a": S("v")},
                header="\nREGEDIT4",
                versions=(4,),
                w=(),
            ),
            c("blanks after the header", '\n[K]\n"a"="v"\n', {"a": S("v")}, header="REGEDIT4··", versions=(4,)),
            c("empty path parts between backslashes", '\n[K\\\\A]\n"a"="v"\n', {("A", "a"): S("v")}, keys=("", "A")),
        ],
    ),
]
