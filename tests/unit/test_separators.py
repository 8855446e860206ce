"""A file that is not comma-separated is refused with the reason, never loaded as one column; a
one-column comma file whose label merely holds a `;`, tab or `|` still loads."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention

from uniware_source.api.errors import CsvFormatError
from uniware_source.typed_csv.reader import plan_file, read_batches, unify

NORMALIZE = NamingConvention().normalize_identifier


def write(tmp_path: Path, lines: list[str], *, bom: bool = True, eol: str = "\r\n") -> Path:
    path = tmp_path / "f.csv"
    path.write_bytes((("\ufeff" if bom else "") + "".join(line + eol for line in lines)).encode())
    return path


def load(path: Path) -> pa.Table:
    plan = plan_file(path, normalize=NORMALIZE)
    schema = unify([plan])
    batches = list(read_batches(path, plan, schema))
    return pa.concat_tables(batches) if batches else schema.arrow_schema().empty_table()


@pytest.mark.parametrize(
    ("sep", "name"),
    [(";", "`;`"), ("\t", "tab"), ("|", "`|`")],
)
def test_a_file_separated_otherwise_is_refused_with_the_reason(tmp_path: Path, sep: str, name: str) -> None:
    lines = [sep.join(["Code", "Qty", "Amount", "Created At", "Name"])]
    lines.append(sep.join(["A1", "3", "10,5", "2024-01-01 10:00:00", "Müller"]))
    lines.append(sep.join(["B2", "4", "", "", ""]))
    path = write(tmp_path, lines)
    with pytest.raises(CsvFormatError, match=f"looks {name}-separated") as caught:
        plan_file(path, normalize=NORMALIZE)
    message = str(caught.value)
    assert "f.csv" in message and "5 labels" in message and "comma-separated" in message
    assert "Code" in message


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_quoted_fields_of_such_a_file_are_read_with_its_separator(tmp_path: Path, sep: str) -> None:
    """Quotes protect a separator or a line break inside a field; the record still counts."""
    lines = [sep.join(['"Code"', '"Qty (pcs)"', '"Note"'])]
    lines += [sep.join(['"A;1|\tx"', "3,5", '"two\r\nlines"']), sep.join(["B", "4", '"say ""hi"""'])]
    with pytest.raises(CsvFormatError, match="3 labels, and 3 fields in 2 of 2 data records"):
        plan_file(write(tmp_path, lines, bom=False, eol="\n"), normalize=NORMALIZE)


def test_a_header_only_file_is_judged_by_its_header(tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError, match=r"looks `;`-separated \(3 labels\)"):
        plan_file(write(tmp_path, ["Code;Qty;Amount"]), normalize=NORMALIZE)


def test_a_far_record_that_disagrees_is_not_looked_at(tmp_path: Path) -> None:
    """Only the start of the file is sampled: a `;` file is refused however it goes on."""
    lines = ["Code;Qty"] + [f"A{i};{i}" for i in range(10_000)] + ["just one field"]
    with pytest.raises(CsvFormatError, match="looks `;`-separated"):
        plan_file(write(tmp_path, lines), normalize=NORMALIZE)


def test_a_malformed_record_or_two_do_not_hide_the_separator(tmp_path: Path) -> None:
    """Nine records in ten with the header's fields are enough; fewer are not."""
    lines = ["Code;Qty;Note"] + [f"A{i};{i};x" for i in range(18)] + ["B;1;x;UNEXPECTED", "C;2"]
    with pytest.raises(CsvFormatError, match=r"3 fields in 18 of 20 data records"):
        plan_file(write(tmp_path, lines), normalize=NORMALIZE)
    lines = ["Notes; remarks", "one; two", "three"]  # one in two: a one-column file after all
    assert load(write(tmp_path, lines)).column(0).to_pylist() == ["one; two", "three"]


@pytest.mark.parametrize(
    ("lines", "values"),
    [
        # the label holds the separator, the values do not split alike
        (["Notes; remarks", "first", "second; and more; more", ""], ["first", "second; and more; more"]),
        (["Notes|remarks", "a|b|c", "d"], ["a|b|c", "d"]),
        (["Notes\tremarks", "just text"], ["just text"]),
        # quoted, the label is one field whatever it holds, with or without data
        (['"Notes; remarks"', "a;b"], ["a;b"]),
        (['"Notes; remarks"'], []),
        # one label left after the split: nothing to be separated
        (["Notes;", "a;"], ["a;"]),
        (["Notes; ", "a; "], ["a; "]),
        # a label of one word
        (["Remarks", "x;y"], ["x;y"]),
    ],
)
def test_a_one_column_comma_file_still_loads(tmp_path: Path, lines: list[str], values: list[str]) -> None:
    table = load(write(tmp_path, lines))
    assert table.num_columns == 1
    assert table.column(0).to_pylist() == values


def test_a_comma_file_whose_values_hold_separators_loads(tmp_path: Path) -> None:
    lines = ["Code,Note", "A;1,x|y", "B\t2,p;q;r"]
    table = load(write(tmp_path, lines))
    assert table.to_pylist() == [{"code": "A;1", "note": "x|y"}, {"code": "B\t2", "note": "p;q;r"}]
