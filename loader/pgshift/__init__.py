"""pgshift: migrate a PostgreSQL database into another, renamed and proven.

Modules:
    settings: the two database URLs and run options.
    catalog: what the source schema holds.
    naming: camelCase to snake_case, overrides, collisions.
    extract: the exported snapshot and the dlt source reading inside it.
    load: the dlt pipeline into the raw schema, and the load manifest.
    scaffold: dbt sources, staging views and final models from the catalog.
    transform: dbt, run in-process against the target.
    verify: reconciliation and the migration report.
    cluster: throwaway PostgreSQL servers for the demo and the tests.
    sample: the sample marketplace source database.
"""
