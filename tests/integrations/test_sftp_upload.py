"""The COP upload adapter against a real OpenSSH sshd on loopback (tests/integrations/conftest.py)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from di_ops.integrations.sftp.upload import (
    AuthenticationRefused,
    ChecksumMismatch,
    HostKeyRefused,
    NameRefused,
    PermissionRefused,
    RemoteFolderMissing,
    SftpTarget,
    TargetConflict,
    TransferTuning,
    UploadInterrupted,
    file_sha512,
    temp_name,
    upload_file,
)
from include.demo.sshd import SshdLab

pytestmark = pytest.mark.services
MiB = 1024 * 1024
NAME = "ciscocm.dp-test-1.0.cop.sgn"


def _target(lab: SshdLab, folder: Path, **changes: object) -> SftpTarget:
    base = SftpTarget(
        host="127.0.0.1",
        port=lab.port,
        username="root",
        remote_folder=str(folder),
        host_keys=(lab.host_public_line,),
        key_file=str(lab.client_key),
        timeout=10.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _cop(tmp_path: Path, size: int, name: str = NAME, seed: int = 1) -> Path:
    path = tmp_path / name
    path.write_bytes(hashlib.shake_256(seed.to_bytes(4, "big")).digest(size))
    return path


def _sha(path: Path) -> str:
    return hashlib.sha512(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "tuning",
    [
        TransferTuning(),
        TransferTuning(local_hash_after=False),
        TransferTuning(hash_nice=19, stream_hash_bytes=1 * MiB),
    ],
    ids=["local-hash-after", "local-hash-during", "both-hashes-niced-during"],
)
def test_happy_path_uploads_verifies_renames_and_a_rerun_is_a_no_op(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path, tuning: TransferTuning
) -> None:
    src = _cop(tmp_path, 3 * MiB + 12345)
    receipt = upload_file(_target(sshd_lab, sftp_root), src, expected_sha512=_sha(src), tuning=tuning)
    final = sftp_root / NAME
    assert final.read_bytes() == src.read_bytes()
    assert not (sftp_root / temp_name(NAME)).exists()
    assert receipt.outcome == "uploaded"
    assert receipt.bytes == receipt.bytes_sent == src.stat().st_size
    assert receipt.sha512 == _sha(src)
    assert receipt.verify_method.startswith("exec sha512")
    assert receipt.cipher.startswith("aes128-gcm")
    assert receipt.mb_per_s > 0 and receipt.duration_s >= receipt.transfer_s
    mtime = final.stat().st_mtime_ns

    again = upload_file(_target(sshd_lab, sftp_root), src)
    assert again.outcome == "already_present" and again.bytes_sent == 0
    assert final.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("fraction", [0.05, 0.4, 0.85])
def test_a_link_killed_mid_upload_resumes_and_never_shows_a_partial_final_file(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path, cutting_proxy, fraction: float
) -> None:  # type: ignore[no-untyped-def]
    size = 8 * MiB
    src = _cop(tmp_path, size, seed=int(fraction * 100))
    final, partial = sftp_root / NAME, sftp_root / temp_name(NAME)
    seen_final: list[bool] = []

    def watch(_position: int) -> None:
        seen_final.append(final.exists())

    target = _target(sshd_lab, sftp_root, port=cutting_proxy.port)
    tuning = TransferTuning(max_outstanding=4)  # report progress often
    cutting_proxy.cut_after = int(size * fraction)
    with pytest.raises(UploadInterrupted):
        upload_file(target, src, expected_sha512=_sha(src), progress=watch, tuning=tuning)
    assert cutting_proxy.cuts == 1
    assert not final.exists()
    assert partial.exists() and partial.stat().st_size < size

    cutting_proxy.cut_after = None
    receipt = upload_file(target, src, expected_sha512=_sha(src), progress=watch, tuning=tuning)
    assert seen_final
    assert final.read_bytes() == src.read_bytes()
    assert not partial.exists()
    assert not any(seen_final)
    if receipt.resumed_from:
        assert receipt.outcome == "resumed"
        assert receipt.bytes_sent == size - receipt.resumed_from
    assert fraction < 0.2 or receipt.resumed_from > 0  # a cut late in the file resumes


def test_a_partial_file_with_foreign_bytes_is_not_resumed(sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path) -> None:
    src = _cop(tmp_path, 2 * MiB)
    (sftp_root / temp_name(NAME)).write_bytes(b"not our bytes" * 1000)
    receipt = upload_file(_target(sshd_lab, sftp_root), src)
    assert receipt.outcome == "uploaded" and receipt.resumed_from == 0
    assert (sftp_root / NAME).read_bytes() == src.read_bytes()


def test_a_changed_host_key_is_refused(sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    wrong = " ".join(other.with_suffix(".pub").read_text().split()[:2])
    src = _cop(tmp_path, 1000)
    with pytest.raises(HostKeyRefused, match="changed or unknown"):
        upload_file(_target(sshd_lab, sftp_root, host_keys=(wrong,)), src)
    assert list(sftp_root.iterdir()) == []


def test_no_known_host_key_is_refused_and_known_hosts_lines_work(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path
) -> None:
    src = _cop(tmp_path, 1000)
    with pytest.raises(HostKeyRefused, match="no known host key"):
        upload_file(_target(sshd_lab, sftp_root, host_keys=()), src)
    other_host = f"[10.0.0.1]:{sshd_lab.port} {sshd_lab.host_public_line}"
    with pytest.raises(HostKeyRefused, match="no known host key"):
        upload_file(_target(sshd_lab, sftp_root, host_keys=(other_host,)), src)
    receipt = upload_file(_target(sshd_lab, sftp_root, host_keys=(sshd_lab.known_hosts_line,)), src)
    assert receipt.outcome == "uploaded"


def test_a_key_the_server_does_not_know_is_refused(sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    with pytest.raises(AuthenticationRefused, match="refused our key"):
        upload_file(_target(sshd_lab, sftp_root, key_file=str(stranger)), _cop(tmp_path, 1000))


def test_a_file_changed_since_validation_is_refused(sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path) -> None:
    src = _cop(tmp_path, 1 * MiB)
    with pytest.raises(ChecksumMismatch, match="changed since it was validated"):
        upload_file(_target(sshd_lab, sftp_root), src, expected_sha512="0" * 128)
    assert not (sftp_root / NAME).exists()


def test_a_local_file_changed_during_the_transfer_is_refused(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path
) -> None:
    """The local hash (after the transfer, by default) reads the file as it is then: bytes that
    changed after they were sent make the remote copy differ, and nothing is renamed."""
    src = _cop(tmp_path, 4 * MiB)
    changed = False

    def change(position: int) -> None:
        nonlocal changed
        if not changed and position > 2 * MiB:  # the first bytes are on the server already
            with src.open("r+b") as fh:
                fh.write(b"\xff" * 64)
            changed = True

    with pytest.raises(ChecksumMismatch, match="differs from the local"):
        upload_file(_target(sshd_lab, sftp_root), src, progress=change, tuning=TransferTuning(max_outstanding=2))
    assert changed
    assert not (sftp_root / NAME).exists() and not (sftp_root / temp_name(NAME)).exists()


@pytest.mark.parametrize("step", [0, 1 * MiB], ids=["whole-file", "streamed"])
def test_a_remote_checksum_mismatch_is_refused_and_the_temp_removed(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path, step: int
) -> None:
    src = _cop(tmp_path, 4 * MiB)
    partial = sftp_root / temp_name(NAME)

    def corrupt(_position: int) -> None:  # the server's disk flips bytes already written
        if partial.exists() and partial.stat().st_size > 10:
            with partial.open("r+b") as fh:
                fh.write(b"\x00" * 10)

    with pytest.raises(ChecksumMismatch, match="remote sha512"):
        upload_file(
            _target(sshd_lab, sftp_root),
            src,
            progress=corrupt,
            tuning=TransferTuning(max_outstanding=2, stream_hash_bytes=step),
        )
    assert not (sftp_root / NAME).exists()
    assert not partial.exists()


@pytest.mark.parametrize(
    "name",
    ["../ciscocm.x.cop.sgn", "sub/ciscocm.x.cop.sgn", "ciscocm.x.cop", "ciscocm.x.COP.SGN", ".hidden.cop.sgn"],
)
def test_traversal_and_unsigned_names_are_refused_before_connecting(tmp_path: Path, name: str) -> None:
    src = _cop(tmp_path, 100, name="local.cop.sgn")
    target = SftpTarget(host="127.0.0.1", port=1, username="root", remote_folder="/tmp", host_keys=())
    with pytest.raises(NameRefused, match="refused"):
        upload_file(target, src, name)


def test_an_existing_final_file_with_other_content_is_never_overwritten(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path
) -> None:
    (sftp_root / NAME).write_bytes(b"someone else's file")
    with pytest.raises(TargetConflict, match="never overwritten"):
        upload_file(_target(sshd_lab, sftp_root), _cop(tmp_path, 1000))
    assert (sftp_root / NAME).read_bytes() == b"someone else's file"


def test_permission_denied_on_the_target_folder_is_reported_clearly(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path
) -> None:
    locked = sftp_root / "locked"
    locked.mkdir()
    os.chmod(locked, 0o755)  # owned by root; the SFTP-only user 'nobody' may not write here
    with pytest.raises(PermissionRefused, match="permission denied: nobody may not write in"):
        upload_file(_target(sshd_lab, locked, username="nobody"), _cop(tmp_path, 1000))
    assert list(locked.iterdir()) == []


def test_without_exec_the_upload_is_verified_by_reading_it_back(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path
) -> None:
    src = _cop(tmp_path, 2 * MiB + 7)
    tuning = TransferTuning(packets_per_request=1, max_outstanding=4)  # other knobs, same result
    receipt = upload_file(_target(sshd_lab, sftp_root, username="nobody"), src, tuning=tuning)
    assert receipt.verify_method == "read-back"
    assert (sftp_root / NAME).read_bytes() == src.read_bytes()
    with pytest.raises(Exception, match="does not allow exec"):
        upload_file(_target(sshd_lab, sftp_root, username="nobody", remote_hash="exec"), src)


def test_key_text_auth_works_and_nothing_secret_reaches_the_logs(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    secret = sshd_lab.client_key.read_text()
    target = _target(sshd_lab, sftp_root, key_file=None, private_key=secret)
    with caplog.at_level(logging.DEBUG):
        receipt = upload_file(target, _cop(tmp_path, 100_000))
    assert receipt.outcome == "uploaded"
    body = "".join(secret.splitlines()[1:-1])
    logged = caplog.text + repr(target)
    assert caplog.records  # something was logged at DEBUG
    for line in secret.splitlines()[1:-1]:
        assert line not in logged
    assert body[:40] not in logged
    assert receipt.host_key_fingerprint.startswith("SHA256:")


def test_a_server_without_a_key_of_the_known_type_is_refused(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path
) -> None:
    other = tmp_path / "ecdsa_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", str(other)], check=True)
    known = " ".join(other.with_suffix(".pub").read_text().split()[:2])
    with pytest.raises(HostKeyRefused, match="none of the known host key types"):
        upload_file(_target(sshd_lab, sftp_root, host_keys=(known,)), _cop(tmp_path, 1000))


def test_a_missing_remote_folder_is_a_permanent_error(sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path) -> None:
    with pytest.raises(RemoteFolderMissing, match="does not exist"):
        upload_file(_target(sshd_lab, sftp_root / "nope"), _cop(tmp_path, 1000))


def test_the_remote_hash_streams_during_the_transfer(sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path) -> None:
    src = _cop(tmp_path, 6 * MiB + 3)
    tuning = TransferTuning(max_outstanding=4, stream_hash_bytes=1 * MiB)
    receipt = upload_file(_target(sshd_lab, sftp_root), src, expected_sha512=_sha(src), tuning=tuning)
    assert receipt.verify_method == "exec sha512, streamed during the transfer"
    assert receipt.sha512 == _sha(src)
    assert (sftp_root / NAME).read_bytes() == src.read_bytes()
    # without exec the same settings fall back to reading the file back
    (sftp_root / NAME).unlink()
    fallback = upload_file(_target(sshd_lab, sftp_root, username="nobody"), src, tuning=tuning)
    assert fallback.verify_method == "read-back"


def test_without_python_on_the_server_the_shell_streams_the_hash(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from di_ops.integrations.sftp import session as sftp_session

    monkeypatch.setattr(sftp_session, "_STREAM_PYTHON", "no-such-python3")  # head -c | openssl dgst
    src = _cop(tmp_path, 5 * MiB + 11)
    tuning = TransferTuning(max_outstanding=4, stream_hash_bytes=1 * MiB)
    receipt = upload_file(_target(sshd_lab, sftp_root), src, expected_sha512=_sha(src), tuning=tuning)
    assert receipt.verify_method == "exec sha512, streamed during the transfer"
    assert (sftp_root / NAME).read_bytes() == src.read_bytes()


def test_a_resumed_upload_streams_the_hash_from_the_first_byte(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path, cutting_proxy
) -> None:  # type: ignore[no-untyped-def]
    size = 8 * MiB
    src = _cop(tmp_path, size, seed=7)
    target = _target(sshd_lab, sftp_root, port=cutting_proxy.port)
    tuning = TransferTuning(max_outstanding=2, stream_hash_bytes=1 * MiB)
    cutting_proxy.cut_after = size // 2
    with pytest.raises(UploadInterrupted):
        upload_file(target, src, expected_sha512=_sha(src), tuning=tuning)
    cutting_proxy.cut_after = None
    receipt = upload_file(target, src, expected_sha512=_sha(src), tuning=tuning)
    assert receipt.outcome == "resumed" and 0 < receipt.resumed_from < size
    assert receipt.verify_method == "exec sha512, streamed during the transfer"
    assert (sftp_root / NAME).read_bytes() == src.read_bytes()
    assert not (sftp_root / temp_name(NAME)).exists()


@pytest.mark.parametrize(
    ("offset", "limit"),
    [(0, None), (0, 0), (0, 1), (0, 4 * 1024 * 1024), (0, 4 * 1024 * 1024 + 1), (5, None), (5, 100), (9_000_000, None)],
)
def test_file_sha512_hashes_exactly_the_bytes_asked_for(tmp_path: Path, offset: int, limit: int | None) -> None:
    data = os.urandom(9 * 1024 * 1024 + 7)  # more than two 4 MiB read blocks
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    part = data[offset:] if limit is None else data[offset : offset + limit]
    assert file_sha512(path, limit, offset=offset).hexdigest() == hashlib.sha512(part).hexdigest()
    # continuing a digest of the prefix gives the whole file's hash (the resume and hash-after paths)
    prefix = hashlib.sha512(data[:offset])
    assert file_sha512(path, offset=offset, digest=prefix).hexdigest() == hashlib.sha512(data).hexdigest()


# --- links and other entries planted in the upload folder (never written through) -------------


@pytest.fixture
def canary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file outside the upload folder that a planted link points at; it must never change."""
    return tmp_path_factory.mktemp("outside") / "canary.bin"


@pytest.mark.parametrize(
    "canary_bytes",
    ["foreign", "our-prefix"],
    ids=["link-to-a-foreign-file", "link-to-a-file-holding-our-first-bytes"],
)
def test_a_link_at_the_temp_name_is_removed_never_written_through(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path, canary: Path, canary_bytes: str
) -> None:
    """Source: DOMAIN.md §5 (the upload writes only its own file). A link to a file holding our
    first bytes would even look like a resumable temp file when followed."""
    src = _cop(tmp_path, 2 * MiB + 5)
    before = src.read_bytes()[:MiB] if canary_bytes == "our-prefix" else b"precious, not ours" * 100
    canary.write_bytes(before)
    partial = sftp_root / temp_name(NAME)
    partial.symlink_to(canary)

    receipt = upload_file(_target(sshd_lab, sftp_root), src, expected_sha512=_sha(src))

    assert canary.read_bytes() == before
    final = sftp_root / NAME
    assert not final.is_symlink() and final.is_file()
    assert final.read_bytes() == src.read_bytes()
    assert not os.path.lexists(partial)
    assert (receipt.outcome, receipt.resumed_from, receipt.bytes_sent) == ("uploaded", 0, src.stat().st_size)
    assert receipt.verify_method == "exec sha512"
    assert receipt.sha512 == _sha(src) == _sha(final)


@pytest.mark.parametrize("canary_bytes", ["foreign", "ours"], ids=["link-to-a-foreign-file", "link-to-our-bytes"])
def test_a_link_at_the_final_name_is_refused_and_its_target_untouched(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path, canary: Path, canary_bytes: str
) -> None:
    """A link at the final name is a conflict even when its target holds our bytes: the receipt
    would otherwise say ``already_present`` for a file that is not in the folder."""
    src = _cop(tmp_path, 1 * MiB)
    before = src.read_bytes() if canary_bytes == "ours" else b"precious, not ours" * 100
    canary.write_bytes(before)
    final = sftp_root / NAME
    final.symlink_to(canary)

    with pytest.raises(TargetConflict, match="symbolic link"):
        upload_file(_target(sshd_lab, sftp_root), src, expected_sha512=_sha(src))

    assert canary.read_bytes() == before
    assert final.is_symlink() and os.readlink(final) == str(canary)  # left as found, for a person to look at
    assert not os.path.lexists(sftp_root / temp_name(NAME))


def test_a_fifo_at_the_temp_name_is_removed_and_a_directory_refused(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path
) -> None:
    src = _cop(tmp_path, 100_000)
    partial = sftp_root / temp_name(NAME)
    os.mkfifo(partial)
    receipt = upload_file(_target(sshd_lab, sftp_root), src)
    assert receipt.outcome == "uploaded" and (sftp_root / NAME).read_bytes() == src.read_bytes()
    assert not os.path.lexists(partial)

    (sftp_root / NAME).unlink()
    partial.mkdir()
    (partial / "keep").write_bytes(b"x")
    with pytest.raises(TargetConflict, match="is a directory"):
        upload_file(_target(sshd_lab, sftp_root), src)
    assert (partial / "keep").read_bytes() == b"x" and not (sftp_root / NAME).exists()


def test_a_resume_never_writes_through_a_link_swapped_in_after_the_check(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path, canary: Path
) -> None:
    """The race the lstat before the resume cannot close: the temp name becomes a link between the
    check and the open. The handle is compared with the name before the first byte is written."""
    from di_ops.integrations.sftp.hashing import NoHash
    from di_ops.integrations.sftp.upload import Session
    from di_ops.integrations.sftp.writer import send_file

    src = _cop(tmp_path, 300_000)
    canary.write_bytes(src.read_bytes()[:1000])
    partial = sftp_root / temp_name(NAME)
    partial.symlink_to(canary)
    session = Session(_target(sshd_lab, sftp_root), TransferTuning())
    try:
        with src.open("rb") as source, pytest.raises(UploadInterrupted, match="replaced while it was opened"):
            send_file(session, source, str(partial), 1000, 300_000, NoHash(), TransferTuning(), None)
    finally:
        session.close()
    assert canary.read_bytes() == src.read_bytes()[:1000]
