"""Shared test helpers: fakes, servers, child-process scripts and checks that test modules import.

Test modules import from here, never from another test module or a conftest.
"""
