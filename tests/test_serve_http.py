"""``analyzer serve`` at the HTTP level (Starlette's test client): every route, error and limit.

Cases are really diagnosed in the background worker pool; the tests wait for them with a bound,
never assert on speed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the web stack (requirements.txt) is not installed")
from starlette.testclient import TestClient

from analyzer.cli import main
from analyzer.serve.app import create_app
from analyzer.serve.store import MIGRATIONS, Store
from tests.serve_support import REPO, SAMPLES, WAIT, config, die, sample_zip, wait_for

DN = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"


def csrf_of(client: TestClient, path: str = "/") -> str:
    page = client.get(path).text
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


@pytest.fixture
def served(tmp_path: Path):
    with TestClient(create_app(config(tmp_path))) as client:
        yield client, tmp_path


def upload(client: TestClient, *paths: Path, url: str = "/api/cases", **kw):
    files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
    return client.post(url, files=files, **kw)


def cli_json(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "analyzer", "diagnose", *args, "--format", "json"],
        capture_output=True,
        check=False,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return json.loads(out.stdout)


# --------------------------------------------------------------------------- upload -> queue -> report


def test_upload_zip_is_diagnosed_like_the_cli(served, tmp_path):
    client, _ = served
    z = sample_zip(tmp_path)
    answer = upload(client, z)
    assert answer.status_code == 202
    case_id = answer.json()["id"]
    assert set(answer.json()) == {"id"}
    done = wait_for(client.get, case_id)
    assert done["status"] == "done", done
    cli = cli_json(str(z))
    assert done["diagnosis"]["dns_to_add"] == cli["dns_to_add"] == [DN]
    assert done["diagnosis"]["verdict"] == cli["verdict"]
    assert done["dns_to_add"] == [DN] and "KB306308" in done["rules"]
    # the patch and rollback are the CLI's, byte for byte
    cli_patch = tmp_path / "cli.reg"
    subprocess.run(
        [sys.executable, "-m", "analyzer", "diagnose", str(z), "--reg-patch", str(cli_patch)],
        capture_output=True,
        check=False,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    patch = client.get(f"/cases/{case_id}/patch.reg")
    assert patch.status_code == 200 and "attachment" in patch.headers["content-disposition"]
    assert patch.content == cli_patch.read_bytes()
    assert client.get(f"/cases/{case_id}/rollback.reg").content == (tmp_path / "cli-rollback.reg").read_bytes()
    # the report is the CLI's HTML report, served with its CSP
    report = client.get(f"/cases/{case_id}/report")
    assert report.status_code == 200
    assert report.headers["content-security-policy"].startswith("default-src 'none'; style-src 'unsafe-inline'")
    assert "Content-Security-Policy" in report.text and DN in report.text.replace("&#x27;", "'")
    # the served policy lets the report's one script (the DN Copy buttons) run, by the hash of that script
    served_script = re.search(r"<script>(.*?)</script>", report.text, re.S)
    assert served_script is not None
    digest = base64.b64encode(hashlib.sha256(served_script.group(1).encode("utf-8")).digest()).decode("ascii")
    assert f"script-src 'sha256-{digest}'" in report.headers["content-security-policy"]
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200 and DN in page.text and 'id="verdict"' in page.text
    assert json.loads(client.get(f"/cases/{case_id}/diagnosis.json").content)["dns_to_add"] == [DN]


def test_several_files_form_one_case(served):
    client, _ = served
    files = [p for p in sorted((SAMPLES / "nt4-kb306308").iterdir()) if p.name != "README.md"]
    case_id = upload(client, *files).json()["id"]
    done = wait_for(client.get, case_id)
    assert done["diagnosis"]["dns_to_add"] == [DN]
    assert [f["name"] for f in done["files"]] == [p.name for p in files]


def test_evidence_is_stored_read_only_under_generated_names(served, tmp_path):
    client, tmp = served
    hostile = tmp_path / "evil"
    hostile.mkdir()
    z = sample_zip(hostile, name="..%2f..%2fCUSTOMER-SECRET name.zip")
    files = [("files", ("../../CUSTOMER-SECRET name.zip", z.read_bytes(), "application/zip"))]
    case_id = client.post("/api/cases", files=files).json()["id"]
    wait_for(client.get, case_id)
    data = tmp / "data"
    all_paths = [str(p.relative_to(data)) for p in data.rglob("*")]
    assert not any("CUSTOMER" in p or ".." in p for p in all_paths)
    evidence = list((data / "cases" / case_id / "evidence").iterdir())
    assert [p.name for p in evidence] == ["f0001.zip"]
    assert not evidence[0].stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert client.get(f"/api/cases/{case_id}").json()["files"][0]["name"] == "CUSTOMER-SECRET name.zip"


def test_bad_input_case_ends_in_error_with_the_reason(served, tmp_path):
    client, _ = served
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"hello, this is not evidence\n")
    case_id = upload(client, junk).json()["id"]
    done = wait_for(client.get, case_id)
    assert done["status"] == "error" and "no usable input" in done["error"]
    assert done["diagnosis"] is None
    assert client.get(f"/cases/{case_id}/report").status_code == 404
    assert "no usable input" in client.get(f"/cases/{case_id}").text


# --------------------------------------------------------------------------- pages and forms


def test_form_upload_with_csrf_redirects_to_the_case(served, tmp_path):
    client, _ = served
    token = csrf_of(client)
    z = sample_zip(tmp_path)
    r = client.post("/cases", data={"csrf": token}, files=[("files", (z.name, z.read_bytes()))], follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/cases/")
    case_id = r.headers["location"].rsplit("/", 1)[1]
    page = client.get(f"/cases/{case_id}").text
    assert 'http-equiv="refresh"' in page or "done" in page  # queued pages reload themselves without JS
    assert wait_for(client.get, case_id)["status"] == "done"
    # the script's request (Accept: JSON) gets the id and the page to go to
    r = client.post(
        "/cases",
        data={"csrf": token},
        files=[("files", (z.name, z.read_bytes()))],
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 202 and r.json()["url"] == f"/cases/{r.json()['id']}"


@pytest.mark.parametrize("token", [None, "wrong"])
def test_form_posts_without_the_csrf_token_are_refused(served, tmp_path, token):
    client, tmp = served
    csrf_of(client)  # the browser has its cookie
    z = sample_zip(tmp_path)
    data = {"csrf": token} if token else {}
    r = client.post("/cases", data=data, files=[("files", (z.name, z.read_bytes()))])
    assert r.status_code == 403
    assert client.get("/api/cases").json()["cases"] == []
    assert not any((tmp / "data" / "cases").iterdir())  # nothing was kept
    case_id = upload(client, z).json()["id"]
    for path in (f"/cases/{case_id}/delete", f"/cases/{case_id}/verify", "/triage", "/login"):
        files = [("files", (z.name, z.read_bytes()))] if path.endswith("/verify") else None
        assert client.post(path, data=data, files=files).status_code == 403, path
    assert client.get(f"/api/cases/{case_id}").status_code == 200


def test_case_list_filters_and_search(served, tmp_path):
    client, _ = served
    a = upload(client, sample_zip(tmp_path)).json()["id"]
    b = upload(client, sample_zip(tmp_path, "harmless-1023")).json()["id"]
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\0" * 10)
    c = upload(client, junk).json()["id"]
    for case_id in (a, b, c):
        wait_for(client.get, case_id)
    ids = lambda **q: [x["id"] for x in client.get("/api/cases", params=q).json()["cases"]]  # noqa: E731
    assert set(ids()) == {a, b, c}
    assert ids(q="Internet Mail Connector") == [a]
    assert ids(q="KB306308") == [a]
    assert ids(q="harmless") == [b]
    assert ids(status="error") == [c]
    assert set(ids(status="done")) == {a, b}
    assert ids(q="100%_") == []
    assert client.get("/api/cases", params={"status": "nonsense"}).status_code == 400
    html = client.get("/cases", params={"q": "Internet Mail Connector"}).text
    assert a in html and b not in html and DN in html
    assert "No case matches" in client.get("/cases", params={"q": "zzz-nothing"}).text


def test_every_string_is_escaped(served, tmp_path):
    client, _ = served
    evil = "<img src=x onerror=alert(1)>.evt"
    r = client.post("/api/cases", files=[("files", (evil, b"not a log", "text/plain"))])
    case_id = r.json()["id"]
    wait_for(client.get, case_id)
    for path in (f"/cases/{case_id}", "/cases", f"/cases?q={evil}"):
        body = client.get(path).text
        assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body, path


def test_delete_removes_evidence_and_derived_files_and_is_logged(served, tmp_path):
    client, tmp = served
    case_id = upload(client, sample_zip(tmp_path)).json()["id"]
    wait_for(client.get, case_id)
    folder = tmp / "data" / "cases" / case_id
    assert (folder / "report.html").is_file() and (folder / "evidence").is_dir()
    r = client.post(f"/cases/{case_id}/delete", data={"csrf": csrf_of(client)}, follow_redirects=False)
    assert r.status_code == 303
    assert not folder.exists()
    assert client.get(f"/api/cases/{case_id}").status_code == 404
    log = client.app.state.store.log_entries(case_id)
    assert [e["event"] for e in log] == ["uploaded", "deleted"]
    other = upload(client, sample_zip(tmp_path)).json()["id"]
    wait_for(client.get, other)
    assert client.delete(f"/api/cases/{other}").json() == {"deleted": other}
    assert not (tmp / "data" / "cases" / other).exists()
    assert client.delete(f"/api/cases/{other}").status_code == 404


def cli_verify(before: Path, after: Path) -> tuple[dict, int]:
    """``analyzer verify BEFORE AFTER --format json`` as an engineer runs it: the result and the exit code."""
    out = subprocess.run(
        [sys.executable, "-m", "analyzer", "verify", str(before), str(after), "--format", "json"],
        capture_output=True,
        check=False,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return (json.loads(out.stdout) if out.stdout.strip() else {}), out.returncode


def test_verify_the_fix_is_judged_like_analyzer_verify(served, tmp_path):
    """The AFTER upload is judged by the command's code: fixed (0), still refused (1), inconclusive (1),
    cannot be compared (2); AFTER evidence made by the project's writers, BEFORE the bundled NT 4.0 case."""
    from tests.test_verify import FIXED_LIST, IMS_DN, after_case, logon_1009

    client, _ = served
    before = sample_zip(tmp_path)
    case_id = upload(client, before).json()["id"]
    wait_for(client.get, case_id)
    fixed = after_case(tmp_path / "fixed", [logon_1009(IMS_DN, 60)], FIXED_LIST)
    no_logs = after_case(tmp_path / "no-logs", [], FIXED_LIST)
    (no_logs / "AppEvent.Evt").unlink()
    still = sample_zip(tmp_path, name="after-unchanged.zip")  # fresh exports, nothing changed: still refused
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.bin").write_bytes(b"\x00\x01 not evidence")
    expected = {
        "fixed": ("fixed", 0),
        "still": ("not_fixed", 1),
        "no_logs": ("inconclusive", 1),
        "junk": (None, 2),
    }
    ids = {}
    for name, after in (("fixed", fixed), ("still", still), ("no_logs", no_logs), ("junk", junk)):
        files = [after] if after.is_file() else sorted(p for p in after.iterdir() if p.is_file())
        answer = upload(client, *files, url=f"/api/cases/{case_id}/verify")
        assert answer.status_code == 202
        ids[name] = answer.json()["id"]
    for name, vid in ids.items():
        v = wait_for(client.get, vid)
        status, code = expected[name]
        assert v["kind"] == "verify" and v["parent"] == case_id
        assert v["verify"]["status"] == status and v["verify"]["exit_code"] == code, (name, v)
        after = {"fixed": fixed, "still": still, "no_logs": no_logs, "junk": junk}[name]
        cli, cli_code = cli_verify(before, after)
        assert cli_code == code, name  # the command's exit code, the same meaning
        if code == 2:
            assert v["status"] == "error" and v["verify"]["result"] is None
            assert "no usable input" in v["verify"]["error"] and v["verify"]["meaning"].startswith("cannot be compared")
            assert str(tmp_path) not in v["verify"]["verdict"]  # no server path in what the page shows
            continue
        assert v["status"] == "done"
        result = v["verify"]["result"]
        assert result["schema"] == "analyzer.verify/1"
        for key in ("status", "verdict", "list_changed", "added", "refused_before", "refused_again", "store_restart"):
            assert result[key] == cli[key], (name, key)
        assert v["verify"]["verdict"] == cli["verdict"]
    assert client.get(f"/api/cases/{ids['fixed']}").json()["verify"]["verdict"].startswith("Fixed: ")
    # the pages: the verification shows the verdict words, the status and the exit code with its meaning
    page = client.get(f"/cases/{ids['still']}").text
    assert 'id="verify-status">not_fixed<' in page and 'id="verify-exit">1<' in page
    assert "Not fixed: the list did not change" in page and "Refused again:" in page
    page = client.get(f"/cases/{ids['fixed']}").text
    assert 'id="verify-exit">0<' in page and "fixed</strong>" in page
    assert json.loads(client.get(f"/cases/{ids['fixed']}/verify.json").content)["exit_code"] == 0
    case_page = client.get(f"/cases/{case_id}").text
    assert case_page.count("/cases/" + ids["fixed"]) == 1 and "Cannot be compared: AFTER: no usable input" in case_page
    assert set(client.get(f"/api/cases/{case_id}").json()["verifications"]) == set(ids.values())
    # the verification form, and a verification is not verified again
    r = client.post(
        f"/cases/{case_id}/verify",
        data={"csrf": csrf_of(client)},
        files=[("files", ("a.zip", sample_zip(tmp_path).read_bytes()))],
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert upload(client, sample_zip(tmp_path), url=f"/api/cases/{ids['fixed']}/verify").status_code == 400
    # deleting the case deletes its verifications
    client.delete(f"/api/cases/{case_id}")
    assert client.get(f"/api/cases/{ids['fixed']}").status_code == 404


def test_a_verification_the_pool_cannot_finish_is_an_error_without_exit_code(tmp_path):
    z = sample_zip(tmp_path)
    with TestClient(create_app(config(tmp_path))) as client:
        case_id = upload(client, z).json()["id"]
        wait_for(client.get, case_id)
    with TestClient(create_app(config(tmp_path, case_function=die))) as client:
        vid = upload(client, z, url=f"/api/cases/{case_id}/verify").json()["id"]
        answer = wait_for(client.get, vid)
        assert answer["status"] == "error" and "worker process died" in answer["error"]
        assert answer["verify"] is None  # the server failed, not the evidence: no verdict, no exit code


def test_servers_column_for_every_case_filterable_and_searchable(served, tmp_path):
    """One server (named by its events' computer name), two servers, and none named (only a .reg export)."""
    from tests.multiserver_support import two_servers

    client, _ = served
    one = upload(client, sample_zip(tmp_path)).json()["id"]
    folder = two_servers(tmp_path / "two", layout="content")
    two = upload(client, *sorted(p for p in folder.rglob("*") if p.is_file())).json()["id"]
    reg_only = upload(client, SAMPLES / "nt4-kb306308" / "ParametersSystem.reg").json()["id"]
    answers = {i: wait_for(client.get, i) for i in (one, two, reg_only)}
    assert [answers[i]["status"] for i in (one, two, reg_only)] == ["done"] * 3
    assert "servers" not in answers[one]["diagnosis"]  # the diagnose JSON names servers only for several
    assert answers[one]["servers"] == ["EXCH01"]
    assert answers[two]["servers"] == ["EXCH01", "EXCH02"]
    assert answers[reg_only]["servers"] == []
    ids = lambda **q: sorted(x["id"] for x in client.get("/api/cases", params=q).json()["cases"])  # noqa: E731
    assert {x["id"]: x["servers"] for x in client.get("/api/cases").json()["cases"]} == {
        one: ["EXCH01"],
        two: ["EXCH01", "EXCH02"],
        reg_only: [],
    }
    assert ids(server="EXCH01") == sorted([one, two])
    assert ids(server="exch02") == [two]  # names compare case-insensitively
    assert ids(server="EXCH0") == []  # a whole name, not a part of one
    assert ids(server="-") == [reg_only]  # no server named
    assert ids(q="EXCH02") == [two]
    assert ids(server="EXCH01", status="error") == []
    html = client.get("/cases").text
    cells = re.findall(r'<td class="servers">([^<]*)</td>', html)
    assert sorted(cells) == sorted(["EXCH01", "EXCH01; EXCH02", "—"])
    assert '<option value="EXCH01">' in html and '<option value="EXCH02">' in html and '<option value="-">' in html
    html = client.get("/cases", params={"server": "EXCH02"}).text
    assert two in html and one not in html and '<option value="EXCH02" selected>' in html
    html = client.get("/cases", params={"server": "-"}).text
    assert reg_only in html and one not in html
    assert 'id="servers">—<' in client.get(f"/cases/{reg_only}").text
    assert 'id="servers">EXCH01<' in client.get(f"/cases/{one}").text


# --------------------------------------------------------------------------- limits and errors


def test_upload_limits(tmp_path):
    with TestClient(create_app(config(tmp_path, max_upload=4096, max_files=2, start_worker=False))) as client:
        big = [("files", ("big.evt", b"x" * 5000, "application/octet-stream"))]
        r = client.post("/api/cases", files=big)
        assert r.status_code == 413 and "too large" in r.json()["error"]
        many = [("files", (f"{i}.evt", b"x", "application/octet-stream")) for i in range(3)]
        r = client.post("/api/cases", files=many)
        assert r.status_code == 413 and "too many files" in r.json()["error"]
        # a body without Content-Length is counted as it streams
        body = (
            b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.evt"\r\n\r\n'
            + b"y" * 5000
            + b"\r\n--b--\r\n"
        )
        r = client.post("/api/cases", content=iter([body]), headers={"content-type": "multipart/form-data; boundary=b"})
        assert r.status_code == 413
        assert client.post("/api/cases", content=b"{}", headers={"content-type": "application/json"}).status_code == 415
        r = client.post("/api/cases", files=[("other", ("a.evt", b"x", "application/octet-stream"))])
        assert r.status_code == 400 and "no file" in r.json()["error"]
        r = client.post(
            "/api/cases", content=b"--b\r\ngarbage", headers={"content-type": "multipart/form-data; boundary=b"}
        )
        assert r.status_code == 400
        assert client.get("/api/cases").json()["cases"] == []
        assert not any((tmp_path / "data" / "cases").iterdir())  # every refused upload removed its files
        page = client.post("/cases", files=big)
        assert page.status_code == 413 and "too large" in page.text


def test_unknown_things_are_404_and_nothing_is_listed(served, tmp_path):
    client, _ = served
    case_id = upload(client, sample_zip(tmp_path)).json()["id"]
    wait_for(client.get, case_id)
    for path in (
        "/cases/0123456789abcdef",
        "/api/cases/0123456789abcdef",
        "/cases/..%2f..%2fetc",
        "/api/cases/a.b",
        f"/cases/{case_id}/evidence",
        f"/cases/{case_id}/evidence/f0001.zip",
        f"/cases/{case_id}/..%2fanalyzer.sqlite3",
        f"/cases/{case_id}/verify.json",
        "/static/",
        "/static/app.py",
        "/static/..%2fapp.py",
        "/triage/0123",
        "/triage/0123/summary.csv",
        "/data",
        "/analyzer.sqlite3",
        "/cases/0123456789abcdef/report",
    ):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "f0001" not in r.text
    assert client.get("/api/cases/0123456789abcdef").json() == {"error": "no such case"}
    assert client.delete("/api/cases/0123456789abcdef").status_code == 404
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/app.css").headers["content-type"].startswith("text/css")


def test_security_headers_on_every_page(served):
    client, _ = served
    for path in ("/", "/cases", "/triage", "/login", "/openapi.json", "/api/cases"):
        r = client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "http" not in csp and "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
    page = client.get("/").text
    assert "http://" not in page and "https://" not in page  # no external resource
    assert "<script>" not in page  # no inline script (the CSP would block it)


def test_cross_site_posts_are_refused(served, tmp_path):
    client, _ = served
    z = sample_zip(tmp_path)
    files = [("files", (z.name, z.read_bytes()))]
    assert client.post("/api/cases", files=files, headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.post("/api/cases", files=files, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.post("/api/cases", files=files, headers={"Sec-Fetch-Site": "same-site"}).status_code == 403
    assert client.post("/api/cases", files=files, headers={"Origin": "null"}).status_code == 403
    r = client.post("/api/cases", files=files, headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 202


# --------------------------------------------------------------------------- token


def test_token_is_required_on_every_request(tmp_path):
    with TestClient(create_app(config(tmp_path, token="s3cret", start_worker=False))) as client:
        for method, path in (
            ("GET", "/"),
            ("GET", "/cases"),
            ("GET", "/api/cases"),
            ("POST", "/api/cases"),
            ("GET", "/openapi.json"),
            ("GET", "/api/cases/0123"),
            ("DELETE", "/api/cases/0123"),
            ("GET", "/triage"),
            ("POST", "/api/triage"),
            ("GET", "/cases/0123/patch.reg"),
        ):
            r = client.request(method, path, follow_redirects=False)
            assert r.status_code in (401, 303), (method, path)
            if r.status_code == 303:
                assert r.headers["location"] == "/login"
        assert client.get("/api/cases", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/api/cases", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/static/app.js").status_code == 200
        token = csrf_of(client, "/login")
        assert client.post("/login", data={"csrf": token, "token": "nope"}).status_code == 401
        r = client.post("/login", data={"csrf": token, "token": "s3cret"}, follow_redirects=False)
        assert r.status_code == 303
        assert "s3cret" not in r.headers["set-cookie"]
        assert client.get("/cases").status_code == 200  # the session cookie now opens the pages


def test_cookies_are_secure_over_https_and_behind_a_declared_proxy(tmp_path):
    def cookie_flags(header: str) -> set[str]:
        return {part.strip().lower() for part in header.split(";")[1:]}

    # plain http on loopback: HttpOnly and SameSite=Strict, not Secure (a browser would drop it)
    with TestClient(create_app(config(tmp_path, token="s3cret", start_worker=False))) as client:
        flags = cookie_flags(client.get("/login").headers["set-cookie"])
        assert {"httponly", "samesite=strict", "path=/"} <= flags and "secure" not in flags
    # https: the CSRF cookie and the session cookie are Secure, and the login works over it
    https = TestClient(create_app(config(tmp_path, token="s3cret", start_worker=False)), base_url="https://testserver")
    with https as client:
        assert {"httponly", "samesite=strict", "secure"} <= cookie_flags(client.get("/login").headers["set-cookie"])
        r = client.post("/login", data={"csrf": csrf_of(client, "/login"), "token": "s3cret"}, follow_redirects=False)
        assert r.status_code == 303
        assert {"httponly", "samesite=strict", "secure"} <= cookie_flags(r.headers["set-cookie"])
        assert client.get("/cases").status_code == 200
    # an https proxy the operator declares: Secure although the proxy speaks http to the server
    cfg = config(tmp_path, token="s3cret", start_worker=False, secure_cookies=True)
    with TestClient(create_app(cfg)) as client:
        assert "secure" in cookie_flags(client.get("/login").headers["set-cookie"])
    import argparse

    from analyzer.commands.serve import add_parser, config_from

    parser = add_parser(argparse.ArgumentParser().add_subparsers())
    assert config_from(parser.parse_args(["--behind-https-proxy"])).secure_cookies is True
    assert config_from(parser.parse_args(["--secure-cookies"])).secure_cookies is True
    assert config_from(parser.parse_args([])).secure_cookies is False


def test_a_proxy_on_this_machine_that_says_https_gets_secure_cookies(tmp_path):
    """The real command behind uvicorn: ``X-Forwarded-Proto: https`` from loopback (a local TLS proxy)."""
    import urllib.request

    tool = load_serve_tool()
    with tool.running_server(tmp_path / "data", jobs=1) as base:
        plain = urllib.request.urlopen(base + "/login", timeout=60).headers["set-cookie"]
        proxied = urllib.request.urlopen(
            urllib.request.Request(base + "/login", headers={"X-Forwarded-Proto": "https"}), timeout=60
        ).headers["set-cookie"]
    assert "secure" not in cookie_flags_of(plain)
    assert {"httponly", "samesite=strict", "secure"} <= cookie_flags_of(proxied)


def cookie_flags_of(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(";")[1:]}


def load_serve_tool():
    """benchmarks/serve_load.py (it starts the real ``analyzer serve`` on loopback)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("serve_load", REPO / "benchmarks" / "serve_load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_serve_command_refuses_a_public_host_without_token(tmp_path, capsys):
    assert main(["serve", "--host", "0.0.0.0", "--data", str(tmp_path / "d")]) == 2
    assert "--token" in capsys.readouterr().err
    empty = tmp_path / "token"
    empty.write_text("")
    assert main(["serve", "--host", "0.0.0.0", "--token-file", str(empty)]) == 2
    assert main(["serve", "--host", "0.0.0.0", "--token-file", str(tmp_path / "missing")]) == 2
    assert main(["serve", "--port", "70000"]) == 2
    assert main(["serve", "--archive", str(tmp_path / "nowhere")]) == 2
    capsys.readouterr()
    os.environ["ANALYZER_KB_URL"] = "ftp://archive/{number}"  # the reports it writes could not be rendered
    try:
        assert main(["serve", "--data", str(tmp_path / "d")]) == 2
    finally:
        del os.environ["ANALYZER_KB_URL"]
    assert capsys.readouterr().err.strip() == (
        "analyzer: ANALYZER_KB_URL: not an http(s) URL template with {number} in it: 'ftp://archive/{number}'"
    )
    import argparse

    from analyzer.commands.serve import add_parser, config_from

    sub = argparse.ArgumentParser().add_subparsers()
    parser = add_parser(sub)
    (tmp_path / "tok").write_text("abc\n")
    cfg = config_from(parser.parse_args(["--host", "10.0.0.5", "--token-file", str(tmp_path / "tok")]))
    assert cfg.token == "abc"
    assert config_from(parser.parse_args(["--host", "::1"])).token is None


# --------------------------------------------------------------------------- work off the request path


def test_restart_resumes_queued_and_running_cases(tmp_path):
    z = sample_zip(tmp_path)
    cfg = config(tmp_path, start_worker=False)
    with TestClient(create_app(cfg)) as client:
        ids = [upload(client, z).json()["id"] for _ in range(3)]
        assert [client.get(f"/api/cases/{i}").json()["status"] for i in ids] == ["queued"] * 3
        client.app.state.store.claim(1)  # as if the server died while running it
        assert client.get(f"/api/cases/{ids[0]}").json()["status"] == "running"
    with TestClient(create_app(config(tmp_path))) as client:
        assert [wait_for(client.get, i)["status"] for i in ids] == ["done"] * 3


def test_a_worker_that_dies_costs_only_its_case(tmp_path):
    z = sample_zip(tmp_path)
    with TestClient(create_app(config(tmp_path, case_function=die))) as client:
        dead = upload(client, z).json()["id"]
        answer = wait_for(client.get, dead)
        assert answer["status"] == "error" and "worker process died" in answer["error"]
    with TestClient(create_app(config(tmp_path))) as client:  # the server goes on with the next case
        assert wait_for(client.get, upload(client, z).json()["id"])["status"] == "done"


def test_case_time_limit_is_enforced(tmp_path):
    with TestClient(create_app(config(tmp_path, case_timeout=0.000001, kill_grace=1.0))) as client:
        case_id = upload(client, sample_zip(tmp_path)).json()["id"]
        answer = wait_for(client.get, case_id)
        assert answer["status"] == "error" and "timed out" in answer["error"]


# --------------------------------------------------------------------------- triage of the archive


def test_triage_of_the_archive_folder(tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    for sample in ("nt4-kb306308", "harmless-1023"):
        sample_zip(archive, sample)
    (archive / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with TestClient(create_app(config(tmp_path, archive=archive))) as client:
        assert "Start a triage run" in client.get("/triage").text
        r = client.post("/api/triage")
        assert r.status_code == 202
        run_id = r.json()["id"]
        import time

        deadline = time.monotonic() + 240
        while (run := client.get(f"/api/triage/{run_id}").json())["status"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.3)
        assert run["status"] == "done" and run["total"] == 3 and run["done"] == 3
        by_case = {row["case"]: row for row in run["rows"]}
        assert by_case["nt4-kb306308"]["dns_to_add"] == DN
        assert by_case["harmless-1023"]["status"] == "clean"
        assert by_case["broken"]["status"] == "error"
        csv_text = client.get(f"/triage/{run_id}/summary.csv").text
        assert csv_text.startswith("case,status") and DN in csv_text
        parquet = client.get(f"/triage/{run_id}/summary.parquet")
        assert parquet.status_code == 200 and parquet.content[:4] == b"PAR1"
        page = client.get(f"/triage/{run_id}").text
        assert "summary.parquet" in page and DN in page
        assert run_id in client.get("/triage").text
        assert client.get("/api/triage").json()["runs"][0]["id"] == run_id
        r = client.post("/triage", data={"csrf": csrf_of(client, "/triage")}, follow_redirects=False)
        assert r.status_code == 303
        assert client.get(f"/triage/{run_id}/summary.json").status_code == 404


@pytest.mark.parametrize("how", ["shut down", "killed"])
def test_an_interrupted_archive_triage_resumes_on_the_next_start(tmp_path, how):
    """Stopped after its second case (a hook, not a sleep), the run resumes on the next start: the cases
    written are kept (not diagnosed again, their files untouched), the rest is run, each case once.
    "killed": what a server killed at that point leaves (the run still ``running``, the output folder's
    lock held by a process that is gone) is resumed the same way."""
    archive = tmp_path / "archive"
    archive.mkdir()
    names = [f"case{i}" for i in range(1, 6)]
    for i, name in enumerate(names):
        sample_zip(archive, "nt4-kb306308" if i % 2 == 0 else "harmless-1023", name=f"{name}.zip")
    first: list[tuple[str, bool]] = []
    apps = []

    def shut_down_after_two(run_id, row, resumed):
        first.append((row["case"], resumed))
        if len(first) == 2:
            apps[0].state.runs.request_stop()  # the server shuts down here, in the middle of the run

    apps.append(create_app(config(tmp_path, archive=archive, on_triage_case=shut_down_after_two)))
    with TestClient(apps[0]) as client:
        run_id = client.post("/api/triage").json()["id"]
        apps[0].state.runs.thread.join(WAIT)
        run = client.get(f"/api/triage/{run_id}").json()
        assert run["status"] == "interrupted" and run["done"] == 2 and run["rows"] == []
    assert [resumed for _, resumed in first] == [False, False]
    cases_dir = tmp_path / "data" / "triage" / run_id / "cases"
    kept = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cases_dir.glob("*.json")}
    assert sorted(kept) == sorted(f"{name}.json" for name, _ in first)
    assert not (cases_dir.parent / "summary.csv").exists()
    if how == "killed":
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        lock = {"pid": int(gone.stdout), "host": socket.gethostname(), "started": "2026-01-01T00:00:00"}
        (cases_dir.parent / ".analyzer-triage.lock").write_text(json.dumps(lock), encoding="utf-8")
        store = Store(tmp_path / "data")
        store.db.execute("UPDATE triage_runs SET status = 'running' WHERE id = ?", (run_id,))
        store.close()

    second: list[tuple[str, bool]] = []
    app = create_app(
        config(tmp_path, archive=archive, on_triage_case=lambda r, row, resumed: second.append((row["case"], resumed)))
    )
    with TestClient(app) as client:  # the next start resumes the run on its own
        assert app.state.runs.thread is not None
        app.state.runs.thread.join(WAIT)
        run = client.get(f"/api/triage/{run_id}").json()
    assert run["status"] == "done" and run["total"] == 5 and run["done"] == 5
    assert sorted(row["case"] for row in run["rows"]) == names  # every case once in the summary
    assert sorted(name for name, _ in second) == names  # every case recorded once by the resumed run
    assert {name for name, resumed in second if resumed} == {name for name, _ in first}  # kept, not re-run
    for name, stamp in kept.items():
        path = cases_dir / name
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == stamp  # the files written before are untouched
    by_case = {row["case"]: row for row in run["rows"]}
    assert [by_case[n]["status"] for n in names] == ["findings", "clean", "findings", "clean", "findings"]
    assert by_case["case5"]["dns_to_add"] == DN
    log = [e["event"] for e in app.state.store.log_entries()]
    assert log == ["triage started", "triage interrupted", "triage running"]
    assert not (cases_dir.parent / ".analyzer-triage.lock").exists()


def test_an_interrupted_run_is_not_resumed_on_another_archive_folder(tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    sample_zip(archive)
    store = Store(tmp_path / "data")
    store.add_run("0a1b", 1, archive=str(tmp_path / "elsewhere"))  # left running by a killed server
    store.close()
    with TestClient(create_app(config(tmp_path, archive=archive))) as client:
        run = client.get("/api/triage/0a1b").json()
    assert run["status"] == "error" and "not resumed" in run["error"] and "archive" not in run
    store = Store(tmp_path / "data")
    store.add_run("0a1c", 1)
    store.close()
    with TestClient(create_app(config(tmp_path))) as client:  # no --archive at all now
        assert "no --archive" in client.get("/api/triage/0a1c").json()["error"]


def test_triage_without_an_archive_folder(served):
    client, _ = served
    assert client.post("/api/triage").status_code == 409
    assert "--archive" in client.get("/triage").text
    assert client.post("/triage", data={"csrf": csrf_of(client)}).status_code == 409


# --------------------------------------------------------------------------- API document and schema


def test_openapi_describes_every_json_route(served):
    client, _ = served
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    described = {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops if m != "parameters"}
    routes = set()
    for route in client.app.routes:
        if route.path.startswith("/api/"):
            path = re.sub(r"\{\w+\}", "{id}", route.path)
            routes |= {(path, m) for m in route.methods if m != "HEAD"}
    assert routes == described


def test_migrations_bring_an_old_database_forward(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    db = sqlite3.connect(data / "analyzer.sqlite3")
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    db.execute("INSERT INTO cases (id, status, created, title, files) VALUES ('abc123', 'queued', 0, 't', '[]')")
    db.commit()
    db.close()
    store = Store(data)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert store.get("abc123")["status"] == "queued"
    assert store.runs() == []
    store.close()
    assert Store(data).migrate() == len(MIGRATIONS)  # idempotent


def test_a_case_of_two_servers_gets_one_patch_per_server(served, tmp_path):
    from tests.multiserver_support import two_servers

    client, _ = served
    folder = two_servers(tmp_path / "two", layout="content")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    case_id = upload(client, *files).json()["id"]
    done = wait_for(client.get, case_id)
    assert done["status"] == "done", done
    assert done["servers"] == ["EXCH01", "EXCH02"]
    patches = {p["server"]: p for p in done["server_patches"]}
    assert set(patches) == {"EXCH01", "EXCH02"}
    for n, server in enumerate(done["diagnosis"]["servers"], start=1):
        body = client.get(patches[server["server"]]["patch"]).content.decode("cp1252").replace("\r\n", "\n")
        assert body == server["remediation"]["reg"]
        assert client.get(f"/cases/{case_id}/rollback-{n}.reg").status_code == 200
    assert client.get(f"/cases/{case_id}/patch-9.reg").status_code == 404
    page = client.get(f"/cases/{case_id}").text
    assert page.count('class="server-patch"') == 2
