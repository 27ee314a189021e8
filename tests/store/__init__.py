"""Contract tests for the persistence ports, run against every store adapter."""
