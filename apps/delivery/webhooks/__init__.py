"""Client webhooks: signed notifications of what happened to a client's messages.

    endpoint = webhook_endpoint_create(organization=..., actor=..., url="https://...", event_types=[...])
    webhook_events_emit(message=message, status=message.status)   # on messaging's MessageStatusChanged event
    webhook_delivery_send(delivery_id=...)                         # one attempt (retries, resends, the sweeper)
    webhook_target_send_due(endpoint_id=..., url=...)              # new deliveries: a target's due ones, in turn

- `models` — endpoints (URL, secret, subscribed types, active / disabled), the callback-URL secret per client,
  events (the exact JSON sent), deliveries (one per event and target) and attempts (one per HTTP request).
- `services` — every write; `selectors` — reads, with the per-client endpoint cache of the hot path.
- `transport` — the HTTP client (requests, timeouts, no redirects), behind the SSRF guard (`apps.core.addresses`).
- `signing` — `PeerPower-Signature: t=…,v1=…` (HMAC-SHA256 over `f"{t}.{raw body}"`).
- `tasks` — send one delivery or a target's due ones, sweep up lost ones, prune old events. `api/` and `admin` —
  the two ways in.
"""
