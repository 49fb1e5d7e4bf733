"""COP request handling: checksum files, request parsing, validation, timing, the per-customer lease."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from di_ops.db.engine import make_engine, upgrade
from di_ops.pipelines.cop.plan import (
    CopRequest,
    decide_timing,
    inbox_request_id,
    json_depth,
    parse_inbox_request,
    read_checksums,
    read_inbox_file,
    validate_request,
)
from di_ops.pipelines.cop.settings import cop_settings
from di_ops.pipelines.cop.transfer import LeaseBusy, _try_lease, customer_lease
from di_ops.rules.maintenance import window_at

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # Friday 11:00 CET
NAME = "cmterm-devicepack15.0.1.13010-1.cop.sgn"


def _request(**changes: object) -> CopRequest:
    base = {
        "request_id": "r1",
        "source": "inbox",
        "origin": "customer",
        "customer_id": "C001",
        "cop_file": NAME,
        "requested_at": NOW,
    }
    return CopRequest.model_validate(base | changes)


# --- checksum files ---------------------------------------------------------------------------


def test_checksum_files_in_gnu_and_bsd_form_sha512_and_md5(tmp_path: Path) -> None:
    sha, md5 = "a" * 128, "b" * 32
    (tmp_path / "SHA512SUMS").write_text(f"{sha}  one.cop.sgn\n# comment\n\nnot a line\n{'c' * 128} *two.cop.sgn\n")
    (tmp_path / "MD5SUMS").write_text(f"MD5 (three.cop.sgn) = {md5}\n{md5.upper()}  one.cop.sgn\n")
    (tmp_path / "CHECKSUMS").write_text(f"SHA512 (four.cop.sgn) = {'d' * 128}\nSHA512 (bad.cop.sgn) = abc\n")
    found = read_checksums(tmp_path, cop_settings().checksum_files)
    assert found["one.cop.sgn"].sha512 == sha and found["one.cop.sgn"].md5 == md5
    assert found["two.cop.sgn"].sha512 == "c" * 128
    assert found["three.cop.sgn"].md5 == md5 and found["three.cop.sgn"].sha512 is None
    assert found["four.cop.sgn"].sha512 == "d" * 128
    assert "bad.cop.sgn" not in found


def test_two_different_published_values_are_a_conflict(tmp_path: Path) -> None:
    (tmp_path / "SHA512SUMS").write_text(f"{'a' * 128}  one.cop.sgn\n")
    (tmp_path / "CHECKSUMS").write_text(f"{'b' * 128}  one.cop.sgn\n")
    assert "different sha512" in (read_checksums(tmp_path, ("SHA512SUMS", "CHECKSUMS"))["one.cop.sgn"].conflict or "")


# --- request files ----------------------------------------------------------------------------


def test_an_inbox_request_gets_defaults_and_a_stable_id(tmp_path: Path) -> None:
    path = tmp_path / "sr.json"
    content = b'{"customer_id": "C001", "cop_file": "x.cop.sgn"}'
    request = parse_inbox_request(path, content, "customer", NOW)
    assert request.origin == "customer" and request.requested_at == NOW and request.inbox_file == "sr.json"
    assert (
        request.request_id
        == inbox_request_id(path, content)
        == parse_inbox_request(path, content, "customer", NOW).request_id
    )
    assert inbox_request_id(path, content + b" ") != request.request_id


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{nope", "not a JSON file"),
        (b"[1, 2]", "one JSON object"),
        (b'{"cop_file": "x.cop.sgn"}', "customer_id"),
        (b'{"customer_id": "C1", "cop_file": "x.cop.sgn", "requested_at": "2026-11-27T10:00:00"}', "time zone"),
        (b'{"customer_id": "C1", "cop_file": "x.cop.sgn", "origin": "partner"}', "origin"),
        (b'{"customer_id": "C1", "cop_file": "x.cop.sgn", "emergency": true}', "only operator-initiated"),
    ],
)
def test_bad_request_files_are_refused_with_a_reason(tmp_path: Path, content: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_inbox_request(tmp_path / "r.json", content, "customer", NOW)


# --- validation -------------------------------------------------------------------------------


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    data = b"signed cop bytes" * 1000
    (tmp_path / NAME).write_bytes(data)
    (tmp_path / "md5only.cop.sgn").write_bytes(data)
    (tmp_path / "nosum.cop.sgn").write_bytes(data)
    (tmp_path / "SHA512SUMS").write_text(f"{hashlib.sha512(data).hexdigest()}  {NAME}\n")
    (tmp_path / "MD5SUMS").write_text(f"{hashlib.md5(data).hexdigest()}  md5only.cop.sgn\n")
    return tmp_path


CUSTOMERS = {"C001": {"customer_id": "C001", "region": "EMEA", "contacts": []}}


def test_a_good_request_validates_by_sha512_or_md5(repository: Path) -> None:
    sums = read_checksums(repository, ("SHA512SUMS", "MD5SUMS"))
    valid = validate_request(_request(), repository, sums, CUSTOMERS)
    assert valid.checked_by == "sha512" and valid.region == "EMEA" and valid.bytes == 16000
    assert validate_request(_request(cop_file="md5only.cop.sgn"), repository, sums, CUSTOMERS).checked_by == "md5"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"cop_file": "../" + NAME}, "path component"),
        ({"cop_file": "devicepack.zip"}, "does not end in"),
        ({"customer_id": "C999"}, "not in the inventory snapshot"),
        ({"cop_file": "missing.cop.sgn"}, "not in the COP repository"),
        ({"cop_file": "nosum.cop.sgn"}, "no published checksum"),
    ],
)
def test_bad_requests_are_refused_with_their_reason(repository: Path, changes: dict, reason: str) -> None:
    sums = read_checksums(repository, ("SHA512SUMS", "MD5SUMS"))
    with pytest.raises(ValueError, match=reason):
        validate_request(_request(**changes), repository, sums, CUSTOMERS)


def test_a_file_that_does_not_match_its_published_checksum_is_refused(repository: Path) -> None:
    (repository / NAME).write_bytes(b"tampered")
    with pytest.raises(ValueError, match="not the published one"):
        validate_request(_request(), repository, read_checksums(repository, ("SHA512SUMS",)), CUSTOMERS)


# --- timing -----------------------------------------------------------------------------------


def test_customer_requests_go_right_away() -> None:
    timing = decide_timing(_request(), "EMEA", NOW, emergency_uses_open_window=True)
    assert (timing.status, timing.window, timing.notice) == ("due", None, False)


@pytest.mark.parametrize(
    ("as_of", "status", "opens"),
    [
        (NOW, "planned", datetime(2026, 11, 27, 20, 0, tzinfo=UTC)),  # Friday 21:00 CET
        (datetime(2026, 11, 27, 20, 0, tzinfo=UTC), "due", datetime(2026, 11, 27, 20, 0, tzinfo=UTC)),  # opening
        (datetime(2026, 11, 28, 4, 59, tzinfo=UTC), "due", datetime(2026, 11, 27, 20, 0, tzinfo=UTC)),  # 05:59
        (datetime(2026, 11, 28, 5, 0, tzinfo=UTC), "planned", datetime(2026, 11, 28, 20, 0, tzinfo=UTC)),  # Sat
    ],
)
def test_operator_emergencies_use_the_next_window_weekend_included(
    as_of: datetime, status: str, opens: datetime
) -> None:
    timing = decide_timing(_request(origin="operator", emergency=True), "EMEA", as_of, emergency_uses_open_window=True)
    assert timing.status == status and timing.notice is False
    assert timing.window is not None and timing.window.start == opens


def test_an_open_window_can_be_excluded_for_emergencies() -> None:
    inside = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
    timing = decide_timing(
        _request(origin="operator", emergency=True), "EMEA", inside, emergency_uses_open_window=False
    )
    assert timing.status == "planned" and timing.window is not None and timing.window.start > inside


def test_regular_operator_uploads_get_a_notice_and_the_earliest_change_window() -> None:
    timing = decide_timing(_request(origin="operator"), "EMEA", NOW, emergency_uses_open_window=True)
    assert timing.status == "planned" and timing.notice is True
    assert timing.window is not None and not timing.window.weekend
    assert timing.window.start >= NOW + timedelta(days=14)  # 10 business days from a Friday
    assert window_at("EMEA", timing.window.start) == timing.window


# --- lease ------------------------------------------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)
    return engine


def test_one_upload_per_customer_at_a_time(engine) -> None:  # type: ignore[no-untyped-def]
    assert _try_lease(engine, "C001", "run-a/0", timedelta(hours=1)) is None
    assert _try_lease(engine, "C001", "run-b/0", timedelta(hours=1)) == "run-a/0"
    assert _try_lease(engine, "C002", "run-b/0", timedelta(hours=1)) is None  # other customers go on
    assert _try_lease(engine, "C001", "run-a/0", timedelta(hours=1)) is None  # a retry of the holder re-enters


def test_an_expired_lease_is_taken_over(engine) -> None:  # type: ignore[no-untyped-def]
    assert _try_lease(engine, "C001", "crashed", timedelta(seconds=-1)) is None
    assert _try_lease(engine, "C001", "next", timedelta(hours=1)) is None


def test_the_lease_waits_then_gives_up_and_is_released(engine) -> None:  # type: ignore[no-untyped-def]
    order: list[str] = []
    with customer_lease(engine, "C001", "first", ttl_s=60, wait_s=0, poll_s=0.01):
        with pytest.raises(LeaseBusy, match="first"):
            with customer_lease(engine, "C001", "second", ttl_s=60, wait_s=0.05, poll_s=0.01):
                pass

        def second() -> None:
            with customer_lease(engine, "C001", "second", ttl_s=60, wait_s=5, poll_s=0.01):
                order.append("second")

        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.1)
        order.append("first done")
    waiter.join(timeout=5)
    assert order == ["first done", "second"]
    assert _try_lease(engine, "C001", "third", timedelta(hours=1)) is None  # released


# --- the demo's inputs ------------------------------------------------------------------------


def test_the_demo_repository_and_inbox_show_every_path(tmp_path: Path) -> None:
    import json

    from include.demo.pipelines import cop as demo

    demo.write_repository(tmp_path / "repo")
    demo.write_inbox(tmp_path / "inbox")
    sums = read_checksums(tmp_path / "repo", cop_settings().checksum_files)
    customers = {cid: {"region": "EMEA"} for cid in demo.CUSTOMERS}
    outcomes = {}
    for path in sorted((tmp_path / "inbox").glob("*.json")):
        request = parse_inbox_request(path, path.read_bytes(), "customer", NOW)
        try:
            validate_request(request, tmp_path / "repo", sums, customers)
            outcomes[path.name] = "ok"
        except ValueError as exc:
            outcomes[path.name] = str(exc)
    assert outcomes["sr-1001-C001.json"] == outcomes["op-locale-C002.json"] == outcomes["op-psirt-C004.json"] == "ok"
    assert "not the published one" in outcomes["sr-1002-C003.json"]
    assert "path component" in outcomes["sr-1003-C005.json"]
    conns = {k: json.loads(v) for k, v in demo.ENV.items()}
    assert set(conns) == {f"AIRFLOW_CONN_COP_SFTP_{cid}" for cid in demo.CUSTOMERS}
    assert all(c["extra"]["known_hosts_file"].endswith(".pub") for c in conns.values())


def test_cop_settings_load_and_a_bad_file_names_the_field(config_copy: Path) -> None:
    from di_ops.core.settings import ConfigError

    cop_settings.cache_clear()
    try:
        settings = cop_settings()
        assert settings.connection_id("C001") == "cop_sftp_c001"
        assert settings.pool == "cop_upload" and settings.pool_slots >= 1
        path = config_copy / "cop.yaml"
        path.write_text(path.read_text().replace("remote_folder: /upload", "remote_folder: upload"))
        cop_settings.cache_clear()
        with pytest.raises(ConfigError, match="cop.yaml: remote_folder"):
            cop_settings()
    finally:
        cop_settings.cache_clear()


# --- every published checksum must match (SHA-512, SHA-256, MD5) ------------------------------


def test_sha256_is_read_in_gnu_and_bsd_form(tmp_path: Path) -> None:
    (tmp_path / "SHA256SUMS").write_text(f"{'e' * 64}  one.cop.sgn\nSHA256 (two.cop.sgn) = {'F' * 64}\n")
    (tmp_path / "CHECKSUMS").write_text(f"SHA256 (short.cop.sgn) = {'a' * 63}\n")
    found = read_checksums(tmp_path, cop_settings().checksum_files)
    assert found["one.cop.sgn"].sha256 == "e" * 64 and found["one.cop.sgn"].sha512 is None
    assert found["two.cop.sgn"].sha256 == "f" * 64
    assert "short.cop.sgn" not in found
    assert "SHA256SUMS" in cop_settings().checksum_files


def _published(repository: Path, data: bytes, **wrong: bool) -> dict:
    """Checksum files for NAME: each algorithm right, or wrong where ``wrong[algo]``."""
    lines = {
        "SHA512SUMS": hashlib.sha512(data + (b"x" if wrong.get("sha512") else b"")).hexdigest(),
        "SHA256SUMS": hashlib.sha256(data + (b"x" if wrong.get("sha256") else b"")).hexdigest(),
        "MD5SUMS": hashlib.md5(data + (b"x" if wrong.get("md5") else b"")).hexdigest(),
    }
    for file, value in lines.items():
        (repository / file).write_text(f"{value}  {NAME}\n")
    return read_checksums(repository, tuple(lines))


@pytest.mark.parametrize(
    ("wrong", "reason"),
    [
        ({}, None),
        ({"md5": True}, "local MD5"),  # an MD5 that disagrees is not outvoted by a matching SHA-512
        ({"sha256": True}, "local SHA-256"),
        ({"sha512": True}, "local SHA-512"),
        ({"md5": True, "sha256": True}, "local SHA-256"),  # the strongest disagreeing one is named
    ],
)
def test_every_published_checksum_present_must_match(repository: Path, wrong: dict, reason: str | None) -> None:
    sums = _published(repository, (repository / NAME).read_bytes(), **wrong)
    if reason is None:
        assert validate_request(_request(), repository, sums, CUSTOMERS).checked_by == "sha512+sha256+md5"
    else:
        with pytest.raises(ValueError, match=reason):
            validate_request(_request(), repository, sums, CUSTOMERS)


def test_a_file_with_only_sha256_published_is_checked_by_it(repository: Path) -> None:
    data = (repository / NAME).read_bytes()
    (repository / "SHA512SUMS").unlink()
    (repository / "SHA256SUMS").write_text(f"SHA256 ({NAME}) = {hashlib.sha256(data).hexdigest()}\n")
    sums = read_checksums(repository, ("SHA512SUMS", "SHA256SUMS"))
    valid = validate_request(_request(), repository, sums, CUSTOMERS)
    assert valid.checked_by == "sha256" and valid.sha512 == hashlib.sha512(data).hexdigest()


# --- hostile request files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"customer_id": "C1", "cop_file": "' + b"a" * 300 + b'.cop.sgn"}', "at most 255"),
        (b"[" * 100_000 + b"]" * 100_000, "nested 100000 deep"),
        (b'{"customer_id": "C1", "cop_file": "x.cop.sgn", "n": ' + b"9" * 5000 + b"}", "not a JSON file"),
        (b'{"customer_id": "C\\ud800", "cop_file": "x.cop.sgn"}', "customer_id"),
        (b'{"customer_id": "C\\u0000", "cop_file": "x.cop.sgn"}', "NUL"),
        (b'{"customer_id": "C1", "cop_file": "x.cop.sgn", "requested_at": "9999-12-31T23:59:59-14:00"}', "range"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
    ids=["long-name", "deep-json", "huge-int", "surrogate", "nul", "requested-at-overflow", "not-utf8"],
)
def test_hostile_request_files_are_refused_with_a_reason(tmp_path: Path, content: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_inbox_request(tmp_path / "r.json", content, "customer", NOW)


@pytest.mark.parametrize(("depth", "ok"), [(1, True), (32, True), (33, False)])
def test_json_nesting_is_limited_on_both_sides_of_the_setting(tmp_path: Path, depth: int, ok: bool) -> None:
    inner = "[" * (depth - 1) + "]" * (depth - 1)
    content = f'{{"customer_id": "C1", "cop_file": "x.cop.sgn", "x": {inner or 0}, "s": "[[[[{{{{"}}'.encode()
    assert json_depth(content.decode()) == depth
    if ok:
        assert parse_inbox_request(tmp_path / "r.json", content, "customer", NOW, max_depth=32).customer_id == "C1"
    else:
        with pytest.raises(ValueError, match="nested 33 deep"):
            parse_inbox_request(tmp_path / "r.json", content, "customer", NOW, max_depth=32)


@pytest.mark.parametrize(("size", "problem"), [(1024, None), (1025, "larger than 1024 bytes")])
def test_a_request_file_is_read_up_to_the_limit(tmp_path: Path, size: int, problem: str | None) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(b" " * size)
    read = read_inbox_file(path, 1024)
    assert read is not None and len(read.content) == min(size, 1025)
    assert read.problem is None if problem is None else problem in (read.problem or "")


def test_links_folders_and_fifos_in_the_inbox_are_not_read(tmp_path: Path) -> None:
    import os

    outside = tmp_path / "outside.json"
    outside.write_text('{"customer_id": "C1", "cop_file": "x.cop.sgn"}')
    (tmp_path / "link.json").symlink_to(outside)
    (tmp_path / "folder.json").mkdir()
    os.mkfifo(tmp_path / "fifo.json")  # opening it for reading without O_NONBLOCK would hang
    problems = {n: read_inbox_file(tmp_path / n, 1024) for n in ("link.json", "folder.json", "fifo.json", "gone.json")}
    assert "symbolic link" in problems["link.json"].problem  # type: ignore[union-attr]
    assert "folder" in problems["folder.json"].problem  # type: ignore[union-attr]
    assert "FIFO" in problems["fifo.json"].problem  # type: ignore[union-attr]
    assert problems["gone.json"] is None
