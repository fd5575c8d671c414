"""The SQL database: models, engine, migrations and config sync."""
