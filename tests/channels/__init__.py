"""A supplier's side, for the channel tests: an SMTP server, a webhook receiver, TLS certificates, the
signature check from docs/channels.md, and a private table for the delivery records."""
