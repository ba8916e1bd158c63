#!/usr/bin/env python3
"""Test oracle for ast-web's /metrics (used by WebTests.swift): fetches the exposition, parses it
with prometheus_client's text-format parser (an independent implementation), checks the naming
conventions (ast_ prefix, a process label on every sample, counters ending in _total, no family
twice), and, given a rules file, that every metric an alert expression names is exported.
Prints one JSON summary line: the content type, the samples (name, labels, value), the family types,
the rules checked and every error found.
Usage: metrics_check.py BASE_URL [RULES_FILE]"""
import json
import re
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

base = sys.argv[1]
rules_file = sys.argv[2] if len(sys.argv) > 2 else None
summary = {"errors": [], "samples": [], "types": {}, "rules": {}}

deadline = time.time() + 30
while True:  # ast-web reports ready before its listener may be up
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=30) as r:
            summary["status"] = r.status
            summary["content_type"] = r.headers.get("Content-Type", "")
            text = r.read().decode("utf-8")
        break
    except OSError:
        if time.time() > deadline:
            raise
        time.sleep(0.2)

# A family may appear only once in an exposition (the merge must group every process's samples).
declared = re.findall(r"^# TYPE (\S+) ", text, flags=re.M)
twice = sorted({n for n in declared if declared.count(n) > 1})
if twice:
    summary["errors"].append("families declared twice: %s" % twice)

names = set()
try:
    for family in text_string_to_metric_families(text):
        summary["types"][family.name] = family.type
        if not family.name.startswith("ast_"):
            summary["errors"].append("family without the ast_ prefix: " + family.name)
        for s in family.samples:
            names.add(s.name)
            if family.type == "counter" and not (s.name.endswith("_total") or s.name.endswith("_created")):
                summary["errors"].append("counter sample not ending in _total: " + s.name)
            if "process" not in s.labels:
                summary["errors"].append("sample without a process label: %s %s" % (s.name, s.labels))
            summary["samples"].append([s.name, s.labels, s.value])
except Exception as e:  # the parser refused the text
    summary["errors"].append("prometheus_client could not parse /metrics: %r" % e)

if rules_file:
    import yaml
    with open(rules_file) as f:
        doc = yaml.safe_load(f)
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            expr = rule.get("expr", "")
            used = set(re.findall(r"\bast_[a-zA-Z0-9_]+", expr))
            missing = sorted(m for m in used if m not in names and m not in summary["types"])
            summary["rules"][rule.get("alert", "?")] = sorted(used)
            if not used:
                summary["errors"].append("rule %s names no ast_ metric" % rule.get("alert"))
            if missing:
                summary["errors"].append("rule %s names metrics /metrics does not export: %s" % (rule.get("alert"), missing))

print(json.dumps(summary))
