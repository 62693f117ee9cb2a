"""The ``winic-soap`` exit codes: one per error family, so a script can react without reading stderr.

``winic-soap --help`` ends with this table (:data:`EXIT_HELP`, rendered from :class:`ExitCode`)::

    exit codes:
      0  success
      1  unexpected failure (a bug, or stdout closed before everything was printed)
      2  usage or configuration error (bad flag, unknown transport, missing credentials, unreadable file)
      3  input rejected before sending (bad numbers, empty text, past --at, file not in --encoding, ...)
      4  authentication refused (-02, -03, -14) or IP not allowed (-110)
      5  balance insufficient (-01)
      6  any other service error code (-04 ... -13, unknown codes)
      7  transport failure (connection refused, timeout, error page, unreadable answer)
      8  outcome unknown: a send (or other write) may have been processed; it was NOT retried
      9  watcher: a record could not be handed on (it stays pending in the store)
     10  the store cannot be opened or written (send: nothing was sent)
     11  wsdl diff: the WSDL differs from the packaged copy (operations or parameters)
     12  send, jobs resume: the service accepted requests (ids printed) that the journal could not record
    130  interrupted (Ctrl-C); a send prints what it did first: ids on stdout
    143  terminated (SIGTERM); a send prints what it did first: ids on stdout

Which error gets which code is :func:`winic_soap.cli.errors.exit_code_for`; tests/cli/test_exit_codes.py
proves each code by the situation it names.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["EXIT_HELP", "ExitCode"]


class ExitCode(IntEnum):
    """A process exit status of ``winic-soap``, with what it means (:attr:`meaning`) as ``--help`` shows it."""

    meaning: str

    def __new__(cls, code: int, meaning: str) -> ExitCode:
        member = int.__new__(cls, code)
        member._value_ = code
        member.meaning = meaning
        return member

    OK = 0, "success"
    FAILURE = 1, "unexpected failure (a bug, or stdout closed before everything was printed)"
    USAGE = 2, "usage or configuration error (bad flag, unknown transport, missing credentials, unreadable file)"
    INPUT = 3, "input rejected before sending (bad numbers, empty text, past --at, file not in --encoding, ...)"
    AUTHENTICATION = 4, "authentication refused (-02, -03, -14) or IP not allowed (-110)"
    BALANCE = 5, "balance insufficient (-01)"
    SERVICE = 6, "any other service error code (-04 ... -13, unknown codes)"
    TRANSPORT = 7, "transport failure (connection refused, timeout, error page, unreadable answer)"
    OUTCOME_UNKNOWN = 8, "outcome unknown: a send (or other write) may have been processed; it was NOT retried"
    HAND_OFF = 9, "watcher: a record could not be handed on (it stays pending in the store)"
    STORE = 10, "the store cannot be opened or written (send: nothing was sent)"
    DRIFT = 11, "wsdl diff: the WSDL differs from the packaged copy (operations or parameters)"
    JOURNAL = 12, "send, jobs resume: the service accepted requests (ids printed) that the journal could not record"
    INTERRUPTED = 130, "interrupted (Ctrl-C); a send prints what it did first: ids on stdout"
    TERMINATED = 143, "terminated (SIGTERM); a send prints what it did first: ids on stdout"


EXIT_HELP = "exit codes:\n" + "\n".join(f"{code.value:>3}  {code.meaning}" for code in ExitCode)
