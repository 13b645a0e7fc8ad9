"""One outbox relay publishes at a time, whatever the replica count.

Every replica runs a relay, but only the one holding a PostgreSQL advisory lock
publishes; the others stand by. The lock belongs to a database session, so it is
released the moment the leader's process or connection dies and a standby takes
over on its next round. Duplicates would still be safe (event ids are
deterministic), but N relays would publish every event N times.
"""

from __future__ import annotations

import contextlib
import logging

import psycopg

logger = logging.getLogger(__name__)

# Any constant shared by the replicas; it names "the booking-command outbox relay".
RELAY_LOCK_KEY = 0x7469636B_6F757462  # "tickoutb"


class RelayLeadership:
    """Blocking calls: run them on the event-store executor, never on the event loop."""

    def __init__(self, dsn: str, lock_key: int = RELAY_LOCK_KEY) -> None:
        self.dsn = dsn
        self.lock_key = lock_key
        self._connection: psycopg.Connection[tuple[object, ...]] | None = None
        self.is_leader = False

    def claim(self) -> bool:
        """True while this relay may publish; checks the lock's session is still alive."""
        try:
            if self._connection is None or self._connection.closed:
                self.is_leader = False
                self._connection = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
            if self.is_leader:
                self._connection.execute("SELECT 1")
                return True
            row = self._connection.execute(
                "SELECT pg_try_advisory_lock(%s)", (self.lock_key,)
            ).fetchone()
            self.is_leader = bool(row and row[0])
            if self.is_leader:
                logger.info("this replica's outbox relay is now the publisher")
            return self.is_leader
        except psycopg.Error:
            self.release()
            raise

    def release(self) -> None:
        connection, self._connection = self._connection, None
        self.is_leader = False
        if connection is not None:
            with contextlib.suppress(psycopg.Error):
                connection.close()
