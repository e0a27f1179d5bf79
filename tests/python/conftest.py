"""Shared fixtures of the Python package's tests: the repository's corpus."""

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def root() -> pathlib.Path:
    """The repository root (corpus/ lives there)."""
    return ROOT
