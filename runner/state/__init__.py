"""Applied state: what has been run under which hashes (lineage + serial), and the lock that serialises applies."""
