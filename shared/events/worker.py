"""One SQS record of the events queue → one delivery attempt by the subscriber's deliverer."""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shared.events.delivery import Deliverer, DeliveryJob
from shared.events.queue import retry_later
from shared.observability import logger
from shared.runtime import run


class DeliveryFailed(Exception):
    """An attempt failed; the record is reported to SQS as a batch item failure."""


def process_record(record: SQSRecord, deliverers: Mapping[str, Deliverer]) -> str:
    """Deliver the job ``record`` carries; on failure postpone it by the backoff, then raise."""
    try:
        job = DeliveryJob.from_message(record.body, int(record.attributes.approximate_receive_count or 1))
    except (ValueError, KeyError) as exc:
        logger.warning("not an event delivery message", extra={"message_id": record.message_id})
        return f"ignored: {type(exc).__name__}"
    deliverer = deliverers.get(job.kind)
    if deliverer is None:
        # A newer dispatcher than this worker (mid-deploy): retry until this code catches up.
        raise DeliveryFailed(f"no deliverer for subscriber kind {job.kind!r}")
    outcome = run(deliverer.deliver(job))
    fields = {"event_id": str(job.event_id), "kind": job.kind, "subscriber_id": str(job.subscriber_id)}
    logger.info("event delivery attempt", extra={**fields, "attempt": job.attempt, "status": outcome.status})
    if outcome.status != "failed":
        return outcome.status
    if job.retry_in is not None:
        retry_later(record.receipt_handle, job.retry_in)
    raise DeliveryFailed(f"attempt {job.attempt} failed: {outcome.detail}")
