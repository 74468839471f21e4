// Bed census form: "Free now" follows what the officer types (total − occupied − reserved).
// Without this file the form is the same; the server works the number out when the form is
// checked or sent.
(function () {
  "use strict";
  var BENGALI = "০১২৩৪৫৬৭৮৯";
  var bengaliPage = document.documentElement.lang === "bn";

  function read(input) {
    // Bengali digits typed on a Bengali keyboard are the same numbers.
    var text = input.value.trim().replace(/[০-৯]/g, function (d) {
      return String(BENGALI.indexOf(d));
    });
    return /^\d{1,7}$/.test(text) ? parseInt(text, 10) : null;
  }

  function show(n) {
    var text = String(n);
    return bengaliPage ? text.replace(/\d/g, function (d) { return BENGALI[d]; }) : text;
  }

  var outputs = document.querySelectorAll("output[data-free]");
  Array.prototype.forEach.call(outputs, function (output) {
    var total = document.getElementById(output.dataset.total);
    var occupied = document.getElementById(output.dataset.occupied);
    var reserved = parseInt(output.dataset.reserved, 10) || 0;
    if (!total || !occupied) return;
    function update() {
      var t = read(total);
      var o = read(occupied);
      if (t === null || o === null) return; // keep the last sensible number while typing
      var free = t - o - reserved;
      output.textContent = show(free);
      output.classList.toggle("census-short-now", free < 0);
    }
    total.addEventListener("input", update);
    occupied.addEventListener("input", update);
  });
})();
