"""Accounts: registration, password login and the caller's own profile."""
