#!/usr/bin/env python3
"""check_chart.py -- static checks of deploy/helm/quiver (no helm needed).

1. Chart.yaml and values.yaml parse and have the required fields.
2. Every .Values path a template uses exists in values.yaml.
3. Template blocks balance (if/range/with/define ... end) in every file.
4. Every configuration the chart hands Quiver names a real key: each
   QUIVER_* environment variable and each key under values.config, checked
   against common/config/config_keys.c (the one table of keys).
5. Each template, with its template actions replaced by placeholders, is
   valid YAML (catches indentation mistakes in the static parts).

Usage: check_chart.py <repo root>.  Prints one line per check and exits 1 on
the first failure.
"""
import os
import re
import sys

import yaml


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def config_keys(root):
    text = open(os.path.join(root, "common/config/config_keys.c")).read()
    keys = set(re.findall(r'^\s*\{"([A-Za-z0-9_.]+)",', text, re.M))
    if len(keys) < 20:
        fail("found only %d config keys in config_keys.c" % len(keys))
    return keys


def env_name(key):
    return "QUIVER_" + key.replace(".", "_").upper()


def flatten(d, prefix=""):
    out = []
    for k, v in d.items():
        path = prefix + "." + k if prefix else k
        if isinstance(v, dict):
            out += flatten(v, path)
        else:
            out.append(path)
    return out


def has_path(values, path):
    cur = values
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return False
        cur = cur[part]
    return True


def placeholder_render(text):
    """Template actions out: multi-line and whole-line actions dropped,
    inline ones -> X."""
    text = re.sub(r"\{\{(?:(?!\}\}).)*\n(?:(?!\}\}).)*\}\}", "", text,
                  flags=re.S)
    lines = []
    for line in text.split("\n"):
        stripped = line.strip()
        if re.fullmatch(r"\{\{-?.*?-?\}\}", stripped) and \
                stripped.count("{{") == 1:
            continue  # a control line or an include with nindent
        lines.append(re.sub(r"\{\{-?.*?-?\}\}", "X", line))
    return "\n".join(lines)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    chart = os.path.join(root, "deploy/helm/quiver")
    meta = yaml.safe_load(open(os.path.join(chart, "Chart.yaml")))
    for f in ("apiVersion", "name", "version", "appVersion"):
        if not meta.get(f):
            fail("Chart.yaml lacks " + f)
    values = yaml.safe_load(open(os.path.join(chart, "values.yaml")))
    print("ok: Chart.yaml and values.yaml parse")

    keys = config_keys(root)
    envs = {env_name(k) for k in keys}
    tdir = os.path.join(chart, "templates")
    used_values = set()
    quiver_envs = set()
    for name in sorted(os.listdir(tdir)):
        text = open(os.path.join(tdir, name)).read()
        used_values |= set(re.findall(r"\.Values\.([A-Za-z0-9_.]+)", text))
        quiver_envs |= set(re.findall(r"\bQUIVER_[A-Z0-9_]+", text))
        opens = len(re.findall(r"\{\{-?\s*(if|range|with|define)\b", text))
        ends = len(re.findall(r"\{\{-?\s*end\s*-?\}\}", text))
        if opens != ends:
            fail("%s: %d blocks opened, %d ended" % (name, opens, ends))
        if name.endswith(".yaml"):
            try:
                list(yaml.safe_load_all(placeholder_render(text)))
            except yaml.YAMLError as e:
                fail("%s is not valid YAML once rendered: %s" % (name, e))
    print("ok: template blocks balance; templates are YAML")
    for path in sorted(used_values):
        if not has_path(values, path):
            fail("templates use .Values.%s, which values.yaml lacks" % path)
    print("ok: %d .Values paths exist" % len(used_values))

    # Role sections are spelled QUIVER_<SECTION>_... in roles.yaml.
    roles = {"COORD": "coord", "QUERYNODE": "queryNode",
             "DATANODE": "dataNode", "INDEXNODE": "indexNode",
             "PROXY": "proxy"}
    for sec, cfg in roles.items():
        for k in ("listenAddress", "port", "advertiseAddress"):
            if sec == "PROXY" and k == "advertiseAddress":
                continue
            if cfg + "." + k not in keys:
                fail("roles.yaml sets %s.%s, which is no config key" % (cfg, k))
    for e in sorted(quiver_envs):
        if e not in envs and not e.endswith("_"):
            fail("templates set %s, which names no config key" % e)
    for path in flatten(values.get("config") or {}):
        if path not in keys:
            fail("values.config.%s is no config key" % path)
    print("ok: %d QUIVER_* variables and %d config values are real keys"
          % (len(quiver_envs), len(flatten(values.get("config") or {}))))
    print("chart check passed")


if __name__ == "__main__":
    main()
