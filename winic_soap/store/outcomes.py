"""Unknown outcomes resolved by their reports: a batch that may or may not have been processed (its answer
was lost) is proved accepted when reports arrive for a message id nobody journalled, all of whose numbers
fall in that one batch, started before them."""

from __future__ import annotations

import logging

from winic_soap.store.jobs import BATCH_COLUMNS, Batch, JobsMixin, batch_of
from winic_soap.store.schema import marks

__all__ = ["OutcomesMixin"]

logger = logging.getLogger("winic_soap.store")


class OutcomesMixin(JobsMixin):
    """Settles the journal's ``unknown`` (and dead ``sending``) batches from the reports in the inbox."""

    def resolve_unknown(self, message_ids: set[str] | None = None) -> list[Batch]:
        """Reports carrying a message id the journal does not know, all of whose numbers fall in exactly one
        ``unknown`` (or dead ``sending``) batch started before them: that batch was accepted under this id.
        Two candidate batches (shared numbers) leave both unknown. Returns the batches resolved."""
        now = self.clock()
        with self._transaction() as tx:
            candidates = [
                (batch_of(r[:-1]), float(r[-1]))
                for r in tx.rows(
                    f"SELECT {BATCH_COLUMNS}, started_epoch FROM winic_batches "
                    "WHERE state IN ('unknown', 'sending') AND started_epoch >= ?",
                    (now - self.resolve_window,),
                )
            ]
            if not candidates:
                return []
            if message_ids is None:
                message_ids = {
                    m
                    for (m,) in tx.rows(
                        "SELECT DISTINCT r.message_id FROM winic_inbox r LEFT JOIN winic_batches b "
                        "ON b.message_id = r.message_id WHERE r.kind = 'report' AND b.message_id IS NULL "
                        "AND r.pulled_epoch >= ?",
                        (now - self.resolve_window,),
                    )
                }
            ids = sorted(message_ids)
            if not ids:
                return []
            known = {
                m
                for (m,) in tx.rows(
                    f"SELECT DISTINCT message_id FROM winic_batches WHERE message_id IN ({marks(len(ids))})", ids
                )
            }
            reports = tx.rows(
                "SELECT message_id, mobile, pulled_epoch FROM winic_inbox "
                f"WHERE kind = 'report' AND message_id IN ({marks(len(ids))})",
                ids,
            )
        seen: dict[str, tuple[set[str], float]] = {}
        for message_id, mobile, pulled in reports:
            if message_id in known:
                continue
            mobiles, first = seen.get(message_id, (set(), float("inf")))
            mobiles.add(mobile)
            seen[message_id] = (mobiles, min(first, float(pulled)))
        resolved = []
        for message_id, (mobiles, first) in sorted(seen.items()):
            matches = [b for b, started in candidates if mobiles <= set(b.numbers) and started <= first]
            if len(matches) != 1:
                if matches:
                    logger.info("reports for %s match %d unknown batches; left unknown", message_id, len(matches))
                continue
            batch = matches[0]
            if self.mark_accepted(batch.job_id, batch.index, message_id, source="reports"):
                logger.info("batch %d of job %s: accepted (from reports) as %s", batch.index, batch.job_id, message_id)
                resolved.append(batch)
                candidates = [(b, s) for b, s in candidates if b is not batch]
        return resolved
