"""The snapshot holder: one small process that keeps the exported snapshot open.

An exported snapshot (``pg_export_snapshot()``) can be imported by any
session on the same source server only while the exporting transaction is
open. Dagster runs each step in a process of its own (and, with other
executors, on a machine of its own), and a step's process ends with its
step; so the holder is not a step nor a resource (a resource lives once per
step process) but a detached process, started by the snapshot asset and
living on after that step has ended.

It is told what to do on its standard input (one JSON object: the source
URL, the run id, Dagster's instance reference, the longest hold), so that
no password shows in the process list. It writes one JSON line on its
standard output once the snapshot is exported (the id, the source clock,
``txid_current_snapshot()``, its own pid and its server backend's pid), then
holds the snapshot until, whichever comes first:

* the run carries the tag ``RELEASE_TAG`` (the manifest asset sets it once
  every table is loaded and the manifest is written);
* the run is finished, whatever its outcome (a failed or cancelled run
  releases the source's xmin horizon too);
* ``hold_seconds`` have passed (the holder never keeps a source's vacuum
  back for longer, even if the Dagster instance is out of reach).

Run by ``python -m pgshift_dagster.holder``; nothing else imports it but
the definitions.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

RELEASE_TAG = "pgshift/snapshot-released"
"""The run tag that releases the snapshot."""

POLL_SECONDS = 0.5
"""How often the holder looks at the run."""


def _should_release(instance: Any, run_id: str) -> bool:
    run = instance.get_run_by_id(run_id)
    return run is None or run.is_finished or RELEASE_TAG in run.tags


def main() -> int:
    """Hold one snapshot as the configuration on standard input says."""
    from dagster import DagsterInstance
    from dagster._serdes import deserialize_value

    from pgshift.load.extract import open_snapshot
    from pgshift.settings import DatabaseUrl

    config = json.loads(sys.stdin.readline())
    sys.stdin.close()
    source = DatabaseUrl.parse("source", config["source"])
    instance = DagsterInstance.from_ref(deserialize_value(config["instance_ref"]))
    deadline = time.monotonic() + float(config["hold_seconds"])
    with open_snapshot(source) as snapshot:
        snapshot.cursor.execute(
            "select txid_current_snapshot()::text, pg_backend_pid()"
        )
        txid_snapshot, backend_pid = snapshot.cursor.fetchone()
        handshake = {
            "snapshot_id": snapshot.snapshot_id,
            "taken_at": snapshot.taken_at,
            "txid_snapshot": txid_snapshot,
            "holder_pid": os.getpid(),
            "backend_pid": backend_pid,
        }
        sys.stdout.write(json.dumps(handshake) + "\n")
        sys.stdout.flush()
        # The step that started the holder reads one line and ends: nothing
        # more goes to a pipe nobody reads.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        while time.monotonic() < deadline:
            if _should_release(instance, config["run_id"]):
                break
            time.sleep(POLL_SECONDS)
        print(
            f"releasing snapshot {snapshot.snapshot_id} of run {config['run_id']}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
