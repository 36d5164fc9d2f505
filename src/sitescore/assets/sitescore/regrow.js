/* sitescore map: the command line's ranking repeated in the browser. Scores every cell with
 * sitescore.mcda's arithmetic, regrows the sites with sitescore.locate.grow_sites' rules and
 * builds their table as locate.site_table does, so for the same weights the page finds the same
 * sites, cells and order as `sitescore run --weights FILE`.
 *
 * Exactness. With the cells' criterion values carried exactly (float64), the weighted sum and
 * TOPSIS are the same floating-point operations in the same order as numpy's (no fused
 * multiply-add in JavaScript; numpy's pairwise sums repeated by npSum), so every score, every
 * comparison and every site is the command line's to the last bit. The weighted product goes
 * through Math.log / Math.exp, which may differ from numpy's in the last bit; and a national page
 * carries values rounded to 24 bits. Then each score is known within `eps`, and every decision
 * the growing takes on scores closer than that (a seed, a neighbour, a site's rank) is recorded
 * in `uncertain`: the page says the command line could order those two differently.
 *
 * Spacing is exact on the square lattice: a cell's box and a site's cells are as far apart as
 * shapely.distance says of their polygons (`gap`, tested against shapely).
 */
var SSRANK = (function () {
  "use strict";
  var R = {};

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
      var r0 = a[lo], r1 = a[lo + 1], r2 = a[lo + 2], r3 = a[lo + 3];
      var r4 = a[lo + 4], r5 = a[lo + 5], r6 = a[lo + 6], r7 = a[lo + 7];
      for (i = 8; i < n - (n % 8); i += 8) {
        r0 += a[lo + i]; r1 += a[lo + i + 1]; r2 += a[lo + i + 2]; r3 += a[lo + i + 3];
        r4 += a[lo + i + 4]; r5 += a[lo + i + 5]; r6 += a[lo + i + 6]; r7 += a[lo + i + 7];
      }
      res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
      for (; i < n; i++) { res += a[lo + i]; }
      return res;
    }
    var n2 = Math.floor(n / 2);
    n2 -= n2 % 8;
    return npSum(a, lo, n2) + npSum(a, lo + n2, n - n2);
  }
  R.npSum = npSum;

  // mcda._normalised: the weights over their (pairwise) sum.
  function normalised(w) {
    var total = npSum(Float64Array.from(w));
    return w.map(function (x) { return x / total; });
  }

  // ------------------------------------------------------------------ aggregation, by column

  // mcda.weighted_sum: total = total + w_j * v_j, criterion by criterion in config order.
  function weightedSum(cols, w, n) {
    var s = new Float64Array(n);
    for (var j = 0; j < w.length; j++) {
      var wj = w[j], c = cols[j];
      for (var i = 0; i < n; i++) { s[i] = s[i] + wj * c[i]; }
    }
    return s;
  }

  // mcda.weighted_product: exp(sum_j w_j ln max(v_j, 0.01)); Math.log/exp are not numpy's.
  function weightedProduct(cols, w, n) {
    var s = new Float64Array(n);
    for (var j = 0; j < w.length; j++) {
      var wj = w[j], c = cols[j];
      for (var i = 0; i < n; i++) {
        var v = c[i];
        s[i] = s[i] + wj * (v !== v ? NaN : Math.log(Math.max(v, 0.01)));
      }
    }
    for (var k = 0; k < n; k++) { s[k] = Math.exp(s[k]); }
    return s;
  }

  // mcda.topsis (vector normalisation, every column a benefit): column sums row after row (a
  // C-ordered n x m array reduced over axis 0), except a single column, which numpy sums as a
  // contiguous 1-D array; each row's distances pairwise over its m values.
  function topsis(cols, w, n) {
    var m = w.length, out = new Float64Array(n).fill(NaN), i, j;
    var ok = new Uint8Array(n).fill(1), any = false;
    for (i = 0; i < n; i++) {
      for (j = 0; j < m; j++) { var x = cols[j][i]; if (!(x - x === 0)) { ok[i] = 0; break; } }
      any = any || ok[i] === 1;
    }
    if (!any) { return out; }
    var scale = new Float64Array(m);
    if (m === 1) {
      var sq = [];
      for (i = 0; i < n; i++) { if (ok[i]) { sq.push(cols[0][i] * cols[0][i]); } }
      scale[0] = Math.sqrt(npSum(Float64Array.from(sq)));
    } else {
      for (i = 0; i < n; i++) {
        if (!ok[i]) { continue; }
        for (j = 0; j < m; j++) { scale[j] = scale[j] + cols[j][i] * cols[j][i]; }
      }
      for (j = 0; j < m; j++) { scale[j] = Math.sqrt(scale[j]); }
    }
    var hi = new Float64Array(m).fill(-Infinity), lo = new Float64Array(m).fill(Infinity);
    var t = function (k, row) { return (scale[k] > 0 ? cols[k][row] / scale[k] : 0) * w[k]; };
    for (i = 0; i < n; i++) {
      if (!ok[i]) { continue; }
      for (j = 0; j < m; j++) {
        var v = t(j, i);
        if (v > hi[j]) { hi[j] = v; }
        if (v < lo[j]) { lo[j] = v; }
      }
    }
    var dp = new Float64Array(m), dm = new Float64Array(m);
    for (i = 0; i < n; i++) {
      if (!ok[i]) { continue; }
      for (j = 0; j < m; j++) {
        var tv = t(j, i), a = tv - hi[j], b = tv - lo[j];
        dp[j] = a * a; dm[j] = b * b;
      }
      var plus = Math.sqrt(npSum(dp)), minus = Math.sqrt(npSum(dm)), total = plus + minus;
      var c = total > 0 ? minus / total : 0.5;
      out[i] = Math.min(1, Math.max(0, c));
    }
    return out;
  }

  var ARITHMETIC = {weighted_sum: weightedSum, weighted_product: weightedProduct, topsis: topsis};
  R.methods = Object.keys(ARITHMETIC);

  // sitescore.mcda.score over columns: weights normalised first where the method says so
  // (`normalise`, from mcda's registry in the page's data).
  R.combine = function (cols, w, method, spec, n) {
    var f = ARITHMETIC[method];
    if (!f || !spec) { throw new Error("unknown aggregation " + method); }
    return f(cols, spec.normalise ? normalised(w) : w.slice(), n);
  };

  // How far a score may be from the command line's: 0 when the arithmetic is repeated exactly.
  R.scoreError = function (method, step, w) {
    var ulp = method === "weighted_product" ? 1e-12 : 0;
    if (!step) { return ulp; }
    var half = step / 2 * (1 + 1e-9), total = 0;
    var wn = method === "weighted_sum" ? w : normalised(w);
    wn.forEach(function (x) { total += Math.abs(x); });
    if (method === "weighted_product") { return 100 * half * total + 1e-12; }
    if (method === "topsis") { return Infinity; }  // no useful bound: say so
    return half * total + 1e-14;
  };

  // ------------------------------------------------------------------ a binary heap of cells

  // Best first: higher score, then lower index (= cell-id rank), as grow_sites' heap tuples.
  function Heap(score, items) {
    this.s = score;
    this.a = items || [];
    for (var k = (this.a.length >> 1) - 1; k >= 0; k--) { this.down(k); }
  }
  Heap.prototype.better = function (x, y) {
    var s = this.s;
    return s[x] > s[y] || (s[x] === s[y] && x < y);
  };
  Heap.prototype.push = function (x) {
    var a = this.a, k = a.length;
    a.push(x);
    while (k > 0) {
      var p = (k - 1) >> 1;
      if (!this.better(a[k], a[p])) { break; }
      var t = a[k]; a[k] = a[p]; a[p] = t; k = p;
    }
  };
  Heap.prototype.down = function (k) {
    var a = this.a, n = a.length;
    for (;;) {
      var l = 2 * k + 1, r = l + 1, b = k;
      if (l < n && this.better(a[l], a[b])) { b = l; }
      if (r < n && this.better(a[r], a[b])) { b = r; }
      if (b === k) { return; }
      var t = a[k]; a[k] = a[b]; a[b] = t; k = b;
    }
  };
  Heap.prototype.pop = function () {
    var a = this.a, top = a[0], last = a.pop();
    if (a.length) { a[0] = last; this.down(0); }
    return top;
  };
  Heap.prototype.peek = function () { return this.a[0]; };
  Heap.prototype.size = function () { return this.a.length; };

  // ------------------------------------------------------------------ spacing on the lattice

  // Distance between boxes [x0, y0, x1, y1], as GEOS gives it for their polygons.
  function gap(a0, a1, a2, a3, b0, b1, b2, b3) {
    var dx = Math.max(0, a0 - b2, b0 - a2), dy = Math.max(0, a1 - b3, b1 - a3);
    if (dx === 0) { return dy; }
    if (dy === 0) { return dx; }
    return Math.sqrt(dx * dx + dy * dy);
  }
  R.gap = gap;

  // ------------------------------------------------------------------ locate.grow_sites

  // grid: {n, col, row, size, ox, oy, acres, excluded (Uint8), nbr (Int32Array 4n)};
  // rules: {minAcres, spacing (m), maxSites, minCellScore}; eps: how far scores may be off.
  // Returns {siteOf (Int32Array, 1-based in order found), sites: [[cell, ...] in order added],
  // uncertain: [{what, gap}]}.
  R.grow = function (grid, score, rules, eps) {
    var n = grid.n, col = grid.col, row = grid.row, s = grid.size, ox = grid.ox, oy = grid.oy;
    var acres = grid.acres, nbr = grid.nbr, t = rules.minCellScore;
    var qualifies = new Uint8Array(n), seeds = [], i;
    for (i = 0; i < n; i++) {
      if (!grid.excluded[i] && score[i] >= t) { qualifies[i] = 1; seeds.push(i); }
    }
    var siteOf = new Int32Array(n), tried = new Uint8Array(n), seen = new Int32Array(n);
    var sites = [], boxes = [], uncertain = [];
    var spacing = rules.spacing, certify = eps > 0, twice = 2 * eps;
    var note = function (what, g) { if (uncertain.length < 20) { uncertain.push({what: what, gap: g}); } };

    function farEnough(c) {
      if (!(spacing > 0) || !sites.length) { return true; }
      var a0 = ox + col[c] * s, a1 = oy + row[c] * s, a2 = ox + (col[c] + 1) * s,
        a3 = oy + (row[c] + 1) * s;
      for (var k = 0; k < sites.length; k++) {
        var b = boxes[k];
        if (gap(a0, a1, a2, a3, b[0], b[1], b[2], b[3]) >= spacing) { continue; }
        var cells = sites[k];
        for (var q = 0; q < cells.length; q++) {
          var m = cells[q];
          if (gap(a0, a1, a2, a3, ox + col[m] * s, oy + row[m] * s, ox + (col[m] + 1) * s,
                  oy + (row[m] + 1) * s) < spacing) { return false; }
        }
      }
      return true;
    }
    if (certify && t > 0) {
      for (i = 0; i < n; i++) {
        if (!grid.excluded[i] && Math.abs(score[i] - t) < eps) { note("min_cell_score", score[i] - t); break; }
      }
    }

    var heap = new Heap(score, seeds), stamp = 0, lastStart = null;
    while (sites.length < rules.maxSites && heap.size()) {
      var seed = heap.pop();
      if (tried[seed] || siteOf[seed] || !farEnough(seed)) { continue; }
      if (certify) {
        if (lastStart !== null && score[lastStart] - score[seed] < twice) {
          note("two seeds", score[lastStart] - score[seed]);
        }
        var near = [];
        while (heap.size() && score[heap.peek()] > score[seed] - twice) { near.push(heap.pop()); }
        near.forEach(function (c) {
          if (!tried[c] && !siteOf[c] && farEnough(c)) { note("two seeds", score[seed] - score[c]); }
          heap.push(c);
        });
        lastStart = seed;
      }
      stamp += 1;
      var region = [], total = 0, grow = new Heap(score, [seed]);
      seen[seed] = stamp;
      while (grow.size() && total < rules.minAcres) {
        var x = grow.pop();
        if (certify && grow.size() && score[x] - score[grow.peek()] < twice) {
          note("two neighbours", score[x] - score[grow.peek()]);
        }
        if (x !== seed && !farEnough(x)) { continue; }
        region.push(x);
        total += acres[x];
        for (var d = 0; d < 4; d++) {
          var j = nbr[4 * x + d];
          if (j >= 0 && seen[j] !== stamp && qualifies[j] && !siteOf[j]) {
            seen[j] = stamp;
            grow.push(j);
          }
        }
      }
      for (var r = 0; r < region.length; r++) { tried[region[r]] = 1; }
      if (total + 1e-6 >= rules.minAcres) {
        var bb = [Infinity, Infinity, -Infinity, -Infinity];
        region.forEach(function (c) {
          bb[0] = Math.min(bb[0], ox + col[c] * s); bb[1] = Math.min(bb[1], oy + row[c] * s);
          bb[2] = Math.max(bb[2], ox + (col[c] + 1) * s); bb[3] = Math.max(bb[3], oy + (row[c] + 1) * s);
          siteOf[c] = sites.length + 1;
        });
        sites.push(region);
        boxes.push(bb);
      }
    }
    return {siteOf: siteOf, sites: sites, uncertain: uncertain};
  };

  // ------------------------------------------------------------------ locate.site_table

  // np.average(a, weights=w) over the finite values: sum(a * w) / sum(w), both pairwise.
  function average(vals, w) {
    var aw = [], ws = [];
    for (var k = 0; k < vals.length; k++) {
      var v = vals[k];
      if (v - v === 0) { aw.push(v * w[k]); ws.push(w[k]); }
    }
    if (!ws.length) { return NaN; }
    return npSum(Float64Array.from(aw)) / npSum(Float64Array.from(ws));
  }
  R.average = average;

  // The sites' table: per site (found order) its cells sorted by id, acres, acre-weighted
  // criterion values, score by the method over the sites' values, and the rank (score best
  // first, ties by the order found); `eps` flags ranks closer than the scores are known.
  R.siteTable = function (grid, grown, w, method, spec, eps) {
    var V = grid.values, m = V.length, K = grown.sites.length, rows = [], j, k;
    for (k = 0; k < K; k++) {
      var cells = grown.sites[k].slice().sort(function (a, b) { return a - b; });
      var wts = cells.map(function (c) { return grid.acres[c]; });
      var values = [], raw = [];
      for (j = 0; j < m; j++) {
        values.push(average(cells.map(function (c) { return V[j][c]; }), wts));
        raw.push(grid.raw ? average(cells.map(function (c) { return grid.raw[j][c]; }), wts) : NaN);
      }
      rows.push({found: k + 1, cells: cells, acres: npSum(Float64Array.from(wts)), values: values,
                 raw: raw});
    }
    var cols = [];
    for (j = 0; j < m; j++) {
      cols.push(Float64Array.from(rows.map(function (r) { return r.values[j] - r.values[j] === 0 ? r.values[j] : 0; })));
    }
    var scores = K ? R.combine(cols, w, method, spec, K) : [];
    rows.forEach(function (r, q) { r.score = scores[q]; });
    var order = rows.slice().sort(function (a, b) {
      var sa = a.score !== a.score ? -Infinity : a.score, sb = b.score !== b.score ? -Infinity : b.score;
      if (sa !== sb) { return sb > sa ? 1 : -1; }
      return a.found - b.found;
    });
    order.forEach(function (r, q) {
      r.rank = q + 1;
      if (eps > 0 && q > 0 && order[q - 1].score - r.score < 2 * eps) {
        grown.uncertain.push({what: "two sites", gap: order[q - 1].score - r.score, rank: q + 1});
      }
    });
    return order;
  };

  return R;
})();
