"""The examples in README.md and docs/*.md, checked so the docs cannot rot.

Every fenced code block of those files is collected. Its info string is a
language followed by space-separated tags; the first bare word after the
language is the block's *kind*, ``key=value`` words are options, other bare
words are flags. What a block must do:

``json manifest [file=NAME]``
    Manifest JSON lines that ``read_manifest`` accepts. The document's example
    store: every plan block of the document is verified against it, so a
    document with plan blocks has exactly one manifest block.
``json plan [file=NAME] [verify options]``
    ``parse_plan`` accepts it and ``verify`` reports no diagnostic at all.
``json plan-warning code=A[,B] [file=NAME] [verify options]``
    Parses; ``verify`` is ok and the set of codes it reports is exactly {A, B}.
``json plan-invalid code=A[,B] [file=NAME] [verify options]``
    Parses; ``verify`` is not ok and the set of codes it reports is exactly {A, B}.
``json schema-error location=POINTER [file=NAME]``
    ``parse_plan`` raises ``PlanSyntaxError`` with a problem at that JSON
    Pointer (``location=`` alone is the whole document).
``json report [plan=previous]``
    Validates as ``planner.core.report.Report``; with ``plan=previous`` it equals
    the report of the nearest plan block above it, verified as that block says.
``json canonical digest=HEX``
    The canonical encoding of the nearest plan block above it, whose digest is HEX.
``json files``
    The bytes of the document's example store, for ``console run setup=store``:
    an object from store path to UTF-8 text. Every path is a file of the
    manifest with that size and sha256, and every manifest file with a sha256
    is listed (files known only by size are filled with zero bytes).

Verify options mirror ``verify``'s keyword arguments: ``allowed=a,b`` (the
token scope), ``blobs=SHA256:SIZE,...`` (uploaded blobs), ``max_ops=N``,
``max_inline_bytes=N`` and ``max_file_bytes=N`` (``Limits``), ``holds=ID:PATH,...``
(legal holds in force).

A ``json`` block with any other kind or option fails the suite, so nobody adds
an unchecked example. Other languages:

``python``
    Executed, each block on its own.
``sh`` and ``console``
    Every ``pva`` command line (a line's first word is ``pva`` or a path ending
    in ``/pva``; in ``console`` blocks only lines starting with ``$ ``) must be
    accepted by ``planner.cli.main.build_parser()``; ``make TARGET`` lines must
    name a Makefile target.
``console curl [vary=time,hash]``
    Requests to a live sidecar, checked by ``tests/docs/test_api_doc.py``.
``console run [exit=N] [head] [setup=store] [vary=time,hash]``
    One or more ``$ pva ...`` commands, each followed by its output. They run
    in-process, in order, in one folder holding the document's ``file=``
    blocks; each command's standard output then standard error must equal the
    lines below it. The last command must exit N (default 0), every earlier
    one 0 (``exit=A,B,...`` gives one code per command instead); with
    ``head``, the last output need only start with its lines.
    ``setup=store`` also gives the folder the document's example store as
    ``store/`` (folders and files of its manifest, bytes from its ``json
    files`` block) and a migrated SQLite audit database ``audit.db``, and sets
    ``PVA_STORE=store`` and ``PVA_DATABASE_URL=sqlite:///audit.db``, as a
    reader would. ``vary`` names values that differ from run to run: with
    ``time`` any ISO 8601 date-time shown matches any date-time, with ``hash``
    any 64- or 32-digit hex string matches any of the same length (event
    hashes and attempt ids depend on the clock).

Any other block (``text``, no language) is prose and is not checked. Coverage
checks pin that plan-format.md shows every op and every diagnostic code and
that cli.md shows every command, the sidecar's plugins and each action of a
command that has actions (``pva audit list``, ``pva db upgrade``) included.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from planner import Limits, PlanSyntaxError, parse_plan, verify
from planner.cli.main import _plugins, build_parser, main
from planner.core.holds import Hold
from planner.core.manifest import read_manifest
from planner.core.plan import OP_KINDS, Plan
from planner.core.report import Code, Report
from planner.core.tree import Tree

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
PLAN_FORMAT = ROOT / "docs" / "plan-format.md"
CLI_DOC = ROOT / "docs" / "cli.md"

PLAN_KINDS = frozenset({"plan", "plan-warning", "plan-invalid"})
VERIFY_OPTIONS = frozenset({"allowed", "blobs", "holds", "max_ops", "max_inline_bytes", "max_file_bytes"})
JSON_KINDS: dict[str, frozenset[str]] = {
    "manifest": frozenset({"file"}),
    "plan": VERIFY_OPTIONS | {"file"},
    "plan-warning": VERIFY_OPTIONS | {"file", "code"},
    "plan-invalid": VERIFY_OPTIONS | {"file", "code"},
    "schema-error": frozenset({"file", "location"}),
    "report": frozenset({"plan"}),
    "canonical": frozenset({"digest"}),
    "files": frozenset(),
}
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_SHELL_OPERATORS = frozenset({"|", "||", "&&", ";", "&", "(", ")"})
_REDIRECTIONS = frozenset({">", ">>", "<", ">&", "<&", "&>"})


@dataclass
class Block:
    """One fenced code block: where it is, its info string parsed, its text."""

    document: Path
    line: int
    language: str
    kind: str | None
    options: dict[str, str]
    flags: set[str]
    text: str
    previous_plan: Block | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        label = " ".join(filter(None, [self.language, self.kind]))
        return f"{self.document.name}:{self.line}:{label or 'text'}"


def _parse_info(info: str) -> tuple[str, str | None, dict[str, str], set[str]]:
    words = info.split()
    language = words[0] if words else ""
    kind = words[1] if len(words) > 1 and "=" not in words[1] else None
    options: dict[str, str] = {}
    flags: set[str] = set()
    for word in words[1 + (kind is not None) :]:
        key, equals, value = word.partition("=")
        if equals:
            options[key] = value
        else:
            flags.add(word)
    return language, kind, options, flags


def _closes(line: str, fence: str) -> bool:
    """True when ``line`` closes a block opened by ``fence`` (same character, at least as long)."""
    stripped = line.strip()
    return stripped.startswith(fence) and not stripped.strip(fence[0])


def _blocks_of(document: Path) -> list[Block]:
    blocks: list[Block] = []
    lines = document.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        language, kind, options, flags = _parse_info(opening["info"])
        body: list[str] = []
        start = index + 1
        index += 1
        while index < len(lines) and not _closes(lines[index], fence):
            body.append(lines[index][indent:] if lines[index][:indent].isspace() else lines[index])
            index += 1
        index += 1
        blocks.append(Block(document, start, language, kind, options, flags, "\n".join(body)))
    previous: Block | None = None
    for block in blocks:
        block.previous_plan = previous
        if block.language == "json" and block.kind in PLAN_KINDS:
            previous = block
    return blocks


BLOCKS = [block for document in DOCUMENTS for block in _blocks_of(document)]


def _select(language: str, *kinds: str | None) -> list[Any]:
    chosen = [b for b in BLOCKS if b.language == language and (not kinds or b.kind in kinds)]
    return [pytest.param(b, id=b.id) for b in chosen]


# -- the example store and verification -------------------------------------


def _tree_for(document: Path) -> Tree:
    manifests = [b for b in BLOCKS if b.document == document and b.kind == "manifest"]
    assert len(manifests) == 1, f"{document.name}: plan blocks need exactly one 'json manifest' block"
    return read_manifest(manifests[0].text.splitlines())


def _verify_block(block: Block) -> Report:
    options = block.options
    sizes = ("max_ops", "max_inline_bytes", "max_file_bytes")
    limits = Limits(**{key: int(options[key]) for key in sizes if key in options})
    allowed = options["allowed"].split(",") if "allowed" in options else None
    blobs = None
    if "blobs" in options:
        pairs = (item.split(":") for item in options["blobs"].split(",") if item)
        blobs = {sha256: int(size) for sha256, size in pairs}
    pairs = (item.split(":") for item in options.get("holds", "").split(",") if item)
    holds = tuple(Hold(hold_id, path) for hold_id, path in pairs)
    plan = parse_plan(block.text)
    return verify(plan, _tree_for(block.document), allowed=allowed, limits=limits, blobs=blobs, holds=holds)


def _codes(block: Block) -> set[str]:
    return set(block.options.get("code", "").split(",")) - {""}


def test_every_json_block_is_tagged() -> None:
    """Every json block names a known kind and only that kind's options, so none goes unchecked."""
    problems = []
    for block in BLOCKS:
        if block.language != "json":
            continue
        allowed = JSON_KINDS.get(block.kind or "")
        if allowed is None:
            problems.append(f"{block.id}: unknown json block kind {block.kind!r}; tag it (see this module)")
        elif unknown := (set(block.options) - allowed) | block.flags:
            problems.append(f"{block.id}: unknown options {sorted(unknown)}")
    assert not problems, "\n".join(problems)


def test_every_checked_block_tag_is_known() -> None:
    """Python, sh and console blocks carry only the tags this module acts on, so a typo is caught."""
    known: dict[str, tuple[set[str | None], set[str], set[str]]] = {
        "python": ({None}, set(), set()),
        "sh": ({None}, set(), set()),
    }
    known["console"] = ({None, "run", "curl"}, {"exit", "setup", "vary"}, {"head"})
    problems = []
    for block in BLOCKS:
        if block.language not in known:
            continue
        kinds, options, flags = known[block.language]
        if block.kind not in kinds or not set(block.options) <= options or not block.flags <= flags:
            problems.append(f"{block.id}: unknown tags in its info string")
        if block.kind == "curl" and (set(block.options) - {"vary"} or block.flags):
            problems.append(f"{block.id}: 'console curl' takes 'vary' only (tests/docs/test_api_doc.py)")
        elif block.kind not in ("run", "curl") and (block.options or block.flags):
            problems.append(f"{block.id}: 'exit', 'head', 'setup' and 'vary' apply to 'console run' only")
        if block.options.get("setup", "store") != "store" or not _vary(block) <= set(VARYING):
            problems.append(f"{block.id}: setup=store is the one setup; vary takes {sorted(VARYING)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("block", _select("json", "manifest"))
def test_manifest_block_reads(block: Block) -> None:
    """A manifest example is a manifest the reader accepts."""
    tree = read_manifest(block.text.splitlines())
    assert len(tree) > 0


@pytest.mark.parametrize("block", _select("json", "plan"))
def test_plan_block_verifies_clean(block: Block) -> None:
    """A plan example parses and verifies against its document's store with no diagnostic."""
    report = _verify_block(block)
    assert report.ok
    assert report.diagnostics == []


@pytest.mark.parametrize("block", _select("json", "plan-warning"))
def test_plan_warning_block_warns(block: Block) -> None:
    """A warning example verifies ok with exactly the warning codes it declares."""
    report = _verify_block(block)
    assert _codes(block), f"{block.id}: declare code=..."
    assert report.ok, [str(d) for d in report.diagnostics]
    assert {d.code.value for d in report.diagnostics} == _codes(block), [str(d) for d in report.diagnostics]


@pytest.mark.parametrize("block", _select("json", "plan-invalid"))
def test_plan_invalid_block_fails(block: Block) -> None:
    """An invalid-plan example parses but fails verification with exactly the codes it declares."""
    report = _verify_block(block)
    assert _codes(block), f"{block.id}: declare code=..."
    assert not report.ok
    assert {d.code.value for d in report.diagnostics} == _codes(block), [str(d) for d in report.diagnostics]


@pytest.mark.parametrize("block", _select("json", "schema-error"))
def test_schema_error_block_is_refused(block: Block) -> None:
    """A malformed-plan example is refused by the parser with a problem at the declared location."""
    assert "location" in block.options, f"{block.id}: declare location=..."
    with pytest.raises(PlanSyntaxError) as caught:
        parse_plan(block.text)
    locations = [problem.location for problem in caught.value.problems]
    assert block.options["location"] in locations


@pytest.mark.parametrize("block", _select("json", "report"))
def test_report_block_is_a_report(block: Block) -> None:
    """A report example is a valid report, and the verifier's real answer when tied to a plan."""
    shown = Report.model_validate_json(block.text)
    if block.options.get("plan") is None:
        return
    assert block.options["plan"] == "previous"
    assert block.previous_plan is not None, f"{block.id}: no plan block above it"
    actual = _verify_block(block.previous_plan)
    assert json.loads(block.text) == actual.model_dump(mode="json")
    assert shown == actual


@pytest.mark.parametrize("block", _select("json", "canonical"))
def test_canonical_block_is_the_encoding(block: Block) -> None:
    """A canonical-encoding example is the exact encoding and digest of the plan above it."""
    assert block.previous_plan is not None, f"{block.id}: no plan block above it"
    plan: Plan = parse_plan(block.previous_plan.text)
    assert block.text.strip() == plan.canonical_json().decode("utf-8")
    assert block.options.get("digest") == plan.digest()


def _files_of(document: Path) -> dict[str, bytes]:
    blocks = [b for b in BLOCKS if b.document == document and b.kind == "files"]
    assert len(blocks) == 1, f"{document.name}: setup=store needs exactly one 'json files' block"
    return {path: text.encode("utf-8") for path, text in json.loads(blocks[0].text).items()}


@pytest.mark.parametrize("block", _select("json", "files"))
def test_files_block_matches_the_manifest(block: Block) -> None:
    """The example store's bytes are the files its manifest lists, with their sizes and hashes."""
    files = _files_of(block.document)
    entries = {entry.path: entry for entry in _tree_for(block.document).walk()}
    for path, data in files.items():
        entry = entries.get(path)
        assert entry is not None, f"{path} is not in the manifest"
        assert not entry.is_dir, f"{path} is a folder in the manifest"
        assert entry.size == len(data), f"{path}: {len(data)} bytes, the manifest says {entry.size}"
        assert entry.sha256 == hashlib.sha256(data).hexdigest(), f"{path}: not the manifest's sha256"
    unlisted = sorted(p for p, e in entries.items() if e.sha256 is not None and p not in files)
    assert not unlisted, f"manifest files with a sha256 but no bytes here: {unlisted}"


# -- Python ---------------------------------------------------------------


@pytest.mark.parametrize("block", _select("python"))
def test_python_block_runs(block: Block) -> None:
    """A Python example runs without error (its own asserts included)."""
    code = compile(block.text, f"{block.document.name}:{block.line}", "exec")
    exec(code, {"__name__": "docs_example"})  # noqa: S102  # our own documentation


# -- shell ----------------------------------------------------------------


def _command_lines(block: Block) -> list[str]:
    """The command lines of a shell or console block, continuations joined."""
    lines: list[str] = []
    pending = ""
    for raw in block.text.splitlines():
        line = raw
        if block.language == "console" and not pending:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    return [line for line in lines if line.strip()]


def _simple_commands(line: str) -> list[list[str]]:
    """Split a shell line into simple commands (argv lists), dropping redirections."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    tokens = list(lexer)
    skip = False
    for position, token in enumerate(tokens):
        if skip:
            skip = False
        elif token in _SHELL_OPERATORS:
            commands.append([])
        elif token in _REDIRECTIONS:
            skip = True
        elif token.isdigit() and position + 1 < len(tokens) and tokens[position + 1] in _REDIRECTIONS:
            continue  # the fd of "2>"
        else:
            commands[-1].append(token)
    return [command for command in commands if command]


def _is_pva(word: str) -> bool:
    return word == "pva" or word.endswith("/pva")


SHELL_COMMANDS = [
    pytest.param(command, id=f"{block.id}:{' '.join(command)[:50]}")
    for block in BLOCKS
    if block.language in ("sh", "console")
    for line in _command_lines(block)
    for command in _simple_commands(line)
]


def _makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return {match[1] for match in re.finditer(r"^([A-Za-z][\w-]*)\s*:", text, re.MULTILINE)}


def _parser_status(argv: list[str]) -> int:
    """0 when the CLI's parser accepts ``argv`` (``--help`` included), else argparse's exit code."""
    try:
        build_parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


@pytest.mark.parametrize("command", SHELL_COMMANDS)
def test_shell_command_parses(command: list[str]) -> None:
    """A documented pva command line is accepted by the CLI's parser; a make target exists."""
    if _is_pva(command[0]):
        assert _parser_status(command[1:]) == 0, f"pva rejects {shlex.join(command)}"
    elif command[0] == "make":
        assert set(command[1:]) <= _makefile_targets()


VARYING = {
    "time": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?",
    "hash": r"(?<![0-9a-f])(?:[0-9a-f]{64}|[0-9a-f]{32})(?![0-9a-f])",
}


def _vary(block: Block) -> set[str]:
    return set(block.options.get("vary", "").split(",")) - {""}


def _transcript(block: Block) -> list[tuple[list[str], str]]:
    """The commands of a run block, each with the output shown below it."""
    assert block.text.startswith("$ "), f"{block.id}: a run block starts with '$ pva ...'"
    steps: list[tuple[list[str], str]] = []
    for chunk in re.split(r"^\$ ", block.text, flags=re.MULTILINE)[1:]:
        command, _, output = chunk.partition("\n")
        argv = shlex.split(command)
        assert _is_pva(argv[0]), f"{block.id}: {command!r} is not a pva command"
        steps.append((argv, output.rstrip("\n")))
    return steps


def _matches(shown: str, output: str, vary: set[str], *, head: bool) -> bool:
    """Whether ``output`` is the ``shown`` text, values of the ``vary`` kinds matching any of their kind."""
    if not vary:
        return output.startswith(shown) if head else output == shown
    kinds = "|".join(VARYING[kind] for kind in sorted(vary))
    pattern = ""
    for piece in re.split(f"({kinds})", shown):
        kind = next((k for k in sorted(vary) if re.fullmatch(VARYING[k], piece)), None)
        if kind == "hash":
            pattern += f"[0-9a-f]{{{len(piece)}}}"
        elif kind is not None:
            pattern += VARYING[kind]
        else:
            pattern += re.escape(piece)
    return (re.match if head else re.fullmatch)(pattern, output, flags=re.DOTALL) is not None


def _make_store(block: Block, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The document's example store as ``store/``, a migrated ``audit.db``, and PVA_* naming them."""
    from sidecar import db  # the docs of the sidecar's commands need it; the planner's do not

    files = _files_of(block.document)
    store = folder / "store"
    store.mkdir()
    for entry in _tree_for(block.document).walk():
        target = store / entry.path
        if entry.is_dir:
            target.mkdir()
        else:
            target.write_bytes(files.get(entry.path, bytes(entry.size or 0)))
    db.upgrade(f"sqlite:///{folder / 'audit.db'}")
    monkeypatch.setenv("PVA_STORE", "store")
    monkeypatch.setenv("PVA_DATABASE_URL", "sqlite:///audit.db")


@pytest.mark.parametrize("block", _select("console", "run"))
def test_console_run_block_output(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A transcript marked run shows what each command really prints and the exit code it returns."""
    steps = _transcript(block)
    codes = [int(code) for code in block.options.get("exit", "0").split(",")]
    if len(codes) == 1:
        codes = [0] * (len(steps) - 1) + codes
    assert len(codes) == len(steps), f"{block.id}: exit= gives one code, or one per command"
    for source in BLOCKS:
        if source.document == block.document and "file" in source.options:
            (tmp_path / source.options["file"]).write_text(source.text + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    if block.options.get("setup") == "store":
        _make_store(block, tmp_path, monkeypatch)
    for number, (argv, shown) in enumerate(steps, start=1):
        last = number == len(steps)
        try:
            code = main(argv[1:])
        except SystemExit as exit_:  # argparse's own usage errors
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        output = (captured.out + captured.err).rstrip("\n")
        where = f"{block.id}, command {number} ({shlex.join(argv)})"
        head = last and "head" in block.flags
        assert _matches(shown, output, _vary(block), head=head), f"{where} printed:\n{output}"
        assert code == codes[number - 1], f"{where} exited {code}"


# -- coverage -------------------------------------------------------------


def test_plan_format_shows_every_op() -> None:
    """docs/plan-format.md has a clean plan example using each op kind."""
    used = set()
    for block in BLOCKS:
        if block.document == PLAN_FORMAT and block.kind == "plan":
            used |= {op["op"] for op in json.loads(block.text)["ops"]}
    assert set(OP_KINDS) <= used


def test_plan_format_shows_every_code() -> None:
    """docs/plan-format.md has a checked example triggering each diagnostic code."""
    shown: set[str] = set()
    for block in BLOCKS:
        if block.document == PLAN_FORMAT and block.kind in ("plan-invalid", "plan-warning"):
            shown |= _codes(block)
    assert {code.value for code in Code} <= shown


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands a parser declares (``pva``'s commands, ``pva audit``'s actions)."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def test_cli_doc_shows_every_command() -> None:
    """docs/cli.md shows every pva command, the sidecar's and each of their actions included."""
    shown = {
        tuple(command[1:3])
        for block in BLOCKS
        if block.document == CLI_DOC and block.language in ("sh", "console")
        for line in _command_lines(block)
        for command in _simple_commands(line)
        if _is_pva(command[0]) and len(command) > 1
    }
    wanted: set[tuple[str, ...]] = set()
    absent = {command.name for command in _plugins() if not command.available()}  # extra not installed
    for name, parser in _subcommands(build_parser()).items():
        if name in absent:
            continue
        actions = _subcommands(parser)
        wanted |= {(name, action) for action in actions} if actions else {(name,)}
    missing = {w for w in wanted if not any(s[: len(w)] == w for s in shown)}
    assert not missing, f"docs/cli.md shows no example of: {sorted(' '.join(m) for m in missing)}"
