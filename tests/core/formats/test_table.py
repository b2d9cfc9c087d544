"""Reading CSV text: a quote left open never swallows the rows after it."""

from __future__ import annotations

import pytest

from lastmile.core.errors import InputError
from lastmile.core.formats.csv_out import safe_cell, write_csv
from lastmile.core.formats.table import read_rows


def _issues(text: str) -> list[str]:
    with pytest.raises(InputError) as caught:
        read_rows(text, source="test CSV")
    return [i.describe() for i in caught.value.issues]


def test_an_unclosed_quote_to_the_end_of_the_file_names_its_row() -> None:
    text = 'id,address\nA1,Street 1\nA2,"Street 2\nA3,Street 3\nA4,Street 4\n'
    (issue,) = _issues(text)
    assert issue.startswith("row 3:") and "end of the file" in issue and "quote" in issue


def test_a_quoted_cell_over_a_line_break_names_its_row() -> None:
    text = 'id,address\nA1,"Street\n1"\nA2,Street 2\nA3,"Street 3"\n'
    (issue,) = _issues(text)
    assert issue.startswith("row 2:") and "line break into row 3" in issue


def test_a_header_over_a_line_break_is_refused() -> None:
    (issue,) = _issues('id,"addr\ness"\nA1,x\n')
    assert issue.startswith("row 1:")


def test_quoted_cells_on_one_line_still_read_and_rows_keep_their_numbers() -> None:
    header, rows = read_rows(
        'id,address\r\nA1,"Street 1, Vaduz"\r\n\r\nA2,"Say ""hi"""\r\n', source="t"
    )
    assert header == ["id", "address"]
    assert rows == [
        (2, {"id": "A1", "address": "Street 1, Vaduz"}),
        (4, {"id": "A2", "address": 'Say "hi"'}),
    ]


@pytest.mark.parametrize(
    "cell", ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("x")']
)
def test_formula_cells_are_neutralised(cell: str) -> None:
    assert safe_cell(cell) == "'" + cell
    lines = write_csv(["a"], [[cell]]).splitlines()
    assert lines[1].lstrip('"').startswith("'")


@pytest.mark.parametrize("value", [-0.1278, "-3.5", "12", "Landstrasse 19", "", None, 0])
def test_plain_values_and_numbers_are_left_alone(value: object) -> None:
    assert safe_cell(value) == ("" if value is None else str(value))
