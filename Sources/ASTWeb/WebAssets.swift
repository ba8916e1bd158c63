/// The dashboard's script and style sheet, served by ast-web itself (`/static/...`): the
/// Content-Security-Policy allows scripts and styles from this origin only, never inline.
enum WebAssets {
    static let script = #"""
        "use strict";
        (function () {
          var live = document.getElementById("live");
          var source = new EventSource("/events");
          source.addEventListener("open", function () { live.textContent = "live: connected"; document.body.dataset.live = "1"; });
          source.addEventListener("error", function () { live.textContent = "live: reconnecting"; });
          source.addEventListener("safemode", function (e) {
            var d = JSON.parse(e.data);
            var el = document.getElementById("safe-mode");
            if (el) { el.textContent = d.state; el.className = "state-" + d.state; }
            var c = document.getElementById("safe-mode-cause");
            if (c) { c.textContent = d.cause + " since " + d.since; }
          });
          source.addEventListener("fill", function (e) {
            var d = JSON.parse(e.data);
            var body = document.getElementById("fills-body");
            if (!body) { return; }
            var empty = body.querySelector("tr.empty");
            if (empty) { empty.remove(); }
            var tr = document.createElement("tr");
            [d.at, d.symbol, d.side, String(d.quantity), d.price, d.execution_id].forEach(function (v) {
              var td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
            });
            body.insertBefore(tr, body.firstChild);
          });
          document.querySelectorAll("form.action").forEach(function (form) {
            form.addEventListener("submit", function (ev) {
              ev.preventDefault();
              var data = {};
              ["reason", "to"].forEach(function (k) { var f = form.querySelector("[name=" + k + "]"); if (f && f.value) { data[k] = f.value; } });
              fetch(form.getAttribute("action"), {
                method: "POST",
                headers: { "Authorization": "Bearer " + form.querySelector("[name=token]").value, "Content-Type": "application/json" },
                body: JSON.stringify(data)
              }).then(function (r) { return r.text().then(function (t) { document.getElementById("action-result").textContent = r.status + " " + t; }); });
            });
          });
        })();
        """#

    static let icon = """
        <svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect width="16" height="16" fill="#24292f"/>\
        <polyline points="2,12 6,8 9,10 14,3" fill="none" stroke="#2da44e" stroke-width="2"/></svg>
        """

    static let style = """
        body { font-family: sans-serif; margin: 0; color: #222; background: #f6f8fa; }
        header { background: #24292f; color: #fff; padding: 8px 16px; }
        header a { color: #9ecbff; margin-right: 12px; }
        #live { float: right; }
        main { padding: 16px; }
        table { border-collapse: collapse; background: #fff; margin-bottom: 16px; }
        th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; }
        .state-ACTIVE { background: #2da44e; color: #fff; padding: 2px 6px; }
        .state-SAFE_REDUCING { background: #bf8700; color: #fff; padding: 2px 6px; }
        .state-HALTED { background: #cf222e; color: #fff; padding: 2px 6px; }
        .state-UNKNOWN { background: #57606a; color: #fff; padding: 2px 6px; }
        .error { color: #cf222e; }
        form.action { margin: 6px 0; }
        """
}
