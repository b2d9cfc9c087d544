// The customer's tracking page: a small map of the vehicle (only when the server sends one)
// and a refresh of the ETA every 30 s. Nothing here can show more than the server gave.
(function () {
  "use strict";
  var body = document.body;
  var mapEl = document.getElementById("map");
  var marker = null;

  function point(text) {
    var parts = (text || "").split(",").map(Number);
    return parts.length === 2 && !isNaN(parts[0]) ? [parts[1], parts[0]] : null; // [lat, lon]
  }

  if (mapEl && window.L) {
    var vehicle = point(mapEl.dataset.vehicle);
    var home = point(mapEl.dataset.destination);
    var map = L.map(mapEl, { zoomControl: true, maxZoom: 19 });
    if (mapEl.dataset.tiles) {
      L.tileLayer(mapEl.dataset.tiles, { maxZoom: 19, attribution: "© OpenStreetMap contributors" }).addTo(map);
    } else if (window.lastmileBasemap) {
      // The server's own offline tiles (street names, house numbers): never an empty box.
      window.lastmileBasemap.add(map);
    }
    var icon = L.divIcon({ className: "vehicle-dot", iconSize: [18, 18] });
    marker = L.marker(vehicle, { icon: icon, title: "vehicle" }).addTo(map);
    var bounds = [vehicle];
    if (home) {
      L.marker(home, { icon: L.divIcon({ className: "home-dot", iconSize: [16, 16] }) }).addTo(map);
      bounds.push(home);
    }
    if (bounds.length > 1) { map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16 }); }
    else { map.setView(vehicle, 15); }
    mapEl.dataset.ready = "yes";
  }

  function refresh() {
    fetch(body.dataset.statusUrl, { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) { return; }
        var mapNow = s.show_map ? "yes" : "no";
        if (s.status !== body.dataset.status || mapNow !== body.dataset.showMap) {
          window.location.reload();
          return;
        }
        var from = document.getElementById("eta-from");
        var to = document.getElementById("eta-to");
        if (from && s.eta_from) { from.textContent = s.eta_from; }
        if (to && s.eta_to) { to.textContent = s.eta_to; }
        if (marker && s.vehicle) { marker.setLatLng([s.vehicle[1], s.vehicle[0]]); }
      })
      .catch(function () { /* offline: try again later */ });
  }
  setInterval(refresh, 30000);
})();
