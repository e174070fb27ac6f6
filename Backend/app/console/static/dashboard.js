// The dashboard's chart: value moved per Nairobi day, stacked by kind, from
// /console/dashboard.json; a click on a bar opens that day's movements of that kind.
// Chart.js is vendored (static/chart.umd.js): the console works offline, with no CDN.
(function () {
  "use strict";
  var canvas = document.getElementById("daily");
  if (!canvas || typeof Chart === "undefined") { return; }
  var COLOURS = ["#2f6f4f", "#4f86c6", "#c67f2f", "#8e5bb5", "#c64f6a", "#6fa84f", "#888888"];
  fetch(canvas.dataset.source, { credentials: "same-origin" })
    .then(function (answer) { return answer.json(); })
    .then(function (data) {
      var kinds = Object.keys(data.stacks);
      var chart = new Chart(canvas, {
        type: "bar",
        data: {
          labels: data.days,
          datasets: kinds.map(function (kind, n) {
            return {
              label: kind,
              data: data.stacks[kind].map(function (cents) { return cents / 100; }),
              backgroundColor: COLOURS[n % COLOURS.length]
            };
          })
        },
        options: {
          animation: false,
          responsive: false,
          scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "KES" } } },
          onClick: function (event) {
            var hit = chart.getElementsAtEventForMode(event, "nearest", { intersect: true }, false)[0];
            if (!hit) { return; }
            location.href = "/console/figures/movements?label=" +
              encodeURIComponent(kinds[hit.datasetIndex]) + "&day=" + data.days[hit.index];
          }
        }
      });
      canvas.dataset.drawn = "yes";
    });
})();
