"""Build hook for the optional C extensions; the project's metadata lives in pyproject.toml.

Two optional C extensions, both for reading big .evtx logs:
- ``analyzer.readers._chunkscan``, a native translation of ``analyzer/readers/chunkscan.py`` (the per-record
  passes over .evtx chunks);
- ``analyzer.readers._crc32``, the chunk CRC-32 with carry-less multiplication (``analyzer/readers/crc.py``).
Where no C compiler exists the install goes on without them, and the Python code gives the same answers.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("analyzer.readers._chunkscan", ["analyzer/readers/_chunkscan.c"], optional=True),
        Extension("analyzer.readers._crc32", ["analyzer/readers/_crc32.c"], optional=True),
    ],
)
