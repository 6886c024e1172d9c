"""Glue for CI hosts: the GitHub REST calls the workflows need (one PR comment, one drift issue)."""
