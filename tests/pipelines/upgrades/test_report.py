"""The upgrade report files: CSV columns, counts per train and region, HTML that escapes what it shows."""

from __future__ import annotations

import csv
from pathlib import Path

from di_ops.pipelines.upgrades.report import COLUMNS, counts, write_csv, write_html


def _row(cluster: str, train: str, region: str, upgrade: bool, **extra: object) -> dict[str, object]:
    row: dict[str, object] = {c: "" for c in COLUMNS}
    row.update(
        customer_id=cluster.split("-")[0],
        cluster_id=cluster,
        application="CUCM",
        region=region,
        train=train,
        may_stay=train == "n",
        upgrade=upgrade,
        emergency=False,
        state="notified" if upgrade else "",
    )
    row.update(extra)
    return row


ROWS = [
    _row("A1-cucm", "n", "AMER", False),
    _row("A2-cucm", "n-2", "AUS", True, triggers="below_n1: <script>alert(1)</script>"),
    _row("A3-cucm", "n-2", "AUS", True, move_together="A3: split"),
    _row("A4-cucm", "unknown", "EMEA", False),
]


def test_counts_per_train_and_region() -> None:
    summary = counts(ROWS)
    assert summary["clusters"] == 4 and summary["upgrades"] == 2 and summary["move_together_flags"] == 1
    assert summary["by_train"] == {"n": 1, "n-2": 2, "unknown": 1}  # in train order, empty trains left out
    assert summary["by_region"] == {"AMER": 1, "AUS": 2, "EMEA": 1}
    assert summary["train_region"] == {"n-2/AUS": 2, "n/AMER": 1, "unknown/EMEA": 1}


def test_csv_and_html_files(tmp_path: Path) -> None:
    write_csv(tmp_path / "r" / "upgrades.csv", ROWS)
    with (tmp_path / "r" / "upgrades.csv").open(encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        assert [r["cluster_id"] for r in reader] == ["A1-cucm", "A2-cucm", "A3-cucm", "A4-cucm"]
    write_html(tmp_path / "r" / "upgrades.html", ROWS, title="Upgrades & co", notes=["as_of 2026-06-01"])
    html = (tmp_path / "r" / "upgrades.html").read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html and "Upgrades &amp; co" in html
    assert "<td>n-2</td><td>0</td><td>2</td><td>0</td><td>2</td>" in html  # the train x region table
    assert "the operator starts 2 upgrades" in html
    assert not list((tmp_path / "r").glob("*.part"))


HOSTILE = ['=HYPERLINK("http://x.example","open")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3+cmd|' /C calc'!A0"]


def test_the_csv_quotes_hostile_ids_so_no_cell_starts_a_formula(tmp_path: Path) -> None:
    rows = [
        _row(f"H{i}-cucm", "n-1", "EMEA", True, customer_id=bad, cluster_id=bad, triggers="\t=1+1")
        for i, bad in enumerate(HOSTILE)
    ]
    write_csv(tmp_path / "upgrades.csv", rows)
    with (tmp_path / "upgrades.csv").open(encoding="utf-8", newline="") as fh:
        read = list(csv.DictReader(fh))
    assert [r["cluster_id"] for r in read] == ["'" + bad for bad in HOSTILE]
    assert {r["triggers"] for r in read} == {"'\t=1+1"}
    assert [r["train"] for r in read] == ["n-1"] * len(HOSTILE)  # a dash inside stays as it is
    for row in read:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_missed_windows_are_a_section_and_a_column(tmp_path: Path) -> None:
    assert COLUMNS[-1] == "window_note"
    missed = [
        {
            "customer_id": "A2",
            "cluster_id": "A2-cucm",
            "upgrade_id": "A2-cucm~15.0SU2~20260615",
            "window_start": "2026-06-15T19:00:00+00:00",
            "window_end": "2026-06-16T04:00:00+00:00",
            "reason": "shows <img src=x onerror=alert(1)>",
            "state": "notified",
            "new_window_start": "2026-06-30T19:00:00+00:00",
        }
    ]
    rows = [*ROWS[:1], {**ROWS[1], "window_note": "=missed window"}]
    write_html(tmp_path / "u.html", rows, title="t", missed=missed)
    html = (tmp_path / "u.html").read_text(encoding="utf-8")
    assert "<h2>Missed windows</h2>" in html and "2026-06-30T19:00:00+00:00" in html
    assert "<img" not in html and "&lt;img" in html
    write_html(tmp_path / "none.html", ROWS, title="t")
    assert "None in this run." in (tmp_path / "none.html").read_text(encoding="utf-8")
    write_csv(tmp_path / "u.csv", rows)
    with (tmp_path / "u.csv").open(encoding="utf-8", newline="") as fh:
        assert [r["window_note"] for r in csv.DictReader(fh)] == ["", "'=missed window"]
