"""The OpenAPI 3.1 document of the local server, written by hand from the contract.

Served at ``/openapi.json`` so that API fuzzers (schemathesis) can be pointed at the
server. The parameter ranges come from :data:`eco_widget._params.PARAMETERS`, so the
document cannot drift from the validation.
"""

from __future__ import annotations

from typing import Any

from .._params import MODEL, PARAMETERS, PROMPT_MAX_CHARS

__all__ = ["openapi_document"]


def _error(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if retry_after:
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before retrying.",
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return response


def _parameter_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "model": {"type": "string", "enum": [MODEL], "description": "The model."},
        "prompt": {
            "type": "string",
            "minLength": 1,
            "maxLength": PROMPT_MAX_CHARS,
            "pattern": r"\S",
            "description": (
                f"What the video shows: 1 to {PROMPT_MAX_CHARS} characters not counting "
                "outer whitespace."
            ),
        },
    }
    for name, spec in PARAMETERS.items():
        schema: dict[str, Any] = {
            "type": "integer" if spec.kind is int else "number",
            "minimum": spec.minimum,
            "maximum": spec.maximum,
            "description": spec.help[:1].upper() + spec.help[1:] + ".",
        }
        if spec.default is not None:
            schema["default"] = spec.default
        if spec.kind is int:
            # JSON Schema counts 33.0 as an integer; the contract does not.
            schema["description"] += " Written without a fraction: 33, not 33.0."
        if name == "seed":
            schema["type"] = ["integer", "null"]
            schema["description"] += " Omitted or null: drawn at random (and echoed)."
        schemas[name] = schema
    return schemas


def _job_schema() -> dict[str, Any]:
    params = _parameter_schemas()
    seed = PARAMETERS["seed"]
    params["seed"] = {"type": "integer", "minimum": seed.minimum, "maximum": seed.maximum}
    for schema in params.values():
        schema.pop("default", None)
        schema.pop("pattern", None)
    return {
        "type": "object",
        "required": ["id", "object", "status", "created", "model"],
        "properties": {
            "id": {"type": "string", "pattern": "^vid_[0-9a-f]{24}$"},
            "object": {"type": "string", "const": "video.job"},
            "status": {"type": "string", "enum": ["queued", "processing", "completed", "failed"]},
            "created": {"type": "integer", "description": "Unix time of the submit."},
            **{name: schema for name, schema in params.items()},
            "progress": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "While processing: the share done.",
            },
            "video_url": {
                "type": "string",
                "format": "uri",
                "description": "When completed: a pre-signed URL, no authentication needed.",
            },
            "duration_seconds": {"type": "number", "description": "num_frames / fps."},
            "completed_at": {"type": "integer"},
            "expires_at": {"type": "integer", "description": "When video_url stops working."},
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    }


def openapi_document(server_url: str | None = None) -> dict[str, Any]:
    """The document; ``server_url`` (the request's base URL) is listed as the server."""
    job_id = {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "The job id returned by the submit.",
    }
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Ecohash video API (eco_widget local server)",
            "version": "1.0.0",
            "description": "Text to video with Wan2.1 T2V 1.3B: submit a job, poll it, "
            "download the video from its pre-signed URL.",
        },
        "paths": {
            "/v1/video/generations": {
                "post": {
                    "operationId": "createVideoGeneration",
                    "summary": "Submit a video generation job",
                    "security": [{"bearerAuth": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/VideoRequest"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The job, queued.",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Job"}}
                            },
                        },
                        "400": _error(
                            "Bad JSON, unknown or missing field, value out of range, a prompt "
                            "that is not Unicode text, a malformed Content-Length."
                        ),
                        "401": _error("Missing or unknown API key."),
                        "408": _error(
                            "The body did not arrive in time (the connection is closed)."
                        ),
                        "413": _error("Request body over the size limit (64 KiB)."),
                        "429": _error("Too many jobs queued or processing.", retry_after=True),
                        "500": _error("Transient server error: do not blindly submit again."),
                    },
                }
            },
            "/v1/video/generations/{id}": {
                "get": {
                    "operationId": "getVideoGeneration",
                    "summary": "Get a job",
                    "security": [{"bearerAuth": []}],
                    "parameters": [job_id],
                    "responses": {
                        "200": {
                            "description": "The job.",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Job"}}
                            },
                        },
                        "401": _error("Missing or unknown API key."),
                        "404": _error("No such job for this API key."),
                        "429": _error("Too many requests.", retry_after=True),
                        "500": _error("Transient server error: retry."),
                    },
                }
            },
            "/v1/videos/{id}.mp4": {
                "get": {
                    "operationId": "downloadVideo",
                    "summary": "Download a video (the job's pre-signed video_url)",
                    "security": [],
                    "parameters": [
                        {**job_id, "description": "The job id."},
                        {
                            "name": "expires",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "integer"},
                        },
                        {
                            "name": "signature",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "Range",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                            "description": "One byte range.",
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The MP4 file.",
                            "content": {
                                "video/mp4": {"schema": {"type": "string", "format": "binary"}}
                            },
                        },
                        "206": {
                            "description": "The requested byte range.",
                            "content": {
                                "video/mp4": {"schema": {"type": "string", "format": "binary"}}
                            },
                        },
                        "403": _error("Missing or invalid signature."),
                        "404": _error("No such video."),
                        "410": _error("The URL has expired."),
                        "416": _error("The byte range is not satisfiable."),
                    },
                }
            },
            "/_sandbox/stats": {
                "get": {
                    "operationId": "getSandboxStats",
                    "summary": "Requests, injected faults and jobs seen for this API key",
                    "security": [{"bearerAuth": []}],
                    "responses": {
                        "200": {
                            "description": "Counters.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "401": _error("Missing or unknown API key."),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "VideoRequest": {
                    "type": "object",
                    "required": ["model", "prompt"],
                    "additionalProperties": False,
                    "properties": _parameter_schemas(),
                },
                "Job": _job_schema(),
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["type", "message"],
                            "properties": {
                                "type": {"type": "string"},
                                "message": {"type": "string"},
                                "param": {"type": "string"},
                            },
                        }
                    },
                },
            },
        },
    }
    if server_url is not None:
        document["servers"] = [{"url": server_url}]
    return document
