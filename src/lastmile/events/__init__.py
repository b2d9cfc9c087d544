"""The event log, the live event bus (SSE), and outgoing webhooks."""
