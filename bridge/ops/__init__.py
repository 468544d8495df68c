"""Operations: logs, metrics, alerts, progress lines, retry backoff."""
