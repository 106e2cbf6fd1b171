"""The approval policy: ordered rules that decide what a verified plan needs before it applies.

A policy is a TOML document (``policy/v1``, described in docs/workflow.md;
docs/policy.example.toml is the issue's example). Rules are tried in order;
the first whose conditions all hold decides: ``auto_approve``,
``require_approvals`` (N distinct approvers) or ``deny``. A plan no rule
matches gets the ``[default]``, which is one approval unless the file says
otherwise; a policy with no rules is the *empty* policy (``Policy.is_empty``).

Owners and groups: ``[[owners]]`` maps path globs to a group of people
(tokens carry groups). An outcome of ``require_approvals`` may also ask for
approvals by group (``require``: "1 of acme-partners and 1 of records") and
by the owners of what each op touches (``owners_approvals = N``: every
group that owns a path of an op needs N approvals from its members). The
decision carries these as ``Requirement`` s, each with the ops it is for, so
a stored plan keeps what it was decided to need when the file changes.

Enforcement: a rule's ``enforcement`` is ``deny`` (the default: its outcome
stands), ``advise`` (its verdict is shown in the decision's ``advice`` and the
next rules decide) or ``require_override`` (a ``deny`` an admin may override
with a reason; the plan is then decided by the rules after it).

Globs name subtrees, as scopes do: a path matches a glob when the glob matches
the path *or one of its ancestors*, segment by segment (``*`` is any run of
characters inside one segment, ``**`` any number of whole segments), compared
by collision key (``planner.core.paths.fold``), never by string prefix. So
``matters/*/inbox`` covers ``matters/acme/inbox/x.pdf``, and ``matters/acme``
does not cover ``matters/acme-evil``.

Pure: ``parse_policy`` takes text, ``decide`` takes values. Exceptions:
``PolicyError`` (a ``PvaError``, exit code 2) when the text is not a valid
policy; ``problems`` lists every reason, each naming its rule.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, Protocol, Self, assert_never

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner.core.errors import PvaError
from planner.core.paths import PathRuleError, check_name, fold, join, split
from planner.core.plan import MAX_SAFE_INTEGER, Copy, Delete, Mkdir, Move, Op, Plan, Rename, Write
from planner.core.report import Code, Report

POLICY_VERSION = "policy/v1"
OpKind = Literal["mkdir", "move", "rename", "write", "copy", "delete"]
RoleName = Literal["agent", "approver", "auditor", "counsel", "admin"]  # sidecar.tokens.Role, as text
Outcome = Literal["auto_approve", "require_approvals", "deny"]
Enforcement = Literal["deny", "require_override", "advise"]  # hard; an admin may override; shown only
MAX_APPROVALS = 20


class PolicyError(PvaError):
    """The policy text is not a valid policy; ``problems`` lists every reason, each naming its rule."""

    exit_code = 2  # the operator wrote the file

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        first = problems[0] if problems else "invalid policy"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"invalid policy: {first}{more}")


class Author(Protocol):
    """Who submitted a plan, as the policy sees them (``sidecar.tokens.Principal`` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...


# -- globs ------------------------------------------------------------------

_Segment = str | re.Pattern[str] | None  # a folded literal, a one-segment wildcard, or '**' (None)


def glob_problem(glob: str) -> str | None:
    """Why ``glob`` is not a valid store-path glob, or None."""
    if not glob:
        return "a glob cannot be empty ('**' covers the whole store)"
    if glob.startswith("/"):
        return f"glob {glob!r} is absolute; store paths are relative to the store root"
    if glob.endswith("/") or "\\" in glob:
        return f"glob {glob!r} ends with '/' or contains a backslash"
    for segment in glob.split("/"):
        problem = _segment_problem(segment)
        if problem is not None:
            return f"glob {glob!r}: {problem}"
    return None


def _segment_problem(segment: str) -> str | None:
    if segment in ("", ".", ".."):
        return f"{segment!r} is not a segment" if segment else "empty segment ('//')"
    if "**" in segment and segment != "**":
        return f"'**' must be a whole segment, not part of {segment!r}"
    if "?" in segment:
        return "'?' is not a wildcard here ('*' is), and no store name contains it"
    if "*" not in segment:
        try:
            check_name(segment)
        except PathRuleError as error:
            return str(error)
    return None


def _checked_glob(glob: str) -> str:
    problem = glob_problem(glob)
    if problem is not None:
        raise ValueError(problem)
    return glob


@lru_cache(maxsize=4096)
def _compiled(glob: str) -> tuple[_Segment, ...]:
    return tuple(_compile_segment(segment) for segment in fold(glob).split("/"))


def _compile_segment(segment: str) -> _Segment:
    if segment == "**":
        return None
    if "*" not in segment:
        return segment
    return re.compile(".*".join(re.escape(part) for part in segment.split("*")), re.DOTALL)


def covers(glob: str, path: str) -> bool:
    """True when ``glob`` matches ``path`` or one of its ancestors, segment by segment, by collision key."""
    return _covers(_compiled(glob), fold(path).split("/"))


def _covers(pattern: tuple[_Segment, ...], segments: Sequence[str]) -> bool:
    # A set of positions in the pattern (an NFA); reaching the end covers the subtree below.
    end = len(pattern)
    positions = _past_globstars({0}, pattern)
    for segment in segments:
        if end in positions:
            return True
        advanced = set()
        for index in positions - {end}:
            part = pattern[index]
            if part is None:
                advanced.add(index)  # '**' takes this segment and may take more
            elif _matches(part, segment):
                advanced.add(index + 1)
        positions = _past_globstars(advanced, pattern)
        if not positions:
            return False
    return end in positions


def _matches(part: str | re.Pattern[str], segment: str) -> bool:
    return part == segment if isinstance(part, str) else part.fullmatch(segment) is not None


def _past_globstars(positions: set[int], pattern: tuple[_Segment, ...]) -> set[int]:
    """Add the positions reachable by letting each '**' match no segment."""
    reached, todo = set(positions), list(positions)
    while todo:
        index = todo.pop()
        if index < len(pattern) and pattern[index] is None and index + 1 not in reached:
            reached.add(index + 1)
            todo.append(index + 1)
    return reached


# -- the model ----------------------------------------------------------------


def _checked_name(name: str) -> str:
    if not name.strip() or name != name.strip():
        raise ValueError("a rule name must be non-empty, without leading or trailing spaces")
    return name


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


Glob = Annotated[str, AfterValidator(_checked_glob)]
Count = Annotated[int, Field(ge=0, le=MAX_SAFE_INTEGER)]
Text = Annotated[str, Field(min_length=1, max_length=1000)]
RuleName = Annotated[str, Field(max_length=100), AfterValidator(_checked_name)]


class Requirement(BaseModel):
    """Approvals a plan needs from the members of one group, and the ops they are needed for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group: str
    approvals: int = Field(description="Distinct members of the group whose approvals must count.")
    ops: list[int] | None = Field(
        description="The ops (0-based) the group owns a path of; null: the whole plan (a rule's 'require')."
    )

    def covers(self, op: int) -> bool:
        return self.ops is None or op in self.ops


class Override(BaseModel):
    """An admin's override of a ``require_override`` rule's deny: who, when, why (audited too)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_name: str
    actor: str
    reason: str
    time: str  # ISO 8601, UTC


class Decision(BaseModel):
    """What the policy decided for one plan, and which rule decided it (shown with the plan, audited)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: Outcome
    approvals_needed: int = Field(description="Distinct approvers needed; 0 unless require_approvals.")
    rule_name: str | None = Field(description="The rule that fired; null when the default decided.")
    reason: str
    requirements: list[Requirement] = Field(
        default=[],
        description="Approvals needed by group: a rule's 'require', and the owners of each op's paths.",
    )
    advice: list[str] = Field(
        default=[], description="What the 'advise' rules that matched say; they decide nothing."
    )
    overridable: bool = Field(
        default=False,
        description="A deny by a 'require_override' rule, which an admin may override with a reason.",
    )
    overrides: list[Override] = Field(default=[], description="Overrides that led to this decision.")


GROUP_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"  # as sidecar.tokens.GROUP: a token's groups are named so
GroupName = Annotated[str, Field(pattern=GROUP_PATTERN)]
Approvals = Annotated[int, Field(ge=1, le=MAX_APPROVALS)]


class GroupNeed(_Strict):
    """``{group = "records", approvals = 1}``: approvals from the group's members, for the whole plan."""

    group: GroupName
    approvals: Approvals = 1


class _Outcome(_Strict):
    outcome: Outcome
    approvals: Approvals | None = None
    message: Text | None = None
    require: Annotated[list[GroupNeed], Field(min_length=1, max_length=20)] | None = None
    owners_approvals: Approvals | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        wants_count = self.outcome == "require_approvals"
        if wants_count != (self.approvals is not None):
            raise ValueError("'approvals' (at least 1) goes with 'require_approvals', and only with it")
        if (self.outcome == "deny") != (self.message is not None):
            raise ValueError("'message' (why, shown to the author) goes with 'deny', and only with it")
        if not wants_count and (self.require is not None or self.owners_approvals is not None):
            raise ValueError("'require' and 'owners_approvals' go with 'require_approvals', and only with it")
        return self

    def _decision(self, rule_name: str | None, why: str, needs: list[Requirement]) -> Decision:
        if self.outcome == "auto_approve":
            verdict = "approves it automatically"
        elif self.outcome == "require_approvals":
            verdict = f"requires {self.approvals} approval{'s' if self.approvals != 1 else ''}"
            verdict += "".join(f", {n.approvals} of {n.group}" for n in needs)
        else:
            verdict = f"denies it: {self.message}"
        return Decision(
            outcome=self.outcome,
            approvals_needed=self.approvals or 0,
            rule_name=rule_name,
            reason=f"{why} {verdict}",
            requirements=needs,
        )

    def requirements(self, owned: Sequence[frozenset[str]]) -> list[Requirement]:
        """What this outcome needs by group, given the groups owning a path of each op (``owned[i]``)."""
        found: dict[str, tuple[int, set[int] | None]] = {}
        for need in self.require or ():
            found[need.group] = (need.approvals, None)
        if self.owners_approvals is not None:
            for index, groups in enumerate(owned):
                for group in groups:
                    count, ops = found.get(group, (0, set()))
                    found[group] = (max(count, self.owners_approvals), None if ops is None else ops | {index})
        return [
            Requirement(group=group, approvals=count, ops=None if ops is None else sorted(ops))
            for group, (count, ops) in sorted(found.items())
        ]


class Default(_Outcome):
    """What a plan that no rule matches needs."""

    def decision(self, owned: Sequence[frozenset[str]] = ()) -> Decision:
        return self._decision(None, "no rule matched; the default", self.requirements(owned))


@dataclass(frozen=True)
class _Facts:
    """What the rules look at, computed once per plan."""

    kinds: frozenset[str]
    paths: tuple[list[str], ...]  # folded segments of every path the plan touches
    ops: int
    bytes: int | None  # written + copied; None when a size is not known
    author: str
    role: str


class Rule(_Outcome):
    """Conditions (every one given must hold) and the outcome when they do."""

    name: RuleName
    description: Annotated[str, Field(max_length=1000)] = ""
    ops_all: Annotated[list[OpKind], Field(min_length=1)] | None = None
    ops_any: Annotated[list[OpKind], Field(min_length=1)] | None = None
    paths_all: Annotated[list[Glob], Field(min_length=1)] | None = None
    paths_any: Annotated[list[Glob], Field(min_length=1)] | None = None
    min_ops: Count | None = None
    max_ops: Count | None = None
    min_bytes: Count | None = None
    max_bytes: Count | None = None
    authors: Annotated[list[Text], Field(min_length=1)] | None = None
    author_roles: Annotated[list[RoleName], Field(min_length=1)] | None = None
    enforcement: Enforcement = "deny"

    @model_validator(mode="after")
    def _has_conditions(self) -> Self:
        if self.enforcement == "require_override" and self.outcome != "deny":
            raise ValueError(
                "enforcement 'require_override' goes with outcome 'deny' (an admin may override it)"
            )
        decided = {"name", "description", "outcome", "approvals", "message", "require", "owners_approvals"}
        given = self.model_dump(exclude=decided | {"enforcement"})
        if all(value is None for value in given.values()):
            raise ValueError("the rule has no condition, so it matches every plan: set [default] instead")
        for low, high in (("min_ops", "max_ops"), ("min_bytes", "max_bytes")):
            if given[low] is not None and given[high] is not None and given[low] > given[high]:
                raise ValueError(f"{low} {given[low]} is above {high} {given[high]}: nothing can match")
        return self

    def holds(self, facts: _Facts) -> bool:
        return self._ops_hold(facts) and self._authors_hold(facts) and self._paths_hold(facts)

    def _ops_hold(self, facts: _Facts) -> bool:
        return (
            (self.ops_all is None or facts.kinds <= set(self.ops_all))
            and (self.ops_any is None or not facts.kinds.isdisjoint(self.ops_any))
            and _between(facts.ops, self.min_ops, self.max_ops)
            # An unknown byte count may be any size: it meets every minimum and no maximum.
            and (self.min_bytes is None or facts.bytes is None or facts.bytes >= self.min_bytes)
            and (self.max_bytes is None or (facts.bytes is not None and facts.bytes <= self.max_bytes))
        )

    def _authors_hold(self, facts: _Facts) -> bool:
        return (self.authors is None or facts.author in self.authors) and (
            self.author_roles is None or facts.role in self.author_roles
        )

    def _paths_hold(self, facts: _Facts) -> bool:
        return (self.paths_all is None or all(_covered(self.paths_all, p) for p in facts.paths)) and (
            self.paths_any is None or any(_covered(self.paths_any, p) for p in facts.paths)
        )

    def decision(self, owned: Sequence[frozenset[str]] = ()) -> Decision:
        why = f"rule {self.name!r}" + (f" ({self.description})" if self.description else "")
        decided = self._decision(self.name, why, self.requirements(owned))
        return decided.model_copy(update={"overridable": self.enforcement == "require_override"})


def _between(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _covered(globs: Iterable[str], segments: list[str]) -> bool:
    return any(_covers(_compiled(glob), segments) for glob in globs)


def _one_approval() -> Default:
    return Default(outcome="require_approvals", approvals=1)


class Owners(_Strict):
    """``[[owners]]``: the group of people who own the paths under these globs."""

    paths: Annotated[list[Glob], Field(min_length=1, max_length=100)]
    group: GroupName


class Policy(_Strict):
    """Rules tried in order, first match wins, and the default for plans none matches."""

    version: Literal["policy/v1"] = "policy/v1"
    default: Default = Field(default_factory=_one_approval)
    owners: Annotated[list[Owners], Field(max_length=1000)] = []
    rules: Annotated[list[Rule], Field(max_length=1000)] = []

    def owner_groups(self, plan: Plan) -> list[frozenset[str]]:
        """For each op of ``plan``, the groups owning a path it names (``[[owners]]``)."""
        return [
            frozenset(
                owners.group
                for owners in self.owners
                for path in _op_paths(op)
                if _covered(owners.paths, fold(path).split("/"))
            )
            for op in plan.ops
        ]

    @model_validator(mode="after")
    def _distinct_names(self) -> Self:
        first: dict[str, int] = {}
        for index, rule in enumerate(self.rules):
            if rule.name in first:
                raise ValueError(
                    f"rule {rule.name!r} (rules[{index}]): the name is taken by rules[{first[rule.name]}]; "
                    "rule names must be unique"
                )
            first[rule.name] = index
        return self

    @property
    def is_empty(self) -> bool:
        """True when no rule is set: the default decides every plan."""
        return not self.rules


# -- deciding -----------------------------------------------------------------


def touched_paths(plan: Plan) -> tuple[str, ...]:
    """Every path the plan's ops name, each once in op order: sources, targets and a rename's new path."""
    seen: dict[str, None] = {}
    for op in plan.ops:
        for path in _op_paths(op):
            seen.setdefault(path)
    return tuple(seen)


def named_paths(plan: Plan) -> tuple[str, ...]:
    """What a plan names: the paths it touches, then the roots of its declared scope not among them.

    The wall's paths (``PlanCase.paths``): who may propose, see, approve or
    apply a plan must hold all of them, so a plan whose ops stay in one matter
    but whose scope names another is not shown to people walled off from it
    (its scope would reveal that matter's name).
    """
    touched = touched_paths(plan)
    return touched + tuple(root for root in plan.scope if root not in touched)


def _op_paths(op: Op) -> tuple[str, ...]:
    match op:
        case Mkdir() | Write() | Delete():
            return (op.path,)
        case Move() | Copy():
            return (op.src, op.dst)
        case Rename():
            return (op.path, join(split(op.path)[0], op.name))
        case _:
            assert_never(op)


def decide(
    plan: Plan, report: Report, author: Author, policy: Policy, *, overrides: Sequence[Override] = ()
) -> Decision:
    """The outcome of the first deciding rule whose conditions all hold for this plan, else the default's.

    ``report`` is the plan's verification against the live store; the bytes a
    plan writes are its ``effect.bytes_written + effect.bytes_copied``, and
    count as unknown (any size) when the report could not check a blob's size.
    Rules with ``enforcement = "advise"`` that hold add their verdict to the
    decision's ``advice`` and decide nothing; ``require_override`` rules named
    by ``overrides`` (an admin overrode them) are passed over.
    """
    facts = _facts(plan, report, author)
    passed = {override.rule_name for override in overrides}
    owned = policy.owner_groups(plan) if policy.owners else [frozenset[str]()] * len(plan.ops)
    advice: list[str] = []
    decided = None
    for rule in policy.rules:
        if (rule.enforcement == "require_override" and rule.name in passed) or not rule.holds(facts):
            continue
        if rule.enforcement == "advise":
            advice.append(rule.decision(owned).reason)
            continue
        decided = rule.decision(owned)
        break
    decided = decided or policy.default.decision(owned)
    return decided.model_copy(update={"advice": advice, "overrides": list(overrides)})


def _facts(plan: Plan, report: Report, author: Author) -> _Facts:
    unsized = any(d.code == Code.UNVERIFIED and d.field == "content_ref" for d in report.diagnostics)
    effect = report.effect
    return _Facts(
        kinds=frozenset(op.op for op in plan.ops),
        paths=tuple(fold(path).split("/") for path in touched_paths(plan)),
        ops=len(plan.ops),
        bytes=None if unsized else effect.bytes_written + effect.bytes_copied,
        author=author.name,
        role=str(author.role),
    )


# -- reading ------------------------------------------------------------------


def parse_policy(text: str) -> Policy:
    """Read a policy from TOML text; PolicyError lists every problem, each naming its rule."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError([f"not valid TOML: {error}"]) from None
    return policy_from(data)


def policy_from(data: Mapping[str, Any]) -> Policy:
    """Validate an already parsed policy document (TOML tables, or the same shape from JSON)."""
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        raise PolicyError([_problem(data, detail) for detail in error.errors()]) from None


def _problem(data: Mapping[str, Any], detail: Mapping[str, Any]) -> str:
    location: tuple[Any, ...] = tuple(detail["loc"])
    where = ""
    if len(location) >= 2 and location[0] == "rules" and isinstance(location[1], int):
        where = _rule_label(data.get("rules"), location[1])
        location = location[2:]
    if detail["type"] == "extra_forbidden":
        what = f"unknown field {location[-1]!r}"
        location = location[:-1]
    elif detail["type"] == "missing":
        what = f"missing field {location[-1]!r}"
        location = location[:-1]
    else:
        what = str(detail["msg"]).removeprefix("Value error, ")
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location).lstrip(".")
    return ": ".join(part for part in (where, field, what) if part)


def _rule_label(rules: object, index: int) -> str:
    name = None
    if isinstance(rules, list) and index < len(rules) and isinstance(rules[index], dict):
        name = rules[index].get("name")
    return f"rule {name!r} (rules[{index}])" if isinstance(name, str) and name.strip() else f"rules[{index}]"
