"""Per-process (and per-thread) CPU seconds of an SFTP upload, for benchmarks/sftp_upload.py.

    python benchmarks/sftp_cpu.py CLIENT_PID SSHD_PID   # samples until stdin closes, prints JSON

Runs as its own process (a sampling thread inside the client would take the client's GIL). Every
20 ms it walks the process trees under the client and under the sshd master
(``/proc/<pid>/task/<tid>/children``) and keeps the last CPU time (utime + stime) seen for each
thread or process, labelled:

- ``client:<thread name>``: threads of the benchmark process (ours; names set by
  :func:`name_threads`), ``client:sftp`` / ``client:ssh``: OpenSSH's client processes;
- ``sshd:session``: the per-connection sshd (``sshd: user@notty``: decryption, channels);
  ``sshd:monitor``: its privileged monitor; ``sshd:sftp-server``: the forked internal-sftp;
- ``sshd:remote-hash``: anything else under sshd (the shell, ``python3`` or ``head`` and
  ``openssl``/``sha512sum`` of the remote verification).

:class:`CpuSampler` also keeps the whole machine's busy and idle CPU seconds meanwhile
(/proc/stat), so the CPU that other processes took shows.

Processes shorter than one sample can be missed; :class:`CpuSampler` reconciles the sums with the
exact totals (``getrusage`` and the sshd master's reaped-children times).
"""

from __future__ import annotations

import json
import os
import select
import sys
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")
INTERVAL_S = 0.02  # light: the sampler shares the 2 cores with what it measures


def _stat(path: str) -> tuple[str, int] | None:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    comm = raw[raw.index(b"(") + 1 : raw.rindex(b")")].decode(errors="replace")
    fields = raw[raw.rindex(b")") + 2 :].split()
    return comm, int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out.extend(int(c) for c in fh.read().split())
        except OSError:
            pass
    return out


def _thread_name(pid: int, tid: str) -> str:
    try:
        with open(f"/proc/{pid}/task/{tid}/comm") as fh:
            return fh.read().strip()
    except OSError:
        return "?"


def sample(client: int, sshd: int) -> dict[str, float]:
    """Sample until stdin is closed; CPU seconds by label."""
    seen: dict[int, tuple[str, int]] = {}  # pid or tid -> (label, CPU ticks)
    sessions: set[int] = set()
    me = os.getpid()
    baseline: dict[int, int] | None = None  # the client's threads at the start: only their growth counts
    while True:
        # the client: its own threads, and child processes (OpenSSH's sftp and ssh)
        try:
            tids = os.listdir(f"/proc/{client}/task")
        except OSError:
            tids = []
        for tid in tids:
            got = _stat(f"/proc/{client}/task/{tid}/stat")
            if got:
                name = "main" if int(tid) == client else _thread_name(client, tid)
                seen[int(tid)] = (f"client:{name}", max(seen.get(int(tid), ("", 0))[1], got[1]))
        if baseline is None:
            baseline = {tid: ticks for tid, (_label, ticks) in seen.items()}
        stack = [(c, "client", 0) for c in _children(client) if c not in (me, sshd)]
        stack += [(c, "sshd", sshd) for c in _children(sshd)]
        while stack:
            pid, side, parent = stack.pop()
            got = _stat(f"/proc/{pid}/stat")
            if got is None:
                continue
            comm, ticks = got
            if side == "client":
                label = f"client:{comm}"
            elif comm != "sshd":
                label = "sshd:remote-hash"
            elif parent in sessions:
                label = "sshd:sftp-server"  # forked by the session: internal-sftp
            elif seen.get(pid, ("",))[0] == "sshd:session":
                label = "sshd:session"  # forked by the monitor, it first shows the monitor's title
            elif not (cmd := _cmdline(pid)) and pid in seen:
                label = seen[pid][0]  # exiting: the command line is gone, the label stays
            else:
                label = "sshd:monitor" if "[priv]" in cmd else "sshd:session" if "@notty" in cmd else "sshd:other"
                if label == "sshd:session":
                    sessions.add(pid)
            seen[pid] = (label, max(seen.get(pid, ("", 0))[1], ticks))
            stack.extend((child, side, pid) for child in _children(pid))
        if select.select([sys.stdin], [], [], INTERVAL_S)[0] and not sys.stdin.buffer.read1(4096):
            break
    totals: dict[str, float] = {}
    for pid, (label, ticks) in seen.items():
        ticks -= (baseline or {}).get(pid, 0)
        totals[label] = round(totals.get(label, 0.0) + ticks / TICK, 3)
    return totals


def name_threads() -> None:
    """Give every Python thread started from now on its name at the OS level (for the sampler);
    paramiko's threads (its Transport overrides ``run``) are all called ``paramiko``."""
    import ctypes

    libc = ctypes.CDLL(None)
    original_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        name = "paramiko" if type(self).__module__.startswith("paramiko") else self.name.split(" ")[0]
        run = self.run

        def named_run() -> None:
            libc.prctl(15, name[:15].encode(), 0, 0, 0)  # PR_SET_NAME
            run()

        self.run = named_run  # type: ignore[method-assign]
        original_start(self)

    threading.Thread.start = start  # type: ignore[method-assign]


def _reaped_cpu(pid: int) -> float:
    """CPU seconds of the reaped descendants of ``pid`` (cutime + cstime)."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        fields = fh.read().rsplit(b")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / TICK


def _machine_cpu() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the whole machine since boot, all cores (/proc/stat)."""
    with open("/proc/stat") as fh:
        user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in fh.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / TICK, (idle + iowait) / TICK


def _own_cpu() -> tuple[float, float]:
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


class CpuSampler:
    """Samples one upload: ``with CpuSampler(sshd_pid) as s: ...``; then ``s.seconds`` by label.

    The sampled values are reconciled with exact totals: the client's own CPU (``getrusage``), its
    child processes' (OpenSSH's ``sftp`` and ``ssh``, less the sampler itself) and everything sshd
    reaped for the connection; what the sampling missed (processes shorter than a sample, mostly
    the remote hash's ``head``) is added to ``client:other`` / ``sshd:remote-hash``.
    """

    def __init__(self, sshd_pid: int) -> None:
        self.sshd_pid = sshd_pid
        self.seconds: dict[str, float] = {}
        self.exact: dict[str, float] = {}
        self.machine: dict[str, float] = {}  # the whole machine's busy and idle CPU seconds meanwhile

    def __enter__(self) -> CpuSampler:
        import subprocess

        self._proc = subprocess.Popen(
            [sys.executable, __file__, str(os.getpid()), str(self.sshd_pid)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        time.sleep(0.05)
        self._start = (*_own_cpu(), _reaped_cpu(self.sshd_pid))
        self._machine = _machine_cpu()
        return self

    def __exit__(self, *_exc: object) -> None:
        busy, idle = (now - then for now, then in zip(_machine_cpu(), self._machine, strict=True))
        deadline = time.monotonic() + 5
        while _children(self.sshd_pid) and time.monotonic() < deadline:
            time.sleep(0.01)  # the connection's processes exit and are reaped
        time.sleep(0.02)
        out, _ = self._proc.communicate(b"", timeout=30)
        sampled = json.loads(out)
        sampler_cpu = sampled.pop("_sampler", 0.0)
        own, kids, sshd = (
            now - then for now, then in zip((*_own_cpu(), _reaped_cpu(self.sshd_pid)), self._start, strict=True)
        )
        kids -= sampler_cpu
        client_threads = sum(v for k, v in sampled.items() if k.startswith("client:") and k.count(":") == 1)
        sampled_kids = sum(v for k, v in sampled.items() if k in ("client:sftp", "client:ssh"))
        sampled_sshd = sum(v for k, v in sampled.items() if k.startswith("sshd:") and k != "sshd:remote-hash")
        threads = client_threads - sampled_kids
        self.seconds = dict(sampled)
        self.seconds["client:other"] = round(max(0.0, own - threads) + max(0.0, kids - sampled_kids), 3)
        # the remote hash: what sshd reaped beyond its sampled processes (catches short-lived ones),
        # at least what was sampled (a process reparented away from sshd is not reaped by it)
        residual = sshd - sampled_sshd
        self.seconds["sshd:remote-hash"] = round(max(residual, sampled.get("sshd:remote-hash", 0.0), 0.0), 3)
        self.exact = {"client": round(own + kids, 3), "sshd": round(sshd, 3)}
        self.machine = {"busy": round(busy, 3), "idle": round(idle, 3)}


if __name__ == "__main__":
    totals = sample(int(sys.argv[1]), int(sys.argv[2]))
    totals["_sampler"] = sum(os.times()[:2])
    print(json.dumps(totals))
