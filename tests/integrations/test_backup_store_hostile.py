"""The scan of ``backup_retention`` survives hostile records (DOMAIN.md §3 "Safety": an unreadable
manifest stops pruning of its series, it is reported, nothing is deleted).

Real files, a real FIFO, real symlinks (to /dev/zero, to a JSON outside the store), real
non-UTF-8 folder names; the link cases also over SFTP against the real sshd on loopback.
"""

from __future__ import annotations

import csv
import io
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from di_ops.integrations.backup_scan import CatalogRecord, list_customers, scan
from di_ops.integrations.backup_store import FsStore
from di_ops.pipelines.retention.plan import basic_checks, build_plan, held_series
from include.demo.backups import write_backup
from tests.integrations.conftest import open_sftp_store
from tests.pipelines.retention.fixtures import AS_OF, night

SERIES = "CX/CX-cucm/CUCM"
LIMIT = 1 << 20


def manifest(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "backup_id": "hostile",
        "customer_id": "CX",
        "cluster_id": "CX-cucm",
        "application": "CUCM",
        "taken_at": night(1).isoformat(),
        "status": "SUCCESS",
        "files": [{"name": "a.enc", "size": 3, "sha256": "00"}],
    }
    base.update(changes)
    return base


def hostile_folder(root: Path, name: str = "hostile") -> Path:
    folder = root / "CX" / "CX-cucm" / "CUCM" / name
    folder.mkdir(parents=True)
    (folder / "a.enc").write_bytes(b"abc")
    return folder


def write_manifest(**changes: object) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        (hostile_folder(root) / "manifest.json").write_text(json.dumps(manifest(**changes)))

    return build


def raw_manifest(data: bytes) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        (hostile_folder(root) / "manifest.json").write_bytes(data)

    return build


def fifo_manifest(root: Path) -> None:
    os.mkfifo(hostile_folder(root) / "manifest.json")


def link_manifest(target: str) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        outside = root.parent / "outside.json"
        outside.write_text(json.dumps(manifest(backup_id="OUTSIDE-ID")))
        os.symlink(target.replace("{outside}", str(outside)), hostile_folder(root) / "manifest.json")

    return build


def bytes_folder(*parts: bytes) -> Callable[[Path], None]:
    """Folders with non-UTF-8 names: the hostile level and below hold a valid backup."""

    def build(root: Path) -> None:
        folder = os.path.join(os.fsencode(root), *parts)
        os.makedirs(folder)
        Path(os.fsdecode(folder), "manifest.json").write_text(json.dumps(manifest(files=[])))

    return build


def linked_folder(level: int) -> Callable[[Path], None]:
    """A symlinked customer (0), cluster (1), application (2) or backup folder (3) of customer CL to a
    valid tree outside the store."""

    def build(root: Path) -> None:
        outside = root.parent / "outside-tree"
        write_backup(outside, "CL", "CL-cucm", "CUCM", night(1), backup_id="OUTSIDE-ID")
        names = ["CL", "CL-cucm", "CUCM", "OUTSIDE-ID"]
        inside = root.joinpath(*names[:level])
        inside.mkdir(parents=True, exist_ok=True)
        os.symlink(outside.joinpath(*names[: level + 1]), inside / (names[level] if level < 3 else "linked"))

    return build


def tombstone_beside_live(root: Path) -> None:
    write_backup(root, "CX", "CX-cucm", "CUCM", night(1), backup_id="twin")
    write_backup(root, "CX", "CX-cucm", "CUCM", night(1), backup_id="twin")
    os.rename(root / SERIES / "twin", root / SERIES / ".tombstone.twin")
    write_backup(root, "CX", "CX-cucm", "CUCM", night(1), backup_id="twin")


ATTACKS: list[tuple[str, Callable[[Path], None], str]] = [
    ("name ..", write_manifest(files=[{"name": "..", "size": 0}]), "files[0].name '..' is not a plain file name"),
    ("name .", write_manifest(files=[{"name": ".", "size": 0}]), "files[0].name '.' is not a plain file name"),
    ("name NUL", write_manifest(files=[{"name": "a\x00b", "size": 0}]), "files[0].name 'a\\u0000b' is not a plain"),
    ("name slash", write_manifest(files=[{"name": "../../etc/passwd", "size": 0}]), "is not a plain file name"),
    ("year 1", write_manifest(taken_at="0001-01-01T00:00:00+23:59"), "taken_at 0001-01-01T00:00:00+23:59 out of range"),
    ("year 9999", write_manifest(taken_at="9999-12-31T23:59:59-23:59"), "taken_at 9999-12-31T23:59:59-23:59 out of"),
    ("just past int64", write_manifest(taken_at="2262-04-11T23:47:17Z"), "out of range"),
    (
        "size 10**20",
        write_manifest(files=[{"name": "a.enc", "size": 10**20}]),
        "files[0].size 100000000000000000000 is",
    ),
    ("size -1", write_manifest(files=[{"name": "a.enc", "size": -1}]), "files[0].size -1 is not a byte count"),
    ("size true", write_manifest(files=[{"name": "a.enc", "size": True}]), "files[0].size True is not a byte count"),
    ("size 1.5", write_manifest(files=[{"name": "a.enc", "size": 1.5}]), "files[0].size 1.5 is not a byte count"),
    ("size '3'", write_manifest(files=[{"name": "a.enc", "size": "3"}]), "files[0].size '3' is not a byte count"),
    ("sizes add up", write_manifest(files=[{"name": "a", "size": 2**63 - 1}, {"name": "b", "size": 1}]), "add up"),
    ("200k deep", raw_manifest(b"[" * 200_000 + b"]" * 200_000), "JSON nested deeper than 64 levels"),
    ("65 deep", write_manifest(extra=json.loads("[" * 64 + "]" * 64)), "JSON nested deeper than 64 levels"),
    ("over the limit", raw_manifest(b" " * LIMIT + b"{}"), f"manifest.json larger than {LIMIT} bytes"),
    ("not UTF-8", raw_manifest(b'{"files": [], "backup_id": "\xff"}'), "manifest.json unreadable"),
    ("lone surrogate id", raw_manifest(b'{"files": [], "backup_id": "a\\ud800"}'), "backup_id a\\ud800 is not valid"),
    ("NUL in id", write_manifest(backup_id="a\x00"), "backup_id a\\u0000 contains a control"),
    ("long id", write_manifest(backup_id="x" * 251), "backup_id is longer than 250 characters"),
    ("long status", write_manifest(status="ß" * 20), "status is longer than 32 characters"),
    ("FIFO", fifo_manifest, "manifest.json is a FIFO, not a regular file"),
    ("link to /dev/zero", link_manifest("/dev/zero"), "manifest.json is a symlink: not followed"),
    ("link outside", link_manifest("{outside}"), "manifest.json is a symlink: not followed"),
    ("customer not UTF-8", bytes_folder(b"C\xe9", b"c", b"a", b"b"), "folder C\\xe9 is not valid UTF-8"),
    ("cluster not UTF-8", bytes_folder(b"CX", b"CX-\xff", b"CUCM", b"b"), "folder CX-\\xff is not valid UTF-8"),
    ("app not UTF-8", bytes_folder(b"CX", b"CX-cucm", b"\xc3", b"b"), "folder \\xc3 is not valid UTF-8"),
    ("backup not UTF-8", bytes_folder(b"CX", b"CX-cucm", b"CUCM", b"b\x80"), "folder b\\x80 is not valid UTF-8"),
    ("control char", bytes_folder(b"CX", b"CX-cucm", b"CUCM", b"b\x1b[2J"), "folder b\\u001b[2J contains a control"),
    ("tombstone of ..", bytes_folder(b"CX", b"CX-cucm", b"CUCM", b".tombstone.."), "folder .tombstone.. is not a"),
    ("linked customer", linked_folder(0), "CL is a symlink: not followed"),
    ("linked cluster", linked_folder(1), "CL-cucm is a symlink: not followed"),
    ("linked app", linked_folder(2), "CUCM is a symlink: not followed"),
    ("linked backup", linked_folder(3), "linked is a symlink: not followed"),
    ("tombstone beside live", tombstone_beside_live, ".tombstone.twin exists beside twin"),
]


def scan_in_thread(store: FsStore | object, customers: list[str], timeout: float = 10.0) -> list[CatalogRecord]:
    """The scan in a thread: a hang (a FIFO opened for reading) fails the test instead of stalling it."""
    out: list[list[CatalogRecord]] = []
    worker = threading.Thread(target=lambda: out.append(scan(store, customers, verify_checksums=True)), daemon=True)  # type: ignore[arg-type]
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), f"the scan did not finish within {timeout} s"
    assert out, "the scan raised"
    return out[0]


def plan_and_store(records: list[CatalogRecord], tmp: Path) -> list[dict[str, object]]:
    """Quality checks, plan and the plan's files as the pipeline writes them: none of it may crash."""
    held = held_series(basic_checks(records, AS_OF), records)
    rows = build_plan(records, AS_OF, held)
    (tmp / "plan.json").write_text(json.dumps(rows, default=str))
    buffer = io.StringIO()
    csv.writer(buffer).writerows([[str(v) for v in row.values()] for row in rows])
    (tmp / "plan.csv").write_text(buffer.getvalue(), encoding="utf-8")  # a lone surrogate would fail here
    for row in rows:
        for key in ("customer_id", "cluster_id", "application"):
            assert len(str(row[key])) <= 64 and "\x00" not in str(row[key])
    return rows


def control_series(root: Path) -> None:
    for n in range(1, 6):
        write_backup(root, "C0", "C0-cucm", "CUCM", night(n), backup_id=f"c0-{n}")
    write_backup(root, "CX", "CX-cucm", "CUCM", night(40), backup_id="cx-old")  # prunable were it not held


@pytest.mark.parametrize(("attack", "reason"), [(a[1], a[2]) for a in ATTACKS], ids=[a[0] for a in ATTACKS])
def test_a_hostile_record_is_held_with_its_reason(tmp_path: Path, attack: Callable[[Path], None], reason: str) -> None:
    root = tmp_path / "store"
    control_series(root)
    attack(root)
    store = FsStore(root)
    records = scan_in_thread(store, list_customers(store))
    errors = [r for r in records if r.error]
    assert any(reason in (r.error or "") for r in errors), [r.error for r in errors]
    assert all(r.error for r in errors)
    assert not any(r.backup_id == "OUTSIDE-ID" for r in records)  # nothing read through a link
    control = [r for r in records if r.customer_id == "C0"]
    assert len(control) == 5 and all(r.intact and not r.error for r in control)  # the rest still scanned
    rows = plan_and_store(records, tmp_path)
    hostile = next(r for r in errors if reason in (r.error or ""))
    mine = [row for row in rows if (row["customer_id"], row["cluster_id"], row["application"]) == hostile.series]
    assert mine and all(row["action"] == "hold" for row in mine)  # nothing of that series is pruned
    assert {row["action"] for row in rows if row["customer_id"] == "C0"} == {"keep"}


def test_the_sane_extremes_of_an_instant_are_readable(tmp_path: Path) -> None:
    """Both sides of the range edges of di_ops.rules.timestamps (years 1700-2200)."""
    edges = ["2200-12-31T23:59:59Z", "1700-01-01T00:00:00Z", "2201-01-01T00:00:00Z", "1699-12-31T23:59:59Z"]
    for n, taken_at in enumerate(edges):
        folder = hostile_folder(tmp_path / "store", f"b{n}")
        (folder / "manifest.json").write_text(json.dumps(manifest(taken_at=taken_at, backup_id=f"b{n}")))
    records = scan(FsStore(tmp_path / "store"), ["CX"])
    assert [r.error is None for r in records] == [True, True, False, False]
    assert all("out of range" in (r.error or "") for r in records[2:])
    plan_and_store(records, tmp_path)


@pytest.mark.parametrize(("depth", "ok"), [(64, True), (65, False)])
def test_json_depth_edge(tmp_path: Path, depth: int, ok: bool) -> None:
    nested = json.loads("[" * (depth - 1) + "]" * (depth - 1))  # the object is level 1, its lists 2 …
    (hostile_folder(tmp_path) / "manifest.json").write_text(json.dumps(manifest(extra=nested)))
    (record,) = scan(FsStore(tmp_path), ["CX"])
    assert (record.error is None) is ok, record.error


@pytest.mark.parametrize(("size", "ok"), [(4096, True), (4097, False)])
def test_manifest_size_edge(tmp_path: Path, size: int, ok: bool) -> None:
    text = json.dumps(manifest())
    (hostile_folder(tmp_path) / "manifest.json").write_text(text + " " * (size - len(text)))
    (record,) = scan(FsStore(tmp_path), ["CX"], max_manifest_bytes=4096)
    assert (record.error is None) is ok and (ok or record.error == "manifest.json larger than 4096 bytes")


# --- the link and special-file cases over SFTP (the real sshd on loopback) -------------------

SFTP_ATTACKS = [a for a in ATTACKS if a[0] in {"FIFO", "link to /dev/zero", "link outside", "linked backup"}]
SFTP_ATTACKS += [
    ("linked app", linked_folder(2), "CUCM is a symlink: not followed"),
    ("backup not UTF-8", bytes_folder(b"CX", b"CX-cucm", b"CUCM", b"b\x80"), "holds a name that is not valid UTF-8"),
]


@pytest.mark.parametrize(("attack", "reason"), [(a[1], a[2]) for a in SFTP_ATTACKS], ids=[a[0] for a in SFTP_ATTACKS])
def test_links_and_special_files_over_sftp(
    sshd_lab, sftp_root: Path, monkeypatch: pytest.MonkeyPatch, attack: Callable[[Path], None], reason: str
) -> None:  # type: ignore[no-untyped-def]
    root = sftp_root / "backups"
    control_series(root)
    attack(root)
    store = open_sftp_store(monkeypatch, sshd_lab, root)
    try:
        records = scan_in_thread(store, list_customers(store))
    finally:
        store.close()
    assert any(reason in (r.error or "") for r in records), [r.error for r in records if r.error]
    assert not any(r.backup_id == "OUTSIDE-ID" for r in records)
    assert len([r for r in records if r.customer_id == "C0" and r.intact]) == 5
    plan_and_store(records, sftp_root)


# --- fuzz: random manifests, names, sizes and instants in a real store, canaries outside ------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ_EXAMPLES = int(os.environ.get("DI_OPS_FUZZ_EXAMPLES", "200"))
BAD_NAMES = ["..", ".", "", "a\x00b", "a/b", "../../outside/canary.json", "\udce9", 7, None]
GOOD_NAMES = ["a.enc", "backup.tar.enc", "é.ini", "name with space"]
BAD_SIZES = [-1, 10**20, 2**63, True, False, 1.5, float("nan"), "3", None, [3]]
# outside the years of di_ops.rules.timestamps (1700-2200): read, then refused as out of range
BAD_INSTANTS = [
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-23:59",
    "1699-12-31T23:59:59Z",
    "2201-01-01T00:00:00Z",
]
BAD_TEXTS = ["a\x00", "\ud800", "x" * 300, "\u202e", "a\nb"]
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.characters(codec=None), max_size=20)
JSON_ANY = st.recursive(
    JSON_SCALARS, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids, max_size=4)
)


@st.composite
def manifests(draw: st.DrawFn) -> tuple[bytes, bool | None]:
    """(manifest bytes, must be refused; None: either way): byte garbage, random JSON, or a manifest
    with hostile fields."""
    kind = draw(st.sampled_from(["garbage", "json", "shaped", "shaped", "shaped"]))
    if kind == "garbage":
        return b"\x00" + draw(st.binary(max_size=300)), True  # a NUL first: never JSON
    if kind == "json":
        value = draw(JSON_ANY)
        shaped = isinstance(value, dict) and isinstance(value.get("files"), list)
        return json.dumps(value).encode(), None if shaped else True  # no object with a files list: refused
    bad = False
    files = []
    for _ in range(draw(st.integers(0, 3))):
        name_bad, size_bad = draw(st.booleans()), draw(st.booleans())
        files.append(
            {
                "name": draw(st.sampled_from(BAD_NAMES if name_bad else GOOD_NAMES)),
                "size": draw(st.sampled_from(BAD_SIZES) if size_bad else st.integers(0, 2**40)),
            }
        )
        bad |= name_bad or size_bad
    fields = manifest(files=files)
    if draw(st.booleans()):
        fields["taken_at"] = draw(st.sampled_from(BAD_INSTANTS))
        bad = True
    else:
        moment = draw(
            st.datetimes(min_value=night(3000).replace(tzinfo=None), max_value=night(-1).replace(tzinfo=None))
        )
        fields["taken_at"] = moment.isoformat() + draw(st.sampled_from(["Z", "+23:59", "-23:59", "+05:30"]))
    if draw(st.booleans()):
        fields[draw(st.sampled_from(["backup_id", "status", "customer_id"]))] = draw(st.sampled_from(BAD_TEXTS))
        bad = True
    depth = draw(st.integers(0, 80))
    fields["extra"] = json.loads("[" * depth + "]" * depth) if depth else None
    bad |= depth >= 64  # the object is level 1
    return json.dumps(fields).encode(), bad


FOLDER_NAMES = st.binary(min_size=1, max_size=60).filter(lambda b: b"/" not in b and b"\x00" not in b and b[:1] != b".")
HOW = st.sampled_from(["file", "file", "file", "fifo", "link outside", "link zero"])


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(backups=st.lists(st.tuples(FOLDER_NAMES, manifests(), HOW), min_size=1, max_size=4, unique_by=lambda b: b[0]))
def test_fuzzed_stores_are_scanned_and_nothing_outside_changes(backups: list) -> None:  # type: ignore[type-arg]
    import tempfile

    with tempfile.TemporaryDirectory(prefix="di-ops-fuzz-") as top:
        top_path = Path(top)
        outside = top_path / "outside"
        outside.mkdir()
        (outside / "canary.json").write_text(json.dumps(manifest(backup_id="OUTSIDE-ID")))
        (outside / "canary.bin").write_bytes(os.urandom(64))
        before = _snapshot(outside)
        root = top_path / "store"
        write_backup(root, "C0", "C0-cucm", "CUCM", night(1), backup_id="c0")
        series = os.path.join(os.fsencode(root), b"CX", b"CX-cucm", b"CUCM")
        expected: dict[bytes, bool | None] = {}
        for raw, (data, bad), how in backups:
            folder = os.path.join(series, raw)
            os.makedirs(folder)
            target = os.path.join(folder, b"manifest.json")
            if how == "fifo":
                os.mkfifo(target)
            elif how.startswith("link"):
                os.symlink(os.fsencode(outside / "canary.json") if how == "link outside" else b"/dev/zero", target)
            else:
                Path(os.fsdecode(target)).write_bytes(data)
            try:
                text = raw.decode("utf-8")  # printable ASCII without '\\' is plain; other text: either way
                plain: bool | None = (text.isascii() and text.isprintable() and "\\" not in text) or None
            except UnicodeDecodeError:
                plain = False
            expected[raw] = True if how != "file" or plain is False else (bad if plain else bad or None)
        records = scan_in_thread(FsStore(root), list_customers(FsStore(root)))
        mine = [r for r in records if r.customer_id == "CX"]
        assert len(mine) == len(backups)  # one record per folder, whatever it holds
        for r in mine:
            assert r.error is None or r.error.strip()
            raw = os.fsencode(r.folder) if "\\" not in r.folder else None
            if raw is not None and raw in expected:
                assert expected[raw] is None or (r.error is not None) == expected[raw], (raw, r.error)
            else:  # a name that is not plain is always reported
                assert r.error and "not scanned" in r.error
            assert r.backup_id != "OUTSIDE-ID"
        assert [r.error for r in records if r.customer_id == "C0"] == [None]
        plan_and_store(records, top_path)
        assert _snapshot(outside) == before
