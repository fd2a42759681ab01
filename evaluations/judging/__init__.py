"""The judge's parts: its prompts (prompts.py) and how its answers are read (answers.py).
`evaluations.judge` is the entry point everything else calls."""
