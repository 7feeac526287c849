"""Pollen quickstart: a Flower App whose clients are Pollen devices."""
