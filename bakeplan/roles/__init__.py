"""One composition root per process role: settings → adapters → use cases → subscriptions."""
