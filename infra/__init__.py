"""The basement: settings, database, messaging shell (consumer, outbox relay, inbox), metrics. No bakery words."""
