"""Reconciling specs with the applied state: the desired targets, a pure plan, and apply."""
