"""The store's numbered migrations, as SQL files read by :mod:`winic_soap.store.schema`.

``NNNN_what.sql`` runs on both backends; ``NNNN_what.sqlite.sql`` / ``NNNN_what.postgresql.sql`` on one
(a version has either one shared file or one file per backend). ``{seq}`` and ``{real}`` stand for the
backend's auto-numbered key and float types; statements end with ``;`` at the end of a line. Adding a column
is one new file with the next number; never edit a released one (deployed stores already ran it).
"""

__all__: list[str] = []
