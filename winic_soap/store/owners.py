"""Who holds a lease, and whether that process is provably gone: an owner names its host, pid, the pid's
start time, a random part and the PID namespace and boot it runs in, so that a dead holder on this host
frees its leases at once while holders elsewhere (other hosts, other containers) free them only on expiry."""

from __future__ import annotations

import functools
import os
import platform
import secrets

__all__ = ["owner_is_dead", "process_owner"]


def _start_ticks(pid: int | str) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[19]  # field 22: start time, guards against pid reuse
    except (OSError, IndexError):
        return None


def _host() -> str:
    return os.environ.get("WINIC_HOST_ID") or platform.node()


@functools.cache
def _identity() -> str:
    """Where pids mean something: ``<pid namespace inode>.<boot id>``. A pid is only comparable inside
    its own PID namespace (containers with one hostname each have their own) and boot; a process never
    changes either, so this is read once per process."""
    try:
        link = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
        namespace = link[link.index("[") + 1 : link.index("]")]
    except (OSError, ValueError):
        namespace = "-"
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            boot = f.read().strip().replace("-", "")[:16]
    except OSError:
        boot = "-"
    return f"{namespace}.{boot}"


def process_owner() -> str:
    """Who holds a lease: ``host/pid/start-ticks/random/pidns.boot``; the host part is ``$WINIC_HOST_ID`` or
    the hostname, the last part the process's PID namespace and boot id (see :func:`owner_is_dead`)."""
    return f"{_host()}/{os.getpid()}/{_start_ticks('self') or '-'}/{secrets.token_hex(3)}/{_identity()}"


def _proc_is_ours() -> bool:
    """True when /proc shows this process's PID namespace (a container that kept its parent's /proc does not)."""
    try:
        return os.readlink("/proc/self") == str(os.getpid())
    except OSError:
        return False


def owner_is_dead(owner: str) -> bool:
    """True only when ``owner`` ran on this host, in this PID namespace and boot, and its process is gone: a
    dead holder there frees its leases at once. Any other holder (another host, another container with
    the same hostname, an owner written before the identity was part of it) cannot be checked and frees
    them when they expire."""
    parts = owner.split("/")
    if len(parts) != 5 or parts[0] != _host() or parts[4] != _identity() or not parts[1].isdigit():
        return False
    if "-" in parts[4].split(".") or not _proc_is_ours():
        return False  # no namespace or boot id to compare, or a /proc of another namespace: pids prove nothing
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    ticks = _start_ticks(pid)
    if ticks is None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return parts[2] != "-"  # alive, but /proc says nothing of it: treat as reused
    return parts[2] != "-" and ticks != parts[2]
