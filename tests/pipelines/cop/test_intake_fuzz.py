"""Fuzzing COP intake (hypothesis): random request files dropped in a real inbox on disk.

Whatever lands in the inbox - random JSON, byte garbage, odd or over-long names, links to files
outside, folders, FIFOs - intake completes, every entry leaves the inbox (a bad one into
``rejected/`` with a non-empty reason) and nothing outside the inbox changes.
Source: DOMAIN.md §5; docs/pipelines/cop.md "Inbox". Examples: ``DI_OPS_FUZZ_EXAMPLES`` (default 200).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from di_ops.core.inventory import read_inventory
from di_ops.integrations.opsdb import ops_engine, store_inventory
from di_ops.pipelines.cop.tasks import intake
from include.demo.fleet import write_fleet
from include.demo.pipelines.cop import write_repository

MORNING = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
EXAMPLES = int(os.environ.get("DI_OPS_FUZZ_EXAMPLES", "200"))
COP_FILES = ["cmterm-devicepack15.0.1.13010-1.cop.sgn", "ciscocm.tampered-fix-v2.k4.cop.sgn", "../x.cop.sgn"]

_name_char = st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",))
names = st.one_of(
    st.text(_name_char, min_size=1, max_size=40),
    st.text(st.sampled_from("aé漢🙂"), min_size=50, max_size=60),  # long in bytes (up to 240)
    st.binary(min_size=1, max_size=40).filter(lambda b: b"/" not in b and b"\0" not in b).map(os.fsdecode),
).map(lambda stem: stem + ".json")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
requests = st.fixed_dictionaries(
    {},
    optional={
        "customer_id": st.sampled_from(["C001", "C002", "C004", "C999", "", "c" * 65]) | st.text(max_size=8),
        "cop_file": st.sampled_from(COP_FILES) | st.text(max_size=300),
        "origin": st.sampled_from(["customer", "operator", "partner"]),
        "emergency": st.booleans(),
        "requested_at": st.sampled_from(["2026-11-27T08:00:00Z", "2026-11-27T08:00:00", "9999-12-31T23:59:59-14:00"])
        | st.text(max_size=20),
        "requested_by": st.text(max_size=250),
    },
)
valid_requests = st.fixed_dictionaries(
    {"customer_id": st.sampled_from(["C001", "C002", "C004"]), "cop_file": st.just(COP_FILES[0])},
    optional={"origin": st.just("operator"), "emergency": st.booleans(), "requested_by": st.text(max_size=40)},
)
contents = st.one_of(
    valid_requests.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=400),
    json_values.map(lambda v: json.dumps(v).encode()),
    requests.map(lambda v: json.dumps(v).encode()),
    requests.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    st.integers(1, 200).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(65_000, 70_000).map(lambda size: b'{"pad": "' + b" " * size + b'"}'),
)
entries = st.lists(
    st.tuples(names, st.sampled_from(["file"] * 6 + ["link", "folder", "fifo"]), contents),
    min_size=1,
    max_size=6,
    unique_by=lambda entry: os.fsencode(entry[0]),
)


def _tree(folder: Path, skip: Path) -> dict[str, tuple[int, str]]:
    """Every entry under ``folder`` except ``skip``: mode and content hash (links: their target)."""
    out: dict[str, tuple[int, str]] = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if Path(root, d) != skip]
        for name in dirs + files:
            path = Path(root, name)
            mode = os.lstat(path).st_mode
            if path.is_symlink():
                digest = os.readlink(path)
            elif path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                digest = ""
            out[str(path.relative_to(folder))] = (mode, digest)
    return out


@pytest.fixture
def fuzz_world(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "ops.db")}))
    write_fleet(data_dir / "inventory")
    store_inventory(ops_engine(), read_inventory(data_dir / "inventory"), created_at=MORNING)
    write_repository(data_dir / "cop" / "repository")
    for cid in ("C001", "C002", "C004"):
        monkeypatch.setenv(
            f"AIRFLOW_CONN_COP_SFTP_{cid}",
            json.dumps({"conn_type": "sftp", "host": "127.0.0.1", "login": "root", "extra": {}}),
        )
    canaries = tmp_path / "outside"
    canaries.mkdir()
    (canaries / "canary.json").write_text('{"customer_id": "C001", "cop_file": "' + COP_FILES[0] + '"}')
    (canaries / "secret.bin").write_bytes(os.urandom(256))
    return data_dir, data_dir / "cop" / "inbox", canaries


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(dropped=entries, link_target=st.sampled_from(["canary.json", "secret.bin", "missing.json"]))
def test_intake_survives_any_inbox_and_touches_nothing_outside_it(fuzz_world, dropped, link_target: str) -> None:  # type: ignore[no-untyped-def]
    data, inbox, canaries = fuzz_world
    shutil.rmtree(inbox, ignore_errors=True)
    inbox.mkdir(parents=True)
    for name, kind, content in dropped:
        path = inbox / name
        if kind == "link":
            path.symlink_to(canaries / link_target)
        elif kind == "folder":
            path.mkdir()
            (path / "inside.json").write_bytes(content)
        elif kind == "fifo":
            os.mkfifo(path)
        else:
            path.write_bytes(content)
    outside_before = _tree(data, inbox) | {f"outside/{k}": v for k, v in _tree(canaries, canaries / "none").items()}

    summary = intake(
        {}, dag_id="cop_upload", run_id=f"fuzz-{next(RUNS)}", as_of=MORNING, started_at=MORNING, dry_run=False
    )

    assert all(r["reason"] for r in summary["rejected"])
    assert sorted(p.name for p in inbox.iterdir()) == sorted(
        {"processed", "rejected"} & {p.name for p in inbox.iterdir()}
    )
    moved = [p for folder in ("processed", "rejected") if (inbox / folder).is_dir() for p in (inbox / folder).iterdir()]
    rejected = inbox / "rejected"
    notes = [p for p in moved if p.parent == rejected and p.name.endswith(".reason.txt")]
    assert len(moved) - len(notes) == len(dropped)
    assert len(notes) == sum(1 for p in moved if p.parent == rejected) - len(notes)
    assert all(n.read_text(encoding="utf-8").strip() for n in notes)
    event(f"processed (accepted) entries: {min(len(list((inbox / 'processed').glob('*'))), 2)}+")
    outside_after = _tree(data, inbox) | {f"outside/{k}": v for k, v in _tree(canaries, canaries / "none").items()}
    assert outside_after == outside_before


RUNS = itertools.count()
