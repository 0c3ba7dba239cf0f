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
