/*
 * The transport of a page of videos written by eco_widget (VideoGallery.to_html): one
 * set of controls for every video of the page. Plain JavaScript inlined in the page; it
 * needs no kernel, no module and no network.
 *
 * Play all / Pause all, one timeline from 0 to the longest duration that scrubs every
 * video to the same time (a shorter one to its last frame), ±1 frame at the first
 * video's fps (its `data-fps`), Loop (each video loops at its own end; off, each stops
 * at its own end and the transport shows paused once all have), and a speed. While
 * playing, the longest playing video leads and any other more than one frame off it is
 * put back. Space plays or pauses from the timeline; arrow keys on it step by frames,
 * Home and End go to the start and the end. The videos are muted (so that a browser
 * lets them play together) and lose their own controls while the transport runs.
 *
 * A page of two videos compared (VideoGallery.compare) has a second part, below: the
 * compare view. Other pages leave that part out of their script.
 */
(() => {
  "use strict";

  const bar = document.querySelector("[data-eco-transport]");
  const videos = [...document.querySelectorAll("video[data-eco-video]")];
  if (!bar || !videos.length) return;
  const control = (name) => bar.querySelector(`[data-eco="${name}"]`);
  const playButton = control("play");
  const back = control("back");
  const forward = control("forward");
  const slider = control("time");
  const clock = control("clock");
  const loopButton = control("loop");
  const speed = control("speed");

  let playing = false;
  let loop = true;
  let rate = 1;
  let position = 0; // the transport's time while nothing plays
  let frame = 0; // requestAnimationFrame handle while playing

  const ready = (v) => v.readyState >= 1 && Number.isFinite(v.duration) && v.duration > 0;
  const readyVideos = () => videos.filter(ready);
  const longest = () => Math.max(0, ...readyVideos().map((v) => v.duration));
  const clockText = (seconds) => `${(Math.max(0, seconds) || 0).toFixed(2)} s`;

  /** The first video's fps, else 16 (the API's default). */
  function fps() {
    const given = Number(videos[0].dataset.fps);
    return given > 0 ? given : 16;
  }

  /** The video whose time is the transport's: the longest playing one, else the longest. */
  function leader() {
    const all = readyVideos();
    const moving = all.filter((v) => !v.paused && !v.ended);
    return (moving.length ? moving : all).reduce(
      (best, v) => (!best || v.duration > best.duration + 1e-3 ? v : best), null);
  }

  const now = () => (playing ? leader()?.currentTime ?? position : position);
  /** Where video `v` belongs at transport time `t`. */
  const target = (v, t) => (loop && playing ? t % v.duration : Math.min(t, v.duration));

  function configure(v) {
    v.controls = false;
    v.muted = true;
    v.loop = loop;
    v.defaultPlaybackRate = rate;
    v.playbackRate = rate;
  }

  function start(v) {
    const promise = v.play();
    if (promise) promise.catch(() => {});
  }

  function render() {
    const max = longest();
    const t = Math.min(now(), max);
    slider.max = String(max);
    slider.value = String(t);
    const frames = Math.max(1, Math.round(max * fps()));
    const frameNo = Math.min(Math.floor(t * fps() + 1e-6) + 1, frames);
    slider.setAttribute("aria-valuetext", `${clockText(t)} of ${clockText(max)}, frame ${frameNo}`);
    clock.textContent = `${clockText(t)} / ${clockText(max)}`;
    playButton.textContent = playing ? "Pause all" : "Play all";
    playButton.setAttribute("aria-label", playing ? "Pause all" : "Play all");
    loopButton.setAttribute("aria-pressed", String(loop));
    speed.value = String(rate);
  }

  function follow() {
    frame = 0;
    if (!playing) return;
    render();
    frame = requestAnimationFrame(follow);
  }

  function setPlaying(next) {
    playing = next;
    if (playing && !frame) frame = requestAnimationFrame(follow);
    if (!playing && frame) {
      cancelAnimationFrame(frame);
      frame = 0;
    }
    render();
  }

  function playAll() {
    const all = readyVideos();
    if (!all.length) return;
    let t = now();
    if (t >= longest() - 1e-3) t = 0; // at the end (or every video ended): from the start
    position = t;
    playing = true;
    for (const v of all) {
      configure(v);
      const at = target(v, t);
      if (Math.abs(v.currentTime - at) > 1e-3) v.currentTime = at;
      if (loop || at < v.duration - 1e-3) start(v);
    }
    setPlaying(true);
  }

  function pauseAll() {
    const lead = playing ? leader() : null;
    for (const v of videos) v.pause();
    if (lead) {
      // Every video on the leader's frame.
      position = lead.currentTime;
      for (const v of readyVideos()) if (v !== lead && !v.ended) v.currentTime = target(v, position);
    }
    setPlaying(false);
  }

  /** Every video to time `t` (a shorter one to its last frame); playing ones go on. */
  function seekAll(t) {
    position = Math.min(Math.max(0, t), longest());
    for (const v of readyVideos()) {
      const at = Math.min(position, v.duration);
      v.currentTime = at;
      if (playing && v.paused && (loop || at < v.duration - 1e-3)) start(v);
    }
    render();
  }

  function step(direction) {
    if (playing) pauseAll();
    seekAll(now() + direction / fps());
  }

  /** While playing: put back any video more than a frame off the leader. */
  function sync() {
    const lead = leader();
    if (!lead || lead.paused) return;
    const t = lead.currentTime;
    const tolerance = 1 / fps();
    for (const v of readyVideos()) {
      if (v === lead || v.paused || v.ended) continue;
      const at = target(v, t);
      let drift = Math.abs(v.currentTime - at);
      if (loop) drift = Math.min(drift, v.duration - drift); // across its own loop point
      if (drift > tolerance) v.currentTime = at;
    }
  }

  const toggle = () => (playing ? pauseAll() : playAll());
  playButton.addEventListener("click", toggle);
  back.addEventListener("click", () => step(-1));
  forward.addEventListener("click", () => step(1));
  slider.addEventListener("input", () => seekAll(Number(slider.value)));
  slider.addEventListener("keydown", (event) => {
    const keys = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1, PageDown: -10, PageUp: 10 };
    if (event.key === "Home" || event.key === "End") {
      event.preventDefault();
      if (playing) pauseAll();
      seekAll(event.key === "Home" ? 0 : longest());
      return;
    }
    const direction = keys[event.key];
    if (!direction) return;
    event.preventDefault();
    step(direction);
  });
  loopButton.addEventListener("click", () => {
    loop = !loop;
    for (const v of videos) configure(v);
    render();
  });
  speed.addEventListener("change", () => {
    rate = Number(speed.value) || 1;
    for (const v of videos) configure(v);
    render();
  });
  // Space plays or pauses wherever the focus is in the transport, except on a button or
  // the speed list, where it presses that control.
  bar.addEventListener("keydown", (event) => {
    if (event.key !== " " || event.target.closest("button, select")) return;
    event.preventDefault();
    toggle();
  });

  const onMedia = {
    loadedmetadata(v) {
      configure(v);
      if (playing) {
        v.currentTime = target(v, now());
        start(v);
      } else if (position > 0) {
        v.currentTime = Math.min(position, v.duration);
      }
    },
    timeupdate() {
      if (playing) sync();
    },
    ended() {
      // Without loop each video stops at its own end; once all have, the transport is paused.
      if (playing && readyVideos().every((v) => v.paused || v.ended)) {
        position = longest();
        setPlaying(false);
      }
    },
  };
  for (const v of videos) {
    configure(v);
    for (const type of ["loadedmetadata", "durationchange", "timeupdate", "ended", "seeked"]) {
      v.addEventListener(type, () => {
        onMedia[type]?.(v);
        if (!playing || type !== "timeupdate") render();
      });
    }
  }
  bar.hidden = false;
  render();
})();

/*
 * The compare view: the two videos "Side by side", or overlaid ("Swipe") with the second
 * one clipped (`clip-path: inset(0 0 0 X%)`) right of a split. The split's handle is a
 * slider from 0 to 100: a pointer drags it (anywhere on the videos), arrow keys move it
 * by 1, Shift with an arrow or Page Up/Down by 10, Home and End to the edges. Without
 * scripts the page shows the two videos side by side, each with its own controls.
 */
(() => {
  "use strict";

  const root = document.querySelector("[data-eco-compare]");
  if (!root) return;
  const part = (name) => root.querySelector(`[data-eco="${name}"]`);
  const views = part("views");
  const sideButton = part("side");
  const swipeButton = part("swipe");
  const stage = part("stage");
  const handle = part("split");
  let swipe = false;
  let split = 0.5; // the split's place, as a fraction of the stage's width
  let dragging = null; // the pointer id while dragging the split

  function applySplit() {
    const percent = String(Number((split * 100).toFixed(2)));
    const value = Math.round(split * 100);
    handle.style.left = `${percent}%`;
    handle.setAttribute("aria-valuenow", String(value));
    handle.setAttribute("aria-valuetext", `${value} % of the first video shown`);
    const second = stage.querySelector(".eco-compare-pane--second video");
    if (second) second.style.clipPath = swipe ? `inset(0 0 0 ${percent}%)` : "";
  }

  function setSplit(fraction) {
    split = Math.min(1, Math.max(0, fraction));
    applySplit();
  }

  function setSwipe(on) {
    swipe = on;
    stage.dataset.view = on ? "swipe" : "side";
    sideButton.setAttribute("aria-pressed", String(!on));
    swipeButton.setAttribute("aria-pressed", String(on));
    handle.hidden = !on;
    applySplit();
  }

  sideButton.addEventListener("click", () => setSwipe(false));
  swipeButton.addEventListener("click", () => setSwipe(true));
  const splitAt = (event) => {
    const box = stage.getBoundingClientRect();
    if (box.width > 0) setSplit((event.clientX - box.left) / box.width);
  };
  stage.addEventListener("pointerdown", (event) => {
    if (!swipe || event.button !== 0) return;
    dragging = event.pointerId;
    stage.setPointerCapture?.(event.pointerId);
    splitAt(event);
    handle.focus({ preventScroll: true });
    event.preventDefault();
  });
  stage.addEventListener("pointermove", (event) => {
    if (event.pointerId === dragging) splitAt(event);
  });
  const endDrag = (event) => {
    if (event.pointerId !== dragging) return;
    dragging = null;
    if (stage.hasPointerCapture?.(event.pointerId)) stage.releasePointerCapture(event.pointerId);
  };
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointercancel", endDrag);
  handle.addEventListener("keydown", (event) => {
    const step = event.shiftKey ? 0.1 : 0.01;
    const moves = {
      ArrowLeft: -step, ArrowDown: -step, ArrowRight: step, ArrowUp: step, PageDown: -0.1, PageUp: 0.1,
      Home: -split, End: 1 - split,
    };
    if (!Object.hasOwn(moves, event.key)) return;
    event.preventDefault();
    setSplit(Math.round((split + moves[event.key]) * 1000) / 1000);
  });

  setSwipe(false);
  views.hidden = false;
})();
