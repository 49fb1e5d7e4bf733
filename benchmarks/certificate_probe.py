"""Certificate sweep throughput: parallel vs sequential TLS probing, and planning cost, side by side.

Starts the DI lab on loopback with N nodes (real TLS, real X.509 chains) and probes all of them
with ``probe_many`` at 1 worker and at the configured worker count, alternating the two arms for
``--repeat`` rounds (median of each). The lab waits ``--latency-ms`` before each handshake, a
stand-in for the round trips to a remote node (on bare loopback the handshake is CPU-bound); then times ``plan_renewal`` per certificate. Prints the
ratio parallel/sequential so the number is comparable across machines.

    .venv/bin/python benchmarks/certificate_probe.py [--nodes 99] [--repeat 3] [--workers 16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]

from di_ops.integrations.tls_probe import load_trust_store, probe_many  # noqa: E402
from di_ops.rules.certificates import plan_renewal  # noqa: E402
from include.lab.server import Lab, NodeSpec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=99)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=50.0, help="lab delay before each handshake (WAN RTT)")
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    specs = [
        NodeSpec(f"n{i:04d}", f"n{i:04d}.bench.example", f"c{i // 4}", timedelta(days=1 + i % 40), down=i % 50 == 7)
        for i in range(args.nodes)
    ]
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        lab = Lab(specs, {}, state_dir=Path(folder), now=now, handshake_delay=args.latency_ms / 1000).start()
        print(
            f"lab with {args.nodes} TLS endpoints ({args.latency_ms:.0f} ms before each handshake) "
            f"started in {time.perf_counter() - started:.2f} s"
        )
        try:
            store = load_trust_store(Path(folder) / "ca.pem")
            targets = []
            for host_port, address in lab.endpoints.items():
                host, _, port = host_port.rpartition(":")
                addr, _, addr_port = address.rpartition(":")
                targets.append((host, int(port), (addr, int(addr_port))))
            timings: dict[int, list[float]] = {1: [], args.workers: []}
            for _ in range(args.repeat):
                for workers in (1, args.workers):
                    t0 = time.perf_counter()
                    results = probe_many(targets, timeout=2, trust_store=store, workers=workers)
                    timings[workers].append(time.perf_counter() - t0)
                    assert len(results) == len(targets)
        finally:
            lab.stop()
    sequential = statistics.median(timings[1])
    parallel = statistics.median(timings[args.workers])
    print(f"probe {len(targets)} nodes: 1 worker {sequential:.3f} s, {args.workers} workers {parallel:.3f} s")
    print(f"ratio parallel/sequential: {parallel / sequential:.2f} (speed-up {sequential / parallel:.1f}x)")
    t0 = time.perf_counter()
    for spec in specs:
        plan_renewal(now + spec.expires_in, "EMEA", now)
    per_cert = (time.perf_counter() - t0) / len(specs)
    print(
        f"plan_renewal: {per_cert * 1e3:.3f} ms per certificate; ratio plan/probe (sequential, per node): "
        f"{per_cert / (sequential / len(targets)):.3f}"
    )


if __name__ == "__main__":
    main()
