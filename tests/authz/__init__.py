"""The authorization matrix, CSRF and "no GET writes" over it (issue 11)."""
