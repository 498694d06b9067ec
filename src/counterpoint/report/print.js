// Counterpoint report: before printing, every plot is redrawn at the paper's width (and again after).
"use strict";
(function () {
  if (typeof Plotly === "undefined") return;
  function fit() {
    document.querySelectorAll(".js-plotly-plot").forEach(function (plot) { Plotly.Plots.resize(plot); });
  }
  window.addEventListener("beforeprint", fit);
  window.addEventListener("afterprint", fit);
  if (window.matchMedia) window.matchMedia("print").addEventListener("change", fit);
})();
