/* sitescore map: the cells of a square grid, from the page's packed arrays (webmap/grid.py),
 * drawn on a canvas. Needs Leaflet; reads SITESCORE_DATA.grid and the text of
 * <script id="sitescore-cells">.
 *
 * Drawing: a Leaflet GridLayer whose tiles are canvases. Each tile works out once which cell
 * lies under each of its pixels (pixel -> Web Mercator -> lon/lat -> EPSG:5070 Albers -> the
 * lattice's column and row), with the latitude terms computed once a pixel row and the longitude
 * terms once a pixel column; a repaint after a weight change only looks colours up through that
 * index, so a million cells repaint in a few milliseconds.
 */
var SSGRID = (function () {
  "use strict";
  var G = {};

  // ------------------------------------------------------------------ unpacking

  function base64Bytes(text) {
    if (typeof Uint8Array.fromBase64 === "function") { return Uint8Array.fromBase64(text); }
    var bin = atob(text), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out;
  }

  function inflate(bytes) {
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Response(stream).arrayBuffer().then(function (b) { return new Uint8Array(b); });
  }

  // The byte planes written by grid._planes back into elements of `width` bytes.
  function unplane(src, off, n, width) {
    var out = new Uint8Array(n * width);
    for (var b = 0; b < width; b++) {
      var base = off + b * n;
      for (var i = 0; i < n; i++) { out[i * width + b] = src[base + i]; }
    }
    return out;
  }

  function decodeEntry(raw, e, steps) {
    var kind = e[0], n = e[1], off = e[2], i, bytes;
    if (kind === "text") {
      return n ? new TextDecoder().decode(raw.subarray(off, off + e[3])).split("\n") : [];
    }
    if (kind === "i32d") {
      var d = new Int32Array(unplane(raw, off, n, 4).buffer), out = new Int32Array(n), acc = 0;
      for (i = 0; i < n; i++) { acc = (acc + d[i]) | 0; out[i] = acc; }
      return out;
    }
    if (kind === "f64") { return new Float64Array(unplane(raw, off, n, 8).buffer); }
    if (kind === "f64d") {  // the float64 bit patterns, delta-coded modulo 2**64
      bytes = unplane(raw, off, n, 8);
      var u = new Uint32Array(bytes.buffer), lo = 0, hi = 0;
      for (i = 0; i < n; i++) {
        var l = lo + u[2 * i];
        var carry = l > 0xFFFFFFFF ? 1 : 0;
        lo = l >>> 0;
        hi = (hi + u[2 * i + 1] + carry) >>> 0;
        u[2 * i] = lo; u[2 * i + 1] = hi;
      }
      return new Float64Array(bytes.buffer);
    }
    if (kind === "u24d") {  // values rounded to 1/steps, delta-coded modulo 2**24
      var v = new Float64Array(n), q = 0;
      for (i = 0; i < n; i++) {
        q = (q + (raw[off + i] | (raw[off + n + i] << 8) | (raw[off + 2 * n + i] << 16))) & 0xFFFFFF;
        v[i] = q > steps ? NaN : q / steps;
      }
      return v;
    }
    if (kind === "f32") { return new Float32Array(unplane(raw, off, n, 4).buffer); }
    if (kind === "u16") { return new Uint16Array(unplane(raw, off, n, 2).buffer); }
    if (kind === "u32") { return new Uint32Array(unplane(raw, off, n, 4).buffer); }
    throw new Error("unknown array kind " + kind);
  }

  // ------------------------------------------------------------------ EPSG:5070 (Albers, GRS80)

  // NAD83 / Conus Albers: standard parallels 29.5 and 45.5 N, origin 23 N 96 W (Snyder 1987,
  // "Map Projections - A Working Manual", USGS PP 1395, eq. 3-12 to 3-16 and 14-1 to 14-21).
  var A = 6378137, FL = 1 / 298.257222101, E2 = 2 * FL - FL * FL, E = Math.sqrt(E2);
  var RAD = Math.PI / 180;
  function qOf(sinp) {
    return (1 - E2) * (sinp / (1 - E2 * sinp * sinp)
      - (1 / (2 * E)) * Math.log((1 - E * sinp) / (1 + E * sinp)));
  }
  function mOf(phi) { var s = Math.sin(phi); return Math.cos(phi) / Math.sqrt(1 - E2 * s * s); }
  var P1 = 29.5 * RAD, P2 = 45.5 * RAD, P0 = 23 * RAD, L0 = -96 * RAD;
  var M1 = mOf(P1), M2 = mOf(P2), Q1 = qOf(Math.sin(P1)), Q2 = qOf(Math.sin(P2));
  var NN = (M1 * M1 - M2 * M2) / (Q2 - Q1), CC = M1 * M1 + NN * Q1;
  var RHO0 = A * Math.sqrt(CC - NN * qOf(Math.sin(P0))) / NN;

  function rhoOf(latDeg) { return A * Math.sqrt(CC - NN * qOf(Math.sin(latDeg * RAD))) / NN; }
  function thetaOf(lonDeg) { return NN * (lonDeg * RAD - L0); }

  G.forward = function (lat, lon) {
    var rho = rhoOf(lat), th = thetaOf(lon);
    return [rho * Math.sin(th), RHO0 - rho * Math.cos(th)];
  };

  G.inverse = function (x, y) {
    var dy = RHO0 - y, rho = Math.sqrt(x * x + dy * dy), th = Math.atan2(x, dy);
    var q = (CC - rho * rho * NN * NN / (A * A)) / NN, phi = Math.asin(q / 2);
    for (var k = 0; k < 12; k++) {
      var s = Math.sin(phi), c = 1 - E2 * s * s;
      var step = c * c / (2 * Math.cos(phi)) * (q / (1 - E2) - s / c
        + (1 / (2 * E)) * Math.log((1 - E * s) / (1 + E * s)));
      phi += step;
      if (Math.abs(step) < 1e-14) { break; }
    }
    return [phi / RAD, (L0 + th / NN) / RAD];
  };

  // ------------------------------------------------------------------ the grid

  // Text packed by the page's writer (zlib, base64): the input layers' GeoJSON.
  G.inflateText = function (packedText) {
    return inflate(base64Bytes(packedText)).then(function (raw) { return new TextDecoder().decode(raw); });
  };

  G.load = function (meta, packedText) {
    return inflate(base64Bytes(packedText)).then(function (raw) {
      var get = function (name) {
        var e = meta.index[name];
        return e ? decodeEntry(raw, e, meta.valueSteps) : null;
      };
      var g = {meta: meta, n: meta.n, size: meta.size, ox: meta.ox, oy: meta.oy,
               col: get("col"), row: get("row"), acres: get("acres"), reason: get("reason"),
               unit: get("unit"), state: get("state"), pathway: get("pathway"),
               county: get("county"), site0: get("site0"), ids: get("ids"),
               values: [], raw: meta.raw ? [] : null};
      for (var j = 0; meta.index["v" + j]; j++) {
        g.values.push(get("v" + j));
        if (g.raw) { g.raw.push(get("r" + j)); }
      }
      g.excluded = new Uint8Array(g.n);
      for (var i = 0; i < g.n; i++) { g.excluded[i] = g.reason[i] > 0 ? 1 : 0; }
      index(g);
      return g;
    });
  };

  // The cell at (column, row): a dense table over the cells' extent, or sorted keys when that
  // extent would be too large to hold.
  function index(g) {
    var n = g.n, c0 = Infinity, c1 = -Infinity, r0 = Infinity, r1 = -Infinity, i;
    for (i = 0; i < n; i++) {
      if (g.col[i] < c0) { c0 = g.col[i]; }
      if (g.col[i] > c1) { c1 = g.col[i]; }
      if (g.row[i] < r0) { r0 = g.row[i]; }
      if (g.row[i] > r1) { r1 = g.row[i]; }
    }
    var nc = c1 - c0 + 1, nr = r1 - r0 + 1;
    g.c0 = c0; g.r0 = r0; g.nc = nc; g.nr = nr;
    if (nc * nr <= 50e6) {
      var dense = new Int32Array(nc * nr).fill(-1);
      for (i = 0; i < n; i++) { dense[(g.col[i] - c0) * nr + (g.row[i] - r0)] = i; }
      g.at = function (c, r) {
        c -= c0; r -= r0;
        return (c < 0 || r < 0 || c >= nc || r >= nr) ? -1 : dense[c * nr + r];
      };
    } else {
      var keys = new Float64Array(n);
      for (i = 0; i < n; i++) { keys[i] = ((g.col[i] - c0) * nr + (g.row[i] - r0)) * n + i; }
      keys.sort();
      g.at = function (c, r) {
        c -= c0; r -= r0;
        if (c < 0 || r < 0 || c >= nc || r >= nr) { return -1; }
        var key = c * nr + r, lo = 0, hi = n - 1;
        while (lo <= hi) {
          var mid = (lo + hi) >> 1, k = Math.floor(keys[mid] / n);
          if (k === key) { return keys[mid] - k * n; }
          if (k < key) { lo = mid + 1; } else { hi = mid - 1; }
        }
        return -1;
      };
    }
    var nbr = new Int32Array(4 * n);
    for (i = 0; i < n; i++) {
      var c = g.col[i], r = g.row[i];
      nbr[4 * i] = g.at(c - 1, r); nbr[4 * i + 1] = g.at(c + 1, r);
      nbr[4 * i + 2] = g.at(c, r - 1); nbr[4 * i + 3] = g.at(c, r + 1);
    }
    g.nbr = nbr;
    // the cells' extent in lon/lat (corners and edge midpoints of the lattice box), for culling
    var xs = [g.ox + c0 * g.size, g.ox + (c1 + 1) * g.size], ys = [g.oy + r0 * g.size, g.oy + (r1 + 1) * g.size];
    var south = 90, north = -90, west = 180, east = -180;
    [0, 0.5, 1].forEach(function (fx) {
      [0, 0.5, 1].forEach(function (fy) {
        var ll = G.inverse(xs[0] + fx * (xs[1] - xs[0]), ys[0] + fy * (ys[1] - ys[0]));
        south = Math.min(south, ll[0]); north = Math.max(north, ll[0]);
        west = Math.min(west, ll[1]); east = Math.max(east, ll[1]);
      });
    });
    var pad = 0.05 * Math.max(north - south, east - west) + 0.01;
    g.bounds = [[south - pad, west - pad], [north + pad, east + pad]];
  }

  G.cellAt = function (g, lat, lon) {
    var xy = G.forward(lat, lon);
    return g.at(Math.floor((xy[0] - g.ox) / g.size), Math.floor((xy[1] - g.oy) / g.size));
  };

  G.cellId = function (g, i) {
    return g.ids ? g.ids[i] : g.meta.idPrefix + g.col[i] + "_" + g.row[i];
  };

  G.cellCentre = function (g, i) {
    return G.inverse(g.ox + (g.col[i] + 0.5) * g.size, g.oy + (g.row[i] + 0.5) * g.size);
  };

  // The cell's four corners as [lat, lon] (counterclockwise from the south-west).
  G.cellCorners = function (g, c, r) {
    var s = g.size, x0 = g.ox + c * s, y0 = g.oy + r * s, x1 = g.ox + (c + 1) * s, y1 = g.oy + (r + 1) * s;
    return [G.inverse(x0, y0), G.inverse(x1, y0), G.inverse(x1, y1), G.inverse(x0, y1)];
  };

  // ------------------------------------------------------------------ colours

  // RGBA (little-endian Uint32) per cell from its score, the palette stretched over lo..hi.
  G.colours = function (g, score, palette, stretch, excludedRgb, alpha, out) {
    var n = g.n, lo = stretch[0], span = stretch[1] - stretch[0], np = palette.length - 1;
    var grey = (Math.round(0.55 * 255) << 24 | excludedRgb[2] << 16 | excludedRgb[1] << 8 | excludedRgb[0]) >>> 0;
    out = out || new Uint32Array(n);
    for (var i = 0; i < n; i++) {
      var s = score[i];
      if (g.excluded[i] || s !== s) { out[i] = grey; continue; }
      var t = span > 0 ? (s - lo) / span : 0.5;
      var k = t <= 0 ? 0 : t >= 1 ? np : Math.round(t * np);
      out[i] = palette[k];
    }
    return out;
  };

  // The 2nd and 98th percentile of the scored cells' scores (a 4,096-bin histogram over their
  // range), the span the colours stretch over; [min, max] where they are too few.
  G.stretch = function (g, score) {
    var lo = Infinity, hi = -Infinity, n = 0, i;
    for (i = 0; i < g.n; i++) {
      var s = score[i];
      if (g.excluded[i] || s !== s) { continue; }
      n += 1;
      if (s < lo) { lo = s; }
      if (s > hi) { hi = s; }
    }
    if (!n) { return [0, 1]; }
    if (n < 50 || !(hi > lo)) { return hi > lo ? [lo, hi] : [lo - 0.05, hi + 0.05]; }
    var bins = 4096, hist = new Float64Array(bins), w = (hi - lo) / bins;
    for (i = 0; i < g.n; i++) {
      var v = score[i];
      if (g.excluded[i] || v !== v) { continue; }
      hist[Math.min(bins - 1, Math.floor((v - lo) / w))] += 1;
    }
    var at = function (p) {
      var want = p * n, acc = 0;
      for (var b = 0; b < bins; b++) { acc += hist[b]; if (acc >= want) { return lo + (b + 1) * w; } }
      return hi;
    };
    var a = at(0.02) - w, b = at(0.98);
    return b > a ? [Math.max(lo, a), Math.min(hi, b)] : [lo, hi];
  };

  // ------------------------------------------------------------------ the canvas layer

  var MARGIN = 2;  // pixels around a tile, so site borders meet across tile edges

  // Which cell each pixel of a tile (with MARGIN around it) shows, -1 where none.
  function tileIndex(g, coords, size) {
    var w = size + 2 * MARGIN, out = new Int32Array(w * w).fill(-1);
    var world = size * Math.pow(2, coords.z), x0 = coords.x * size - MARGIN, y0 = coords.y * size - MARGIN;
    var sinT = new Float64Array(w), cosT = new Float64Array(w), px, py;
    for (px = 0; px < w; px++) {
      var lon = (x0 + px + 0.5) / world * 360 - 180, th = thetaOf(lon);
      sinT[px] = Math.sin(th); cosT[px] = Math.cos(th);
    }
    var s = g.size, ox = g.ox, oy = g.oy;
    for (py = 0; py < w; py++) {
      var lat = (2 * Math.atan(Math.exp(Math.PI * (1 - 2 * (y0 + py + 0.5) / world))) - Math.PI / 2) / RAD;
      if (lat < g.bounds[0][0] || lat > g.bounds[1][0]) { continue; }
      var rho = rhoOf(lat), base = py * w;
      for (px = 0; px < w; px++) {
        var x = rho * sinT[px], y = RHO0 - rho * cosT[px];
        out[base + px] = g.at(Math.floor((x - ox) / s), Math.floor((y - oy) / s));
      }
    }
    return out;
  }

  // state: {grid, colours (Uint32Array), outline (bool), siteOf (Int32Array or null)}
  function paint(canvas, idx, size, state) {
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(size, size);
    var px = new Uint32Array(img.data.buffer), w = size + 2 * MARGIN, colours = state.colours;
    var outline = state.outline, site = state.siteOf, border = state.borderRgba;
    var white = 0x99ffffff >>> 0;
    for (var y = 0; y < size; y++) {
      var row = (y + MARGIN) * w + MARGIN, o = y * size;
      for (var x = 0; x < size; x++) {
        var p = row + x, i = idx[p];
        if (i < 0) { continue; }
        var c = colours[i];
        if (outline && (idx[p - 1] !== i || idx[p - w] !== i)) { c = white; }
        if (site) {
          var k = site[i];
          if (k) {
            for (var d = 1; d <= MARGIN; d++) {
              var a = idx[p - d], b = idx[p + d], u = idx[p - d * w], v = idx[p + d * w];
              if ((a < 0 || site[a] !== k) || (b < 0 || site[b] !== k) ||
                  (u < 0 || site[u] !== k) || (v < 0 || site[v] !== k)) { c = border; break; }
            }
          }
        }
        px[o + x] = c;
      }
    }
    ctx.putImageData(img, 0, 0);
  }

  // The canvas layer (made on first use: this file loads before Leaflet).
  var CellLayer = null;
  G.cellLayer = function (state, options) {
    if (!CellLayer) {
      CellLayer = L.GridLayer.extend({
        options: {tileSize: 256, updateWhenZooming: false, keepBuffer: 1, pane: "ssCells"},
        initialize: function (state, options) {
          L.GridLayer.prototype.initialize.call(this, options);
          this._state = state;
          this._index = {};
          this.on("tileunload", function (e) { delete this._index[e.coords.x + ":" + e.coords.y + ":" + e.coords.z]; }, this);
        },
        createTile: function (coords) {
          var size = this.getTileSize().x, tile = document.createElement("canvas");
          tile.width = size; tile.height = size;
          var key = coords.x + ":" + coords.y + ":" + coords.z, state = this._state;
          var nw = this._map.unproject([coords.x * size, coords.y * size], coords.z);
          var se = this._map.unproject([(coords.x + 1) * size, (coords.y + 1) * size], coords.z);
          var b = state.grid.bounds;
          if (se.lat > b[1][0] || nw.lat < b[0][0] || se.lng < b[0][1] || nw.lng > b[1][1]) {
            return tile;  // no cell here
          }
          var idx = tileIndex(state.grid, coords, size);
          this._index[key] = idx;
          paint(tile, idx, size, state);
          return tile;
        },
        repaint: function () {
          var size = this.getTileSize().x;
          for (var key in this._tiles) {
            var t = this._tiles[key], idx = this._index[key];
            if (idx) { paint(t.el, idx, size, this._state); }
          }
        }
      });
    }
    return new CellLayer(state, options);
  };

  return G;
})();
