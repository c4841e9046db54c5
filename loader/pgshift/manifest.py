"""What the load records on the target, and what scaffold records for dbt.

Two contracts between phases live here, each in one place:

* the load's tables beside the raw tables: ``_pgshift_manifest`` (per source
  table, the row count and content checksum inside the snapshot, with the
  snapshot's id and time) and ``_pgshift_not_migrated`` (what the source
  holds that stays behind). The load writes them; the dbt test
  ``pgshift_matches_source``, ``verify`` and the report read them. The dbt
  side reads the table through the ``manifest_table`` var, which
  ``transform.run_dbt`` fills from ``MANIFEST_TABLE``.
* ``meta.pgshift`` of each final model, written by scaffold and read by the
  macros that finish and publish a table (declared below as TypedDicts and in
  ``macros/_macros.yml``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

from psycopg2 import sql

from pgshift.connection import relation_exists

MANIFEST_TABLE = "_pgshift_manifest"
"""Per source table: rows and checksum inside the snapshot."""
NOT_MIGRATED_TABLE = "_pgshift_not_migrated"
"""Source objects left behind, with the reason."""
BUILT_TABLE = "_pgshift_built"
"""The final tables pgshift built (the guard lets a build replace only these)."""
CARRIED_TABLE = "_pgshift_carried_over"
"""What the last publish recreated of the target's own objects on the tables
it replaced (views, foreign keys, indexes, triggers, policies, grants,
comments, publications, owners), or left out."""


@dataclass(frozen=True)
class ManifestRow:
    """What the snapshot held of one source table.

    Attributes:
        table_name: The source table's name.
        source_rows: Its rows inside the snapshot.
        source_checksum: Its content checksum inside the snapshot
            (``pgshift.checksum``).
        snapshot_id: The exported snapshot the load read.
        snapshot_taken_at: The source clock at the snapshot.
        source_database: The source URL, without its password.
    """

    table_name: str
    source_rows: int
    source_checksum: str
    snapshot_id: str
    snapshot_taken_at: str
    source_database: str


_COLUMNS = (
    "table_name",
    "source_rows",
    "source_checksum",
    "snapshot_id",
    "snapshot_taken_at",
    "source_database",
)

_CREATE_MANIFEST = """
create table {} (
    table_name text primary key,
    source_rows bigint not null,
    source_checksum text not null,
    snapshot_id text not null,
    snapshot_taken_at timestamptz not null,
    source_database text not null,
    loaded_at timestamptz not null default now()
)
"""


def drop_manifest(cursor: Any, schema: str) -> None:
    """Remove the manifest, so that a load cut off midway leaves none."""
    cursor.execute(
        sql.SQL("drop table if exists {}").format(
            sql.Identifier(schema, MANIFEST_TABLE)
        )
    )


def write_manifest(
    cursor: Any,
    schema: str,
    rows: Sequence[ManifestRow],
    not_migrated: Sequence[tuple[str, str, str]] = (),
) -> None:
    """Rewrite the manifest and the not-migrated list whole.

    Args:
        cursor: A cursor on the target, inside the transaction to write in.
        schema: The schema beside the raw tables.
        rows: One row per loaded table.
        not_migrated: (kind, name, reason) of source objects left behind.
    """
    manifest = sql.Identifier(schema, MANIFEST_TABLE)
    drop_manifest(cursor, schema)
    cursor.execute(sql.SQL(_CREATE_MANIFEST).format(manifest))
    cursor.executemany(
        sql.SQL("insert into {} ({}) values ({})").format(
            manifest,
            sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)),
            sql.SQL(", ").join(sql.Placeholder() * len(_COLUMNS)),
        ),
        [tuple(getattr(row, name) for name in _COLUMNS) for row in rows],
    )
    skipped = sql.Identifier(schema, NOT_MIGRATED_TABLE)
    cursor.execute(sql.SQL("drop table if exists {}").format(skipped))
    cursor.execute(
        sql.SQL(
            "create table {} (kind text not null, object_name text not null, "
            "reason text not null)"
        ).format(skipped)
    )
    cursor.executemany(
        sql.SQL(
            "insert into {} (kind, object_name, reason) values (%s, %s, %s)"
        ).format(skipped),
        list(not_migrated),
    )


def read_manifest(cursor: Any, schema: str) -> list[ManifestRow] | None:
    """The manifest's rows, by table name; None when no load has finished."""
    relation = sql.Identifier(schema, MANIFEST_TABLE)
    if not relation_exists(cursor, relation.as_string(cursor)):
        return None
    cursor.execute(
        sql.SQL("select {} from {} order by table_name").format(
            sql.SQL(", ").join(
                sql.SQL("{}::text").format(sql.Identifier(name))
                if name == "snapshot_taken_at"
                else sql.Identifier(name)
                for name in _COLUMNS
            ),
            relation,
        )
    )
    return [ManifestRow(*row) for row in cursor.fetchall()]


def read_not_migrated(cursor: Any, schema: str) -> list[str]:
    """What the load recorded as left behind, one line each."""
    relation = sql.Identifier(schema, NOT_MIGRATED_TABLE)
    if not relation_exists(cursor, relation.as_string(cursor)):
        return []
    cursor.execute(
        sql.SQL(
            "select kind, object_name, reason from {} order by kind, object_name"
        ).format(relation)
    )
    return [f"{kind} {name}: {reason}" for kind, name, reason in cursor.fetchall()]


@dataclass(frozen=True)
class CarriedOver:
    """One object of the target's that depended on a replaced final table.

    Attributes:
        kind: "view", "index", "grant", "comment", ...
        object: What it is, as "schema.relation[.name]" (a grant:
            "schema.relation to role"; a publication: "... in name").
        on_table: The relation it is on, as "schema.relation".
        outcome: "recreated", "dropped" (it could not be, and the run was
            told to leave such objects out) or "replaced" (a comment the
            source's replaces).
        detail: Why, for the last two.
    """

    kind: str
    object: str
    on_table: str
    outcome: str
    detail: str

    def describe(self) -> str:
        """One line for the report."""
        line = f"{self.kind} {self.object}: {self.outcome}"
        return f"{line} ({self.detail})" if self.detail else line


def read_carried_over(cursor: Any, schema: str) -> list[CarriedOver]:
    """What the last publish did with the target's own dependent objects."""
    relation = sql.Identifier(schema, CARRIED_TABLE)
    if not relation_exists(cursor, relation.as_string(cursor)):
        return []
    cursor.execute(
        sql.SQL(
            "select kind, object, on_table, outcome, detail from {} "
            "order by on_table, kind, object"
        ).format(relation)
    )
    return [CarriedOver(*row) for row in cursor.fetchall()]


# --------------------------------------------------------------------------
# meta.pgshift: what scaffold tells the macros about each final model


class KeyMeta(TypedDict):
    """A primary key or unique constraint, added once the rows are in."""

    name: str
    type: str  # "primary_key" or "unique"
    columns: list[str]
    definition: str  # pg_get_constraintdef() with the target column names


class IndexMeta(TypedDict):
    """A secondary index."""

    name: str
    unique: bool
    using: str  # what follows USING in pg_get_indexdef(), columns renamed


class ForeignKeyMeta(TypedDict):
    """A foreign key to another final model."""

    name: str
    columns: list[str]
    to: str  # the parent's model name
    to_columns: list[str]
    options: NotRequired[str]  # ON DELETE / ON UPDATE / DEFERRABLE clauses


class SerialMeta(TypedDict):
    """A serial column: the sequence it owns on the source."""

    column: str
    sequence: str
    data_type: str


class IdentityMeta(TypedDict):
    """An identity column: BY DEFAULT during the insert, ALWAYS if the source's is."""

    column: str
    always: bool


class PgshiftMeta(TypedDict):
    """``meta.pgshift`` of a final model: its presence marks a final model."""

    source_table: str
    staging_model: str
    keys: list[KeyMeta]
    identities: list[IdentityMeta]
    serials: list[SerialMeta]
    foreign_keys: list[ForeignKeyMeta]
    indexes: list[IndexMeta]
