"""analyzer: offline diagnosis of Exchange 4.0-5.5 / Windows service failures from customer artefacts.

Public notebook API (everything else is internal)::

    import analyzer
    events = analyzer.read_events("AppEvent.Evt")   # pandas.DataFrame, one row per event
    for event in analyzer.iter_events("AppEvent.Evt", ids=[1023]): ...
    reg = analyzer.read_registry("SYSTEM")          # Registry: .value(path, name), .key(), .walk(), .to_frame()
    dx = analyzer.diagnose("cases/1234/")            # Diagnosis: .findings, .dns_to_add, .to_json()
    summary = analyzer.triage(["archive/"], jobs=4)   # pandas.DataFrame, one row per case
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "diagnose", "iter_events", "read_events", "read_registry", "triage"]


def iter_events(*args: Any, **kwargs: Any) -> Any:
    """Stream ``Event`` objects from .evt/.evtx/text exports (filters: ids, sources, types, since, until)."""
    from analyzer.events import iter_events as _impl

    return _impl(*args, **kwargs)


def read_events(*args: Any, **kwargs: Any) -> Any:
    """Read events into a pandas DataFrame (same filters as ``iter_events``)."""
    from analyzer.events import read_events as _impl

    return _impl(*args, **kwargs)


def read_registry(*args: Any, **kwargs: Any) -> Any:
    """Read a hive, .reg, regedt32 text or reg query export into a ``Registry`` view."""
    from analyzer.registry import read_registry as _impl

    return _impl(*args, **kwargs)


def diagnose(*args: Any, **kwargs: Any) -> Any:
    """Diagnose one case (path or list of paths: files, folders, .zip) -> ``Diagnosis``."""
    from analyzer.diagnosis import diagnose as _impl

    return _impl(*args, **kwargs)


def triage(*args: Any, **kwargs: Any) -> Any:
    """Diagnose every case under the given roots -> summary DataFrame (one row per case)."""
    from analyzer.triage import triage as _impl

    return _impl(*args, **kwargs)
