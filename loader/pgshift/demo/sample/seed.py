r"""Seed the sample marketplace source, deterministically, at any scale.

At scale 1 the row counts are those of the team's migration report (users 19,
chat_rooms 6, chat_participants 12, messages 20, landlord_profiles 5,
waitlist_entries 0) and small plausible counts elsewhere; scale N has N times
as many rows in every table. Rows are generated lazily and streamed with
``COPY ... FROM STDIN``, so no table is ever held in memory. Keys are
1..count and foreign keys are arithmetic on the row number, so every
reference holds without lookups; each table draws from its own seeded RNG.

Values that break naive migrations, all present at scale 1:

* ``messages.content`` and ``jobs.description`` cycle through
  ``HOSTILE_TEXTS`` (tabs, newlines, CR, CRLF, backslashes, ``\\N``, quotes,
  commas, emoji and ZWJ sequences, accents, CJK, right-to-left Arabic);
  ``jobs."termsAndConditions"`` of job 1 is 120 kB long;
* ``jobs.notes``: '' next to NULL, the text 'NULL' and the text ``\\N``;
* ``jobs.tags``: '{}', an array holding NULL and '', elements with commas,
  quotes, braces and backslashes; NULL;
* ``jobs.metadata``, ``transactions.metadata``, ``audit_events.payload``:
  nested JSON, JSON ``null`` as the whole value, ``{}``, ``[]``, unicode;
* ``quote_line_items.quantity``, ``invoice_line_items.quantity``,
  ``invoices."taxRate"`` (numeric without precision): NaN, 30 integer digits
  with 15 decimals, 1e-20;
* ``sessions."expiresAt"`` (timestamptz) and ``audit_events."occurredAt"``
  (timestamp): 'infinity' and '-infinity';
* ``invoices."dueDate"``: 0001-01-01 and 9999-12-31;
  ``contractor_availability``: 00:00:00 and 24:00:00;
* ``sessions."ipAddress"``, ``audit_events."ipAddress"``: IPv4, IPv6, with
  and without netmask;
* ``messages."isEdited"``: NULL, true and false; ``-0.00`` amounts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SCHEMA_SQL = Path(__file__).with_name("schema.sql")

BASE_COUNTS = {
    "users": 19,
    "payment_methods": 10,
    "sessions": 25,
    "landlord_profiles": 5,
    "contractor_profiles": 8,
    "service_categories": 10,
    "contractor_services": 16,
    "properties": 8,
    "jobs": 12,
    "job_photos": 18,
    "bids": 20,
    "quotes": 10,
    "quote_line_items": 24,
    "invoices": 8,
    "invoice_line_items": 16,
    "transactions": 8,
    "payouts": 6,
    "reviews": 9,
    "chat_rooms": 6,
    "chat_participants": 12,
    "messages": 20,
    "notifications": 30,
    "disputes": 2,
    "contractor_availability": 20,
    "audit_events": 40,
    "waitlist_entries": 0,
}
"""Rows per table at scale 1; scale N has N times as many."""

HOSTILE_TEXTS = [
    "tab\tseparated\tvalues",
    "line one\nline two\n",
    "carriage\rreturn",
    "windows\r\nline ending",
    "back\\slash and trailing backslash\\",
    "\\N",
    "NULL",
    "",
    "it's \"quoted\" 'twice'",
    "commas, semicolons; pipes | and more,,,",
    "emoji 😀🔧🏠 and family 👩‍👩‍👧‍👦",
    "accents: café naïve Ærøskøbing Größe",
    "CJK: 水管工 修理 東京",
    "RTL: مرحبا بالعالم",
    "  leading and trailing spaces  ",
    "{braces} [brackets] (parens) <angles>",
    "percent % underscore _ dollar $1 $$",
]
"""Text values spread over messages.content and jobs.description."""

LONG_TEXT = ("Terms and conditions apply. " * 4300)[:120_000]

_T0 = datetime(2024, 1, 1, tzinfo=UTC)


# -- COPY text format -----------------------------------------------------------

_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _field(value: Any) -> str:
    """Render one value as a COPY text-format field."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    return str(value).translate(_ESCAPES)


def _array(items: Iterable[str | None]) -> str:
    """Render a PostgreSQL array literal of text elements."""
    out = []
    for item in items:
        if item is None:
            out.append("NULL")
        else:
            escaped = item.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'"{escaped}"')
    return "{" + ",".join(out) + "}"


class _CopyStream:
    """A file-like object producing COPY lines from a row iterator."""

    def __init__(self, rows: Iterator[tuple[Any, ...]]) -> None:
        self._rows = rows
        self._buffer = b""

    def read(self, size: int = 65536) -> bytes:
        size = max(size, 65536)
        parts = [self._buffer]
        length = len(self._buffer)
        for row in self._rows:
            line = ("\t".join(map(_field, row)) + "\n").encode("utf-8")
            parts.append(line)
            length += len(line)
            if length >= size:
                break
        data = b"".join(parts)
        self._buffer = data[size:]
        return data[:size]

    readline = read


# -- value helpers ---------------------------------------------------------------


def _ts(rng: random.Random, days: int = 700) -> str:
    moment = _T0 + timedelta(
        seconds=rng.randrange(days * 86400), microseconds=rng.randrange(1_000_000)
    )
    return moment.isoformat(sep=" ")


def _money(rng: random.Random, low: int = 20, high: int = 5000) -> str:
    return f"{rng.randrange(low * 100, high * 100) / 100:.2f}"


def transaction_id(seed: int, number: int) -> str:
    """The deterministic uuid of transaction number ``number``."""
    digest = hashlib.md5(f"{seed}:transaction:{number}".encode()).digest()
    return str(uuid.UUID(bytes=digest, version=4))


FIRST = ["Ana", "Bo", "Chen", "Dara", "Émile", "Farah", "Gus", "Hiro", "Ines", "Jo"]
LAST = ["Okafor", "Smith", "Nguyen", "García", "Müller", "Kowalski", "O'Brien", "Lee"]
CITIES = ["Portland", "Austin", "Québec", "São Paulo", "Zürich", "Osaka", "Leeds"]
JSON_VALUES = [
    {"source": "web", "ref": None},
    {"a": [{"b": {"c": [1, None, "x", {"d": []}]}}], "n": 1.5e-7},
    None,  # JSON null as the whole value
    {},
    [],
    {"quote": 'say "hi"', "nl": "a\nb", "tab": "\t", "uni": "é😀", "bs": "\\"},
    [1, "two", [3, [4, [5]]], {"six": 6}],
    "just a string",
    {"big": 123456789012345678901234567890, "neg": -0.0, "t": True},
]
TAG_VALUES = [
    [],
    ["plumbing", None, ""],
    ["with,comma", 'with "quote"', "{brace}", "back\\slash"],
    None,
    ["urgent"],
    ["NULL", "null", " "],
]
NUMERIC_VALUES = ["NaN", "123456789012345678901234567890.123456789012345", "1e-20"]


# -- tables ---------------------------------------------------------------------


class _Tables:
    """Row generators for every table at one scale."""

    def __init__(self, scale: int, seed: int) -> None:
        self.n = {t: c * scale for t, c in BASE_COUNTS.items()}
        self.seed = seed
        self.scale = scale

    def rng(self, table: str) -> random.Random:
        index = list(BASE_COUNTS).index(table)
        return random.Random(self.seed * 1000 + index)

    def landlord_of_property(self, prop: int) -> int:
        return (prop - 1) % self.n["landlord_profiles"] + 1

    def property_of_job(self, job: int) -> int:
        return (job - 1) % self.n["properties"] + 1

    def bid_contractor(self, bid: int) -> int:
        k = bid - 1
        jobs = self.n["jobs"]
        return (k % jobs + k // jobs) % self.n["contractor_profiles"] + 1

    def bid_job(self, bid: int) -> int:
        return (bid - 1) % self.n["jobs"] + 1

    def contractor_user(self, contractor: int) -> int:
        return self.n["landlord_profiles"] + contractor

    # Each generator yields tuples in the column order of COLUMNS[table].

    def users(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("users")
        landlords = self.n["landlord_profiles"]
        contractors = self.n["contractor_profiles"]
        for i in range(1, self.n["users"] + 1):
            role = (
                "landlord"
                if i <= landlords
                else "contractor"
                if i <= landlords + contractors
                else "admin"
            )
            created = _ts(rng)
            yield (
                i,
                f"user{i}@example.com",
                hashlib.sha256(f"pw{i}".encode()).hexdigest(),
                rng.choice(FIRST),
                rng.choice(LAST) if i % 7 else None,
                f"+1-555-{rng.randrange(10**7):07d}" if i % 3 else None,
                role,
                f"https://cdn.example.com/a/{i}.png" if i % 2 else None,
                i % 4 != 0,
                None,  # defaultPaymentMethodId: set once payment_methods exist
                _ts(rng) if i % 5 else None,
                created,
                created,
            )

    def payment_methods(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("payment_methods")
        for i in range(1, self.n["payment_methods"] + 1):
            yield (
                i,
                i,  # payment method i belongs to user i
                rng.choice(["card", "bank_account"]),
                rng.choice(["visa", "mastercard", "amex", None]),
                f"{rng.randrange(10_000):04d}",
                rng.randrange(1, 13),
                rng.randrange(2025, 2032),
                i % 2 == 1,
                _ts(rng),
            )

    def sessions(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("sessions")
        ips = ["192.168.0.1", "::1", "10.0.0.0/8", "2001:db8::1/64", "203.0.113.7/32"]
        for i in range(1, self.n["sessions"] + 1):
            expires = {1: "infinity", 2: "-infinity", 3: None}.get(i % 10, _ts(rng))
            yield (
                i,
                (i - 1) % self.n["users"] + 1,
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                ips[i % len(ips)] if i % 6 else None,
                "Mozilla/5.0 (X11; Linux x86_64)\tpgshift/1.0" if i % 2 else None,
                expires,
                _ts(rng),
            )

    def landlord_profiles(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("landlord_profiles")
        for i in range(1, self.n["landlord_profiles"] + 1):
            yield (
                i,
                i,  # landlord profile i belongs to user i
                f"{rng.choice(LAST)} Holdings, LLC" if i % 2 else None,
                f"{rng.randrange(1, 9999)} Main St",
                "Apt 4B" if i % 3 == 0 else None,
                rng.choice(CITIES),
                rng.choice(["OR", "TX", "QC", None]),
                f"{rng.randrange(10**5):05d}",
                rng.randrange(0, 40),
                _ts(rng),
            )

    def contractor_profiles(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("contractor_profiles")
        skills = [["plumbing", "drywall"], [], ["electrical", None], ["roof, gutters"]]
        for i in range(1, self.n["contractor_profiles"] + 1):
            yield (
                i,
                self.contractor_user(i),
                f"{rng.choice(LAST)} & Sons Repairs #{i}",
                f"LIC-{rng.randrange(10**6):06d}" if i % 2 else None,
                rng.randrange(0, 40),
                _money(rng, 25, 250),
                rng.randrange(5, 100),
                _array(skills[i % len(skills)]),
                HOSTILE_TEXTS[i % len(HOSTILE_TEXTS)] if i % 3 else None,
                f"{rng.randrange(100, 500) / 100:.2f}",
                i % 2 == 0,
                _ts(rng),
            )

    def service_categories(self) -> Iterator[tuple[Any, ...]]:
        names = ["Plumbing", "Electrical", "Roofing", "Painting", "Landscaping"]
        for i in range(1, self.n["service_categories"] + 1):
            root = (i - 1) % 5 == 0
            yield (
                i,
                f"{names[(i - 1) % 5]} {i}",
                f"{names[(i - 1) % 5].lower()}-{i}",
                None if root else i - (i - 1) % 5,
                "Repairs and installs; 24/7" if i % 2 else None,
                (i - 1) % 5,
            )

    def contractor_services(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("contractor_services")
        categories = self.n["service_categories"]
        for k in range(self.n["contractor_services"]):
            contractor = k // 2 + 1
            category = (contractor - 1 + k % 2) % categories + 1
            yield (contractor, category, _money(rng, 50, 500), _ts(rng))

    def properties(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("properties")
        for i in range(1, self.n["properties"] + 1):
            yield (
                i,
                self.landlord_of_property(i),
                f"Unit {i}" if i % 4 else None,
                f"{rng.randrange(1, 9999)} Oak Ave",
                None,
                rng.choice(CITIES),
                rng.choice(["OR", "TX", None]),
                f"{rng.randrange(10**5):05d}",
                rng.choice(["apartment", "house", "condo"]),
                rng.randrange(0, 6),
                rng.randrange(300, 5000),
                rng.uniform(-90, 90),
                rng.uniform(-180, 180),
                _ts(rng),
            )

    def jobs(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("jobs")
        statuses = [
            "draft",
            "open",
            "assigned",
            "in_progress",
            "completed",
            "cancelled",
        ]
        notes = {1: "", 2: None, 3: "NULL", 0: "\\N"}
        n_hostile = len(HOSTILE_TEXTS)
        for i in range(1, self.n["jobs"] + 1):
            prop = self.property_of_job(i)
            status = statuses[i % len(statuses)]
            created = _ts(rng)
            yield (
                i,
                prop,
                self.landlord_of_property(prop),
                (i - 1) % self.n["service_categories"] + 1,
                None if i % 3 == 0 else (i - 1) % self.n["contractor_profiles"] + 1,
                f"Fix the {rng.choice(['sink', 'roof', 'fence', 'heater'])} #{i}",
                HOSTILE_TEXTS[(i + 7) % n_hostile],
                notes[i % 4],
                status,
                i % 3 == 1,
                None if i % 5 == 0 else ("-0.00" if i % 5 == 1 else _money(rng)),
                rng.choice(["2025-03-01", "2024-12-31", None]),
                rng.choice(["08:30:00", "17:45:30.5", None]),
                None if TAG_VALUES[i % 6] is None else _array(TAG_VALUES[i % 6]),
                json.dumps(JSON_VALUES[i % len(JSON_VALUES)], ensure_ascii=i % 2 == 0),
                LONG_TEXT if i == 1 else ("Standard terms." if i % 2 else None),
                created,
                created,
                _ts(rng) if status == "completed" else None,
            )

    def job_photos(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("job_photos")
        for i in range(1, self.n["job_photos"] + 1):
            yield (
                i,
                (i - 1) % self.n["jobs"] + 1,
                f"https://cdn.example.com/jobs/{i}.jpg?w=800&h=600",
                "Before, after" if i % 3 else None,
                i % 4,
                _ts(rng),
            )

    def bids(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("bids")
        statuses = ["pending", "accepted", "rejected", "withdrawn"]
        for i in range(1, self.n["bids"] + 1):
            yield (
                i,
                self.bid_job(i),
                self.bid_contractor(i),
                _money(rng),
                HOSTILE_TEXTS[i % len(HOSTILE_TEXTS)] if i % 2 else None,
                statuses[i % 4],
                rng.randrange(1, 30) if i % 3 else None,
                _ts(rng),
            )

    def quotes(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("quotes")
        for i in range(1, self.n["quotes"] + 1):
            yield (
                i,
                self.bid_job(i),
                self.bid_contractor(i),
                i if i % 4 else None,
                _money(rng),
                rng.choice(["2025-06-30", None]),
                "Includes materials, labour" if i % 2 else "",
                "Net 30." if i % 3 else None,
                _ts(rng),
            )

    def quote_line_items(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("quote_line_items")
        for i in range(1, self.n["quote_line_items"] + 1):
            quantity = NUMERIC_VALUES[i % 3] if i % 4 == 0 else str(rng.randrange(1, 9))
            yield (
                i,
                (i - 1) % self.n["quotes"] + 1,
                rng.choice(["Copper pipe, 2m", "Labour (hours)", 'Valve ½"']),
                quantity,
                _money(rng, 1, 400),
                i % 5,
            )

    def invoices(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("invoices")
        statuses = ["draft", "sent", "paid", "overdue", "void"]
        due = ["0001-01-01", "9999-12-31", "2025-02-28", None]
        tax = ["0.0825", "NaN", "123456789012345678901234567890.123456789012345"]
        for i in range(1, self.n["invoices"] + 1):
            job = self.bid_job(i)
            yield (
                i,
                f"INV-{i:08d}",
                job,
                i,
                self.bid_contractor(i),
                self.landlord_of_property(self.property_of_job(job)),
                statuses[i % 5],
                _money(rng),
                tax[i % 3] if i % 2 else None,
                _money(rng),
                due[i % 4],
                _ts(rng) if i % 5 == 2 else None,
                _ts(rng),
            )

    def invoice_line_items(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("invoice_line_items")
        for i in range(1, self.n["invoice_line_items"] + 1):
            quantity = (
                NUMERIC_VALUES[i % 3] if i % 3 == 0 else f"{rng.random() * 10:.4f}"
            )
            yield (
                i,
                (i - 1) % self.n["invoices"] + 1,
                rng.choice(["Call-out fee", "Parts", "Labour"]),
                quantity,
                _money(rng, 1, 900),
                "-0.00" if i % 7 == 0 else _money(rng),
            )

    def transactions(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("transactions")
        for i in range(1, self.n["transactions"] + 1):
            job = self.bid_job(i)
            payer = self.landlord_of_property(self.property_of_job(job))
            yield (
                transaction_id(self.seed, i),
                i,
                payer,
                self.contractor_user(self.bid_contractor(i)),
                payer if payer <= self.n["payment_methods"] else None,
                _money(rng),
                rng.choice(["USD", "CAD", "EUR"]),
                rng.choice(["succeeded", "pending", "failed"]),
                f"ch_{rng.getrandbits(64):016x}",
                json.dumps(JSON_VALUES[(i + 3) % len(JSON_VALUES)]),
                _ts(rng),
            )

    def payouts(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("payouts")
        for i in range(1, self.n["payouts"] + 1):
            yield (
                i,
                self.bid_contractor(i),
                transaction_id(self.seed, i),
                _money(rng),
                rng.choice(["2025-01-15", None]),
                _ts(rng) if i % 2 else None,
                _ts(rng),
            )

    def reviews(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("reviews")
        for i in range(1, self.n["reviews"] + 1):
            job = (i - 1) % self.n["jobs"] + 1
            landlord_user = self.landlord_of_property(self.property_of_job(job))
            contractor = (i - 1) % self.n["contractor_profiles"] + 1
            yield (
                i,
                job,
                landlord_user,
                self.contractor_user(contractor),
                i % 5 + 1,
                HOSTILE_TEXTS[(i + 3) % len(HOSTILE_TEXTS)] if i % 2 else None,
                _ts(rng),
            )

    def chat_rooms(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("chat_rooms")
        for i in range(1, self.n["chat_rooms"] + 1):
            yield (
                i,
                None if i % 3 == 0 else (i - 1) % self.n["jobs"] + 1,
                f"Job chat #{i}" if i % 2 else None,
                i % 4 == 0,
                _ts(rng),
                _ts(rng) if i % 2 else None,
            )

    def chat_participants(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("chat_participants")
        landlords = self.n["landlord_profiles"]
        contractors = self.n["contractor_profiles"]
        for k in range(self.n["chat_participants"]):
            room = k // 2 + 1
            if k % 2 == 0:
                user = (room - 1) % landlords + 1
            else:
                user = self.contractor_user((room - 1) % contractors + 1)
            yield (k + 1, room, user, _ts(rng), _ts(rng) if k % 3 else None)

    def messages(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("messages")
        rooms = self.n["chat_rooms"]
        landlords = self.n["landlord_profiles"]
        contractors = self.n["contractor_profiles"]
        for i in range(1, self.n["messages"] + 1):
            room = (i - 1) % rooms + 1
            if i % 2:
                sender = (room - 1) % landlords + 1
            else:
                sender = self.contractor_user((room - 1) % contractors + 1)
            reply = i - rooms if i > rooms and i % 2 == 0 else None
            yield (
                i,
                room,
                sender,
                HOSTILE_TEXTS[(i - 1) % len(HOSTILE_TEXTS)],
                reply,
                json.dumps(JSON_VALUES[i % len(JSON_VALUES)]) if i % 3 == 0 else None,
                {0: None, 1: True, 2: False}[i % 3],
                _ts(rng) if i % 2 else None,
                _ts(rng),
            )

    def notifications(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("notifications")
        for i in range(1, self.n["notifications"] + 1):
            yield (
                i,
                (i - 1) % self.n["users"] + 1,
                rng.choice(["bid.received", "job.assigned", "invoice.paid"]),
                "You have news" if i % 2 else None,
                HOSTILE_TEXTS[(i + 5) % len(HOSTILE_TEXTS)] if i % 3 else None,
                json.dumps({"id": i, "nested": {"ok": i % 2 == 0}}),
                i % 3 == 0,
                _ts(rng),
            )

    def disputes(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("disputes")
        for i in range(1, self.n["disputes"] + 1):
            yield (
                i,
                self.bid_job(i),
                i if i % 2 else None,
                (i - 1) % self.n["users"] + 1,
                "Work not finished;\nroof still leaks",
                rng.choice(["open", "resolved"]),
                None,
                _ts(rng),
                None,
            )

    def contractor_availability(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("contractor_availability")
        for i in range(1, self.n["contractor_availability"] + 1):
            start, end = [("00:00:00", "24:00:00"), ("08:00:00", "17:30:00")][i % 2]
            yield (
                i,
                (i - 1) % self.n["contractor_profiles"] + 1,
                i % 7,
                start,
                end,
                rng.choice(["America/Los_Angeles", "Europe/Zürich", None]),
            )

    def audit_events(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng("audit_events")
        occurred = {1: "infinity", 2: "-infinity", 3: None}
        for i in range(1, self.n["audit_events"] + 1):
            yield (
                None if i % 4 == 0 else (i - 1) % self.n["users"] + 1,
                rng.choice(["login", "job.create", "bid.accept", "user.update"]),
                rng.choice(["job", "user", None]),
                str(rng.randrange(1, 10**6)),
                json.dumps(JSON_VALUES[i % len(JSON_VALUES)], ensure_ascii=False),
                ["127.0.0.1", "::ffff:10.1.2.3", "192.0.2.0/24", None][i % 4],
                occurred.get(i % 10, _ts(rng)[:26]),
                _ts(rng),
            )

    def waitlist_entries(self) -> Iterator[tuple[Any, ...]]:
        return iter(())


COLUMNS = {
    "users": 'id, email, "passwordHash", "firstName", "lastName", "phoneNumber", role, '
    '"avatarUrl", "isVerified", "defaultPaymentMethodId", "lastLoginAt", '
    '"createdAt", "updatedAt"',
    "payment_methods": 'id, "userId", type, brand, last4, "expMonth", "expYear", '
    '"isDefault", "createdAt"',
    "sessions": 'id, "userId", token, "ipAddress", "userAgent", "expiresAt", '
    '"createdAt"',
    "landlord_profiles": 'id, "userId", "companyName", "addressLine1", '
    '"addressLine2", city, state, "postalCode", "propertiesCount", "createdAt"',
    "contractor_profiles": 'id, "userId", "businessName", "licenseNumber", '
    '"yearsExperience", "hourlyRate", "serviceRadius", skills, bio, rating, '
    '"isVerified", "createdAt"',
    "service_categories": 'id, name, slug, "parentCategoryId", description, '
    '"sortOrder"',
    "contractor_services": '"contractorId", "categoryId", "baseRate", "createdAt"',
    "properties": 'id, "landlordId", name, "addressLine1", "addressLine2", city, '
    'state, "postalCode", "propertyType", bedrooms, "squareFeet", latitude, '
    'longitude, "createdAt"',
    "jobs": 'id, "propertyId", "landlordId", "categoryId", "assignedContractorId", '
    'title, description, notes, status, "isUrgent", budget, "scheduledDate", '
    '"preferredTime", tags, metadata, "termsAndConditions", "createdAt", '
    '"updatedAt", "completedAt"',
    "job_photos": 'id, "jobId", url, caption, "sortOrder", "uploadedAt"',
    "bids": 'id, "jobId", "contractorId", amount, message, status, '
    '"estimatedDays", "createdAt"',
    "quotes": 'id, "jobId", "contractorId", "bidId", "totalAmount", "validUntil", '
    'notes, "termsAndConditions", "createdAt"',
    "quote_line_items": 'id, "quoteId", description, quantity, "unitPrice", '
    '"sortOrder"',
    "invoices": 'id, "invoiceNumber", "jobId", "quoteId", "contractorId", '
    '"landlordId", status, subtotal, "taxRate", "totalAmount", "dueDate", '
    '"paidAt", "createdAt"',
    "invoice_line_items": 'id, "invoiceId", description, quantity, "unitPrice", amount',
    "transactions": 'id, "invoiceId", "payerId", "payeeId", "paymentMethodId", '
    'amount, currency, status, "processorRef", metadata, "createdAt"',
    "payouts": 'id, "contractorId", "transactionId", amount, "scheduledFor", '
    '"paidAt", "createdAt"',
    "reviews": 'id, "jobId", "reviewerId", "revieweeId", rating, comment, "createdAt"',
    "chat_rooms": 'id, "jobId", title, "isArchived", "createdAt", "lastMessageAt"',
    "chat_participants": 'id, "chatRoomId", "userId", "joinedAt", "lastReadAt"',
    "messages": 'id, "chatRoomId", "senderId", content, "replyToId", attachments, '
    '"isEdited", "readAt", "createdAt"',
    "notifications": 'id, "userId", type, title, body, data, "isRead", "createdAt"',
    "disputes": 'id, "jobId", "invoiceId", "raisedById", reason, status, '
    'resolution, "createdAt", "resolvedAt"',
    "contractor_availability": 'id, "contractorId", "dayOfWeek", "startTime", '
    '"endTime", timezone',
    "audit_events": '"actorId", action, "entityType", "entityId", payload, '
    '"ipAddress", "occurredAt", "recordedAt"',
    "waitlist_entries": 'id, email, "fullName", role, "referralCode", "createdAt"',
}
"""The columns each generator fills, in order (audit_events ids are generated)."""


def expected_counts(scale: int) -> dict[str, int]:
    """The exact row count of every table at a scale.

    Args:
        scale: The scale (1 gives the report's counts).

    Returns:
        Table name to row count.
    """
    return {table: count * scale for table, count in BASE_COUNTS.items()}


def create_schema(conn: Any) -> None:
    """Drop the sample's tables and types if present, then create them.

    Args:
        conn: An open psycopg2 connection to the source database.
    """
    with conn.cursor() as cur:
        for table in reversed(list(BASE_COUNTS)):
            cur.execute(f'drop table if exists "{table}" cascade')
        for enum in ("user_role", "job_status", "bid_status", "invoice_status"):
            cur.execute(f"drop type if exists {enum} cascade")
        cur.execute(SCHEMA_SQL.read_text(encoding="utf-8"))
    conn.commit()


def seed(
    conn: Any,
    scale: int = 1,
    seed: int = 42,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Fill every table of the sample schema.

    Args:
        conn: An open psycopg2 connection to a database made by create_schema.
        scale: Rows per table are scale times the scale-1 counts.
        seed: The RNG seed; the same seed and scale give the same content.
        progress: Called with (table, rows) after each table.

    Returns:
        Table name to the number of rows written.
    """
    if scale < 1:
        raise ValueError("scale must be at least 1")
    tables = _Tables(scale, seed)
    counts: dict[str, int] = {}
    with conn.cursor() as cur:
        for table in BASE_COUNTS:
            rows = getattr(tables, table)()
            cur.copy_expert(
                f'copy "{table}" ({COLUMNS[table]}) from stdin', _CopyStream(rows)
            )
            counts[table] = tables.n[table]
            if progress is not None:
                progress(table, counts[table])
            logger.info("seeded %s: %d rows", table, counts[table])
        # The users <-> payment_methods cycle: odd users up to the number of
        # payment methods get theirs (payment method i belongs to user i).
        cur.execute(
            'update users set "defaultPaymentMethodId" = id '
            "where id <= %s and id %% 2 = 1",
            (tables.n["payment_methods"],),
        )
        for table in BASE_COUNTS:
            cur.execute(
                "select pg_get_serial_sequence(attrelid::regclass::text, 'id') "
                "from pg_attribute where attrelid = %s::regclass and attname = 'id'",
                (f'public."{table}"',),
            )
            found = cur.fetchone()
            sequence = found[0] if found else None
            if sequence:
                cur.execute(
                    f'select setval(%s, coalesce(max(id), 0) + 1, false) from "{table}"',
                    (sequence,),
                )
        cur.execute("analyze")
    conn.commit()
    return counts
