"""Bridge to one Twilio Conversations service (`[backend] kind = "twilio"`).

The page keeps talking to our server; our server talks to Twilio, so the
account's secrets and Twilio's hosts never reach the browser.

- settings.py  the `[twilio]` table, secrets read from files (`[backend]`: server/config/backend_kind.py)
- rest.py      the `twilio` library over httpx (host rewritten), and MCS
- channels.py  the customer's channel and Twilio's documented media limits
- bridge.py    rules per conversation; idempotent send (MCS upload, message create)
- ledger.py    record of sends and processed webhooks (in the server's database)
- webhook.py   signed `onMessageAdded` webhook -> ingest + deliver
- problems.py  Twilio errors as our JSON problems, with `retryable`
- wiring.py    `TwilioBackend`: the bridge inside the server (routes, send, deliver)
"""

from server.bridges.twilio.bridge import OutgoingFile, Sent, TwilioBridge
from server.bridges.twilio.channels import ConversationRules, rules_for
from server.config.twilio_config import TwilioSettings, backend_kind, load_twilio
from server.bridges.twilio.webhook import webhook_endpoint

__all__ = ["ConversationRules", "OutgoingFile", "Sent", "TwilioBridge", "TwilioSettings", "backend_kind",
           "load_twilio", "rules_for", "webhook_endpoint"]
