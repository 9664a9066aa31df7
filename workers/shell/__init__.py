"""The one small shell every worker runs in: inbox, outbox, replies, the process wiring."""
