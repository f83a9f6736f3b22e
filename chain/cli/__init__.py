"""The ``modelgov`` command line: parse, call the library, render."""
