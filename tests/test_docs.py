"""Every command in the README, docs/ and the package READMEs works as written.

Shell commands come from fenced blocks tagged `bash`/`sh`/`shell`; any line or inline code span
that starts with `vasa-bridge` (or `python -m vasa_bridge.cli`) counts too, wherever it stands.
Each `vasa-bridge` command must parse with the real argument parser, and every repository file
a command names must exist; the safe ones (`--help`, `--version`, `doctor`) run. Words in
capitals (NAME, FILE) and `...` are placeholders.
"""

import contextlib
import io
import re
import shlex
import subprocess
import sys

import pytest

from conftest import ROOT
from vasa_bridge import cli

DOCS = sorted([ROOT / "README.md", *ROOT.glob("docs/*.md"), ROOT / "obs-plugin/README.md",
               ROOT / "unity-package/README.md", *ROOT.glob("unity-package/Documentation~/*.md"),
               *ROOT.glob("unity-package/Samples~/*/README.md")])
SHELL = {"bash", "sh", "shell", "console"}
TOP = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")}
ENTRY = (("vasa-bridge",), (".venv/bin/vasa-bridge",), ("python", "-m", "vasa_bridge.cli"),
         ("python3", "-m", "vasa_bridge.cli"), (".venv/bin/python", "-m", "vasa_bridge.cli"))
SAFE = ({"--help"}, {"-h"}, {"--version"}, {"doctor"})


def _fences(text):
    """(info string, [lines]) per fenced block; the rest of the text as one block ('prose')."""
    blocks, prose, current, info = [], [], None, None
    for line in text.splitlines():
        m = re.match(r"^\s*(?:\d+\.\s+)?```(\S*)", line)
        if m and current is None:
            current, info = [], m.group(1).lower()
        elif line.strip().startswith("```") and current is not None:
            blocks.append((info, current))
            current = None
        elif current is not None:
            current.append(line.strip())
        else:
            prose.append(line)
    return blocks, "\n".join(prose)


def _logical(lines):
    out, buf = [], ""
    for line in lines:
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        out.append(buf + line)
        buf = ""
    return [line.removeprefix("$ ").strip() for line in out if line.strip()]


def _split(line):
    """shlex tokens of one line, cut into simple commands at && || ; |."""
    lex = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lex.whitespace_split = True
    lex.commenters = "#"
    commands, cmd = [], []
    for tok in lex:
        if tok in {"&&", "||", ";", "|", "&"}:
            commands.append(cmd)
            cmd = []
        else:
            cmd.append(tok)
    commands.append(cmd)
    return [c for c in commands if c]


def collect():
    """(doc, command text, argv, inline) for every command the documents give; `inline`: from a
    code span in the prose, where `vasa-bridge dataset video` may just name a command."""
    found = []
    for doc in DOCS:
        blocks, prose = _fences(doc.read_text())
        lines = []
        for info, body in blocks:
            for line in _logical(body):
                if info in SHELL or _entry(line.split()):
                    lines.append(line)
        spans = [span for span in re.findall(r"`([^`\n]+)`", prose) if _entry(span.split())]
        for line in lines + spans:
            try:
                commands = _split(line)
            except ValueError as e:  # unbalanced quotes: the line itself is broken
                found.append((doc.relative_to(ROOT), line, ["<unparsable>", str(e)], False))
                continue
            for argv in commands:
                while argv and re.match(r"^[A-Z_]+=", argv[0]):
                    argv = argv[1:]  # VAR=value prefixes
                # usage lines: [--seed 0] is an option shown as optional; check it too
                argv = [t.strip("[]") for t in argv if t.strip("[]")]
                if argv:
                    found.append((doc.relative_to(ROOT), line, argv, line in spans))
    return found


def _entry(argv):
    for e in ENTRY:
        if tuple(argv[:len(e)]) == e:
            return len(e)
    return 0


CAPS = r"(^|[/=])[A-Z][A-Z_0-9]{2,}(?=\.|$|/)"


def _placeholder(tok):
    return "..." in tok or "…" in tok or bool(re.search(CAPS, tok))


def _repo_path(tok):
    """A token naming a file in this repository (first part a top-level folder), else None."""
    value = tok.split("=", 1)[1] if tok.startswith("--") and "=" in tok else tok
    first = value.split("/", 1)[0]
    if "/" in value and first in TOP and not _placeholder(value):
        return value
    return None


COMMANDS = collect()
OURS = [(d, line, argv[_entry(argv):], inline) for d, line, argv, inline in COMMANDS
        if _entry(argv)]


def test_the_documents_give_commands():
    assert len(OURS) >= 40 and {str(d) for d, _, _, _ in OURS} >= {
        "README.md", "docs/vtuber.md", "obs-plugin/README.md", "unity-package/README.md"}


@pytest.mark.parametrize("doc,line,argv,inline", OURS, ids=[f"{d}:{' '.join(a)[:50]}"
                                                           for d, _, a, _ in OURS])
def test_each_vasa_bridge_command_parses(doc, line, argv, inline):
    if any("..." in t or "…" in t for t in argv):
        pytest.skip("elided (...)")
    argv = [re.sub(CAPS, r"\1x", t) for t in argv]  # NAME, CORPUS: any value; flags checked
    if inline and argv and not argv[0].startswith("-") and argv[0] not in _subcommands():
        pytest.skip("prose, not a command (e.g. a version string)")
    err = io.StringIO()
    parser = cli.build_parser()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(argv)
    except SystemExit as e:
        named_only = inline and "the following arguments are required" in err.getvalue()
        if e.code != 0 and not named_only:  # --help and --version exit 0
            pytest.fail(f"{doc}: `{line}` does not parse: {err.getvalue().strip()}")


def _subcommands():
    parser = cli.build_parser()
    return set(next(a for a in parser._actions if a.dest == "command").choices)


def _build_output(path):
    """Build outputs (git-ignored folders such as obs-plugin/build) appear when built."""
    return any(subprocess.run(["git", "check-ignore", "-q", p], cwd=ROOT).returncode == 0
               for p in (path, path.rstrip("/") + "/x"))  # "x" under an ignored folder


def test_every_repository_file_a_command_names_exists():
    missing = []
    for doc, line, argv, _ in COMMANDS:
        for i, tok in enumerate(argv):
            path = _repo_path(tok)
            written = i > 0 and argv[i - 1] in {"-o", "--output", "--out"}
            if path and not written and not (ROOT / path).exists() and not _build_output(path):
                missing.append(f"{doc}: `{line}` names {path}")
    assert not missing, "\n".join(missing)


@pytest.mark.slow
def test_the_safe_commands_run():
    runs = sorted({tuple(argv) for _, _, argv, _ in OURS
                   if any(s <= set(argv) for s in SAFE) and not any(map(_placeholder, argv))})
    assert runs, "no documented --help/doctor command"
    for argv in runs:
        r = subprocess.run([sys.executable, "-m", "vasa_bridge.cli", *argv], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"`vasa-bridge {' '.join(argv)}`: {r.stderr[-500:]}"


def test_documented_scripts_exist():
    missing = []
    for doc, line, argv, _ in COMMANDS:
        prog = argv[0]
        if prog in {"python", "python3", ".venv/bin/python", "bash", "sh"} and len(argv) > 1:
            prog = argv[1]
        if re.search(r"\.(py|sh)$", prog) and not _placeholder(prog) and \
                not (ROOT / prog).exists():
            missing.append(f"{doc}: `{line}` runs {prog}")
    assert not missing, "\n".join(missing)


def test_commands_use_the_installed_entry_point():
    """`vasa-bridge` is what `pip install` puts on the PATH; `python -m vasa_bridge.cli` only
    works from a checkout's root."""
    odd = [f"{d}: `{line}`" for d, line, argv, _ in COMMANDS if "vasa_bridge.cli" in argv]
    assert not odd, "\n".join(odd)
