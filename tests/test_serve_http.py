"""``analyzer serve`` at the HTTP level (Starlette's test client): every route, error and limit.

Cases are really diagnosed in the background worker pool; the tests wait for them with a bound,
never assert on speed.
"""

from __future__ import annotations

import json
import os
import re
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
from tests.serve_support import REPO, SAMPLES, config, die, sample_zip, wait_for

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


def test_verify_the_fix_compares_the_after_evidence(served, tmp_path):
    client, _ = served
    case_id = upload(client, sample_zip(tmp_path)).json()["id"]
    wait_for(client.get, case_id)
    same = upload(client, sample_zip(tmp_path), url=f"/api/cases/{case_id}/verify")
    assert same.status_code == 202
    v = wait_for(client.get, same.json()["id"])
    assert v["kind"] == "verify" and v["parent"] == case_id
    assert v["comparison"]["status"] == "still_refused" and v["comparison"]["still_refused"] == [DN]
    clean = upload(client, sample_zip(tmp_path, "harmless-1023"), url=f"/api/cases/{case_id}/verify").json()["id"]
    assert wait_for(client.get, clean)["comparison"]["status"] == "no_refusals"
    assert set(client.get(f"/api/cases/{case_id}").json()["verifications"]) == {same.json()["id"], clean}
    page = client.get(f"/cases/{case_id}").text
    assert "still refused after the fix" in page
    # the verification form, and a verification is not verified again
    r = client.post(
        f"/cases/{case_id}/verify",
        data={"csrf": csrf_of(client)},
        files=[("files", ("a.zip", sample_zip(tmp_path).read_bytes()))],
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert upload(client, sample_zip(tmp_path), url=f"/api/cases/{clean}/verify").status_code == 400
    # deleting the case deletes its verifications
    client.delete(f"/api/cases/{case_id}")
    assert client.get(f"/api/cases/{clean}").status_code == 404


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
        f"/cases/{case_id}/comparison.json",
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


def test_serve_command_refuses_a_public_host_without_token(tmp_path, capsys):
    assert main(["serve", "--host", "0.0.0.0", "--data", str(tmp_path / "d")]) == 2
    assert "--token" in capsys.readouterr().err
    empty = tmp_path / "token"
    empty.write_text("")
    assert main(["serve", "--host", "0.0.0.0", "--token-file", str(empty)]) == 2
    assert main(["serve", "--host", "0.0.0.0", "--token-file", str(tmp_path / "missing")]) == 2
    assert main(["serve", "--port", "70000"]) == 2
    assert main(["serve", "--archive", str(tmp_path / "nowhere")]) == 2
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
