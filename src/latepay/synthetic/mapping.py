"""The source mapping (GUIDE §3) describing the generated files."""

from pathlib import Path

import yaml

from latepay.synthetic.layout import FEATURE_COLUMNS, SOURCE_TABLES, canonical_columns

MAPPING_FILE = "mapping.yaml"
_HEADER = "# Source mapping of a synthetic latepay ledger; paths are relative to this file.\n"


def write_mapping(out_dir: Path, table_files: dict[str, Path]) -> Path:
    """Write ``mapping.yaml`` declaring every source table written to ``out_dir``.

    Parameters
    ----------
    out_dir
        Directory holding the tables; the mapping is written there.
    table_files
        Path of each source table, keyed by table name.

    Returns
    -------
    pathlib.Path
        Path of the mapping file.
    """
    mapping = {}
    for table in SOURCE_TABLES:
        entry = {
            "path": table_files[table].relative_to(out_dir).as_posix(),
            # Files already use canonical names, so each column maps to itself.
            "columns": {column: column for column in canonical_columns(table)},
        }
        if table in FEATURE_COLUMNS:
            entry["features"] = list(FEATURE_COLUMNS[table])
        mapping[table] = entry
    path = out_dir / MAPPING_FILE
    path.write_text(_HEADER + yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
    return path
