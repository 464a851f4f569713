"""Predictive customer models (purchase frequency, churn, lifetime value)."""
