"""The outbox worker: performs queued external effects, at most once each."""
