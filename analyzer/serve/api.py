"""The OpenAPI 3.1 document of the JSON API (``GET /openapi.json``), written beside the routes it describes."""

from __future__ import annotations

from typing import Any

from analyzer import __version__

_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]+$"}}
_ERROR = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_UPLOAD = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                "required": ["files"],
            }
        }
    },
}


def _json(ref: str, description: str = "ok") -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def document() -> dict[str, Any]:
    """Every JSON route with its parameters, bodies and answers."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "analyzer serve",
            "version": __version__,
            "description": "Case intake: upload customer evidence, get the diagnosis, verify the fix, triage an "
            "archive. With a token set, send `Authorization: Bearer <token>`.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
                "Accepted": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
                "Case": {
                    "type": "object",
                    "required": ["id", "status", "diagnosis"],
                    "properties": {
                        "id": {"type": "string"},
                        "status": {"enum": ["queued", "running", "done", "error"]},
                        "diagnosis": {
                            "type": ["object", "null"],
                            "description": "the diagnose JSON (analyzer.diagnosis/1)",
                        },
                        "kind": {"enum": ["case", "verify"]},
                        "files": {"type": "array", "items": {"type": "object"}},
                        "verdict": {"type": ["string", "null"]},
                        "needs_action": {"type": ["boolean", "null"]},
                        "servers": {"type": "array", "items": {"type": "string"}},
                        "rules": {"type": "array", "items": {"type": "string"}},
                        "dns_to_add": {"type": "array", "items": {"type": "string"}},
                        "error": {"type": ["string", "null"]},
                        "downloads": {"type": "object", "additionalProperties": {"type": "string"}},
                        "server_patches": {
                            "type": "array",
                            "description": "several servers: one patch and rollback per server",
                            "items": {
                                "type": "object",
                                "properties": {k: {"type": "string"} for k in ("server", "patch", "rollback")},
                            },
                        },
                        "verifications": {"type": "array", "items": {"type": "string"}},
                        "parent": {"type": "string"},
                        "verify": {
                            "type": ["object", "null"],
                            "description": "a verification's outcome, judged as `analyzer verify BEFORE AFTER` judges "
                            "it (BEFORE: the case's evidence; AFTER: the upload)",
                            "properties": {
                                "exit_code": {"enum": [0, 1, 2], "description": "the command's exit code"},
                                "meaning": {"type": "string"},
                                "status": {
                                    "enum": ["fixed", "not_effective", "not_fixed", "new_problem", "inconclusive", None]
                                },
                                "verdict": {"type": "string"},
                                "error": {"type": ["string", "null"], "description": "why exit code 2"},
                                "result": {"type": ["object", "null"], "description": "analyzer.verify/1"},
                            },
                        },
                    },
                },
                "CaseList": {"type": "object", "properties": {"cases": {"type": "array", "items": {"type": "object"}}}},
                "TriageRun": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "status": {
                            "enum": ["running", "interrupted", "done", "error"],
                            "description": "interrupted: stopped by a shutdown; resumed on the next start",
                        },
                        "total": {"type": "integer"},
                        "done": {"type": "integer"},
                        "rows": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
        "security": [{"bearer": []}, {}],
        "paths": {
            "/api/cases": {
                "get": {
                    "summary": "list cases, newest first",
                    "parameters": [
                        {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "search text"},
                        {"name": "status", "in": "query", "schema": {"enum": ["queued", "running", "done", "error"]}},
                        {
                            "name": "server",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "only the cases of this server; `-` for finished cases no server is named in",
                        },
                    ],
                    "responses": {"200": _json("CaseList"), "400": _ERROR},
                },
                "post": {
                    "summary": "upload a case (one or more files or one zip)",
                    "requestBody": _UPLOAD,
                    "responses": {"202": _json("Accepted", "queued"), "400": _ERROR, "413": _ERROR, "415": _ERROR},
                },
            },
            "/api/cases/{id}": {
                "parameters": [_ID],
                "get": {
                    "summary": "a case, with its diagnosis when done",
                    "responses": {"200": _json("Case"), "404": _ERROR},
                },
                "delete": {
                    "summary": "delete a case, its evidence and everything derived (logged)",
                    "responses": {"200": {"description": "deleted"}, "404": _ERROR},
                },
            },
            "/api/cases/{id}/verify": {
                "parameters": [_ID],
                "post": {
                    "summary": "upload the AFTER evidence of a case (judged as `analyzer verify` judges it)",
                    "requestBody": _UPLOAD,
                    "responses": {"202": _json("Accepted", "queued"), "400": _ERROR, "404": _ERROR, "413": _ERROR},
                },
            },
            "/api/triage": {
                "get": {
                    "summary": "triage runs of the server's archive folder",
                    "responses": {"200": {"description": "runs"}},
                },
                "post": {"summary": "start a triage run", "responses": {"202": _json("Accepted"), "409": _ERROR}},
            },
            "/api/triage/{id}": {
                "parameters": [_ID],
                "get": {
                    "summary": "progress and summary rows of a run",
                    "responses": {"200": _json("TriageRun"), "404": _ERROR},
                },
            },
        },
    }
