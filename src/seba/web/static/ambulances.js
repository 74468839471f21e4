/* The driver's page: when the phone can tell where it is, each step carries the location and
   it is reported about once a minute. Without this script (or without a fix) the buttons work
   all the same: location is a help, never a condition. */
(function () {
  "use strict";
  var root = document.querySelector("[data-trip-token]");
  if (!root || !navigator.geolocation) return;
  var token = root.getAttribute("data-trip-token");
  var lastSent = 0;
  var REPORT_EVERY_MS = 60000;

  function fill(lat, lon) {
    var inputs = document.querySelectorAll("input[data-where]");
    for (var i = 0; i < inputs.length; i++) {
      inputs[i].value = inputs[i].getAttribute("data-where") === "lat" ? lat : lon;
    }
  }

  navigator.geolocation.watchPosition(
    function (position) {
      var lat = position.coords.latitude.toFixed(5);
      var lon = position.coords.longitude.toFixed(5);
      fill(lat, lon);
      var now = Date.now();
      if (now - lastSent < REPORT_EVERY_MS || !window.fetch) return;
      lastSent = now;
      fetch("/api/v1/driver-trips/" + encodeURIComponent(token) + "/location", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ lat: Number(lat), lon: Number(lon) }),
      }).catch(function () {
        // A weak network: the next fix tries again.
      });
    },
    function () {
      // No permission or no fix: the page works without it.
    },
    { enableHighAccuracy: true, maximumAge: 30000, timeout: 20000 }
  );
})();
