/* sitescore map: cell styles and tooltips, weight sliders that re-score and re-rank the sites in
 * the browser, the ranked-sites panel and its search. Needs Leaflet; reads SITESCORE_DATA.
 *
 * Every text in SITESCORE_DATA is already HTML-escaped by the page's writer: it goes into
 * innerHTML as it is and never gets unescaped, except through a <textarea> for the YAML export.
 *
 * The site ranking repeats the command line's arithmetic exactly (sitescore.scoring and
 * sitescore.mcda): the weighted sum is accumulated criterion by criterion in config order,
 * s = s + w_j * v_j; TOPSIS and the weighted product normalise the weights first, with numpy's
 * summation order for every sum. At the configured weights the page uses the weights as
 * embedded, so its ranking is the run's `rank` column.
 */
var SITESCORE = (function () {
  "use strict";
  var S = window.SITESCORE_DATA;
  var M = S.sites || [];              // sites, in configured rank order
  var NC = (S.names || []).length;    // criteria
  S.outline = false;
  S.moved = false;                     // weights differ from the configured ones
  S.weights = (S.weights0 || []).slice();
  S.scores = M.map(function (s) { return s.s; });
  S.ranks = M.map(function (s) { return s.k; });
  S.indexOfRank0 = {};
  M.forEach(function (s, i) { S.indexOfRank0[s.k] = i; });

  // ------------------------------------------------------------------ numpy's float64 sums

  // np.sum of a 1-D float64 array: pairwise, 8 accumulators per block of up to 128 values.
  function npSum(a, lo, n) {
    if (lo === undefined) { lo = 0; n = a.length; }
    var i, res;
    if (n < 8) {
      res = 0;
      for (i = 0; i < n; i++) { res += a[lo + i]; }
      return res;
    }
    if (n <= 128) {
      var r = [a[lo], a[lo + 1], a[lo + 2], a[lo + 3], a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]];
      for (i = 8; i < n - (n % 8); i += 8) {
        for (var j = 0; j < 8; j++) { r[j] += a[lo + i + j]; }
      }
      res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
      for (; i < n; i++) { res += a[lo + i]; }
      return res;
    }
    var n2 = Math.floor(n / 2);
    n2 -= n2 % 8;
    return npSum(a, lo, n2) + npSum(a, lo + n2, n - n2);
  }

  // x.sum(axis=0) of an n x m C-ordered array: row after row, except a single column, which
  // numpy sums as a contiguous 1-D array.
  function npColSums(rows, m) {
    var out = [], i, j;
    if (m === 1) { return [npSum(rows.map(function (r) { return r[0]; }))]; }
    for (j = 0; j < m; j++) { out.push(0); }
    for (i = 0; i < rows.length; i++) {
      for (j = 0; j < m; j++) { out[j] = out[j] + rows[i][j]; }
    }
    return out;
  }

  // ------------------------------------------------------------------ aggregation

  function weightedSum(rows, w) {
    return rows.map(function (v) {
      var s = 0;
      for (var j = 0; j < w.length; j++) { s = s + w[j] * v[j]; }
      return s;
    });
  }

  function weightedProduct(rows, w) {
    return rows.map(function (v) {
      var s = 0;
      for (var j = 0; j < w.length; j++) { s = s + w[j] * Math.log(Math.max(v[j], 0.01)); }
      return Math.exp(s);
    });
  }

  function topsis(rows, w) {
    var m = w.length, n = rows.length;
    if (!n) { return []; }
    var scale = npColSums(rows.map(function (v) { return v.map(function (x) { return x * x; }); }),
                          m).map(Math.sqrt);
    var t = rows.map(function (v) {
      return v.map(function (x, j) { return (scale[j] > 0 ? x / scale[j] : 0) * w[j]; });
    });
    var hi = [], lo = [], j, i;
    for (j = 0; j < m; j++) {
      hi.push(-Infinity); lo.push(Infinity);
      for (i = 0; i < n; i++) { hi[j] = Math.max(hi[j], t[i][j]); lo[j] = Math.min(lo[j], t[i][j]); }
    }
    return t.map(function (ti) {
      var dp = Math.sqrt(npSum(ti.map(function (x, k) { var d = x - hi[k]; return d * d; })));
      var dm = Math.sqrt(npSum(ti.map(function (x, k) { var d = x - lo[k]; return d * d; })));
      var total = dp + dm;
      var c = total > 0 ? dm / total : 0.5;
      return Math.min(1, Math.max(0, c));
    });
  }

  // The arithmetic of each sitescore.mcda method, by name. The methods the page may use, and
  // whether each normalises its weights first, come from the data (S.methods, written from
  // mcda's registry); a method without arithmetic here gets no sliders (mcda's `browser`).
  var ARITHMETIC = {weighted_sum: weightedSum, weighted_product: weightedProduct, topsis: topsis};

  // sitescore.mcda.score: rows of criterion values (missing ones count as 0).
  S.aggregate = function (rows, w, method) {
    var spec = (S.methods || {})[method], combine = ARITHMETIC[method];
    if (!spec || !combine) { throw new Error("unknown aggregation " + method); }
    rows = rows.map(function (v) { return v.map(function (x) { return x === null ? 0 : x; }); });
    if (!spec.normalise) { return combine(rows, w); }
    var total = npSum(w);   // mcda.score normalises again
    return combine(rows, w.map(function (x) { return x / total; }));
  };

  // The sites' scores. The run aggregates its site table in site-id order, and TOPSIS sums over
  // the sites: the same order here gives the same last bits.
  function siteScores(w) {
    var byId = M.map(function (_, i) { return i; });
    byId.sort(function (a, b) { return M[a].o - M[b].o; });
    var got = S.aggregate(byId.map(function (i) { return M[i].v || []; }), w, S.method);
    var out = [];
    byId.forEach(function (i, k) { out[i] = got[k]; });
    return out;
  }

  // Higher score first (excluded shortlist sites last), ties by site id ascending.

  S.rank = function (scores) {
    var order = M.map(function (_, i) { return i; });
    order.sort(function (a, b) {
      var xa = M[a].x ? 1 : 0, xb = M[b].x ? 1 : 0;
      if (xa !== xb) { return xa - xb; }
      var sa = isNaN(scores[a]) ? -Infinity : scores[a];
      var sb = isNaN(scores[b]) ? -Infinity : scores[b];
      if (sa !== sb) { return sb > sa ? 1 : -1; }
      return M[a].o - M[b].o;  // place among the sorted site ids
    });
    var ranks = [];
    order.forEach(function (i, pos) { ranks[i] = pos + 1; });
    return {order: order, ranks: ranks};
  };

  // ------------------------------------------------------------------ formatting

  function pct(w) {
    var p = 100 * w;
    return Math.abs(p - Math.round(p)) < 0.05 ? Math.round(p) + "%" : p.toFixed(1) + "%";
  }

  function fixed(x, d) { return (x === null || x === undefined || isNaN(x)) ? "n/a" : x.toFixed(d); }

  function bar(fraction, colour, widthPx) {
    var f = fraction === null || fraction === undefined ? 0 : Math.min(1, Math.max(0, fraction));
    return '<span class="ss-bar" style="width:' + Math.round(widthPx) + 'px"><span style="width:'
      + Math.round(100 * f) + '%;background:' + colour + '"></span></span>';
  }

  function colour(score) {
    if (score === null || score === undefined || isNaN(score)) { return S.excludedColor; }
    return S.palette[Math.max(0, Math.min(100, Math.round(score * 100)))];
  }
  S.colour = colour;

  function decode(escaped) {  // escaped HTML text -> plain text, without parsing any markup
    var t = document.createElement("textarea");
    t.innerHTML = escaped;
    return t.value;
  }

  // ------------------------------------------------------------------ cells

  S.cellScore = function (p) {
    if (p.x !== undefined) { return null; }
    if (p.cur !== undefined) { return p.cur; }
    return (p.v === null || p.v === undefined) ? null : p.v;
  };

  S.cellStyle = function (p) {
    var excluded = p.x !== undefined;
    var c = excluded ? S.excludedColor : colour(S.cellScore(p));
    return {stroke: S.outline, color: "#ffffff", weight: 0.5, opacity: 0.6, fillColor: c,
            fillOpacity: excluded ? 0.55 : 0.78};
  };

  S.cellZoom = function () {
    var s = window.sitescore;
    if (!s || !s.layers.cells) { return; }
    var outline = s.map.getZoom() >= S.outlineMinZoom;
    if (outline === S.outline) { return; }
    S.outline = outline;
    restyleCells();
  };

  function cellLayers() {
    if (S._cellLayers) { return S._cellLayers; }
    var out = [];
    var s = window.sitescore;
    var visit = function (l) {
      if (l.feature && l.feature.properties) { out.push(l); return; }
      if (l.eachLayer) { l.eachLayer(visit); }
    };
    if (s && s.layers.cells) { s.layers.cells.eachLayer(visit); }
    S._cellLayers = out;
    return out;
  }

  function restyleCells() {
    cellLayers().forEach(function (l) { l.setStyle(S.cellStyle(l.feature.properties)); });
  }

  var cellTimer = null;
  function rescoreCells(w, configured) {
    var layers = cellLayers();
    var scored = layers.filter(function (l) {
      var p = l.feature.properties;
      return p.x === undefined && p.b;
    });
    if (configured) {
      scored.forEach(function (l) { delete l.feature.properties.cur; });
    } else {
      var scores = S.aggregate(scored.map(function (l) { return l.feature.properties.b; }), w,
                               S.method);
      scored.forEach(function (l, i) { l.feature.properties.cur = scores[i]; });
    }
    restyleCells();
  }

  // Cells follow the sliders a frame later (a state has tens of thousands of them).
  function scheduleCells(w, configured) {
    if (cellTimer !== null) { window.cancelAnimationFrame(cellTimer); }
    S.cellsPending = true;
    cellTimer = window.requestAnimationFrame(function () {
      cellTimer = null;
      rescoreCells(w, configured);
      S.cellsPending = false;
    });
  }

  S.cellTip = function (p) {
    var score = S.cellScore(p), h;
    if (p.n !== undefined) {  // a block of cells (large studies)
      h = '<div class="ss-tip"><b>Block of ' + p.n.toLocaleString("en-US") + ' cells</b>';
      if (p.x !== undefined) {
        h += '<br><span class="ss-excl">All excluded: ' + S.reasons[p.x] + '</span>';
      } else {
        h += '<br>Mean score <b>' + fixed(score, 2) + '</b>';
        if (p.m !== undefined && !S.moved) { h += ' (best cell ' + fixed(p.m, 2) + ')'; }
        if (p.e) { h += '<br>' + p.e.toLocaleString("en-US") + ' excluded'; }
      }
    } else {
      h = '<div class="ss-tip"><b>Cell ' + p.c + '</b>';
      if (p.x !== undefined) {
        h += '<br><span class="ss-excl">Excluded: ' + S.reasons[p.x] + '</span>';
      } else if (score !== null) {
        h += '<br>Score <b>' + score.toFixed(2) + '</b>';
      } else {
        h += '<br>No score';
      }
    }
    if (p.r !== undefined && S.indexOfRank0[p.r] !== undefined) {
      h += ' &middot; part of site #' + S.ranks[S.indexOfRank0[p.r]];
    }
    if (p.u !== undefined) { h += '<br>' + S.units[p.u]; }
    if (p.a !== undefined) { h += '<br>' + p.a.toLocaleString('en-US') + ' eligible acres'; }
    if (p.b) {
      h += '<table class="ss-cellbars">';
      for (var i = 0; i < p.b.length; i++) {
        var v = p.b[i];
        h += '<tr><td>' + S.criteria[i] + '</td><td>' + (v === null ? 'n/a'
          : bar(v, colour(v), 40) + ' ' + v.toFixed(2)) + '</td></tr>';
      }
      h += '</table>';
    }
    return h + '</div>';
  };

  // ------------------------------------------------------------------ sites

  S.siteTip = function (rank0) {
    var i = S.indexOfRank0[rank0];
    if (i === undefined) { return ""; }
    var site = M[i];
    return '<b>#' + S.ranks[i] + ' ' + site.n + '</b><br>score ' + fixed(S.scores[i], 3)
      + ' &middot; ' + site.at + ' acres<br><i>click for the breakdown</i>';
  };

  S.openSite = function (i, zoom) {
    var s = window.sitescore, mk = s.siteMarkers[i], site = M[i];
    if (zoom && site.bb) {
      s.map.fitBounds(site.bb, {paddingTopLeft: [360, 40], paddingBottomRight: [300, 40],
                                maxZoom: 13, animate: false});
    }
    if (mk) { mk.openPopup(); }
  };

  function updatePopup(i) {
    var mk = window.sitescore.siteMarkers[i];
    var popup = mk && mk.getPopup();
    var el = popup && popup.getContent();
    if (!el || !el.querySelector) { return; }
    var box = el.querySelector(".ss-popup");
    if (box) { box.setAttribute("data-rank", String(S.ranks[i])); }
    var rank = el.querySelector(".ss-pop-rank");
    if (rank) { rank.textContent = "#" + S.ranks[i]; }
    var score = fixed(S.scores[i], 3);
    el.querySelectorAll(".ss-pop-score").forEach(function (n) { n.textContent = score; });
    var w = S.weights, wMax = Math.max.apply(null, w.concat([1e-9]));
    var rows = el.querySelectorAll("table.sitescore-breakdown tbody tr");
    for (var j = 0; j < rows.length && j < w.length; j++) {
      var wc = rows[j].querySelector(".ss-w"), cc = rows[j].querySelector(".ss-c");
      if (wc) { wc.textContent = pct(w[j]); }
      var v = M[i].v ? M[i].v[j] : null;
      if (cc && v !== null && v !== undefined) {
        var contrib = w[j] * v;
        cc.innerHTML = bar(w[j] ? contrib / w[j] : 0, "#1f6fb2", 12 + 58 * w[j] / wMax) + " "
          + contrib.toFixed(3);
      }
    }
  }

  function updateMarker(i) {
    var s = window.sitescore, mk = s.siteMarkers[i];
    if (!mk) { return; }
    var rank = S.ranks[i];
    mk.setIcon(L.divIcon({html: String(rank), iconSize: [26, 26], iconAnchor: [13, 13],
                          popupAnchor: [0, -10],
                          className: "sitescore-rank sitescore-rank-" + rank}));
    mk.setZIndexOffset(10000 - rank);
    if (mk.getTooltip()) { mk.setTooltipContent("#" + rank + " " + M[i].n); }
    updatePopup(i);
  }

  function updatePanel(order) {
    var list = document.getElementById("ss-site-list");
    if (!list) { return; }
    var items = {};
    Array.prototype.forEach.call(list.children, function (li) {
      items[li.getAttribute("data-index")] = li;
    });
    order.forEach(function (i) {
      var li = items[i];
      if (!li) { return; }
      li.querySelector(".ss-site-rank").textContent = String(S.ranks[i]);
      li.querySelector(".ss-site-score").textContent = fixed(S.scores[i], 3);
      list.appendChild(li);  // moves it to the end: the list follows `order`
    });
  }

  function updateWeightLabels() {
    var labels = document.querySelectorAll("#sitescore-title .ss-wpct");
    for (var j = 0; j < labels.length; j++) { labels[j].textContent = pct(S.weights[j]); }
    var state = document.getElementById("ss-weight-state");
    if (state) {
      state.textContent = S.moved ? "Re-ranked in the page with these weights"
        : "Configured weights (as in the run)";
      state.className = S.moved ? "ss-moved" : "";
    }
  }

  // Re-score and re-rank everything for normalised weights w (the cells too, unless told not).
  S.apply = function (w, configured, skipCells) {
    S.weights = w.slice();
    S.moved = !configured;
    S.scores = siteScores(w);
    var r = S.rank(S.scores);
    S.ranks = r.ranks;
    S.order = r.order;
    var s = window.sitescore;
    if (s) {
      s.markers = {};
      M.forEach(function (_, i) {
        updateMarker(i);
        if (s.siteMarkers[i]) { s.markers[S.ranks[i]] = s.siteMarkers[i]; }
      });
    }
    updatePanel(r.order);
    updateWeightLabels();
    if (!skipCells) { scheduleCells(w, configured); }
  };

  // ------------------------------------------------------------------ sliders

  function sliders() {
    return Array.prototype.slice.call(document.querySelectorAll("#sitescore-title .ss-slider"));
  }

  // Slider positions -> normalised weights (sum left to right); the configured weights, exactly
  // as embedded, while every slider is where the run put it.
  S.weightsFromSliders = function () {
    var vals = sliders().map(function (el) { return Number(el.value); });
    var configured = vals.every(function (v, j) { return v === S.sliders0[j]; });
    if (configured) { return {w: S.weights0.slice(), configured: true, sliders: vals}; }
    var total = 0;
    vals.forEach(function (v) { total = total + v; });
    if (!(total > 0)) { return null; }
    return {w: vals.map(function (v) { return v / total; }), configured: false, sliders: vals};
  };

  function onSlider() {
    var got = S.weightsFromSliders();
    var note = document.getElementById("ss-weight-note");
    if (got === null) {
      if (note) { note.textContent = "Set at least one weight above 0."; }
      return;
    }
    if (note) { note.textContent = ""; }
    S.apply(got.w, got.configured);
    var box = document.getElementById("ss-export-box");
    if (box && !box.hidden) { S.exportYaml(); }
  }

  S.reset = function () {
    sliders().forEach(function (el, j) { el.value = String(S.sliders0[j]); });
    onSlider();
  };

  // ------------------------------------------------------------------ YAML export

  function yamlKey(name) {
    return /^[A-Za-z_][A-Za-z0-9_\-]*$/.test(name) ? name : JSON.stringify(name);
  }

  S.yaml = function () {
    var got = S.weightsFromSliders() || {w: S.weights, configured: true, sliders: []};
    var names = S.names.map(decode);
    var lines = [
      "# Weights from the sitescore map: " + decode(S.title).replace(/[\r\n]+/g, " "),
      "# aggregation: " + S.method + "; sitescore normalises weights to sum 1 (weights.method: direct).",
      "# Shares: " + names.map(function (n, j) { return n + " " + pct(got.w[j]); }).join(", "),
      "criteria:"
    ];
    names.forEach(function (n, j) {
      var value = got.configured ? String(S.weights0[j]) : String(got.sliders[j]);
      lines.push("  " + yamlKey(n) + ": {weight: " + value + "}");
    });
    return lines.join("\n") + "\n";
  };

  S.exportYaml = function () {
    var text = S.yaml();
    var box = document.getElementById("ss-export-box");
    var area = document.getElementById("ss-yaml");
    var link = document.getElementById("ss-download");
    if (area) { area.value = text; }
    if (link) { link.href = "data:text/yaml;charset=utf-8," + encodeURIComponent(text); }
    if (box) { box.hidden = false; }
    return text;
  };

  function copyYaml() {
    var area = document.getElementById("ss-yaml");
    if (!area) { return; }
    var done = function () {
      var b = document.getElementById("ss-copy");
      if (b) { b.textContent = "Copied"; setTimeout(function () { b.textContent = "Copy"; }, 1500); }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(area.value).then(done, function () {});
    } else {
      area.select();
      try { document.execCommand("copy"); done(); } catch (e) { /* selected for the user */ }
    }
  }

  // ------------------------------------------------------------------ search

  S.search = function (query) {
    var q = (query || "").trim().toLowerCase();
    var list = document.getElementById("ss-site-list");
    var shown = [];
    if (!list) { return shown; }
    Array.prototype.forEach.call(list.children, function (li) {
      var hit = !q || li.textContent.toLowerCase().indexOf(q) >= 0;
      li.hidden = !hit;
      if (hit) { shown.push(Number(li.getAttribute("data-index"))); }
    });
    var note = document.getElementById("ss-search-note");
    if (note) { note.textContent = q && !shown.length ? "No site matches." : ""; }
    return shown;
  };

  // ------------------------------------------------------------------ start

  S.init = function () {
    var s = window.sitescore;
    var base = null;
    if (S.basemap) {  // offline: state outlines instead of tiles, under everything
      var pane = s.map.createPane("ssbase");
      pane.style.zIndex = 250;
      pane.style.pointerEvents = "none";
      base = L.geoJson(S.basemap, {pane: "ssbase", interactive: false, style: S.basemapStyle});
      base.addTo(s.map);
      s.layers.basemap = base;
    }
    if (S.minimap === "basemap" && S.basemap && L.Control.MiniMap) {
      var small = L.geoJson(S.basemap, {interactive: false, style: S.basemapStyle});
      new L.Control.MiniMap(small, S.minimapOptions).addTo(s.map);
    }
    var box = document.getElementById("sitescore-title");
    sliders().forEach(function (el) { el.addEventListener("input", onSlider); });
    var on = function (id, f) {
      var el = document.getElementById(id);
      if (el) { el.addEventListener("click", function (e) { e.preventDefault(); f(); }); }
    };
    on("ss-reset", S.reset);
    on("ss-export", S.exportYaml);
    on("ss-copy", copyYaml);
    var link = document.getElementById("ss-download");
    if (link) { link.addEventListener("click", function () { S.exportYaml(); }); }
    var panel = document.getElementById("sitescore-panel");
    if (panel) {
      var control = L.control({position: "topright"});
      control.onAdd = function () {
        L.DomEvent.disableClickPropagation(panel);
        L.DomEvent.disableScrollPropagation(panel);
        return panel;
      };
      control.addTo(s.map);
      var list = document.getElementById("ss-site-list");
      list.addEventListener("click", function (e) {
        var li = e.target.closest ? e.target.closest("li.ss-site") : null;
        if (li) { S.openSite(Number(li.getAttribute("data-index")), true); }
      });
      list.addEventListener("keydown", function (e) {
        if (e.key === "Enter" && e.target.matches && e.target.matches("li.ss-site")) {
          S.openSite(Number(e.target.getAttribute("data-index")), true);
        }
      });
      var input = document.getElementById("ss-search");
      if (input) {
        input.addEventListener("input", function () { S.search(input.value); });
        input.addEventListener("keydown", function (e) {
          if (e.key !== "Enter") { return; }
          e.preventDefault();
          var shown = S.search(input.value);
          if (shown.length) {
            shown.sort(function (a, b) { return S.ranks[a] - S.ranks[b]; });
            S.openSite(shown[0], true);
          }
        });
      }
    }
    if (box) { box.hidden = false; }
    if (S.rescorable && M.length) {
      // the configured ranking, computed here as the CLI does (the cells are drawn as run)
      S.apply(S.weights0.slice(), true, true);
    }
    S.ready = true;
  };

  return S;
})();
