"""CSV file -> typed Arrow batches + rejected rows: the entry points of typed CSV.

Two passes over a file, both streamed by polars in chunks of bounded size with every field read as
String (frames.py, over the byte chunks of chunks.py):

1. `plan_file` (plan.py) profiles every column over *all* rows (profile.py: numbers, leading zeros,
   booleans, date shapes, ragged records, with the expressions of expressions.py), parses the
   date-like columns with every accepted format (temporal.py), and lets the rules (rules.py) decide
   each column's kind. Ragged records are located with Python's `csv` module (records.py) only
   when polars saw some, which is rare.
2. `unify` (rules.py) merges the plans of a table's files into one `TableSchema` (model.py), and
   `read_batches` (convert.py) casts the strings to its types batch by batch; every batch is a
   `pyarrow.Table` with exactly the table's schema.
"""

from __future__ import annotations

from uniware_source.typed_csv.convert import read_batches
from uniware_source.typed_csv.kinds import Kind
from uniware_source.typed_csv.model import ColumnPlan, FilePlan, RejectedRow, TableSchema, plain_strings
from uniware_source.typed_csv.plan import plan_file
from uniware_source.typed_csv.rules import unify

__all__ = [
    "ColumnPlan",
    "FilePlan",
    "Kind",
    "RejectedRow",
    "TableSchema",
    "plain_strings",
    "plan_file",
    "read_batches",
    "unify",
]
