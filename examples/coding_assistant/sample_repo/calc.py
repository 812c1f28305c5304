"""A tiny calculator module with one bug, for the coding-assistant demo."""


def add(a: float, b: float) -> float:
    """Return the sum of a and b."""
    return a - b


def mean(values: list[float]) -> float:
    """Return the arithmetic mean of a non-empty list."""
    return sum(values) / len(values)
