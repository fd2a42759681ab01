class DomainError(Exception):
    """A rule of the domain refused the action; the message tells the user what to do next."""


class Conflict(DomainError):
    """Someone else changed the object first; reload and try again."""
