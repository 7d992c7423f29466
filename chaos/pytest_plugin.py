"""pytest plugin: drills as tests (opt-in with --chaos-env). Filled in by the pytest-plugin capability."""
