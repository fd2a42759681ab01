"""The assertion types of eval cases; the public entry is evaluations/assertions.py."""
