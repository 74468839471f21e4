// The call inside a consult (templates/telemedicine/_call.html): camera and microphone, a
// WebRTC connection to the other side, audio-only and chat-only modes, the chat, and
// reconnection. Signaling goes over Seba's WebSocket (/ws/consults/{id}/call), opened with a
// one-minute ticket the page asks for first; media goes browser to browser (or via TURN).
//
// Who offers: the doctor, always; the CHO answers. Each page has a session id (sid). When a
// page hears a "hello" or "here" from a sid it has not seen, the other page is new (a reload):
// it starts a fresh connection, and the doctor makes a new offer. A socket that only blinked
// says hello with the same sid, and the media connection carries on untouched.
//
// Degrade, never drop: on a poor link the page pauses video by itself (and brings it back once
// the link has stayed good for longer); "weak network" starts by voice with a small, capped
// picture; without camera or microphone the chat carries the consult.
//
// The words shown are in the page (translated by the server): this file holds none.
(function () {
  "use strict";

  var root = document.getElementById("tele-call");
  if (!root) return;
  var words = {};
  Array.prototype.forEach.call(root.querySelectorAll("#call-words [data-word]"), function (li) {
    words[li.dataset.word] = li.textContent;
  });
  var stateLine = document.getElementById("call-state");
  var problemBox = document.getElementById("call-problem");
  var remoteVideo = document.getElementById("call-remote");
  var localVideo = document.getElementById("call-local");
  var lines = document.getElementById("call-lines");
  var chatForm = document.getElementById("call-chat");
  var chatText = document.getElementById("call-text");
  var retry = document.getElementById("call-retry");
  var modeButtons = root.querySelectorAll("[data-mode]");
  var weakBox = document.getElementById("call-weak");

  function show(key) { stateLine.textContent = words[key] || key; }
  // Why the camera or microphone is not in use stays shown (until they start) while the
  // passing problems of the socket and the chat come and go.
  var mediaProblem = "";
  function problem(text) {
    problemBox.textContent = text || mediaProblem;
    problemBox.hidden = !(text || mediaProblem);
  }
  function setMediaProblem(text) {
    mediaProblem = text || "";
    problem("");
  }

  if (!window.RTCPeerConnection || !window.WebSocket || !window.fetch || !navigator.mediaDevices) {
    show("unsupported");
    return;
  }

  var sid = Math.random().toString(36).slice(2) + Date.now().toString(36);
  var lang = root.dataset.lang || "bn";
  var party = null;
  var iceServers = [];
  var loopbackOnly = false;
  var heartbeatMs = 5000;
  var ws = null;
  var pc = null;
  var senders = {};
  var pendingIce = [];
  var remoteSid = null;
  var stream = null;
  var mode = "video";
  var backoffMs = 1000;
  var stopped = false;
  var peerSeenAt = 0;
  var peerPresent = false;
  var received = { video: 0, audio: 0 };
  var modeReason = null; // why a page chose the mode by itself, null if a person did
  var worker = null; // the server process of the socket (test servers only say)
  var offlineUntil = 0; // test hook: stay off the socket until then

  // "Weak network": the picture a 2G/EDGE link can carry beside the voice.
  var WEAK_MAX_BITRATE = 150000;
  var WEAK_SCALE_DOWN = 2; // 640x360 -> 320x180
  var WEAK_MAX_FPS = 12;
  var WEAK_KEY = "seba.call.weak"; // remembered on this device
  var link = new window.SebaCallLink.Monitor(); // static/call-link.js: when to pause video
  var weak = false;
  try { weak = localStorage.getItem(WEAK_KEY) === "1"; } catch (e) { /* storage off: not remembered */ }

  function send(message) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    message.sid = sid;
    ws.send(JSON.stringify(message));
    return true;
  }

  // --- camera and microphone ---------------------------------------------------------------
  function track(kind) {
    if (!stream) return null;
    var found = kind === "video" ? stream.getVideoTracks() : stream.getAudioTracks();
    return found.length ? found[0] : null;
  }

  function startMedia() {
    setMediaProblem("");
    retry.hidden = true;
    var video = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { max: 24 } };
    return navigator.mediaDevices.getUserMedia({ audio: true, video: video })
      .catch(function (error) {
        // No camera (or it is busy) but a microphone: carry on by voice.
        var name = error && error.name;
        if (name === "NotFoundError" || name === "OverconstrainedError" || name === "NotReadableError") {
          return navigator.mediaDevices.getUserMedia({ audio: true, video: false }).then(function (s) {
            setMediaProblem(name === "NotReadableError" ? words.NotReadableError : words.no_camera);
            return s;
          });
        }
        throw error;
      })
      .then(function (s) {
        stream = s;
        localVideo.srcObject = s;
        if (!track("video") && mode === "video") setMode("audio", true);
        if (pc) attachTracks();
      })
      .catch(function (error) {
        var name = error && error.name;
        setMediaProblem(words[name] || words.media_failed);
        retry.hidden = false;
        // Degrade, never drop: without camera and microphone the chat still carries the consult.
        setMode("text", true);
      });
  }

  retry.addEventListener("click", function () {
    startMedia().then(function () { if (stream) setMode(track("video") && !weak ? "video" : "audio", true); });
  });

  // --- modes -------------------------------------------------------------------------------
  // reason: "weak_link" / "link_better" when the page changed the mode by itself (both sides
  // then say why), absent when a person chose.
  function setMode(next, announce, reason) {
    mode = next;
    // The reason stays on the state line while the mode lasts.
    modeReason = reason || null;
    root.dataset.mode = next;
    Array.prototype.forEach.call(modeButtons, function (b) {
      b.setAttribute("aria-pressed", b.dataset.mode === next ? "true" : "false");
    });
    applyTracks();
    if (peerPresent) show(reason || next);
    if (announce) announceMode();
  }

  function announceMode() {
    var message = { type: "mode", mode: mode };
    if (modeReason) message.reason = modeReason;
    send(message);
  }

  // What the state line says while the call runs.
  function callState() {
    if (!pc || pc.connectionState !== "connected") return "connecting";
    return modeReason || mode;
  }

  // "Weak network": a small picture at a capped bitrate (the first encoding carries it all).
  function capVideo() {
    var sender = senders.video;
    if (!sender || !sender.getParameters) return;
    var params = sender.getParameters();
    if (!params.encodings || !params.encodings.length) return; // not negotiated yet: done on connect
    var e = params.encodings[0];
    if (weak) {
      e.maxBitrate = WEAK_MAX_BITRATE;
      e.scaleResolutionDownBy = WEAK_SCALE_DOWN;
      e.maxFramerate = WEAK_MAX_FPS;
    } else {
      delete e.maxBitrate;
      delete e.maxFramerate;
      e.scaleResolutionDownBy = 1;
    }
    sender.setParameters(params).catch(function () { /* retried on the next connect */ });
  }

  weakBox.checked = weak;
  weakBox.addEventListener("change", function () {
    weak = weakBox.checked;
    try { localStorage.setItem(WEAK_KEY, weak ? "1" : "0"); } catch (e) { /* not remembered */ }
    capVideo();
    if (weak && mode === "video") setMode("audio", true, "weak_link");
  });

  // Audio only sends no video at all (no black frames), so the record sees video stop.
  function applyTracks() {
    if (senders.video) senders.video.replaceTrack(mode === "video" ? track("video") : null);
    if (senders.audio) senders.audio.replaceTrack(mode === "text" ? null : track("audio"));
  }

  Array.prototype.forEach.call(modeButtons, function (b) {
    b.addEventListener("click", function () {
      var wanted = b.dataset.mode;
      link.chosenByHand(wanted);
      if (wanted !== "text" && !stream) {
        startMedia().then(function () { if (stream) setMode(wanted === "video" && !track("video") ? "audio" : wanted, true); });
        return;
      }
      setMode(wanted === "video" && !track("video") ? "audio" : wanted, true);
    });
  });

  // --- the peer connection -----------------------------------------------------------------
  function allowed(candidate) {
    if (!loopbackOnly || !candidate) return true;
    // "candidate:<foundation> <component> <protocol> <priority> <address> <port> typ ..."
    var text = typeof candidate === "string" ? candidate : candidate.candidate || "";
    var parts = text.split(" ");
    return parts.length > 4 && parts[4] === "127.0.0.1";
  }

  function attachTracks() {
    ["audio", "video"].forEach(function (kind) {
      var t = track(kind);
      if (senders[kind]) return;
      if (t) senders[kind] = pc.addTrack(t, stream);
    });
    applyTracks();
  }

  function newConnection() {
    if (pc) pc.close();
    senders = {};
    pendingIce = [];
    pc = new RTCPeerConnection({ iceServers: iceServers });
    // Always ask for both kinds, so a side without a camera still sees and hears the other.
    ["audio", "video"].forEach(function (kind) {
      var t = track(kind);
      if (t) senders[kind] = pc.addTrack(t, stream);
      else senders[kind] = pc.addTransceiver(kind, { direction: "sendrecv" }).sender;
    });
    applyTracks();
    pc.ontrack = function (event) {
      remoteVideo.srcObject = event.streams && event.streams[0] ? event.streams[0] : new MediaStream([event.track]);
    };
    pc.onicecandidate = function (event) {
      if (event.candidate && allowed(event.candidate)) send({ type: "ice", candidate: event.candidate.toJSON() });
    };
    pc.onconnectionstatechange = function () {
      var state = pc.connectionState;
      if (state === "connected") {
        root.dataset.peer = "connected";
        capVideo();
        show(callState());
      } else if (state === "disconnected" || state === "failed") {
        root.dataset.peer = "reconnecting";
        show("peer_reconnecting");
        if (state === "failed" && party === "doctor") offer(true);
      }
    };
  }

  function offer(restart) {
    if (!pc) newConnection();
    pc.createOffer(restart ? { iceRestart: true } : {})
      .then(function (o) { return pc.setLocalDescription(o); })
      .then(function () { send({ type: "offer", sdp: pc.localDescription.sdp }); capVideo(); })
      .catch(function () {});
  }

  function flushIce() {
    var waiting = pendingIce;
    pendingIce = [];
    waiting.forEach(function (c) { pc.addIceCandidate(c).catch(function () {}); });
  }

  function peerIsNew(otherSid) {
    if (otherSid === remoteSid && pc) return false;
    remoteSid = otherSid;
    newConnection();
    return true;
  }

  function onPeerSeen() {
    peerSeenAt = Date.now();
    if (!peerPresent) {
      // Back (or here for the first time): the media connection may have carried on meanwhile.
      peerPresent = true;
      root.dataset.peer = pc && pc.connectionState === "connected" ? "connected" : "connecting";
      show(callState());
    }
  }

  // --- messages from the other side --------------------------------------------------------
  function addLine(line) {
    var li = document.createElement("li");
    if (line.party === party) li.className = "mine";
    var who = document.createElement("strong");
    who.textContent = (words[line.party] || line.party) + ": ";
    li.appendChild(who);
    li.appendChild(document.createTextNode(line.body));
    li.dataset.id = line.id;
    lines.appendChild(li);
    lines.scrollTop = lines.scrollHeight;
  }

  var handlers = {
    welcome: function (m) {
      party = m.party;
      worker = m.worker || null;
      heartbeatMs = (m.heartbeat_s || 5) * 1000;
      lines.innerHTML = "";
      m.chat.forEach(addLine);
      // Our own socket is back: say where the call stands, not "reconnecting".
      show(peerPresent ? callState() : "waiting");
    },
    peer: function (m) {
      if (m.state === "left") {
        peerPresent = false;
        root.dataset.peer = "reconnecting";
        show("peer_reconnecting");
      }
    },
    hello: function (m) {
      onPeerSeen();
      var fresh = peerIsNew(m.sid);
      send({ type: "here" });
      if (mode !== "video") announceMode();
      if (fresh && party === "doctor") offer(false);
    },
    here: function (m) {
      onPeerSeen();
      if (peerIsNew(m.sid) && party === "doctor") offer(false);
    },
    offer: function (m) {
      onPeerSeen();
      peerIsNew(m.sid);
      pc.setRemoteDescription({ type: "offer", sdp: m.sdp })
        .then(function () { flushIce(); return pc.createAnswer(); })
        .then(function (a) { return pc.setLocalDescription(a); })
        .then(function () { send({ type: "answer", sdp: pc.localDescription.sdp }); capVideo(); })
        .catch(function () {});
    },
    answer: function (m) {
      if (!pc || m.sid !== remoteSid) return;
      pc.setRemoteDescription({ type: "answer", sdp: m.sdp }).then(flushIce).catch(function () {});
    },
    ice: function (m) {
      if (!pc || m.sid !== remoteSid || !m.candidate || !allowed(m.candidate)) return;
      if (pc.remoteDescription) pc.addIceCandidate(m.candidate).catch(function () {});
      else pendingIce.push(m.candidate);
    },
    mode: function (m) {
      // Both sides change together: audio only on one side is audio only on both.
      if (m.mode === "video" && !track("video")) return;
      if (!m.reason) link.chosenByHand(m.mode);
      else if (m.mode === "video") link.paused = false;
      setMode(m.mode, false, m.reason);
    },
    chat: function (m) {
      if (!lines.querySelector('[data-id="' + m.id + '"]')) addLine(m);
    },
    heartbeat: function () { onPeerSeen(); },
    error: function (m) { problem(m.message); }
  };

  // --- the signaling socket ----------------------------------------------------------------
  function ticket() {
    var body = new FormData();
    body.append("csrf", root.dataset.csrf);
    return fetch(root.dataset.ticketUrl, { method: "POST", body: body, credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 404 || r.status === 409 || r.status === 403) {
          stopped = true;
          return r.json().then(function (b) { throw new Error(b.error ? b.error.message : words.refused); });
        }
        if (!r.ok) throw new Error(words.ticket_failed);
        return r.json();
      });
  }

  function reconnectLater() {
    if (stopped) return;
    setTimeout(connect, backoffMs);
    // 1, 2, 4, 8, 15, 15… seconds: a village network comes back, a server under load recovers.
    backoffMs = Math.min(backoffMs * 2, 15000);
  }

  function connect() {
    if (Date.now() < offlineUntil) {
      setTimeout(connect, offlineUntil - Date.now());
      return;
    }
    // A fresh ticket every time: the last one has likely expired (they live a minute).
    ticket().then(function (pass) {
      iceServers = pass.ice_servers;
      loopbackOnly = pass.loopback_only;
      var scheme = location.protocol === "https:" ? "wss:" : "ws:";
      var url = scheme + "//" + location.host + pass.ws_path + "?ticket=" + encodeURIComponent(pass.ticket) + "&lang=" + lang;
      ws = new WebSocket(url);
      ws.onopen = function () {
        backoffMs = 1000;
        problem("");
        send({ type: "hello" });
        if (mode !== "video") announceMode();
      };
      ws.onmessage = function (event) {
        var message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        var handler = handlers[message.type];
        if (handler) handler(message);
      };
      ws.onclose = function (event) {
        ws = null;
        if (event.code === 4403) {
          stopped = true;
          problem(words.refused);
        } else if (event.code === 4409) {
          stopped = true;
          if (pc) pc.close();
          problem(words.ended);
        } else {
          show("reconnecting");
          reconnectLater();
        }
      };
    }).catch(function (error) {
      if (stopped) {
        problem(error.message);
        return;
      }
      show("reconnecting");
      reconnectLater();
    });
  }

  chatForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = chatText.value.trim();
    if (!text) return;
    if (send({ type: "chat", body: text })) {
      chatText.value = "";
      problem("");
    } else {
      problem(words.not_sent);
    }
  });

  // The heartbeat: what this browser has received and sent (the server records the modes from
  // it, the CHO's sent video vouching for the doctor's received video), and a sign of life.
  // The same getStats gives the link's quality.
  function readStats() {
    var out = { received: received, sent: { video: 0, audio: 0 }, quality: null };
    if (!pc) return Promise.resolve(out);
    return pc.getStats().then(function (report) {
      var got = { video: 0, audio: 0 };
      report.forEach(function (s) {
        if (s.type === "inbound-rtp" && got.hasOwnProperty(s.kind)) {
          got[s.kind] += s.bytesReceived || 0;
        } else if (s.type === "outbound-rtp" && out.sent.hasOwnProperty(s.kind)) {
          out.sent[s.kind] += s.bytesSent || 0;
        }
      });
      received = got;
      out.received = got;
      out.quality = window.SebaCallLink.quality(report);
      return out;
    });
  }

  function countReceived() {
    return readStats().then(function (stats) { return stats.received; });
  }

  // The monitor's call goes through setMode with announce, as the "Audio only" button does: the
  // other side switches too and the server's record follows.
  function judge(q) {
    if (!q || !pc || pc.connectionState !== "connected") return;
    var action = link.judge(q, mode, weak);
    if (action === "pause") setMode("audio", true, "weak_link");
    else if (action === "resume") setMode("video", true, "link_better");
  }

  function beat() {
    readStats().then(function (stats) {
      send({ type: "heartbeat", received: stats.received, sent: stats.sent });
      judge(stats.quality);
    }).catch(function () {}).then(function () {
      // (Only while our own socket is up: otherwise the silence is ours, and the page says so.)
      if (ws && peerPresent && Date.now() - peerSeenAt > 3 * heartbeatMs) {
        peerPresent = false;
        root.dataset.peer = "reconnecting";
        show("peer_reconnecting");
      }
      if (!stopped) setTimeout(beat, heartbeatMs);
    });
  }

  // For the browser tests: what has arrived, the mode, the video cap (read-only).
  window.sebaCall = {
    received: countReceived,
    mode: function () { return mode; },
    connection: function () { return pc ? pc.connectionState : "none"; },
    worker: function () { return worker; },
    videoCap: function () {
      var p = senders.video && senders.video.getParameters();
      var e = p && p.encodings && p.encodings[0];
      return e ? { maxBitrate: e.maxBitrate || null, scaleResolutionDownBy: e.scaleResolutionDownBy || 1 } : null;
    }
  };
  // Only on a test server (SEBA_CALL_TEST_HOOKS): drop the socket and stay off it for a while;
  // feed the link monitor "poor" (or "good") samples instead of measured ones (null: measure).
  if (root.dataset.testHooks === "on") {
    window.sebaCall.dropSocket = function (offlineMs) {
      offlineUntil = Date.now() + (offlineMs || 0);
      worker = null;
      if (ws) ws.close();
    };
    window.sebaCall.simulateLink = function (verdictOrNull) { link.forced = verdictOrNull; };
  }

  // A weak-network start: by voice first, the picture capped once the person turns it on.
  setMode(weak ? "audio" : "video", false, weak ? "weak_link" : null);
  show("connecting");
  startMedia().then(function () {
    connect();
    setTimeout(beat, heartbeatMs);
  });
})();
