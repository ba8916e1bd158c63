#!/usr/bin/env python3
"""Test oracle for ast-web's pages in a real browser (used by WebTests.swift): headless Chromium
driven over the DevTools protocol on a pipe (--remote-debugging-pipe: no port, no extra package).
Loads every page, takes a screenshot of each (checked non-blank: many distinct colours), records
every request the pages make (all must be to the dashboard's own origin) and every console or
CSP complaint; then, on the tree page with its live updates connected, runs the halt command
given after `--` and measures how long the page takes to show HALTED without a reload.
Usage: browser_check.py CHROMIUM BASE_URL OUT_DIR -- HALT_COMMAND...  Prints one JSON line."""
import base64
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib

chromium, base, out_dir = sys.argv[1], sys.argv[2], sys.argv[3]
halt = sys.argv[sys.argv.index("--") + 1:]
r_cmd, w_cmd = os.pipe()   # we write commands -> chromium's fd 3
r_ev, w_ev = os.pipe()     # chromium's fd 4 -> we read
profile = tempfile.mkdtemp(prefix="ast-web-chromium-")


def child_fds():
    os.dup2(r_cmd, 3)
    os.dup2(w_ev, 4)


proc = subprocess.Popen(
    [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
     "--disable-background-networking", "--disable-component-update", "--disable-sync", "--metrics-recording-only",
     "--no-default-browser-check", "--remote-debugging-pipe", f"--user-data-dir={profile}",
     "--window-size=1200,900", "about:blank"],
    preexec_fn=child_fds, pass_fds=(3, 4, r_cmd, w_ev), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    env={"HOME": profile, "PATH": "/usr/bin:/bin"})
os.close(r_cmd)
os.close(w_ev)
buf = b""
next_id = 0
events = []
summary = {"pages": {}, "requests": [], "foreign": [], "console": [], "halt": None}


def read_message(timeout):
    global buf
    import select
    deadline = time.time() + timeout
    while b"\0" not in buf:
        left = deadline - time.time()
        if left <= 0:
            return None
        ready, _, _ = select.select([r_ev], [], [], left)
        if ready:
            chunk = os.read(r_ev, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            buf += chunk
    msg, buf = buf.split(b"\0", 1)
    return json.loads(msg)


def handle_event(m):
    method = m.get("method")
    if method == "Network.requestWillBeSent":
        url = m["params"]["request"]["url"]
        if not url.startswith("data:"):
            summary["requests"].append(url)
        if not (url.startswith(base + "/") or url == base or url.startswith("data:") or url.startswith("about:")):
            summary["foreign"].append(url)
    elif method in ("Runtime.consoleAPICalled", "Log.entryAdded", "Runtime.exceptionThrown"):
        summary["console"].append(json.dumps(m["params"])[:400])
    events.append(method)


def send(method, params=None, session=None, timeout=30):
    global next_id
    next_id += 1
    msg = {"id": next_id, "method": method, "params": params or {}}
    if session:
        msg["sessionId"] = session
    os.write(w_cmd, json.dumps(msg).encode() + b"\0")
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = read_message(deadline - time.time())
        if m is None:
            break
        if m.get("id") == next_id:
            if "error" in m:
                raise RuntimeError(f"{method}: {m['error']}")
            return m.get("result", {})
        handle_event(m)
    raise RuntimeError(f"{method}: no answer in {timeout} s")


def wait_event(name, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = read_message(deadline - time.time())
        if m is None:
            break
        handle_event(m)
        if m.get("method") == name:
            return True
    return False


def evaluate(session, expr):
    r = send("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session)
    return r.get("result", {}).get("value")


def png_colours(data):
    """Distinct colours of a PNG (8-bit RGB or RGBA, not interlaced), sampled on every 4th pixel."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and ctype in (2, 6)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    bpp = 4 if ctype == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    colours = set()
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        if y % 4 == 0:
            for x in range(0, width, 4):
                colours.add(bytes(line[x * bpp:x * bpp + 3]))
        prev = line
    return len(colours)


try:
    target = send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Network", "Runtime", "Log"):
        send(f"{domain}.enable", {}, session)
    for path in ["/", "/positions", "/intents", "/fills", "/equity", "/alerts", "/timeline", "/reports"]:
        send("Page.navigate", {"url": base + path}, session)
        loaded = wait_event("Page.loadEventFired", 30)
        shot = base64.b64decode(send("Page.captureScreenshot", {"format": "png"}, session)["data"])
        name = "page" + path.replace("/", "_") + ".png"
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(shot)
        summary["pages"][path] = {"loaded": loaded, "colours": png_colours(shot), "bytes": len(shot),
                                  "title": evaluate(session, "document.title")}
    # Live update: the tree page, its event stream connected, then a halt from outside the page.
    send("Page.navigate", {"url": base + "/"}, session)
    wait_event("Page.loadEventFired", 30)
    deadline = time.time() + 20
    while time.time() < deadline and evaluate(session, "document.body.dataset.live") != "1":
        time.sleep(0.05)
    before = evaluate(session, "document.getElementById('safe-mode').textContent")
    navigations_before = events.count("Page.frameNavigated")
    started = time.time()
    subprocess.run(halt, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    after_command = time.time()
    seen = None
    while time.time() < after_command + 15:
        if evaluate(session, "document.getElementById('safe-mode').textContent") == "HALTED":
            seen = time.time()
            break
        time.sleep(0.02)
    summary["halt"] = {"before": before, "shown": seen is not None,
                       "ms_after_command_returned": None if seen is None else int((seen - after_command) * 1000),
                       "ms_after_command_started": None if seen is None else int((seen - started) * 1000),
                       "reloaded": events.count("Page.frameNavigated") != navigations_before}
    send("Browser.close")
finally:
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
print(json.dumps(summary))
