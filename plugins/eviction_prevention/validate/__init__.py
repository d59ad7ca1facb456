"""Validate: the Great Expectations suites per source kind and the closed lists of values."""
