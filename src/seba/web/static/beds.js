// Bed availability page: live refresh and "near me". The page is a plain GET form without this.
(function () {
  "use strict";
  var form = document.querySelector("form.filters");
  var results = document.getElementById("results");

  // "Near me": the browser's location fills the near field and the form is sent as usual.
  var nearMe = document.getElementById("near-me");
  var nearStatus = document.getElementById("near-status");
  if (form && nearMe && "geolocation" in navigator) {
    nearMe.hidden = false;
    nearMe.addEventListener("click", function () {
      nearMe.disabled = true;
      nearStatus.textContent = nearMe.dataset.wait;
      navigator.geolocation.getCurrentPosition(
        function (pos) {
          // Three decimals is about 100 m: enough to rank hospitals, and no more of where a
          // person is than that goes into the address bar and the server's logs.
          form.elements.near.value =
            pos.coords.latitude.toFixed(3) + "," + pos.coords.longitude.toFixed(3);
          form.submit();
        },
        function () {
          nearMe.disabled = false;
          nearStatus.textContent = nearMe.dataset.error;
        },
        { timeout: 15000, maximumAge: 300000 }
      );
    });
  }

  if (!results || !("EventSource" in window)) return;
  var live = document.getElementById("live-status");
  var timer = 0;
  var busy = false;
  var again = false;
  var shown = results.dataset.etag; // ETag of the results on screen

  // Keep what the reader had open or focused when the list is replaced under them.
  function swap(html) {
    var totals = document.getElementById("district-totals");
    var open = totals && totals.open;
    var active = document.activeElement;
    var card = results.contains(active) ? active.closest("[id]") : null;
    var focusable = "a, button, summary";
    var index = card ? Array.prototype.indexOf.call(card.querySelectorAll(focusable), active) : -1;
    results.innerHTML = html;
    totals = document.getElementById("district-totals");
    if (totals && open) totals.open = true;
    var sameCard = card && document.getElementById(card.id);
    if (sameCard && index >= 0) {
      var target = sameCard.querySelectorAll(focusable)[index];
      if (target) target.focus();
    }
    live.textContent = live.dataset.updated;
  }

  function refresh() {
    timer = 0;
    busy = true;
    // "no-cache" revalidates with the ETag: unchanged results cost a 304, not the list.
    fetch(results.dataset.src + location.search, { cache: "no-cache" })
      .then(function (r) {
        var tag = r.headers.get("ETag");
        if (!r.ok || (tag && tag === shown)) return null;
        shown = tag;
        return r.text().then(swap);
      })
      .catch(function () {
        // Offline for a moment: the next event or reconnect tries again.
      })
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          schedule();
        }
      });
  }

  // One fetch at most every half second or so however fast events come, none while hidden;
  // the random part keeps thousands of open pages from asking in the same instant.
  function schedule() {
    if (document.hidden || busy) {
      again = true;
    } else if (!timer) {
      timer = setTimeout(refresh, 400 + Math.random() * 300);
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && again) {
      again = false;
      schedule();
    }
  });

  var events = new EventSource("/api/v1/beds/events");
  events.addEventListener("open", function () {
    live.textContent = live.dataset.live;
  });
  events.addEventListener("error", function () {
    live.textContent = "";
  });
  events.addEventListener("beds", schedule);
})();
