"""The Python tooling behind `invoke` tasks. Each module has one job; tasks.py maps their errors to exit codes."""
