// The check-in page (manage/checkin.html): reads a ticket's QR code from the camera or
// from a picture (jsQR, vendored under static/vendor/jsqr), or takes a typed code, and
// sends each scan to the server, which answers what to tell the person at the door.
//
// The venue's network comes and goes, so every scan is first put in a queue kept in
// localStorage and leaves it only once the server has answered it (JSON, 2xx or 4xx).
// A scan that cannot be sent waits on the device and goes when the connection returns
// (the `online` event, a retry that backs off, and a reload of the page). Each scan
// carries an id made here, so a scan that reached the server but whose answer was lost
// is recognised when it is sent again and counted once.
(function () {
  "use strict";

  var root = document.querySelector("[data-checkin]");
  var pageData = document.getElementById("checkin-page");
  if (!root || !pageData) {
    return;
  }
  var page = JSON.parse(pageData.textContent);
  var M = page.messages;
  var QUEUE_KEY = "eventsys.checkin.queue." + page.event;
  var SOUND_KEY = "eventsys.checkin.sound";
  var RETRY_MS = [2000, 4000, 8000, 15000, 30000];
  var SAME_CODE_MS = 4000; // the camera sees a ticket many times a second
  var CAMERA_EDGE = 640; // frames are decoded at most this large (speed on a phone)
  var RECENT_LIMIT = 12;

  var $ = function (id) { return document.getElementById(id); };
  var panel = $("checkin-result");
  var countLine = $("checkin-count");
  var queueLine = $("checkin-queue");
  var recentList = $("checkin-recent");
  var cameraBox = $("checkin-camera");
  var video = $("checkin-video");
  var cameraStatus = $("camera-status");
  var startButton = $("camera-start");
  var stopButton = $("camera-stop");
  var codeForm = $("checkin-code");
  var codeInput = $("checkin-code-input");
  var fileInput = $("checkin-file");
  var soundSwitch = $("checkin-sound");
  var placeForm = $("checkin-place");

  var lastScanId = null; // the scan whose answer the big panel is waiting for
  var flushing = false;
  var failures = 0;
  var retryTimer = null;
  var trouble = null; // null, "offline", "auth" or "server": why the queue is not moving
  var memoryQueue = []; // where the queue lives if the browser keeps no localStorage

  function format(text, n) {
    return String(text).replace("{n}", String(n));
  }

  // The queue ------------------------------------------------------------------------------

  var storage = (function () {
    try {
      window.localStorage.setItem(QUEUE_KEY + ".probe", "1");
      window.localStorage.removeItem(QUEUE_KEY + ".probe");
      return window.localStorage;
    } catch (e) {
      return null;
    }
  })();

  function loadQueue() {
    if (!storage) {
      return memoryQueue.slice();
    }
    try {
      var queue = JSON.parse(storage.getItem(QUEUE_KEY) || "[]");
      return Array.isArray(queue) ? queue : [];
    } catch (e) {
      return [];
    }
  }

  function saveQueue(queue) {
    memoryQueue = queue.slice();
    if (storage) {
      try {
        storage.setItem(QUEUE_KEY, JSON.stringify(queue));
      } catch (e) {
        // Storage full: the scans still wait in memory while the page stays open.
      }
    }
  }

  function enqueue(scan) {
    var queue = loadQueue();
    queue.push(scan);
    saveQueue(queue);
  }

  function dequeue(scanId) {
    saveQueue(loadQueue().filter(function (scan) { return scan.scan_id !== scanId; }));
  }

  function newScanId() {
    if (window.crypto && window.crypto.randomUUID) {
      return window.crypto.randomUUID();
    }
    // randomUUID needs a secure context; a venue's plain-http address is not one.
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) {
      return (b + 0x100).toString(16).slice(1);
    }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20),
            hex.slice(20)].join("-");
  }

  function currentAction() {
    var checked = placeForm.querySelector("input[name=action]:checked");
    return checked && checked.value === "out" ? "out" : "in";
  }

  function scan(code, typed) {
    var item = {
      scan_id: newScanId(),
      code: code,
      session_id: page.sessionId,
      action: currentAction(),
      scanned_at: new Date().toISOString(),
      typed: typed
    };
    enqueue(item);
    lastScanId = item.scan_id;
    showPending(item);
    flush(true);
  }

  // Sending --------------------------------------------------------------------------------

  function flush(now) {
    if (flushing) {
      return;
    }
    var queue = loadQueue();
    showQueue(queue.length);
    if (!queue.length) {
      return;
    }
    if (retryTimer !== null && !now) {
      return; // a retry is already planned
    }
    window.clearTimeout(retryTimer);
    retryTimer = null;
    // The person in front of the desk first, then what waited.
    var item = queue.filter(function (s) { return s.scan_id === lastScanId; })[0] || queue[0];
    flushing = true;
    send(item, false).then(function (sent) {
      flushing = false;
      if (sent) {
        failures = 0;
        trouble = null;
        flush(true);
      } else {
        var left = loadQueue().length;
        showQueue(left);
        if (item.scan_id === lastScanId) {
          showSaved(item, left);
        }
        retryTimer = window.setTimeout(function () {
          retryTimer = null;
          flush(true);
        }, RETRY_MS[Math.min(failures, RETRY_MS.length - 1)]);
        failures += 1;
      }
    });
  }

  // Resolves true when the server answered the scan (it leaves the queue), false when it
  // has to be sent again later.
  function send(item, csrfRetried) {
    return window.fetch(page.scanUrl, {
      method: "POST",
      credentials: "same-origin",
      redirect: "manual", // logged out: the login page's redirect, not the page itself
      cache: "no-store",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRFToken": page.csrfToken },
      body: JSON.stringify({ code: item.code, session_id: item.session_id,
                             action: item.action, scan_id: item.scan_id,
                             scanned_at: item.scanned_at, typed: item.typed })
    }).then(function (response) {
      if (response.type === "opaqueredirect" || response.status === 401 ||
          response.status === 403) {
        trouble = "auth";
        return false;
      }
      var type = response.headers.get("Content-Type") || "";
      if (response.status >= 500 || response.status === 429 ||
          type.indexOf("application/json") !== 0) {
        trouble = "server";
        return false;
      }
      return response.json().then(function (data) {
        if (data.error === "csrf") {
          if (data.csrf_token && !csrfRetried) {
            page.csrfToken = data.csrf_token;
            return send(item, true);
          }
          trouble = "auth";
          return false;
        }
        dequeue(item.scan_id);
        answered(item, data, response.ok);
        return true;
      }, function () {
        trouble = "server";
        return false;
      });
    }, function () {
      trouble = "offline";
      return false;
    });
  }

  function answered(item, data, ok) {
    // The running count is of the place this page shows; a scan kept from another one
    // (sent after the place was changed) says nothing about it.
    if (ok && data.count_label && item.session_id === page.sessionId) {
      countLine.textContent = data.count_label;
    }
    var current = item.scan_id === lastScanId;
    addRecent(item, data, ok, !current || item.waited);
    if (current) {
      if (ok) {
        showResult(data);
        cue(data.tone);
      } else {
        showProblem(data.message);
        cue("stop");
      }
    }
  }

  // What the page shows --------------------------------------------------------------------

  function field(name) {
    return panel.querySelector("[data-result=" + name + "]");
  }

  function setText(name, text) {
    var element = field(name);
    element.textContent = text || "";
    element.hidden = !text;
  }

  function paint(tone, label, values) {
    values = values || {};
    panel.className = "checkin-result tone-" + tone;
    field("label").textContent = label;
    ["name", "name_native", "organisation", "detail", "warning"].forEach(function (name) {
      setText(name, values[name]);
    });
    var photo = field("photo");
    if (values.photo_url) {
      photo.src = values.photo_url;
      photo.alt = values.name || "";
      photo.hidden = false;
    } else {
      photo.hidden = true;
      photo.removeAttribute("src");
    }
  }

  function showPending(item) {
    paint("pending", M.sending, { detail: item.code });
  }

  function showSaved(item, waiting) {
    item.waited = true;
    var queue = loadQueue();
    queue.forEach(function (s) {
      if (s.scan_id === item.scan_id) {
        s.waited = true;
      }
    });
    saveQueue(queue);
    // The big panel says it in three words; the line under the count says the rest.
    if (trouble === "auth") {
      paint("auth", M.loggedOutLabel, { detail: item.code });
    } else {
      paint("saved", M.saved, { detail: item.code });
    }
  }

  function showResult(data) {
    var organisation = [data.organisation, data.country_name].filter(Boolean).join(" · ");
    paint(data.tone, data.label, {
      name: data.name, name_native: data.name_native, organisation: organisation,
      detail: data.detail, warning: data.warning, photo_url: data.photo_url
    });
  }

  function showProblem(message) {
    paint("stop", M.problem, { detail: message });
  }

  function showQueue(waiting) {
    queueLine.textContent = "";
    if (!waiting) {
      queueLine.hidden = true;
      queueLine.className = "checkin-queue";
      return;
    }
    queueLine.hidden = false;
    queueLine.className = "checkin-queue" + (trouble ? " checkin-queue-" + trouble : "");
    if (trouble === "auth") {
      queueLine.appendChild(document.createTextNode(format(M.loggedOut, waiting) + " "));
      var link = document.createElement("a");
      link.href = page.loginUrl;
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = M.logIn;
      queueLine.appendChild(link);
    } else if (trouble === "server") {
      queueLine.textContent = format(M.serverError, waiting);
    } else if (trouble === "offline") {
      queueLine.textContent = format(M.offline, waiting);
    } else {
      queueLine.textContent = format(M.waiting, waiting);
    }
  }

  function clock(when) {
    try {
      return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit",
                                           timeZone: page.timezone });
    } catch (e) {
      return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    }
  }

  function addRecent(item, data, ok, later) {
    var entry = document.createElement("li");
    entry.className = "tone-" + (ok ? data.tone : "stop");
    var when = new Date(item.scanned_at);
    var time = document.createElement("time");
    time.dateTime = item.scanned_at;
    time.textContent = clock(when);
    var label = document.createElement("strong");
    label.textContent = ok ? data.label : M.problem;
    entry.appendChild(time);
    entry.appendChild(document.createTextNode(" "));
    entry.appendChild(label);
    entry.appendChild(document.createTextNode(" · " + (ok && data.name ? data.name : item.code)));
    if (later) {
      var note = document.createElement("small");
      note.textContent = " (" + M.sentLater + ")";
      entry.appendChild(note);
    }
    recentList.insertBefore(entry, recentList.firstChild);
    while (recentList.children.length > RECENT_LIMIT) {
      recentList.removeChild(recentList.lastChild);
    }
    var empty = $("checkin-recent-empty");
    if (empty) {
      empty.hidden = true;
    }
  }

  // Sound and vibration: a short high note to go in, two to look again, three low to stop.
  var audio = null;

  function unlockAudio() {
    if (audio || !soundSwitch.checked) {
      return;
    }
    var Context = window.AudioContext || window.webkitAudioContext;
    if (Context) {
      try {
        audio = new Context();
      } catch (e) {
        audio = null;
      }
    }
  }

  function cue(tone) {
    var pattern = { ok: [[880, 0.12]], warn: [[660, 0.12], [660, 0.12]],
                    stop: [[220, 0.18], [220, 0.18], [220, 0.18]] }[tone];
    if (!pattern) {
      return;
    }
    if (navigator.vibrate && navigator.userActivation && navigator.userActivation.hasBeenActive) {
      navigator.vibrate(tone === "ok" ? 80 : [150, 80, 150]);
    }
    if (!audio || !soundSwitch.checked) {
      return;
    }
    var at = audio.currentTime + 0.01;
    pattern.forEach(function (note) {
      var oscillator = audio.createOscillator();
      var gain = audio.createGain();
      oscillator.frequency.value = note[0];
      gain.gain.value = 0.15;
      oscillator.connect(gain);
      gain.connect(audio.destination);
      oscillator.start(at);
      oscillator.stop(at + note[1]);
      at += note[1] + 0.06;
    });
  }

  // Reading QR codes -----------------------------------------------------------------------

  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });

  function decode(source, width, height, edge, thorough) {
    var scale = Math.min(1, edge / Math.max(width, height));
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    context.drawImage(source, 0, 0, canvas.width, canvas.height);
    var pixels = context.getImageData(0, 0, canvas.width, canvas.height);
    var found = window.jsQR(pixels.data, canvas.width, canvas.height,
                            { inversionAttempts: thorough ? "attemptBoth" : "dontInvert" });
    return found && found.data ? found.data : null;
  }

  var stream = null;
  var lastSeen = { text: null, at: 0 };

  function cameraMessage(text) {
    cameraStatus.textContent = text || "";
  }

  function startCamera() {
    unlockAudio();
    if (!window.isSecureContext || !navigator.mediaDevices ||
        !navigator.mediaDevices.getUserMedia) {
      cameraMessage(M.cameraInsecure);
      return;
    }
    navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 },
               height: { ideal: 720 } }
    }).then(function (media) {
      stream = media;
      video.srcObject = media;
      cameraBox.hidden = false;
      startButton.hidden = true;
      stopButton.hidden = false;
      cameraMessage(M.cameraOn);
      return video.play();
    }).then(function () {
      window.setTimeout(watch, 100);
    }).catch(function () {
      stopCamera();
      cameraMessage(M.cameraDenied);
    });
  }

  function stopCamera() {
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
    }
    stream = null;
    video.srcObject = null;
    cameraBox.hidden = true;
    startButton.hidden = false;
    stopButton.hidden = true;
    cameraMessage("");
  }

  function watch() {
    if (!stream) {
      return;
    }
    if (video.readyState >= 2 && video.videoWidth) {
      var text = null;
      try {
        text = decode(video, video.videoWidth, video.videoHeight, CAMERA_EDGE, false);
      } catch (e) {
        text = null;
      }
      var now = Date.now();
      if (text) {
        var same = text === lastSeen.text && now - lastSeen.at < SAME_CODE_MS;
        lastSeen = { text: text, at: now };
        if (!same) {
          cameraBox.classList.add("checkin-camera-hit");
          window.setTimeout(function () { cameraBox.classList.remove("checkin-camera-hit"); }, 300);
          scan(text, false);
        }
      }
    }
    window.setTimeout(watch, 120);
  }

  function loadPicture(file) {
    if (window.createImageBitmap) {
      return window.createImageBitmap(file).then(function (bitmap) {
        return { source: bitmap, width: bitmap.width, height: bitmap.height };
      });
    }
    // No createImageBitmap: a data: URL (the CSP allows data: images, not blob: ones).
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onerror = reject;
      reader.onload = function () {
        var image = new Image();
        image.onerror = reject;
        image.onload = function () {
          resolve({ source: image, width: image.naturalWidth, height: image.naturalHeight });
        };
        image.src = reader.result;
      };
      reader.readAsDataURL(file);
    });
  }

  function scanPicture(file) {
    unlockAudio();
    cameraMessage(M.reading);
    loadPicture(file).then(function (picture) {
      // Small first (fast, and enough for a screenshot), larger for a photo of a ticket.
      var text = null;
      [800, 1400, 2400].some(function (edge) {
        text = decode(picture.source, picture.width, picture.height, edge, true);
        return text !== null || edge >= Math.max(picture.width, picture.height);
      });
      cameraMessage("");
      if (text) {
        scan(text, false);
      } else {
        paint("pending", M.noQrLabel, { detail: M.noQr });
      }
    }).catch(function () {
      cameraMessage("");
      paint("pending", M.noQrLabel, { detail: M.noQr });
    });
  }

  // Wiring ---------------------------------------------------------------------------------

  placeForm.querySelectorAll("[data-without-script]").forEach(function (button) {
    button.hidden = true;
  });
  $("checkin-session").addEventListener("change", function () {
    placeForm.submit();
  });
  placeForm.querySelectorAll("input[name=action]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      var checked = placeForm.querySelector("input[name=action]:checked");
      root.querySelector("[data-action-label]").textContent =
        checked.parentNode.textContent.trim();
      var url = new URL(window.location.href);
      url.searchParams.set("action", currentAction());
      window.history.replaceState(null, "", url.toString());
    });
  });

  codeForm.addEventListener("submit", function (event) {
    event.preventDefault();
    unlockAudio();
    var code = codeInput.value.trim();
    if (code) {
      scan(code, true);
    }
    codeInput.value = "";
    codeInput.focus();
  });
  fileInput.addEventListener("change", function () {
    if (fileInput.files && fileInput.files[0]) {
      scanPicture(fileInput.files[0]);
    }
    fileInput.value = "";
  });
  startButton.addEventListener("click", startCamera);
  stopButton.addEventListener("click", stopCamera);

  if (storage) {
    soundSwitch.checked = storage.getItem(SOUND_KEY) !== "off";
  }
  soundSwitch.addEventListener("change", function () {
    if (storage) {
      storage.setItem(SOUND_KEY, soundSwitch.checked ? "on" : "off");
    }
    unlockAudio();
  });

  window.addEventListener("online", function () { flush(true); });
  window.setInterval(function () { flush(false); }, 15000);
  // Another tab of this event changed the queue (or sent what this one kept).
  window.addEventListener("storage", function (event) {
    if (event.key === QUEUE_KEY) {
      showQueue(loadQueue().length);
    }
  });
  // Scans kept from before this page was loaded.
  flush(true);
})();
