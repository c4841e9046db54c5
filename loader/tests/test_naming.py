"""The naming rules: examples from the design, properties, collisions, overrides."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pgshift.catalog import Catalog, Column, Constraint, ForeignKey, Index, Table
from pgshift.cli import generated_name_notes, reserved_word_notes, shortened_notes
from pgshift.expressions import ExpressionError, rename_columns
from pgshift.mapping import (
    NameMap,
    build_map,
    name_label,
    shorten_object_name,
    target_object_name,
)
from pgshift.naming import (
    MAX_IDENTIFIER_BYTES,
    NamingError,
    Overrides,
    map_names,
    to_snake,
)
from pgshift.scaffold.supported import ScaffoldError, check_references
from pgshift.sqlident import needs_quoting


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("userId", "user_id"),
        ("isUrgent", "is_urgent"),
        ("termsAndConditions", "terms_and_conditions"),
        ("contractorId", "contractor_id"),
        ("HTMLContent", "html_content"),
        ("userID", "user_id"),
        ("ID", "id"),
        ("URLSlug", "url_slug"),
        ("address2Line", "address2_line"),
        ("addressLine1", "address_line1"),
        ("InvoiceLine", "invoice_line"),
        ("chatRooms", "chat_rooms"),
        ("user_id", "user_id"),
        ("order", "order"),
        ("user", "user"),
        ("HTML5Content", "html5_content"),
        ("user_ID", "user_id"),
        ("Größe", "größe"),
        ("a__b", "a__b"),
        ("first name", "first_name"),
        ("userIdURL", "user_id_url"),
        ("userIDs", "user_ids"),
        ("imageURLs", "image_urls"),
        ("FAQs", "faqs"),
        ("IDs", "ids"),
        ("userIDsByRole", "user_ids_by_role"),
        ("URLs2", "urls2"),
    ],
)
def test_examples(source: str, target: str) -> None:
    assert to_snake(source) == target


identifier = st.text(
    alphabet=string.ascii_letters + string.digits + "_ éÉßü",
    min_size=1,
    max_size=40,
)
snake = st.from_regex(r"[a-z_][a-z0-9_]{0,30}", fullmatch=True)
acronym = st.from_regex(r"[A-Z]{2,6}", fullmatch=True)
word = st.from_regex(r"[a-z]{2,10}", fullmatch=True)


@given(identifier)
def test_idempotent(name: str) -> None:
    once = to_snake(name)
    assert to_snake(once) == once


@given(identifier)
def test_output_is_lowercase_without_spaces(name: str) -> None:
    out = to_snake(name)
    assert out == out.lower()
    assert " " not in out


@given(snake)
def test_snake_names_unchanged(name: str) -> None:
    assert to_snake(name) == name


@given(word, acronym, word)
def test_an_acronym_ends_before_the_next_word(
    before: str, letters: str, after: str
) -> None:
    # A two-letter word ending in s ("As", "Is") reads as a plural acronym.
    assume(not (len(after) == 2 and after.endswith("s")))
    expected = f"{before}_{letters.lower()}_{after}"
    assert to_snake(before + letters + after.capitalize()) == expected
    assert to_snake(letters + after.capitalize()) == f"{letters.lower()}_{after}"


@given(word, acronym, word)
def test_a_plural_acronym_keeps_its_s(before: str, letters: str, after: str) -> None:
    plural = letters.lower() + "s"
    assert to_snake(before + letters + "s") == f"{before}_{plural}"
    assert to_snake(letters + "s") == plural
    assert to_snake(before + letters + "s" + after.capitalize()) == (
        f"{before}_{plural}_{after}"
    )
    assert to_snake(f"{before}{letters}s_{after}") == f"{before}_{plural}_{after}"


@given(identifier)
def test_only_underscores_are_added(name: str) -> None:
    out = to_snake(name)
    stripped = "".join(c if (c.isalnum() or c == "_") else "_" for c in name)
    assert out.replace("_", "") == stripped.lower().replace("_", "")


def test_collision_names_both_and_the_override() -> None:
    with pytest.raises(NamingError) as err:
        map_names(
            ["userId", "userID", "email"],
            {},
            what="column of users",
            override_path="columns: users:",
        )
    message = str(err.value)
    assert "'userId'" in message and "'userID'" in message
    assert "columns: users:" in message


def test_override_resolves_collision() -> None:
    mapping = map_names(
        ["userId", "userID"],
        {"userID": "legacy_user_id"},
        what="column of users",
        override_path="columns: users:",
    )
    assert mapping == {"userId": "user_id", "userID": "legacy_user_id"}


def test_too_long_is_refused_never_truncated() -> None:
    name = "a" * 40 + "B" * 30
    with pytest.raises(NamingError, match="63-byte"):
        map_names([name], {}, what="table", override_path="tables:")
    assert len(to_snake("x" * MAX_IDENTIFIER_BYTES)) == MAX_IDENTIFIER_BYTES


def test_override_file(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "overrides.yml"
    path.write_text(
        "tables:\n  InvoiceLine: invoice_lines\ncolumns:\n  users:\n    userID: uid\n"
    )
    overrides = Overrides.load(path)
    assert overrides.tables == {"InvoiceLine": "invoice_lines"}
    assert overrides.columns == {"users": {"userID": "uid"}}
    assert Overrides.load(tmp_path / "missing.yml") == Overrides()
    # The routines whose dynamic SQL the team reviewed: a list of names.
    path.write_text(
        "reviewed_routines:\n  - create_v1_range_partition\n"
        "  - count_rows(p_table text)\n"
    )
    assert Overrides.load(path).reviewed_routines == [
        "create_v1_range_partition",
        "count_rows(p_table text)",
    ]
    path.write_text("reviewed_routines: create_v1_range_partition\n")
    with pytest.raises(NamingError, match="'reviewed_routines' must be a list"):
        Overrides.load(path)


@pytest.mark.parametrize(
    ("name", "quoted"),
    [("user_id", False), ("order", True), ("userId", True), ("größe", True)],
)
def test_needs_quoting(name: str, quoted: bool) -> None:
    assert needs_quoting(name) is quoted


def test_rename_columns_in_expressions() -> None:
    mapping = {"userId": "user_id", "rating": "rating", "order": "order"}
    assert (
        rename_columns('CHECK (("userId" <> 0) AND (rating <= 5))', mapping)
        == "CHECK ((user_id <> 0) AND (rating <= 5))"
    )
    # String literals and function names are left alone; keywords stay quoted.
    assert (
        rename_columns('lower("userId") = \'userId\' and "order" > 1', mapping)
        == "lower(user_id) = 'userId' and \"order\" > 1"
    )


@pytest.mark.parametrize(
    ("definition", "renamed"),
    [
        # What the parse tree says is a column, and only that, is renamed.
        ('("addr")."userId" IS NOT NULL', '("addr")."userId" IS NOT NULL'),
        ('"userId"("userId")', '"userId"(user_id)'),
        ("nextval('\"userId\"'::regclass)", "nextval('\"userId\"'::regclass)"),
        ('("größe" > 0)', "(groesse > 0)"),
        # Column lists that the tree holds without positions.
        (
            'btree ("userId" text_pattern_ops DESC, lower("Email")) '
            'INCLUDE ("isActive") WHERE "isActive"',
            "btree (user_id text_pattern_ops DESC, lower(email)) "
            "INCLUDE (is_active) WHERE is_active",
        ),
        (
            'EXCLUDE USING gist ("userId" WITH =, during WITH &&)',
            "EXCLUDE USING gist (user_id WITH =, during WITH &&)",
        ),
        ('UNIQUE ("userId") INCLUDE ("Email")', "UNIQUE (user_id) INCLUDE (email)"),
        ('RANGE ("userId", lower("Email"))', "RANGE (user_id, lower(email))"),
        ("FOR VALUES FROM ('userId') TO (MAXVALUE)", None),
        (
            'ARRAY[\'a\'::"DocumentStatus"]::public."DocumentStatus"[]',
            "ARRAY['a'::document_status]::public.document_status[]",
        ),
    ],
)
def test_rename_columns_follows_the_parse_tree(
    definition: str, renamed: str | None
) -> None:
    mapping = {
        "userId": "user_id",
        "Email": "email",
        "isActive": "is_active",
        "größe": "groesse",
        "during": "during",
    }
    types = {"DocumentStatus": "document_status"}
    assert rename_columns(definition, mapping, types) == (renamed or definition)


def test_rename_columns_refuses_what_the_parser_cannot_read() -> None:
    with pytest.raises(ExpressionError, match="cannot read"):
        rename_columns('("userId" <> ', {"userId": "user_id"})


def _catalog(*tables: Table) -> Catalog:
    return Catalog(schema="public", tables={t.name: t for t in tables})


def _invoice_line(*indexes: str) -> Table:
    return Table(
        schema="public",
        name="InvoiceLine",
        columns=[
            Column("id", "integer", True, serial_sequence="InvoiceLine_id_seq"),
            Column("accountID", "bigint", True),
        ],
        primary_key=Constraint("InvoiceLine_pkey", "p", ["id"], "PRIMARY KEY (id)"),
        checks=[
            Constraint("InvoiceLine_id_check", "c", ["id"], "CHECK ((id > 0))"),
            Constraint("positive_id", "c", ["id"], "CHECK ((id > 0))"),
        ],
        indexes=[
            Index(name, f"CREATE INDEX {name} ON x USING btree (id)", ["id"], False)
            for name in indexes
        ],
    )


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("InvoiceLine_pkey", "invoice_lines_pkey"),
        ("InvoiceLine_accountID_idx", "invoice_lines_account_id_idx"),
        ("InvoiceLine_id_seq", "invoice_lines_id_seq"),
        ("InvoiceLine", "invoice_lines"),
        # Not the table's name followed by "_": the naming rules alone.
        ("InvoiceLineItem_idx", "invoice_line_item_idx"),
        ("idx_InvoiceLine", "idx_invoice_line"),
    ],
)
def test_object_names_follow_the_mapped_table_name(source: str, target: str) -> None:
    assert target_object_name(source, "InvoiceLine", "invoice_lines") == target
    assert target_object_name(source, "InvoiceLine", "invoice_line") == (
        to_snake(source)
    )


def test_object_names_in_the_map_follow_a_table_override() -> None:
    overrides = Overrides(
        tables={"InvoiceLine": "invoice_lines"},
        objects={"InvoiceLine": {"positive_id": "invoice_lines_positive_id"}},
    )
    mapped = build_map(
        _catalog(_invoice_line("InvoiceLine_accountID_idx")), overrides
    ).tables["InvoiceLine"]
    assert [k.name for k in mapped.keys] == ["invoice_lines_pkey"]
    assert [c.name for c in mapped.checks] == [
        "invoice_lines_id_check",
        "invoice_lines_positive_id",
    ]
    assert [i.name for i in mapped.indexes] == ["invoice_lines_account_id_idx"]
    assert [s.name for s in mapped.serials] == ["invoice_lines_id_seq"]


def test_keep_object_names_keeps_those_not_named_after_their_table(
    tmp_path,  # noqa: ANN001
) -> None:
    # TypeORM names its keys and indexes PK_<hash>, IDX_<hash>, and the
    # application's own migrations drop and create them by those names.
    catalog = _catalog(_invoice_line("IDX_3f2aC9", "InvoiceLine_accountID_idx"))
    path = tmp_path / "overrides.yml"
    path.write_text("keep_object_names: true\n")
    kept = build_map(catalog, Overrides.load(path)).tables["InvoiceLine"]
    assert [i.name for i in kept.indexes] == [
        "IDX_3f2aC9",
        "invoice_line_account_id_idx",
    ]
    assert [k.name for k in kept.keys] == ["invoice_line_pkey"]
    ruled = build_map(catalog, Overrides()).tables["InvoiceLine"]
    assert [i.name for i in ruled.indexes][0] == "idx_3f2a_c9"
    # A table that keeps its name keeps the names made after it whole
    # (Parse Server creates _Idempotency_unique_reqId again at every start).
    path.write_text("keep_object_names: true\ntables:\n  InvoiceLine: InvoiceLine\n")
    whole = build_map(catalog, Overrides.load(path)).tables["InvoiceLine"]
    assert [i.name for i in whole.indexes] == [
        "IDX_3f2aC9",
        "InvoiceLine_accountID_idx",
    ]
    assert [k.name for k in whole.keys] == ["InvoiceLine_pkey"]
    path.write_text("keep_object_names: sometimes\n")
    with pytest.raises(NamingError, match="must be true or false"):
        Overrides.load(path)


def test_scaffold_names_typeorms_generated_names_when_it_renames_them() -> None:
    # n8n's migrations drop PK_<hash> by name: scaffold says what keeps them.
    catalog = _catalog(
        _invoice_line("IDX_69dfa041592c30bbc0d4b84aa0", "InvoiceLine_accountID_idx")
    )
    (line,) = generated_name_notes(build_map(catalog, Overrides()))
    assert line.startswith(
        "note: 1 constraint and index names are of the shape ORMs generate "
        "(TypeORM's PK_<hash>, MikroORM's IDX_<table>_<columns>), renamed by "
        "the naming rules (IDX_69dfa041592c30bbc0d4b84aa0 becomes "
        "idx_69dfa041592c30bbc0d4b84aa0)"
    )
    # MikroORM's (Medusa's migrations drop "IDX_api_key_deleted_at").
    medusa = _catalog(_invoice_line("IDX_api_key_deleted_at", "other_idx"))
    (line,) = generated_name_notes(build_map(medusa, Overrides()))
    assert "(IDX_api_key_deleted_at becomes idx_api_key_deleted_at)" in line
    assert "`keep_object_names: true`" in line
    kept = Overrides(keep_object_names=True)
    assert generated_name_notes(build_map(catalog, kept)) == []


def test_a_migration_tools_table_keeps_its_names() -> None:
    # Sequelize and Entity Framework read these by name at every deploy.
    def table(name: str, *columns: str) -> Table:
        return Table(
            schema="public",
            name=name,
            columns=[Column(c, "character varying(255)", True) for c in columns],
        )

    catalog = _catalog(
        table("SequelizeMeta", "name"),
        table("__EFMigrationsHistory", "MigrationId", "ProductVersion"),
        table("OrderLine", "orderId"),
    )
    names = build_map(catalog, Overrides())
    assert {t.source: (t.target, t.columns) for t in names.tables.values()} == {
        "SequelizeMeta": ("SequelizeMeta", {"name": "name"}),
        "__EFMigrationsHistory": (
            "__EFMigrationsHistory",
            {"MigrationId": "MigrationId", "ProductVersion": "ProductVersion"},
        ),
        "OrderLine": ("order_line", {"orderId": "order_id"}),
    }
    renamed = build_map(
        catalog,
        Overrides(
            tables={"SequelizeMeta": "sequelize_meta"},
            columns={"__EFMigrationsHistory": {"MigrationId": "migration_id"}},
        ),
    ).tables
    assert renamed["SequelizeMeta"].target == "sequelize_meta"
    assert renamed["__EFMigrationsHistory"].columns["MigrationId"] == "migration_id"


def test_a_prisma_relation_table_keeps_its_names_where_prisma_migrates() -> None:
    # Prisma names an implicit many-to-many table _<relation>, its columns A
    # and B, and a Prisma schema cannot map them: the next version reads
    # them by these names, and its migrations drop the index by name.
    def relation(name: str) -> Table:
        unique = f"{name}_AB_unique"
        return Table(
            schema="public",
            name=name,
            columns=[Column("A", "text", False), Column("B", "text", False)],
            indexes=[
                Index(
                    unique,
                    f'CREATE UNIQUE INDEX "{unique}" ON x USING btree ("A", "B")',
                    ["A", "B"],
                    True,
                ),
                Index(
                    f"{name}_B_index",
                    f'CREATE INDEX "{name}_B_index" ON x USING btree ("B")',
                    ["B"],
                    False,
                ),
            ],
        )

    migrations = Table(
        schema="public",
        name="_prisma_migrations",
        columns=[Column("id", "character varying(36)", False)],
    )
    kept = build_map(
        _catalog(relation("_TaskRunToTag"), migrations), Overrides()
    ).tables["_TaskRunToTag"]
    assert (kept.target, kept.columns) == ("_TaskRunToTag", {"A": "A", "B": "B"})
    assert [i.name for i in kept.indexes] == [
        "_TaskRunToTag_AB_unique",
        "_TaskRunToTag_B_index",
    ]
    # Without Prisma's own table (left out, or a database `prisma db push`
    # made), its key's name is Prisma's all the same.
    pushed = build_map(_catalog(relation("_TaskRunToTag")), Overrides()).tables[
        "_TaskRunToTag"
    ]
    assert (pushed.target, pushed.columns) == ("_TaskRunToTag", {"A": "A", "B": "B"})
    # Neither: a table like any other.
    plain = relation("_TaskRunToTag")
    plain.indexes = []
    ruled = build_map(_catalog(plain), Overrides()).tables["_TaskRunToTag"]
    assert (ruled.target, ruled.columns) == ("_task_run_to_tag", {"A": "a", "B": "b"})


def test_object_names_that_collide_are_refused_with_the_override() -> None:
    table = _invoice_line("InvoiceLine_accountId_idx", "InvoiceLine_account_id_idx")
    with pytest.raises(NamingError) as err:
        build_map(_catalog(table), Overrides())
    message = str(err.value)
    assert "'InvoiceLine_accountId_idx'" in message
    assert "'InvoiceLine_account_id_idx'" in message
    assert "both map to 'invoice_line_account_id_idx'" in message
    assert "objects: InvoiceLine:" in message
    overrides = Overrides(
        objects={"InvoiceLine": {"InvoiceLine_accountId_idx": "invoice_line_acct_idx"}}
    )
    mapped = build_map(_catalog(table), overrides).tables["InvoiceLine"]
    assert [i.name for i in mapped.indexes] == [
        "invoice_line_acct_idx",
        "invoice_line_account_id_idx",
    ]


def test_object_names_collide_with_tables_and_within_a_table() -> None:
    # A key named like another table (both are relations of the schema).
    other = Table(schema="public", name="invoice_line_pkey")
    with pytest.raises(NamingError, match="table 'invoice_line_pkey' and"):
        build_map(_catalog(_invoice_line(), other), Overrides())
    # Two checks of one table.
    clash = Overrides(objects={"InvoiceLine": {"positive_id": "invoice_line_id_check"}})
    with pytest.raises(NamingError, match="check 'InvoiceLine_id_check' of"):
        build_map(_catalog(_invoice_line()), clash)
    # A check may share an index's name: they are in different namespaces.
    build_map(_catalog(_invoice_line("InvoiceLine_id_check")), Overrides())


def _action() -> Catalog:
    """Inbox Zero's Action: a compound relation, its foreign key and index.

    Prisma names both after the columns; renamed, each is past 63 bytes.
    """
    columns = ["messagingChannelId", "messagingChannelEmailAccountId"]
    channel = Table(
        schema="public",
        name="MessagingChannel",
        columns=[Column("id", "text", True), Column("emailAccountId", "text", True)],
        primary_key=Constraint(
            "MessagingChannel_pkey", "p", ["id"], "PRIMARY KEY (id)"
        ),
        uniques=[
            Constraint(
                "MessagingChannel_id_emailAccountId_key",
                "u",
                ["id", "emailAccountId"],
                'UNIQUE (id, "emailAccountId")',
            )
        ],
    )
    stem = "Action_messagingChannelId_messagingChannelEmailAccountId"
    action = Table(
        schema="public",
        name="Action",
        columns=[Column("id", "text", True)]
        + [Column(c, "text", False) for c in columns],
        primary_key=Constraint("Action_pkey", "p", ["id"], "PRIMARY KEY (id)"),
        foreign_keys=[
            ForeignKey(
                f"{stem}_fkey", columns, "MessagingChannel", ["id", "emailAccountId"]
            )
        ],
        indexes=[
            Index(
                f"{stem}_idx",
                f'CREATE INDEX "{stem}_idx" ON public."Action" USING btree '
                '("messagingChannelId", "messagingChannelEmailAccountId")',
                columns,
                False,
            )
        ],
    )
    return _catalog(action, channel)


def test_a_long_object_name_is_shortened_keeping_its_label() -> None:
    # Inbox Zero: the foreign key (60 bytes) maps to 67 bytes, the index
    # (59) to 66. Each keeps its label after a hash of its whole mapped
    # name, so the two stay apart; scaffold names both, with the override
    # entry, and the map keeps them.
    stem = "Action_messagingChannelId_messagingChannelEmailAccountId"
    names = build_map(_action(), Overrides())
    action = names.tables["Action"]
    fkey = "action_messaging_channel_id_messaging_channel_ema_a1c10aa4_fkey"
    idx = "action_messaging_channel_id_messaging_channel_emai_7d0c4133_idx"
    assert [f.name for f in action.foreign_keys] == [fkey]
    assert [i.name for i in action.indexes] == [idx]
    assert len(fkey.encode()) == len(idx.encode()) == MAX_IDENTIFIER_BYTES
    assert names.shortened == [
        ["Action", f"{stem}_idx", idx],
        ["Action", f"{stem}_fkey", fkey],
    ]
    assert NameMap.from_json(names.to_json()).shortened == names.shortened
    assert shortened_notes(names)[1] == (
        f"shortened: {stem}_fkey of Action becomes {fkey} (the naming rules "
        "make it longer than PostgreSQL's 63 bytes); to choose another name, "
        f"add it in the override file under 'objects: Action:' ({stem}_fkey: "
        "<new_name>)"
    )
    # The same schema gives the same names; another table name, others.
    assert build_map(_action(), Overrides()).to_json() == names.to_json()
    renamed = build_map(_action(), Overrides(tables={"Action": "actions"}))
    other = renamed.tables["Action"].foreign_keys[0].name
    assert other.startswith("actions_messaging_") and other.endswith("_fkey")
    assert other[-13:-5] != fkey[-13:-5]
    # A name the override file gives is taken as it is, and not listed.
    chosen = build_map(
        _action(),
        Overrides(objects={"Action": {f"{stem}_fkey": "action_channel_fkey"}}),
    )
    assert chosen.tables["Action"].foreign_keys[0].name == "action_channel_fkey"
    assert [entry[1] for entry in chosen.shortened] == [f"{stem}_idx"]
    # A map without names shortened says nothing of them.
    assert (
        '"shortened"' not in build_map(_catalog(_invoice_line()), Overrides()).to_json()
    )


def test_a_shortened_name_keeps_whole_characters_and_any_last_word() -> None:
    # Two-byte characters: the 50 bytes left before the hash and label end
    # inside an "ä"; the start kept is whole characters of the name.
    table = "ÜbergrößenTabelle"
    source = f"{table}_straßeNameÄöüÄöüÄöüÄöü_idx"
    assert len(source.encode()) <= MAX_IDENTIFIER_BYTES
    full = "übergrößen_tabelle_straße_name_äöü_äöü_äöü_äöü_idx"
    assert len(full.encode()) > MAX_IDENTIFIER_BYTES
    with pytest.raises(UnicodeDecodeError):
        full.encode()[: MAX_IDENTIFIER_BYTES - len("_01234567_idx")].decode()
    name = target_object_name(source, table, "übergrößen_tabelle", shortened=[])
    assert len(name.encode()) <= MAX_IDENTIFIER_BYTES
    head, digest, label = name.rsplit("_", 2)
    assert head == "übergrößen_tabelle_straße_name_äöü_äöü"
    assert full.startswith(head)
    assert len(digest) == 8 and label == "idx"
    # Any last word is a label (Prisma's _AB_unique); a name without one,
    # or whose last word would leave too little room, ends with the hash.
    unique = "_" + "Ab" * 25 + "_AB_unique"
    assert name_label(unique, to_snake(unique)) == "_unique"
    assert shorten_object_name(to_snake(unique), "_unique").endswith("_unique")
    assert name_label("aVeryLongName", "a_very_long_name") == ""
    assert name_label("x_" + "aB" * 12, "x_" + "a_b" * 12) == ""
    assert shorten_object_name("user_id") == "user_id"


def test_a_long_object_name_is_refused_where_shortening_cannot_help() -> None:
    stem = "Action_messagingChannelId_messagingChannelEmailAccountId"
    # An override file's name past 63 bytes is the user's to shorten: the
    # message offers one that fits and keeps its label.
    long = "action_" + "channel_" * 7 + "fkey"
    with pytest.raises(NamingError, match="63-byte") as err:
        build_map(_action(), Overrides(objects={"Action": {f"{stem}_fkey": long}}))
    message = str(err.value)
    assert f"objects: Action:' ({stem}_fkey: <new_name>)" in message
    offered = message.rpartition("for instance ")[2].strip("'")
    assert len(offered.encode()) <= MAX_IDENTIFIER_BYTES
    assert offered.endswith("_fkey") and offered.startswith("action_channel_")
    # A shortened name that another object takes is refused as a collision.
    fkey = "action_messaging_channel_id_messaging_channel_ema_a1c10aa4_fkey"
    with pytest.raises(NamingError, match=f"both map to '{fkey}'"):
        build_map(_action(), Overrides(objects={"Action": {"Action_pkey": fkey}}))
    # Tables and columns, which the application names, are never shortened.
    with pytest.raises(NamingError, match="63-byte"):
        build_map(_action(), Overrides(tables={"Action": "a" * 64}))


def test_types_follow_the_naming_rules_in_columns_and_expressions() -> None:
    table = Table(
        schema="public",
        name="Document",
        columns=[
            Column("id", "integer", True),
            Column(
                "docStatus",
                '"DocumentStatus"',
                True,
                default="'draft'::\"DocumentStatus\"",
                type_kind="e",
                type_name="DocumentStatus",
                type_schema="public",
            ),
            Column(
                "history",
                'public."DocumentStatus"[]',
                False,
                type_kind="e",
                type_name="DocumentStatus",
                type_schema="public",
                is_array=True,
            ),
        ],
        checks=[
            Constraint(
                "Document_check",
                "c",
                ["docStatus"],
                'CHECK (("docStatus" <> \'void\'::"DocumentStatus"))',
            )
        ],
    )
    catalog = _catalog(table)
    catalog.enums["DocumentStatus"] = ["draft", "void"]
    mapped = build_map(catalog, Overrides())
    assert mapped.types == {"DocumentStatus": "document_status"}
    document = mapped.tables["Document"]
    assert document.types == {
        "doc_status": "document_status",
        "history": "public.document_status[]",
    }
    assert document.defaults["doc_status"] == "'draft'::document_status"
    assert document.checks[0].expression == (
        "((doc_status <> 'void'::document_status))"
    )
    renamed = build_map(catalog, Overrides(types={"DocumentStatus": "doc_state"}))
    assert renamed.tables["Document"].types["doc_status"] == "doc_state"
    # A type cannot take a table's name: every table has a row type.
    with pytest.raises(NamingError, match="type DocumentStatus and table Document"):
        build_map(catalog, Overrides(types={"DocumentStatus": "document"}))
    # Nor a built-in type's, which a name without its schema would mean.
    catalog.enums["Box"] = ["small", "large"]
    with pytest.raises(NamingError, match="type Box would be named box, like"):
        build_map(catalog, Overrides())
    assert build_map(catalog, Overrides(types={"Box": "box_size"})).types["Box"] == (
        "box_size"
    )


def test_a_cast_is_never_taken_for_a_column() -> None:
    mapping = {"DocumentStatus": "wrong", "total": "total_cents", "zone": "wrong"}
    assert rename_columns(
        "(('a'::\"DocumentStatus\" IS NOT NULL) AND ((x)::text = total)) "
        "AND (y::timestamp(3) without time zone < now())",
        mapping,
    ) == (
        "(('a'::\"DocumentStatus\" IS NOT NULL) AND ((x)::text = total_cents)) "
        "AND (y::timestamp(3) without time zone < now())"
    )


def test_an_object_name_postgresql_cut_short_follows_the_table() -> None:
    table = "aVeryLongTableNameThatIsQuiteCloseToTheSixtyThreeByteLimitXYZ"
    # PostgreSQL's own name for the key: the table's first 58 bytes + _pkey.
    cut = table[:58] + "_pkey"
    assert len(cut.encode()) == 63
    assert target_object_name(cut, table, "long_table") == "long_table_pkey"
    # A name that only looks alike, but is not 63 bytes long, is not taken.
    assert target_object_name("aVery_x", table, "long_table") == "a_very_x"


def test_a_name_postgresql_cut_short_is_cut_again_after_the_rename() -> None:
    # Prisma's name for a unique index over three columns, cut by PostgreSQL
    # (Formbricks): renamed, it would be 70 bytes; it is cut as PostgreSQL
    # would cut it, and a name not cut on the source is still refused.
    table = "FeedbackSourceFieldMapping"
    index = "FeedbackSourceFieldMapping_workspaceId_feedbackSourceId_sourceF"
    assert len(index.encode()) == MAX_IDENTIFIER_BYTES
    name = target_object_name(index, table, "feedback_source_field_mapping")
    assert name == "feedback_source_field_mapping_workspace_id_feedback_source_id_s"
    assert len(name.encode()) == MAX_IDENTIFIER_BYTES
    shorter = index[:-1]
    assert len(target_object_name(shorter, table, "feedback_source_field_mapping")) > (
        MAX_IDENTIFIER_BYTES
    )


def test_a_name_postgresql_chose_keeps_its_label_when_cut_again() -> None:
    # PostgreSQL names a key or an index itself by shortening the columns'
    # part and keeping its label: the renamed name keeps it too, so that a
    # key and an index of one column do not collide once cut again.
    table = "OrganizationMembership"
    index = "OrganizationMembership_externalIdentityProviderUserId_creat_idx"
    assert len(index.encode()) == MAX_IDENTIFIER_BYTES
    name = target_object_name(index, table, "organization_membership")
    assert name == "organization_membership_external_identity_provider_user_id_idx"
    table = "ÜbergrößenTabelle"
    names = []
    for label in ("key", "idx"):
        source = f"ÜbergrößenTabelle_straßenNameÄÖÜäöüÄÖÜäöüÄ_{label}"
        assert len(source.encode()) == MAX_IDENTIFIER_BYTES
        names.append(target_object_name(source, table, "übergrößen_tabelle"))
    assert [n[-4:] for n in names] == ["_key", "_idx"]
    assert names[0][:-4] == names[1][:-4]
    assert all(len(n.encode()) <= MAX_IDENTIFIER_BYTES for n in names)


def test_a_staging_model_name_fits_its_cte_in_63_bytes() -> None:
    from pgshift.mapping import EPHEMERAL_PREFIX, staging_model_name

    assert staging_model_name("app", "users") == "stg_app__users"
    stem = "recurring_transaction_rules_invoice_custom_sections"
    names = {staging_model_name("app", f"{stem}_{s}") for s in ("a", "b")}
    names.add(staging_model_name("app", "ü" * 40))
    assert len(names) == 3
    for name in names:
        assert len((EPHEMERAL_PREFIX + name).encode()) <= 63
        assert name.startswith("stg_app__")


def test_a_name_postgresql_cut_short_stays_when_its_table_keeps_its_name() -> None:
    # PostgreSQL gave up a byte of the table's part of this foreign key's
    # name to fit 63 bytes (Sourcegraph's schema): a table that keeps its
    # name keeps the key's name, not one a byte too long.
    table = "batch_spec_workspace_execution_jobs"
    key = "batch_spec_workspace_execution_job_batch_spec_workspace_id_fkey"
    assert len(key.encode()) == MAX_IDENTIFIER_BYTES
    assert target_object_name(key, table, table) == key
    # A longer target name gives way as much as it must.
    longer = target_object_name(key, table, "batch_spec_workspace_execution_jobs_v2")
    assert longer == key
    assert target_object_name(key, table, "jobs") == (
        "jobs_batch_spec_workspace_id_fkey"
    )


def test_every_key_into_a_table_left_out_is_named_at_once() -> None:
    # A hostile schema name is quoted; each key has its line.
    def table(name: str, *keys: ForeignKey) -> Table:
        return Table(
            schema="public",
            name=name,
            columns=[Column("ownerId", "uuid", False)],
            foreign_keys=list(keys),
        )

    owner = ForeignKey(
        "a_owner_fkey", ["ownerId"], "userAccounts", ["userId"], ref_schema="Auth it's"
    )
    gone = ForeignKey("b_gone_fkey", ["ownerId"], "gone", ["id"])
    catalog = Catalog(
        schema="public", tables={"a": table("a", owner), "b": table("b", gone)}
    )
    with pytest.raises(ScaffoldError) as raised:
        check_references(catalog)
    lines = str(raised.value).splitlines()
    assert lines[0] == "these foreign keys reference tables outside the migration:"
    assert lines[1].startswith(
        '  a.a_owner_fkey references "Auth it\'s"."userAccounts" ("userId"), '
        "in another schema than public"
    )
    assert lines[2].startswith("  b.b_gone_fkey references gone, which is not part")
    # With the parent on the target, only the other remains.
    catalog.target_parents = frozenset({("Auth it's", "userAccounts", ("userId",))})
    with pytest.raises(ScaffoldError, match="^b.b_gone_fkey references gone"):
        check_references(catalog)


def test_a_name_renamed_onto_a_reserved_word_is_named_by_scaffold() -> None:
    # "User" becomes user: quoted it works, unquoted `from user` reads the
    # current role. A name the source had already is the application's.
    catalog = _catalog(
        Table(
            schema="public",
            name="User",
            columns=[
                Column("Order", "integer", True),
                Column("limit", "integer", True),
            ],
        ),
        Table(schema="public", name="group", columns=[Column("id", "integer", True)]),
    )
    notes = reserved_word_notes(build_map(catalog, Overrides()))
    assert len(notes) == 2
    assert notes[0].startswith(
        'note: table User becomes user, an SQL reserved word: every query must quote it ("user"'
    )
    assert notes[1].startswith(
        "note: 1 column(s) become SQL reserved words, which every query must "
        "quote: user.order ("
    )


@given(
    st.lists(
        st.text(
            alphabet=st.characters(
                blacklist_categories=("Cs",), blacklist_characters="\x00"
            ),
            min_size=1,
            max_size=12,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_a_suggested_exclude_gives_back_every_name(names: list[str]) -> None:
    # What pgshift tells a user to paste (`--exclude <names>`) reaches
    # --exclude as exactly those tables: names with commas, quotes, spaces
    # at either end, or shell characters included.
    import shlex

    from pgshift.settings import names_argument, parse_names

    assume(all(name.strip() for name in names))
    (argument,) = shlex.split(names_argument(names))
    assert parse_names(argument) == tuple(names)


def test_every_naming_problem_is_said_in_one_run() -> None:
    # A table name past 63 bytes once renamed and two columns of another
    # table on one name: both said at once, not one scaffold run each.
    long_name = "junction_fldAbCdEfGhIjKlMnOp_fldQrStUvWxYzAbCdEf"
    orders = Table(
        schema="public",
        name="Orders",
        columns=[
            Column("id", "integer", True),
            Column("Due_Date", "integer", False),
            Column("DueDate", "integer", False),
        ],
    )
    junction = Table(
        schema="public", name=long_name, columns=[Column("id", "integer", True)]
    )
    with pytest.raises(NamingError) as err:
        build_map(_catalog(orders, junction), Overrides())
    message = str(err.value)
    assert f"table {long_name!r} maps to" in message and "63-byte" in message
    assert "column of Orders 'Due_Date' and 'DueDate' both map to 'due_date'" in (
        message
    )
