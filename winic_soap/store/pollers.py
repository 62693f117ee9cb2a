"""One poller per account: a lease row per (endpoint, uid) that a watcher takes and renews, so that two
watchers never pull for one account at once; a holder that provably died (:mod:`~winic_soap.store.owners`)
loses it at once, any other only when it expires."""

from __future__ import annotations

from dataclasses import dataclass

from winic_soap.store.core import StoreCore
from winic_soap.store.ids import utc_iso
from winic_soap.store.owners import owner_is_dead

__all__ = ["PollerLease", "PollerMixin"]


@dataclass(frozen=True)
class PollerLease:
    """Who pulls for one account (endpoint, uid) and until when (epoch seconds)."""

    endpoint: str
    uid: str
    owner: str
    until: float
    since: str


class PollerMixin(StoreCore):
    """The store's poller leases (``winic_pollers``)."""

    def hold_poller(self, endpoint: str, uid: str, owner: str, lease: float | None = None) -> bool:
        """Take or renew the right to pull for (endpoint, uid) until now + ``lease``; False while another
        live holder has it. One statement, so two contenders can never both win."""
        current = self.poller(endpoint, uid)
        dead = current.owner if current and current.owner != owner and owner_is_dead(current.owner) else None
        with self._transaction(single=True) as tx:
            now = self._now(tx)
            rows = tx.rows(
                "INSERT INTO winic_pollers (endpoint, uid, owner, lease_until, since) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (endpoint, uid) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until, "
                "since = CASE WHEN winic_pollers.owner = excluded.owner "
                "THEN winic_pollers.since ELSE excluded.since END "
                "WHERE winic_pollers.owner = excluded.owner OR winic_pollers.lease_until < ? "
                "OR winic_pollers.owner = CAST(? AS TEXT) "
                "RETURNING owner",
                (endpoint, uid, owner, now + (lease or self.lease), utc_iso(now), now, dead),
            )
        return bool(rows) and rows[0][0] == owner

    def release_poller(self, endpoint: str, uid: str, owner: str) -> None:
        """Give the poller lease up at once (a clean stop), so a stand-by takes over without waiting."""
        with self._transaction(single=True) as tx:
            tx.run("DELETE FROM winic_pollers WHERE endpoint = ? AND uid = ? AND owner = ?", (endpoint, uid, owner))

    def poller(self, endpoint: str, uid: str) -> PollerLease | None:
        """Who holds the account's poller lease, and until when (it may have expired)."""
        with self._transaction(single=True) as tx:
            rows = tx.rows(
                "SELECT owner, lease_until, since FROM winic_pollers WHERE endpoint = ? AND uid = ?", (endpoint, uid)
            )
        return PollerLease(endpoint, uid, rows[0][0], float(rows[0][1]), rows[0][2]) if rows else None
