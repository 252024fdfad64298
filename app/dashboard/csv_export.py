"""CSV downloads of the dashboard's lists, safe to open in a spreadsheet.

A cell that starts with = + - @ (or a tab or carriage return) is a formula to Excel, LibreOffice and
Google Sheets: a client named `=HYPERLINK(…)` would run on the desk's computer. Such cells get a
leading apostrophe, which spreadsheets read as "this is text" (OWASP's advice on CSV injection); a
phone number shows as '+447700900123, which is the price of never running one.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date

from flask import make_response

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str | int:
    """`value` as a cell: numbers as they are, None empty, text that would be a formula made text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence], *, today: date):
    """A download named `<name>-<today>.csv` (UTF-8 with a byte-order mark, so Excel reads the
    accents right), every cell through safe_cell."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    response = make_response(buffer.getvalue())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    filename = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "export"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}-{today.isoformat()}.csv"'
    return response
