"""Khmer formats for the back office (FORMAT_MODULE_PATH), over Django's own `km` ones.

Month and day names come from Django's Khmer catalog (មករា … ធ្នូ). Numbers are grouped with commas and use a
decimal point, as Cambodian receipts and banks write them (`៛40,000`, `$10.50`); Django's `km` locale has the
reverse, which would print 40.000 next to a receipt's 40,000. Days are written day/month/year.
"""

DATE_FORMAT = "j F Y"  # 5 ធ្នូ 2026
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j F Y, H:i"
YEAR_MONTH_FORMAT = "F Y"
MONTH_DAY_FORMAT = "j F"
SHORT_DATE_FORMAT = "d/m/Y"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
FIRST_DAY_OF_WEEK = 1  # Monday

# Dates staff type: ISO first (what the date pickers send), then day/month/year.
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y"]
DATETIME_INPUT_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d"]

DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
