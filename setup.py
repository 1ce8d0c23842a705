"""Build hook for the one optional C extension; the project's metadata lives in pyproject.toml.

``analyzer.readers._chunkscan`` is a native translation of ``analyzer/readers/chunkscan.py`` (the per-record
passes over .evtx chunks).  It is optional: where no C compiler exists, the install goes on without it and
the pure-Python functions are used, with the same answers.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("analyzer.readers._chunkscan", ["analyzer/readers/_chunkscan.c"], optional=True),
    ],
)
