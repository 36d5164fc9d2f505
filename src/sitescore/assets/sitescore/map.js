/* sitescore map: the page's behaviour. Weight sliders re-score every cell and, on a square grid
 * with the run's site rules, regrow the sites as the command line would (regrow.js); the cells
 * drawn on a canvas from the page's arrays (grid.js) or, for other cells, as features; the
 * ranked-sites panel, its search (layout.js) and the table's downloads (tables.js); the legend,
 * the YAML export and the layout on small screens (layout.js). Needs Leaflet; reads
 * SITESCORE_DATA.
 *
 * Every text in SITESCORE_DATA is already HTML-escaped by the page's writer: it goes into
 * innerHTML as it is and never gets unescaped, except through a <textarea> (decode) for the
 * YAML export and the downloads.
 *
 * At the configured weights the page shows the run's own sites (its `rank` column); moved
 * weights give the sites the page regrows, numbered as `sitescore run --weights` numbers them.
 * Without a grid or site rules the sliders re-rank the run's sites with their stored values.
 */
var SITESCORE = (function () {
  "use strict";
  var S = window.SITESCORE_DATA;
  var M = S.sites || [];              // the run's sites, in rank order
  S.outline = false;
  S.moved = false;
  S.weights = (S.weights0 || []).slice();
  S.scores = M.map(function (s) { return s.s; });
  S.ranks = M.map(function (s) { return s.k; });
  S.indexOfRank0 = {};
  M.forEach(function (s, i) { S.indexOfRank0[s.k] = i; });
  S.view = "run";                      // whose sites are shown: the run's, or the page's
  S.pageSites = [];
  S.uncertain = [];
  S.idle = true;

  // ------------------------------------------------------------------ formatting

  var pct = SSTABLE.pct, decode = SSTABLE.decode;
  function fixed(x, d) { return (x === null || x === undefined || isNaN(x)) ? "n/a" : x.toFixed(d); }
  function num(x, unit) {
    if (x === null || x === undefined || isNaN(x)) { return "n/a"; }
    var a = Math.abs(x), t = a >= 100 ? Math.round(x).toLocaleString("en-US")
      : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toPrecision(3);
    return unit ? t + " " + unit : t;
  }
  function bar(fraction, colour, widthPx) {
    var f = fraction === null || fraction === undefined || isNaN(fraction) ? 0 : Math.min(1, Math.max(0, fraction));
    return '<span class="ss-bar" style="width:' + Math.round(widthPx) + 'px"><span style="width:'
      + Math.round(100 * f) + '%;background:' + colour + '"></span></span>';
  }
  function latlonText(lat, lon) {
    return Math.abs(lat).toFixed(4) + "\u00b0" + (lat >= 0 ? "N" : "S") + ", "
      + Math.abs(lon).toFixed(4) + "\u00b0" + (lon >= 0 ? "E" : "W");
  }

  // ------------------------------------------------------------------ colours and legend

  function hexRgb(h) { return [parseInt(h.substr(1, 2), 16), parseInt(h.substr(3, 2), 16), parseInt(h.substr(5, 2), 16)]; }
  var PAL = (S.palette || []).map(function (h) {
    var c = hexRgb(h);
    return ((204 << 24) | (c[2] << 16) | (c[1] << 8) | c[0]) >>> 0;
  });
  S.stretch = [0, 1];

  function colour(score) {
    if (score === null || score === undefined || isNaN(score)) { return S.excludedColor; }
    var span = S.stretch[1] - S.stretch[0], t = span > 0 ? (score - S.stretch[0]) / span : 0.5;
    var k = Math.max(0, Math.min(S.palette.length - 1, Math.round(t * (S.palette.length - 1))));
    return S.palette[k];
  }
  S.colour = colour;

  function updateLegend() {
    var el = document.getElementById("ss-legend");
    if (!el) { return; }
    el.querySelector(".ss-legend-lo").textContent = fixed(S.stretch[0], 3);
    el.querySelector(".ss-legend-hi").textContent = fixed(S.stretch[1], 3);
  }

  function addLegend(map) {
    if (!S.palette || !S.legend) { return; }
    var stops = S.palette.filter(function (_, i) { return i % 16 === 0 || i === S.palette.length - 1; });
    var control = L.control({position: "bottomleft"});
    control.onAdd = function () {
      var div = L.DomUtil.create("div", "ss-legend leaflet-control");
      div.id = "ss-legend";
      div.innerHTML = '<div class="ss-legend-title">Suitability score</div>'
        + '<div class="ss-legend-bar" style="background:linear-gradient(to right,' + stops.join(",") + ')"></div>'
        + '<div class="ss-legend-ticks"><span class="ss-legend-lo"></span><span class="ss-legend-hi"></span></div>'
        + '<div class="ss-legend-note">' + S.legend + '</div>';
      L.DomEvent.disableClickPropagation(div);
      return div;
    };
    control.addTo(map);
  }

  // ------------------------------------------------------------------ aggregation of rows

  // sitescore.mcda.score over rows of criterion values (missing ones count as 0).
  S.aggregate = function (rows, w, method) {
    var cols = w.map(function (_, j) {
      return Float64Array.from(rows.map(function (v) { return v[j] === null || v[j] === undefined ? 0 : v[j]; }));
    });
    return Array.from(SSRANK.combine(cols, w, method, (S.methods || {})[method], rows.length));
  };

  // The run's sites scored again from their stored values, in site-id order (as site_table).
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
      var sa = isNaN(scores[a]) ? -Infinity : scores[a], sb = isNaN(scores[b]) ? -Infinity : scores[b];
      if (sa !== sb) { return sb > sa ? 1 : -1; }
      return M[a].o - M[b].o;
    });
    var ranks = [];
    order.forEach(function (i, pos) { ranks[i] = pos + 1; });
    return {order: order, ranks: ranks};
  };

  // ------------------------------------------------------------------ cells drawn as features

  S.cellScore = function (p) {
    if (p.x !== undefined) { return null; }
    if (p.cur !== undefined) { return p.cur; }
    return (p.v === null || p.v === undefined) ? null : p.v;
  };

  S.cellStyle = function (p) {
    var excluded = p.x !== undefined;
    return {stroke: S.outline, color: "#ffffff", weight: 0.5, opacity: 0.6,
            fillColor: excluded ? S.excludedColor : colour(S.cellScore(p)), fillOpacity: excluded ? 0.55 : 0.78};
  };

  function cellLayers() {
    if (S._cellLayers) { return S._cellLayers; }
    var out = [], s = window.sitescore;
    var visit = function (l) {
      if (l.feature && l.feature.properties) { out.push(l); return; }
      if (l.eachLayer) { l.eachLayer(visit); }
    };
    if (s && s.layers.cells && !S.grid) { s.layers.cells.eachLayer(visit); }
    S._cellLayers = out;
    return out;
  }

  function featureStretch() {
    var scores = cellLayers().map(function (l) { return S.cellScore(l.feature.properties); })
      .filter(function (v) { return v !== null && !isNaN(v); }).sort(function (a, b) { return a - b; });
    if (!scores.length) { return [0, 1]; }
    var at = function (p) { return scores[Math.min(scores.length - 1, Math.floor(p * (scores.length - 1)))]; };
    var lo = scores.length >= 50 ? at(0.02) : scores[0], hi = scores.length >= 50 ? at(0.98) : scores[scores.length - 1];
    return hi > lo ? [lo, hi] : [lo - 0.05, hi + 0.05];
  }

  function restyleCells() {
    if (S.grid) { return; }
    S.stretch = featureStretch();
    updateLegend();
    cellLayers().forEach(function (l) { l.setStyle(S.cellStyle(l.feature.properties)); });
  }

  function rescoreFeatures(w, configured) {
    var scored = cellLayers().filter(function (l) { var p = l.feature.properties; return p.x === undefined && p.b; });
    if (configured) {
      scored.forEach(function (l) { delete l.feature.properties.cur; });
    } else {
      var scores = S.aggregate(scored.map(function (l) { return l.feature.properties.b; }), w, S.method);
      scored.forEach(function (l, i) { l.feature.properties.cur = scores[i]; });
    }
    restyleCells();
  }

  S.cellZoom = function () {
    var s = window.sitescore;
    if (!s || !s.layers.cells) { return; }
    var outline = s.map.getZoom() >= S.outlineMinZoom;
    if (outline === S.outline) { return; }
    S.outline = outline;
    if (S.grid) {
      S.gridState.outline = outline;
      S.cellLayer.repaint();
    } else {
      restyleCells();
    }
  };

  function siteOfCellText(rank) {
    return rank ? ' &middot; part of site #' + rank : "";
  }

  S.cellTip = function (p) {
    var score = S.cellScore(p), h;
    if (p.n !== undefined) {  // a block of cells (large studies drawn as features)
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
      } else {
        h += score !== null ? '<br>Score <b>' + score.toFixed(2) + '</b>' : '<br>No score';
      }
    }
    if (p.r !== undefined && S.indexOfRank0[p.r] !== undefined) {
      h += siteOfCellText(S.ranks[S.indexOfRank0[p.r]]);
    }
    if (p.u !== undefined) { h += '<br>' + S.units[p.u]; }
    if (p.a !== undefined) { h += '<br>' + p.a.toLocaleString('en-US') + ' eligible acres'; }
    if (p.b) {
      h += '<table class="ss-cellbars">';
      for (var i = 0; i < p.b.length; i++) {
        var v = p.b[i];
        h += '<tr><td>' + S.criteria[i] + '</td><td>' + (v === null ? 'n/a' : bar(v, colour(v), 40) + ' ' + v.toFixed(2)) + '</td></tr>';
      }
      h += '</table>';
    }
    return h + '</div>';
  };

  // ------------------------------------------------------------------ cells drawn from arrays

  function gridScores(w) {
    var g = S.grid;
    return SSRANK.combine(g.values, w, S.method, (S.methods || {})[S.method], g.n);
  }

  function recolourGrid(score) {
    S.cellScores = score;
    S.stretch = SSGRID.stretch(S.grid, score);
    S.gridState.colours = SSGRID.colours(S.grid, score, PAL, S.stretch, hexRgb(S.excludedColor), 0.8,
                                         S.gridState.colours);
    updateLegend();
  }

  function unitText(g, i) {
    var u = S.gridMeta.units[g.unit[i]];
    return u ? [u[0], u[1]].filter(function (x) { return x; }).join(" &middot; ") : "";
  }

  function cellSiteRank(i) {
    if (S.view === "page") {
      var k = S.pageSiteOf ? S.pageSiteOf[i] : 0;
      return k ? S.pageSiteRank[k] : 0;
    }
    var r = S.grid.site0 ? S.grid.site0[i] : 0;
    return r && S.indexOfRank0[r] !== undefined ? S.ranks[S.indexOfRank0[r]] : 0;
  }

  S.gridCellTip = function (i) {
    var g = S.grid, h = '<div class="ss-tip"><b>Cell ' + SSGRID.cellId(g, i) + '</b>';
    if (g.excluded[i]) {
      h += '<br><span class="ss-excl">Excluded: ' + S.gridMeta.reasons[g.reason[i] - 1] + '</span>';
    } else {
      h += '<br>Score <b>' + fixed(S.cellScores[i], 3) + '</b>' + siteOfCellText(cellSiteRank(i));
    }
    var unit = unitText(g, i);
    return h + (unit ? '<br>' + unit : "") + '<br><i>click for the breakdown</i></div>';
  };

  // A cell's breakdown from the arrays: raw value, 0..1 value, weight and contribution.
  S.gridCellPopup = function (i) {
    var g = S.grid, meta = S.gridMeta, h = '<div class="ss-cell-popup"><div class="ss-pop-title">Cell '
      + SSGRID.cellId(g, i) + '</div><div class="ss-pop-meta">';
    var ll = SSGRID.cellCentre(g, i), unit = unitText(g, i);
    h += latlonText(ll[0], ll[1]) + (unit ? '<br>' + unit : "");
    if (g.county && g.county[i]) { h += '<br>' + meta.counties[g.county[i] - 1] + ' County'; }
    if (g.pathway && meta.pathways[g.pathway[i]] && meta.pathways[g.pathway[i]][1]) {
      h += '<br>Land: ' + meta.pathways[g.pathway[i]][1];
    }
    h += '<br>' + num(g.acres[i]) + ' eligible acres';
    if (g.excluded[i]) {
      return h + '</div><div class="ss-excl">Excluded: ' + meta.reasons[g.reason[i] - 1] + '</div></div>';
    }
    var rank = cellSiteRank(i);
    h += '<br>score <b class="ss-pop-score">' + fixed(S.cellScores[i], 3) + '</b>' + siteOfCellText(rank) + '</div>';
    h += '<table class="sitescore-breakdown"><thead><tr><th>Criterion</th><th>Raw value</th><th>Score 0..1</th>'
      + '<th>Weight</th><th>Contribution</th></tr></thead><tbody>';
    for (var j = 0; j < g.values.length; j++) {
      var v = g.values[j][i], w = S.weights[j];
      h += '<tr><td>' + S.criteria[j] + '</td><td class="ss-num">'
        + (g.raw ? num(g.raw[j][i], meta.units_of[j]) : "") + '</td><td>'
        + (isNaN(v) ? "n/a" : bar(v, colour(v), 40) + " " + v.toFixed(2)) + '</td><td class="ss-num">'
        + pct(w) + '</td><td class="ss-num">' + fixed(w * v, 3) + '</td></tr>';
    }
    return h + '</tbody></table>' + (g.raw ? '<div class="ss-desc">Raw values to '
      + meta.rawDigits + ' significant digits; cells.csv has them in full.</div>' : "") + '</div>';
  };

  // A cell's tooltip follows the mouse (worked out once a frame), unless another layer's
  // tooltip is open there; when that one closes, the cell's shows again.
  function wireGridEvents(map) {
    var tip = L.tooltip({className: "ss-cell-tip", direction: "top", offset: [0, -6]});
    var pending = null, last = -1;
    var visible = function () { return map.hasLayer(S.cellLayer); };
    var show = function () {
      S._tipFrame = null;
      var other = document.querySelector(".leaflet-tooltip:not(.ss-cell-tip)");
      var i = pending && visible() && !other ? SSGRID.cellAt(S.grid, pending.lat, pending.lng) : -1;
      if (i < 0) { if (map.hasLayer(tip)) { map.closeTooltip(tip); } last = -1; return; }
      tip.setLatLng(pending);
      if (i !== last) { tip.setContent(S.gridCellTip(i)); last = i; }
      if (!map.hasLayer(tip)) { map.openTooltip(tip); }
    };
    var schedule = function () { if (!S._tipFrame) { S._tipFrame = window.requestAnimationFrame(show); } };
    map.on("mousemove", function (e) { pending = e.latlng; schedule(); });
    map.on("tooltipclose", function (e) { if (e.tooltip !== tip && pending) { schedule(); } });
    map.on("mouseout", function () {
      pending = null;
      if (map.hasLayer(tip)) { map.closeTooltip(tip); }
      last = -1;
    });
    map.on("click", function (e) {
      if (!visible()) { return; }
      var i = SSGRID.cellAt(S.grid, e.latlng.lat, e.latlng.lng);
      if (i < 0) { return; }
      if (map.hasLayer(tip)) { map.closeTooltip(tip); }
      L.popup({maxWidth: 600, className: "ss-cell-popup-wrap"}).setLatLng(e.latlng)
        .setContent(S.gridCellPopup(i)).openOn(map);
    });
  }

  // ------------------------------------------------------------------ the page's own sites

  function pageSite(row, w) { return SSTABLE.pageSite(S, row, w); }

  function placeLine(site) {
    var parts = ["Site " + site.id, latlonText(site.lat, site.lon)];
    if (site.county) { parts.push(site.county + " County"); }
    if (site.near) { parts.push(site.near); }
    return parts.join(" &middot; ");
  }

  S.pagePopup = function (site) {
    var where = [site.agency, site.unit, site.state].filter(function (x) { return x; }).join(" &middot; ");
    var wMax = Math.max.apply(null, site.weights.concat([1e-9]));
    var rows = site.values.map(function (v, j) {
      var w = site.weights[j], c = w * v;
      return '<tr data-criterion="' + S.names[j] + '"><td>' + S.criteria[j] + '</td><td class="ss-num">'
        + (S.grid.raw ? num(site.raw[j], S.gridMeta.units_of[j]) : "") + '</td><td>'
        + (isNaN(v) ? "n/a" : bar(v, colour(v), 48) + " " + v.toFixed(2)) + '</td><td class="ss-num ss-w">' + pct(w)
        + '</td><td class="ss-c">' + (isNaN(v) ? "n/a" : bar(w ? c / w : 0, "#1f6fb2", 12 + 58 * w / wMax) + " " + c.toFixed(3)) + '</td></tr>';
    }).join("");
    return '<div class="ss-popup" data-rank="' + site.rank + '"><div class="ss-pop-title"><span class="ss-pop-rank">#'
      + site.rank + '</span> ' + site.name + '</div><div class="ss-pop-meta">' + where + '<br>'
      + '<span class="ss-pop-place">' + placeLine(site) + '</span><br>' + num(site.acres) + ' acres &middot; '
      + site.nCells + ' cells &middot; score <b class="ss-pop-score">' + fixed(site.score, 3) + '</b>'
      + (site.pathway ? '<br><span class="ss-pop-pathway">Land: ' + site.pathway + '</span>' : "")
      + '</div><table class="sitescore-breakdown"><thead><tr><th>Criterion</th><th>Raw value (mean)</th>'
      + '<th>Score 0..1</th><th>Weight</th><th>Contribution</th></tr></thead><tbody>' + rows + '</tbody>'
      + '<tfoot><tr><td colspan="4">Total score</td><td class="ss-num ss-pop-score">' + fixed(site.score, 3)
      + '</td></tr></tfoot></table><div class="ss-desc">Grown in the page with these weights by the '
      + 'command line\u2019s rules; the outline is the site\u2019s cells.</div></div>';
  };

  function siteIcon(rank) {
    return L.divIcon({html: String(rank), iconSize: [26, 26], iconAnchor: [13, 13], popupAnchor: [0, -10],
                      className: "sitescore-rank sitescore-rank-" + rank});
  }

  function showPageSites(sites) {
    var s = window.sitescore, group = s.layers.sites;
    if (!S.pageGroup) { S.pageGroup = L.layerGroup(); }
    S.pageGroup.clearLayers();
    S.pageMarkers = sites.map(function (site) {
      var mk = L.marker([site.lat, site.lon], {icon: siteIcon(site.rank), zIndexOffset: 10000 - site.rank});
      mk.bindTooltip("#" + site.rank + " " + site.name);
      mk.bindPopup(function () { return S.pagePopup(site); }, {maxWidth: 600});
      S.pageGroup.addLayer(mk);
      return mk;
    });
    if (group) {
      group.eachLayer(function (l) { if (l !== S.pageGroup) { S.hiddenRun.push(l); } });
      S.hiddenRun.forEach(function (l) { group.removeLayer(l); });
      if (!group.hasLayer(S.pageGroup)) { group.addLayer(S.pageGroup); }
    }
    if (s.layers.stability && s.map.hasLayer(s.layers.stability)) {  // it speaks of the run's sites
      s.map.removeLayer(s.layers.stability);
      S.stabilityHidden = true;
    }
    s.markers = {};
    S.pageMarkers.forEach(function (mk, k) { s.markers[sites[k].rank] = mk; });
  }

  function showRunSites() {
    var s = window.sitescore, group = s.layers.sites;
    if (group && S.pageGroup) { group.removeLayer(S.pageGroup); }
    if (group) { S.hiddenRun.forEach(function (l) { group.addLayer(l); }); }
    S.hiddenRun = [];
    if (S.stabilityHidden) { s.layers.stability.addTo(s.map); S.stabilityHidden = false; }
    s.markers = {};
    M.forEach(function (_, i) { if (s.siteMarkers[i]) { s.markers[S.ranks[i]] = s.siteMarkers[i]; } });
  }

  // ------------------------------------------------------------------ the run's sites

  S.siteTip = function (rank0) {
    var i = S.indexOfRank0[rank0];
    if (i === undefined) { return ""; }
    return '<b>#' + S.ranks[i] + ' ' + M[i].n + '</b><br>score ' + fixed(S.scores[i], 3)
      + ' &middot; ' + M[i].at + ' acres<br><i>click for the breakdown</i>';
  };

  function fitSite(bb) {
    var s = window.sitescore;
    if (bb) { s.map.fitBounds(bb, L.extend({maxZoom: 13, animate: false}, fitPadding())); }
  }

  S.openSite = function (i, zoom) {
    var s = window.sitescore;
    if (S.view === "page") {
      if (zoom) { fitSite(S.pageSites[i].bb); }
      S.pageMarkers[i].openPopup();
      return;
    }
    var mk = s.siteMarkers[i];
    if (zoom) { fitSite(M[i].bb); }
    if (mk) { mk.openPopup(); }
  };

  function updatePopup(i) {
    var mk = window.sitescore.siteMarkers[i], popup = mk && mk.getPopup(), el = popup && popup.getContent();
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
        cc.innerHTML = bar(w[j] ? contrib / w[j] : 0, "#1f6fb2", 12 + 58 * w[j] / wMax) + " " + contrib.toFixed(3);
      }
    }
  }

  function updateMarker(i) {
    var mk = window.sitescore.siteMarkers[i];
    if (!mk) { return; }
    var rank = S.ranks[i];
    mk.setIcon(siteIcon(rank));
    mk.setZIndexOffset(10000 - rank);
    if (mk.getTooltip()) { mk.setTooltipContent("#" + rank + " " + M[i].n); }
    updatePopup(i);
  }

  // ------------------------------------------------------------------ the panel

  function runItems() {
    if (!S.runItems) {
      var list = document.getElementById("ss-site-list");
      S.runItems = list ? Array.prototype.slice.call(list.children) : [];
    }
    return S.runItems;
  }

  function pageItem(site, k) {
    var li = document.createElement("li");
    li.className = "ss-site";
    li.setAttribute("data-index", String(k));
    li.setAttribute("data-site-id", String(site.id));
    li.tabIndex = 0;
    var where = [site.agency, site.unit, site.state].filter(function (x) { return x; }).join(" &middot; ");
    li.innerHTML = '<span class="ss-site-rank">' + site.rank + '</span><span class="ss-site-body">'
      + '<span class="ss-site-name">' + site.name + '</span><span class="ss-site-meta">' + where + '</span>'
      + '<span class="ss-site-meta">score <b class="ss-site-score">' + fixed(site.score, 3) + '</b> &middot; '
      + num(site.acres) + ' acres</span><span class="ss-site-meta ss-site-place">' + placeLine(site) + '</span>'
      + (site.pathway ? '<span class="ss-site-meta ss-site-pathway">Land: '
      + site.pathway + '</span>' : "") + '</span>';
    return li;
  }

  function renderPanel() {
    var list = document.getElementById("ss-site-list");
    if (!list) { return; }
    var items = runItems();
    var title = document.querySelector("#sitescore-panel .ss-panel-title");
    while (list.firstChild) { list.removeChild(list.firstChild); }
    if (S.view === "page") {
      S.pageSites.forEach(function (site, k) { list.appendChild(pageItem(site, k)); });
      if (title) { title.textContent = "Ranked sites (" + S.pageSites.length + ", grown in the page)"; }
    } else {
      var byIndex = {};
      items.forEach(function (li) { byIndex[li.getAttribute("data-index")] = li; });
      (S.order || M.map(function (_, i) { return i; })).forEach(function (i) {
        var li = byIndex[i];
        if (!li) { return; }
        li.querySelector(".ss-site-rank").textContent = String(S.ranks[i]);
        li.querySelector(".ss-site-score").textContent = fixed(S.scores[i], 3);
        list.appendChild(li);
      });
      if (title) { title.textContent = "Ranked sites (" + M.length + ")"; }
    }
    var search = document.getElementById("ss-search");
    if (search && search.value) { S.search(search.value); }
  }

  function updateWeightLabels() {
    var labels = document.querySelectorAll("#sitescore-title .ss-wpct");
    for (var j = 0; j < labels.length; j++) { labels[j].textContent = pct(S.weights[j]); }
    var state = document.getElementById("ss-weight-state");
    if (!state) { return; }
    var text = "Configured weights (as in the run)";
    if (S.moved) {
      text = S.regrow ? "Sites grown again in the page with these weights, by the command line's rules"
        : "The run's sites re-ranked with these weights, not grown again (sitescore run --weights "
          + "would grow sites anew)";
    }
    state.textContent = text;
    state.className = S.moved ? "ss-moved" : "";
    var note = document.getElementById("ss-rank-note");
    if (note) {
      var u = S.moved ? S.uncertain : [];
      note.textContent = u.length ? "Near-tie: " + u.length + " decision" + (u.length > 1 ? "s" : "")
        + " of this ranking rest on scores closer than the page knows them (" + (S.eps === Infinity ? "TOPSIS on rounded values"
        : "within " + S.eps.toExponential(1)) + "); `sitescore run --weights` may order those sites differently." : "";
    }
  }

  // ------------------------------------------------------------------ applying weights

  // Score everything again for normalised weights w and show the result.
  S.apply = function (w, configured) {
    S.weights = w.slice();
    S.moved = !configured;
    S.uncertain = [];
    if (S.grid) {
      var score = gridScores(w);
      recolourGrid(score);
      if (S.regrow && !configured) {
        regrow(score, w);
      } else if (S.regrow) {
        S.view = "run"; S.pageSiteOf = null; S.gridState.siteOf = null;
      }
      S.cellLayer.repaint();
    } else if (S.rescoreFeatures !== false) {
      rescoreFeatures(w, configured);
    }
    if (!S.regrow || configured) {
      if (S.rescorable && M.length) {
        S.scores = configured ? M.map(function (s) { return s.s; }) : siteScores(w);
        if (configured && S.method === "weighted_product") { S.scores = siteScores(w); }
        var r = S.rank(S.scores);
        S.ranks = r.ranks;
        S.order = r.order;
        M.forEach(function (_, i) { updateMarker(i); });
      }
      S.view = "run";
      showRunSites();
    } else {
      showPageSites(S.pageSites);
    }
    renderPanel();
    updateWeightLabels();
  };

  function regrow(score, w) {
    var g = S.grid, spec = (S.methods || {})[S.method];
    var eps = SSRANK.scoreError(S.method, S.gridMeta.valueStep, w);
    var grown = SSRANK.grow(g, score, S.rules, eps);
    var table = SSRANK.siteTable(g, grown, w, S.method, spec, eps);
    S.eps = eps;
    S.uncertain = grown.uncertain;
    S.pageSites = table.map(function (row) { return pageSite(row, w); });
    S.pageSiteOf = grown.siteOf;
    S.pageSiteRank = {};
    table.forEach(function (row) { S.pageSiteRank[row.found] = row.rank; });
    S.gridState.siteOf = grown.siteOf;
    S.view = "page";
  }

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

  // The sliders' weights applied on the next frame (a drag fires many input events: only the
  // latest is worked out); S.idle says when the page shows them.
  function onSlider() {
    S.idle = false;
    if (S._frame) { return; }
    S._frame = window.requestAnimationFrame(function () {
      S._frame = null;
      var got = S.weightsFromSliders(), note = document.getElementById("ss-weight-note");
      if (got === null) {
        if (note) { note.textContent = "Set at least one weight above 0."; }
      } else {
        if (note) { note.textContent = ""; }
        S.apply(got.w, got.configured);
        var box = document.getElementById("ss-export-box");
        if (box && !box.hidden) { S.exportYaml(); }
      }
      window.requestAnimationFrame(function () { S.idle = !S._frame; });
    });
  }
  S.onSlider = onSlider;

  S.reset = function () {
    sliders().forEach(function (el, j) { el.value = String(S.sliders0[j]); });
    onSlider();
  };

  // ------------------------------------------------------------------ YAML export

  S.yaml = function () { return SSTABLE.yaml(S); };

  S.exportYaml = function () {
    var text = S.yaml(), box = document.getElementById("ss-export-box");
    var area = document.getElementById("ss-yaml"), link = document.getElementById("ss-download");
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

  // ------------------------------------------------------------------ search and layout (layout.js)

  S.search = SSLAYOUT.search;
  S.fitPadding = SSLAYOUT.fitPadding;
  S.layout = SSLAYOUT.layout;
  var fitPadding = SSLAYOUT.fitPadding, collapsible = SSLAYOUT.collapsible;
  var popupsClearOfBoxes = SSLAYOUT.popupsClearOfBoxes;

  // ------------------------------------------------------------------ downloads (tables.js)

  S.table = function () { return SSTABLE.table(S); };
  S.geojson = function () { return SSTABLE.geojson(S); };
  S.csv = function () { return SSTABLE.csv(S); };
  var download = SSTABLE.download;

  // ------------------------------------------------------------------ start

  function startGrid(s) {
    var pane = s.map.createPane("ssCells");
    pane.style.zIndex = 350;
    pane.style.pointerEvents = "none";
    return SSGRID.load(S.gridMeta, document.getElementById("sitescore-cells").textContent).then(function (g) {
      S.grid = g;
      S.gridState = {grid: g, colours: null, outline: S.outline, siteOf: null, borderRgba: 0xff5f11e0 >>> 0};
      recolourGrid(gridScores(S.weights0));
      S.cellLayer = SSGRID.cellLayer(S.gridState, {opacity: 1});
      if (s.layers.cells) { s.layers.cells.addLayer(S.cellLayer); } else { S.cellLayer.addTo(s.map); }
      wireGridEvents(s.map);
      if (S.regrow) {  // the run's sites grown again here, to say whether the page repeats it
        var w = S.weights0.slice(), score = gridScores(w);
        var eps = SSRANK.scoreError(S.method, S.gridMeta.valueStep, w);
        var grown = SSRANK.grow(g, score, S.rules, eps);
        var table = SSRANK.siteTable(g, grown, w, S.method, (S.methods || {})[S.method], eps);
        S.matchesRun = g.site0 ? table.length === M.length && table.every(function (row) {
          return row.cells.every(function (c) { return g.site0[c] === row.rank; });
        }) : null;
      }
    });
  }

  S.init = function () {
    var s = window.sitescore;
    S.hiddenRun = [];
    popupsClearOfBoxes();
    if (S.basemap) {  // offline: state outlines instead of tiles, under everything
      var pane = s.map.createPane("ssbase");
      pane.style.zIndex = 250;
      pane.style.pointerEvents = "none";
      var base = L.geoJson(S.basemap, {pane: "ssbase", interactive: false, style: S.basemapStyle});
      base.addTo(s.map);
      s.layers.basemap = base;
    }
    if (S.minimap === "basemap" && S.basemap && L.Control.MiniMap) {
      new L.Control.MiniMap(L.geoJson(S.basemap, {interactive: false, style: S.basemapStyle}), S.minimapOptions).addTo(s.map);
    }
    addLegend(s.map);
    var box = document.getElementById("sitescore-title");
    sliders().forEach(function (el) { el.addEventListener("input", onSlider); });
    var on = function (id, f) {
      var el = document.getElementById(id);
      if (el) { el.addEventListener("click", function (e) { e.preventDefault(); f(); }); }
    };
    on("ss-reset", S.reset);
    on("ss-export", S.exportYaml);
    on("ss-copy", copyYaml);
    on("ss-csv", function () { download("sites.csv", S.csv(), "text/csv"); });
    on("ss-geojson", function () { download("sites.geojson", JSON.stringify(S.geojson()), "application/geo+json"); });
    var link = document.getElementById("ss-download");
    if (link) { link.addEventListener("click", function () { S.exportYaml(); }); }
    var skip = document.getElementById("ss-skip");
    if (skip) {
      skip.addEventListener("click", function (e) {
        e.preventDefault();
        if (box && box._ssSet) { box._ssSet(false); }
        var first = sliders()[0] || document.getElementById("ss-site-list");
        if (first) { first.focus(); }
      });
    }
    var panel = document.getElementById("sitescore-panel");
    var small = s.map.getSize().x < 700;
    if (panel) {
      var control = L.control({position: "topright"});
      control.onAdd = function () {
        L.DomEvent.disableClickPropagation(panel);
        L.DomEvent.disableScrollPropagation(panel);
        return panel;
      };
      control.addTo(s.map);
      var list = document.getElementById("ss-site-list");
      runItems();
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
            var rankOf = function (i) { return S.view === "page" ? S.pageSites[i].rank : S.ranks[i]; };
            shown.sort(function (a, b) { return rankOf(a) - rankOf(b); });
            S.openSite(shown[0], true);
          }
        });
      }
    }
    collapsible(box, small);
    collapsible(panel, small);
    if (box) { box.hidden = false; }
    window.addEventListener("resize", S.layout);
    s.map.on("overlayadd overlayremove", function () { if (S.cellLayer) { S.cellLayer.repaint(); } });
    var finish = function () {
      if (S.rescorable && M.length && !S.grid) { S.apply(S.weights0.slice(), true); }
      else if (!S.grid) { restyleCells(); }
      if (S.fitTo) { s.map.fitBounds(S.fitTo, L.extend({maxZoom: S.fitMaxZoom, animate: false}, fitPadding())); }
      S.layout();
      S.cellZoom();
      S.readyMs = window.performance.now();  // since navigation: what benchmarks/map.py reports
      S.ready = true;
    };
    var packed = document.getElementById("sitescore-layers");
    var layers = packed ? SSGRID.inflateText(packed.textContent).then(function (text) {
      JSON.parse(text).forEach(function (e) { var add = window[e[0] + "_add"]; if (add) { add(e[1]); } });
    }) : Promise.resolve();
    layers.then(function () { return S.gridMeta ? startGrid(s) : null; }).then(finish, function (err) {
      var note = document.getElementById("ss-weight-note");
      if (note) { note.textContent = "The page's data could not be unpacked in this browser (" + err + ")."; }
      throw err;
    });
  };

  return S;
})();
