// Counterpoint report: linked scatter plots coloured and hovered by any metadata column, a track search over every
// track, the audio player and nearest neighbours. Reads the page's data (#cp-data: report/scatter.py's page_data).
// No network.
"use strict";
(function () {
  var source = document.getElementById("cp-data");
  if (!source || typeof Plotly === "undefined") return;
  var data = JSON.parse(source.textContent);
  var tracks = data.tracks, ids = tracks.ids, labelColumn = data.columns[0];
  var drawn = tracks.drawn || ids.map(function (_, i) { return i; });   // drawn position -> track index
  var trackAt = {}, drawnAt = {};
  ids.forEach(function (id, i) { trackAt[id] = i; });
  drawn.forEach(function (track, j) { drawnAt[ids[track]] = j; });
  var methodSelect = document.getElementById("cp-method"), colourSelect = document.getElementById("cp-colour");
  var player = document.getElementById("cp-audio"), audioNote = document.getElementById("cp-audio-note");
  var chosen = document.getElementById("cp-chosen"), selection = document.getElementById("cp-selection");
  var search = document.getElementById("cp-track"), searchList = document.getElementById("cp-track-list");
  var searchNote = document.getElementById("cp-search-note"), neighbourBox = document.getElementById("cp-neighbours");
  var kind = data.webgl ? "scattergl" : "scatter", chosenId = "";

  function escapeHtml(text) {   // Plotly renders tags in names and hover texts: every value is shown as text
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]; });
  }
  function labelOf(id) {
    var i = trackAt[id];
    return i === undefined || tracks.label[i] < 0 ? "" : labelColumn.levels[tracks.label[i]];
  }
  function valueText(column, j) {
    if (column.kind === "categorical") return column.levels[column.codes[j]];
    return column.values[j] === null ? "(no value)" : String(column.values[j]);
  }
  var hover = drawn.map(function (track, j) {
    return "<b>" + escapeHtml(ids[track]) + "</b>" + data.columns.map(function (column) {
      return "<br>" + escapeHtml(column.name) + ": " + escapeHtml(valueText(column, j)); }).join("");
  });
  var pointOf = data.spaces.map(function (space) {   // per space: track id -> its point
    var points = {}; space.rows.forEach(function (j, k) { points[ids[drawn[j]]] = k; }); return points;
  });
  data.columns.forEach(function (column, c) {
    var option = document.createElement("option"); option.value = String(c); option.textContent = column.name;
    colourSelect.appendChild(option);
  });

  function traces(space, method, column) {
    var view = space.projections[method], out = [];
    function trace(name, points, marker, extra) {
      var x = [], y = [], custom = [], text = [];
      points.forEach(function (k) {
        var j = space.rows[k]; x.push(view.x[k]); y.push(view.y[k]); custom.push(ids[drawn[j]]); text.push(hover[j]);
      });
      return Object.assign({type: kind, mode: "markers", name: name, x: x, y: y, customdata: custom, hovertext: text,
        hoverinfo: "text", marker: marker}, extra || {});
    }
    if (column.kind === "categorical") {
      var byLevel = column.levels.map(function () { return []; }), other = [];
      space.rows.forEach(function (j, k) { var code = column.codes[j]; (column.named[code] ? byLevel[code] : other).push(k); });
      column.levels.forEach(function (level, code) {
        if (byLevel[code].length) out.push(trace(escapeHtml(level), byLevel[code],
          {color: column.colours[code], size: 7, opacity: 0.85}, {legendgroup: level}));
      });
      if (other.length) out.push(trace(escapeHtml(column.other), other,
        {color: column.colours[column.codes[space.rows[other[0]]]], size: 6, opacity: 0.6}));
    } else {
      var given = [], missing = [];
      space.rows.forEach(function (j, k) { (column.values[j] === null ? missing : given).push(k); });
      out.push(trace(escapeHtml(column.name), given, {
        color: given.map(function (k) { return column.values[space.rows[k]]; }), colorscale: "Viridis",
        cmin: column.low, cmax: column.high, size: 7, opacity: 0.85, showscale: true,
        colorbar: {title: {text: escapeHtml(column.name), side: "right"}, thickness: 12}}, {showlegend: false}));
      if (missing.length) out.push(trace("(no value)", missing, {color: "#BBBBBB", size: 6, opacity: 0.6},
        {showlegend: false}));
    }
    out.push({type: kind, mode: "markers", name: "chosen track", x: [], y: [], hoverinfo: "skip", showlegend: false,
      marker: {size: 18, color: "rgba(0,0,0,0)", line: {color: "#000", width: 2.5}}});
    return out;
  }
  function layout(space, method, column) {
    var view = space.projections[method];
    // The title sits just above the plot, left, below the mode bar (top right), which never covers it.
    return {title: {text: escapeHtml(space.title), font: {size: 13}, x: 0, xref: "paper", y: 1, yref: "paper",
      yanchor: "bottom", pad: {b: 6}}, margin: {l: 55, r: 10, t: 60, b: 45}, height: 380,
      xaxis: {title: {text: escapeHtml(view.axes[0])}, zeroline: false},
      yaxis: {title: {text: escapeHtml(view.axes[1])}, zeroline: false},
      dragmode: "lasso", legend: {font: {size: 11}}, hovermode: "closest", showlegend: column.kind === "categorical"};
  }
  var plots = data.spaces.map(function (space, i) { return document.getElementById("cp-scatter-" + i); });
  function methodOf() { return methodSelect ? methodSelect.value : data.methods[0]; }
  function draw() {
    var method = methodOf(), column = data.columns[Number(colourSelect.value) || 0];
    data.spaces.forEach(function (space, i) {
      if (!space.projections[method]) return;
      Plotly.react(plots[i], traces(space, method, column), layout(space, method, column),
        {displaylogo: false, responsive: true});
    });
    if (chosenId) highlight(chosenId);
  }
  function highlight(id) {
    var method = methodOf();
    data.spaces.forEach(function (space, i) {
      var view = space.projections[method]; if (!view || !plots[i].data) return;
      var k = pointOf[i][id], last = plots[i].data.length - 1;
      Plotly.restyle(plots[i], {x: [k === undefined ? [] : [view.x[k]]], y: [k === undefined ? [] : [view.y[k]]]}, [last]);
    });
  }
  function play(id) {
    audioNote.textContent = "";
    var i = trackAt[id], path = i === undefined || !tracks.audio[i] ? "" : tracks.audio_base + tracks.audio[i];
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
        else if (labelOf(row[0]) === labelOf(id)) tr.className = "same-class";
        [String(rank + 1), row[0], labelOf(row[0]), row[1].toFixed(3)].forEach(function (value) {
          tr.insertCell().textContent = value; });
      });
      figure.appendChild(table); neighbourBox.appendChild(figure);
    });
    if (!neighbourBox.childNodes.length) neighbourBox.textContent = "No neighbour lists for " + id + (data.subsample &&
      drawnAt[id] === undefined ? " on this page (inlined for the drawn tracks; compare/neighbours.csv.gz holds every track's)." : ".");
  }
  function choose(id) {
    chosenId = id;
    chosen.textContent = id + " · " + labelOf(id) + (drawnAt[id] === undefined
      ? " (not drawn: the plots show a subsample of the tracks)" : "");
    search.value = id; searchNote.textContent = "";
    highlight(id); play(id); showNeighbours(id);
  }
  // The track search: every track's id is inline, drawn or not. Suggestions as one types; Enter or a suggestion picks.
  var lowerIds = ids.map(function (id) { return id.toLowerCase(); });
  function matching(text, most) {
    var query = text.trim().toLowerCase(), found = [];
    if (!query) return found;
    for (var i = 0; i < ids.length && found.length < most; i++) if (lowerIds[i].indexOf(query) >= 0) found.push(ids[i]);
    return found;
  }
  function find(text) {
    var query = text.trim(), found = trackAt[query] !== undefined ? [query] : matching(query, Infinity);
    if (found.length === 1) choose(found[0]);
    else if (query) searchNote.textContent = found.length ? found.length + " tracks match \u201c" + query +
      "\u201d: type more of the id." : "No track id contains \u201c" + query + "\u201d.";
  }
  search.addEventListener("input", function (event) {
    searchList.textContent = "";
    matching(search.value, 30).forEach(function (id) {
      var option = document.createElement("option"); option.value = id; searchList.appendChild(option); });
    if (event.inputType === "insertReplacementText" || event.inputType === undefined) {   // a suggestion picked
      if (trackAt[search.value] !== undefined && search.value !== chosenId) choose(search.value);
    }
  });
  search.addEventListener("change", function () { if (search.value !== chosenId) find(search.value); });
  // A track named elsewhere on the page (e.g. the most influential tracks): chosen, marked and played here.
  document.querySelectorAll("[data-cp-track]").forEach(function (link) {
    link.addEventListener("click", function () { if (trackAt[link.dataset.cpTrack] !== undefined) choose(link.dataset.cpTrack); });
  });
  draw();
  if (methodSelect) methodSelect.addEventListener("change", draw);
  colourSelect.addEventListener("change", draw);
  plots.forEach(function (plot) {
    plot.on("plotly_click", function (event) { var point = event.points[0]; if (point.customdata) choose(point.customdata); });
    plot.on("plotly_selected", function (event) {
      selection.textContent = "";
      var picked = event ? event.points.map(function (p) { return p.customdata; }).filter(Boolean) : [];
      var heading = document.createElement("p");
      heading.textContent = picked.length + " tracks selected" + (picked.length ? ":" : "");
      selection.appendChild(heading);
      var list = document.createElement("ul");
      picked.forEach(function (id) { var li = document.createElement("li"); li.textContent = id + " · " + labelOf(id); list.appendChild(li); });
      selection.appendChild(list);
    });
  });
})();
