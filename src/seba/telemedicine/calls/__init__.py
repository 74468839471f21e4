"""The call inside a consult: WebRTC signaling between the consult's doctor and its CHO, the
tickets that let them in, the ICE servers they use, and the record of the modes really used
(video, audio, text) that the prescription rules read. ``docs/telemedicine.md`` "The call"."""
