"""analyzer: offline diagnosis of Exchange 4.0-5.5 / Windows service failures from customer artefacts.

Public notebook API (everything else is internal)::

    import analyzer
    events = analyzer.read_events("AppEvent.Evt")   # pandas.DataFrame, one row per event
    for event in analyzer.iter_events("AppEvent.Evt", ids=[1023]): ...
    reg = analyzer.read_registry("SYSTEM")          # Registry: .value(path, name), .key(), .walk(), .to_frame()
    dx = analyzer.diagnose("cases/1234/")            # Diagnosis: .findings, .dns_to_add, .to_json()
    summary = analyzer.triage(["archive/"], jobs=4)   # pandas.DataFrame, one row per case
    frame = analyzer.timeline(dx)                    # pandas.DataFrame: what happened when, per server
    fig = analyzer.plot_timeline(frame)              # matplotlib Figure (the [notebook] extra)

The functions below carry the real signatures (``help(analyzer.diagnose)`` and tab completion show
every option); each imports its implementation when first called, so that ``import analyzer`` stays
cheap in a notebook (the readers, the rules and pandas load only when used).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from analyzer.model import ignore_warning

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas as pd
    from matplotlib.figure import Figure

    from analyzer.case import ReadProgress
    from analyzer.diagnosis import Diagnosis
    from analyzer.limits import CaseLimits, ReadLimits
    from analyzer.model import Event, EventType, WarningSink
    from analyzer.registry import Registry
    from analyzer.triage.budget import CaseClock
    from analyzer.triage.cases import CaseFunction

__version__ = "0.1.0"
__all__ = [
    "__version__",
    "diagnose",
    "iter_events",
    "plot_timeline",
    "read_events",
    "read_registry",
    "timeline",
    "triage",
]


def iter_events(
    paths: str | Iterable[str],
    *,
    ids: Iterable[int] = (),
    sources: Iterable[str] = (),
    types: Iterable[EventType | str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    warn: WarningSink | None = None,
    evtx_backend: str | None = None,
    tz: tzinfo | None = None,
    encoding: str | None = None,
    on_error: WarningSink | None = None,
    limits: ReadLimits | None = None,
    language: str | None = None,
) -> Iterator[Event]:
    """Stream ``Event`` objects from .evt, .evtx, Event Viewer text/CSV and DUMPEL files, one at a time.

    ``ids``/``sources``/``types``/``since``/``until`` keep only matching events (the readers skip the
    others before decoding them).  ``warn`` receives each ``ReadWarning`` (damaged records: every
    readable record is still yielded); ``on_error`` makes an unreadable file a warning instead of an
    ``InputError``.  ``tz`` is the zone of local times in text exports; ``encoding`` their code page;
    ``evtx_backend`` picks the .evtx parser; ``limits`` bounds file size, records and strings;
    ``language`` names the language of localised text exports (default: detected).
    """
    from analyzer.events import iter_events as impl

    return impl(
        paths,
        ids=ids,
        sources=sources,
        types=types,
        since=since,
        until=until,
        warn=warn or ignore_warning,
        evtx_backend=evtx_backend,
        tz=tz,
        encoding=encoding,
        on_error=on_error,
        limits=limits,
        language=language,
    )


def read_events(
    paths: str | Iterable[str],
    *,
    ids: Iterable[int] = (),
    sources: Iterable[str] = (),
    types: Iterable[EventType | str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    warn: WarningSink | None = None,
    evtx_backend: str | None = None,
    tz: tzinfo | None = None,
    encoding: str | None = None,
    on_error: WarningSink | None = None,
    limits: ReadLimits | None = None,
    language: str | None = None,
) -> pd.DataFrame:
    """Read events into a pandas DataFrame, one row per event (options as ``iter_events``).

    Columns: path, log, record, offset, time_generated, time_written, event_id, event_id_full, type,
    category, source, computer, sid, strings, message, recovered.
    """
    from analyzer.events import events_frame

    return events_frame(
        iter_events(
            paths,
            ids=ids,
            sources=sources,
            types=types,
            since=since,
            until=until,
            warn=warn,
            evtx_backend=evtx_backend,
            tz=tz,
            encoding=encoding,
            on_error=on_error,
            limits=limits,
            language=language,
        )
    )


def read_registry(
    path: str,
    *,
    encoding: str | None = None,
    warn: WarningSink | None = None,
    fmt: str | None = None,
    limits: ReadLimits | None = None,
) -> Registry:
    """Read a binary hive, .reg file, Regedt32 text or ``reg query`` export into a ``Registry`` view.

    The format is recognised from the content unless ``fmt`` names it; ``encoding`` overrides the
    text exports' code page; ``warn`` receives each ``ReadWarning``; ``limits`` bounds the file size.
    Raises ``InputError`` (one line naming the file and the problem) when the file cannot be used.
    """
    from analyzer.registry import read_registry as impl

    return impl(path, encoding=encoding, warn=warn, fmt=fmt, limits=limits)


def diagnose(
    paths: str | Sequence[str],
    *,
    tz: tzinfo | None = None,
    evtx_backend: str | None = None,
    encoding: str | None = None,
    reg_version: int | str | None = None,
    read_limits: ReadLimits | None = None,
    case_limits: CaseLimits | None = None,
    language: str | None = None,
    replace_near_misses: bool = False,
    one_case: bool = False,
    progress: ReadProgress | None = None,
) -> Diagnosis:
    """Diagnose one case: files, folders and/or .zip archives that belong to one problem.

    Returns a ``Diagnosis`` (``.verdict``, ``.dns_to_add``, ``.findings`` as a DataFrame,
    ``.remediation``, ``.to_json()``/``.to_markdown()``, an HTML view in Jupyter).  A case with several
    servers has ``.servers`` (one diagnosis per server, each with its own patch).  ``reg_version``
    (4 or 5) forces the REGEDIT version of the patch; ``read_limits``/``case_limits`` bound each file
    and the archives of the case; ``language`` names the language of localised text exports.  The patch
    keeps every current entry; ``replace_near_misses`` lets it replace a probably mistyped one instead.
    Raises ``InputError`` when no path exists, and ``ManyCasesError`` (an ``InputError``) when one folder
    given holds several separate cases, unless ``one_case``.  ``progress(done, total)`` is called as the
    case's bytes are read (e.g. to move a progress bar).
    """
    from analyzer.diagnosis import diagnose as impl

    return impl(
        paths,
        tz=tz,
        evtx_backend=evtx_backend,
        encoding=encoding,
        reg_version=reg_version,
        read_limits=read_limits,
        case_limits=case_limits,
        language=language,
        replace_near_misses=replace_near_misses,
        one_case=one_case,
        progress=progress,
    )


def triage(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str] | None = None,
    jobs: int | None = None,
    engine: str = "local",
    *,
    resume: bool = False,
    scheduler: str | None = None,
    case_timeout: float | None = 600.0,
    memory_limit: int | None = 3 << 30,
    limits: CaseLimits | None = None,
    progress: str = "none",
    kill_grace: float = 10.0,
    case_function: CaseFunction | None = None,
    clock: CaseClock | None = None,
    on_case: Callable[[dict[str, Any], bool], None] | None = None,
    tz: tzinfo | None = None,
    evtx_backend: str | None = None,
    encoding: str | None = None,
    reg_version: int | str | None = None,
    read_limits: ReadLimits | None = None,
    language: str | None = None,
    replace_near_misses: bool = False,
) -> pd.DataFrame:
    """Diagnose every case (each immediate sub-folder or .zip) under ``paths``: one summary row per case.

    ``out`` receives cases/<case>.json, summary.csv and summary.parquet (None: only the DataFrame is
    kept).  ``jobs`` worker processes (default: one per CPU) on the ``local`` pool or ``dask``
    (``scheduler`` address); ``resume`` skips cases whose inputs did not change since the JSON in
    ``out``.  A case that runs longer than ``case_timeout`` seconds or needs more than ``memory_limit``
    bytes becomes an error row, never the end of the run (``clock``: what measures the time limits,
    default the wall clock).  ``progress``: "bar", "log" or "none"; ``on_case(row, resumed)`` is called
    with each summary row as its case is recorded (an exception it raises stops the run; ``resume`` goes on).
    ``tz`` … ``replace_near_misses`` are passed to the diagnosis of each case (as ``diagnose``).
    """
    from analyzer.triage import triage as impl

    # Loading the ``analyzer.triage`` package binds that name to the package (callable, but with a
    # ``*args, **kwargs`` signature): put this typed function back so help() and completion keep it.
    globals()["triage"] = API["triage"]
    given = {
        "tz": tz,
        "evtx_backend": evtx_backend,
        "encoding": encoding,
        "reg_version": reg_version,
        "language": language,
    }
    options: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
    if read_limits is not None:
        options["read_limits"] = read_limits
    if replace_near_misses:
        options["replace_near_misses"] = True
    return impl(
        paths,
        out,
        jobs,
        engine,
        resume=resume,
        scheduler=scheduler,
        case_timeout=case_timeout,
        memory_limit=memory_limit,
        limits=limits,
        progress=progress,
        kill_grace=kill_grace,
        case_function=case_function,
        clock=clock,
        on_case=on_case,
        **options,
    )


def timeline(
    case: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Diagnosis | Mapping[str, Any],
) -> pd.DataFrame:
    """What happened when, per server: one row per refusal (1023), component error, service stop, start or
    failure, IS start the findings cite, plus when ``Logon Only As`` was last written and when a binary hive
    export was saved (its header's stamp; .reg and text exports record no such time).

    ``case``: a ``Diagnosis``, its ``to_dict()``, or the paths of a case (diagnosed here).  Columns: server
    (the computer the evidence names; "" when nothing names one, as for a dict of a one-server case), time
    (UTC), kind, detail, path, record, event_id, source, zone_known (False for a text export's local time,
    placed as given).  ``plot_timeline`` draws it.
    """
    from analyzer.report.timeline import exports_of, timeline_frame

    if isinstance(case, str | os.PathLike) or (isinstance(case, Sequence) and not isinstance(case, str)):
        from analyzer.case import open_case
        from analyzer.diagnosis import diagnose_case

        with open_case(case) as opened:  # hive headers are read while an archive's members still exist
            dx = diagnose_case(opened)
            return timeline_frame(dx.to_dict(), exports_of(opened.inputs), server=_only_server(dx))
    if hasattr(case, "to_dict") and hasattr(case, "inputs"):
        return timeline_frame(case.to_dict(), exports_of(case.inputs), server=_only_server(case))
    return timeline_frame(case)


def _only_server(dx: Any) -> str:
    """The name of the one server a one-server case's evidence names (its dict has no ``servers``)."""
    names = list(dict.fromkeys(getattr(dx, "server_names", None) or []))
    return str(names[0]) if len(names) == 1 else ""


def plot_timeline(frame: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Draw a ``timeline`` frame with matplotlib (the ``[notebook]`` extra): one panel per server, one row per
    kind of event it has (no empty rows), dashed lines where ``Logon Only As`` was written and a hive export
    saved, and a legend with each kind's count.  Returns the Figure (``fig.savefig(...)``; shown in Jupyter)."""
    from analyzer.report.timeline import plot_timeline as impl

    return impl(frame, title=title)


#: The public functions by name (the typed originals, whatever a later import binds to these names).
API = {f.__name__: f for f in (iter_events, read_events, read_registry, diagnose, triage, timeline, plot_timeline)}
