// The dashboard's USSD hop latency chart: hops per hour (bars, right axis) and their
// 50th, 95th and 99th percentiles in ms (lines, left axis) over the last 24 hours, from
// /console/hop_latency.json. An hour with no hop has no percentile: a gap in the lines.
(function () {
  "use strict";
  var canvas = document.getElementById("hops");
  if (!canvas || typeof Chart === "undefined") { return; }
  fetch(canvas.dataset.source, { credentials: "same-origin" })
    .then(function (answer) { return answer.json(); })
    .then(function (data) {
      function line(label, values, colour) {
        return { type: "line", label: label, data: values, borderColor: colour,
          backgroundColor: colour, yAxisID: "ms", spanGaps: false, tension: 0 };
      }
      new Chart(canvas, {
        data: {
          labels: data.labels,
          datasets: [
            line("p50 ms", data.p50_ms, "#2f6f4f"),
            line("p95 ms", data.p95_ms, "#c67f2f"),
            line("p99 ms", data.p99_ms, "#c64f6a"),
            { type: "bar", label: "hops", data: data.hops, backgroundColor: "rgba(79,134,198,.35)",
              yAxisID: "hops" }
          ]
        },
        options: {
          animation: false,
          responsive: false,
          scales: {
            ms: { position: "left", beginAtZero: true, title: { display: true, text: "ms" } },
            hops: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
              title: { display: true, text: "hops" } }
          }
        }
      });
      canvas.dataset.drawn = "yes";
    });
})();
