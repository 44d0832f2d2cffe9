"""Fills usher's import template in a running LibreOffice, as a person would,
and saves it as people.xlsx. See README.md for how to run it."""

import sys
import time

import uno
from com.sun.star.beans import PropertyValue
from com.sun.star.connection import NoConnectException


def prop(name, value):
    p = PropertyValue()
    p.Name = name
    p.Value = value
    return p


def main(template, out, pipe):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    for attempt in range(60):  # LibreOffice takes a few seconds to listen
        try:
            ctx = resolver.resolve("uno:pipe,name=%s;urp;StarOffice.ComponentContext" % pipe)
            break
        except NoConnectException:
            time.sleep(0.5)
    else:
        raise SystemExit("no LibreOffice listens on the pipe %s" % pipe)
    desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(template), "_blank", 0, (prop("Hidden", True),))
    sheets = doc.Sheets
    people = sheets.getByName("People")

    # What a person types: text goes in as typed (setFormula parses it as
    # Calc parses typing), a number typed into a cell whose text format was
    # lost is a number (setValue).
    typed = [
        # row 2: replaces the template's example row; accented names
        ["Jürgen", "Müller", "jurgen@example.com", "+49 170 1234567", "", "Partner Ltd", "Sales", "Driver", "Staff", "Basic", "Night shift", "Day shift", "de"],
        # row 3: trailing spaces, catalogue names in another case
        ["Zoë  ", "Größe ", "zoe@example.com ", "", "", "", "sales", "DRIVER", "staff", "", "", "", "fr"],
        # row 4: the phone typed as a number
        ["Piet", "Pot", "piet@example.com", None, "", "", "Sales", "Driver", "Staff", "", "", "", "nl"],
        # row 5: a date in the external ID
        ["Dora", "Dean", "dora@example.com", "", "", "", "Sales", "Driver", "Staff", "", "", "", "en", None],
        # row 6: formulas: the email built from the names, a number for the external ID
        ["Karin", "Lund", '=LOWER(A6&"."&B6&"@example.com")', "", "", "", "Sales", "Driver", "Staff", "", "", "", "sv", "=1000+234"],
        # rows 7 and 8: the same email, in another case
        ["Lars", "Holm", "lars@example.com", "", "", "", "Sales", "Driver", "Staff", "", "", "", "nb"],
        ["Lara", "Holm", "LARS@example.com", "", "", "", "Sales", "Driver", "Staff", "", "", "", "nb"],
        # row 9: a department the tenant does not have; letters and the
        # apostrophe that Windows-1252 has and ISO-8859-1 does not
        ["Šárka", "O’Neill", "sarka@example.com", "", "", "", "Marketing", "Driver", "Staff", "", "", "", "en"],
        # row 10: two groups in one cell, a line break between them
        ["Noor", "de Vries", "noor@example.com", "", "noor", "", "Sales", "Driver", "Staff", "", "Day shift", "Day shift\nNight shift", "nl"],
    ]
    for i, cells in enumerate(typed):
        for j, v in enumerate(cells):
            if v is None or v == "":
                continue
            people.getCellByPosition(j, i + 1).setFormula(v)
    people.getCellByPosition(3, 3).setValue(47123456780.0)  # D4
    nf = doc.NumberFormats
    iso = nf.queryKey("YYYY-MM-DD", uno.createUnoStruct("com.sun.star.lang.Locale"), False)
    if iso < 0:
        iso = nf.addNew("YYYY-MM-DD", uno.createUnoStruct("com.sun.star.lang.Locale"))
    date = people.getCellByPosition(13, 4)  # N5
    date.setValue(45352.0)  # 2024-03-01
    date.NumberFormat = iso

    # Row 10's last name in two styles: rich text, kept as runs.
    name = people.getCellByPosition(1, 9)
    cursor = name.createTextCursor()
    cursor.gotoStart(False)
    cursor.goRight(3, False)
    cursor.gotoEnd(True)
    cursor.CharWeight = 150.0  # bold: "Vries"

    # An empty row at the end: spaces in a cell, and cells with a colour.
    people.getCellByPosition(0, 11).setString("   ")
    people.getCellRangeByName("A12:O12").CellBackColor = 0xFFFF00

    # A hidden sheet of old data after the people, which must not be read.
    # (LibreOffice 7.4 writes the first sheet of an XLSX as visible even when
    # it is hidden, so a hidden sheet cannot come first.)
    sheets.insertNewByName("Old", 1)
    old = sheets.getByName("Old")
    old.getCellByPosition(0, 0).setString("Shoe size")
    old.getCellByPosition(0, 1).setValue(44.0)
    old.IsVisible = False

    doc.storeToURL(uno.systemPathToFileUrl(out), (prop("FilterName", "Calc MS Excel 2007 XML"),))
    doc.close(True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "usherfixtures")
