"""Parse: a partner's bytes (CSV in any of its encodings and delimiters, Excel) read into its canonical layout,
in a sandboxed subprocess with limits.
"""
