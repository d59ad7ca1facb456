"""Parse: a partner's bytes (CSV in any of its encodings and delimiters, Excel) read into its canonical
layout (``layouts``), in a sandboxed subprocess with limits (``sandbox``): ``reader`` (with ``csv_reader`` and
``xlsx_reader``, into a ``table`` of texts), ``convert`` (with the per-value rules of ``values``), ``files``
(both, for a whole file), ``issues`` (what parsing reports).

Problems are reported as :class:`issues.Issue` objects with Dutch messages a partner's clerk understands.
A message never quotes the value of an identifier column (names, birth dates, addresses, BSN):
only its row number and column header.

A month brings close to two million rows, so the work is done in bulk where that provably gives the
result of the per-value rules (:func:`values.parse_date`, :func:`values.parse_decimal`, ...), and by those rules
everywhere else:

* CSV: pyarrow's reader, which refuses a record of another width than the first; such a file (or any
  file it refuses) is read again by :mod:`csv`, which names the ragged rows.
* .xlsx: calamine, its cell values read as openpyxl gave them (the rules and messages were written
  against those); openpyxl still reads a workbook with cells calamine reads differently (error cells
  such as #N/A, texts of only whitespace: see ``xlsx_reader._scan_xlsx``).
* Converting: the texts of the common shapes (``Jansen``, ``1.234,56``, ``31-10-2026``) a column at
  a time; every other value once per distinct value, through the per-value rules.
"""
