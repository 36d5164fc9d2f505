/* sitescore map: the ranked list's search and the page's layout. The boxes keep clear of the
 * controls at the bottom of their side, fold away (a phone opens them folded), and popups and
 * fits pan clear of them. Used by map.js; needs Leaflet and the page's `window.sitescore.map`.
 */
var SSLAYOUT = (function () {
  "use strict";
  var Y = {};

  Y.search = function (query) {
    var q = (query || "").trim().toLowerCase(), list = document.getElementById("ss-site-list"), shown = [];
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

  // Room the boxes take on the map, so fits and popups keep clear of them.
  function fitPadding() {
    var map = window.sitescore.map, size = map.getSize();
    var title = document.getElementById("sitescore-title"), panel = document.getElementById("sitescore-panel");
    if (size.x < 700) { return {paddingTopLeft: [10, 10], paddingBottomRight: [10, 10]}; }
    var left = title && !title.classList.contains("ss-collapsed") ? title.getBoundingClientRect().right
      - map.getContainer().getBoundingClientRect().left + 10 : 30;
    var right = panel && !panel.classList.contains("ss-collapsed") ? map.getContainer().getBoundingClientRect().right
      - panel.getBoundingClientRect().left + 10 : 30;
    if (left + right > size.x - 200) { left = right = 20; }
    return {paddingTopLeft: [left, 30], paddingBottomRight: [right, 40]};
  }
  Y.fitPadding = fitPadding;

  // Boxes end above the controls at the bottom of their side (scale bar and legend, minimap).
  Y.layout = function () {
    var s = window.sitescore;
    if (!s) { return; }
    var rect = s.map.getContainer().getBoundingClientRect();
    var fit = function (box, corner) {
      if (!box) { return; }
      var bottom = document.querySelector(".leaflet-bottom.leaflet-" + corner);
      var reserve = bottom ? bottom.getBoundingClientRect().height + 16 : 16;
      var top = box.getBoundingClientRect().top - rect.top;
      box.style.maxHeight = Math.max(120, rect.height - top - reserve) + "px";
    };
    fit(document.getElementById("sitescore-title"), "left");
    fit(document.getElementById("sitescore-panel"), "right");
  };

  Y.collapsible = function (box, startCollapsed) {
    if (!box) { return; }
    var button = box.querySelector(".ss-toggle");
    if (!button) { return; }
    var set = function (collapsed) {
      box.classList.toggle("ss-collapsed", collapsed);
      button.setAttribute("aria-expanded", String(!collapsed));
      button.textContent = collapsed ? "Show" : "Hide";
      Y.layout();
    };
    button.addEventListener("click", function (e) { e.preventDefault(); set(!box.classList.contains("ss-collapsed")); });
    set(startCollapsed);
    box._ssSet = set;
  };

  // Popups open clear of the boxes (Leaflet pans the map by the padding given).
  Y.popupsClearOfBoxes = function () {
    L.Popup.include({
      _ssAdjust: L.Popup.prototype._adjustPan,
      _adjustPan: function () {
        if (window.sitescore && this._map === window.sitescore.map) {
          var p = fitPadding();
          this.options.autoPanPaddingTopLeft = L.point(p.paddingTopLeft[0], p.paddingTopLeft[1] + 40);
          this.options.autoPanPaddingBottomRight = L.point(p.paddingBottomRight[0], p.paddingBottomRight[1]);
        }
        return this._ssAdjust.apply(this, arguments);
      }
    });
  };

  return Y;
})();
