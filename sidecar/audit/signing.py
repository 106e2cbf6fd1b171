"""Signing checkpoints while the sidecar runs: at start, after every N events, after an interval, at stop.

``Publisher`` decides and signs (synchronous, a clock passed in); ``signing``
is the lifespan part of ``pva serve`` that runs it in a thread every few
seconds. Several sidecars on one database each sign what they see: a head
signed twice is the same file (``checkpoints.publish``). A failure is logged
and retried at the next poll; a conflicting checkpoint (the log rewritten
under a published head) is logged as an error, never replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from sidecar.audit import checkpoints, timestamps
from sidecar.audit.checkpoints import Checkpoint, CheckpointConflict, Signer
from sidecar.audit.timestamps import TimestampError
from sidecar.audit.tree import SqlAuditTree
from sidecar.settings import Settings

POLL = timedelta(seconds=5)  # how often the sidecar asks whether a checkpoint is due (one cheap query)
log = logging.getLogger("pva.checkpoints")


class Publisher:
    """Signs the tree's head into a folder when due: ``every`` new events, or ``interval`` after the last."""

    def __init__(
        self,
        tree: SqlAuditTree,
        signer: Signer,
        *,
        origin: str,
        folder: Path | checkpoints.Destination,
        every: int,
        interval: timedelta,
        clock: Callable[[], datetime],
        tsa_url: str | None = None,
    ) -> None:
        self.tree, self.signer, self.origin, self.folder = tree, signer, origin, folder
        self.tsa_url = tsa_url  # None: no timestamps
        self.every, self.interval, self.clock = every, interval, clock
        self.last_size: int | None = None  # what this process signed last; None: nothing yet
        self.last_time: datetime | None = None

    def due(self, size: int, now: datetime) -> bool:
        """Whether to sign a tree of ``size`` events now: new events, and the first, or enough, or late."""
        if size in (0, self.last_size):
            return False
        if self.last_size is None or self.last_time is None:
            return True
        return size - self.last_size >= self.every or now - self.last_time >= self.interval

    def sign(self) -> Path | str | None:
        """Sign and publish the current head (none for an empty audit); the path written."""
        head = self.tree.head()
        if head.size == 0:
            return None
        checkpoint = Checkpoint(self.origin, head.size, head.root)
        note = checkpoints.sign(checkpoint, self.signer)
        path = checkpoints.publish(note, checkpoint, self.folder)
        self.last_size, self.last_time = head.size, self.clock()
        if self.tsa_url is not None:
            try:
                reply = timestamps.stamp(self.tsa_url, note.encode("utf-8"))
                log.info(
                    "checkpoint timestamped: %s",
                    checkpoints.publish_timestamp(reply, checkpoint, self.folder),
                )
            except TimestampError as error:  # the checkpoint stands; its timestamp is missing
                log.error("checkpoint %s not timestamped: %s", path, error)  # noqa: TRY400  # the message is the news
        return path

    def sign_if_due(self, *, final: bool = False) -> Path | str | None:
        """Sign when due (``final``: whenever there are new events); failures are logged, not raised."""
        try:
            size = self.tree.size()
            if (final and size not in (0, self.last_size)) or self.due(size, self.clock()):
                path = self.sign()
                log.info("checkpoint published: %s", path)
                return path
        except CheckpointConflict as conflict:
            log.error("checkpoint not published: %s", conflict)  # noqa: TRY400  # the message is the news
        except Exception:
            log.exception("checkpoint not published; retrying at the next poll")
        return None


def publisher_for(
    settings: Settings,
    engine: Engine,
    clock: Callable[[], datetime],
    destination: Path | checkpoints.Destination | None = None,
) -> Publisher | None:
    """The publisher the settings ask for: None unless PVA_CHECKPOINT_KEY and PVA_CHECKPOINT_DIR are set.

    ``destination`` is where PVA_CHECKPOINT_DIR points, opened (``stores.checkpoint_destination``);
    None: it is a folder.
    """
    if settings.checkpoint_key is None or not settings.checkpoint_dir:
        return None
    try:
        signer = checkpoints.parse_signer(settings.checkpoint_key.get_secret_value())
    except checkpoints.BadKey as bad:
        raise checkpoints.BadKey(f"PVA_CHECKPOINT_KEY: {bad}") from None
    return Publisher(
        SqlAuditTree(engine, clock=clock),  # shares the sidecar's engine; whoever made it disposes of it
        signer,
        origin=settings.checkpoint_origin or signer.name,
        folder=destination if destination is not None else Path(settings.checkpoint_dir),
        every=settings.checkpoint_every,
        interval=settings.checkpoint_interval,
        clock=clock,
        tsa_url=settings.tsa_url,
    )


@contextlib.asynccontextmanager
async def signing(
    settings: Settings,
    engine: Engine,
    clock: Callable[[], datetime],
    destination: Path | checkpoints.Destination | None = None,
) -> AsyncIterator[None]:
    """For a running sidecar: sign at start, poll while it runs, sign what is new at stop."""
    publisher = publisher_for(settings, engine, clock, destination)
    if publisher is None:
        yield
        return
    await asyncio.to_thread(publisher.sign_if_due)
    poll = min(POLL, settings.checkpoint_interval).total_seconds()
    task = asyncio.create_task(_poll(publisher, poll))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.to_thread(publisher.sign_if_due, final=True)


async def _poll(publisher: Publisher, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        await asyncio.to_thread(publisher.sign_if_due)
