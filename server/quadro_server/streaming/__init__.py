"""Live event delivery: the in-memory hub of recent events and the subscriptions that
follow it (falling back to the store when they are behind)."""
