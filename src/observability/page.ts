import { createHash } from 'node:crypto';

/**
 * The status page: one self-contained HTML document (inline CSS and JS, no build step, no CDN, no external
 * request). It polls `api/status` (relative, so it also works behind a reverse proxy under a path prefix) and
 * draws everything with plain DOM and SVG. All values are inserted with `textContent`, never as HTML.
 *
 * One pool: cards, chart, agents, servers and decisions of the pool. Several pools (`--pools-file`, the snapshot
 * has `pools`): the cards add up every pool, then one section per pool (its settings, its cards with its share of
 * the queue, warm capacity and budget, its chart), the work no pool can run with its labels, and a Pool column in
 * the agents, servers and decisions tables.
 */

const STYLE = `
:root{--bg:#f5f6f8;--card:#fff;--text:#1d2330;--muted:#667085;--line:#e4e7ec;--accent:#2563eb;
--ok:#12805c;--warn:#b54708;--bad:#c0262d;--shadow:0 1px 2px rgba(16,24,40,.06),0 1px 3px rgba(16,24,40,.08)}
@media (prefers-color-scheme:dark){:root{--bg:#0f1419;--card:#171d24;--text:#e6e9ee;--muted:#97a1ae;--line:#2a323c;
--accent:#5b8def;--ok:#3fbf8a;--warn:#f0a44b;--bad:#f26d6d;--shadow:none}}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Ubuntu,sans-serif;background:var(--bg);color:var(--text)}
header{display:flex;flex-wrap:wrap;gap:12px;align-items:center;padding:14px 24px;background:var(--card);border-bottom:1px solid var(--line)}
header h1{font-size:18px;margin:0;font-weight:650;letter-spacing:-.01em}
header .sub{color:var(--muted)}
header .right{margin-left:auto;display:flex;gap:10px;align-items:center;color:var(--muted);font-size:13px}
main{max-width:1280px;margin:0 auto;padding:20px 24px 40px}
.pill{display:inline-block;padding:2px 10px;border-radius:999px;font-size:12px;font-weight:600;border:1px solid transparent}
.pill.ok{color:var(--ok);border-color:var(--ok)}.pill.warn{color:var(--warn);border-color:var(--warn)}
.pill.bad{color:var(--bad);border-color:var(--bad)}.pill.muted{color:var(--muted);border-color:var(--line)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:12px;margin-bottom:16px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;box-shadow:var(--shadow)}
.card h2{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:0 0 6px;font-weight:600}
.card .big{font-size:26px;font-weight:650;line-height:1.1}
.card .small{color:var(--muted);font-size:12px;margin-top:4px}.card .small.low{color:var(--bad);font-weight:600}
section.card{margin-bottom:16px}
section.card h2{font-size:13px;margin-bottom:10px}
.legend{display:flex;flex-wrap:wrap;gap:14px;font-size:12px;color:var(--muted);margin-bottom:6px}
.legend i{display:inline-block;width:12px;height:3px;border-radius:2px;margin-right:6px;vertical-align:middle}
.chart{width:100%;height:260px;display:block}.chart.mini{height:180px}
.chart text{fill:var(--muted);font-size:11px}
.chart .grid{stroke:var(--line);stroke-width:1}
.card.inner{box-shadow:none;background:var(--bg);padding:10px 12px}.card.inner .big{font-size:22px}
section.pool h2{display:flex;flex-wrap:wrap;gap:8px;align-items:center}
.card h2 .tag,.card h2 .pill{text-transform:none;letter-spacing:0;margin-left:0}
h2.rowtitle{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:0 0 6px;font-weight:600}
table{width:100%;border-collapse:collapse;font-size:13px}
th{text-align:left;font-weight:600;color:var(--muted);font-size:12px;border-bottom:1px solid var(--line);padding:6px 8px;white-space:nowrap}
td{border-bottom:1px solid var(--line);padding:6px 8px;vertical-align:top}
tr:last-child td{border-bottom:none}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.mono,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.badge{display:inline-block;padding:1px 8px;border-radius:6px;font-size:12px;font-weight:600;background:var(--line);color:var(--text)}
.s-busy{background:#dbeafe;color:#1e40af}.s-idle{background:#dcfce7;color:#166534}.s-booting{background:#fef3c7;color:#92400e}
.s-drained{background:#e5e7eb;color:#374151}.s-cordoned{background:#ede9fe;color:#5b21b6}.s-stale,.o-failed{background:#fee2e2;color:#991b1b}
.o-done{background:#dcfce7;color:#166534}.o-skipped{background:#fef3c7;color:#92400e}.o-dry-run{background:#e0f2fe;color:#075985}
.s-running{background:#dcfce7;color:#166534}.s-failed{background:#fee2e2;color:#991b1b}.s-deleting{background:#e5e7eb;color:#374151}
.tag{display:inline-block;margin-left:6px;font-size:11px;color:var(--muted)}
.empty{color:var(--muted);padding:8px 0}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:16px}
@media (max-width:900px){.grid2{grid-template-columns:1fr}}
.errors li{color:var(--bad)}.admin li{color:var(--warn)}.notes li{color:var(--muted)}
ul{margin:0;padding-left:18px}
footer{color:var(--muted);font-size:12px;text-align:center;padding:8px 0 24px}
footer a{color:var(--accent);text-decoration:none;margin:0 6px}
.scroll{overflow-x:auto}
`;

const SCRIPT = `
(function(){
"use strict";
var POLL_MS = 5000;
var SERIES = [
  {key:"agents", label:"Agents", color:"#2563eb"},
  {key:"busy", label:"Busy agents", color:"#7c3aed"},
  {key:"booting", label:"Booting agents", color:"#d97706"},
  {key:"pending", label:"Pending workflows", color:"#dc2626"},
  {key:"running", label:"Running workflows", color:"#059669"}
];
var CARDS = [["agents", "Agents"], ["desired", "Target agents"], ["pending", "Pending"], ["running", "Running"], ["servers", "Servers"], ["cost", "Cost so far"]];
var TARGET_TIP = "Schedulable agents the pool keeps after this reconcile's decisions. It can be above what the queue needs: min-agents, hours already paid for, agents drained one tick at a time.";
function $(id){ return document.getElementById(id); }
function el(tag, cls, text){ var e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined && text !== null) e.textContent = String(text); return e; }
function dur(ms){
  if (ms === null || ms === undefined || !isFinite(ms)) return "\\u2014";
  var s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + "s";
  var m = Math.floor(s / 60); if (m < 60) return m + "m " + String(s % 60).padStart(2, "0") + "s";
  var h = Math.floor(m / 60); if (h < 48) return h + "h " + String(m % 60).padStart(2, "0") + "m";
  return Math.floor(h / 24) + "d " + (h % 24) + "h";
}
function ago(now, t){ return (t === null || t === undefined) ? "never" : dur(now - t) + " ago"; }
function clock(t){ var d = new Date(t); return String(d.getHours()).padStart(2,"0") + ":" + String(d.getMinutes()).padStart(2,"0") + ":" + String(d.getSeconds()).padStart(2,"0"); }
function money(v, cur){ if (v === null || v === undefined) return "\\u2014"; return v.toFixed(v < 10 ? 2 : 0) + (cur ? " " + cur : ""); }
function badge(text, cls){ return el("span", "badge " + cls, text); }
function setText(id, v){ $(id).textContent = v; }
function none(v){ return v === null || v === undefined; }
// Several pools (--pools-file): the snapshot lists them; its agents, servers and decisions carry their pool.
function several(s){ return !!(s.pools && s.pools.length); }

function fillTable(tbodyId, rows, cols, emptyText){
  var tb = $(tbodyId); tb.replaceChildren();
  if (!rows.length){ var tr = el("tr"); var td = el("td", "empty", emptyText); td.colSpan = cols; tr.appendChild(td); tb.appendChild(tr); return; }
  rows.forEach(function(cells){ var tr = el("tr"); cells.forEach(function(c){ tr.appendChild(c); }); tb.appendChild(tr); });
}
function td(v, cls){ var c = el("td", cls || ""); if (v instanceof Node) c.appendChild(v); else c.textContent = none(v) ? "\\u2014" : String(v); return c; }
// With several pools a Pool column follows the first one.
function poolCol(s, cells, x){ if (several(s)) cells.splice(1, 0, td(x.pool, "mono")); return cells; }

function stateOf(paused, lt, standby){
  if (standby) return ["standby", "warn"];
  if (paused) return ["paused", "warn"];
  if (!lt) return ["starting", "muted"];
  if (!lt.ok) return ["errors", "bad"];
  return ["running", "ok"];
}
function renderHeader(s){
  var p = s.pool || {};
  var ids = several(s) ? s.pools.map(function(e){ return e.pool.poolId; }).join(", ") : "";
  setText("pool", ids ? "pools " + ids : !none(p.poolId) ? "pool " + p.poolId + (p.installationId ? " \\u00b7 installation " + p.installationId : "") : "");
  document.title = "twcloud-scaler" + (ids ? " \\u00b7 pools " + ids : p.poolId ? " \\u00b7 pool " + p.poolId : "");
  var st = $("state"); var lt = s.lastTick;
  var state = stateOf(s.admin && s.admin.paused, lt, s.lease && s.lease.role === "standby");
  st.textContent = state[0]; st.className = "pill " + state[1];
  setText("last", lt ? "last reconcile " + ago(s.now, lt.finishedAt) + " (" + lt.mode + ", " + lt.durationMs + " ms)" : "no reconcile yet");
  var cfg = [];
  if (p.policy) cfg.push("policy " + p.policy);
  if (ids) cfg.push(s.pools.length + " pools");
  else {
    if (p.minAgents !== null && p.maxAgents !== null) cfg.push(p.minAgents + "\\u2013" + p.maxAgents + " agents");
    if (p.workflowsPerAgent) cfg.push(p.workflowsPerAgent + " workflows/agent");
    if (p.billingModel) cfg.push(p.billingModel + " billing");
  }
  if (p.reconciliationIntervalMs) cfg.push("every " + dur(p.reconciliationIntervalMs));
  setText("config", cfg.join(" \\u00b7 "));
}

// What the cards show, from a view: the single pool, one pool of several, or all of them together.
function cardData(v, now){
  var count = {}; v.agents.forEach(function(a){ count[a.state] = (count[a.state] || 0) + 1; });
  var parts = ["busy","idle","booting","drained","cordoned","stale"].filter(function(k){ return count[k]; }).map(function(k){ return count[k] + " " + k; });
  var p = v.pool || {};
  var sub = none(p.required) ? "" : "the queue needs " + p.required + ", capacity counted " + p.available;
  var sm = v.summary || {};
  if (sm.warm && sm.warm.idleSlots) sub += "; " + sm.warm.idleSlots + " slot(s) kept warm";
  if (sm.budget) {
    var b = sm.budget, caps = [], o = b.others, wide = o ? " for all pools" : "";
    var spent = function (own, other) { return other === undefined ? own.toFixed(2) : (own + other).toFixed(2) + " (this pool " + own.toFixed(2) + ")"; };
    if (b.daily !== undefined) caps.push(spent(b.spentDay, o && o.spentDay) + " of " + b.daily + " " + b.currency + wide + " today");
    if (b.monthly !== undefined) caps.push(spent(b.spentMonth, o && o.spentMonth) + " of " + b.monthly + " " + b.currency + wide + " this month");
    if (b.pool && b.pool.daily !== undefined) caps.push(b.spentDay.toFixed(2) + " of this pool's " + b.pool.daily + " today");
    if (b.pool && b.pool.monthly !== undefined) caps.push(b.spentMonth.toFixed(2) + " of this pool's " + b.pool.monthly + " this month");
    sub += "; budget: " + caps.join(", ") + (b.exhausted ? " (exhausted: no creates)" : "");
  }
  var q = v.queue;
  var pend = q ? q.waitingOnDeps + " waiting on deps" + (!none(q.oldestPendingAgeMs) ? ", oldest " + dur(q.oldestPendingAgeMs) : "") + (q.paused ? ", queue paused" : "") : "";
  if (v.unservable) pend += ", " + v.unservable + " no pool can run";
  var sc = {}; v.servers.forEach(function(x){ sc[x.state] = (sc[x.state] || 0) + 1; });
  var c = v.cost || {};
  var cparts = (c.parts || []).map(function(x){ return x.label + " " + money(x.perHour); }).join(" + ");
  var csub = !none(c.perHour) ? money(c.perHour, c.currency) + "/h per server" + (cparts ? " (" + cparts + ")" : "") + (c.since ? ", since " + ago(now, c.since) : "")
    : v.costNote || "no price known";
  return {
    agents: [v.agents.length, parts.length ? parts.join(", ") : "none"],
    desired: [none(p.desired) ? "\\u2014" : p.desired, sub],
    pending: [q ? q.pending : "\\u2014", pend],
    running: [q ? q.running : "\\u2014", q ? q.freeSlots + " free slot(s)" : ""],
    servers: [v.serversKnown ? v.servers.length : "\\u2014", Object.keys(sc).map(function(k){ return sc[k] + " " + k; }).join(", ") || (v.serversKnown ? "none" : "not listed yet")],
    cost: [money(c.total, c.currency), csub]
  };
}
function sumOf(s, k){ var t = null; s.pools.forEach(function(e){ var v = e.pool[k]; if (!none(v)) t = (t || 0) + v; }); return t; }
function totalView(s){
  if (!several(s)) return {agents: s.agents || [], pool: s.pool, summary: s.summary, queue: s.queue, servers: s.servers || [], serversKnown: s.serversKnown, cost: s.cost};
  var unservable = (s.unservable || []).reduce(function(n, u){ return n + u.tasks; }, 0);
  return {agents: s.agents || [], pool: {desired: sumOf(s, "desired"), required: sumOf(s, "required"), available: sumOf(s, "available")},
    summary: null, queue: s.queue, servers: s.servers || [], serversKnown: s.serversKnown, cost: s.cost, unservable: unservable, costNote: "all pools; each pool's price below"};
}
function poolView(s, e){
  var d = e.demand;
  return {agents: e.agents || [], pool: e.pool, summary: e.summary,
    queue: d ? {pending: d.pending, waitingOnDeps: d.waitingOnDeps, running: d.running, freeSlots: d.freeSlots, oldestPendingAgeMs: null, paused: !!(s.queue && s.queue.paused)} : null,
    servers: e.servers || [], serversKnown: !!e.servers && e.serversKnown !== false, cost: e.cost};
}

function renderCards(s){
  var d = cardData(totalView(s), s.now);
  CARDS.forEach(function(c){ setText("c-" + c[0], d[c[0]][0]); setText("c-" + c[0] + "-sub", d[c[0]][1]); });
  $("cards-title").hidden = !several(s);
  var b = (s.cost || {}).balance;
  setText("c-balance", b ? "account balance " + money(b.amount, b.currency) + (b.hoursLeft !== undefined ? ", about " + b.hoursLeft + " h left" : "") + (b.low ? " \\u2014 below " + money(b.warnBelow, b.currency) + ", top it up" : "") : "");
  $("c-balance").className = "small" + (b && b.low ? " low" : "");
}

// Several pools: per pool its settings, its cards (its share of the queue, warm capacity, budget) and its chart.
function renderPools(s){
  var box = $("pool-list"); box.replaceChildren();
  $("chart-card").hidden = several(s);
  if (!several(s)){ box.hidden = true; return; }
  box.hidden = false;
  s.pools.forEach(function(e){
    var p = e.pool, sec = el("section", "card pool");
    sec.setAttribute("data-pool", p.poolId);
    var h = el("h2", "", "Pool " + p.poolId), bits = [];
    if (e.labels) bits.push(e.labels);
    if (!none(p.minAgents)) bits.push(p.minAgents + "\\u2013" + p.maxAgents + " agents");
    if (p.workflowsPerAgent) bits.push(p.workflowsPerAgent + " workflows/agent");
    if (p.billingModel) bits.push(p.billingModel + " billing");
    if (p.installationId) bits.push("installation " + p.installationId);
    var st = stateOf(e.admin && e.admin.paused, e.lastTick, false);
    h.appendChild(el("span", "pill " + st[1], st[0]));
    h.appendChild(el("span", "tag", bits.join(" \\u00b7 ")));
    sec.appendChild(h);
    var d = cardData(poolView(s, e), s.now), cards = el("div", "cards");
    CARDS.forEach(function(c){
      var k = el("div", "card inner"); k.setAttribute("data-card", c[0]);
      if (c[0] === "desired") k.title = TARGET_TIP;
      k.appendChild(el("h2", "", c[1])); k.appendChild(el("div", "big", d[c[0]][0])); k.appendChild(el("div", "small", d[c[0]][1]));
      cards.appendChild(k);
    });
    sec.appendChild(cards);
    var lg = el("div", "legend"); legend(lg); sec.appendChild(lg);
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("class", "chart mini"); svg.setAttribute("role", "img"); svg.setAttribute("aria-label", "Agents and queue of pool " + p.poolId + " over time");
    sec.appendChild(svg);
    box.appendChild(sec);
    drawChart(svg, e.series || [], s.now);
  });
}

function renderUnservable(s){
  var u = s.unservable || [];
  $("unservable-card").hidden = !u.length;
  fillTable("unservable", u.map(function(x){ return [td(x.labels || "(no labels)", "mono"), td(x.tasks, "num")]; }), 2, "None.");
}

function renderAgents(s){
  var rows = (s.agents || []).map(function(a){
    var name = td(a.name, "mono");
    if (a.cordoned && a.state !== "cordoned") name.appendChild(el("span", "tag", "cordoned"));
    if (a.drainRequested) name.appendChild(el("span", "tag", "drain requested"));
    var srv = a.server ? a.server.status + (a.server.publicIpv4 ? " \\u00b7 " + a.server.publicIpv4 : "") : "no server";
    return poolCol(s, [name, td(badge(a.state, "s-" + a.state)), td(dur(a.ageMs), "num"), td(ago(s.now, a.lastContactAt)),
      td(a.runningTasks + " / " + a.capacity, "num"), td(srv, "mono")], a);
  });
  fillTable("agents", rows, several(s) ? 7 : 6, several(s) ? "No agents in any pool." : "No agents in this pool.");
}

function renderServers(s){
  var rows = (s.servers || []).map(function(x){
    return poolCol(s, [td(x.name, "mono"), td(badge(x.state, "s-" + x.state)), td(x.status), td(dur(x.ageMs), "num"), td(x.publicIpv4, "mono"), td(x.hasAgent ? "yes" : "no")], x);
  });
  // Look-alikes: listed so an operator sees them, never touched.
  (s.foreign || []).forEach(function(f){
    rows.push(poolCol(s, [td(f.name, "mono"), td(badge("foreign", "s-stale")), td(f.kind + " " + f.id), td(f.why), td(null), td("not ours")], f));
  });
  fillTable("servers", rows, several(s) ? 7 : 6, s.serversKnown ? "No servers." : "The server list has not been read yet.");
}

function renderDecisions(s){
  var rows = (s.decisions || []).map(function(d){
    var msg = td(d.reason.message); if (d.detail){ msg.appendChild(el("div", "tag", d.detail)); }
    return poolCol(s, [td(clock(d.at), "mono"), td(d.action), td(d.agent, "mono"), td(badge(d.reason.code, "")), msg, td(badge(d.outcome, "o-" + d.outcome))], d);
  });
  fillTable("decisions", rows, several(s) ? 7 : 6, "No decisions yet.");
}

function renderTick(s){
  var box = $("tick"); box.replaceChildren();
  var ad = s.admin || {}; var adm = [];
  var ls = s.lease;
  if (ls && ls.role === "standby") adm.push("Standing by, not acting: " + ls.reason + ".");
  if (ls && ls.role === "observing") adm.push(ls.reason + ".");
  if (ls && ls.records && ls.records.length) adm.push("Lease records (Woodpecker agents, not pool agents): " + ls.records.map(function(r){ return "#" + r.id + " " + r.name; }).join(", ") + "; this instance is " + ls.self + ".");
  if (ad.paused) adm.push("Scaling is paused by an operator: no agents are added or drained (twcloud-scaler resume).");
  var fails = several(s) ? s.pools.map(function(e){ return [e.admin || {}, "pool " + e.pool.poolId + ": "]; }) : [[ad, ""]];
  fails.forEach(function(f){
    var a = f[0];
    if (a.provisionFailures > 0) adm.push(f[1] + a.provisionFailures + " failed provision(s) in a row" + (a.createBlockedUntil > s.now ? "; no new server before " + clock(a.createBlockedUntil) : "") + ".");
  });
  if (ad.cordoned && ad.cordoned.length) adm.push("Cordoned: " + ad.cordoned.join(", ") + ".");
  if (ad.drainRequested && ad.drainRequested.length) adm.push("Drain requested: " + ad.drainRequested.join(", ") + ".");
  if (adm.length){ var ua = el("ul", "admin"); adm.forEach(function(a){ ua.appendChild(el("li", "", a)); }); box.appendChild(ua); }
  var lt = s.lastTick; if (!lt) return;
  if (lt.errors.length){ var ul = el("ul", "errors"); lt.errors.forEach(function(e){ ul.appendChild(el("li", "", e)); }); box.appendChild(ul); }
  if (lt.notes.length){ var ul2 = el("ul", "notes"); lt.notes.forEach(function(n){ ul2.appendChild(el("li", "", n)); }); box.appendChild(ul2); }
  if (!lt.errors.length && !lt.notes.length && !adm.length) box.appendChild(el("div", "empty", "The last reconcile had no errors and nothing to note."));
}

var NS = "http://www.w3.org/2000/svg";
function svgEl(tag, attrs){ var e = document.createElementNS(NS, tag); for (var k in attrs) e.setAttribute(k, String(attrs[k])); return e; }
function drawChart(svg, pts, now){
  svg.replaceChildren();
  var W = svg.clientWidth || 900, H = svg.clientHeight || 260;
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  var L = 40, R = 14, T = 12, B = 26, w = W - L - R, h = H - T - B;
  if (!pts.length){ var t = svgEl("text", {x: L + 8, y: T + 24}); t.textContent = "No data yet."; svg.appendChild(t); svg.setAttribute("data-points", "0"); return; }
  var t1 = Math.max(pts[pts.length - 1].t, now || 0), t0 = Math.min(pts[0].t, t1 - 5 * 60000);
  var max = 1; pts.forEach(function(p){ SERIES.forEach(function(sr){ if (p[sr.key] > max) max = p[sr.key]; }); });
  var step = max <= 5 ? 1 : max <= 10 ? 2 : max <= 25 ? 5 : max <= 50 ? 10 : Math.ceil(max / 5 / 10) * 10;
  var top = Math.ceil(max / step) * step;
  function X(t){ return L + (t - t0) / (t1 - t0) * w; }
  function Y(v){ return T + h - v / top * h; }
  for (var v = 0; v <= top; v += step){
    svg.appendChild(svgEl("line", {x1: L, x2: L + w, y1: Y(v), y2: Y(v), "class": "grid"}));
    var lbl = svgEl("text", {x: L - 6, y: Y(v) + 4, "text-anchor": "end"}); lbl.textContent = String(v); svg.appendChild(lbl);
  }
  var span = t1 - t0, tick = span > 4 * 3600000 ? 3600000 : span > 2 * 3600000 ? 1800000 : span > 3600000 ? 900000 : span > 1800000 ? 600000 : span > 600000 ? 300000 : 60000;
  for (var tt = Math.ceil(t0 / tick) * tick; tt <= t1; tt += tick){
    svg.appendChild(svgEl("line", {x1: X(tt), x2: X(tt), y1: T, y2: T + h, "class": "grid"}));
    var d = new Date(tt), xl = svgEl("text", {x: X(tt), y: H - 8, "text-anchor": "middle"});
    xl.textContent = String(d.getHours()).padStart(2,"0") + ":" + String(d.getMinutes()).padStart(2,"0"); svg.appendChild(xl);
  }
  SERIES.forEach(function(sr){
    var dpath = "";
    pts.forEach(function(p, i){
      var x = X(p.t).toFixed(1), y = Y(p[sr.key]).toFixed(1);
      if (i === 0) dpath += "M" + x + " " + y; else dpath += "H" + x + "V" + y;
    });
    dpath += "H" + X(t1).toFixed(1);
    svg.appendChild(svgEl("path", {d: dpath, fill: "none", stroke: sr.color, "stroke-width": 2, "stroke-linejoin": "round", "data-series": sr.key}));
    var lp = pts[pts.length - 1];
    svg.appendChild(svgEl("circle", {cx: X(lp.t).toFixed(1), cy: Y(lp[sr.key]).toFixed(1), r: 3, fill: sr.color, "data-series": sr.key}));
  });
  svg.setAttribute("data-points", String(pts.length));
}
function legend(box){
  SERIES.forEach(function(sr){
    var s = el("span"); var i = el("i");
    // Colours are applied through the CSSOM (allowed by the page's Content-Security-Policy, unlike style attributes).
    i.style.background = sr.color;
    s.appendChild(i); s.appendChild(document.createTextNode(sr.label)); box.appendChild(s);
  });
}

var last = null;
function render(s){
  last = s;
  var multi = several(s);
  Array.prototype.forEach.call(document.querySelectorAll("th.pc"), function(th){ th.hidden = !multi; });
  renderHeader(s); renderCards(s);
  if (!multi) drawChart($("chart"), s.series || [], s.now);
  renderPools(s); renderUnservable(s); renderAgents(s); renderServers(s); renderDecisions(s); renderTick(s);
  document.body.setAttribute("data-loaded", "true");
}
function poll(){
  fetch("api/status", {cache: "no-store", headers: {accept: "application/json"}})
    .then(function(r){ if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(function(s){ $("conn").className = "pill ok"; $("conn").textContent = "live"; render(s); })
    .catch(function(){ $("conn").className = "pill bad"; $("conn").textContent = "disconnected"; })
    .then(function(){ setTimeout(poll, POLL_MS); });
}
window.addEventListener("resize", function(){ if (last) render(last); });
legend($("legend"));
poll();
})();
`;

const BODY = `
<header>
  <h1>twcloud-scaler</h1><span class="sub" id="pool"></span><span class="pill muted" id="state">loading</span>
  <span class="sub" id="config"></span>
  <div class="right"><span id="last"></span><span class="pill muted" id="conn">connecting</span></div>
</header>
<main>
  <h2 class="rowtitle" id="cards-title" hidden>All pools</h2>
  <div class="cards">
    <div class="card"><h2>Agents</h2><div class="big" id="c-agents">&#8212;</div><div class="small" id="c-agents-sub"></div></div>
    <div class="card" title="Schedulable agents the pool keeps after this reconcile's decisions. It can be above what the queue needs: min-agents, hours already paid for, agents drained one tick at a time."><h2>Target agents</h2><div class="big" id="c-desired">&#8212;</div><div class="small" id="c-desired-sub"></div></div>
    <div class="card"><h2>Pending</h2><div class="big" id="c-pending">&#8212;</div><div class="small" id="c-pending-sub"></div></div>
    <div class="card"><h2>Running</h2><div class="big" id="c-running">&#8212;</div><div class="small" id="c-running-sub"></div></div>
    <div class="card"><h2>Servers</h2><div class="big" id="c-servers">&#8212;</div><div class="small" id="c-servers-sub"></div></div>
    <div class="card"><h2>Cost so far</h2><div class="big" id="c-cost">&#8212;</div><div class="small" id="c-cost-sub"></div><div class="small" id="c-balance"></div></div>
  </div>
  <section class="card" id="chart-card"><h2>Agents and queue, last hours</h2><div class="legend" id="legend"></div>
    <svg id="chart" class="chart" role="img" aria-label="Agents and queue over time"></svg></section>
  <section class="card" id="unservable-card" hidden><h2>Work no pool can run</h2><div class="scroll"><table>
    <thead><tr><th>Labels</th><th>Pending workflows</th></tr></thead>
    <tbody id="unservable"></tbody></table></div>
    <div class="small">Nothing is created for it: no pool's agent-labels and no agent match these labels. Add a pool whose agent-labels match.</div></section>
  <div id="pool-list" hidden></div>
  <section class="card"><h2>Agents</h2><div class="scroll"><table>
    <thead><tr><th>Name</th><th class="pc" hidden>Pool</th><th>State</th><th>Age</th><th>Last contact</th><th>Tasks</th><th>Server</th></tr></thead>
    <tbody id="agents"></tbody></table></div></section>
  <div class="grid2">
    <section class="card"><h2>Servers</h2><div class="scroll"><table>
      <thead><tr><th>Name</th><th class="pc" hidden>Pool</th><th>State</th><th>Status</th><th>Age</th><th>IPv4</th><th>Agent</th></tr></thead>
      <tbody id="servers"></tbody></table></div></section>
    <section class="card"><h2>Last reconcile</h2><div id="tick"></div></section>
  </div>
  <section class="card"><h2>Recent decisions</h2><div class="scroll"><table>
    <thead><tr><th>Time</th><th class="pc" hidden>Pool</th><th>Action</th><th>Agent</th><th>Reason</th><th>Why</th><th>Outcome</th></tr></thead>
    <tbody id="decisions"></tbody></table></div></section>
</main>
<footer><a href="api/status">api/status</a><a href="api/decisions">api/decisions</a><a href="metrics">metrics</a><a href="readyz">readyz</a></footer>
`;

function sha256(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('base64');
}

/** The complete page. */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="data:,">
<title>twcloud-scaler</title>
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${SCRIPT}</script>
</body>
</html>
`;

/**
 * Content-Security-Policy for the page: only its own inline script and style (by hash), requests only to its
 * own origin, nothing embeddable.
 */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `script-src 'sha256-${sha256(SCRIPT)}'`,
  `style-src 'sha256-${sha256(STYLE)}'`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
