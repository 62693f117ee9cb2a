"""The ``winic-soap`` command (also ``python -m winic_soap``): operator tools for the winic SMS service.

Exit codes are distinct per error family so scripts can react (:mod:`winic_soap.cli.exit_codes`);
``winic-soap --help`` lists them.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from winic_soap.cli.errors import exit_code_for, report_error
from winic_soap.cli.exit_codes import ExitCode
from winic_soap.cli.parser import build_parser
from winic_soap.exceptions import BulkSendError, WinicError

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command, and turn its outcome into the exit code of :mod:`winic_soap.cli.exit_codes`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    verbose = getattr(args, "verbose", 0)
    if verbose:
        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    try:
        return int(args.run(args))
    except WinicError as exc:
        report_error(exc, as_json=getattr(args, "json", False))
        return exit_code_for(exc)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM during a send (sending.Terminated)
        stopped = BulkSendError.find(exc)
        if stopped is not None:
            report_error(stopped, as_json=getattr(args, "json", False))
        else:
            print("interrupted" if exit_code_for(exc) == ExitCode.INTERRUPTED else "terminated", file=sys.stderr)
        return exit_code_for(exc)
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): records not yet printed stay pending in the store
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.FAILURE


if __name__ == "__main__":
    sys.exit(main())
