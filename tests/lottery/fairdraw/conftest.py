def pytest_configure(config):
    # The project-wide pytest configuration declares this marker too; registering it here
    # keeps this folder runnable on its own (-p no:django) without "unknown marker" warnings.
    config.addinivalue_line("markers", "slow: long statistical checks (still run in CI)")
