"""A decoder of pgoutput, PostgreSQL's logical replication output, version 1.

Each XLogData payload of a ``START_REPLICATION ... (proto_version '1')``
stream is one message; ``decode`` turns it into one of the classes
below. Tuple values are PostgreSQL's text output of each column (protocol 1
sends no binary values), None for SQL NULL, and ``UNCHANGED`` for a TOASTed
value an UPDATE did not touch: the subscriber must leave that column as it
is. The formats are those of PostgreSQL's documentation, "Logical
Replication Message Formats"; integers are big-endian, strings end in NUL.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

_INT16 = struct.Struct("!h")
_INT32 = struct.Struct("!i")
_UINT32 = struct.Struct("!I")
_BEGIN = struct.Struct("!QqI")
_COMMIT = struct.Struct("!bQQq")

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
"""The origin of PostgreSQL's timestamps (microseconds since)."""


class _Unchanged:
    """The marker of a TOASTed value the change did not send."""

    _instance: _Unchanged | None = None

    def __new__(cls) -> _Unchanged:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = _Unchanged()
"""A tuple value sent as 'u': unchanged TOASTed data, not sent."""

Value = str | None | _Unchanged


class DecodeError(ValueError):
    """A message that is not pgoutput protocol 1 as documented."""


@dataclass(frozen=True)
class Column:
    """One column of a Relation message.

    Attributes:
        name: The column's source name.
        type_oid: Its type's OID.
        type_modifier: Its atttypmod (-1 for none).
        is_key: Whether it is part of the replica identity.
    """

    name: str
    type_oid: int
    type_modifier: int
    is_key: bool


def _time(micros: int) -> datetime:
    return PG_EPOCH + timedelta(microseconds=micros)


def _micros(moment: datetime) -> int:
    return (moment - PG_EPOCH) // timedelta(microseconds=1)


class Begin:
    """A transaction starts; ``final_lsn`` is the LSN of its commit record.

    Read-only by convention. Begin and Commit come with every transaction:
    they keep the commit time as sent (microseconds since ``PG_EPOCH``)
    and make it a datetime only when asked.
    """

    __slots__ = ("final_lsn", "micros", "xid")

    def __init__(self, final_lsn: int, commit_time: datetime, xid: int) -> None:
        """A Begin from its fields."""
        self.final_lsn = final_lsn
        self.micros = _micros(commit_time)
        self.xid = xid

    @classmethod
    def read(cls, final_lsn: int, micros: int, xid: int) -> Begin:
        """A Begin as the wire sends it."""
        made = cls.__new__(cls)
        made.final_lsn, made.micros, made.xid = final_lsn, micros, xid
        return made

    @property
    def commit_time(self) -> datetime:
        """When the transaction committed on the source."""
        return _time(self.micros)


class Commit:
    """A transaction ends; ``end_lsn`` is the position just past it.

    Read-only by convention; the commit time as in ``Begin``.
    """

    __slots__ = ("commit_lsn", "end_lsn", "micros")

    def __init__(self, commit_lsn: int, end_lsn: int, commit_time: datetime) -> None:
        """A Commit from its fields."""
        self.commit_lsn = commit_lsn
        self.end_lsn = end_lsn
        self.micros = _micros(commit_time)

    @classmethod
    def read(cls, commit_lsn: int, end_lsn: int, micros: int) -> Commit:
        """A Commit as the wire sends it."""
        made = cls.__new__(cls)
        made.commit_lsn, made.end_lsn, made.micros = commit_lsn, end_lsn, micros
        return made

    @property
    def commit_time(self) -> datetime:
        """When the transaction committed on the source."""
        return _time(self.micros)


@dataclass(frozen=True)
class Origin:
    """The transaction was replicated from another node."""

    lsn: int
    name: str


@dataclass(frozen=True)
class Relation:
    """The shape of a table.

    Sent before the table's first change in a session, and again after it
    changed.

    Attributes:
        relation_id: The table's OID on the source.
        namespace: Its schema.
        name: Its name.
        replica_identity: 'd' default (the key), 'n' nothing, 'f' full, 'i' index.
        columns: Its published columns, in order.
    """

    relation_id: int
    namespace: str
    name: str
    replica_identity: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class TypeInfo:
    """A data type's name, sent before a relation that uses a non-built-in type."""

    type_oid: int
    namespace: str
    name: str


class Insert(NamedTuple):
    """A new row.

    Insert, Update and Delete are named tuples: a stream is mostly these,
    and a tuple is made faster than a frozen dataclass.
    """

    relation_id: int
    new: tuple[Value, ...]


class Update(NamedTuple):
    """A changed row.

    Attributes:
        relation_id: The table's OID.
        new: The row after the update.
        old: The old key ('K', when the key changed) or the old row ('O',
            under REPLICA IDENTITY FULL); None when the key did not change.
        old_kind: 'K', 'O' or None.
    """

    relation_id: int
    new: tuple[Value, ...]
    old: tuple[Value, ...] | None = None
    old_kind: str | None = None


class Delete(NamedTuple):
    """A removed row, identified by its key ('K') or its whole old row ('O')."""

    relation_id: int
    old: tuple[Value, ...]
    old_kind: str


@dataclass(frozen=True)
class Truncate:
    """Tables emptied together; ``cascade`` and ``restart_identity`` as given."""

    relation_ids: tuple[int, ...]
    cascade: bool
    restart_identity: bool


@dataclass(frozen=True)
class Message:
    """A message written with pg_logical_emit_message() (option ``messages``)."""

    transactional: bool
    lsn: int
    prefix: str
    content: bytes = field(repr=False)


Decoded = (
    Begin
    | Commit
    | Origin
    | Relation
    | TypeInfo
    | Insert
    | Update
    | Delete
    | Truncate
    | Message
)


class _Reader:
    """Reads the fields of one message, front to back."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, size: int) -> bytes:
        end = self.at + size
        if end > len(self.data):
            raise DecodeError(f"message ends at byte {len(self.data)}, needed {end}")
        chunk = self.data[self.at : end]
        self.at = end
        return chunk

    def int8(self) -> int:
        return int(struct.unpack("!b", self.take(1))[0])

    def byte(self) -> str:
        return self.take(1).decode("ascii")

    def int16(self) -> int:
        return int(struct.unpack("!h", self.take(2))[0])

    def int32(self) -> int:
        return int(struct.unpack("!i", self.take(4))[0])

    def uint32(self) -> int:
        return int(struct.unpack("!I", self.take(4))[0])

    def int64(self) -> int:
        return int(struct.unpack("!q", self.take(8))[0])

    def lsn(self) -> int:
        return int(struct.unpack("!Q", self.take(8))[0])

    def string(self) -> str:
        end = self.data.find(b"\x00", self.at)
        if end < 0:
            raise DecodeError("a string without its terminating NUL")
        text = self.data[self.at : end].decode("utf-8")
        self.at = end + 1
        return text

    def tuple(self) -> tuple[Value, ...]:
        values, self.at = _tuple(self.data, self.at)
        return values

    def done(self, kind: str) -> None:
        if self.at != len(self.data):
            raise DecodeError(
                f"{kind} message has {len(self.data) - self.at} bytes left over"
            )


def _tuple(data: bytes, at: int) -> tuple[tuple[Value, ...], int]:
    """The tuple that starts at ``at``, and the position just past it.

    The hot path of a stream: no bounds are checked per value; a message
    cut short fails in unpack_from or indexing, or leaves the position
    past its end, which the caller's final check refuses.
    """
    try:
        (count,) = _INT16.unpack_from(data, at)
        at += 2
        values: list[Value] = []
        append = values.append
        unpack = _INT32.unpack_from
        for _ in range(count):
            kind = data[at]
            if kind == 116:  # t
                (size,) = unpack(data, at + 1)
                at += 5
                if size < 0:
                    raise DecodeError(f"a value of {size} bytes")
                append(data[at : at + size].decode("utf-8"))
                at += size
            elif kind == 110:  # n
                append(None)
                at += 1
            elif kind == 117:  # u
                append(UNCHANGED)
                at += 1
            else:
                raise DecodeError(
                    f"tuple value of kind {chr(kind)!r} (protocol 1 has n, u, t)"
                )
    except (IndexError, struct.error, UnicodeDecodeError):
        raise DecodeError(
            f"a tuple cut short or not UTF-8 (message of {len(data)} bytes)"
        ) from None
    if at > len(data):
        raise DecodeError(f"message ends at byte {len(data)}, needed {at}")
    return tuple(values), at


_new = tuple.__new__
"""Makes a named tuple from its fields, past its generated ``__new__``."""


def _change(kind: int, data: bytes) -> Insert | Update | Delete:
    """An Insert, Update or Delete message, read without a reader object."""
    end = len(data)
    if end < 6:
        raise DecodeError(f"message ends at byte {end}, needed 6")
    (relation_id,) = _UINT32.unpack_from(data, 1)
    marker = data[5]
    message: Insert | Update | Delete
    if kind == 73:  # I
        if marker != 78:  # N
            raise DecodeError("an Insert without its new tuple")
        new, at = _tuple(data, 6)
        message = _new(Insert, (relation_id, new))
        name = "Insert"
    elif kind == 85:  # U
        old, old_kind, at = None, None, 6
        if marker in (75, 79):  # K, O
            old, at = _tuple(data, 6)
            old_kind = chr(marker)
            if at >= end:
                raise DecodeError(f"message ends at byte {end}, needed {at + 1}")
            marker = data[at]
            at += 1
        if marker != 78:
            raise DecodeError("an Update without its new tuple")
        new, at = _tuple(data, at)
        message = _new(Update, (relation_id, new, old, old_kind))
        name = "Update"
    else:
        if marker not in (75, 79):
            raise DecodeError("a Delete without its old key or row")
        old, at = _tuple(data, 6)
        message = _new(Delete, (relation_id, old, chr(marker)))
        name = "Delete"
    if at != end:
        raise DecodeError(f"{name} message has {end - at} bytes left over")
    return message


def decode(data: bytes) -> Decoded:
    """Decode one pgoutput message.

    Args:
        data: The payload of one XLogData message.

    Returns:
        The message.

    Raises:
        DecodeError: The bytes are not a protocol 1 message.
    """
    data = bytes(data)
    first = data[0] if data else 0
    # The messages of every transaction, read without a reader object.
    if first in (73, 85, 68):  # I, U, D
        return _change(first, data)
    if first == 66 and len(data) == 21:  # B
        return Begin.read(*_BEGIN.unpack_from(data, 1))
    if first == 67 and len(data) == 26:  # C
        _, commit_lsn, end_lsn, micros = _COMMIT.unpack_from(data, 1)
        return Commit.read(commit_lsn, end_lsn, micros)
    reader = _Reader(data)
    kind = reader.byte()
    message: Decoded
    if kind == "B":
        message = Begin.read(reader.lsn(), reader.int64(), reader.uint32())
    elif kind == "C":
        reader.int8()  # flags, unused
        message = Commit.read(reader.lsn(), reader.lsn(), reader.int64())
    elif kind == "O":
        message = Origin(reader.lsn(), reader.string())
    elif kind == "R":
        relation_id = reader.uint32()
        namespace = reader.string() or "pg_catalog"
        name = reader.string()
        identity = chr(reader.int8())
        columns = []
        for _ in range(reader.int16()):
            flags = reader.int8()
            columns.append(
                Column(
                    name=reader.string(),
                    type_oid=reader.uint32(),
                    type_modifier=reader.int32(),
                    is_key=bool(flags & 1),
                )
            )
        message = Relation(relation_id, namespace, name, identity, tuple(columns))
    elif kind == "Y":
        message = TypeInfo(reader.uint32(), reader.string(), reader.string())
    elif kind == "I":
        relation_id = reader.uint32()
        if reader.byte() != "N":
            raise DecodeError("an Insert without its new tuple")
        message = Insert(relation_id, reader.tuple())
    elif kind == "U":
        relation_id = reader.uint32()
        marker = reader.byte()
        old, old_kind = None, None
        if marker in ("K", "O"):
            old, old_kind = reader.tuple(), marker
            marker = reader.byte()
        if marker != "N":
            raise DecodeError("an Update without its new tuple")
        message = Update(relation_id, reader.tuple(), old, old_kind)
    elif kind == "D":
        relation_id = reader.uint32()
        marker = reader.byte()
        if marker not in ("K", "O"):
            raise DecodeError("a Delete without its old key or row")
        message = Delete(relation_id, reader.tuple(), marker)
    elif kind == "T":
        count = reader.int32()
        options = reader.int8()
        message = Truncate(
            tuple(reader.uint32() for _ in range(count)),
            cascade=bool(options & 1),
            restart_identity=bool(options & 2),
        )
    elif kind == "M":
        flags = reader.int8()
        lsn = reader.lsn()
        prefix = reader.string()
        content = reader.take(reader.int32())
        message = Message(bool(flags & 1), lsn, prefix, content)
    else:
        raise DecodeError(f"message type {kind!r} is not part of protocol 1")
    reader.done(type(message).__name__)
    return message


def format_lsn(lsn: int) -> str:
    """Write an LSN as PostgreSQL does: ``16/B374D848``."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    """Read an LSN written as PostgreSQL does."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)
