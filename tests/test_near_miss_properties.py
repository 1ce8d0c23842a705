"""Property tests of near misses (analyzer/dn.py): they are about the same object only.

Generated lists of well-formed DNs of known objects — server components (System Attendant, DSA, MTA,
private/public MDB, DXA) of several servers, connectors by their RDN form, add-ins, mailboxes in
several recipient containers, in several sites — must never hold a near miss of one another, however
close the strings.  The same object written differently (case, blanks, display name) always is one,
and never a typo.  Fixed seeds under CI=true (tests/conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.dn import CONNECTORS, DISPLAY_NAMES, SERVER_COMPONENTS, find_entry, is_well_formed, near_miss, same_object

# Small alphabets on purpose: generated names end up a letter or two apart, which is the hard case.
SERVER_NAMES = st.builds(lambda a, b: a + b, st.sampled_from("EXM"), st.text("EXCH01-", max_size=7))
WORDS = st.sampled_from(["Contoso", "Contosa", "Berlin", "Berlim", "Site 1", "Site 2", "HQ"])
ALIASES = st.builds(lambda a, b: a + b, st.sampled_from("jad"), st.text("jdoe12.-", max_size=6))
RECIPIENT_CONTAINERS = ("Recipients", "Notes Recipients", "Mailing Lists")


@dataclass(frozen=True)
class Obj:
    """One known object; ``identity`` is what makes two of them the same object (case does not)."""

    org: str
    site: str
    kind: str  # server_component | connector | addin | mailbox
    server: str  # server name, connector's "(SERVER)", add-in name; "" for a mailbox
    name: str  # component / connector RDN prefix / recipient container + alias

    @property
    def identity(self) -> tuple[str, ...]:
        return tuple(p.casefold() for p in (self.org, self.site, self.kind, self.server, self.name))

    def dn(self) -> str:
        base = f"/o={self.org}/ou={self.site}"
        if self.kind == "server_component":
            return f"{base}/cn=Configuration/cn=Servers/cn={self.server}/cn={self.name}"
        if self.kind == "connector":
            return f"{base}/cn=Configuration/cn=Connections/cn={self.name} ({self.server})"
        if self.kind == "addin":
            return f"{base}/cn=Configuration/cn=Add-Ins/cn={self.server}"
        container, alias = self.name.split("|")
        return f"{base}/cn={container}/cn={alias}"


def _title(key: str) -> str:
    return " ".join(w.upper() if w in ("dsa", "mta", "mdb", "dxa", "ms") else w.capitalize() for w in key.split())


@st.composite
def objects(draw: st.DrawFn, orgs: list[str], sites: list[str], servers: list[str]) -> Obj:
    org, site = draw(st.sampled_from(orgs)), draw(st.sampled_from(sites))
    kind = draw(st.sampled_from(["server_component", "connector", "addin", "mailbox"]))
    if kind == "server_component":
        return Obj(
            org, site, kind, draw(st.sampled_from(servers)), _title(draw(st.sampled_from(sorted(SERVER_COMPONENTS))))
        )
    if kind == "connector":
        return Obj(org, site, kind, draw(st.sampled_from(servers)), _title(draw(st.sampled_from(sorted(CONNECTORS)))))
    if kind == "addin":
        return Obj(org, site, kind, draw(st.sampled_from(servers)), "")
    container = draw(st.sampled_from(RECIPIENT_CONTAINERS))
    alias = draw(st.one_of(ALIASES, st.sampled_from(servers), st.sampled_from(sorted(SERVER_COMPONENTS))))
    return Obj(org, site, kind, "", f"{container}|{alias}")


@st.composite
def object_lists(draw: st.DrawFn) -> list[Obj]:
    """A list of distinct objects drawn from few orgs/sites/servers, so that strings are close."""
    orgs = draw(st.lists(WORDS, min_size=1, max_size=2, unique_by=str.casefold))
    sites = draw(st.lists(WORDS, min_size=1, max_size=2, unique_by=str.casefold))
    servers = draw(st.lists(SERVER_NAMES, min_size=1, max_size=3, unique_by=str.casefold))
    found = draw(st.lists(objects(orgs, sites, servers), min_size=2, max_size=12, unique_by=lambda o: o.identity))
    return found


def recase(text: str, flips: list[bool]) -> str:
    return "".join(c.swapcase() if flips[i % len(flips)] else c for i, c in enumerate(text)) if flips else text


@settings(max_examples=150, deadline=None)
@given(object_lists(), st.lists(st.booleans(), max_size=8))
def test_no_valid_entry_is_a_near_miss_of_another_valid_dn(objs: list[Obj], flips: list[bool]) -> None:
    dns = [recase(o.dn(), flips) for o in objs]
    assert all(is_well_formed(d) for d in dns), dns  # valid by the project's DN grammar
    for i, refused in enumerate(dns):
        others = dns[:i] + dns[i + 1 :]
        for entry in others:
            assert near_miss(refused, entry) is None, (refused, entry)
            assert not same_object(refused, entry), (refused, entry)
        held, misses = find_entry(refused, others)
        assert held is None and misses == [], (refused, misses)


@settings(max_examples=150, deadline=None)
@given(
    object_lists(),
    st.lists(st.booleans(), min_size=1, max_size=8),
    st.sampled_from(["case", "trailing", "leading", "double", "display"]),
)
def test_the_same_object_written_differently_is_a_near_miss_not_a_typo(
    objs: list[Obj], flips: list[bool], noise: str
) -> None:
    target = objs[0]
    refused = target.dn()
    entry = refused
    if noise == "case":
        entry = recase(refused, flips)
    elif noise == "trailing":
        entry = refused + " "
    elif noise == "leading":
        entry = " " + refused
    elif noise == "double":
        entry = refused.replace("/cn=", "/cn= ", 1)
    else:
        names = [d for d, rdn in DISPLAY_NAMES.items() if rdn == target.name.casefold() and d != rdn]
        if target.kind != "server_component" or not names:
            return
        entry = refused[: -len(target.name)] + _title(names[0])
    if entry == refused:
        return
    miss = near_miss(refused, entry)
    assert miss is not None and miss.same_object, (refused, entry, miss)
    assert same_object(refused, entry)
    # ... and with the other objects in the list, it is the only near miss
    _, misses = find_entry(refused, [o.dn() for o in objs[1:]] + [entry])
    assert [m.entry for m in misses] == [entry]
