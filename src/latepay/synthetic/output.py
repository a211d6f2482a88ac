"""Writers that append table chunks to CSV or Parquet files."""

from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

FileFormat = Literal["csv", "parquet"]


class TableWriter:
    """Append-only writer of one table, chunk by chunk.

    CSV chunks are appended under a single header; each Parquet chunk becomes
    one or more row groups. Closing a writer that received no rows still
    produces a valid file with the table's columns.

    Parameters
    ----------
    path
        File to create (overwritten if it exists).
    schema
        Column names and types; frames are written in this column order.
    file_format
        ``"csv"`` or ``"parquet"``.
    csv_float_format
        ``float_format`` passed to ``DataFrame.to_csv``; ``None`` keeps full precision.
    """

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        file_format: FileFormat,
        csv_float_format: str | None = None,
    ) -> None:
        self.path = path
        self._schema = schema
        self._file_format = file_format
        self._csv_float_format = csv_float_format
        self._parquet_writer: pq.ParquetWriter | None = None
        self._started = False

    def write(self, frame: pd.DataFrame) -> None:
        """Append the rows of ``frame``, which must contain every schema column."""
        frame = frame[self._schema.names]
        if self._file_format == "csv":
            frame.to_csv(
                self.path,
                mode="a" if self._started else "w",
                header=not self._started,
                index=False,
                float_format=self._csv_float_format,
                lineterminator="\n",
            )
        else:
            if self._parquet_writer is None:
                self._parquet_writer = pq.ParquetWriter(self.path, self._schema)
            self._parquet_writer.write_table(
                pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
            )
        self._started = True

    def close(self) -> None:
        """Finish the file, writing an empty table if no rows were ever written."""
        if not self._started:
            empty = pa.Table.from_pylist([], schema=self._schema).to_pandas()
            self.write(empty)
        if self._parquet_writer is not None:
            self._parquet_writer.close()
            self._parquet_writer = None
