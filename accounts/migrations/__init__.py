"""Alembic environment and revisions of the accounts schema (run by ``accounts.migrate``)."""
