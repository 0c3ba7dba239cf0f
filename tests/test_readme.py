"""The README's data dictionary is the schema's, word for word."""

from pathlib import Path

from ice287g.schema import describe

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_data_dictionary_matches_the_schema():
    text = README.read_text()
    start = text.index("<!-- data-dictionary:start -->") + len("<!-- data-dictionary:start -->")
    end = text.index("<!-- data-dictionary:end -->")
    assert text[start:end].strip() == describe().strip()


def test_readme_documents_every_cli_command():
    """Each command (and each subcommand of a group) appears as a code span: `name ...`."""
    import re

    import click

    from ice287g.cli import main

    text = README.read_text()
    paths = []
    for name, cmd in main.commands.items():
        if isinstance(cmd, click.Group):
            paths += [f"{name} {sub}" for sub in cmd.commands]
        else:
            paths.append(name)
    missing = [p for p in paths if not re.search(rf"`(ice287g )?{re.escape(p)}[ `]", text)]
    assert missing == []


def runnable_examples(text: str) -> list[tuple[list[str], list[str]]]:
    """(command words, expected output lines) of every ``$ ice287g ...`` line in the fenced
    blocks that follow a ``<!-- readme-run -->`` marker."""
    import re
    import shlex

    examples = []
    for block in re.findall(r"<!-- readme-run -->\s*```\w*\n(.*?)```", text, flags=re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, *output = chunk.splitlines()
            words = shlex.split(command)
            assert words[0] == "ice287g", command
            examples.append((words[1:], output))
    return examples


def normalized(lines) -> list[str]:
    """Lines without trailing space and runs of spaces (column widths), blank ones dropped."""
    return [" ".join(line.split()) for line in lines if line.strip()]


def test_readme_first_five_minutes_works_when_pasted():
    text = README.read_text()
    start = text.index("## First five minutes")
    section = text[start : text.index("\n## ", start + 1)]
    for step in ("make backfill", ". .venv/bin/activate", ".venv/bin/ice287g"):
        assert step in section
    assert len(runnable_examples(section)) == 3


def test_readme_examples_print_what_they_show(corpus_scratch):
    """Each runnable example, run against the whole corpus at COLUMNS=100, prints its block
    (on the session's writable copy: history examples write their caches)."""
    from click.testing import CliRunner

    from ice287g.cli import main

    data = corpus_scratch
    examples = runnable_examples(README.read_text())
    assert len(examples) >= 3
    for args, expected in examples:
        result = CliRunner().invoke(main, ["--data-dir", str(data), *args], env={"COLUMNS": "100"})
        assert result.exit_code == 0, (args, result.output)
        assert normalized(result.stdout.splitlines()) == normalized(expected), args
