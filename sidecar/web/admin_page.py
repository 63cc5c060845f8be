"""``GET /_admin``: the backend's own dashboard page, what the editor's ``backend:open-dashboard`` opens.

The page holds no data: it is static HTML that reads the admin token from the URL fragment the editor
puts there (``#token=…&route=…``), keeps it in ``sessionStorage``, scrubs it from the address bar and
calls the admin routes with it. So the page itself is public, like ``/health``; every figure it shows
comes from a route that checks the token.
"""

from __future__ import annotations

from aiohttp import web

_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Backend</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:0;background:#1b1b1b;color:#ddd}
header{padding:12px 20px;background:#111;display:flex;gap:16px;align-items:baseline}
h1{font-size:16px;margin:0}h2{font-size:14px;margin:20px 0 6px}
main{padding:0 20px 40px}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #333;padding:4px 8px;text-align:left}.muted{color:#888}
.bad{color:#f77}input{background:#222;color:#ddd;border:1px solid #444;padding:4px}
</style></head>
<body><header><h1 id="title">Backend</h1><span id="who" class="muted"></span></header>
<main>
<form id="signin" hidden><p>Paste the backend's admin token (from its <code>secrets.json</code>):</p>
<input id="token" type="password" size="40"> <button>Open</button></form>
<p id="error" class="bad"></p>
<section id="content" hidden>
<h2>Status</h2><div id="status"></div>
<h2>Tables</h2><table id="tables"></table>
<h2>Triggers</h2><table id="triggers"></table>
<h2>Recent runs</h2><table id="runs"></table>
</section></main>
<script>
"use strict";
const KEY = "noodl-sidecar-admin-token";
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get("token")) {
  sessionStorage.setItem(KEY, fragment.get("token"));
  const route = fragment.get("route");
  history.replaceState(null, "", location.pathname + (route ? "#" + route : ""));
}
const text = (value) => document.createTextNode(value == null ? "" : String(value));
function rows(table, head, items) {
  const el = document.getElementById(table); el.replaceChildren();
  const tr = el.insertRow();
  head.forEach((h) => { const th = document.createElement("th"); th.append(text(h)); tr.append(th); });
  if (!items.length) { el.insertRow().insertCell().append(text("none")); return; }
  items.forEach((cells) => {
    const r = el.insertRow(); cells.forEach((c) => r.insertCell().append(text(c)));
  });
}
async function api(path) {
  const res = await fetch(path, { headers: { Authorization: "Bearer " + sessionStorage.getItem(KEY) } });
  const body = await res.json();
  if (!res.ok) throw Object.assign(new Error(body.error || res.statusText), { status: res.status });
  return body;
}
async function load() {
  if (!sessionStorage.getItem(KEY)) { document.getElementById("signin").hidden = false; return; }
  try {
    const who = await api("/_admin/whoami");
    document.getElementById("title").textContent = who.backendName;
    document.getElementById("who").textContent =
      who.backendId + (who.projectDir ? " \\u00b7 " + who.projectDir : "");
    const status = await api("/admin/status");
    document.getElementById("status").textContent =
      (status.ok ? "running" : "not running") + ", " + status.persistence.mode + ", " +
      status.workflows.functions.length + " cloud function(s)";
    const schema = await api("/admin/schema");
    const columns = (t) => t.columns.map((c) => c.name + ":" + c.type).join(", ");
    rows("tables", ["table", "columns"], schema.tables.map((t) => [t.name, columns(t)]));
    const triggers = await api("/admin/triggers");
    rows("triggers", ["id", "type", "enabled"], triggers.triggers.map((t) => [t.id, t.type, t.enabled]));
    const runs = await api("/executions?limit=20");
    const when = (r) => new Date(r.startedAt).toLocaleString();
    const run = (r) => [when(r), r.workflowName || r.workflowId, r.status];
    rows("runs", ["started", "workflow", "status"], runs.map(run));
    document.getElementById("content").hidden = false;
  } catch (e) {
    document.getElementById("error").textContent = e.message;
    if (e.status === 401) {
      sessionStorage.removeItem(KEY); document.getElementById("signin").hidden = false;
    }
  }
}
document.getElementById("signin").addEventListener("submit", (ev) => {
  ev.preventDefault(); sessionStorage.setItem(KEY, document.getElementById("token").value);
  document.getElementById("signin").hidden = true; document.getElementById("error").textContent = ""; load();
});
load();
</script></body></html>
"""


async def dashboard(_request: web.Request) -> web.StreamResponse:
    return web.Response(text=PAGE, content_type="text/html", charset="utf-8", headers=_HEADERS)


ROUTES = [web.get("/_admin", dashboard), web.get("/_admin/", dashboard)]
