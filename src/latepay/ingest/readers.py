"""Reading export files (.csv, .csv.gz, .parquet) into DataFrames of text.

Every column is read as text, so ids keep their leading zeros and nothing is guessed before
validation; empty cells are empty strings. File-level problems raise one
:class:`~latepay.errors.InputError` that names the file: missing, empty, not UTF-8 (with the
byte offset), an unreadable Parquet file, a header that splits ambiguously.

Delimiters: the header line decides. It is split on each of ``, ; TAB |`` and the delimiter
that yields the most columns is used, so a semicolon- or tab-separated export is read as such
(and logged). Two delimiters giving the same number of columns is an error rather than a guess.

Rows whose number of fields differs from the header's are kept aside as malformed rows and
reported with their line numbers. Line numbers count physical lines with the header on line 1;
they are computed only when a file has errors (:meth:`SourceTable.lines`).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from latepay.errors import InputError

logger = logging.getLogger(__name__)

CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
_HEADER_BYTES = 1 << 16
_SCAN_BYTES = 1 << 20


@dataclass(frozen=True)
class MalformedRow:
    """A CSV record whose number of fields differs from the header's."""

    fields: int
    text: str


@dataclass
class SourceTable:
    """The rows of one file, as text.

    Attributes
    ----------
    path
        The file.
    frame
        One column per requested source column, all text, empty cells as ``""``; the index
        is the row's position among the file's well-formed data rows (0 = first).
    expected_fields
        The number of columns in the header.
    malformed_rows
        Records with the wrong number of fields, left out of :attr:`frame`.
    delimiter
        The CSV delimiter (None for Parquet).
    """

    path: Path
    frame: pd.DataFrame
    expected_fields: int
    malformed_rows: list[MalformedRow] = field(default_factory=list)
    delimiter: str | None = None
    _line_numbers: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """The file's name, as used in error messages."""
        return self.path.name

    def lines(self, positions: np.ndarray) -> np.ndarray:
        """Line numbers (header = 1) of the data rows at ``positions`` of :attr:`frame`."""
        return self._lines()[0][np.asarray(positions, dtype=np.int64)]

    def malformed_lines(self) -> np.ndarray:
        """Line numbers of :attr:`malformed_rows`, in the same order."""
        return self._lines()[1]

    def _lines(self) -> tuple[np.ndarray, np.ndarray]:
        if self._line_numbers is None:
            if self.delimiter is None:  # Parquet: as if exported to a CSV with a header
                rows = np.arange(len(self.frame), dtype=np.int64) + 2
                self._line_numbers = (rows, np.empty(0, dtype=np.int64))
            else:
                self._line_numbers = _scan_line_numbers(
                    self.path, self.delimiter, self.expected_fields
                )
        return self._line_numbers


def _file_kind(path: Path) -> str:
    """``"csv"`` or ``"parquet"``, from the file name; anything else is an InputError."""
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise InputError(f"{path}: unsupported file type; latepay reads .csv, .csv.gz and .parquet")


def read_header(path: Path) -> list[str]:
    """The column names of a file, without reading its rows.

    Parameters
    ----------
    path
        A .csv, .csv.gz or .parquet file.

    Returns
    -------
    list of str
        The header's column names, in file order.

    Raises
    ------
    InputError
        Missing, empty, not UTF-8 or unreadable file, or an ambiguous CSV delimiter.
    """
    _require_file(path)
    if _file_kind(path) == "parquet":
        try:
            return list(pq.read_schema(path).names)
        except (pa.ArrowException, OSError) as error:
            raise InputError(f"cannot read {path} as Parquet: {error}") from None
    return _csv_header(path)[0]


def read_table(path: Path, columns: list[str]) -> SourceTable:
    """Read ``columns`` of a file as text.

    Parameters
    ----------
    path
        A .csv, .csv.gz or .parquet file.
    columns
        Source columns to read; each must be in the header (see :func:`read_header`).

    Returns
    -------
    SourceTable
        The rows as text, plus any malformed rows.

    Raises
    ------
    InputError
        Missing, empty, not UTF-8 or unreadable file, or an ambiguous CSV delimiter.
    """
    _require_file(path)
    if _file_kind(path) == "parquet":
        return _read_parquet(path, columns)
    return _read_csv(path, columns)


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise InputError(f"file {path} does not exist (paths in a mapping are relative to it)")


@contextmanager
def _open_bytes(path: Path) -> Iterator[IO[bytes]]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as stream:
            yield stream
    except gzip.BadGzipFile as error:
        raise InputError(f"cannot read {path} as gzip: {error}") from None


def _csv_header(path: Path) -> tuple[list[str], str]:
    with _open_bytes(path) as stream:
        head = stream.read(_HEADER_BYTES)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        text = decoder.decode(head, final=len(head) < _HEADER_BYTES)
    except UnicodeDecodeError as error:
        # The utf-8-sig decoder counts from after the byte-order mark.
        bom = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
        raise _not_utf8(path, bom + error.start, head) from None
    if not text.strip():
        raise InputError(f"{path} is empty: expected a header line naming the columns")
    first_line = text.split("\n", 1)[0].rstrip("\r")
    if not first_line.strip():
        raise InputError(f"{path}: line 1 is blank; the first line must be the header")
    delimiter = _choose_delimiter(path, first_line)
    header = next(csv.reader([first_line], delimiter=delimiter))
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise InputError(f"{path}: column {duplicated[0]!r} appears more than once in the header")
    return header, delimiter


def _choose_delimiter(path: Path, header_line: str) -> str:
    widths = {d: len(next(csv.reader([header_line], delimiter=d))) for d in CANDIDATE_DELIMITERS}
    widest = max(widths.values())
    if widest == 1:
        return ","
    winners = [d for d, width in widths.items() if width == widest]
    if len(winners) > 1:
        names = " and ".join(_DELIMITER_NAMES[d] for d in winners)
        raise InputError(
            f"{path}: cannot tell the delimiter: the header splits into {widest} columns on "
            f"both {names}; save the file comma-separated"
        )
    if winners[0] != ",":
        logger.info("%s: reading as %s-separated", path, _DELIMITER_NAMES[winners[0]])
    return winners[0]


def _read_csv(path: Path, columns: list[str]) -> SourceTable:
    header, delimiter = _csv_header(path)
    malformed: list[MalformedRow] = []

    def keep_aside(row: pa_csv.InvalidRow) -> str:
        malformed.append(MalformedRow(fields=row.actual_columns, text=row.text))
        return "skip"

    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(encoding="utf8"),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=keep_aside
            ),
            convert_options=pa_csv.ConvertOptions(
                include_columns=columns,
                column_types=dict.fromkeys(columns, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as error:
        if "UTF8" in str(error):
            raise _first_invalid_utf8(path) from None
        raise InputError(f"cannot read {path} as CSV: {error}") from None
    return SourceTable(
        path=path,
        frame=table.to_pandas(),
        expected_fields=len(header),
        malformed_rows=malformed,
        delimiter=delimiter,
    )


def _read_parquet(path: Path, columns: list[str]) -> SourceTable:
    try:
        table = pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError) as error:
        raise InputError(f"cannot read {path} as Parquet: {error}") from None
    as_text = []
    for name in columns:
        column = table.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if not pa.types.is_string(column.type):
            try:
                column = pc.cast(column, pa.string())
            except pa.ArrowNotImplementedError:
                raise InputError(
                    f"{path}: column {name} of type {column.type} cannot be read as text"
                ) from None
        as_text.append(pc.fill_null(column, ""))
    text_table = pa.table(as_text, names=columns)
    return SourceTable(path=path, frame=text_table.to_pandas(), expected_fields=len(columns))


def _first_invalid_utf8(path: Path) -> InputError:
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with _open_bytes(path) as stream:
        while chunk := stream.read(_SCAN_BYTES):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                # The decoder may hold up to 3 bytes of an unfinished character from before.
                pending = len(decoder.getstate()[0])
                position = offset - pending + error.start
                return _not_utf8(path, position, None)
            offset += len(chunk)
    return InputError(f"{path} is not valid UTF-8; re-save it as UTF-8")


def _not_utf8(path: Path, offset: int, head: bytes | None) -> InputError:
    if head is None:
        with _open_bytes(path) as stream:
            head = stream.read(offset + 1)
    line = head[:offset].count(b"\n") + 1
    return InputError(
        f"{path} is not UTF-8: byte 0x{head[offset]:02x} at offset {offset} (line {line}) is "
        "not valid UTF-8; re-save the file as UTF-8 (e.g. 'CSV UTF-8' in Excel)"
    )


def _scan_line_numbers(path: Path, delimiter: str, expected_fields: int) -> tuple[np.ndarray, ...]:
    """Physical line of every data record, split into well-formed and malformed ones.

    It repeats the reader's record rules (blank lines skipped, quoted newlines inside a record)
    with Python's csv module, which is slow, so it only runs when a file has errors.
    """
    good: list[int] = []
    bad: list[int] = []
    with _open_bytes(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text, delimiter=delimiter)
        next(reader, None)  # the header
        while True:
            first_line = reader.line_num + 1
            record = next(reader, None)
            if record is None:
                break
            if not record:
                continue
            (good if len(record) == expected_fields else bad).append(first_line)
    return np.asarray(good, dtype=np.int64), np.asarray(bad, dtype=np.int64)
