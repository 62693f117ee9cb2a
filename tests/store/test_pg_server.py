"""The tests' PostgreSQL server under pytest-xdist: a free port another worker takes first is not a failure."""

from __future__ import annotations

import os
import socket

import psycopg
import pytest
from helpers.pgserver import PgServer, find_pg_bin


def test_a_port_taken_before_the_server_binds_it_gets_another() -> None:
    if find_pg_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("pg_ctl not found: .ci/run installs postgresql")
        pytest.skip("PostgreSQL binaries not installed (apt-get install postgresql)")
    with socket.socket() as other_worker:  # what a parallel worker's server or mock would hold
        other_worker.bind(("127.0.0.1", 0))
        other_worker.listen()
        taken = other_worker.getsockname()[1]
        server = PgServer()
        server.port = taken  # as if _free_port() had chosen it just before the other worker bound it
        try:
            server.start()
            assert server.port != taken
            with psycopg.connect(server.url) as conn:
                assert conn.execute("SELECT current_setting('port')").fetchone() == (str(server.port),)
        finally:
            server.stop()
