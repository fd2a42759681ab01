"""A built-in, clearly labelled *simulated* LLM provider with an OpenAI-compatible API.

Used by the offline demo and by integration tests over real HTTP; off unless
settings.SIMULATOR_ENABLED. See README.md in this folder for the behaviour of each model id.
"""
