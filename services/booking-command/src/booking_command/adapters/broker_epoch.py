"""booking-command's record of the Kafka cluster its relay and saga positions belong to."""

from __future__ import annotations

from booking_command.application.app import BookingCommandApplication
from booking_command.application.executor import EventStoreExecutor
from service_kit.broker_epoch import BrokerRecovery


class EventStoreBrokerEpoch:
    """The kit's `BrokerEpoch` in the event-store database.

    A new cluster gets new tracking streams: the relay's position goes back to 0, so it
    republishes the whole notification log (event ids are deterministic, consumers drop
    what they applied), and the saga reads inventory's new topic from offset 0.
    """

    def __init__(self, app: BookingCommandApplication, executor: EventStoreExecutor) -> None:
        self._app = app
        self._executor = executor

    async def stored_cluster_id(self) -> str | None:
        stored = await self._executor.run(self._app.booking_recorder.broker_epoch)
        return stored[0] if stored is not None else None

    async def record_cluster_id(self, cluster_id: str) -> None:
        await self._executor.run(self._app.booking_recorder.record_broker_epoch, cluster_id)

    async def adopt(self, cluster_id: str) -> BrokerRecovery | None:
        previous_epoch = self._app.tracking_epoch
        adopted = await self._executor.run(
            self._app.booking_recorder.adopt_broker_epoch, cluster_id
        )
        if not adopted:
            return None
        newest = await self._executor.run(self._app.recorder.max_notification_id) or 0
        return BrokerRecovery(
            republished=(
                f"the whole event-store notification log (notifications 1..{newest}) from "
                "position 0, same event ids"
            ),
            dropped_offsets=(
                f"the relay's and the saga's tracking positions of epoch '{previous_epoch}' "
                "(kept, no longer read); inventory outcomes are read again from offset 0, "
                "bookings no longer PENDING ignore them"
            ),
        )
