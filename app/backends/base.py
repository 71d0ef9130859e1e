"""Where the adapters' shared values used to live; kept so older imports still resolve.

New code imports values from ``app.core.http``, errors from ``app.core.errors``
and the interfaces from ``app.backends.api``. Remove once the shell imports those.
"""

from app.core.errors import BackendError
from app.core.http import TIMED_OUT, FileSlice, Request, Response

__all__ = ["TIMED_OUT", "BackendError", "FileSlice", "Request", "Response"]
