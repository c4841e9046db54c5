"""What the lineage site shows of a final table: its source and keys, readably.

Every final model carries ``meta.pgshift`` (``manifest.PgshiftMeta``), the
keys, foreign keys, identities, serials and indexes its post-hook adds. The
macros read it as a nested structure; dbt's docs site prints a model's meta
in its details, where a nested value is one long line of JSON. After
``dbt docs generate``, ``readable_meta`` replaces that entry in the site's
``manifest.json`` with one line per fact (``primary key: id``,
``foreign keys: job_id → jobs (id)``). Only the site's copy changes: dbt
parses the project again for every build, and pgshift's own commands read
the YAML, never this file's meta.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def _columns(columns: Iterable[str]) -> str:
    return ", ".join(columns)


def describe(meta: Mapping[str, Any], source_schema: str) -> dict[str, str]:
    """Turn one final model's ``meta.pgshift`` into readable lines.

    Args:
        meta: The model's ``meta.pgshift``.
        source_schema: The source schema its table was read from.

    Returns:
        Label to text, in the order a reader wants them; labels with nothing
        to say are left out.
    """
    lines: dict[str, str] = {}
    if meta.get("source_table"):
        lines["source table"] = f"{source_schema}.{meta['source_table']}"
    keys = list(meta.get("keys") or [])
    for label, kind in (
        ("primary key", "primary_key"),
        ("unique", "unique"),
        ("exclusion", "exclusion"),
    ):
        found = [k for k in keys if k.get("type") == kind]
        if found:
            lines[label] = "; ".join(
                f"{_columns(k.get('columns') or [])} ({k.get('name')})"
                if kind != "exclusion"
                else f"{k.get('definition')} ({k.get('name')})"
                for k in found
            )
    foreign = meta.get("foreign_keys") or []
    if foreign:
        lines["foreign keys"] = "; ".join(
            f"{_columns(f.get('columns') or [])} → "
            f"{f['to_schema'] + '.' if f.get('to_schema') else ''}{f.get('to')} "
            f"({_columns(f.get('to_columns') or [])})"
            + (f" {f['options']}" if f.get("options") else "")
            for f in foreign
        )
    identities = meta.get("identities") or []
    if identities:
        lines["identity"] = "; ".join(
            f"{i.get('column')} (generated {'always' if i.get('always') else 'by default'})"
            for i in identities
        )
    serials = meta.get("serials") or []
    if serials:
        lines["serial"] = "; ".join(
            f"{s.get('column')} from sequence {s.get('sequence')}" for s in serials
        )
    indexes = meta.get("indexes") or []
    if indexes:
        lines["indexes"] = "; ".join(
            f"{i.get('name')}{' (unique)' if i.get('unique') else ''}: "
            f"USING {i.get('using')}"
            for i in indexes
        )
    return lines


def readable_meta(target_dir: Path, source_schema: str) -> int:
    """Rewrite the site's ``manifest.json`` with readable final-model meta.

    Args:
        target_dir: dbt's target directory, where ``docs generate`` wrote.
        source_schema: The source schema the final tables were read from.

    Returns:
        How many models were rewritten (0 when there is no manifest).
    """
    path = target_dir / "manifest.json"
    if not path.exists():
        return 0
    manifest = json.loads(path.read_text())
    changed = 0
    for node in manifest.get("nodes", {}).values():
        for holder in (node, node.get("config") or {}):
            meta = holder.get("meta")
            if isinstance(meta, dict) and isinstance(meta.get("pgshift"), dict):
                rest = {k: v for k, v in meta.items() if k != "pgshift"}
                holder["meta"] = {**describe(meta["pgshift"], source_schema), **rest}
                changed += holder is node
    path.write_text(json.dumps(manifest))
    return changed
