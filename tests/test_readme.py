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
    from ice287g.cli import main

    text = README.read_text()
    missing = [name for name in main.commands if f"`{name}" not in text]
    assert missing == []
