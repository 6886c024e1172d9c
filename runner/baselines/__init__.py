"""Baselines in git: per-item scores of the main branch, one file per (eval, model), read back at any ref."""
