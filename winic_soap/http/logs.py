"""The filter on httpx2's and httpcore2's loggers: no line they write shows a secret. Installed when the
package is imported, before any client exists."""

from __future__ import annotations

import logging

from winic_soap.http.attempt import current
from winic_soap.redaction import mask_secrets, mask_urls

__all__ = ["RedactSecrets"]

_ENGINE_LOGGERS = (
    "httpx2",
    "httpcore2.connection",
    "httpcore2.http11",
    "httpcore2.http2",
    "httpcore2.proxy",
    "httpcore2.socks",
)


class RedactSecrets(logging.Filter):
    """httpx2 logs every request line at INFO (the URL, with ``pwd=`` on HTTP GET): masked before any
    handler sees it. During a webhook POST every URL in a line is shown without query and user info (the
    receiver's URL may carry its token in either)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message)
        attempt = current.get()
        if attempt is not None and attempt.private_urls:
            masked = mask_urls(masked)
        if masked != message:
            record.msg, record.args = masked, None
        return True


for _name in _ENGINE_LOGGERS:
    logging.getLogger(_name).addFilter(RedactSecrets())
