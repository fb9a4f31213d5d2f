"""Shared fixtures. Each concern has its own module under tests/fixtures/."""

pytest_plugins = [
    "fixtures.aws",
    "fixtures.logs",
    "fixtures.sandbox",
    "fixtures.template",
    "fixtures.audit",  # after the modules it imports, so pytest rewrites their asserts
]
