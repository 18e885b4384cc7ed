"""SQLAlchemy 2 models of the app database (the schema itself is created by Alembic)."""
