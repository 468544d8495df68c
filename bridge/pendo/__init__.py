"""The Pendo side: the HTTP client and payload rules, the custom fields, the outbox, delivery and its budget."""
