// Counterpoint report: sortable tables, linked scatter plots, nearest neighbours. No network.
"use strict";
(function () {
  // Each heading of a sortable table becomes a button (a click, Enter or Space sorts by its column);
  // aria-sort says the order: ascending or descending on the sorted column, none on the others.
  function sortable(table) {
    var headings = table.querySelectorAll("thead th");
    headings.forEach(function (th, column) {
      var button = document.createElement("button");
      button.type = "button"; button.title = "sort by this column";
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      th.setAttribute("aria-sort", "none");
      button.addEventListener("click", function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        headings.forEach(function (other) { other.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        function key(row) {
          var cell = row.cells[column]; if (!cell) return "";
          var text = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
          var number = parseFloat(text.replace(/^\[/, ""));
          return isNaN(number) ? text.toLowerCase() : number;
        }
        rows.sort(function (a, b) {
          var x = key(a), y = key(b), order = (typeof x === typeof y) ? (x < y ? -1 : x > y ? 1 : 0)
            : (typeof x === "number" ? -1 : 1);
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }
  document.querySelectorAll("table.sortable").forEach(sortable);

  var source = document.getElementById("cp-data");
  if (!source || typeof Plotly === "undefined") return;
  var data = JSON.parse(source.textContent);
  var methodSelect = document.getElementById("cp-method");
  var player = document.getElementById("cp-audio"), audioNote = document.getElementById("cp-audio-note");
  var chosen = document.getElementById("cp-chosen"), selection = document.getElementById("cp-selection");
  var trackSelect = document.getElementById("cp-track"), neighbourBox = document.getElementById("cp-neighbours");
  var labelOf = {}, audioOf = {};
  data.spaces.forEach(function (space) {
    space.ids.forEach(function (id, i) { labelOf[id] = space.labels[i]; if (space.audio[i]) audioOf[id] = space.audio[i]; });
  });

  function traces(space, method) {
    var view = space.projections[method], out = [];
    data.classes.forEach(function (name) {
      var x = [], y = [], ids = [], text = [];
      space.labels.forEach(function (label, i) {
        if (label !== name) return;
        x.push(view.x[i]); y.push(view.y[i]); ids.push(space.ids[i]); text.push(space.hover[i]);
      });
      if (x.length) out.push({type: "scatter", mode: "markers", name: data.class_legend[name], x: x, y: y,
        customdata: ids, hovertext: text, hoverinfo: "text", legendgroup: name,
        marker: {color: data.colours[name], size: 7, opacity: 0.85}});
    });
    out.push({type: "scatter", mode: "markers", name: "chosen track", x: [], y: [], hoverinfo: "skip",
      showlegend: false, marker: {size: 18, color: "rgba(0,0,0,0)", line: {color: "#000", width: 2.5}}});
    return out;
  }
  function layout(space, method) {
    var view = space.projections[method];
    // The title sits just above the plot, left, below the mode bar (top right), which never covers it.
    return {title: {text: space.title, font: {size: 13}, x: 0, xref: "paper", y: 1, yref: "paper", yanchor: "bottom",
      pad: {b: 6}}, margin: {l: 55, r: 10, t: 60, b: 45}, height: 380,
      xaxis: {title: {text: view.axes[0]}, zeroline: false}, yaxis: {title: {text: view.axes[1]}, zeroline: false},
      dragmode: "lasso", legend: {font: {size: 11}}, hovermode: "closest"};
  }
  var plots = data.spaces.map(function (space, i) { return document.getElementById("cp-scatter-" + i); });
  function methodOf() { return methodSelect ? methodSelect.value : data.methods[0]; }
  function draw() {
    var method = methodOf();
    data.spaces.forEach(function (space, i) {
      if (!space.projections[method]) return;
      Plotly.react(plots[i], traces(space, method), layout(space, method), {displaylogo: false, responsive: true});
    });
    if (trackSelect && trackSelect.value) highlight(trackSelect.value);
  }
  function highlight(id) {
    var method = methodOf();
    data.spaces.forEach(function (space, i) {
      var view = space.projections[method]; if (!view || !plots[i].data) return;
      var row = space.ids.indexOf(id), last = plots[i].data.length - 1;
      Plotly.restyle(plots[i], {x: [row < 0 ? [] : [view.x[row]]], y: [row < 0 ? [] : [view.y[row]]]}, [last]);
    });
  }
  function play(id) {
    audioNote.textContent = "";
    var path = audioOf[id];
    if (!path) { player.removeAttribute("src"); audioNote.textContent = "No audio file is recorded for " + id + "."; return; }
    player.src = path.split("/").map(encodeURIComponent).join("/");
    player.play().catch(function () {});
  }
  if (player) player.addEventListener("error", function () {
    if (!player.getAttribute("src")) return;
    audioNote.textContent = "The audio of this track is not reachable at " + decodeURIComponent(player.getAttribute("src")) +
      " (relative to this page): keep the report folder where it was written, next to the dataset (" + data.dataset_root + ").";
  });
  function showNeighbours(id) {
    neighbourBox.textContent = "";
    Object.keys(data.neighbours).forEach(function (view) {
      var rows = data.neighbours[view][id]; if (!rows) return;
      var figure = document.createElement("div"); figure.className = "nn-view";
      var heading = document.createElement("h4"); heading.textContent = view; figure.appendChild(heading);
      var table = document.createElement("table"), head = table.createTHead().insertRow();
      ["rank", "track", "label", "cosine"].forEach(function (name) {
        var th = document.createElement("th"); th.textContent = name; head.appendChild(th); });
      var body = table.createTBody();
      rows.forEach(function (row, rank) {
        var tr = body.insertRow();
        if (row[0] === id) tr.className = "partner";
        else if (labelOf[row[0]] === labelOf[id]) tr.className = "same-class";
        [String(rank + 1), row[0], data.class_names[labelOf[row[0]]] || "", row[1].toFixed(3)].forEach(function (value) {
          tr.insertCell().textContent = value; });
      });
      figure.appendChild(table); neighbourBox.appendChild(figure);
    });
    if (!neighbourBox.childNodes.length) neighbourBox.textContent = "No neighbour lists for " + id + ".";
  }
  function choose(id) {
    chosen.textContent = id + " · " + (data.class_names[labelOf[id]] || "");
    if (trackSelect) trackSelect.value = id;
    highlight(id); play(id); showNeighbours(id);
  }
  if (trackSelect) {
    Object.keys(labelOf).sort().forEach(function (id) {
      var option = document.createElement("option"); option.value = id; option.textContent = id; trackSelect.appendChild(option);
    });
    trackSelect.addEventListener("change", function () { choose(trackSelect.value); });
  }
  // A track named elsewhere on the page (e.g. the most influential tracks): chosen, marked and played here.
  document.querySelectorAll("[data-cp-track]").forEach(function (link) {
    link.addEventListener("click", function () { if (labelOf[link.dataset.cpTrack] !== undefined) choose(link.dataset.cpTrack); });
  });
  draw();
  if (methodSelect) methodSelect.addEventListener("change", draw);
  plots.forEach(function (plot) {
    plot.on("plotly_click", function (event) { var point = event.points[0]; if (point.customdata) choose(point.customdata); });
    plot.on("plotly_selected", function (event) {
      selection.textContent = "";
      var ids = event ? event.points.map(function (p) { return p.customdata; }).filter(Boolean) : [];
      var heading = document.createElement("p");
      heading.textContent = ids.length + " tracks selected" + (ids.length ? ":" : "");
      selection.appendChild(heading);
      var list = document.createElement("ul");
      ids.forEach(function (id) { var li = document.createElement("li"); li.textContent = id + " · " + (data.class_names[labelOf[id]] || ""); list.appendChild(li); });
      selection.appendChild(list);
    });
  });
})();
