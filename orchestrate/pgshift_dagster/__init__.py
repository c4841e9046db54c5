"""pgshift on Dagster: the migration as assets, fanned out over workers.

``pgshift_dagster.definitions`` holds the Dagster definitions; ``units``
cuts pgshift's load into the units they run; ``holder`` is the process that
holds the source snapshot for the whole load. pgshift never imports this
package: it is installed with its own dependencies
(``orchestrate/requirements.lock``, ``make dagster-test``).
"""
