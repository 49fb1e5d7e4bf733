"""A loopback SMTP server that stores every message as an .eml file (demo and tests).

    python -m include.demo.smtp_sink --dir .data/outbox --port 8025

Notices can then be read without a mail system: one file per message, named
``<UTC timestamp>-<n>.eml``. Run as a program it logs each session and stored message (its access
log; ``make demo`` sends it to ``.airflow/logs/demo/``); a port in use stops it with a message naming
the port.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger(__name__)


class EmlStore:
    """aiosmtpd handler: writes each accepted message to ``folder`` as an .eml file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._counter = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.folder / f"{stamp}-{next(self._counter):04d}.eml"
        tmp = path.with_suffix(".part")
        content = envelope.original_content or envelope.content
        tmp.write_bytes(content if isinstance(content, bytes) else content.encode())
        tmp.rename(path)  # readers never see a half-written message
        log.info("stored %s: from %s to %s", path.name, envelope.mail_from, ", ".join(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def start(folder: Path, host: str = "127.0.0.1", port: int = 8025) -> Controller:
    controller = Controller(EmlStore(folder), hostname=host, port=port)
    controller.start()
    return controller


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout)
    try:
        controller = start(args.dir, args.host, args.port)
    except OSError as error:
        sys.exit(f"SMTP sink: cannot listen on {args.host}:{args.port} (--port): {error.strerror or error}")
    print(f"SMTP sink on {args.host}:{args.port}, storing messages in {args.dir}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        controller.stop()


if __name__ == "__main__":
    main()
