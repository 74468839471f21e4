// Referral pages: "use my location" on the bed request, one send per form, and live lists on
// the staff pages. Every page works without this script: forms post, a reload shows the news.
(function () {
  "use strict";

  // A second click while the first is on its way sends nothing (the server also answers a
  // repeated Idempotency-Key with the first result). Unlocked again if the page stays.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.method !== "post") return;
    if (form.dataset.sending) {
      event.preventDefault();
      return;
    }
    form.dataset.sending = "1";
    setTimeout(function () {
      delete form.dataset.sending;
    }, 5000);
  });

  // "Use my location": fills the request form's hidden lat/lon, which rank nearer hospitals.
  var locate = document.getElementById("use-location");
  if (locate && "geolocation" in navigator) {
    var status = document.getElementById("location-status");
    var form = locate.form;
    locate.hidden = false;
    locate.addEventListener("click", function () {
      locate.disabled = true;
      status.textContent = locate.dataset.wait;
      navigator.geolocation.getCurrentPosition(
        function (pos) {
          // Three decimals is about 100 m: enough to rank hospitals, and no more than that of
          // where the family is goes to the server.
          form.elements.lat.value = pos.coords.latitude.toFixed(3);
          form.elements.lon.value = pos.coords.longitude.toFixed(3);
          status.textContent = locate.dataset.done;
          locate.disabled = false;
        },
        function () {
          status.textContent = locate.dataset.error;
          locate.disabled = false;
        },
        { timeout: 15000, maximumAge: 300000 }
      );
    });
  }

  var regions = Array.prototype.slice.call(document.querySelectorAll("[data-live-src]"));
  if (!regions.length || !("EventSource" in window)) return;
  var live = document.getElementById("live-status");

  function typingIn(region) {
    var active = document.activeElement;
    return (
      active &&
      region.contains(active) &&
      /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) &&
      active.type !== "hidden"
    );
  }

  // Replace a list, keeping what the reader had open or focused.
  function swap(region, html) {
    var open = Array.prototype.map.call(region.querySelectorAll("details[open][id]"), function (d) {
      return d.id;
    });
    var active = document.activeElement;
    var holder = region.contains(active) ? active.closest("[id]") : null;
    var focusable = "a, button, summary";
    var index = holder
      ? Array.prototype.indexOf.call(holder.querySelectorAll(focusable), active)
      : -1;
    region.innerHTML = html;
    open.forEach(function (id) {
      var d = document.getElementById(id);
      if (d) d.open = true;
    });
    var same = holder && document.getElementById(holder.id);
    if (same && index >= 0) {
      var target = same.querySelectorAll(focusable)[index];
      if (target) target.focus();
    }
    if (live) live.textContent = live.dataset.updated;
  }

  function watch(region) {
    var timer = 0;
    var busy = false;
    var again = false;

    function refresh() {
      timer = 0;
      // Never under the fingers of someone typing a reason: after they leave the field.
      if (typingIn(region)) {
        again = true;
        return;
      }
      busy = true;
      fetch(region.dataset.liveSrc, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) {
          // A login page (the session ended) is not a list: leave the page as it is.
          if (!r.ok || r.redirected) return null;
          return r.text().then(function (html) {
            swap(region, html);
          });
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

    // At most one fetch per half second or so however fast events come, none while hidden.
    function schedule() {
      if (document.hidden || busy) {
        again = true;
      } else if (!timer) {
        timer = setTimeout(refresh, 400 + Math.random() * 300);
      }
    }

    region.addEventListener("focusout", function () {
      if (again) {
        again = false;
        schedule();
      }
    });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && again) {
        again = false;
        schedule();
      }
    });
    return schedule;
  }

  var listeners = regions.map(function (region) {
    return {
      topics: (region.dataset.liveTopics || "referrals").split(" "),
      facility: region.dataset.facility ? Number(region.dataset.facility) : null,
      schedule: watch(region),
    };
  });

  var events = new EventSource("/staff/events");
  var opened = false;
  events.addEventListener("open", function () {
    if (live) live.textContent = live.dataset.live;
    // After a reconnect some events may have been missed: fetch everything once.
    if (opened) {
      listeners.forEach(function (l) {
        l.schedule();
      });
    }
    opened = true;
  });
  events.addEventListener("error", function () {
    if (live) live.textContent = "";
  });
  ["referrals", "beds", "ambulances"].forEach(function (topic) {
    events.addEventListener(topic, function (event) {
      var data = {};
      try {
        data = JSON.parse(event.data);
      } catch (e) {
        // Not ours to read: refresh anyway.
      }
      listeners.forEach(function (l) {
        if (l.topics.indexOf(topic) < 0) return;
        // A hospital's page only cares about its own referrals.
        if (l.facility !== null && data.facility_id !== l.facility) return;
        l.schedule();
      });
    });
  });
})();
