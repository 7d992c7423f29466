"""The e2e session's embedded testbed (real Redis, Toxiproxy, gateways, router), reset before
every drill of these tests."""

from tests.e2e.conftest import shared_testbed, testbed

__all__ = ["shared_testbed", "testbed"]
