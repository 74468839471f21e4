// Teleconsultation pages: live status for the CHO and the doctor's offers, pushed over one event
// stream per page (the doctor's open stream is also their presence), countdowns, and the
// formulary search of the prescription form. Every page works without this script: a
// <noscript> refresh and a "Refresh" link keep them current.
(function () {
  "use strict";

  var FALLBACK_MS = 15000; // only for a browser without EventSource
  var bengali = document.documentElement.lang === "bn";
  var BN = "০১২৩৪৫৬৭৮৯";

  function digits(n) {
    var text = String(n);
    return bengali ? text.replace(/[0-9]/g, function (d) { return BN[+d]; }) : text;
  }

  // One send per form: a second tap while the first is on its way sends nothing.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.method !== "post") return;
    if (form.dataset.sending) {
      event.preventDefault();
      return;
    }
    form.dataset.sending = "1";
    setTimeout(function () { delete form.dataset.sending; }, 5000);
  });

  // Countdowns: "{s} seconds left", ticking on the page's clock; the server's figure is the
  // truth at each fetch.
  var countdowns = Array.prototype.slice.call(document.querySelectorAll("[data-countdown]"));
  function showCountdown(el) {
    var left = Math.max(0, parseInt(el.dataset.countdown, 10) || 0);
    el.textContent = el.dataset.template.replace("{s}", digits(left));
  }
  if (countdowns.length) {
    setInterval(function () {
      countdowns.forEach(function (el) {
        var left = Math.max(0, (parseInt(el.dataset.countdown, 10) || 0) - 1);
        el.dataset.countdown = String(left);
        showCountdown(el);
      });
    }, 1000);
  }

  var live = document.getElementById("tele-live");
  // A page may be the answer to a POST (a refused prescription, a late join): going "home"
  // fetches the page afresh with GET, where a reload would post the form again.
  function go() {
    location.assign(live.dataset.home);
  }
  // A prescription being written (typed now, or sent back with a refusal) is never thrown
  // away by a live update.
  var typed = Array.prototype.some.call(document.querySelectorAll(".tele-rx-form [data-drug]"), function (el) {
    return el.value.trim() !== "";
  });
  document.addEventListener("input", function (event) {
    if (event.target.form && event.target.form.classList.contains("tele-rx-form")) typed = true;
  });

  function banner(text, linkText) {
    var box = document.getElementById("live-banner");
    if (!box) {
      go();
      return;
    }
    box.textContent = text + " ";
    var a = document.createElement("a");
    a.href = live.dataset.home;
    a.textContent = linkText;
    box.appendChild(a);
    box.hidden = false;
  }

  function onCho(state) {
    if (state.status !== live.dataset.status || (state.has_prescription ? "yes" : "no") !== live.dataset.rx) {
      go();
      return;
    }
    var parts = { "q-position": "position", "q-wait": "wait", "q-online": "online" };
    Object.keys(parts).forEach(function (id) {
      var el = document.getElementById(id);
      if (el && state.text) el.textContent = state.text[parts[id]];
    });
    if (state.join_left_s !== null) {
      countdowns.forEach(function (el) { el.dataset.countdown = String(state.join_left_s); showCountdown(el); });
    }
  }

  function onDoctor(state) {
    var mine = live.dataset.consult;
    var now = state.consult_id === null ? "" : String(state.consult_id);
    if (now !== mine) {
      // Never throw away a prescription being typed: say so and let the doctor choose.
      if (typed) banner(live.dataset.changed, live.dataset.reload);
      else go();
      return;
    }
    if (!now) {
      if (state.presence !== live.dataset.presence) go();
      return;
    }
    if (state.consult_status !== live.dataset.consultStatus) {
      if (live.dataset.consultStatus === "offered" || !typed) {
        go();
        return;
      }
      live.dataset.consultStatus = state.consult_status;
      var line = document.getElementById("join-state");
      if (line) {
        line.textContent = state.status_text;
        line.className = "tele-join-state tele-status-" + state.consult_status;
      }
    }
  }

  // Live pages hold one event stream (offers, state changes, queue moves: ids only) and fetch
  // their state once per burst of events, and once after each (re)connect: nothing polls.
  if (live && live.dataset.live && window.fetch) {
    var stopped = false;
    var timer = 0;
    var busy = false;
    var again = false;
    var fetchState = function () {
      timer = 0;
      busy = true;
      fetch(live.dataset.poll, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (r) {
          var json = (r.headers.get("Content-Type") || "").indexOf("application/json") === 0;
          if (!r.ok || !json) {
            // Signed out or gone: a reload shows the login or error page in words.
            stopped = true;
            go();
            return null;
          }
          return r.json();
        })
        .then(function (state) {
          if (!state) return;
          if (live.dataset.kind === "cho") onCho(state);
          else onDoctor(state);
        })
        .catch(function () { /* a weak network: the next event or reconnect tries again */ })
        .then(function () {
          busy = false;
          if (again) {
            again = false;
            schedule();
          }
        });
    };
    // One fetch at most every half second or so however fast events come; the random part
    // keeps a whole queue of pages nudged at once from asking in the same instant.
    var schedule = function () {
      if (stopped) return;
      if (busy) again = true;
      else if (!timer) timer = setTimeout(fetchState, 400 + Math.random() * 300);
    };
    if ("EventSource" in window && live.dataset.events) {
      var source = new EventSource(live.dataset.events);
      source.addEventListener("open", schedule);
      ["offer", "consult", "state", "position"].forEach(function (name) {
        source.addEventListener(name, schedule);
      });
      source.addEventListener("error", function () {
        // Closed for good (signed out: the server answered with a page, not a stream): one
        // fetch finds out why and shows it. Otherwise the browser reconnects by itself.
        if (source.readyState === 2) {
          source.close();
          schedule();
        }
      });
    } else {
      // A browser without event streams: the page's own refresh, slowly.
      setInterval(schedule, FALLBACK_MS);
    }
  }

  // The prescription form: more rows on demand, and the formulary behind the drug boxes.
  var rxForm = document.querySelector(".tele-rx-form");
  if (!rxForm) return;
  var addRow = document.getElementById("add-row");
  if (addRow) {
    addRow.hidden = false;
    addRow.addEventListener("click", function () {
      var spare = rxForm.querySelector("[data-spare][hidden]");
      if (!spare) { addRow.hidden = true; return; }
      spare.hidden = false;
      spare.querySelector("[data-drug]").focus();
      if (!rxForm.querySelector("[data-spare][hidden]")) addRow.hidden = true;
    });
  }

  var list = document.getElementById("drug-list");
  var known = {};
  var timer = null;
  var LIST_MARK = { O: "O", A: "A", B: "B", prohibited: "✕" };

  function fillRow(input, drug) {
    var row = input.closest("[data-row]");
    var i = row.dataset.row;
    var badge = row.querySelector("[data-badge]");
    var strengths = document.getElementById("strengths-" + i);
    var forms = document.getElementById("forms-" + i);
    if (!drug) {
      badge.hidden = true;
      return;
    }
    badge.hidden = false;
    badge.textContent = LIST_MARK[drug.tpg_list] || drug.tpg_list;
    badge.className = "tele-badge tele-list-" + drug.tpg_list;
    strengths.innerHTML = "";
    drug.strengths.forEach(function (s) { var o = document.createElement("option"); o.value = s; strengths.appendChild(o); });
    forms.innerHTML = "";
    drug.forms.forEach(function (f) { var o = document.createElement("option"); o.value = f; forms.appendChild(o); });
    var strength = document.getElementById("f-strength-" + i);
    var form = document.getElementById("f-form-" + i);
    if (!strength.value && drug.strengths.length === 1) strength.value = drug.strengths[0];
    if (!form.value && drug.forms.length === 1) form.value = drug.forms[0];
  }

  function search(input) {
    var q = input.value.trim();
    if (q.length < 2) return;
    fetch(rxForm.dataset.formulary + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { drugs: [] }; })
      .then(function (body) {
        list.innerHTML = "";
        body.drugs.forEach(function (d) {
          known[d.generic] = d;
          var o = document.createElement("option");
          o.value = d.generic;
          o.label = d.name_bn + " · " + (LIST_MARK[d.tpg_list] || d.tpg_list);
          list.appendChild(o);
        });
        var exact = known[q.toLowerCase()];
        if (exact) fillRow(input, exact);
      })
      .catch(function () {});
  }

  rxForm.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.hasAttribute("data-drug")) return;
    clearTimeout(timer);
    var exact = known[input.value.trim().toLowerCase()];
    if (exact) { fillRow(input, exact); return; }
    timer = setTimeout(function () { search(input); }, 200);
  });
})();
