"""Spreadsheet-safe text: the one rule for cells a spreadsheet would run as a formula.

Excel, LibreOffice and Google Sheets treat a cell that starts with ``=``, ``+``, ``-`` or
``@`` (or a tab or carriage return before one) as a formula when they open a CSV file, and
``=HYPERLINK("http://evil…")`` in an agency cell is then a live link. Every CSV and XLSX the
project writes (``latest --format csv``, ``export``, the published site's files) passes its
text cells through ``spreadsheet_safe``, which puts a ``'`` in front (shown, not run);
``--raw`` writes the exact text. Normalization uses it too, so a clean agency or county name
never starts a formula. Stdlib only (pyarrow loaded on use): the lowest layer of the package.
"""

from __future__ import annotations

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
SAFE_PREFIX = "'"


def spreadsheet_safe(value):
    """A text cell that would start a formula gets a leading ``'``; any other value (text
    that is safe, numbers, dates, None) is returned as it is. Idempotent."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return SAFE_PREFIX + value
    return value


def spreadsheet_safe_array(array):
    """`spreadsheet_safe` applied to a pyarrow string array (the same rule, vectorized); the
    array itself when no cell needs it (the common case: only the match is paid)."""
    import re

    import pyarrow.compute as pc

    risky = pc.match_substring_regex(array, "^[" + re.escape("".join(FORMULA_PREFIXES)) + "]")
    if not pc.any(risky).as_py():
        return array
    return pc.if_else(risky, pc.binary_join_element_wise(SAFE_PREFIX, array, ""), array)


def spreadsheet_safe_table(table):
    """`spreadsheet_safe_array` applied to every text column of a pyarrow Table."""
    import pyarrow as pa

    for i, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            table = table.set_column(i, field, spreadsheet_safe_array(table.column(i)))
    return table
