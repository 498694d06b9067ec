// Draws every interactive figure of the report (heatmaps, rank histograms, CCA plots): each
// <div class="cp-figure"> is followed by a <script type="application/json" class="cp-figure-spec">
// holding its Plotly traces and layout (written by counterpoint/report/interactive.py).
(function () {
  "use strict";
  if (typeof Plotly === "undefined") { return; }
  var figures = document.querySelectorAll("div.cp-figure");
  for (var i = 0; i < figures.length; i++) {
    var div = figures[i];
    var holder = div.nextElementSibling;
    if (!holder || !holder.classList.contains("cp-figure-spec")) { continue; }
    var spec = JSON.parse(holder.textContent);
    Plotly.newPlot(div, spec.data, spec.layout, {displaylogo: false, responsive: true,
                                                 modeBarButtonsToRemove: ["lasso2d", "select2d"]});
  }
})();
