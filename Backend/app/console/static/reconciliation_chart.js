// The dashboard's reconciliation chart: by Nairobi day over 30 days, the parties drifting
// at the day's last ledger-against-Stellar run (bars) and the differences of the day's
// latest M-Pesa report (a line), from /console/reconciliation.json. A day with no report
// is null: no bar, a gap in the line (not the same as a day with no drift).
(function () {
  "use strict";
  var canvas = document.getElementById("drift");
  if (!canvas || typeof Chart === "undefined") { return; }
  fetch(canvas.dataset.source, { credentials: "same-origin" })
    .then(function (answer) { return answer.json(); })
    .then(function (data) {
      new Chart(canvas, {
        data: {
          labels: data.days,
          datasets: [
            { type: "bar", label: "Stellar: parties drifting (last run)", data: data.stellar_drifting,
              backgroundColor: "rgba(198,79,106,.6)" },
            { type: "line", label: "Stellar: most drifting (any run)", data: data.stellar_most,
              borderColor: "#c67f2f", backgroundColor: "#c67f2f", spanGaps: false, tension: 0 },
            { type: "line", label: "M-Pesa: differences", data: data.mpesa_differences,
              borderColor: "#4f86c6", backgroundColor: "#4f86c6", spanGaps: false, tension: 0 }
          ]
        },
        options: {
          animation: false,
          responsive: false,
          scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }
        }
      });
      canvas.dataset.drawn = "yes";
    });
})();
