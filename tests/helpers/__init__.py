"""Plain helpers shared by the tests (builders, fakes, parsers); the fixtures are in conftest.py."""
