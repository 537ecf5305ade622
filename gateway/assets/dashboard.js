// The overview's chart: Stars per day from GET /admin/series, drawn with uPlot (vendored,
// served by the gateway). Refunds are drawn below zero so they stay visible beside the sales.
(function () {
  "use strict";
  function draw(el, days) {
    var xs = days.map(function (d) { return Date.parse(d.day + "T00:00:00Z") / 1000; });
    var paid = days.map(function (d) { return d.paid_stars; });
    var refunded = days.map(function (d) { return -d.refunded_stars; });
    var net = days.map(function (d) { return d.net_stars; });
    var bars = uPlot.paths.bars({ size: [0.6, 40] });
    var opts = {
      width: Math.max(320, el.clientWidth),
      height: 280,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      scales: { x: { time: true } },
      axes: [{}, { label: "Stars" }],
      series: [
        {},
        { label: "paid", stroke: "#2e7d32", fill: "rgba(46,125,50,0.35)", paths: bars, points: { show: false } },
        { label: "refunded", stroke: "#c62828", fill: "rgba(198,40,40,0.45)", paths: bars, points: { show: false } },
        { label: "net", stroke: "#1f4e9c", width: 2 }
      ]
    };
    el.textContent = "";
    new uPlot(opts, [xs, paid, refunded, net], el);
    el.setAttribute("data-drawn", String(days.length));
  }
  function start() {
    var el = document.getElementById("chart");
    if (!el) { return; }
    fetch(el.getAttribute("data-series"), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (!body.ok) { throw new Error(body.error); }
        draw(el, body.days);
      })
      .catch(function (e) {
        el.textContent = "The chart could not be drawn: " + e.message;
        el.setAttribute("data-error", "true");
      });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
