pytest_plugins = ["cotoami_testing.fixtures"]
