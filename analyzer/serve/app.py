"""Routes: the HTML pages (server-rendered, usable without JavaScript) and the JSON API beside each.

Every page has a JSON twin under ``/api/``; ``/openapi.json`` describes them (``api.py``).  Handlers
only read the database and files and queue work: the diagnosis runs in ``worker.py``.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from analyzer.serve import api
from analyzer.serve.config import ServeConfig
from analyzer.serve.security import (
    REPORT_CSP,
    SESSION_COOKIE,
    SecurityMiddleware,
    csrf_ok,
    csrf_token,
    session_value,
    set_cookie,
)
from analyzer.serve.store import STATUSES, Store, new_id
from analyzer.serve.triage_runs import TriageRuns
from analyzer.serve.uploads import UploadError, receive_files
from analyzer.serve.worker import Worker
from analyzer.verify import render_text as render_verify_text

STATIC = Path(__file__).with_name("static")
STATIC_FILES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
DOWNLOADS = {
    "patch.reg": "application/octet-stream",
    "rollback.reg": "application/octet-stream",
    "diagnosis.json": "application/json",
    "verify.json": "application/json",
}


#: The ``server`` filter's value for cases whose server nothing in the evidence names (shown as "—").
UNKNOWN_SERVER = "-"

#: Per-server patches of a case with several servers: patch-<n>.reg / rollback-<n>.reg (n = the server's place).
SERVER_PATCH = re.compile(r"(?:patch|rollback)-[0-9]{1,3}\.reg")


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else ""


def create_app(config: ServeConfig) -> Starlette:
    """The application for ``config``; the background worker starts and stops with it."""
    store = Store(config.data)
    worker = Worker(store, config)
    runs = TriageRuns(store, config)
    env = Environment(loader=PackageLoader("analyzer.serve", "templates"), autoescape=select_autoescape(default=True))
    env.filters["when"] = _when

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(name).render(
            csrf=csrf_token(request), token_required=bool(config.token), archive=config.archive is not None, **context
        )
        return HTMLResponse(html, status_code=status_code)

    def wants_json(request: Request) -> bool:
        return "application/json" in request.headers.get("accept", "")

    def get_case(case_id: str) -> dict[str, Any]:
        case = store.get(case_id) if case_id.isalnum() else None
        if case is None:
            raise HTTPException(404, "no such case")
        return case

    def case_json(case: dict[str, Any]) -> dict[str, Any]:
        folder = store.case_dir(case["id"])
        diagnosis = None
        if case["status"] == "done" and (folder / "diagnosis.json").is_file():
            diagnosis = json.loads((folder / "diagnosis.json").read_text("utf-8"))
        out = {
            "id": case["id"],
            "status": case["status"],
            "diagnosis": diagnosis,
            "kind": case["kind"],
            "files": [{"name": f["name"], "size": f["size"]} for f in case["files"]],
            "created": case["created"],
            "finished": case["finished"],
            "verdict": case["verdict"],
            "needs_action": case["needs_action"],
            "servers": _split(case["servers"]),
            "rules": _split(case["rules"]),
            "dns_to_add": _split(case["dns"]),
            "error": case["error"],
            "downloads": {n: f"/cases/{case['id']}/{n}" for n in DOWNLOADS if (folder / n).is_file()},
            "server_patches": [
                {
                    "server": str(server.get("server")),
                    "patch": f"/cases/{case['id']}/patch-{n}.reg",
                    "rollback": f"/cases/{case['id']}/rollback-{n}.reg",
                }
                for n, server in enumerate((diagnosis or {}).get("servers") or [], start=1)
                if (folder / f"patch-{n}.reg").is_file()
            ],
        }
        if case["kind"] == "verify":
            out["parent"] = case["parent"]
            verified = folder / "verify.json"
            out["verify"] = json.loads(verified.read_text("utf-8")) if verified.is_file() else None
        else:
            out["verifications"] = [v["id"] for v in store.verifications(case["id"])]
        return out

    async def accept_upload(request: Request, *, kind: str = "case", parent: str | None = None) -> str:
        case_id = new_id()
        folder = store.evidence_dir(case_id)
        try:
            upload = await receive_files(
                request.headers, request.stream(), folder, max_bytes=config.max_upload, max_files=config.max_files
            )
        except UploadError:
            with contextlib.suppress(OSError):
                folder.rmdir()
                folder.parent.rmdir()
            raise
        if request.url.path.startswith("/api/") is False and not csrf_ok(request, upload.fields.get("csrf")):
            upload.discard()
            folder.rmdir()
            folder.parent.rmdir()
            raise UploadError(403, "the form's CSRF token is missing or wrong: reload the page and try again")
        store.add_case(case_id, upload.files, kind=kind, parent=parent)
        worker.wake()
        return case_id

    async def form_csrf(request: Request) -> dict[str, str]:
        form = await request.form(max_files=0, max_fields=10)
        fields = {k: str(v) for k, v in form.items()}
        if not csrf_ok(request, fields.get("csrf")):
            raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page and try again")
        return fields

    # ------------------------------------------------------------------ pages

    async def home(request: Request) -> Response:
        return page(request, "upload.html", limit=config.max_upload)

    async def upload_form(request: Request) -> Response:
        try:
            case_id = await accept_upload(request)
        except UploadError as exc:
            if wants_json(request):
                return JSONResponse({"error": str(exc)}, status_code=exc.status)
            return page(request, "upload.html", status_code=exc.status, limit=config.max_upload, error=str(exc))
        if wants_json(request):
            return JSONResponse({"id": case_id, "url": f"/cases/{case_id}"}, status_code=202)
        return RedirectResponse(f"/cases/{case_id}", status_code=303)

    async def case_list(request: Request) -> Response:
        q = request.query_params.get("q", "")[:200]
        status = request.query_params.get("status", "")
        if status and status not in STATUSES:
            status = ""
        server = request.query_params.get("server", "")[:200]
        return page(
            request,
            "list.html",
            cases=store.list_cases(q=q, status=status, server=_server_filter(server)),
            q=q,
            status=status,
            statuses=STATUSES,
            server=server,
            servers=store.servers(),
            unknown=UNKNOWN_SERVER,
        )

    async def case_page(request: Request) -> Response:
        case = get_case(request.path_params["case_id"])
        info = case_json(case)
        verifications = [case_json(v) for v in store.verifications(case["id"])] if case["kind"] == "case" else []
        verified = (info.get("verify") or {}).get("result")
        lines = render_verify_text(verified) if verified else []
        return page(request, "case.html", case=case, info=info, verifications=verifications, verify_lines=lines)

    async def report(request: Request) -> Response:
        case = get_case(request.path_params["case_id"])
        path = store.case_dir(case["id"]) / "report.html"
        if case["status"] != "done" or not path.is_file():
            raise HTTPException(404, "no report yet")
        return FileResponse(
            path, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": REPORT_CSP}
        )

    async def download(request: Request) -> Response:
        case = get_case(request.path_params["case_id"])
        name = request.path_params["name"]
        media = DOWNLOADS.get(name) or ("application/octet-stream" if SERVER_PATCH.fullmatch(name) else None)
        if media is None:
            raise HTTPException(404, "no such file")
        path = store.case_dir(case["id"]) / name
        if not path.is_file():
            raise HTTPException(404, "not written for this case")
        return FileResponse(path, media_type=media, filename=f"case-{case['id']}-{name}")

    async def delete_form(request: Request) -> Response:
        case = get_case(request.path_params["case_id"])
        await form_csrf(request)
        store.delete(case["id"], who=request.client.host if request.client else "")
        return RedirectResponse("/cases", status_code=303)

    async def verify_form(request: Request) -> Response:
        case = get_case(request.path_params["case_id"])
        if case["kind"] != "case":
            raise HTTPException(400, "verify the case itself, not a verification")
        try:
            await accept_upload(request, kind="verify", parent=case["id"])
        except UploadError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        return RedirectResponse(f"/cases/{case['id']}", status_code=303)

    async def triage_page(request: Request) -> Response:
        return page(request, "triage.html", runs=store.runs(), archive_path=config.archive)

    async def triage_start(request: Request) -> Response:
        await form_csrf(request)
        try:
            run_id = runs.start()
        except RuntimeError as exc:
            return page(request, "triage.html", status_code=409, runs=store.runs(), error=str(exc))
        return RedirectResponse(f"/triage/{run_id}", status_code=303)

    def get_run(run_id: str) -> dict[str, Any]:
        run = runs.status(run_id) if run_id.isalnum() else None
        if run is None:
            raise HTTPException(404, "no such triage run")
        return run

    async def triage_run_page(request: Request) -> Response:
        return page(request, "triage_run.html", run=get_run(request.path_params["run_id"]))

    async def triage_download(request: Request) -> Response:
        run = get_run(request.path_params["run_id"])
        name = request.path_params["name"]
        types = {"summary.csv": "text/csv; charset=utf-8", "summary.parquet": "application/vnd.apache.parquet"}
        path = runs.folder(run["id"]) / name
        if name not in types or not path.is_file():
            raise HTTPException(404, "no such file")
        return FileResponse(path, media_type=types[name], filename=f"triage-{run['id']}-{name}")

    async def login_page(request: Request) -> Response:
        return page(request, "login.html")

    async def login(request: Request) -> Response:
        fields = await form_csrf(request)
        if not config.token:
            return RedirectResponse("/", status_code=303)
        if not hmac.compare_digest(fields.get("token", "").encode("utf-8"), config.token.encode("utf-8")):
            return page(request, "login.html", status_code=401, error="wrong token")
        response = RedirectResponse("/", status_code=303)
        set_cookie(response, request, SESSION_COOKIE, session_value(config.token), always_secure=config.secure_cookies)
        return response

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            raise HTTPException(404, "not found")
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name])

    # ------------------------------------------------------------------ JSON API

    async def api_upload(request: Request) -> Response:
        try:
            case_id = await accept_upload(request)
        except UploadError as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        return JSONResponse({"id": case_id}, status_code=202)

    async def api_list(request: Request) -> Response:
        status = request.query_params.get("status", "")
        if status and status not in STATUSES:
            return JSONResponse({"error": f"status is one of {', '.join(STATUSES)}"}, status_code=400)
        server = _server_filter(request.query_params.get("server", "")[:200])
        cases = store.list_cases(q=request.query_params.get("q", "")[:200], status=status, server=server)
        return JSONResponse({"cases": [_row(c) for c in cases]})

    async def api_case(request: Request) -> Response:
        return JSONResponse(case_json(get_case(request.path_params["case_id"])))

    async def api_delete(request: Request) -> Response:
        case = get_case(request.path_params["case_id"])
        store.delete(case["id"], who=request.client.host if request.client else "")
        return JSONResponse({"deleted": case["id"]})

    async def api_verify(request: Request) -> Response:
        case = get_case(request.path_params["case_id"])
        if case["kind"] != "case":
            return JSONResponse({"error": "verify the case itself, not a verification"}, status_code=400)
        try:
            vid = await accept_upload(request, kind="verify", parent=case["id"])
        except UploadError as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        return JSONResponse({"id": vid}, status_code=202)

    async def api_triage_list(request: Request) -> Response:
        listed = [{k: v for k, v in r.items() if k != "archive"} for r in store.runs()]
        return JSONResponse({"archive": config.archive is not None, "runs": listed})

    async def api_triage_start(request: Request) -> Response:
        try:
            run_id = runs.start()
        except RuntimeError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse({"id": run_id}, status_code=202)

    async def api_triage_run(request: Request) -> Response:
        return JSONResponse(get_run(request.path_params["run_id"]))

    async def openapi(request: Request) -> Response:
        return JSONResponse(api.document())

    async def error_page(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if request.url.path.startswith("/api/") or wants_json(request):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        return page(request, "error.html", status_code=exc.status_code, message=exc.detail)

    routes = [
        Route("/", home),
        Route("/cases", case_list, methods=["GET"]),
        Route("/cases", upload_form, methods=["POST"]),
        Route("/cases/{case_id}", case_page),
        Route("/cases/{case_id}/report", report),
        Route("/cases/{case_id}/delete", delete_form, methods=["POST"]),
        Route("/cases/{case_id}/verify", verify_form, methods=["POST"]),
        Route("/cases/{case_id}/{name}", download),
        Route("/triage", triage_page, methods=["GET"]),
        Route("/triage", triage_start, methods=["POST"]),
        Route("/triage/{run_id}", triage_run_page),
        Route("/triage/{run_id}/{name}", triage_download),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/static/{name}", static),
        Route("/openapi.json", openapi),
        Route("/api/cases", api_list, methods=["GET"]),
        Route("/api/cases", api_upload, methods=["POST"]),
        Route("/api/cases/{case_id}", api_case, methods=["GET"]),
        Route("/api/cases/{case_id}", api_delete, methods=["DELETE"]),
        Route("/api/cases/{case_id}/verify", api_verify, methods=["POST"]),
        Route("/api/triage", api_triage_list, methods=["GET"]),
        Route("/api/triage", api_triage_start, methods=["POST"]),
        Route("/api/triage/{run_id}", api_triage_run, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if config.start_worker:
            worker.start()
            runs.resume_unfinished()
        try:
            yield
        finally:
            if config.start_worker:
                runs.stop()
                worker.stop()

    app = Starlette(routes=routes, exception_handlers={HTTPException: error_page}, lifespan=lifespan)
    app.add_middleware(SecurityMiddleware, token=config.token, secure_cookies=config.secure_cookies)
    app.state.store = store
    app.state.worker = worker
    app.state.runs = runs
    return app


def _server_filter(value: str) -> str | None:
    """The ``server`` query parameter: empty for any server, ``-`` for the cases whose server is unknown."""
    if not value:
        return None
    return "" if value == UNKNOWN_SERVER else value


def _split(text: str | None) -> list[str]:
    return [p for p in (text or "").split("; ") if p]


def _row(case: dict[str, Any]) -> dict[str, Any]:
    """One case of the list (JSON)."""
    return {
        "id": case["id"],
        "status": case["status"],
        "files": [f["name"] for f in case["files"]],
        "created": case["created"],
        "verdict": case["verdict"],
        "needs_action": case["needs_action"],
        "servers": _split(case["servers"]),
        "rules": _split(case["rules"]),
        "dns_to_add": _split(case["dns"]),
        "error": case["error"],
    }
