"""Projects, hashed API keys, trial credits and the cost ledger.

``AccountStore`` (``accounts.store``) is the one entry point; the API, the launcher and the ledger
activity call it. Storage is SQLAlchemy 2 async with Alembic migrations applied when the store opens:
a SQLite file (aiosqlite) in the embedded stack, PostgreSQL (psycopg) in production.

Money is ``Decimal`` in Python and integer micro-USD in the database, never float. A project's
``balance`` is what it has not been charged yet; ``held`` is the sum of its open holds; ``available``
(balance - held) is what a new job may hold. The database itself refuses a negative available balance.

The ledger (``ledger_entries``) is append-only, one row per (job, kind): ``grant`` (credits given),
``hold`` (credits reserved at generate), ``release`` (the hold closed at settle) and ``charge`` (what the
job cost). Retries and replays of hold or settle find their row already written and change nothing, so a
job is never charged twice. For every project: balance = grants - charges, held = holds - releases.
"""
