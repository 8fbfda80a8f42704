"""Conformance suite for the five image APIs: schema checks plus behaviour rules, by rule ID."""

from .rules import Rule, load_rules

__all__ = ["Rule", "load_rules"]
