"""Text bound for a CSV file that organisers open in a spreadsheet."""

# Cells a spreadsheet may run as a formula: =, +, - or @ first, or those after a leading tab
# or carriage return (OWASP, "CSV Injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    """The text, shown as text: a leading quote keeps a formula from running."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
