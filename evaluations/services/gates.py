"""The eval gate's services (being written by the gate work; this placeholder keeps imports
working meanwhile)."""

from evaluations.models import Run


def gate_run_ended(run: Run) -> None:
    """Called by the executor once a run of a gate has ended; the gate work fills this in."""
