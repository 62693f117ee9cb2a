"""``python -m winic_soap``: the ``winic-soap`` command."""

from __future__ import annotations

import sys

from winic_soap.cli import main

sys.exit(main())
