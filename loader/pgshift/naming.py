"""Source-to-target naming: camelCase and PascalCase identifiers to snake_case.

The rules (see the README's "Naming rules"):

* a word boundary sits between a lowercase letter or a digit and an uppercase
  letter (``userId`` -> ``user_id``, ``address2Line`` -> ``address2_line``);
* an acronym ends before its last capital when a lowercase letter follows
  (``HTMLContent`` -> ``html_content``, ``userID`` -> ``user_id``), except
  a plural ``s`` that ends the word (``userIDs`` -> ``user_ids``,
  ``imageURLs`` -> ``image_urls``, ``FAQs`` -> ``faqs``): an ``s`` followed
  by the end of the name or by anything but a lowercase letter;
* letters and the digits after them stay together (``addressLine1`` ->
  ``address_line1``);
* characters that cannot appear in an unquoted identifier become ``_``;
* names that are already snake_case are returned unchanged.

Two source names that map to one target name, and target names longer than
PostgreSQL's 63-byte identifier limit, are refused with a message that names
them and the override entry that resolves the conflict: nothing is ever
merged or truncated silently.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger(__name__)

MAX_IDENTIFIER_BYTES = 63
"""PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1)."""


OVERRIDE_KEYS = (
    "tables",
    "columns",
    "objects",
    "types",
    "schemas",
    "intended_differences",
    "keep_object_names",
    "reviewed_routines",
)
"""The sections of the override file (``Overrides``); any other is refused."""


class NamingError(ValueError):
    """A set of names cannot be mapped without losing or merging one of them."""


def to_snake(name: str) -> str:
    """Convert one identifier to snake_case following the project's rules.

    Args:
        name: The source identifier, exactly as it is in the catalog.

    Returns:
        The snake_case identifier. Already snake_case names come back unchanged.
    """
    out: list[str] = []
    for i, char in enumerate(name):
        prev = name[i - 1] if i else ""
        nxt = name[i + 1] if i + 1 < len(name) else ""
        if not (char.isalnum() or char == "_"):
            char = "_"
        if char.isupper() and prev and out and out[-1] != "_":
            starts_word = prev.islower() or prev.isdigit()
            ends_acronym = (
                prev.isupper() and nxt.islower() and not _plural_s(name, i + 1)
            )
            if starts_word or ends_acronym:
                out.append("_")
        out.append(char.lower())
    return "".join(out)


def _plural_s(name: str, at: int) -> bool:
    """Tell whether ``name[at]`` is an ``s`` ending a word (``IDs``, ``URLs``)."""
    after = name[at + 1 : at + 2]
    return name[at] == "s" and not after.islower()


MIGRATION_TOOL_TABLES = {
    "SequelizeMeta": "Sequelize's record of the migrations it ran",
    "SequelizeData": "Sequelize's record of the seeders it ran",
    "__EFMigrationsHistory": "Entity Framework's record of the migrations it ran",
    "DATABASECHANGELOG": "Liquibase's record of the changesets it ran",
    "DATABASECHANGELOGLOCK": "Liquibase's migration lock",
}
"""Tables a schema-migration tool keeps by these names, with their columns.

The application's tool reads them by name at every deploy: renamed, it
would find no record and run every migration again. They keep their names
and their columns' unless the override file names them.
"""

MIGRATION_RECORDS = frozenset(
    {
        "alembic_version",
        "django_migrations",
        "schema_migrations",
        "_prisma_migrations",
        "flyway_schema_history",
        "SequelizeMeta",
        "__EFMigrationsHistory",
        "DATABASECHANGELOG",
        "goose_db_version",
        "mikro_orm_migrations",
        "kysely_migration",
        "pgmigrations",
        "__diesel_schema_migrations",
        "_sqlx_migrations",
        "schema_version",
    }
)
"""The tables schema-migration tools keep the migrations they ran in."""

KNEX_RECORD = frozenset({"id", "name", "batch", "migration_time"})
"""The columns of knex's record (``knex_migrations`` unless the application
names it)."""

KNEX_LOCK = frozenset({"index", "is_locked"})
"""The columns of its lock, the record's name and ``_lock``."""


def is_migration_record(name: str, columns: Sequence[str]) -> bool:
    """Whether a table is a schema-migration tool's record of what it ran."""
    return name in MIGRATION_RECORDS or set(columns) >= KNEX_RECORD


PRISMA_RELATION_TABLE = (
    "Prisma's implicit many-to-many relation table (Prisma names it "
    "_<relation>, its columns A and B, and a Prisma schema cannot map them "
    "to other names)"
)


def tool_tables(
    columns: Mapping[str, Sequence[str]],
    objects: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, str]:
    """The tables a schema tool reads by their names, each with what it is.

    Args:
        columns: Each source table's column names.
        objects: Each source table's key and index names, where known.

    Returns:
        Table to what it is: the migration tools' own tables
        (``MIGRATION_TOOL_TABLES``) and every ``_<relation>`` table of
        columns ``A`` and ``B`` in a schema Prisma migrates (it holds
        ``_prisma_migrations``) or keyed as Prisma keys it
        (``_<relation>_AB_unique`` or ``_<relation>_AB_pkey``: a schema
        made by ``prisma db push``, or one whose ``_prisma_migrations`` the
        run leaves out): Prisma's implicit many-to-many relations, which
        the next version of the application still reads by those names.
        They keep their names, their columns' and their keys' and indexes'
        unless the override file names them.
    """
    kept = {t: what for t, what in MIGRATION_TOOL_TABLES.items() if t in columns}
    prisma = "_prisma_migrations" in columns
    for table, names in columns.items():
        if not table.startswith("_") or sorted(names) != ["A", "B"]:
            continue
        keyed = {f"{table}_AB_unique", f"{table}_AB_pkey"} & set(
            (objects or {}).get(table, ())
        )
        if prisma or keyed:
            kept[table] = PRISMA_RELATION_TABLE
    return kept


@dataclass
class Overrides:
    """Explicit target names chosen by the user, read from a YAML file.

    The file looks like::

        tables:
          InvoiceLine: invoice_lines
        columns:
          users:
            userID: legacy_user_id
        objects:
          InvoiceLine:
            InvoiceLine_account_line_idx: invoice_lines_by_account
        types:
          DocumentStatus: doc_status
        schemas:
          Billing: accounts_billing
        intended_differences:
          - "users.legacy_user_id: comment"
        keep_object_names: true
        reviewed_routines:
          - create_v1_range_partition
          - "count_rows(p_table text)"

    Keys are source names; values are target names. ``objects`` names a
    table's constraints, indexes and sequences (by source table).
    ``keep_object_names`` keeps the source's name of every constraint, index
    and sequence that does not start with its table's name (TypeORM's
    ``PK_<hash>``, which an application's own migrations name), instead of
    the naming rules' snake_case.
    ``schemas`` names the final schema of a source schema, which every
    command reads when not given ``--final-schema``
    (``pgshift.schemas.run_schemas``).
    ``intended_differences`` lists prefixes of schema-parity lines that are
    wanted, not failures.
    ``reviewed_routines`` lists the routines running dynamic SQL that the
    team reviewed, each by name (every routine of that name) or as
    ``name(arguments)`` the way scaffold prints it: they are created with
    their dynamic SQL as written.
    """

    tables: dict[str, str] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    objects: dict[str, dict[str, str]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    schemas: dict[str, str] = field(default_factory=dict)
    intended_differences: list[str] = field(default_factory=list)
    keep_object_names: bool = False
    reviewed_routines: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path | None) -> Overrides:
        """Read an override file; a missing path gives no overrides.

        Args:
            path: The YAML file, or None.

        Returns:
            The overrides it declares.

        Raises:
            NamingError: The file is not a mapping of the documented shape.
        """
        if path is None or not path.exists():
            return cls()
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise NamingError(
                f"{path}: the override file must be a mapping of sections "
                f"({', '.join(OVERRIDE_KEYS)})"
            )
        unknown = [str(k) for k in data if k not in OVERRIDE_KEYS]
        if unknown:
            raise NamingError(
                "\n".join(
                    f"{path}: unknown section {key!r}{_did_you_mean(key)}; the "
                    f"sections are {', '.join(OVERRIDE_KEYS)}"
                    for key in unknown
                )
            )
        tables = data.get("tables") or {}
        columns = data.get("columns") or {}
        objects = data.get("objects") or {}
        types = data.get("types") or {}
        schemas = data.get("schemas") or {}
        if not all(
            isinstance(m, dict) for m in (tables, columns, objects, types, schemas)
        ):
            raise NamingError(
                f"{path}: 'tables', 'columns', 'objects', 'types' and 'schemas' "
                "must be mappings of source name to target name"
            )
        return cls(
            intended_differences=[
                str(d) for d in data.get("intended_differences") or []
            ],
            tables={str(k): str(v) for k, v in tables.items()},
            columns=_per_table(columns),
            objects=_per_table(objects),
            types={str(k): str(v) for k, v in types.items()},
            schemas={str(k): str(v) for k, v in schemas.items()},
            keep_object_names=_flag(data, "keep_object_names", path),
            reviewed_routines=_names_listed(data, "reviewed_routines", path),
        )


def closest_names(name: str, known: Iterable[str]) -> list[str]:
    """The known names a mistyped one most likely meant.

    Up to three close ones, then any that differs from it in case alone.
    """
    known = list(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    return close + [k for k in known if k.lower() == name.lower() and k not in close]


def _did_you_mean(key: str) -> str:
    """`` (did you mean 'tables'?)`` for a section name close to a known one."""
    close = difflib.get_close_matches(key.lower(), OVERRIDE_KEYS, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _flag(data: dict[str, Any], key: str, path: Path) -> bool:
    """A true or false entry of the override file (false when absent)."""
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise NamingError(f"{path}: '{key}' must be true or false, not {value!r}")
    return value


def _names_listed(data: dict[str, Any], key: str, path: Path) -> list[str]:
    """A list of names of the override file (empty when absent)."""
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise NamingError(
            f"{path}: '{key}' must be a list of names, such as "
            "'- count_rows(p_table text)', as scaffold prints them"
        )
    return [v.strip() for v in value]


def _per_table(entries: dict[Any, Any]) -> dict[str, dict[str, str]]:
    """Table name to its source-to-target names, from the override file."""
    return {
        str(t): {str(k): str(v) for k, v in (names or {}).items()}
        for t, names in entries.items()
    }


def map_names(
    names: Iterable[str],
    overrides: Mapping[str, str],
    *,
    what: str,
    override_path: str,
) -> dict[str, str]:
    """Map a set of sibling names (tables of a schema, columns of a table).

    Args:
        names: Source names, in catalog order.
        overrides: Source name to explicit target name.
        what: How to describe the names in messages, e.g. "column of users".
        override_path: The override-file entry prefix to suggest in messages,
            e.g. "columns: users:".

    Returns:
        Source name to target name, in the order given.

    Raises:
        NamingError: Two names map to one target, or a target is too long.
    """
    mapping: dict[str, str] = {}
    taken: dict[str, str] = {}
    problems: list[str] = []
    for source in names:
        target = overrides.get(source) or to_snake(source)
        if len(target.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
            problems.append(
                f"{what} {source!r} maps to {target!r}, which is longer than "
                f"PostgreSQL's {MAX_IDENTIFIER_BYTES}-byte limit; choose a "
                f"shorter name in the override file under '{override_path}' "
                f"({source}: <new_name>)"
            )
        if target in taken:
            problems.append(
                f"{what} {taken[target]!r} and {source!r} both map to "
                f"{target!r}; give one of them another name in the override "
                f"file under '{override_path}' ({source}: <new_name>)"
            )
        taken.setdefault(target, source)
        mapping[source] = target
    if problems:
        raise NamingError("\n".join(problems))
    return mapping
