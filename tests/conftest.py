"""Session-wide fixtures live in tests/fixtures/*; each starts a real service once per session."""

pytest_plugins = [
    "tests.fixtures.ports",
    "tests.fixtures.browser",
    # Before the fixtures that read its decisions: finds or embeds PostgreSQL and Node.js for the run.
    "tests.fixtures.embedded_services",
    "tests.fixtures.temporal",
    "tests.fixtures.stack",
    "tests.fixtures.priced_stack",
    "tests.fixtures.rate_limited_stack",
    "tests.fixtures.accounts",
    "tests.fixtures.vendor_emulators",
    "tests.fixtures.vendor_stack",
    "tests.fixtures.localvendor",
    "tests.fixtures.s3",
    "tests.fixtures.otlp",
    "tests.fixtures.webhook_receiver",
    "tests.fixtures.survival",
]
