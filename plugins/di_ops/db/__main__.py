"""``python -m di_ops.db upgrade|current``: migrate the ops DB named by the di_ops_db connection."""

from __future__ import annotations

import argparse

from di_ops.db.engine import current_revision, head_revision, make_engine, upgrade
from di_ops.integrations.opsdb import ops_db_url


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m di_ops.db", description=__doc__)
    parser.add_argument("command", choices=["upgrade", "current"])
    args = parser.parse_args()
    url = ops_db_url()
    engine = make_engine(url)
    if args.command == "upgrade":
        upgrade(engine)
    shown = engine.url.render_as_string(hide_password=True)
    print(f"ops DB {shown}: revision {current_revision(engine)} (head {head_revision()})")


if __name__ == "__main__":
    main()
