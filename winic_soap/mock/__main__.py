"""``python -m winic_soap.mock``: serve the fake service until Ctrl-C or SIGTERM (:mod:`winic_soap.mock.cli`)."""

from winic_soap.mock.cli import main

raise SystemExit(main())
