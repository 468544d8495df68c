"""The database: engines and migrations, tables, the event store, billing state, customer links."""
