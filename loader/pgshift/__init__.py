"""pgshift: migrate a PostgreSQL database into another, renamed and proven.

The phases, each a folder; a phase imports the shared modules below, never
another phase (``loader/tests/test_imports.py`` holds the rule):
    load: the exported snapshot, the copy into the raw schema (dlt), retries.
    scaffold: dbt sources, staging views and final models from the catalog.
    verify: reconciliation, schema parity, row diffs and the report.
    demo: the sample source, throwaway servers, ``make demo``.

On top:
    cli: the commands behind ``loader/run.py``.
    pipeline: migrate = load, dbt build, verify.

Shared:
    settings: the two database URLs, schema names, every environment read.
    connection: the one way to connect, and connection failures in words.
    catalog: what the source schema holds.
    naming: camelCase to snake_case, overrides, collisions.
    mapping: the applied name map scaffold writes and the others read.
    manifest: what the load records on the target; meta.pgshift's shape.
    checksum: the order-independent content checksum.
    sqlident: quoting identifiers, renaming columns in expressions.
    transform: dbt, run in-process against the target.
"""
