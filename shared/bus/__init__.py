"""The event bus: envelopes and schemas, the outbox and its relay, the inbox, consumers."""
