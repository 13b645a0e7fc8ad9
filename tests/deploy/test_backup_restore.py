"""The backup and restore scripts the CronJob runs, exercised against the test session's
PostgreSQL: dump a throwaway database, restore it into another, compare."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from local_infra.session_infrastructure import Infrastructure

pytestmark = pytest.mark.integration

SCRIPTS = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base" / "backup"


@pytest.fixture(scope="module")
def pg_env(infrastructure: Infrastructure) -> dict[str, str]:
    for tool in ("pg_dump", "pg_restore", "psql"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (Debian: apt-get install postgresql-client)")
    url = urlsplit(infrastructure.postgres_admin_url)
    env = {
        **os.environ,
        "PGHOST": url.hostname or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "postgres",
        "PGCONNECT_TIMEOUT": "5",
    }
    if url.password:
        env["PGPASSWORD"] = url.password
    return env


def psql(env: dict[str, str], database: str, sql: str) -> str:
    result = subprocess.run(
        ["psql", "-v", "ON_ERROR_STOP=1", "-d", database, "-tAc", sql],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.fixture
def databases(pg_env: dict[str, str]) -> Iterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:10]
    source, target = f"backup_src_{suffix}", f"backup_dst_{suffix}"
    psql(pg_env, "postgres", f'CREATE DATABASE "{source}"')
    try:
        yield source, target
    finally:
        for name in (source, target):
            psql(pg_env, "postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


SNAPSHOT = (
    "SELECT json_agg(row_to_json(e) ORDER BY e.position)::text FROM ("
    "SELECT position, stream, body FROM stored_events) e"
)


def test_backup_then_restore_gives_the_same_database(
    pg_env: dict[str, str], databases: tuple[str, str], tmp_path: Path
) -> None:
    source, target = databases
    psql(
        pg_env,
        source,
        "CREATE TABLE stored_events (position bigserial PRIMARY KEY, stream uuid NOT NULL,"
        " body jsonb NOT NULL, UNIQUE (stream, position));"
        "INSERT INTO stored_events (stream, body) SELECT gen_random_uuid(),"
        " jsonb_build_object('n', n, 'text', md5(n::text)) FROM generate_series(1, 500) n;",
    )
    env = {**pg_env, "BACKUP_DIR": str(tmp_path), "BACKUP_DATABASES": source}

    backup = subprocess.run(
        ["sh", str(SCRIPTS / "backup.sh")], env=env, capture_output=True, text=True, check=False
    )
    assert backup.returncode == 0, backup.stderr
    backup_set = Path(backup.stdout.strip().splitlines()[-1])
    dump = backup_set / f"{source}.dump"
    assert dump.is_file()
    assert (backup_set / "SHA256SUMS").is_file()
    assert not list(backup_set.glob("*.partial"))

    restore = subprocess.run(
        ["sh", str(SCRIPTS / "restore.sh"), str(dump), target],
        env=pg_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert restore.returncode == 0, restore.stderr

    assert psql(pg_env, target, SNAPSHOT) == psql(pg_env, source, SNAPSHOT)
    # The sequence continues where the source left off, so new events do not collide.
    assert psql(pg_env, target, "SELECT last_value FROM stored_events_position_seq") == "500"
    assert psql(
        pg_env, target, "SELECT count(*) FROM pg_indexes WHERE tablename = 'stored_events'"
    ) == psql(pg_env, source, "SELECT count(*) FROM pg_indexes WHERE tablename = 'stored_events'")

    # A second restore into the now non-empty database is refused without --clean ...
    again = subprocess.run(
        ["sh", str(SCRIPTS / "restore.sh"), str(dump), target],
        env=pg_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode != 0
    assert "--clean" in again.stderr
    # ... and replaces it with --clean.
    psql(pg_env, target, "DELETE FROM stored_events WHERE position > 10")
    clean = subprocess.run(
        ["sh", str(SCRIPTS / "restore.sh"), "--clean", str(dump), target],
        env=pg_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert clean.returncode == 0, clean.stderr
    assert psql(pg_env, target, SNAPSHOT) == psql(pg_env, source, SNAPSHOT)


def test_restore_rejects_a_corrupted_dump(
    pg_env: dict[str, str], databases: tuple[str, str], tmp_path: Path
) -> None:
    source, target = databases
    psql(pg_env, source, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
    env = {**pg_env, "BACKUP_DIR": str(tmp_path), "BACKUP_DATABASES": source}
    backup = subprocess.run(
        ["sh", str(SCRIPTS / "backup.sh")], env=env, capture_output=True, text=True, check=True
    )
    dump = Path(backup.stdout.strip().splitlines()[-1]) / f"{source}.dump"
    with dump.open("ab") as handle:
        handle.write(b"corruption")
    restore = subprocess.run(
        ["sh", str(SCRIPTS / "restore.sh"), str(dump), target],
        env=pg_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert restore.returncode != 0
    assert "FAILED" in restore.stderr
    exists = psql(
        pg_env,
        "postgres",
        f"SELECT count(*) FROM pg_database WHERE datname = '{target}'",  # noqa: S608
    )
    assert exists == "0"
