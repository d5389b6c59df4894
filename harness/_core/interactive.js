// Draws every figure.hplot element of a report page with uPlot (harness/interactive.py writes the
// spec: one panel per matplotlib axes). Hover: the legend reads out each series at the cursor;
// click a legend entry: hide/show the series; drag: zoom (double-click: back); buttons: log/linear.
(function () {
  "use strict";
  function alpha(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16 & 255) + "," + (n >> 8 & 255) + "," + (n & 255) + "," + a + ")";
  }
  function fmt(v) {  // a read-out: "" where the cursor has no value (a still page shows no "-" rows)
    if (v == null) return "";
    var a = Math.abs(v);
    return (a !== 0 && (a < 1e-3 || a >= 1e5)) ? v.toExponential(3) : +v.toPrecision(4) + "";
  }
  function ticks(u, vals) {  // one format per axis: all in exponent form as soon as one tick needs it
    var big = vals.some(function (v) { var a = Math.abs(v || 0); return a !== 0 && (a < 1e-3 || a >= 1e5); });
    return vals.map(function (v) {
      if (v == null) return "";
      return big ? (v === 0 ? "0" : v.toExponential(0).replace("e+", "e")) : +v.toPrecision(4) + "";
    });
  }
  function draw(holder, panel, width, scales) {
    holder.innerHTML = "";
    var series = [{label: panel.xlabel || "x", value: function (u, v) { return fmt(v); }}];
    panel.series.forEach(function (s) {
      series.push({
        label: s.edge ? "band" : s.name,
        stroke: s.edge ? "transparent" : s.color,
        width: s.points || s.edge ? 0 : 1.5,
        dash: s.dash && s.dash.length ? s.dash : undefined,
        show: s.show,
        spanGaps: true,
        points: {show: !!s.points, size: 7, fill: s.color, stroke: s.color},
        value: function (u, v) { return fmt(v); }
      });
    });
    var opts = {
      title: panel.title || undefined,
      width: width, height: 330,
      scales: {x: {time: false, distr: scales.x ? 3 : 1, log: 10}, y: {distr: scales.y ? 3 : 1, log: 10}},
      axes: [{label: panel.xlabel || "", values: ticks}, {label: panel.ylabel || "", size: 70, values: ticks}],
      series: series,
      bands: panel.bands.map(function (b) { return {series: [b[0], b[1]], fill: alpha(b[2], 0.2)}; }),
      cursor: {drag: {x: true, y: true, uni: 20}},
      legend: {live: true}
    };
    var data = [panel.x].concat(panel.series.map(function (s) { return s.y; }));
    var plot = new uPlot(opts, data, holder);
    // band edges are drawn as a fill, not listed: hide their legend rows
    var rows = holder.querySelectorAll(".u-legend .u-series");
    // band edges (drawn as a fill) and unlabelled reference lines (a target, a marker) are not listed;
    // each seed's curve is listed only while the "each seed" button shows them
    panel.series.forEach(function (s, i) {
      var seedRow = !s.edge && s.ondemand;
      if (rows[i + 1] && (s.edge || !s.name || (seedRow && !scales.seeds))) rows[i + 1].style.display = "none";
    });
    return plot;
  }
  function build(fig) {
    var spec;
    try { spec = JSON.parse(fig.querySelector("script[type='application/json']").textContent); }
    catch (e) { return; }
    if (!window.uPlot || !spec.panels.length) return;
    var box = document.createElement("div");
    if (spec.title) {
      var t = document.createElement("div");
      t.className = "hplot-title"; t.textContent = spec.title; box.appendChild(t);
    }
    var panels = document.createElement("div");
    panels.className = "hplot-panels"; box.appendChild(panels);
    var avail = Math.max(fig.parentNode.clientWidth || 1100, 400);
    var width = Math.max(360, Math.floor(avail / Math.min(spec.panels.length, 2)) - 24);
    spec.panels.forEach(function (panel) {
      var cell = document.createElement("div");
      var tools = document.createElement("div");
      tools.className = "hplot-tools";
      var holder = document.createElement("div");
      var scales = {x: panel.xlog, y: panel.ylog};
      ["x", "y"].forEach(function (axis) {
        var b = document.createElement("button");
        var label = function () { b.textContent = axis + ": " + (scales[axis] ? "log" : "linear"); };
        label();
        b.title = "switch the " + axis + " axis between log and linear";
        b.onclick = function () { scales[axis] = !scales[axis]; label(); draw(holder, panel, width, scales); };
        tools.appendChild(b);
      });
      panel.series.forEach(function (s) { if (!s.show && !s.edge) s.ondemand = true; });
      var hidden = panel.series.filter(function (s) { return s.ondemand; }).length;
      if (hidden) {
        var seeds = document.createElement("button");
        var seedLabel = function () { seeds.textContent = (scales.seeds ? "hide" : "show") + " each seed (" + hidden + ")"; };
        scales.seeds = false;
        seedLabel();
        seeds.title = "draw every seed's own curve beside the median";
        seeds.onclick = function () {
          scales.seeds = !scales.seeds; seedLabel();
          panel.series.forEach(function (s) { if (s.ondemand) s.show = scales.seeds; });
          draw(holder, panel, width, scales);
        };
        tools.appendChild(seeds);
      }
      cell.appendChild(tools); cell.appendChild(holder); panels.appendChild(cell);
      draw(holder, panel, width, scales);
    });
    fig.insertBefore(box, fig.firstChild);
    fig.classList.add("drawn");
    fig.setAttribute("data-drawn", String(spec.panels.length));
  }
  function all() { Array.prototype.forEach.call(document.querySelectorAll("figure.hplot"), build); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all); else all();
})();
