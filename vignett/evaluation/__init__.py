"""Evaluations that measure vignett from the outside, through its public API."""
