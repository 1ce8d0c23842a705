"""Just enough of an .evtx record's binary XML to decide, before any rendering, whether a rule reads it.

A Windows event record is a *template instance*: a reference to a template definition (the XML skeleton,
parsed once per chunk and cached by its chunk offset) plus an array of typed substitution values that
fill the skeleton's holes.  Mapping each hole to the System field it feeds (EventID, Provider@Name, ...)
lets a reader find a record's EventID and provider in its value array without building any XML.

Everything here answers conservatively: ``decide`` says "skip" only when the record surely fails the
filter; any doubt about a single record makes it "maybe wanted" (the full renderer decides), and anything
unexpected about the chunk (a token we do not know, a definition that cannot be mapped, values that
overrun the record) raises ``BinXmlError`` with the chunk offset, so that the caller reads that chunk the
slow, complete way.  Facts used (token values, value types, layouts) are those of the published EVTX
format description; the code is this project's own.
"""

from __future__ import annotations

import struct
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from analyzer.readers import chunkscan
from analyzer.readers.layout import Layout

# Tokens (the 0x40 bit marks "more attributes follow" / "has attributes" on some of them).
TOKEN_EOF = 0x00
TOKEN_OPEN_START = 0x01  # 0x41: the element has attributes
TOKEN_CLOSE_START = 0x02
TOKEN_CLOSE_EMPTY = 0x03
TOKEN_END_ELEMENT = 0x04
TOKEN_VALUE = 0x05
TOKEN_ATTRIBUTE = 0x06
TOKEN_CDATA = 0x07
TOKEN_CHAR_REF = 0x08
TOKEN_ENTITY_REF = 0x09
TOKEN_PI_TARGET = 0x0A
TOKEN_PI_DATA = 0x0B
TOKEN_TEMPLATE_INSTANCE = 0x0C
TOKEN_NORMAL_SUBSTITUTION = 0x0D
TOKEN_OPTIONAL_SUBSTITUTION = 0x0E
TOKEN_FRAGMENT_HEADER = 0x0F
MORE_BIT = 0x40

# Value types this module reads (others are only carried as "some value").
TYPE_NULL = 0x00
TYPE_WSTRING = 0x01
TYPE_UINT16 = 0x06
TYPE_BINXML = 0x21

RECORD_HEADER = Layout("RecordHeader", "<4sIQQ", ("magic", "size", "record_id", "written"))
#: What follows the record header when the record is a template instance (it always is on Windows).
TEMPLATE_INSTANCE = Layout(
    "TemplateInstance", "<4sBBII", ("fragment_header", "token", "unknown", "template_id", "definition")
)
#: At the definition offset: the next definition in the hash chain, the template GUID, the body size.
TEMPLATE_DEFINITION = Layout("TemplateDefinition", "<I16sI", ("next_definition", "guid", "data_size"))
NAME = Layout("Name", "<IHH", ("next_name", "hash", "characters"))  # then UTF-16LE text and a NUL
ELEMENT_START = Layout("ElementStart", "<BHII", ("token", "dependency", "data_size", "name"))
ATTRIBUTE = Layout("Attribute", "<BI", ("token", "name"))
SUBSTITUTION = Layout("Substitution", "<BHB", ("token", "index", "value_type"))
DESCRIPTOR = Layout("SubstitutionDescriptor", "<HBB", ("size", "value_type", "unused"))
COUNT = Layout("SubstitutionCount", "<I", ("count",))

FRAGMENT_HEADER = bytes((TOKEN_FRAGMENT_HEADER, 1, 1, 0))
_INSTANCE_START = FRAGMENT_HEADER + bytes((TOKEN_TEMPLATE_INSTANCE,))
_INSTANCE_AT = RECORD_HEADER.size  # the template instance follows the record header
_AFTER_INSTANCE = _INSTANCE_AT + TEMPLATE_INSTANCE.size
_MAX_SUBSTITUTIONS = 4096  # far above any real template; guards against garbage counts

_unpack_instance = TEMPLATE_INSTANCE.struct.unpack_from
_unpack_u32 = COUNT.struct.unpack_from
_unpack_u16 = struct.Struct("<H").unpack_from


class BinXmlError(ValueError):
    """The chunk holds something this module does not understand; ``offset`` is in the chunk."""

    def __init__(self, offset: int, message: str) -> None:
        self.offset = offset
        super().__init__(f"{message} at chunk offset 0x{offset:x}")


@dataclass(frozen=True, slots=True)
class Slot:
    """What fills one field of the skeleton: substitution ``index`` of ``value_type``, or ``static`` text.

    ``parts`` > 1 means the field is made of several pieces (text and values mixed): never decided here."""

    index: int | None = None
    value_type: int = TYPE_NULL
    static: str | None = None
    parts: int = 1


#: The System fields a template is mapped for, by their path under the root element.
SYSTEM_FIELDS = {
    "System/EventID": "event_id",
    "System/EventID@Qualifiers": "qualifiers",
    "System/Provider@Name": "provider",
    "System/Provider@EventSourceName": "event_source",
    "System/Level": "level",
    "System/Task": "task",
    "System/Keywords": "keywords",
    "System/TimeCreated@SystemTime": "time",
    "System/EventRecordID": "record_id",
    "System/Channel": "channel",
    "System/Computer": "computer",
    "System/Security@UserID": "user_id",
}


@dataclass(slots=True)
class TemplateMap:
    """One template definition, parsed once per chunk: where each System field comes from."""

    offset: int
    root: str
    fields: dict[str, Slot]
    #: Substitution indexes under EventData / UserData, in document order (nested BinXML values included
    #: as a whole: their own template instance maps their insides).
    event_data: tuple[int, ...]
    end: int  # chunk offset just past the definition
    #: Names the definition references outside its own bytes (chunk offset, text): the map holds for
    #: another chunk with the same definition bytes at the same offset only when these names match too.
    names: tuple[tuple[int, str], ...] = ()
    #: ``ChunkTemplates.locate``'s answers for this definition, by key: a log repeats the same keys
    #: chunk after chunk, and a map is shared by the chunks that hold the same definition.
    located: dict[bytes, Located] = field(default_factory=dict, compare=False, repr=False)


@dataclass(slots=True)
class _Walk:
    """State of one template walk."""

    data: bytes
    stack: list[str] = field(default_factory=list)
    attribute: str | None = None
    contents: dict[str, list[Slot]] = field(default_factory=dict)
    event_data: list[int] = field(default_factory=list)
    names: list[tuple[int, str]] = field(default_factory=list)


def read_name(data: bytes, offset: int) -> tuple[str, int]:
    """The name stored at chunk ``offset`` (count-prefixed UTF-16LE) and the offset just past it."""
    if not 0 <= offset <= len(data) - NAME.size:
        raise BinXmlError(offset, "name offset outside the chunk")
    chars = _unpack_u16(data, offset + 6)[0]
    end = offset + NAME.size + 2 * chars
    if end + 2 > len(data):
        raise BinXmlError(offset, "name runs past the chunk")
    try:
        return data[offset + NAME.size : end].decode("utf-16-le"), end + 2
    except UnicodeDecodeError:
        raise BinXmlError(offset, "name is not UTF-16") from None


def _name_at(walk: _Walk, field_end: int, name_offset: int) -> tuple[str, int]:
    """(name, position after it): a name whose offset points just past its own offset field is inline."""
    name, after = read_name(walk.data, name_offset)
    if name_offset == field_end:
        return name, after
    walk.names.append((name_offset, name))
    return name, field_end


def parse_template(data: bytes, offset: int) -> TemplateMap:
    """Map the template definition at chunk ``offset`` (BinXmlError on anything unexpected)."""
    if not 0 < offset <= len(data) - TEMPLATE_DEFINITION.size:
        raise BinXmlError(offset, "template definition offset outside the chunk")
    size = TEMPLATE_DEFINITION.unpack_from(data, offset).data_size
    start = offset + TEMPLATE_DEFINITION.size
    end = start + size
    if end > len(data):
        raise BinXmlError(offset, f"template definition of {size} bytes runs past the chunk")
    walk = _Walk(data)
    pos = start
    while True:
        if pos >= end:
            raise BinXmlError(pos, "template definition without end-of-stream token")
        token = data[pos]
        if token == TOKEN_EOF:
            break
        pos = _step(walk, token, pos)
    if walk.stack:
        raise BinXmlError(pos, f"template definition ends inside <{walk.stack[-1]}>")
    roots = {path.split("/", 1)[0].split("@", 1)[0] for path in walk.contents}
    root = next(iter(roots)) if len(roots) == 1 else ""
    fields: dict[str, Slot] = {}
    for path, slots in walk.contents.items():
        name = SYSTEM_FIELDS.get(path.split("/", 1)[1]) if "/" in path else None
        if name is None:
            continue
        fields[name] = slots[0] if len(slots) == 1 else Slot(parts=len(slots))
    return TemplateMap(offset, root, fields, tuple(walk.event_data), end, tuple(walk.names))


def _step(walk: _Walk, token: int, pos: int) -> int:
    """Consume the token at ``pos``; returns where the next token starts."""
    data = walk.data
    base = token & ~MORE_BIT
    if token == TOKEN_FRAGMENT_HEADER:
        return pos + 4
    if base == TOKEN_OPEN_START:
        name_offset = ELEMENT_START.unpack_from(data, pos).name
        name, pos = _name_at(walk, pos + ELEMENT_START.size, name_offset)
        if token & MORE_BIT:
            pos += 4  # size of the attribute list
        walk.stack.append(name)
        walk.attribute = None
        return pos
    if base == TOKEN_ATTRIBUTE:
        if not walk.stack:
            raise BinXmlError(pos, "attribute outside an element")
        name, pos = _name_at(walk, pos + ATTRIBUTE.size, ATTRIBUTE.unpack_from(data, pos).name)
        walk.attribute = name
        return pos
    if token == TOKEN_CLOSE_START:
        walk.attribute = None
        return pos + 1
    if token in (TOKEN_CLOSE_EMPTY, TOKEN_END_ELEMENT):
        if not walk.stack:
            raise BinXmlError(pos, "end of an element that was never opened")
        walk.attribute = None
        walk.stack.pop()
        return pos + 1
    if base == TOKEN_VALUE:
        value_type = data[pos + 1]
        if value_type != TYPE_WSTRING:
            raise BinXmlError(pos, f"static value of type 0x{value_type:02x} in a template")
        chars = _unpack_u16(data, pos + 2)[0]
        try:
            text = data[pos + 4 : pos + 4 + 2 * chars].decode("utf-16-le")
        except UnicodeDecodeError:
            raise BinXmlError(pos, "static text is not UTF-16") from None
        _content(walk, pos, Slot(static=text))
        return pos + 4 + 2 * chars
    if base in (TOKEN_NORMAL_SUBSTITUTION, TOKEN_OPTIONAL_SUBSTITUTION) and token & MORE_BIT == 0:
        _, index, value_type = SUBSTITUTION.unpack_from(data, pos)
        _content(walk, pos, Slot(index=index, value_type=value_type))
        depth = len(walk.stack)
        if (depth > 1 and walk.stack[1] in ("EventData", "UserData")) or (depth == 1 and value_type == TYPE_BINXML):
            walk.event_data.append(index)  # a BinXML value right under the root is EventData/UserData nested
        return pos + SUBSTITUTION.size
    if base == TOKEN_CDATA or token == TOKEN_PI_DATA:
        _content(walk, pos, Slot(parts=2))
        return pos + 3 + 2 * _unpack_u16(data, pos + 1)[0]
    if base == TOKEN_CHAR_REF:
        _content(walk, pos, Slot(parts=2))
        return pos + 3
    if base == TOKEN_ENTITY_REF or token == TOKEN_PI_TARGET:
        _content(walk, pos, Slot(parts=2))
        return _name_at(walk, pos + ATTRIBUTE.size, ATTRIBUTE.unpack_from(data, pos).name)[1]
    raise BinXmlError(pos, f"token 0x{token:02x} not expected in a template definition")


def _content(walk: _Walk, pos: int, slot: Slot) -> None:
    if not walk.stack:
        raise BinXmlError(pos, "content outside any element")
    path = "/".join(walk.stack) + (f"@{walk.attribute}" if walk.attribute else "")
    walk.contents.setdefault(path, []).append(slot)


# --------------------------------------------------------------------------- one record


@dataclass(slots=True)
class Instance:
    """A record's template instance: its template and where its values are."""

    template: TemplateMap
    descriptors: tuple[int, ...]  # size, type, size, type, ... (the unused byte dropped)
    values_at: int  # chunk offset of the first value


class Located(NamedTuple):
    """Where a key's records hold their EventID value and provider name (offsets from the record start)."""

    event_id_at: int  # -1: the key cannot say, its records are decided one by one
    provider_at: int  # -1: not a UTF-16 substitution value (then ``provider`` or unknown)
    provider_size: int
    provider: str | None  # the name written in the template itself


_ONE_BY_ONE = Located(-1, -1, 0, None)

#: Template maps met in earlier chunks, by (offset, body size), each with its definition bytes: a log
#: repeats the same few definitions at the same offsets chunk after chunk, and parsing one costs as much
#: as deciding hundreds of records.  Bounded: cleared when full.
_SEEN: dict[tuple[int, int], list[tuple[bytes, TemplateMap]]] = {}
_SEEN_LIMIT = 1024
_SEEN_PER_PLACE = 4


class ChunkTemplates:
    """The template definitions of one chunk, each parsed once (cache by definition offset)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.maps: dict[int, TemplateMap] = {}

    def template(self, offset: int) -> TemplateMap:
        found = self.maps.get(offset)
        if found is None:
            found = self.maps[offset] = self._parse(offset)
        return found

    def _parse(self, offset: int) -> TemplateMap:
        data = self.data
        if not 0 < offset <= len(data) - TEMPLATE_DEFINITION.size:
            return parse_template(data, offset)  # raises, naming the offset
        size = _unpack_u32(data, offset + 20)[0]
        end = offset + TEMPLATE_DEFINITION.size + size
        if end > len(data):
            return parse_template(data, offset)  # raises: the definition runs past the chunk
        place = (offset, size)
        for body, known in _SEEN.get(place, ()):
            # Compared in place (no copy of the definition): same bytes, and the same names where the
            # definition points outside itself.
            if data.startswith(body, offset) and all(read_name(data, at)[0] == name for at, name in known.names):
                return known
        parsed = parse_template(data, offset)
        if len(_SEEN) >= _SEEN_LIMIT:
            _SEEN.clear()
        bucket = _SEEN.setdefault(place, [])
        if len(bucket) >= _SEEN_PER_PLACE:
            del bucket[0]
        bucket.append((data[offset:end], parsed))
        return parsed

    def locate(self, key: bytes) -> Located | None:
        """Where the EventID and provider values sit, from the record's start, in every record whose bytes
        from the template instance on begin with ``key``; None when the key is too short to cover the
        descriptors needed (``_KEY_LENGTH`` is raised: slice again)."""
        if not key.startswith(_INSTANCE_START) or len(key) < 18:
            return _ONE_BY_ONE
        template = self.template(_unpack_u32(key, 10)[0])
        if template.root != "Event":
            raise BinXmlError(template.offset, f"template root <{template.root or '?'}> is not <Event>")
        return _located(template, key, key)

    def instance(self, start: int, end: int) -> Instance:
        """The template instance of the record spanning chunk bytes ``start:end``."""
        data = self.data
        if end - start < _AFTER_INSTANCE + 4:
            raise BinXmlError(start, "record too short for a template instance")
        fragment, token, _, _, definition = _unpack_instance(data, start + _INSTANCE_AT)
        if fragment != FRAGMENT_HEADER or token != TOKEN_TEMPLATE_INSTANCE:
            raise BinXmlError(start + _INSTANCE_AT, "record is not a template instance")
        template = self.template(definition)
        count_at = start + _AFTER_INSTANCE
        if definition == count_at:  # defined inline, here: the values follow the definition
            count_at = template.end
        if count_at + 4 > end:
            raise BinXmlError(start, "substitution count past the record's end")
        count = _unpack_u32(data, count_at)[0]
        values_at = count_at + 4 + 4 * count
        if count > _MAX_SUBSTITUTIONS or values_at > end:
            raise BinXmlError(count_at, f"implausible substitution count {count}")
        descriptors = _descriptors(count)(data, count_at + 4)
        if sum(descriptors[0::2]) > end - values_at:
            raise BinXmlError(count_at, "substitution values run past the record's end")
        return Instance(template, descriptors, values_at)


_LOCATED_LIMIT = 256


def _located(template: TemplateMap, cached_as: bytes, key: bytes, count_at: int = _AFTER_INSTANCE) -> Located | None:
    """``_locate``'s answer, remembered on the template map under ``cached_as`` (bounded per map)."""
    known = template.located.get(cached_as)
    if known is None:
        known = _locate(template, key, count_at)
        if known is None:
            return None
        if len(template.located) >= _LOCATED_LIMIT:
            template.located.clear()
        template.located[cached_as] = known
    return known


def _locate(template: TemplateMap, key: bytes, count_at: int = _AFTER_INSTANCE) -> Located | None:
    """``ChunkTemplates.locate`` for a key whose template is ``template`` (None: slice longer keys).

    ``count_at``: where the substitution count is, from the record start (after the instance header,
    or after the definition for a record that defines its template inline)."""
    slot = template.fields.get("event_id")
    if slot is None or slot.parts != 1 or slot.index is None or slot.value_type != TYPE_UINT16:
        return _ONE_BY_ONE
    count = _unpack_u32(key, 14)[0]
    provider = template.fields.get("provider")
    last = slot.index
    if provider is not None and provider.parts == 1 and provider.index is not None:
        last = max(last, provider.index)
    if last >= count or count > _MAX_SUBSTITUTIONS:
        return _ONE_BY_ONE
    need = 18 + 4 * (last + 1)
    if need > _KEY_LIMIT:  # fields far down the value array: one by one (keys stay small)
        return _ONE_BY_ONE
    if len(key) < need:
        if _KEY_LENGTH[0] < need:
            _KEY_LENGTH[0] = need
            return None  # slice longer keys
        return _ONE_BY_ONE  # long enough was asked for: the chunk's end cut this key short
    descriptors = _descriptors(last + 1)(key, 18)
    k = slot.index * 2
    if descriptors[k] != 2 or descriptors[k + 1] != TYPE_UINT16:
        return _ONE_BY_ONE
    values_at = count_at + 4 + 4 * count
    event_id_at = values_at + sum(descriptors[0:k:2])
    if provider is None or provider.parts != 1:
        return Located(event_id_at, -1, 0, None)
    if provider.index is None:
        return Located(event_id_at, -1, 0, provider.static)
    j = provider.index * 2
    if descriptors[j + 1] != TYPE_WSTRING:
        return Located(event_id_at, -1, 0, None)
    return Located(event_id_at, values_at + sum(descriptors[0:j:2]), descriptors[j], None)


_DESCRIPTOR_READERS: dict[int, Any] = {}


def _descriptors(count: int) -> Any:
    """A reader of ``count`` descriptors as (size, type, size, type, ...), the unused byte skipped."""
    found = _DESCRIPTOR_READERS.get(count)
    if found is None:
        found = struct.Struct("<" + "HBx" * count).unpack_from
        if len(_DESCRIPTOR_READERS) < 256:
            _DESCRIPTOR_READERS[count] = found
    return found


def value_bytes(data: bytes, instance: Instance, index: int) -> tuple[int, bytes] | None:
    """(type, raw bytes) of substitution ``index`` of a record, None when the record has no such value."""
    descriptors = instance.descriptors
    if index * 2 >= len(descriptors):
        return None
    at = instance.values_at + sum(descriptors[0 : index * 2 : 2])
    size = descriptors[index * 2]
    return descriptors[index * 2 + 1], data[at : at + size]


def slot_text(data: bytes, instance: Instance, slot: Slot | None) -> str | None:
    """The text of a string field as the renderer shows it, or None when unsure (then: do not skip)."""
    if slot is None or slot.parts != 1:
        return None
    if slot.static is not None:
        return slot.static
    if slot.index is None:
        return None
    found = value_bytes(data, instance, slot.index)
    if found is None or found[0] != TYPE_WSTRING:
        return None
    try:
        text = found[1].decode("utf-16-le")
    except UnicodeDecodeError:
        return None
    text = text.rstrip("\x00")
    return None if "\x00" in text else text


def slot_uint16(data: bytes, instance: Instance, slot: Slot | None) -> int | None:
    """An unsigned 16-bit field (EventID), or None when unsure."""
    if slot is None or slot.parts != 1:
        return None
    if slot.static is not None:
        text = slot.static
        return int(text) if text.isascii() and text.isdigit() else None
    if slot.index is None:
        return None
    found = value_bytes(data, instance, slot.index)
    if found is None or found[0] != TYPE_UINT16 or len(found[1]) != 2:
        return None
    return _unpack_u16(found[1])[0]


def decide(templates: ChunkTemplates, spans: Sequence[tuple[int, int]], filters: Any) -> list[bool]:
    """Per record (chunk byte spans): False when the filter surely refuses it, True when it may want it.

    Sure refusals: the EventID (low 16 bits, as readers compare it) is not among ``filters.ids``, or the
    provider name is known and its (source, ID) pair is not one the filter reads.  BinXmlError when the
    chunk is not what this module understands (the caller reads the chunk completely instead)."""
    ids = filters.ids
    pairs = bool(filters.pairs)
    data = templates.data
    out: list[bool] = []
    for start, end in spans:
        instance = templates.instance(start, end)
        template = instance.template
        if template.root != "Event":
            raise BinXmlError(template.offset, f"template root <{template.root or '?'}> is not <Event>")
        fields = template.fields
        event_id = slot_uint16(data, instance, fields.get("event_id"))
        if event_id is None:
            out.append(True)
            continue
        if event_id not in ids:
            out.append(False)
            continue
        if pairs:
            source = slot_text(data, instance, fields.get("provider"))
            if source and not filters.wants_pair(event_id, source):
                out.append(False)
                continue
        out.append(True)
    return out


# --------------------------------------------------------------------------- all records of a chunk at once

_KEY_LENGTH = [_AFTER_INSTANCE - _INSTANCE_AT + 4 + 4 * 2]  # grows when the fields sit further
_KEY_LIMIT = _AFTER_INSTANCE - _INSTANCE_AT + 4 + 4 * 64  # ... up to the 64th substitution


def wanted_records(templates: ChunkTemplates, starts: Sequence[int], sizes: Sequence[int], filters: Any) -> list[int]:
    """Indexes of the records (chunk offsets ``starts``, lengths ``sizes``) the filter may want.

    The answers of ``decide``, computed without a Python step per record for the common case: records
    whose template instance header and leading substitution descriptors (up to the EventID's and the
    provider's) are the same bytes share one *key*, and the key alone says where the EventID value and
    the provider name sit in each of them.  ``chunkscan`` slices the keys and reads every record's
    EventID bytes at its key's offset; the provider is read only where the EventID is wanted, each
    distinct (EventID, name) judged once per filter.  A record that defines its template inline is
    located from the descriptors after its definition.  Records of a key that cannot say (EventID not a
    plain UInt16 value, ...) and records too short for the offsets go through ``decide``."""
    data = templates.data
    wanted_ids = _wanted_id_bytes(filters.ids)
    while True:
        keys, key_of = chunkscan.keys_of(data, starts, _KEY_LENGTH[0])
        where: list[Located] = []
        for key in keys:
            located = templates.locate(key)
            if located is None:
                break  # the key was too short for the descriptors needed: slice longer keys
            where.append(located)
        else:
            break
    seen = _judged_pairs(filters) if filters.pairs else None
    hit, unsure = chunkscan.hits(
        data,
        starts,
        sizes,
        key_of,
        [loc.event_id_at for loc in where],
        wanted_ids,
        [loc.provider_at if seen is not None else -1 for loc in where],
        [loc.provider_size for loc in where],
        seen.rejected if seen is not None else _NO_PAIRS,
    )
    found = set(hit)
    # Records that define their template inline hold their substitution count after the definition, so
    # their key bytes are the definition's, not descriptors: each is located on its own (by a key read
    # where its count is).  Decided one by one (``decide``): those that cannot be located that way, records
    # of keys that cannot say, records too short for the key's offsets.
    inline: list[int] = []
    for definition in {_unpack_u32(k, 10)[0] for k in keys}:
        i = bisect_left(starts, definition - _AFTER_INSTANCE)
        if i < len(starts) and starts[i] == definition - _AFTER_INSTANCE:
            inline.append(i)
    one_by_one = set(unsure).difference(inline)  # other records of an inline record's key stay unsure
    for i in inline:
        verdict = _inline_wanted(templates, starts[i], sizes[i], wanted_ids, filters)
        if verdict is None:
            one_by_one.add(i)
        elif verdict:
            found.add(i)
        else:
            found.discard(i)
    if seen is not None:
        _check_providers(data, starts, sizes, key_of, where, found, one_by_one.union(inline), one_by_one, seen)
    for i in one_by_one:
        start = starts[i]
        if decide(templates, [(start, start + sizes[i])], filters)[0]:
            found.add(i)
        else:
            found.discard(i)
    return sorted(found)


_NO_PAIRS: frozenset[bytes] = frozenset()


def _inline_wanted(
    templates: ChunkTemplates, start: int, size: int, wanted_ids: frozenset[bytes], filters: Any
) -> bool | None:
    """``decide``'s answer for a record that defines its template inline, read the way keyed records are
    (EventID and provider where the descriptors say); None when that cannot say (then ``decide``)."""
    data = templates.data
    template = templates.template(start + _AFTER_INSTANCE)
    if template.root != "Event":
        raise BinXmlError(template.offset, f"template root <{template.root or '?'}> is not <Event>")
    # The same shape as a keyed record's key (instance header, then count and descriptors), marked so
    # that it never meets one in the template's cache: the count sits at the same place in every record
    # defining this template (right after the definition).
    key = data[start + _INSTANCE_AT : start + _AFTER_INSTANCE]
    key += data[template.end : template.end + _KEY_LENGTH[0] - TEMPLATE_INSTANCE.size]
    loc = _located(template, b"\x00" + key, key, template.end - start)
    if loc is None or loc.event_id_at < 0 or loc.event_id_at + 6 > size:
        return None
    q = start + loc.event_id_at
    event_id = data[q : q + 2]
    if event_id not in wanted_ids:
        return False
    if not filters.pairs:
        return True
    return _provider_verdict(_judged_pairs(filters), data, start, size, loc, event_id)


_WANTED_BYTES: dict[frozenset[int], frozenset[bytes]] = {}


def _wanted_id_bytes(ids: frozenset[int] | set[int]) -> frozenset[bytes]:
    """The filter's event IDs as the two little-endian bytes a UInt16 EventID value is stored as
    (worked out once per filter, not once per chunk)."""
    key = frozenset(ids)
    found = _WANTED_BYTES.get(key)
    if found is None:
        found = frozenset(event_id.to_bytes(2, "little") for event_id in key if 0 <= event_id <= 0xFFFF)
        if len(_WANTED_BYTES) >= 64:
            _WANTED_BYTES.clear()
        _WANTED_BYTES[key] = found
    return found


def _check_providers(
    data: bytes,
    starts: Sequence[int],
    sizes: Sequence[int],
    key_of: Sequence[int],
    where: list[Located],
    found: set[int],
    exclude: set[int],
    one_by_one: set[int],
    seen: _Judged,
) -> None:
    """Drop from ``found`` the records whose (EventID, provider) pair the filter does not read: the
    records of one key hold the name at the same offset, and each distinct pair is judged once per
    filter (a log names the same few providers again and again).  A pair judged unwanted by its raw
    name bytes joins ``seen.rejected``, so ``chunkscan.hits`` leaves its records out from then on."""
    for i in found.difference(exclude):
        loc = where[key_of[i]]
        start = starts[i]
        q = start + loc.event_id_at
        verdict = _provider_verdict(seen, data, start, sizes[i], loc, data[q : q + 2])
        if verdict is None:
            one_by_one.add(i)  # the name would run past the record
        elif not verdict:
            found.discard(i)


def _provider_verdict(seen: _Judged, data: bytes, start: int, size: int, loc: Located, event_id: bytes) -> bool | None:
    """Whether the filter reads the (EventID, provider) pair of the record at ``start`` (``size`` bytes);
    None when its name would run past the record (then ``decide``).  Each distinct pair is judged once per
    filter; a pair judged unwanted by its raw name bytes joins ``seen.rejected``."""
    name: bytes | str | None
    if loc.provider_at < 0:
        name = loc.provider
    elif loc.provider_at + loc.provider_size + 4 > size:
        return None
    else:
        q = start + loc.provider_at
        name = data[q : q + loc.provider_size]
    pair = (event_id, name)
    wanted = seen.pairs.get(pair)
    if wanted is None:
        wanted = _pair_wanted(seen.filters, event_id, name)
        if len(seen.pairs) < _JUDGED_LIMIT:
            seen.pairs[pair] = wanted
            if not wanted and isinstance(name, bytes):
                seen.rejected.add(event_id + name)
    return wanted


@dataclass(slots=True)
class _Judged:
    """What one filter was found to think of (EventID bytes, provider name as found) pairs."""

    filters: Any
    pairs: dict[tuple[bytes, Any], bool] = field(default_factory=dict)
    #: EventID bytes + raw UTF-16 name bytes of the pairs judged unwanted (for ``chunkscan.hits``).
    rejected: set[bytes] = field(default_factory=set)


#: Per filter object (held, so that its id stays its own).  Bounded: cleared when full.
_JUDGED: dict[int, _Judged] = {}
_JUDGED_LIMIT = 4096


def _judged_pairs(filters: Any) -> _Judged:
    held = _JUDGED.get(id(filters))
    if held is None or held.filters is not filters:
        if len(_JUDGED) >= 16:
            _JUDGED.clear()
        held = _JUDGED[id(filters)] = _Judged(filters)
    return held


def _pair_wanted(filters: Any, event_id: bytes, name: bytes | str | None) -> bool:
    """``decide``'s provider check on a name as found (raw UTF-16 bytes, template text, or unknown)."""
    if isinstance(name, bytes):
        try:
            text = name.decode("utf-16-le").rstrip("\x00")
        except UnicodeDecodeError:
            return True
        name = None if "\x00" in text else text
    if not name:
        return True
    return bool(filters.wants_pair(_unpack_u16(event_id)[0], name))
