// The call's link monitor (static/call.js uses it): from the getStats report taken at each
// heartbeat, whether the link is poor enough to pause video, and when it has been good long
// enough to bring it back. Hysteresis twice over: "poor" and "good" thresholds leave a gap
// between them, and it takes more good samples to resume than poor ones to pause, so the call
// does not flap between modes. No page, no words: the page decides what to show.
(function () {
  "use strict";

  // One sample a heartbeat (5 s in production). A link is poor if any one of these holds:
  var POOR_RTT_S = 0.5; // half a second round trip: video freezes and lags the voice
  var POOR_LOSS = 0.08; // 8% of packets lost: video breaks up; Opus voice still carries
  var POOR_BITRATE = 150000; // less than the smallest useful picture plus the voice
  // and good only if all of these hold:
  var GOOD_RTT_S = 0.3;
  var GOOD_LOSS = 0.02;
  var GOOD_BITRATE = 400000;
  // Pause after 3 poor samples in a row (15 s: one bad sample is a blip, not a link); bring video
  // back only after 12 good ones (a minute: going back and forth is worse than either mode).
  var POOR_SAMPLES = 3;
  var GOOD_SAMPLES = 12;
  // Fewer packets than this between two samples say nothing about loss.
  var MIN_PACKETS = 20;

  // The link's numbers in one getStats report: the selected candidate pair's round trip and
  // estimated outgoing bandwidth, and the packets received and lost so far (all kinds).
  function quality(report) {
    var pair = null;
    var q = { rtt: null, bitrate: null, lost: 0, packets: 0 };
    report.forEach(function (s) {
      if (s.type === "inbound-rtp") {
        q.lost += s.packetsLost || 0;
        q.packets += s.packetsReceived || 0;
      } else if (s.type === "transport" && s.selectedCandidatePairId) {
        pair = report.get(s.selectedCandidatePairId) || pair;
      } else if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded" && !pair) {
        pair = s;
      }
    });
    if (pair) {
      if (typeof pair.currentRoundTripTime === "number") q.rtt = pair.currentRoundTripTime;
      if (typeof pair.availableOutgoingBitrate === "number") q.bitrate = pair.availableOutgoingBitrate;
    }
    return q;
  }

  // paused: this page paused video itself (and may bring it back). held: a person chose video
  // on a poor link, so it is not paused again until the link has been good for a while.
  // forced: a test server's hook feeds "poor" or "good" instead of measuring.
  function Monitor() {
    this.poor = 0;
    this.good = 0;
    this.paused = false;
    this.held = false;
    this.last = null;
    this.forced = null;
  }

  // "poor", "good" or "fair" (in between: both runs start again). Bandwidth counts only while
  // sending video uncapped: audio alone needs little, a weak-network picture is capped already.
  Monitor.prototype.verdict = function (q, uncappedVideo) {
    var before = this.last;
    this.last = q;
    if (this.forced) return this.forced;
    var loss = null;
    if (before) {
      var lost = Math.max(0, q.lost - before.lost);
      var arrived = Math.max(0, q.packets - before.packets);
      if (lost + arrived >= MIN_PACKETS) loss = lost / (lost + arrived);
    }
    var rate = uncappedVideo ? q.bitrate : null;
    if ((q.rtt !== null && q.rtt > POOR_RTT_S) || (loss !== null && loss > POOR_LOSS) ||
        (rate !== null && rate < POOR_BITRATE)) return "poor";
    if (q.rtt !== null && q.rtt <= GOOD_RTT_S && (loss === null || loss <= GOOD_LOSS) &&
        (rate === null || rate >= GOOD_BITRATE)) return "good";
    return "fair";
  };

  // One sample, with the call's mode: "pause" (video -> audio), "resume" (audio -> video) or null.
  Monitor.prototype.judge = function (q, mode, weak) {
    var v = this.verdict(q, mode === "video" && !weak);
    this.poor = v === "poor" ? this.poor + 1 : 0;
    this.good = v === "good" ? this.good + 1 : 0;
    if (this.good >= GOOD_SAMPLES) this.held = false;
    if (mode === "video" && !this.held && this.poor >= POOR_SAMPLES) {
      this.paused = true;
      this.poor = 0;
      return "pause";
    }
    if (mode === "audio" && this.paused && this.good >= GOOD_SAMPLES) {
      this.paused = false;
      return "resume";
    }
    return null;
  };

  // A person (here or on the other side) chose a mode: the page stops second-guessing.
  Monitor.prototype.chosenByHand = function (mode) {
    this.paused = false;
    if (mode === "video") this.held = true;
  };

  window.SebaCallLink = { Monitor: Monitor, quality: quality };
})();
