"""How many arrivals in a window are far above a line's normal: its baseline, with room for chance.

Arrivals in a window are close to Poisson: with E expected, chance alone rarely gives more than E + z·√E
(z = 5: about once in a million windows). So the bar is max(floor, k·E + z·√E): a new line (E = 0) uses the
floor; a line whose normal is 50 callers in 5 s (10 calls/s) floods at 86, not at 5.
"""
import math


def above_normal(floor, expected, factor, sigmas):
    """Arrivals in the window that are far above the `expected` ones, never fewer than `floor`."""
    expected = max(expected, 0.0)
    return max(int(floor), math.ceil(factor * expected + sigmas * math.sqrt(expected)))


def flood_bar(rules, per_second):
    """(entry, exit): distinct callers in the flood window that start flood mode, and that keep it while the
    line's alert is open (back within two standard deviations of normal ends it)."""
    expected = per_second * rules.flood_seconds
    entry = above_normal(rules.flood_callers, expected, rules.flood_factor, rules.flood_sigmas)
    stay = above_normal(rules.flood_exit_callers, expected, rules.flood_factor, 2.0)
    return entry, min(stay, entry)
