"""The arena: questions -> answers -> verdicts -> ratings, all in one store."""

__version__ = "0.1.0"
