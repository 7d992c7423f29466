"""Helpers of the pytest plugin (`chaos.pytest_plugin`): settings, drill items, outcome text
and the fixtures' objects. Imported lazily, so the plugin costs nothing when not opted in."""
