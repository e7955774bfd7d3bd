"""Helpers shared by the test suites: real servers, started and stopped by the tests."""
