"""Kombu's Redis transport, made to survive the broker going away under a worker.

When the broker connection drops, Celery's consumer first `collect()`s the
connection, which closes the channel and then detaches the transport from its
connection (`transport.client = None`), and then `close()`s it again. Kombu
5.7's `Channel.close()` starts by reading the reply of a pending BRPOP (added so
that a popped message is not lost at shutdown, celery/kombu#1733). With the
broker gone that read raises a connection error before the channel is marked
closed, so the second close does the real work: it restores the unacknowledged
(acks_late) messages over the detached transport, fails with
`AttributeError: 'NoneType' object has no attribute 'hostname'`, and Celery,
which only forgives connection errors there, stops the worker.

This transport closes the channel in one go whatever the BRPOP read says, and
turns "no broker to talk to" into a connection error every caller handles. An
unacknowledged message the channel cannot restore stays in Redis's unacked hash
and comes back after the visibility timeout; if the broker lost it, the
dispatcher's lost-message sweep publishes the run again (the database is the
source of truth).

config/celery.py registers it for `redis://`, `rediss://` and `redis+socket://`.
"""

from __future__ import annotations

import logging
from queue import Empty

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from redis.exceptions import ConnectionError as RedisConnectionError

logger = logging.getLogger(__name__)


class QoS(kombu_redis.QoS):
    def restore_unacked(self, client=None) -> None:
        try:
            super().restore_unacked(client)
        except self.channel.connection_errors:
            logger.warning(
                "broker unreachable: %d unacknowledged message(s) left to the "
                "visibility timeout",
                len(self._delivered),
                extra={"action": "restore_unacked_failed"},
            )

    def ack(self, delivery_tag) -> None:
        if self.channel.closed:
            # The message came on a connection that is gone: nothing to tell the
            # broker on it. Its unacked entry, if the broker kept one, comes back
            # after the visibility timeout, and the engine ignores a finished run.
            virtual.QoS.ack(self, delivery_tag)
            return
        super().ack(delivery_tag)

    def reject(self, delivery_tag, requeue: bool = False) -> None:
        if self.channel.closed:
            virtual.QoS.ack(self, delivery_tag)
            return
        super().reject(delivery_tag, requeue=requeue)


class Channel(kombu_redis.Channel):
    QoS = QoS

    def close(self) -> None:
        self._closing = True
        if self._in_poll:
            try:
                self._brpop_read()
            except Empty:
                pass
            except self.connection_errors:
                # The broker is gone, and the BRPOP reply with it; close anyway.
                pass
        super().close()

    def _connparams(self, asynchronous: bool = False) -> dict:
        if self.connection.client is None:
            raise RedisConnectionError("this channel's broker connection is closed")
        return super()._connparams(asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
