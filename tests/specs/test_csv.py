"""CSV datasets beside JSONL: a header row names the fields, every row is an item, errors carry the row's line."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.cli import main
from runner.specs.loader import load_specs

HEADER = "id,split,message,label\n"


def _use_csv(repo: Path, body: str) -> None:
    (repo / "specs/tickets.csv").write_text(body, encoding="utf-8")
    triage = repo / "specs/triage.yaml"
    triage.write_text(triage.read_text().replace("path: tickets.jsonl", "path: tickets.csv"))


def test_csv_items_validate_and_load_like_jsonl(mini_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _use_csv(
        mini_repo,
        "\ufeff" + HEADER + 't1,test,"Where is my order, please?",order_status\n'
        't2,test,"A message\nover two lines",other\n'
        "\n"
        "t3,train,hello,other\n",
    )
    assert main(["validate"]) == 0
    assert capsys.readouterr().out == (
        "ok: 2 Model, 1 Prompt, 1 Dataset, 4 Grader, 1 Eval, 1 FineTune in 2 files; 3 dataset items\n"
    )
    items = load_specs([mini_repo / "specs"]).data["tickets"].items
    assert [(i.id, i.line, i.split) for i in items] == [("t1", 2, "test"), ("t2", 3, "test"), ("t3", 6, "train")]
    assert items[1].data == {"id": "t2", "split": "test", "message": "A message\nover two lines", "label": "other"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            HEADER + "t1,test,hi,order_status\nt1,test,again,other\n",
            [
                "specs/tickets.csv:3:1: Dataset/tickets: duplicate id 't1' (first at specs/tickets.csv:2); ids must be unique",
                "    3 | t1,test,again,other",
                "      | ^",
            ],
        ),
        (
            HEADER + "t1,test,hi,order_status\nt2,test,hi, there,other\n",
            [
                "specs/tickets.csv:3:1: Dataset/tickets: row has 5 fields but the header has 4; quote fields with commas",
                "    3 | t2,test,hi, there,other",
                "      | ^",
            ],
        ),
        (
            HEADER + 't1,test,"multi\nline",order_status\nt2,test,hi,refund\n',
            [
                "specs/tickets.csv:4:1: Dataset/tickets: item does not match item_schema at 'label': 'refund' is not one of ['order_status', 'other']",
                "    4 | t2,test,hi,refund",
                "      | ^",
            ],
        ),
        (
            "id,split,message,message\nt1,test,a,b\n",
            [
                "specs/tickets.csv:1:1: Dataset/tickets: the header row repeats the column(s) 'message'; give every column a unique name",
                "    1 | id,split,message,message",
                "      | ^",
            ],
        ),
        (
            HEADER + "t1,,hi,other\n",
            [
                "specs/tickets.csv:2:1: Dataset/tickets: missing split field 'split'; set it to a split name such as \"test\"",
                "    2 | t1,,hi,other",
                "      | ^",
            ],
        ),
    ],
    ids=["duplicate-id", "field-count", "schema-after-multiline", "duplicate-column", "empty-split"],
)
def test_csv_errors_name_the_row_line(
    mini_repo: Path, capsys: pytest.CaptureFixture[str], body: str, expected: list[str]
) -> None:
    _use_csv(mini_repo, body)
    assert main(["validate"]) == 1
    assert capsys.readouterr().err.splitlines()[: len(expected)] == expected
