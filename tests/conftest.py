"""Fixture modules shared by the whole suite."""

pytest_plugins = ["tests.fakes.stores"]
