"""Checks for numbers that come from operators, config files and sensors.

Every check raises ValueError with a message that names the quantity, the value and
the accepted range, so callers can hand the message straight back to a user.
"""

import math


def finite(name, value):
    """Return value as float, or raise ValueError if it is not a finite number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f'{name} must be a number, got {value!r}') from None
    if not math.isfinite(number):
        raise ValueError(f'{name} must be finite, got {number}')
    return number


def in_range(name, value, low=-math.inf, high=math.inf, unit=''):
    """Return value as a finite float within [low, high], or raise ValueError."""
    number = finite(name, value)
    if number < low or number > high:
        suffix = f' {unit}' if unit else ''
        raise ValueError(
            f'{name} must be within [{low:g}, {high:g}]{suffix}, got {number:g}{suffix}')
    return number


def positive(name, value, unit=''):
    """Return value as a finite float > 0, or raise ValueError."""
    number = finite(name, value)
    if number <= 0.0:
        suffix = f' {unit}' if unit else ''
        raise ValueError(f'{name} must be > 0{suffix}, got {number:g}{suffix}')
    return number


def non_negative(name, value, unit=''):
    """Return value as a finite float >= 0, or raise ValueError."""
    return in_range(name, value, 0.0, math.inf, unit)
