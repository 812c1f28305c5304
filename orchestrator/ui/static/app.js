// Bicameral UI. Everything from the server is rendered with textContent (model output is
// untrusted); no innerHTML anywhere. No external resources.
"use strict";

const CSRF = document.querySelector('meta[name="bicameral-csrf"]').content;

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = String(v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function api(path, options) {
  const opts = Object.assign({ headers: {} }, options || {});
  if (opts.method && opts.method !== "GET") {
    opts.headers["X-Bicameral-CSRF"] = CSRF;
    opts.headers["Content-Type"] = "application/json";
  }
  const res = await fetch(path, opts);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

const fmtTime = (ts) => (ts ? new Date(ts * 1000).toLocaleString() : "-");
const fmtSecs = (s) => (s === null || s === undefined ? "-" : `${Number(s).toFixed(2)}s`);
const fmtCost = (c) => `$${Number(c || 0).toFixed(4)}`;
const statusBadge = (s) => h("span", { class: `status ${s}`, text: s });
const pretty = (v) => (typeof v === "string" ? v : JSON.stringify(v, null, 2));
const app = () => document.getElementById("app");

// -- runs list -------------------------------------------------------------------------------

let listTimer = null;

async function runsPage() {
  const status = h("select", { id: "filter-status" },
    ["", "running", "completed", "interrupted", "failed", "budget_exhausted"].map(
      (s) => h("option", { value: s, text: s || "any status" })));
  const pipeline = h("select", { id: "filter-pipeline" }, h("option", { value: "", text: "any pipeline" }));
  const body = h("tbody", { id: "runs-body" });
  const count = h("span", { class: "muted", id: "runs-count" });
  const params = new URLSearchParams(location.search);
  status.value = params.get("status") || "";
  app().replaceChildren(
    h("h1", { text: "Runs" }),
    h("div", { class: "filters" }, status, pipeline, count),
    h("table", { id: "runs-table" },
      h("thead", {}, h("tr", {}, ["Status", "Pipeline", "Task", "Tokens", "Cost", "Duration", "Started"]
        .map((t) => h("th", { text: t })))),
      body));
  let known = new Set();
  async function refresh() {
    const q = new URLSearchParams();
    if (status.value) q.set("status", status.value);
    if (pipeline.value) q.set("pipeline", pipeline.value);
    const data = await api(`/api/runs?${q}`);
    const names = new Set(data.pipelines);
    if ([...names].some((n) => !known.has(n))) {
      known = names;
      const keep = pipeline.value;
      pipeline.replaceChildren(h("option", { value: "", text: "any pipeline" }),
        data.pipelines.map((n) => h("option", { value: n, text: n })));
      pipeline.value = keep;
    }
    count.textContent = `${data.runs.length} of ${data.total} runs`;
    body.replaceChildren(...data.runs.map((r) => h("tr", {
        class: "run-row", "data-thread": r.thread_id,
        onclick: () => { location.href = `/runs/${encodeURIComponent(r.thread_id)}`; },
      },
      h("td", {}, statusBadge(r.status)),
      h("td", { text: r.pipeline }),
      h("td", {}, h("a", { href: `/runs/${encodeURIComponent(r.thread_id)}`, text: r.task || r.thread_id })),
      h("td", { text: Object.entries(r.tokens).map(([k, v]) => `${k} ${v}`).join(", ") || "-" }),
      h("td", { text: fmtCost(r.cost_usd) }),
      h("td", { text: fmtSecs(r.duration_s) }),
      h("td", { text: fmtTime(r.started_at) }))));
  }
  status.addEventListener("change", refresh);
  pipeline.addEventListener("change", refresh);
  await refresh();
  listTimer = setInterval(() => refresh().catch(() => {}), 2000);
}

// -- run page --------------------------------------------------------------------------------

function spans(events) {
  // Bars from end events: start = end time - duration. Lanes keep overlapping bars apart.
  const bars = [];
  for (const e of events) {
    if (e.kind === "node_end") bars.push({ cls: "node", label: e.node, end: e.ts, dur: e.duration_s || 0 });
    else if (e.kind === "model_call" && e.error) bars.push({ cls: "failed", label: `${e.role} call failed`, detail: e.error, end: e.ts, dur: e.latency_s || 0 });
    else if (e.kind === "model_call") bars.push({ cls: e.role === "planner" || e.role === "reasoner" ? e.role : "other", label: `${e.role} call`, end: e.ts, dur: e.latency_s || 0 });
    else if (e.kind === "tool_call") bars.push({ cls: "tool", label: e.tool, end: e.ts, dur: e.duration_s || 0 });
  }
  for (const b of bars) b.start = b.end - b.dur;
  bars.sort((a, b) => a.start - b.start || b.dur - a.dur);
  const lanes = [];
  for (const b of bars) {
    let lane = lanes.findIndex((end) => end <= b.start + 1e-6);
    if (lane < 0) { lane = lanes.length; lanes.push(0); }
    lanes[lane] = b.end;
    b.lane = lane;
  }
  return { bars, lanes: lanes.length };
}

function gantt(events) {
  const { bars, lanes } = spans(events);
  if (!bars.length) return h("p", { class: "muted", text: "No timed steps recorded." });
  const t0 = Math.min(...bars.map((b) => b.start));
  const t1 = Math.max(...bars.map((b) => b.end));
  const total = Math.max(t1 - t0, 1e-3);
  const rows = [];
  for (let i = 0; i < lanes; i++) rows.push(h("div", { class: "lane" }));
  for (const b of bars) {
    const title = `${b.label}: ${fmtSecs(b.dur)}${b.detail ? ` (${b.detail})` : ""}`;
    const bar = h("div", { class: `bar ${b.cls}`, title, text: `${b.label} ${fmtSecs(b.dur)}` });
    bar.style.left = `${((b.start - t0) / total) * 100}%`;
    bar.style.width = `${Math.max((b.dur / total) * 100, 0.4)}%`;
    rows[b.lane].append(bar);
  }
  const legend = h("div", { class: "legend" }, [["node", "node"], ["planner", "planner call"], ["reasoner", "reasoner call"], ["tool", "tool call"], ...(bars.some((b) => b.cls === "failed") ? [["failed", "failed call"]] : [])]
    .map(([c, t]) => { const i = h("i", { class: `bar ${c}` }); i.style.position = "static"; return h("span", {}, i, t); }));
  return h("div", {}, h("div", { class: "gantt", id: "gantt" }, rows), legend,
    h("p", { class: "muted", text: `Total ${fmtSecs(total)}` }));
}

function tokenChart(run) {
  const usage = run.usage || {};
  const roles = Object.keys(usage);
  if (!roles.length) return h("p", { class: "muted", text: "No model calls." });
  const max = Math.max(...roles.map((r) => (usage[r].prompt_tokens || 0) + (usage[r].completion_tokens || 0)), 1);
  return h("div", { class: "chart", id: "tokens-chart" }, roles.map((role) => {
    const u = usage[role];
    const p = h("div", { class: "prompt", title: `prompt ${u.prompt_tokens}` });
    const c = h("div", { class: "completion", title: `completion ${u.completion_tokens}` });
    p.style.width = `${(u.prompt_tokens / max) * 100}%`;
    c.style.width = `${(u.completion_tokens / max) * 100}%`;
    return h("div", { class: "row" }, h("span", { class: "label", text: role }), h("div", { class: "track" }, p, c),
      h("span", { text: `${u.prompt_tokens} + ${u.completion_tokens} tokens (${u.reasoning_tokens || 0} reasoning), ${u.calls} calls` }));
  }), h("p", { class: "muted", text: `Cost ${fmtCost(run.cost_usd)} · prompt | completion` }));
}

function diffView(events) {
  const edits = events.filter((e) => e.kind === "tool_call" && e.ok !== false && ["apply_edit", "write_file"].includes(e.tool));
  if (!edits.length) return null;
  return h("div", { class: "card diff", id: "diff" }, h("h2", { text: "Changes" }), edits.map((e) => {
    const a = e.arguments || {};
    const lines = [];
    if (e.tool === "apply_edit") {
      for (const l of String(a.search || "").split("\n")) lines.push(h("div", { class: "del", text: `- ${l}` }));
      for (const l of String(a.replace || "").split("\n")) lines.push(h("div", { class: "add", text: `+ ${l}` }));
    } else {
      for (const l of String(a.content || "").split("\n")) lines.push(h("div", { class: "add", text: `+ ${l}` }));
    }
    return h("div", {}, h("strong", { text: a.path || "(file)" }), h("pre", {}, lines));
  }));
}

function runDetail(data) {
  const { run, events, pending } = data;
  const final = [...events].reverse().find((e) => e.kind === "final");
  const result = (final && final.result) || {};
  const enforcement = events.filter((e) => e.kind === "enforcement");
  const tools = events.filter((e) => e.kind === "tool_call");
  const texts = events.filter((e) => e.kind === "text");
  const parts = [
    h("h1", {}, statusBadge(run.status), " ", run.task || run.thread_id),
    h("p", { class: "muted", text: `${run.pipeline} · thread ${run.thread_id} · started ${fmtTime(run.started_at)} · ${fmtSecs(run.duration_s)}` }),
  ];
  parts[0].querySelector(".status").id = "run-status";
  if (pending) {
    const note = h("p", { class: "muted", id: "decision-note" });
    const decide = async (approve) => {
      try {
        await api(`/api/runs/${encodeURIComponent(run.thread_id)}/decision`, { method: "POST", body: JSON.stringify({ approve }) });
        note.textContent = approve ? "Approved; the run continues…" : "Denied; the run continues…";
        for (const b of document.querySelectorAll("#pending button")) b.disabled = true;
        follow(run.thread_id, events.length ? events[events.length - 1].seq : -1);
      } catch (err) { note.textContent = `Could not resume: ${err.message}`; }
    };
    parts.push(h("div", { class: "card pending", id: "pending" },
      h("h2", { text: "Approval needed" }),
      h("p", { text: `The planner wants to call ${pending.tool || "a tool"}:` }),
      h("pre", { text: pretty(pending.arguments || pending) }),
      data.resumable ? h("div", {}, h("button", { class: "approve", id: "approve", onclick: () => decide(true), text: "Approve" }), " ",
        h("button", { class: "deny", id: "deny", onclick: () => decide(false), text: "Deny" }))
        : h("p", { class: "muted", text: "Started outside a pipeline file: resume it where it was started." }),
      note));
  }
  parts.push(h("h2", { text: "Timeline" }), gantt(events));
  parts.push(h("div", { class: "grid2" },
    h("div", { class: "card" }, h("h2", { text: "Tokens and cost" }), tokenChart(run)),
    h("div", { class: "card", id: "answer" }, h("h2", { text: "Answer" }),
      h("pre", { text: result.answer ?? run.answer ?? "(none)" }),
      result.error ? h("p", { class: "errors", text: `${result.error.type}: ${result.error.message}` }) : null,
      (result.outputs || []).length ? h("div", { id: "outputs" }, h("h2", { text: "Structured outputs" }), h("pre", { text: pretty(result.outputs) })) : null)));
  if (texts.length) {
    parts.push(h("h2", { text: "Model text" }), h("div", { id: "texts" }, texts.map((t) => t.reasoning
      ? h("details", { class: "card thinking" }, h("summary", { text: `${t.role} thinking (${t.text.length} chars)` }), h("pre", { text: t.text }))
      : h("div", { class: "card" }, h("strong", { text: t.role }), h("pre", { text: t.text })))));
  }
  parts.push(h("h2", { text: "Schema enforcement" }), h("div", { id: "enforcement" }, enforcement.length
    ? enforcement.map((e) => h("div", { class: "card" },
        h("strong", { text: `${e.schema_name} (${e.role}): ${e.outcome} after ${e.attempts} attempt(s)` }),
        (e.rejections || []).map((r) => h("div", { class: "rejection" },
          h("p", { text: `Attempt ${r.attempt} rejected:` }),
          h("ul", { class: "errors" }, (r.errors || []).map((x) => h("li", { text: x }))),
          h("details", {}, h("summary", { text: "Re-ask sent to the model" }), h("pre", { text: r.reask }))))))
    : h("p", { class: "muted", text: "No enforced outputs." })));
  parts.push(h("h2", { text: "Tool calls" }), tools.length
    ? h("table", { id: "tools" }, h("thead", {}, h("tr", {}, ["Tool", "Arguments", "Result", "Time"].map((t) => h("th", { text: t })))),
      h("tbody", {}, tools.map((t) => h("tr", {},
        h("td", {}, h("strong", { text: t.tool }), t.ok === false ? h("span", { class: "status failed", text: "error" }) : null),
        h("td", {}, h("pre", { text: pretty(t.arguments || {}) })),
        h("td", {}, h("pre", { text: t.summary || "" })),
        h("td", { text: fmtSecs(t.duration_s) })))))
    : h("p", { class: "muted", text: "No tool calls." }));
  parts.push(diffView(events));
  parts.push(h("h2", { text: "Live events" }), h("ul", { id: "live-events" }, liveLog.map((t) => h("li", { text: t }))));
  return parts;
}

function describe(e) {
  switch (e.kind) {
    case "node_start": return `node ${e.node} started`;
    case "node_end": return `node ${e.node} ended (${fmtSecs(e.duration_s)})`;
    case "model_call": return e.error
      ? `${e.role} call failed after ${fmtSecs(e.latency_s)}: ${e.error}`
      : `${e.role} call: ${e.prompt_tokens}+${e.completion_tokens} tokens in ${fmtSecs(e.latency_s)}`;
    case "tool_call": return `tool ${e.tool} ${e.ok === false ? "error" : "ok"}: ${e.summary || ""}`;
    case "enforcement": return `schema ${e.schema_name}: ${e.outcome} after ${e.attempts} attempt(s)`;
    case "text": return `${e.role} ${e.reasoning ? "thinking" : "text"}: ${String(e.text).slice(0, 160)}`;
    case "interrupt": return `approval needed: ${(e.request || {}).tool || ""}`;
    case "final": return `finished: ${(e.result || {}).status}`;
    default: return `${e.kind}`;
  }
}

let source = null;
const liveLog = []; // what arrived over server-sent events, kept across re-renders

function follow(thread, after) {
  if (source) source.close();
  source = new EventSource(`/api/runs/${encodeURIComponent(thread)}/events?after=${after}`);
  source.onmessage = (msg) => {
    const line = describe(JSON.parse(msg.data));
    liveLog.push(line);
    const list = document.getElementById("live-events");
    if (list) list.append(h("li", { text: line }));
  };
  source.addEventListener("end", () => { source.close(); source = null; loadRun(thread, false); });
}

async function loadRun(thread, live) {
  const data = await api(`/api/runs/${encodeURIComponent(thread)}`);
  app().replaceChildren(...runDetail(data).filter(Boolean));
  // A run started from this page is followed from its first event; others from where we are.
  if (live) follow(thread, -1);
  else if (data.run.status === "running") follow(thread, data.events.length ? data.events[data.events.length - 1].seq : -1);
}

// -- new run ---------------------------------------------------------------------------------

async function newRunPage() {
  const select = h("select", { id: "pipeline-select" });
  const task = h("textarea", { id: "task", placeholder: "What should the pipeline do?" });
  const note = h("p", { class: "muted", id: "new-note" });
  const start = h("button", { class: "primary", id: "start", text: "Start run" });
  start.addEventListener("click", async () => {
    start.disabled = true;
    try {
      const res = await api("/api/runs", { method: "POST", body: JSON.stringify({ pipeline: select.value, task: task.value }) });
      location.href = `/runs/${encodeURIComponent(res.thread_id)}?live=1`;
    } catch (err) { note.textContent = err.message; start.disabled = false; }
  });
  app().replaceChildren(h("h1", { text: "New run" }),
    h("div", { class: "card" }, h("p", {}, h("label", { text: "Pipeline file " }), select), h("p", {}, task), start, note));
  const data = await api("/api/pipelines");
  select.replaceChildren(...data.pipelines.map((p) => h("option", { value: p, text: p })));
  if (!data.pipelines.length) note.textContent = "No pipeline files found in the directory the UI was started from.";
}

// -- routing ---------------------------------------------------------------------------------

function route() {
  const path = location.pathname;
  const match = path.match(/^\/runs\/([^/]+)$/);
  const failed = (err) => app().replaceChildren(h("p", { class: "errors", text: String(err.message || err) }));
  if (match) {
    const thread = decodeURIComponent(match[1]);
    // Wait for the run to be registered (a new run may not have written its first row yet).
    loadRun(thread, new URLSearchParams(location.search).has("live")).catch(failed);
  } else if (path === "/new") newRunPage().catch(failed);
  else runsPage().catch(failed);
}

route();
