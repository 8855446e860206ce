"""Typed CSV: an export CSV file -> typed Arrow batches + rejected rows (entry points in reader.py).

The modules, in the order of the flow:
    kinds        the kinds a column loads as, and their dlt, Arrow and polars types
    model        FilePlan (what pass 1 decides for a file), TableSchema (one per table)
    chunks       a file as byte chunks of whole records, read while it downloads
    records      records read exactly with the csv module: header, UTF-8 check, ragged rows
    frames       the chunks as polars frames of raw strings
    temporal     date and time formats, their parsing, the gaps of a time zone
    expressions  the polars expressions: values, and the aggregations pass 1 counts with
    profile      pass 1's counts, chunk by chunk
    rules        a column's kind from its counts; the files of a table unified
    plan         pass 1: plan_file
    convert      pass 2: read_batches

Importing this package (or kinds) loads neither polars nor pyarrow.
"""
