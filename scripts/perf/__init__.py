"""Measuring the tooling: `invoke bench`, the generated corpus it runs on, and `invoke audit` in a real browser."""
