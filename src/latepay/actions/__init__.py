"""Turning scores into what the collections team does next."""
