// Keyboard-first review: every action has a key (press ? for the list). No inline scripts (CSP).
"use strict";

(function () {
  const body = document.body;
  const help = document.getElementById("help");

  function typing(target) {
    const tag = target && target.tagName;
    if (tag === "TEXTAREA") return true;
    if (tag === "INPUT") {
      const type = (target.type || "").toLowerCase();
      return type !== "radio" && type !== "checkbox" && type !== "button";
    }
    return false;
  }

  function toggleHelp() { help.hidden = !help.hidden; }

  if (body.dataset.page === "index") {
    const input = document.getElementById("reviewer-input");
    document.addEventListener("keydown", (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (typing(ev.target)) {
        if (ev.key === "Escape") ev.target.blur();
        return;
      }
      if (ev.key === "?") { toggleHelp(); ev.preventDefault(); }
      else if (ev.key === "n") {
        ev.preventDefault();
        if (input.value.trim()) document.getElementById("start-form").requestSubmit();
        else input.focus();
      }
    });
    return;
  }
  if (body.dataset.page !== "clip") return;

  const clip = document.getElementById("clip");
  const start = parseFloat(clip.dataset.start);
  const end = parseFloat(clip.dataset.end);
  // source time at the media's t = 0: 0 for the source itself, the clip's start for a cut preview
  const offset = parseFloat(clip.dataset.offset || "0");
  const video = document.getElementById("video");
  const form = document.getElementById("review-form");
  const inBox = document.getElementById("in_s");
  const outBox = document.getElementById("out_s");
  const caption = document.getElementById("caption");
  const message = document.getElementById("form-message");
  const playheadText = document.getElementById("playhead");
  const keep = document.getElementById("segment-keep");
  const dims = Array.from(document.querySelectorAll(".dimension"));
  let current = 0;
  let playhead = start; // mirrors video.currentTime; also works before the media has loaded

  const clamp = (t) => Math.min(end, Math.max(start, t));
  const inPoint = () => (inBox ? parseFloat(inBox.value) : start);
  const outPoint = () => (outBox ? parseFloat(outBox.value) : end);

  function showTrim() {
    if (!inBox) return;
    const a = inPoint(), b = outPoint();
    document.getElementById("trim-length").textContent = `keeps ${(b - a).toFixed(2)} s`;
    const span = end - start;
    keep.style.marginLeft = `${(100 * (a - start)) / span}%`;
    keep.style.width = `${Math.max(0, (100 * (b - a)) / span)}%`;
  }

  function seek(t) {
    playhead = clamp(t);
    if (video && video.readyState > 0) video.currentTime = playhead - offset;
    playheadText.textContent = playhead.toFixed(2);
  }

  if (video) {
    video.addEventListener("loadedmetadata", () => seek(inPoint()));
    video.addEventListener("timeupdate", () => {
      playhead = video.currentTime + offset;
      playheadText.textContent = playhead.toFixed(2);
      if (!video.paused && playhead >= outPoint()) {
        video.pause();
        seek(inPoint());
      }
    });
  }

  function togglePlay() {
    if (!video) return;
    if (video.paused) {
      const now = video.currentTime + offset;
      if (now < inPoint() || now >= outPoint()) seek(inPoint());
      video.play().catch(() => {});
    } else video.pause();
  }

  function focusDim(i) {
    if (!dims.length) return;
    current = (i + dims.length) % dims.length;
    dims.forEach((d, k) => d.classList.toggle("current", k === current));
  }

  function rate(value) {
    const box = dims[current] && dims[current].querySelector(`input[value="${value}"]`);
    if (!box) return;
    box.checked = true;
    message.textContent = "";
    if (current < dims.length - 1) focusDim(current + 1);
  }

  function setPoint(which) {
    const t = playhead.toFixed(2);
    if (which === "in") {
      inBox.value = t;
      if (outPoint() <= playhead) outBox.value = end.toFixed(2);
    } else {
      outBox.value = t;
      if (inPoint() >= playhead) inBox.value = start.toFixed(2);
    }
    showTrim();
  }

  function submit(decision) {
    if (!form) return;
    if (decision === "accept") {
      const missing = dims.filter((d) => !d.querySelector("input:checked"));
      if (missing.length) {
        message.textContent = "Rate every dimension before accepting: " +
          missing.map((d) => d.dataset.dimension.replace(/_/g, " ")).join(", ");
        focusDim(dims.indexOf(missing[0]));
        return;
      }
      if (!(outPoint() > inPoint())) {
        message.textContent = "The out point must come after the in point.";
        return;
      }
    }
    form.requestSubmit(document.getElementById(decision));
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (typing(ev.target)) {
      if (ev.key === "Escape") { ev.target.blur(); ev.preventDefault(); }
      return;
    }
    const step = ev.shiftKey ? 0.1 : 0.5;
    let handled = true;
    switch (ev.key) {
      case " ": togglePlay(); break;
      case "ArrowLeft": seek(playhead - step); break;
      case "ArrowRight": seek(playhead + step); break;
      case "i": if (inBox) setPoint("in"); break;
      case "o": if (outBox) setPoint("out"); break;
      case "I": seek(inPoint()); break;
      case "O": seek(outPoint()); break;
      case "j": case "ArrowDown": focusDim(current + 1); break;
      case "k": case "ArrowUp": focusDim(current - 1); break;
      case "1": case "2": case "3": case "4": case "5": rate(ev.key); break;
      case "e": if (caption) caption.focus(); break;
      case "a": submit("accept"); break;
      case "x": submit("reject"); break;
      case "s": { const skip = document.getElementById("skip"); if (skip) skip.click(); break; }
      case "?": toggleHelp(); break;
      default: handled = false;
    }
    if (handled) ev.preventDefault();
  });

  if (inBox) {
    inBox.addEventListener("input", showTrim);
    outBox.addEventListener("input", showTrim);
  }
  focusDim(0);
  showTrim();
  seek(inPoint());
})();
