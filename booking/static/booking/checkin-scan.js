// Check-in: reads the convocation's QR code with the device camera and the browser's
// BarcodeDetector, fills the code field, and sends the form when the desk is filled in.
// Optional: without JavaScript, a camera or BarcodeDetector, the block stays hidden and the code
// is typed. A static file (the CSP allows no inline script); nothing leaves the browser but the
// form itself.
(function () {
  "use strict";
  var box = document.getElementById("checkin-scan");
  var form = document.getElementById("checkin-form");
  if (!box || !form || !("BarcodeDetector" in window)) return;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;

  var start = box.querySelector("[data-scan-start]");
  var stop = box.querySelector("[data-scan-stop]");
  var status = box.querySelector("[data-scan-status]");
  var video = box.querySelector("video");
  var stream = null;
  var timer = null;

  function end() {
    if (timer) window.clearInterval(timer);
    timer = null;
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    video.srcObject = null;
    video.hidden = true;
    stop.hidden = true;
    start.hidden = false;
  }

  function found(text) {
    end();
    form.elements.code.value = text.trim();
    status.textContent = box.dataset.found;
    if (form.elements.desk.value.trim()) {
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
    } else {
      form.elements.desk.focus();
    }
  }

  function watch(detector) {
    var busy = false;
    timer = window.setInterval(function () {
      if (busy || video.readyState < 2) return;
      busy = true;
      detector.detect(video).then(function (codes) {
        busy = false;
        if (codes.length && stream) found(codes[0].rawValue);
      }).catch(function () { busy = false; });
    }, 250);
  }

  window.BarcodeDetector.getSupportedFormats().then(function (formats) {
    if (formats.indexOf("qr_code") === -1) return;
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    box.hidden = false;
    start.addEventListener("click", function () {
      status.textContent = "";
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
        .then(function (media) {
          stream = media;
          video.srcObject = media;
          video.hidden = false;
          start.hidden = true;
          stop.hidden = false;
          return video.play();
        })
        .then(function () { watch(detector); })
        .catch(function () {
          end();
          status.textContent = box.dataset.denied;
        });
    });
    stop.addEventListener("click", end);
  }).catch(function () { /* no QR support: the code is typed */ });
})();
