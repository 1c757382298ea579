/* tracklog ui: runs list, run page (charts, tables, images, files, logs) and comparison.
   Plain JavaScript, no build step; charts are uPlot (vendored, MIT). Every piece of run
   data goes into the page as text nodes, never as HTML. */
"use strict";
(function () {
  const app = document.getElementById("app");
  const COLORS = ["#1a73e8", "#e8710a", "#188038", "#d93025", "#9334e6", "#12b5cb",
                  "#e52592", "#7cb342", "#795548", "#5f6368"];
  const STATUSES = ["Running", "Completed", "Failed", "Canceled", "Crashed"];
  const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
  const q = encodeURIComponent;

  // -- small helpers ---------------------------------------------------------------

  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [key, value] of Object.entries(attrs)) {
        if (value == null || value === false) continue;
        if (key === "class") el.className = value;
        else if (key === "text") el.textContent = value;
        else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
        else el.setAttribute(key, value === true ? "" : value);
      }
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid == null || kid === false) continue;
      el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return el;
  }

  /* Replace an element's children; arrays are flattened, null and false skipped. */
  function fill(el, ...kids) {
    el.replaceChildren();
    for (const kid of kids.flat(Infinity)) {
      if (kid == null || kid === false) continue;
      el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return el;
  }

  async function api(path) {
    const res = await fetch(path, { cache: "no-store" });
    let body = null;
    try { body = await res.json(); } catch (e) { body = { error: res.statusText }; }
    if (!res.ok) throw new Error(body.error || res.statusText);
    return body;
  }

  function pad(n, width) { return String(n).padStart(width || 2, "0"); }

  function fmtTime(ts) {
    if (ts == null) return "-";
    const d = new Date(ts * 1000);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
           `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function fmtClock(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  function fmtDuration(seconds) {
    if (seconds == null) return "-";
    if (seconds < 60) return seconds.toFixed(1) + "s";
    const s = Math.floor(seconds), hours = Math.floor(s / 3600), mins = Math.floor(s / 60) % 60;
    return hours ? `${hours}h${pad(mins)}m${pad(s % 60)}s` : `${mins}m${pad(s % 60)}s`;
  }

  function fmtValue(v) {
    if (typeof v === "number") {
      if (Number.isInteger(v)) return String(v);
      const a = Math.abs(v);
      return (a !== 0 && (a < 1e-3 || a >= 1e6)) ? v.toExponential(4) : String(+v.toPrecision(6));
    }
    if (v == null) return "";
    return String(v);
  }

  function fmtBytes(n) {
    if (n == null) return "";
    if (n < 1024) return n + " B";
    if (n < 1 << 20) return (n / 1024).toFixed(1) + " KB";
    return (n / (1 << 20)).toFixed(1) + " MB";
  }

  function statusBadge(status) { return h("span", { class: "status " + status, text: status }); }

  function setLive(on) { document.getElementById("live").hidden = !on; }

  function showError(err) {
    fill(app, h("div", { class: "error" }, String(err && err.message || err)));
  }

  function runLink(run) {
    return h("a", { href: "#/run/" + run.id, class: "run-link", "data-run-id": run.id }, run.name || run.id.slice(0, 12));
  }

  function kvTable(obj, empty) {
    const keys = Object.keys(obj || {});
    if (!keys.length) return h("p", { class: "muted" }, empty);
    return h("table", { class: "grid kv" },
      h("tbody", null, keys.map(k => h("tr", null, h("td", null, k), h("td", { class: "mono" }, obj[k])))));
  }

  function chartWidth() {
    const total = app.clientWidth || 900;
    const cols = Math.max(1, Math.floor((total + 14) / (420 + 14)));
    return Math.max(200, Math.floor((total - (cols - 1) * 14) / cols) - 26);
  }

  const fileUrl = (runId, name, download) =>
    `/api/runs/${runId}/file?name=${q(name)}` + (download ? "&download=1" : "");

  // -- charts ------------------------------------------------------------------------

  function axes() {
    const grid = { stroke: "#eef0f4", width: 1 };
    return [
      { stroke: "#6b7385", grid, ticks: { stroke: "#e2e6ee" } },
      { stroke: "#6b7385", grid, ticks: { stroke: "#e2e6ee" }, size: 62,
        values: (u, vals) => vals.map(fmtValue) },
    ];
  }

  /* A line chart of one or more series sharing x. `zoom(lo, hi)` may return finer data. */
  function makeChart(el, width, xLabel, series, data, zoom) {
    const state = { full: data, zoomKey: null, timer: null, reset: null };
    const opts = {
      width, height: 200,
      scales: { x: { time: false } },
      axes: axes(),
      legend: { show: true },
      cursor: {
        drag: { x: true, y: false, setScale: true },
        bind: { dblclick: () => () => { resetZoom(); return null; } },
      },
      series: [{ label: xLabel, value: (u, v) => v == null ? "-" : fmtValue(v) }].concat(series.map((s, i) => ({
        label: s.label, stroke: s.color || COLORS[i % COLORS.length], width: 1.5,
        spanGaps: !!s.spanGaps, points: { show: data[0].length < 80, size: 4 },
        value: (u, v) => v == null ? "-" : fmtValue(v),
      }))),
      hooks: {
        setScale: [(u, key) => {
          if (key !== "x" || !zoom) return;
          const { min, max } = u.scales.x;
          const xs = state.full[0];
          if (min == null || !xs.length) return;
          if (min <= xs[0] && max >= xs[xs.length - 1]) return;
          const lo = Math.floor(min), hi = Math.ceil(max), zkey = lo + ":" + hi;
          if (state.reset) state.reset.hidden = false;
          if (zkey === state.zoomKey) return;
          state.zoomKey = zkey;
          clearTimeout(state.timer);
          state.timer = setTimeout(async () => {
            try {
              const finer = await zoom(lo, hi);
              if (finer && state.zoomKey === zkey) u.setData(finer, false);
            } catch (e) { console.warn(e); }
          }, 120);
        }],
      },
    };
    const u = new uPlot(opts, data, el);
    function resetZoom() {
      state.zoomKey = null;
      if (state.reset) state.reset.hidden = true;
      u.setData(state.full, true);
    }
    return {
      u, state, resetZoom,
      update(data) {
        state.full = data;
        if (state.zoomKey == null) u.setData(data, true);
      },
      resize(w) { u.setSize({ width: w, height: 200 }); },
      destroy() { clearTimeout(state.timer); u.destroy(); },
    };
  }

  // -- runs list -----------------------------------------------------------------------

  const runsState = { status: "", tag: "", text: "", sort: { key: "start", dir: -1 }, selected: new Set() };

  function tagMatches(tags, filter) {
    if (!filter) return true;
    const eq = filter.indexOf("=");
    if (eq < 0) return Object.keys(tags).some(k => k.toLowerCase().includes(filter.toLowerCase()));
    const key = filter.slice(0, eq).trim(), value = filter.slice(eq + 1).trim();
    return key in tags && (value === "" || String(tags[key]) === value);
  }

  function runsView(expId) {
    let disposed = false, timer = null, data = null;
    const st = runsState;
    const aside = h("aside", { class: "experiments" });
    const tableWrap = h("div", { id: "runs-table" });
    const compareBtn = h("button", { id: "compare-selected", onclick: () => {
      location.hash = "#/compare?runs=" + [...st.selected].join(",");
    } }, "Compare");
    const statusSel = h("select", { id: "filter-status", onchange: e => { st.status = e.target.value; render(); } },
      h("option", { value: "" }, "All statuses"), STATUSES.map(s => h("option", { value: s }, s)));
    statusSel.value = st.status;
    const tagInput = h("input", { type: "search", id: "filter-tag", placeholder: "tag or tag=value", value: st.tag,
      oninput: e => { st.tag = e.target.value.trim(); render(); } });
    const textInput = h("input", { type: "search", id: "filter-text", placeholder: "run name or id", value: st.text,
      oninput: e => { st.text = e.target.value.trim().toLowerCase(); render(); } });
    const title = h("h1", null, "Runs");
    const summary = h("span", { class: "muted", id: "runs-count" });
    app.append(h("div", { class: "layout" }, aside,
      h("section", null, title,
        h("div", { class: "toolbar" }, statusSel, tagInput, textInput, compareBtn, summary),
        tableWrap)));

    function columns(runs) {
      const names = new Set();
      for (const r of runs) for (const k of Object.keys(r.metrics)) { if (names.size < 12) names.add(k); }
      return [...names];
    }

    function sortValue(run, key) {
      if (key.startsWith("m:")) {
        const v = run.metrics[key.slice(2)];
        return typeof v === "number" ? v : (v == null ? null : String(v));
      }
      return { name: (run.name || "").toLowerCase(), status: run.status, start: run.start,
               duration: run.duration, experiment: run.experiment }[key];
    }

    function render() {
      if (!data) return;
      const shown = data.runs.filter(r =>
        (!st.status || r.status === st.status) && tagMatches(r.tags, st.tag) &&
        (!st.text || (r.name || "").toLowerCase().includes(st.text) || r.id.startsWith(st.text)));
      const { key, dir } = st.sort;
      shown.sort((a, b) => {
        const x = sortValue(a, key), y = sortValue(b, key);
        if (x == null && y == null) return 0;
        if (x == null) return 1;
        if (y == null) return -1;
        return (x < y ? -1 : x > y ? 1 : 0) * dir;
      });
      for (const id of [...st.selected]) if (!data.runs.some(r => r.id === id)) st.selected.delete(id);
      compareBtn.disabled = st.selected.size < 1;
      compareBtn.textContent = st.selected.size ? `Compare (${st.selected.size})` : "Compare";
      summary.textContent = `${shown.length} of ${data.runs.length} runs`;
      if (!data.runs.length) {
        fill(tableWrap, h("div", { class: "empty" },
          "No runs here yet. Log one with tracklog and it shows up by itself."));
        return;
      }
      const metricCols = columns(data.runs);
      const th = (label, k) => h("th", {
        class: "sortable" + (key === k ? (dir > 0 ? " sorted-asc" : " sorted-desc") : ""),
        "data-sort": k,
        onclick: () => { st.sort = { key: k, dir: key === k ? -dir : (k === "name" ? 1 : -1) }; render(); },
      }, label);
      const head = h("tr", null, h("th", null, ""), th("Run", "name"),
        expId ? null : th("Experiment", "experiment"),
        th("Status", "status"), th("Started", "start"), th("Duration", "duration"),
        h("th", null, "Tags"), h("th", null, "Params"), metricCols.map(m => th(m, "m:" + m)));
      const rows = shown.map(r => h("tr", { "data-run-id": r.id, "data-status": r.status },
        h("td", null, h("input", { type: "checkbox", checked: st.selected.has(r.id), "aria-label": "select run",
          onchange: e => { e.target.checked ? st.selected.add(r.id) : st.selected.delete(r.id); render(); } })),
        h("td", null, r.parent ? h("span", { class: "muted", title: "child run" }, "\u21b3 ") : null, runLink(r),
          h("div", { class: "muted mono" }, r.id.slice(0, 12))),
        expId ? null : h("td", null, h("a", { href: "#/exp/" + r.experiment_id }, r.experiment)),
        h("td", null, statusBadge(r.status)),
        h("td", { class: "mono" }, fmtTime(r.start)),
        h("td", { class: "num" }, fmtDuration(r.duration)),
        h("td", null, Object.entries(r.tags).map(([k, v]) => h("span", { class: "chip" }, v === "" ? k : `${k}: ${v}`))),
        h("td", null, Object.entries(r.params).map(([k, v]) => h("span", { class: "chip" }, h("b", null, k), "=", v))),
        metricCols.map(m => h("td", { class: "num mono" }, fmtValue(r.metrics[m])))));
      fill(tableWrap, h("div", { class: "wide" }, h("table", { class: "grid runs" }, h("thead", null, head), h("tbody", null, rows))));
    }

    function renderExperiments(exps) {
      const link = (id, name, count, running) => h("a", { href: id ? "#/exp/" + id : "#/", class: (id || "") === (expId || "") ? "active" : "" },
        h("span", null, name), h("span", { class: "count" }, running ? `${running} running \u00b7 ${count}` : count));
      const total = exps.experiments.reduce((n, e) => n + e.runs, 0);
      const running = exps.experiments.reduce((n, e) => n + e.running, 0);
      fill(aside, h("h3", null, "Experiments"), link("", "All runs", total, running),
        exps.experiments.map(e => link(e.id, e.name, e.runs, e.running)));
      document.getElementById("workspace").textContent = exps.workspace || "";
      const current = exps.experiments.find(e => e.id === expId);
      title.textContent = current ? current.name : "Runs";
    }

    async function load() {
      const [exps, runs] = await Promise.all([
        api("/api/experiments"), api("/api/runs" + (expId ? "?experiment=" + q(expId) : ""))]);
      if (disposed) return;
      renderExperiments(exps);
      data = runs;
      render();
      setLive(runs.alive);
      if (runs.alive) timer = setTimeout(() => load().catch(console.warn), 3000);
    }

    load().catch(showError);
    return { dispose() { disposed = true; clearTimeout(timer); setLive(false); } };
  }

  // -- models and Azure charts (run page) ---------------------------------------------
  /* Inline SVG built with createElementNS; every label goes in as a text node. */

  const SVGNS = "http://www.w3.org/2000/svg";
  const AW = 420, AH = 220, PAD = { l: 44, r: 10, t: 10, b: 34 };

  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value == null) continue;
      if (key === "text") el.textContent = value; else el.setAttribute(key, value);
    }
    for (const kid of kids.flat(Infinity)) if (kid) el.append(kid);
    return el;
  }

  const num = v => typeof v === "number" && isFinite(v);
  const short = v => num(v) ? (Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 0.01) ? v.toPrecision(3) : String(+v.toFixed(3))) : "";

  /* A frame with axes, ticks and labels; returns the svg and scale functions. */
  function frame(kind, xr, yr, xLabel, yLabel) {
    const [x0, x1] = xr[0] === xr[1] ? [xr[0] - 1, xr[1] + 1] : xr;
    const [y0, y1] = yr[0] === yr[1] ? [yr[0] - 1, yr[1] + 1] : yr;
    const X = v => PAD.l + (v - x0) / (x1 - x0) * (AW - PAD.l - PAD.r);
    const Y = v => AH - PAD.b - (v - y0) / (y1 - y0) * (AH - PAD.t - PAD.b);
    const el = s("svg", { class: "azure-svg", "data-kind": kind, viewBox: `0 0 ${AW} ${AH}`, role: "img" },
      s("line", { x1: PAD.l, y1: AH - PAD.b, x2: AW - PAD.r, y2: AH - PAD.b, class: "axis" }),
      s("line", { x1: PAD.l, y1: PAD.t, x2: PAD.l, y2: AH - PAD.b, class: "axis" }),
      [0, 0.5, 1].map(f => [
        s("text", { x: X(x0 + f * (x1 - x0)), y: AH - PAD.b + 13, "text-anchor": "middle", class: "tick", text: short(x0 + f * (x1 - x0)) }),
        s("text", { x: PAD.l - 4, y: Y(y0 + f * (y1 - y0)) + 3, "text-anchor": "end", class: "tick", text: short(y0 + f * (y1 - y0)) })]),
      s("text", { x: (PAD.l + AW - PAD.r) / 2, y: AH - 4, "text-anchor": "middle", class: "label", text: xLabel }),
      s("text", { x: 10, y: (PAD.t + AH - PAD.b) / 2, "text-anchor": "middle", class: "label",
        transform: `rotate(-90 10 ${(PAD.t + AH - PAD.b) / 2})`, text: yLabel }));
    return { el, X, Y };
  }

  function legend(names) {
    return h("div", { class: "legend-row" }, names.map((n, i) =>
      h("span", null, h("span", { class: "swatch", style: `background:${COLORS[i % COLORS.length]}` }), n)));
  }

  /* Rows are true classes, columns predicted ones; each cell shaded by its share of the row. */
  function confusionMatrix(d) {
    const labels = (d.class_labels || []).map(String);
    const rows = Array.isArray(d.matrix) ? d.matrix : [];
    return h("div", { class: "scroll" }, h("table", { class: "grid confusion" },
      h("thead", null, h("tr", null, h("th", { class: "muted" }, "true \\ predicted"), labels.map(l => h("th", { title: l }, l)))),
      h("tbody", null, rows.map((row, i) => {
        const cells = Array.isArray(row) ? row : [];
        const total = cells.reduce((a, v) => a + (num(v) ? v : 0), 0) || 1;
        return h("tr", null, h("th", { title: labels[i] ?? String(i) }, labels[i] ?? String(i)), cells.map(v => h("td", {
          class: "num mono",
          style: num(v) ? `background: rgba(26,115,232,${(0.08 + 0.8 * v / total).toFixed(3)})` : null,
        }, num(v) ? short(v) : "")));
      }))));
  }

  /* Bars over bins: groups of one bar per series, x from the bin edges. */
  function bars(kind, edges, series, xLabel, yLabel) {
    const n = Math.max(0, ...series.map(sr => sr.values.length));
    const e = edges.length === n + 1 && edges.every(num) ? edges : Array.from({ length: n + 1 }, (_, i) => i);
    const vals = series.flatMap(sr => sr.values.filter(num));
    const f = frame(kind, [e[0], e[n] ?? e[0]], [Math.min(0, ...vals), Math.max(0, ...vals)], xLabel, yLabel);
    for (let i = 0; i < n; i++) {
      const left = f.X(e[i]), w = (f.X(e[i + 1]) - left) / series.length;
      series.forEach((sr, k) => {
        const v = sr.values[i];
        if (!num(v)) return;
        const y = f.Y(Math.max(0, v)), y0 = f.Y(Math.min(0, v));
        f.el.append(s("rect", { class: "bar", x: left + k * w + 0.5, y, width: Math.max(0.5, w - 1), height: Math.max(0.5, y0 - y),
          fill: COLORS[k % COLORS.length] }, s("title", { text: `${sr.name} [${short(e[i])}, ${short(e[i + 1])}): ${short(v)}` })));
      });
    }
    return f.el;
  }

  /* One ROC curve per class from probability_tables ([TP, FP, TN, FN] per threshold). */
  function accuracyTable(d) {
    const tables = Array.isArray(d.probability_tables) ? d.probability_tables : [];
    const labels = (d.class_labels || tables.map((_, i) => i)).map(String);
    const f = frame("accuracy_table", [0, 1], [0, 1], "false positive rate", "true positive rate");
    f.el.append(s("line", { x1: f.X(0), y1: f.Y(0), x2: f.X(1), y2: f.Y(1), class: "diag" }));
    tables.forEach((table, k) => {
      const pts = (Array.isArray(table) ? table : []).map(c => {
        const [tp, fp, tn, fn] = Array.isArray(c) ? c : [];
        if (![tp, fp, tn, fn].every(num)) return null;
        return [fp + tn ? fp / (fp + tn) : 0, tp + fn ? tp / (tp + fn) : 0];
      }).filter(Boolean).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      if (pts.length) f.el.append(s("polyline", { class: "curve", fill: "none", stroke: COLORS[k % COLORS.length],
        points: pts.map(([x, y]) => `${f.X(x).toFixed(1)},${f.Y(y).toFixed(1)}`).join(" ") }));
    });
    return [f.el, legend(labels.slice(0, tables.length))];
  }

  function residuals(d) {
    return bars("residuals", d.bin_edges || [], [{ name: "count", values: d.bin_counts || [] }], "residual", "count");
  }

  /* Per bin of true values: the bin's centre (true) beside the mean prediction. */
  function predictions(d) {
    const edges = d.bin_edges || [], avg = d.bin_averages || [];
    const truth = avg.map((_, i) => num(edges[i]) && num(edges[i + 1]) ? (edges[i] + edges[i + 1]) / 2 : null);
    return [bars("predictions", edges, [{ name: "true", values: truth }, { name: "predicted", values: avg }], "true value", "value"),
      legend(["true (bin centre)", "predicted (mean)"])];
  }

  const AZURE = {
    confusion_matrix: ["confusion matrix", confusionMatrix],
    accuracy_table: ["accuracy table", accuracyTable],
    residuals: ["residuals", residuals],
    predictions: ["predictions", predictions],
  };

  function azureCard(c, runId) {
    const known = c.kind && AZURE[c.kind];
    let body;
    try { body = known ? known[1](c.data || {}) : h("p", { class: "muted" }, c.note || "not a chart"); }
    catch (err) { body = h("p", { class: "muted" }, "cannot draw: " + err.message); }
    return h("div", { class: "card azure", "data-chart": c.name, "data-kind": c.kind || "" },
      h("h3", null, h("span", null, c.name), h("span", { class: "kind" }, known ? known[0] : "chart file")), body,
      h("div", { class: "foot" }, h("span", null, c.file), h("a", { href: fileUrl(runId, c.file), target: "_blank", rel: "noopener" }, "JSON")));
  }

  function modelsTable(models) {
    if (!models || !models.length) return h("p", { class: "muted" }, "No models registered from this run.");
    const pairs = obj => Object.entries(obj || {}).map(([k, v]) => h("span", { class: "chip" }, h("b", null, k), v === "" ? "" : "=" + v));
    return h("table", { class: "grid", id: "models" },
      h("thead", null, h("tr", null, ["Name", "Version", "Path", "Tags", "Properties", "Description"].map(t => h("th", null, t)))),
      h("tbody", null, models.map(m => h("tr", null,
        h("td", { class: "model-name" }, m.name), h("td", { class: "num" }, m.version),
        h("td", { class: "mono" }, m.path), h("td", null, pairs(m.tags)), h("td", null, pairs(m.properties)),
        h("td", null, m.description)))));
  }

  // -- run page ---------------------------------------------------------------------------

  function runView(runId) {
    let disposed = false, timer = null, width = chartWidth();
    const charts = new Map();
    const head = h("div", { id: "run-head" });
    const cards = h("div", { class: "cards", id: "charts" });
    const other = h("div", { id: "run-other" });
    const azure = h("div", { id: "azure-charts" });
    const models = h("div", { id: "run-models" });
    const logs = logsPanel(runId);
    const side = h("div");
    app.append(head,
      h("h2", null, "Metrics"), cards,
      other, azure,
      h("h2", null, "Models"), models,
      h("h2", null, "Logs"), logs.el,
      side);

    function renderHead(detail) {
      const r = detail.run;
      document.title = `${r.name} \u00b7 tracklog`;
      fill(head, 
        h("div", { class: "muted" }, h("a", { href: "#/exp/" + r.experiment_id }, r.experiment), " / run"),
        h("h1", null, r.name),
        h("div", { class: "runhead" }, statusBadge(r.status), h("span", { class: "mono" }, r.id),
          h("span", null, "started " + fmtTime(r.start)), h("span", null, "duration " + fmtDuration(r.duration)),
          detail.parent ? h("span", null, "parent ", runLink(detail.parent)) : null),
        r.error ? h("div", { class: "error" }, r.error) : null);
    }

    function card(name, kind, body, foot) {
      return h("div", { class: "card", "data-metric": name },
        h("h3", null, h("span", null, name), h("span", { class: "kind" }, kind)), body, foot);
    }

    function csvLink(name) {
      return h("a", { href: `/api/runs/${runId}/csv?name=${q(name)}`, download: "" }, "CSV");
    }

    function lineCard(m) {
      const existing = charts.get(m.name);
      const data = [m.x, m.y];
      const note = () => m.downsampled
        ? `${m.points.toLocaleString()} points \u00b7 min/max per pixel \u00b7 drag to zoom`
        : `${m.points.toLocaleString()} points`;
      if (existing && existing.type === "line") {
        existing.chart.update(data);
        existing.note.textContent = note();
        return existing.el;
      }
      const box = h("div", { class: "chart" });
      const noteEl = h("span", null, note());
      const reset = h("a", { href: "#", hidden: true, onclick: e => { e.preventDefault(); chart.resetZoom(); } }, "reset zoom");
      const el = card(m.name, m.kind === "list" ? "list" : "metric", box,
        h("div", { class: "foot" }, noteEl, h("span", null, reset, " ", csvLink(m.name))));
      cards.append(el);
      const chart = makeChart(box, width, "step", [{ label: m.name }], data, async (lo, hi) => {
        const d = await api(`/api/runs/${runId}/series?name=${q(m.name)}&width=${width}&xmin=${lo}&xmax=${hi}`);
        return [d.x, d.y];
      });
      chart.state.reset = reset;
      charts.set(m.name, { type: "line", el, chart, note: noteEl });
      return el;
    }

    function valueCard(m) {
      const v = m.y.length ? m.y[m.y.length - 1] : null;
      return card(m.name, "value", h("div", { class: "stat" }, fmtValue(v)), h("div", { class: "foot" }, h("span", null, "step " + (m.x[0] ?? 0)), csvLink(m.name)));
    }

    function textCard(m) {
      const rows = m.rows.slice().reverse();
      return card(m.name, "text", h("div", { class: "scroll" }, h("table", { class: "grid" },
        h("thead", null, h("tr", null, h("th", null, "step"), h("th", null, "value"))),
        h("tbody", null, rows.map(([s, v]) => h("tr", null, h("td", { class: "num" }, s), h("td", null, fmtValue(v))))))),
        h("div", { class: "foot" }, h("span", null, m.points > m.shown ? `latest ${m.shown} of ${m.points}` : `${m.points} values`), csvLink(m.name)));
    }

    function tableCard(m) {
      const parts = [];
      const existing = charts.get(m.name);
      if (m.xy) {
        const data = [m.xy.x].concat(m.xy.ys.map(s => s.y));
        if (existing && existing.type === "table") {
          existing.chart.update(data);
        } else {
          const box = h("div", { class: "chart" });
          parts.push(box);
          const chart = makeChart(box, width, m.columns[0], m.xy.ys.map(s => ({ label: s.name })), data, null);
          charts.set(m.name, { type: "table", chart, box });
        }
        if (existing && existing.type === "table") parts.push(existing.box);
      }
      const table = h("table", { class: "grid" },
        h("thead", null, h("tr", null, m.columns.map(c => h("th", null, c)))),
        h("tbody", null, m.rows.map(row => h("tr", null, row.map(v => h("td", { class: "num mono" }, fmtValue(v)))))));
      parts.push(m.xy ? h("details", null, h("summary", { class: "muted" }, `table (${m.points} rows)`), h("div", { class: "scroll" }, table))
                      : h("div", { class: "scroll" }, table));
      return card(m.name, "table", parts, h("div", { class: "foot" },
        h("span", null, m.points > m.shown ? `first ${m.shown} of ${m.points} rows` : `${m.points} rows`), csvLink(m.name)));
    }

    function imageCard(m) {
      return card(m.name, "images", h("div", { class: "gallery" }, m.images.slice().reverse().map(img =>
        h("figure", null, h("a", { href: fileUrl(runId, img.file), target: "_blank", rel: "noopener" },
          h("img", { src: fileUrl(runId, img.file), alt: `${m.name} step ${img.step}`, loading: "lazy" })),
          h("figcaption", null, "step " + img.step)))), null);
    }

    function renderMetrics(metrics) {
      const seen = new Set();
      const extra = [];
      for (const m of metrics) {
        seen.add(m.name);
        if (m.type === "line") lineCard(m);
        else if (m.type === "value") extra.push(["value", valueCard(m)]);
        else if (m.type === "text") extra.push(["text", textCard(m)]);
        else if (m.type === "table") extra.push(["table", tableCard(m)]);
        else if (m.type === "image") extra.push(["image", imageCard(m)]);
      }
      for (const [name, c] of charts) {
        if (!seen.has(name)) { c.chart.destroy(); charts.delete(name); }
      }
      const values = extra.filter(e => e[0] === "value").map(e => e[1]);
      const rest = extra.filter(e => e[0] !== "value").map(e => e[1]);
      for (const el of [...cards.children]) if (el.dataset.static) el.remove();
      for (const el of values) { el.dataset.static = "1"; cards.prepend(el); }
      fill(other, rest.length ? h("h2", null, "Tables, text and images") : null,
        rest.length ? h("div", { class: "cards" }, rest) : null);
      if (!metrics.length) fill(cards, h("div", { class: "empty" }, "This run has no metrics."));
    }

    function renderSide(detail) {
      fill(side, 
        h("div", { class: "two" },
          h("div", null, h("h2", null, "Tags"), kvTable(detail.tags, "No tags.")),
          h("div", null, h("h2", null, "Params"), kvTable(detail.params, "No params."))),
        h("h2", null, "Source"),
        h("div", { id: "source" }, kvTable(Object.fromEntries(detail.source || []), "Not recorded.")),
        h("h2", null, "Child runs"),
        detail.children.length ? h("table", { class: "grid", id: "children" },
          h("thead", null, h("tr", null, h("th", null, "Run"), h("th", null, "Status"), h("th", null, "Started"), h("th", null, "Duration"))),
          h("tbody", null, detail.children.map(c => h("tr", null, h("td", null, runLink(c)), h("td", null, statusBadge(c.status)),
            h("td", { class: "mono" }, fmtTime(c.start)), h("td", { class: "num" }, fmtDuration(c.duration))))))
          : h("p", { class: "muted" }, "No child runs."),
        h("h2", null, "Files"),
        detail.files.length ? h("table", { class: "grid", id: "files" },
          h("thead", null, h("tr", null, h("th", null, "Name"), h("th", null, "Size"), h("th", null, ""))),
          h("tbody", null, detail.files.map(f => h("tr", null,
            h("td", { class: "mono" }, h("a", { href: fileUrl(runId, f.name), target: "_blank", rel: "noopener" }, f.name)),
            h("td", { class: "num" }, fmtBytes(f.size)),
            h("td", null, h("a", { href: fileUrl(runId, f.name, true), download: "" }, "download"))))))
          : h("p", { class: "muted" }, "No files."));
    }

    async function load(first) {
      const [detail, data] = await Promise.all([
        api(`/api/runs/${runId}`), api(`/api/runs/${runId}/charts?width=${width}`)]);
      if (disposed) return;
      if (first) logs.start(detail.logs);
      renderHead(detail);
      renderMetrics(data.metrics);
      renderSide(detail);
      const found = detail.azure_charts || [];
      fill(azure, found.length ? h("h2", null, "Charts") : null,
        found.length ? h("div", { class: "cards" }, found.map(c => azureCard(c, runId))) : null);
      fill(models, modelsTable(detail.models));
      const running = detail.run.status === "Running";
      setLive(running);
      if (running) timer = setTimeout(() => load(false).catch(console.warn), 2500);
    }

    function onResize() {
      const w = chartWidth();
      if (Math.abs(w - width) < 8) return;
      width = w;
      for (const c of charts.values()) c.chart.resize(w);
    }
    let resizeTimer = null;
    const resizeListener = () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(onResize, 150); };
    window.addEventListener("resize", resizeListener);

    load(true).catch(showError);
    return {
      dispose() {
        disposed = true; clearTimeout(timer); logs.stop(); setLive(false);
        window.removeEventListener("resize", resizeListener);
        for (const c of charts.values()) c.chart.destroy();
      },
    };
  }

  function logsPanel(runId) {
    let file = null, offset = null, timer = null, stopped = false, level = "", lines = 0;
    const box = h("div", { class: "logs", id: "logs" });
    const fileSel = h("select", { id: "log-file", onchange: e => { file = e.target.value; restart(); } });
    const levelSel = h("select", { id: "log-level", onchange: e => { level = e.target.value; restart(); } },
      h("option", { value: "" }, "All levels"), LEVELS.map(l => h("option", { value: l }, l + " and above")));
    const download = h("a", { class: "button secondary", download: "" }, "download");
    const state = h("span", { class: "muted", id: "log-state" });
    const el = h("div", null, h("div", { class: "toolbar" }, fileSel, levelSel, download, state), box);

    function render(rec) {
      const cls = "line " + (rec.level || "");
      return h("div", { class: cls },
        rec.time ? h("span", { class: "t" }, fmtClock(rec.time)) : null,
        rec.level ? h("span", { class: "lv" }, rec.level) : null,
        rec.logger ? h("span", { class: "lg" }, rec.logger + (rec.rank != null ? ` [rank ${rec.rank}]` : "")) : null,
        h("span", { class: "msg" }, rec.message),
        rec.exc_text ? h("div", { class: "exc" }, rec.exc_text) : null);
    }

    async function poll() {
      if (stopped || !file) return;
      const url = `/api/runs/${runId}/logs?file=${q(file)}` + (offset != null ? `&offset=${offset}` : "") +
                  (level ? `&level=${level}` : "");
      const d = await api(url);
      if (stopped) return;
      const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 30;
      if (offset == null) {
        fill(box);
        if (d.skipped) box.append(h("div", { class: "note" }, `${fmtBytes(d.skipped)} of earlier log lines not shown: download the file for all of it`));
      }
      for (const rec of d.records) { box.append(render(rec)); lines++; }
      while (lines > 5000 && box.firstChild) { box.firstChild.remove(); lines--; }
      if (!box.querySelector(".line") && !box.querySelector(".note")) box.append(h("div", { class: "note" }, "No log records" + (level ? " at this level." : " yet.")));
      else { const n = box.querySelector(".note.none"); if (n) n.remove(); }
      if (atBottom || offset == null) box.scrollTop = box.scrollHeight;
      offset = d.offset;
      const more = d.offset < d.size;
      state.textContent = d.running ? "following while the run is running" : "";
      if (more || d.running) timer = setTimeout(() => poll().catch(console.warn), more ? 50 : 1500);
    }

    function restart() {
      clearTimeout(timer); offset = null; lines = 0;
      download.href = `/api/runs/${runId}/file?name=${q("logs/" + file)}&download=1`;
      poll().catch(e => fill(box, h("div", { class: "note" }, String(e.message || e))));
    }

    return {
      el,
      start(files) {
        if (!files.length) {
          fill(el, h("p", { class: "muted", id: "logs" }, "This run has no log files."));
          return;
        }
        fill(fileSel, files.map(f => h("option", { value: f }, f)));
        file = files.includes("python.log") ? "python.log" : files[0];
        fileSel.value = file;
        restart();
      },
      stop() { stopped = true; clearTimeout(timer); },
    };
  }

  // -- comparison ----------------------------------------------------------------------------

  function compareView(params) {
    let ids = (params.get("runs") || "").split(",").filter(Boolean);
    let name = params.get("metric") || "";
    let disposed = false, timer = null, chart = null, allRuns = [];
    const picker = h("select", { id: "compare-add", onchange: e => { if (e.target.value) { ids.push(e.target.value); changed(); } } });
    const metricSel = h("select", { id: "compare-metric", onchange: e => { name = e.target.value; changed(); } });
    const chips = h("div", { class: "legend-row", id: "compare-runs" });
    const box = h("div", { class: "card" }, h("div", { class: "chart", id: "compare-chart" }));
    const table = h("div");
    app.append(h("h1", null, "Compare runs"),
      h("div", { class: "toolbar" }, h("label", null, "Metric ", metricSel), picker), chips, box, table);
    const width = Math.max(300, box.clientWidth - 26);

    function changed() {
      history.replaceState(null, "", `#/compare?runs=${ids.join(",")}` + (name ? `&metric=${q(name)}` : ""));
      clearTimeout(timer);
      load().catch(showError);
    }

    function draw(data) {
      const series = data.series.map((s, i) => {
        const run = data.runs[i];
        return { label: run.name + " \u00b7 " + run.id.slice(0, 6), color: COLORS[i % COLORS.length], spanGaps: true };
      });
      const joined = data.series.length ? uPlot.join(data.series.map(s => [s.x, s.y])) : [[]];
      if (chart) { chart.destroy(); chart = null; }
      const el = box.querySelector(".chart");
      fill(el);
      if (!data.series.length || !name) {
        el.append(h("div", { class: "empty" }, ids.length ? "These runs have no charted metric in common." : "Pick runs to compare: tick them in the runs list, or add them here."));
        return;
      }
      chart = makeChart(el, width, "step", series, joined, null);
    }

    async function load() {
      const runsList = await api("/api/runs");
      allRuns = runsList.runs;
      ids = ids.filter(id => allRuns.some(r => r.id === id));
      let data = { runs: [], metrics: [], series: [] };
      if (ids.length) {
        data = await api(`/api/compare?runs=${ids.join(",")}&width=${width}` + (name ? `&name=${q(name)}` : ""));
        if (!name || !data.metrics.includes(name)) {
          name = data.metrics[0] || "";
          if (name) data = await api(`/api/compare?runs=${ids.join(",")}&width=${width}&name=${q(name)}`);
        }
      }
      if (disposed) return;
      fill(metricSel, data.metrics.map(m => h("option", { value: m }, m)));
      metricSel.value = name;
      fill(picker, h("option", { value: "" }, "add a run\u2026"),
        allRuns.filter(r => !ids.includes(r.id)).map(r => h("option", { value: r.id }, `${r.name} (${r.experiment}, ${r.id.slice(0, 8)})`)));
      fill(chips, data.runs.map((r, i) => h("span", { class: "chip" },
        h("span", { class: "swatch", style: "background:" + COLORS[i % COLORS.length] }), runLink(r), " ",
        h("a", { href: "#", title: "remove", onclick: e => { e.preventDefault(); ids = ids.filter(x => x !== r.id); changed(); } }, "\u00d7"))));
      draw(data);
      const last = s => { for (let i = s.y.length - 1; i >= 0; i--) if (s.y[i] != null) return s.y[i]; return null; };
      fill(table, data.runs.length ? h("table", { class: "grid", id: "compare-table" },
        h("thead", null, h("tr", null, h("th", null, "Run"), h("th", null, "Status"), h("th", null, "Points"), h("th", null, "Last " + name))),
        h("tbody", null, data.runs.map((r, i) => {
          const s = data.series[i] || { y: [], points: 0 };
          return h("tr", null, h("td", null, runLink(r)), h("td", null, statusBadge(r.status)),
            h("td", { class: "num" }, s.points.toLocaleString()), h("td", { class: "num mono" }, fmtValue(last(s))));
        }))) : null);
      const alive = data.runs.some(r => r.status === "Running");
      setLive(alive);
      if (alive) timer = setTimeout(() => load().catch(console.warn), 3000);
    }

    load().catch(showError);
    return { dispose() { disposed = true; clearTimeout(timer); setLive(false); if (chart) chart.destroy(); } };
  }

  // -- router -----------------------------------------------------------------------------------

  let view = null;

  function route() {
    if (view) view.dispose();
    view = null;
    window.scrollTo(0, 0);
    fill(app);
    document.title = "tracklog";
    const hash = location.hash.replace(/^#/, "") || "/";
    const [path, query] = hash.split("?");
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    document.getElementById("nav-runs").className = parts[0] === "compare" ? "" : "active";
    document.getElementById("nav-compare").className = parts[0] === "compare" ? "active" : "";
    if (parts[0] === "run" && parts[1]) view = runView(parts[1]);
    else if (parts[0] === "compare") view = compareView(new URLSearchParams(query || ""));
    else view = runsView(parts[0] === "exp" ? (parts[1] || "") : "");
  }

  window.addEventListener("hashchange", route);
  route();
  api("/api/experiments").then(d => { document.getElementById("workspace").textContent = d.workspace || ""; },
                                 () => {});
})();
