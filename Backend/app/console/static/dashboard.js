// The dashboard's chart: value moved per Nairobi day, from /console/dashboard.json.
// Chart.js is vendored (static/chart.umd.js): the console works offline, with no CDN.
(function () {
  "use strict";
  var canvas = document.getElementById("daily");
  if (!canvas || typeof Chart === "undefined") { return; }
  fetch(canvas.dataset.source, { credentials: "same-origin" })
    .then(function (answer) { return answer.json(); })
    .then(function (data) {
      new Chart(canvas, {
        type: "bar",
        data: {
          labels: data.days,
          datasets: [{
            label: "KES moved",
            data: data.value.map(function (cents) { return cents / 100; }),
            backgroundColor: "#2f6f4f"
          }]
        },
        options: { animation: false, responsive: false, plugins: { legend: { display: false } } }
      });
      canvas.dataset.drawn = "yes";
    });
})();
