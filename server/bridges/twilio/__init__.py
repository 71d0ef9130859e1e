"""Bridge to one Twilio Conversations service (`[backend] kind = "twilio"`).

The page keeps talking to our server; our server talks to Twilio, so the
account's secrets and Twilio's hosts never reach the browser.

- rest.py      the `twilio` library over httpx (host rewritten), and MCS
- channels.py  the customer's channel and Twilio's documented media limits
- bridge.py    rules per conversation; idempotent send (MCS upload, message create)
- ledger.py    record of sends and processed webhooks (in the server's database)
- webhook.py   signed `onMessageAdded` webhook -> ingest + deliver
- problems.py  Twilio errors as our JSON problems, with `retryable`
- history.py, history_rows.py, listing.py, incoming.py  Twilio's earlier messages, read in as the page scrolls
- backend.py   `TwilioBackend`: the bridge inside the server (routes, send, deliver)

Its settings, the `[twilio]` table, are read with the rest of the config (server/config/twilio_config.py).
"""
