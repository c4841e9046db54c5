"""The CSV load path keeps names and values exactly, CSV's awkward cases too.

Every range is copied out as ``COPY ... TO STDOUT (FORMAT csv, HEADER)`` and
in by ``pgshift.destination.RawCsvCopyJob``. What CSV makes awkward: column
names holding a comma, a quote or a line break (the header must be parsed,
not split), NULL next to '' (dlt's own CSV job would make both NULL), the
end-of-data marker ``\\.`` as a value, quotes, delimiters and line breaks
inside values, and a table of one column whose value is ``\\.`` alone.
dlt's own naming would also have stripped or replaced some of those names.
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pgshift.catalog import raw_table_name, table_name_problem
from pgshift.load.destination import read_csv_header
from pgshift.sqlident import quote_ident

from migration import fetch_text_rows, query, run_cli, seed_sample

AWKWARD_NAMES = [
    "plain",
    "with,comma",
    'with"quote',
    "with\nbreak",
    "with space",
    " leading space",
    "trailing space ",
    "dlt's▶separator",
]

VALUES = [
    None,
    "",
    "\\.",
    '"',
    '""',
    ",",
    "line\nbreak",
    "cr\rreturn",
    " padded ",
    "NULL",
    "\\N",
    "tab\there",
    "ünïcödé ✓",
]


@pytest.fixture
def awkward_source(new_database: Callable[[], str]) -> str:
    url = new_database()
    columns = ", ".join(f"{quote_ident(n)} text" for n in AWKWARD_NAMES)
    statements = [
        f"create table awkward (id int primary key, {columns})",
        'create table "lone,marker" (v text)',
        "insert into \"lone,marker\" values ('\\.'), (''), (null)",
    ]
    for statement in statements:
        query(url, statement)
    insert = f"insert into awkward values (%s{', %s' * len(AWKWARD_NAMES)})"
    for i in range(len(VALUES)):
        # Each value in every column, and shifted so rows differ per column.
        row = [VALUES[(i + k) % len(VALUES)] for k in range(len(AWKWARD_NAMES))]
        query(url, insert, [i, *row])
    return url


def test_awkward_names_and_values_arrive_exactly(
    awkward_source: str, new_database: Callable[[], str], tmp_path: Path
) -> None:
    target = new_database()
    done = run_cli(["load"], awkward_source, target, tmp_path / "state")
    assert done.returncode == 0, done.stderr[-2000:]

    raw_columns = query(
        target,
        "select attname from pg_attribute where attrelid = 'raw.awkward'::regclass"
        " and attnum > 0 and not attisdropped order by attnum",
    )
    columns = ["id", *AWKWARD_NAMES]
    assert [c for (c,) in raw_columns] == columns
    assert fetch_text_rows(target, "raw", "awkward", columns) == fetch_text_rows(
        awkward_source, "public", "awkward", columns
    )
    assert fetch_text_rows(target, "raw", "lone,marker", ["v"]) == fetch_text_rows(
        awkward_source, "public", "lone,marker", ["v"]
    )
    # '' and NULL stay apart, in every column.
    for name in AWKWARD_NAMES:
        column = quote_ident(name)
        assert query(
            target,
            f"select count(*) filter (where {column} is null),"
            f" count(*) filter (where {column} = '') from raw.awkward",
        ) == [(1, 1)]


def test_a_quoted_header_is_read_as_one_record() -> None:
    handle = io.BytesIO(b'"a,b","c""d","e\nf",g\n1,2,3,4\n')
    assert read_csv_header(handle) == ["a,b", 'c"d', "e\nf", "g"]
    assert handle.read() == b"1,2,3,4\n"


def test_a_file_that_ends_inside_its_header_is_refused() -> None:
    with pytest.raises(ValueError, match="ends inside its header"):
        read_csv_header(io.BytesIO(b'"a,b\n'))


@pytest.mark.parametrize(
    ("name", "refused"),
    [
        ("chatRooms", False),
        ("with space", False),
        ("a,b", False),
        ("ünïcödé", False),
        ("x" * 63, False),
        ("v1.2", True),
        ("a/b", True),
        ('a"b', True),
        ("trailing ", True),
        (" leading", True),
        ("50%", True),
        ("{x}", True),
        ("aux", True),
    ],
)
def test_the_name_check_refuses_what_dlt_refuses(name: str, refused: bool) -> None:
    from dlt.common.storages import FileStorage

    try:
        FileStorage.validate_file_name_component(name)
        dlt_refuses = False
    except ValueError:
        dlt_refuses = True
    assert dlt_refuses is refused
    assert (table_name_problem(name) is not None) is refused
    # Such a table lands in raw under a name dlt takes; the others keep theirs.
    raw = raw_table_name(name)
    FileStorage.validate_file_name_component(raw)
    assert (raw != name) is refused
    assert len(raw.encode()) <= 63


def test_raw_names_of_names_dlt_refuses_never_meet() -> None:
    names = [
        "a.b",
        "a:b",
        "a%b",
        "a{b",
        "a}b",
        "a/b",
        "_dlt_loads",
        "é.b",
        "x" * 70 + ".",
    ]
    raws = {raw_table_name(name) for name in names}
    assert len(raws) == len(names)
    assert raws.isdisjoint(names)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB filesystem of its own (tmpfs), for the load's state directory."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a small tmpfs (run as root): {mounted.stderr}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_a_full_disk_stops_the_load_with_what_to_do(
    small_disk: Path, new_database: Callable[[], str]
) -> None:
    source, target = new_database(), new_database()
    seed_sample(source, scale=300)  # about 10 MB of text
    done = run_cli(["load"], source, target, small_disk / "state")
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("pgshift: error: no space left on the disk of ")
    assert str(small_disk / "state") in last
    assert "PGSHIFT_STATE_DIR" in last
    # Nothing reached the target, and no manifest vouches for anything.
    assert query(target, "select count(*) from pg_tables where schemaname = 'raw'") in (
        [(0,)],
        [(3,)],  # at most dlt's own bookkeeping tables
    )
    assert query(target, "select to_regclass('pgshift.manifest')") == [(None,)]
    # The copies are gone: the disk is free again for the next run.
    assert not any((small_disk / "state" / "copies").glob("*.csv"))


def test_a_raw_name_that_is_another_tables_name_stops_scaffold(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    source = new_database()
    raw = raw_table_name("a.b")
    query(
        source, f'create table "a.b" (id int primary key); create table {raw} (id int)'
    )
    done = run_cli(["scaffold", "--check"], source, "", tmp_path / "state")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"a.b: lands in raw as {raw}" in done.stderr
