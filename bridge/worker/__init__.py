"""The worker: its loop, the mapper (stored events into the outbox), replays, and web and worker in one process."""
