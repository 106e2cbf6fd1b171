"""pva's exceptions: failures are exceptions, plan problems are diagnostics.

A verifier finding (a missing source, a path out of scope) is not an
exception: it is a ``Diagnostic`` in the report. Exceptions are for input that
cannot be read at all, and for failures of the machinery. The tree::

    PvaError
    ├── PlanSyntaxError      the plan is not a plan: not UTF-8 or JSON, duplicate
    │                        keys, NaN, lone surrogates, fails the schema
    ├── ManifestError        a manifest line is malformed or contradicts another
    └── TreeError            an operation on a tree is impossible
        ├── NotFound         a path does not exist
        ├── AlreadyExists    a create-only target exists
        ├── NotADirectory    a file stands where a folder is needed
        └── IsADirectory     a folder stands where a file is needed
"""

from __future__ import annotations

from dataclasses import dataclass


class PvaError(Exception):
    """The root of every exception pva raises on purpose.

    ``exit_code`` is what the ``pva`` command exits with when this error stops
    it: 2 for input or usage the user must fix, 3 for a failure of the store,
    the database or an apply that an operator must look at.
    """

    exit_code = 3


@dataclass(frozen=True)
class SchemaProblem:
    """One reason a plan is malformed, at a JSON Pointer into the raw input."""

    location: str  # JSON Pointer, "" for the whole document, e.g. "/ops/3/dst"
    message: str

    def __str__(self) -> str:
        return f"{self.location or '/'}: {self.message}"


class PlanSyntaxError(PvaError):
    """The input is not a well-formed plan (or ``what`` else); ``problems`` lists every reason found."""

    exit_code = 2

    def __init__(self, problems: list[SchemaProblem], *, what: str = "plan") -> None:
        self.problems = problems
        first = str(problems[0]) if problems else f"malformed {what}"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"malformed {what}: {first}{more}")


class ManifestError(PvaError):
    """A manifest cannot be read; the message names the line."""

    exit_code = 2


class TreeError(PvaError):
    """An operation on a tree is impossible in the tree's current state."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(message)


class NotFound(TreeError):
    """The path does not exist."""


class AlreadyExists(TreeError):
    """The path exists and the operation only creates."""


class NotADirectory(TreeError):
    """A file stands where a folder is needed."""


class IsADirectory(TreeError):
    """A folder stands where a file is needed."""
