pytest_plugins = ["cotoami_common.testing"]
