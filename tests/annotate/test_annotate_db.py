"""The app's write helper survives a connection the database dropped (no pre-ping)."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from annotate import db


@pytest.mark.db
def test_write_reruns_once_on_a_connection_the_server_dropped(app: Flask) -> None:
    st = app.extensions[db.EXT]
    if st.dialect != "postgresql":
        pytest.skip("PostgreSQL only: a server-side disconnect")
    # Put one connection in the pool, note its backend, and end that backend from outside.
    pid = db.write(lambda c: c.execute(text("SELECT pg_backend_pid()")).scalar_one(), st)
    other = create_engine(app.config["DATABASE"], isolation_level="AUTOCOMMIT")
    try:
        with other.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    finally:
        other.dispose()
    runs: list[int] = []

    def fn(conn):  # type: ignore[no-untyped-def]
        runs.append(1)
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()

    new_pid = db.write(fn, st)
    assert new_pid != pid
    assert len(runs) == 2  # the pool's one connection was the dropped one: rerun once
