"""Helpers shared by several op families (gradient reductions, batch grouping, S5 shapes)."""
