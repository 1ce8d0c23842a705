"""``analyzer serve``: the team's case-intake web application.

Why it is built this way:

* **Stack.** Starlette (a small, well-kept ASGI toolkit: routing, responses, a test client) + uvicorn
  (its reference server) + Jinja2 (autoescaping templates) + python-multipart (a streaming multipart
  parser, so uploads go to disk as they arrive).  FastAPI would add pydantic and generated forms the
  pages do not need; the OpenAPI document is written out in ``api.py`` next to the routes it describes.
* **Storage** is embedded so one command starts it on a fresh machine: SQLite (``store.py``, with
  numbered schema migrations) for cases and triage runs, files under ``--data`` for the evidence
  (generated names, read-only) and the derived report, JSON and .reg patches.
* **Work off the request path.** ``worker.py`` takes queued cases from the database and runs them in
  triage's worker pool (time limit, memory cap, one replaceable process per job); a restart puts
  cases that were running back in the queue, and a worker that dies turns only its case into an error.
* **Security** (``security.py``): loopback by default, a token for any other host (every request
  checked), CSRF tokens on forms, cross-site requests refused, a strict CSP, streamed size-limited
  uploads (``uploads.py``), autoescaped templates, no directory listing, logged case deletion.

Where the pieces live: ``app.py`` (routes and pages), ``api.py`` (OpenAPI document), ``store.py``,
``uploads.py``, ``worker.py``, ``jobs.py`` (what a worker process runs: a diagnosis, or ``analyzer verify``
for a case's AFTER evidence), ``triage_runs.py`` (archive triage, resumed after a restart),
``security.py``, ``config.py``; ``templates/`` and
``static/`` hold the pages and the small script that adds drag and drop, progress and copy buttons.
"""
