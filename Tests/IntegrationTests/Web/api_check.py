#!/usr/bin/env python3
"""Test oracle for ast-web's JSON API (used by WebTests.swift): fetches every read endpoint and
validates the answer against the OpenAPI document the server serves (OpenAPI 3.1: its schemas
are JSON Schema 2020-12, checked with jsonschema), then tries the operator actions without a
token, with a wrong one, cross-origin, and with the right one. Prints one JSON summary line.
Usage: api_check.py BASE_URL TOKEN HALT_REASON"""
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

import jsonschema

base, token, reason = sys.argv[1], sys.argv[2], sys.argv[3]
summary = {"validated": {}, "errors": [], "refusals": {}, "headers": {}}


def call(method, path, body=None, headers=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


import time
deadline = time.time() + 30
while True:  # ast-web reports ready before its listener may be up
    try:
        status, headers, raw = call("GET", "/api/v1/openapi.json")
        break
    except OSError:
        if time.time() > deadline:
            raise
        time.sleep(0.2)
doc = json.loads(raw)
summary["headers"] = {k.lower(): v for k, v in headers.items() if k.lower() in
                      ("content-security-policy", "x-frame-options", "x-content-type-options")}


def validate(path, method, code, body):
    op = doc["paths"][path][method]
    schema = op["responses"][str(code)]["content"]["application/json"]["schema"]
    wrapper = {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": doc["components"], **schema}
    try:
        jsonschema.validate(json.loads(body), wrapper, cls=jsonschema.Draft202012Validator)
        summary["validated"][f"{method.upper()} {path} {code}"] = True
    except Exception as e:  # noqa: BLE001 - reported, the Swift test fails on it
        summary["errors"].append(f"{method.upper()} {path} {code}: {str(e)[:800]}")


for path in ["/status", "/positions", "/orders", "/equity", "/alerts"]:
    code, _, body = call("GET", "/api/v1" + path)
    if str(code) not in doc["paths"][path]["get"]["responses"]:
        summary["errors"].append(f"GET {path}: undocumented status {code}: {body[:300]!r}")
        continue
    if code != 200:
        summary["errors"].append(f"GET {path}: {code} {body[:300]!r}")
    validate(path, "get", code, body)

# Today's intents and decisions, the replay timeline of one intent, the reports (M15 pages).
code, _, body = call("GET", "/api/v1/intents")
validate("/intents", "get", code, body)
intents = json.loads(body).get("intents", []) if code == 200 else []
summary["intents"] = len(intents)
summary["decisions"] = sorted({i["decision"] for i in intents})
summary["reason_codes"] = sorted({i["reason_code"] for i in intents if "reason_code" in i})
if intents:
    cid = intents[0]["intent_id"]
    code, _, body = call("GET", "/api/v1/timeline?correlation=" + urllib.parse.quote(cid))
    validate("/timeline", "get", code, body)
    summary["timeline_kinds"] = sorted({e["kind"] for e in json.loads(body).get("events", [])}) if code == 200 else []
code, _, body = call("GET", "/api/v1/timeline?correlation=" + urllib.parse.quote("<script>"))
summary["timeline_bad_id"] = code
validate("/timeline", "get", code, body)
code, _, body = call("GET", "/api/v1/reports")
validate("/reports", "get", code, body)
summary["reports"] = {r["name"]: r["kind"] for r in json.loads(body).get("reports", [])} if code == 200 else {}
for name in summary["reports"]:
    code, _, body = call("GET", "/api/v1/reports/" + name)
    validate("/reports/{name}", "get", code, body)
code, _, body = call("GET", "/api/v1/reports/escape")
summary["report_escape"] = code
if str(code) in doc["paths"]["/reports/{name}"]["get"]["responses"]:
    validate("/reports/{name}", "get", code, body)
code, _, body = call("GET", "/reports/backtest-web/report.md")
summary["inside"] = [code, body.decode(errors="replace")]
# Never a byte outside the reports directory: `..` in every spelling, symlinks to a directory and
# to a file outside it (the Swift test made them; their target holds OUTSIDE-SECRET).
summary["outside"] = {}
for path in ["/reports/../../etc/passwd", "/reports/..%2F..%2Fetc/passwd", "/reports/%2e%2e/secret.md",
             "/reports/backtest-web/..%2F..%2Foutside%2Fsecret.md", "/reports/escape/secret.md",
             "/reports/backtest-web/leak.md", "/reports/backtest-web/%2e%2e", "/reports/..", "/reports/escape",
             "/reports/backtest-web/../../../outside/secret.md", "/reports/%2Fetc/passwd"]:
    code, _, body = call("GET", path)
    summary["outside"][path] = [code, b"OUTSIDE-SECRET" in body or b"root:" in body]

# Refusals: no token, a wrong token, the right token from another origin.
for name, hdrs in [("none", {}), ("wrong", {"Authorization": "Bearer wrong-" + token}),
                   ("cross_origin", {"Authorization": "Bearer " + token, "Origin": "http://evil.example"}),
                   ("cross_site", {"Authorization": "Bearer " + token, "Sec-Fetch-Site": "cross-site"})]:
    code, _, body = call("POST", "/api/v1/halt", {"reason": "must be refused"}, hdrs)
    summary["refusals"][name] = code
    if str(code) in doc["paths"]["/halt"]["post"]["responses"]:
        validate("/halt", "post", code, body)

code, _, body = call("POST", "/api/v1/halt", {"reason": reason}, {"Authorization": "Bearer " + token})
summary["halt"] = code
validate("/halt", "post", code, body)
summary["halt_state"] = json.loads(body).get("safe_mode", {}).get("state")
code, _, body = call("GET", "/api/v1/status")
summary["status_after_halt"] = json.loads(body).get("safe_mode", {}).get("state")
print(json.dumps(summary))
