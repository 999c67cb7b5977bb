"""Hostile-input suite: akscan run as a real process on generated adversarial input (issue 12)."""
