/* sitescore map: the page's tables. The sites it grows as the table's rows (names, places,
 * pathway, outline), the ranked table as CSV and GeoJSON (the run's, or the page's own sites),
 * and the weights as the YAML `sitescore run --weights FILE` reads. Used by map.js with its
 * state S (SITESCORE); needs SSGRID (grid.js).
 *
 * Texts in the page's data are HTML-escaped; `decode` gives them back as plain text for the
 * files (through a <textarea>, never parsing markup).
 */
var SSTABLE = (function () {
  "use strict";
  var T = {};

  function pct(w) {
    var p = 100 * w;
    return Math.abs(p - Math.round(p)) < 0.05 ? Math.round(p) + "%" : p.toFixed(1) + "%";
  }
  T.pct = pct;

  function decode(escaped) {  // escaped HTML text -> plain text, without parsing any markup
    var t = document.createElement("textarea");
    t.innerHTML = escaped;
    return t.value;
  }
  T.decode = decode;

  // ------------------------------------------------------------------ a grown site

  function argmaxBy(cells, key, weights) {  // the code holding most acres; ties: lowest code
    var sums = {};
    cells.forEach(function (c, q) { var k = key(c); if (k === null) { return; } sums[k] = (sums[k] || 0) + weights[q]; });
    var best = null;
    Object.keys(sums).forEach(function (k) {
      if (best === null || sums[k] > sums[best] || (sums[k] === sums[best] && k < best)) { best = k; }
    });
    return best;
  }

  function nearText(lat, lon, places) {
    var best = Infinity, where = "", p1 = lat * Math.PI / 180, l1 = lon * Math.PI / 180;
    (places || []).forEach(function (p) {
      var p2 = p[2] * Math.PI / 180, l2 = p[1] * Math.PI / 180;
      var h = Math.pow(Math.sin((p2 - p1) / 2), 2) + Math.cos(p1) * Math.cos(p2) * Math.pow(Math.sin((l2 - l1) / 2), 2);
      var d = 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(h)));
      if (d < best) { best = d; where = p[0]; }
    });
    return where ? (best >= 1 ? Math.round(best) + " km from " + where : "at " + where) : "";
  }

  // A grown site as the table's row and what the panel, marker and popup show.
  T.pageSite = function (S, row, w) {
    var g = S.grid, meta = S.gridMeta, cells = row.cells;
    var wts = cells.map(function (c) { return g.acres[c]; });
    var unit = meta.units[Number(argmaxBy(cells, function (c) { return String(g.unit[c]).padStart(6, "0"); }, wts))] || ["", ""];
    var stateCode = null, counts = {};
    cells.forEach(function (c) { var k = g.state[c]; if (k) { counts[k] = (counts[k] || 0) + 1; } });
    Object.keys(counts).forEach(function (k) {
      if (stateCode === null || counts[k] > counts[stateCode] || (counts[k] === counts[stateCode] && Number(k) < Number(stateCode))) { stateCode = k; }
    });
    var county = g.county ? argmaxBy(cells, function (c) { return g.county[c] ? String(g.county[c]).padStart(6, "0") : null; }, wts) : null;
    var pathway = "";
    if (g.pathway) {
      var key = argmaxBy(cells, function (c) { return meta.pathways[g.pathway[c]][0]; }, wts);
      var first = cells.find(function (c) { return meta.pathways[g.pathway[c]][0] === key; });
      pathway = meta.pathways[g.pathway[first]][1];
    }
    // the member cell nearest the acre-weighted centre of its cells
    var cx = 0, cy = 0, total = 0;
    cells.forEach(function (c, q) { cx += (g.col[c] + 0.5) * wts[q]; cy += (g.row[c] + 0.5) * wts[q]; total += wts[q]; });
    cx /= total; cy /= total;
    var centre = cells[0], bestD = Infinity, c0 = Infinity, c1 = -Infinity, r0 = Infinity, r1 = -Infinity;
    cells.forEach(function (c) {
      var d = Math.pow(g.col[c] + 0.5 - cx, 2) + Math.pow(g.row[c] + 0.5 - cy, 2);
      if (d < bestD) { bestD = d; centre = c; }
      c0 = Math.min(c0, g.col[c]); c1 = Math.max(c1, g.col[c]); r0 = Math.min(r0, g.row[c]); r1 = Math.max(r1, g.row[c]);
    });
    var ll = SSGRID.cellCentre(g, centre), sw = SSGRID.inverse(g.ox + c0 * g.size, g.oy + r0 * g.size);
    var ne = SSGRID.inverse(g.ox + (c1 + 1) * g.size, g.oy + (r1 + 1) * g.size);
    var nw = SSGRID.inverse(g.ox + c0 * g.size, g.oy + (r1 + 1) * g.size), se = SSGRID.inverse(g.ox + (c1 + 1) * g.size, g.oy + r0 * g.size);
    var name = [unit[0], unit[1]].filter(function (x) { return x; }).join(" \u2013 ") || "Unnamed site";
    var lat = Math.round(ll[0] * 1e5) / 1e5, lon = Math.round(ll[1] * 1e5) / 1e5;
    return {rank: row.rank, id: row.rank, found: row.found, cells: cells, acres: row.acres, nCells: cells.length,
            score: row.score, values: row.values, raw: row.raw, weights: w.slice(), name: name,
            agency: unit[0], unit: unit[1], state: stateCode ? S.gridMeta.states[stateCode - 1] : "",
            county: county !== null ? meta.counties[Number(county) - 1] : "", near: nearText(lat, lon, S.places),
            pathway: pathway, lat: lat, lon: lon,
            bb: [[Math.min(sw[0], se[0]), Math.min(sw[1], nw[1])], [Math.max(ne[0], nw[0]), Math.max(ne[1], se[1])]]};
  };

  // ------------------------------------------------------------------ the weights as YAML

  function yamlKey(name) { return /^[A-Za-z_][A-Za-z0-9_\-]*$/.test(name) ? name : JSON.stringify(name); }

  // The weights as a config's criteria: the sliders' values (sitescore normalises them exactly
  // as the page does); criteria the run left out keep their share of the configured weight.
  T.yaml = function (S) {
    var got = S.weightsFromSliders() || {w: S.weights, configured: true, sliders: []};
    var names = S.names.map(decode), lines = [
      "# Weights from the sitescore map: " + decode(S.title).replace(/[\r\n]+/g, " "),
      "# aggregation: " + S.method + "; use: sitescore run CONFIG --weights weights.yaml",
      "# Shares: " + names.map(function (n, j) { return n + " " + pct(got.w[j]); }).join(", "),
      "criteria:"];
    var total = 0;
    names.forEach(function (n, j) {
      var value = got.configured ? S.weights0[j] : got.sliders[j];
      total += value;
      lines.push("  " + yamlKey(n) + ": {weight: " + String(value) + "}");
    });
    (S.leftOut || []).forEach(function (x) {
      var kept = S.weightKept > 0 ? S.weightKept : 1;
      lines.push("  " + yamlKey(decode(x.criterion)) + ": {weight: " + String(x.share / kept * total)
                 + "}  # left out of this run (" + decode(x.reason).replace(/[\r\n]+/g, " ") + ")");
    });
    return lines.join("\n") + "\n";
  };

  // ------------------------------------------------------------------ the ranked table

  function csvCell(v) {
    if (v === null || v === undefined || (typeof v === "number" && isNaN(v))) { return ""; }
    var t = typeof v === "number" ? String(v) : decode(String(v));
    return /[",\n\r]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
  }

  // The table shown: the run's (as written by the run, with its place columns), or the page's.
  T.table = function (S) {
    var M = S.sites || [], cols = S.tableColumns, rows;
    if (S.view === "page") {
      rows = S.pageSites.map(function (site) {
        var rec = {rank: site.rank, site_id: site.id, name: site.name, agency: site.agency, unit_name: site.unit,
                   state: site.state, county: site.county, near: site.near, acres: site.acres, n_cells: site.nCells,
                   score: site.score, lon: site.lon, lat: site.lat, land_pathway: site.pathway,
                   cell_ids: site.cells.map(function (c) { return SSGRID.cellId(S.grid, c); }).join(" ")};
        S.names.forEach(function (n, j) {
          rec["raw__" + n] = S.grid.raw ? site.raw[j] : null;
          rec["value__" + n] = site.values[j];
          rec["weight__" + n] = site.weights[j];
          rec["contribution__" + n] = site.weights[j] * site.values[j];
        });
        return cols.map(function (c) { return rec[c]; });
      });
    } else {
      rows = (S.order || M.map(function (_, i) { return i; })).map(function (i) {
        var row = S.tableRows[i].slice();
        row[cols.indexOf("rank")] = S.ranks[i];
        if (S.moved) { row[cols.indexOf("score")] = S.scores[i]; }
        return row;
      });
    }
    return {columns: cols, rows: rows};
  };

  function lattice(g, cells) {  // a site's cells as GeoJSON polygon rings (lon/lat)
    var member = {}, edges = {}, k;
    cells.forEach(function (c) { member[g.col[c] + "," + g.row[c]] = true; });
    var add = function (a, b) { (edges[a] = edges[a] || []).push(b); };
    cells.forEach(function (c) {
      var x = g.col[c], y = g.row[c], has = function (dx, dy) { return member[(x + dx) + "," + (y + dy)]; };
      if (!has(0, -1)) { add(x + "," + y, (x + 1) + "," + y); }
      if (!has(1, 0)) { add((x + 1) + "," + y, (x + 1) + "," + (y + 1)); }
      if (!has(0, 1)) { add((x + 1) + "," + (y + 1), x + "," + (y + 1)); }
      if (!has(-1, 0)) { add(x + "," + (y + 1), x + "," + y); }
    });
    var rings = [];
    for (k in edges) {
      while (edges[k] && edges[k].length) {
        var ring = [k], at = edges[k].pop(), prev = k;
        while (at !== k) {
          ring.push(at);
          var outs = edges[at], p = prev.split(",").map(Number), q = at.split(",").map(Number), pick = 0;
          if (outs.length > 1) {  // a pinch: turn right, so each ring stays simple
            var dx = q[0] - p[0], dy = q[1] - p[1];
            pick = outs.findIndex(function (o) { var r = o.split(",").map(Number); return (r[0] - q[0]) === dy && (r[1] - q[1]) === -dx; });
            if (pick < 0) { pick = 0; }
          }
          prev = at;
          at = outs.splice(pick, 1)[0];
        }
        rings.push(ring.map(function (v) { return v.split(",").map(Number); }));
      }
    }
    var area = function (r) { var a = 0; for (var i = 0; i < r.length; i++) { var j = (i + 1) % r.length; a += r[i][0] * r[j][1] - r[j][0] * r[i][1]; } return a / 2; };
    var inside = function (pt, r) {
      var x = pt[0] + 0.5, y = pt[1] + 0.5, hit = false;
      for (var i = 0, j = r.length - 1; i < r.length; j = i++) {
        if ((r[i][1] > y) !== (r[j][1] > y) && x < (r[j][0] - r[i][0]) * (y - r[i][1]) / (r[j][1] - r[i][1]) + r[i][0]) { hit = !hit; }
      }
      return hit;
    };
    var outers = rings.filter(function (r) { return area(r) > 0; }).map(function (r) { return [r]; });
    rings.filter(function (r) { return area(r) < 0; }).forEach(function (h) {
      var o = outers.find(function (poly) { return inside(h[0], poly[0]); });
      if (o) { o.push(h); }
    });
    var toLonLat = function (v) {
      var ll = SSGRID.inverse(g.ox + v[0] * g.size, g.oy + v[1] * g.size);
      return [Math.round(ll[1] * 1e6) / 1e6, Math.round(ll[0] * 1e6) / 1e6];
    };
    return outers.map(function (poly) {
      return poly.map(function (r) { var out = r.map(toLonLat); out.push(out[0]); return out; });
    });
  }

  T.geojson = function (S) {
    var M = S.sites || [], t = T.table(S), order = S.order || M.map(function (_, i) { return i; });
    var features = t.rows.map(function (row, k) {
      var props = {};
      t.columns.forEach(function (c, j) { props[c] = typeof row[j] === "string" ? decode(row[j]) : row[j]; });
      var cells = null;
      if (S.grid && S.view === "page") { cells = S.pageSites[k].cells; }
      if (S.grid && S.view !== "page" && S.grid.site0) {
        var want = M[order[k]].k, found = [];
        for (var c = 0; c < S.grid.n; c++) { if (S.grid.site0[c] === want) { found.push(c); } }
        cells = found.length ? found : null;
      }
      var geometry = cells ? {type: "MultiPolygon", coordinates: lattice(S.grid, cells)}
        : {type: "Point", coordinates: [props.lon, props.lat]};
      return {type: "Feature", properties: props, geometry: geometry};
    });
    return {type: "FeatureCollection", features: features};
  };

  T.download = function (name, text, type) {
    var a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], {type: type}));
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  };

  T.csv = function (S) {
    var t = T.table(S);
    return [t.columns.join(",")].concat(t.rows.map(function (r) { return r.map(csvCell).join(","); })).join("\n") + "\n";
  };

  return T;
})();
