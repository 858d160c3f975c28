// 扫描发货: the scan field keeps the cursor, every answer is heard. The form posts with htmx
// (see templates/console/waybills/scan.html); this file only beeps and puts the cursor back.
// The sounds are made here with the Web Audio API: no audio files, nothing from outside.
(function () {
  "use strict";
  var form = document.getElementById("scan-form");
  var input = document.getElementById("scan-code");
  if (!form || !input) { return; }
  var audio = null;
  var played = 0;

  // [frequency Hz, start s, length s] per note; the wave and the volume per outcome
  var SOUNDS = {
    ok: { wave: "sine", gain: 0.25, notes: [[880, 0, 0.09], [1320, 0.1, 0.14]] },
    found: { wave: "sine", gain: 0.12, notes: [[660, 0, 0.06]] },
    error: { wave: "square", gain: 0.18, notes: [[220, 0, 0.16], [180, 0.2, 0.3]] }
  };

  function play(kind) {
    var sound = SOUNDS[kind];
    if (!sound) { return; }
    played += 1;
    document.body.dataset.scanSound = kind + ":" + played; // what was last heard (tests read it)
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    try {
      audio = audio || new Context();
      if (audio.state === "suspended") { audio.resume(); }
      var now = audio.currentTime;
      sound.notes.forEach(function (note) {
        var osc = audio.createOscillator();
        var volume = audio.createGain();
        osc.type = sound.wave;
        osc.frequency.value = note[0];
        volume.gain.setValueAtTime(0.0001, now + note[1]);
        volume.gain.exponentialRampToValueAtTime(sound.gain, now + note[1] + 0.01);
        volume.gain.exponentialRampToValueAtTime(0.0001, now + note[1] + note[2]);
        osc.connect(volume).connect(audio.destination);
        osc.start(now + note[1]);
        osc.stop(now + note[1] + note[2] + 0.02);
      });
    } catch (err) {
      // no sound device: the banner still says it
    }
  }

  function ready() {
    input.value = "";
    input.focus();
  }

  function inForm(evt) {
    return evt.target === form || form.contains(evt.target);
  }

  document.body.addEventListener("htmx:afterSettle", function (evt) {
    if (!inForm(evt)) { return; }
    var banner = document.querySelector("#scan-result [data-outcome]");
    if (banner) { play(banner.dataset.outcome); }
    ready();
  });

  // the server could not be reached: say so, loud, and wait for the next scan
  document.body.addEventListener("htmx:sendError", function (evt) {
    if (!inForm(evt)) { return; }
    var result = document.getElementById("scan-result");
    var banner = document.createElement("div");
    banner.className = "scan-banner scan-error";
    banner.setAttribute("role", "alert");
    banner.dataset.outcome = "error";
    banner.textContent = form.dataset.offlineMessage;
    result.replaceChildren(banner);
    play("error");
    ready();
  });

  // the cursor stays in the scan field: a click on the page (not on a link or a control)
  // and a key typed anywhere else bring it back, Enter included
  document.addEventListener("click", function (evt) {
    if (!evt.target.closest("a, button, input, select, textarea, label, summary")) { input.focus(); }
  });
  document.addEventListener("keydown", function (evt) {
    if (document.activeElement === input || evt.ctrlKey || evt.metaKey || evt.altKey) { return; }
    if (evt.target.closest && evt.target.closest("a, button, input, select, textarea")) { return; }
    if (evt.key === "Enter") {
      evt.preventDefault();
      input.focus();
      form.requestSubmit();
    } else if (evt.key.length === 1) {
      input.focus(); // the character goes into the field
    }
  });
  window.addEventListener("focus", function () { input.focus(); });
  input.focus();
})();
