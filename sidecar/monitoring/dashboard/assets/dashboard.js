// The dashboard page: charts of the last 24 hours (GET /dashboard/api/metrics, hourly buckets), the live
// feed (SSE /dashboard/api/feed, one frame a second), recent failures and an execution's waterfall.
// Everything comes from this backend with the session cookie; nothing is loaded from elsewhere.
"use strict";

const CSRF = document.querySelector('meta[name="csrf"]').content;
const HOUR = 3600 * 1000;
const COLORS = ["#5a8dee", "#e0a33b", "#4cc38a", "#d45fd1", "#e05a5a", "#49b6c9", "#b8b84a", "#9a7ee6"];
const MAX_WORKFLOW_SERIES = 8;
const LIVE_POINTS = 120;

const state = { metrics: null, charts: {}, live: null, liveData: [[], [], []], runs: [], lastFailure: null };

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("data-")) node.setAttribute(name, value);
    else node[name] = value;
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
}

async function api(path) {
  const reply = await fetch("/dashboard/api/" + path, { credentials: "same-origin" });
  if (reply.status === 401) {
    location.reload();
    throw new Error("signed out");
  }
  if (!reply.ok) throw new Error(`${path}: HTTP ${reply.status}`);
  return reply.json();
}

function chartWidth(target) {
  return Math.max(320, target.clientWidth || target.parentElement.clientWidth || 560);
}

function drawChart(key, target, data, series, options = {}) {
  const old = state.charts[key];
  if (old) old.destroy();
  const chart = new uPlot(
    {
      width: chartWidth(target),
      height: 150,
      series: [{}, ...series],
      scales: { x: { time: true } },
      axes: [{ stroke: "#889", grid: { stroke: "#2c3038" } }, { stroke: "#889", grid: { stroke: "#2c3038" } }],
      legend: { live: false },
      ...options,
    },
    data,
    target,
  );
  target.dataset.points = String(data[0].length);
  state.charts[key] = chart;
  return chart;
}

// ---- the last 24 hours ------------------------------------------------------------------------------

async function loadMetrics() {
  const to = Date.now();
  const from = Math.floor((to - 23 * HOUR) / HOUR) * HOUR;
  const workflow = document.getElementById("workflow").value;
  const query = new URLSearchParams({ from: String(from), to: String(to), bucket: "hour", groupBy: "workflowId", nodes: "false" });
  if (workflow) query.set("workflowId", workflow);
  const metrics = await api("metrics?" + query);
  state.metrics = metrics;
  renderMetrics(metrics, from, to);
}

function renderMetrics(metrics, from, to) {
  const hours = [];
  for (let start = from; start < to; start += HOUR) hours.push(start);
  const byWorkflow = new Map();
  for (const item of metrics.series) {
    if (!byWorkflow.has(item.workflowId)) byWorkflow.set(item.workflowId, new Map());
    byWorkflow.get(item.workflowId).set(item.start, item);
  }
  const totals = [...byWorkflow.entries()]
    .map(([id, cells]) => [id, [...cells.values()].reduce((sum, cell) => sum + cell.runs, 0)])
    .sort((a, b) => b[1] - a[1]);
  const shown = totals.slice(0, MAX_WORKFLOW_SERIES).map(([id]) => id);
  updateWorkflowChoices(totals.map(([id]) => id));
  const x = hours.map((start) => start / 1000);
  const column = (id, pick) => hours.map((start) => {
    const cell = byWorkflow.get(id).get(start);
    return cell ? pick(cell) : null;
  });
  const series = shown.map((id, index) => ({ label: id, stroke: COLORS[index % COLORS.length], width: 2, points: { show: true } }));
  drawChart("runs", document.getElementById("chart-runs"), [x, ...shown.map((id) => column(id, (c) => c.runs))], series);
  drawChart("errors", document.getElementById("chart-errors"), [x, ...shown.map((id) => column(id, (c) => c.errorRate * 100))], series);
  drawChart("p95", document.getElementById("chart-p95"), [x, ...shown.map((id) => column(id, (c) => c.p95Ms))], series);
  renderWorkflowTable(byWorkflow);
}

function renderWorkflowTable(byWorkflow) {
  const body = document.querySelector("#workflows tbody");
  body.replaceChildren();
  for (const [id, cells] of byWorkflow) {
    let runs = 0, errors = 0, p95 = null;
    for (const cell of cells.values()) {
      runs += cell.runs;
      errors += cell.errors;
      p95 = Math.max(p95 ?? 0, cell.p95Ms ?? 0);
    }
    const rate = runs ? ((100 * errors) / runs).toFixed(1) + " %" : "–";
    body.append(element("tr", { "data-workflow": id }, element("td", {}, id), element("td", { class: "runs" }, runs),
      element("td", {}, errors), element("td", {}, rate), element("td", {}, p95 === null ? "–" : Math.round(p95))));
  }
}

function updateWorkflowChoices(ids) {
  const select = document.getElementById("workflow");
  const known = new Set([...select.options].map((option) => option.value));
  for (const id of ids) if (!known.has(id)) select.append(element("option", { value: id }, id));
}

// ---- live ---------------------------------------------------------------------------------------------

function connectFeed() {
  const connection = document.getElementById("connection");
  const source = new EventSource("/dashboard/api/feed");
  source.addEventListener("open", () => { connection.textContent = "live"; connection.className = "ok"; });
  source.addEventListener("error", () => { connection.textContent = "reconnecting…"; connection.className = "bad"; });
  source.addEventListener("tick", (message) => onFrame(JSON.parse(message.data)));
}

function onFrame(frame) {
  document.getElementById("runs-per-second").textContent = frame.runsPerSecond;
  document.getElementById("errors-per-second").textContent = frame.errors;
  document.getElementById("live-p95").textContent = frame.p95Ms === null ? "–" : Math.round(frame.p95Ms) + " ms";
  document.getElementById("in-flight").textContent = frame.inFlight;
  const [xs, runs, errors] = state.liveData;
  xs.push(frame.at / 1000);
  runs.push(frame.runsPerSecond);
  errors.push(frame.errors);
  if (xs.length > LIVE_POINTS) { xs.shift(); runs.shift(); errors.shift(); }
  if (!state.live) {
    state.live = drawChart("live", document.getElementById("live-chart"), state.liveData, [
      { label: "runs/s", stroke: COLORS[0], width: 2 },
      { label: "errors/s", stroke: COLORS[4], width: 2 },
    ], {
      // The last two minutes, whatever has arrived so far (from the data: uPlot widens a lone point's
      // range by itself before asking); counts from zero.
      scales: {
        x: { time: true, range: (u) => { const last = u.data[0][u.data[0].length - 1]; return [last - LIVE_POINTS, last]; } },
        y: { range: (_u, _min, max) => [0, Math.max(1, max)] },
      },
    });
  } else {
    state.live.setData(state.liveData);
    document.getElementById("live-chart").dataset.points = String(xs.length);
  }
  if (frame.latestRuns.length) addRuns(frame.latestRuns);
  const newest = frame.latestFailures[0];
  if (newest && newest.executionId !== state.lastFailure) {
    state.lastFailure = newest.executionId;
    loadFailures();
  }
  if (frame.runsPerSecond > 0) scheduleMetrics();
}

let metricsTimer = null;
function scheduleMetrics() {
  if (metricsTimer !== null) return;
  metricsTimer = setTimeout(() => { metricsTimer = null; loadMetrics().catch(showError); }, 3000);
}

function addRuns(latest) {
  const seen = new Set(state.runs.map((run) => run.executionId));
  for (const run of [...latest].reverse()) if (!seen.has(run.executionId)) state.runs.unshift(run);
  state.runs = state.runs.slice(0, 20);
  const body = document.querySelector("#latest-runs tbody");
  body.replaceChildren(...state.runs.map((run) => {
    const row = element("tr", { class: "clickable", "data-execution": run.executionId },
      element("td", {}, run.executionId), element("td", {}, run.workflowId),
      element("td", { class: run.status === "success" ? "ok" : "bad" }, run.status), element("td", {}, run.durationMs ?? ""));
    row.addEventListener("click", () => openTimeline(run.executionId));
    return row;
  }));
}

// ---- failures and the waterfall -----------------------------------------------------------------------

async function loadFailures() {
  const found = await api("failures");
  const body = document.querySelector("#failures tbody");
  body.replaceChildren(...found.executions.map((execution) => {
    const row = element("tr", { class: "clickable", "data-execution": execution.id },
      element("td", {}, new Date(execution.startedAt).toLocaleTimeString()), element("td", {}, execution.workflowId),
      element("td", { class: "error" }, execution.errorMessage ?? ""), element("td", {}, execution.durationMs ?? ""));
    row.addEventListener("click", () => openTimeline(execution.id));
    return row;
  }));
}

async function openTimeline(executionId) {
  const execution = await api("executions/" + encodeURIComponent(executionId));
  const section = document.getElementById("timeline");
  document.getElementById("timeline-id").textContent = execution.id;
  document.getElementById("timeline-summary").textContent =
    `${execution.workflowId} · ${execution.status} · ${execution.durationMs ?? "?"} ms · ${execution.steps.length} steps` +
    (execution.errorMessage ? ` · ${execution.errorMessage}` : "");
  const start = execution.startedAt;
  const end = Math.max(start + (execution.durationMs || 0), ...execution.steps.map((s) => s.startedAt + (s.durationMs || 0)));
  const span = Math.max(1, end - start);
  const rows = [];
  for (const step of execution.steps) {
    const left = (100 * (step.startedAt - start)) / span;
    const width = Math.max(0.5, (100 * (step.durationMs || 0)) / span);
    const bar = element("div", { class: "bar", title: `${step.nodeType} ${step.durationMs ?? 0} ms` });
    bar.style.left = left.toFixed(2) + "%";
    bar.style.width = Math.min(width, 100 - left).toFixed(2) + "%";
    const name = step.nodeName || step.nodeType || step.nodeId;
    rows.push(element("div", { class: "step " + step.status, "data-node": step.nodeId },
      element("span", { class: "name", title: step.nodeId }, name), element("div", { class: "track" }, bar),
      element("span", { class: "ms" }, (step.durationMs ?? 0) + " ms")));
    if (step.errorMessage) rows.push(element("div", { class: "step-error" }, step.errorMessage));
  }
  document.getElementById("waterfall").replaceChildren(...rows);
  section.hidden = false;
  section.scrollIntoView({ block: "nearest" });
}

function showError(error) {
  const connection = document.getElementById("connection");
  connection.textContent = String(error.message || error);
  connection.className = "bad";
}

document.getElementById("timeline-close").addEventListener("click", () => { document.getElementById("timeline").hidden = true; });
document.getElementById("workflow").addEventListener("change", () => loadMetrics().catch(showError));
document.getElementById("logout").addEventListener("click", async () => {
  await fetch("/dashboard/logout", { method: "POST", headers: { "X-CSRF-Token": CSRF }, credentials: "same-origin" });
  location.reload();
});

loadMetrics().catch(showError);
loadFailures().catch(showError);
connectFeed();
setInterval(() => loadMetrics().catch(showError), 60_000);
