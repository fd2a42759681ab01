"""Readers that turn uploaded files (promptfoo configs, JSONL) into an import plan."""
