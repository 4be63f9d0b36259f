// Switchyard dashboard: polls the admin API with the token and draws the
// charts on canvases. No library, no build step.
"use strict";

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];
const state = { token: "", by: "upstreams", series: null, polls: 0, timer: 0 };
window.__dashboard = state; // read by the browser test

function takeToken() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem("switchyard-admin-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem("switchyard-admin-token") || "";
}

async function api(path) {
  const r = await fetch("/admin/" + path, { headers: { Authorization: "Bearer " + state.token }, cache: "no-store" });
  if (r.status === 401) {
    const e = new Error("unauthorized");
    e.unauthorized = true;
    throw e;
  }
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmt(v, digits) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  if (Math.abs(v) >= 1000) return (v / 1000).toFixed(1) + "k";
  return v.toFixed(digits === undefined ? (Math.abs(v) < 10 ? 2 : 0) : digits);
}

// niceMax rounds a chart's top up to 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

// drawChart draws one line per series; series: [{name, values: [number|null]}].
// It records how many points it drew in canvas.dataset.points.
function drawChart(canvas, times, series, unit) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const left = 46, right = 8, top = 8, bottom = 34;
  const pw = w - left - right, ph = h - top - bottom;
  let max = 0, points = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
  max = niceMax(max);
  g.font = "11px system-ui, sans-serif";
  g.strokeStyle = "#e5e7eb";
  g.fillStyle = "#6b7280";
  g.lineWidth = 1;
  g.textAlign = "right";
  g.textBaseline = "middle";
  for (let i = 0; i <= 4; i++) {
    const y = top + ph - (ph * i) / 4;
    g.beginPath();
    g.moveTo(left, y);
    g.lineTo(left + pw, y);
    g.stroke();
    g.fillText(fmt((max * i) / 4, max >= 20 ? 0 : max >= 2 ? 1 : 2) + (unit || ""), left - 4, y);
  }
  const n = times.length;
  if (n > 0) {
    g.textAlign = "center";
    g.textBaseline = "top";
    const t0 = new Date(times[0]), t1 = new Date(times[n - 1]);
    g.fillText(t0.toLocaleTimeString(), left + 30, top + ph + 4);
    if (n > 1) g.fillText(t1.toLocaleTimeString(), left + pw - 30, top + ph + 4);
  }
  const x = (i) => left + (n <= 1 ? pw : (pw * i) / (n - 1));
  const y = (v) => top + ph - (ph * v) / max;
  series.forEach((s, k) => {
    g.strokeStyle = COLORS[k % COLORS.length];
    g.fillStyle = g.strokeStyle;
    g.lineWidth = 2;
    g.beginPath();
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) { pen = false; return; }
      points++;
      if (pen) g.lineTo(x(i), y(v)); else g.moveTo(x(i), y(v));
      pen = true;
      if (n === 1) g.fillRect(x(i) - 2, y(v) - 2, 4, 4);
    });
    g.stroke();
  });
  // Legend along the bottom.
  let lx = left;
  g.textAlign = "left";
  g.textBaseline = "bottom";
  series.forEach((s, k) => {
    g.fillStyle = COLORS[k % COLORS.length];
    g.fillRect(lx, h - 12, 10, 8);
    g.fillStyle = "#1d2330";
    g.fillText(s.name, lx + 14, h - 2);
    lx += 24 + g.measureText(s.name).width;
  });
  if (series.length === 0) {
    g.fillStyle = "#6b7280";
    g.textAlign = "center";
    g.fillText("no traffic yet", left + pw / 2, top + ph / 2);
  }
  canvas.dataset.points = String(points);
}

function pick(groups, field) {
  return Object.keys(groups).sort().map((name) => ({ name, values: groups[name][field] }));
}

function drawAll() {
  const s = state.series;
  if (!s) return;
  const groups = s[state.by] || {};
  drawChart(document.getElementById("chart-rps"), s.times, pick(groups, "requests_per_sec"), "");
  drawChart(document.getElementById("chart-errors"), s.times,
    pick(groups, "error_ratio").map((x) => ({ name: x.name, values: x.values.map((v) => (v === null ? null : v * 100)) })), "%");
  drawChart(document.getElementById("chart-ttft"), s.times, pick(groups, "ttft_ms"), "");
  drawChart(document.getElementById("chart-cost"), s.times, pick(groups, "cost_usd_per_min"), "");
  drawChart(document.getElementById("chart-cache"), s.times,
    [{ name: "hit ratio %", values: s.cache_hit_ratio.map((v) => (v === null ? null : v * 100)) }], "%");
}

function renderUpstreams(list) {
  const box = document.getElementById("upstreams");
  box.replaceChildren(...list.map((u) => {
    const t = el("div", "tile" + (!u.healthy ? " down" : u.breaker === "half_open" ? " half" : ""));
    t.dataset.upstream = u.name;
    t.append(el("b", "", u.name + (u.healthy ? " ● up" : " ● down")));
    t.append(el("span", "", `${u.provider}${u.region ? " · " + u.region : ""} · breaker ${u.breaker}`));
    t.append(el("div", "", `latency ${fmt(u.latency_ms, 0)} ms · ttfb ${fmt(u.ttfb_ms, 0)} ms`));
    t.append(el("div", "", `in flight ${u.in_flight} · errors ${fmt(u.error_rate * 100, 1)}%`));
    return t;
  }));
}

function renderCache(c) {
  document.getElementById("cache-ratio").textContent = c.enabled ? fmt(c.hit_ratio * 100, 1) + "% hits" : "off";
  document.getElementById("cache-detail").textContent = c.enabled
    ? `${c.entries} entries · ${fmt(c.bytes / 1048576, 1)} MiB of ${fmt(c.max_bytes / 1048576, 0)} MiB · ${c.coalesced} coalesced`
    : "caching is off";
}

function renderPlugins(list) {
  const body = document.getElementById("plugins");
  if (list.length === 0) {
    const tr = el("tr");
    tr.append(el("td", "muted", "no plugins"));
    body.replaceChildren(tr);
    return;
  }
  body.replaceChildren(...list.map((p) => {
    const tr = el("tr");
    tr.append(el("td", "", p.name), el("td", "muted", (p.module || "").slice(0, 19)), el("td", "", String(p.calls)),
      el("td", p.failures > 0 ? "bad" : "", String(p.failures)), el("td", "", `${p.pool_idle}/${p.pool_size} idle`),
      el("td", p.healthy ? "good" : "bad", p.healthy ? "healthy" : "failing"));
    return tr;
  }));
}

async function poll() {
  try {
    const [series, ups, cache, plugins] = await Promise.all([api("traffic"), api("upstreams"), api("cache"), api("plugins")]);
    state.series = series;
    state.polls++;
    renderUpstreams(ups.data);
    renderCache(cache);
    renderPlugins(plugins.data);
    drawAll();
    document.getElementById("status").textContent = "live · updated " + new Date().toLocaleTimeString();
    state.timer = setTimeout(poll, Math.max(500, series.interval_ms || 2000));
  } catch (e) {
    if (e.unauthorized) {
      sessionStorage.removeItem("switchyard-admin-token");
      showLogin("The token was refused.");
      return;
    }
    document.getElementById("status").textContent = "disconnected: " + e.message + " (retrying)";
    state.timer = setTimeout(poll, 3000);
  }
}

function showLogin(msg) {
  document.getElementById("main").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = msg || "";
  document.getElementById("status").textContent = "token needed";
}

function start() {
  document.getElementById("login").hidden = true;
  document.getElementById("main").hidden = false;
  clearTimeout(state.timer);
  poll();
}

document.getElementById("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  state.token = document.getElementById("token").value.trim();
  sessionStorage.setItem("switchyard-admin-token", state.token);
  start();
});
for (const [id, by] of [["by-upstream", "upstreams"], ["by-tenant", "tenants"]]) {
  document.getElementById(id).addEventListener("click", () => {
    state.by = by;
    document.getElementById("by-upstream").classList.toggle("on", by === "upstreams");
    document.getElementById("by-tenant").classList.toggle("on", by === "tenants");
    drawAll();
  });
}
window.addEventListener("resize", drawAll);

state.token = takeToken();
if (state.token) start(); else showLogin();
