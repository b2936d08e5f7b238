/**
 * A test bench for static/widget.js without a kernel: a fake anywidget model, views
 * mounted into a notebook-like page, and a scripted "kernel" that answers the view's
 * messages as PROTOCOL.md says: every generate, stop and resume request gets one
 * `{type: "answer", request, ok, ...}`, accepted unless a test called `refuse()`, at once
 * unless a test called `hold()`. Tests drive it through `window.harness`; open
 * `index.html?demo` by hand to play with a simulated kernel.
 */
import widget from "/static/widget.js";

/** Blob URLs made and revoked by the page, in order. */
const blobs = { created: [], revoked: [] };
const createObjectURL = URL.createObjectURL.bind(URL);
const revokeObjectURL = URL.revokeObjectURL.bind(URL);
URL.createObjectURL = (object) => {
  const url = createObjectURL(object);
  blobs.created.push(url);
  return url;
};
URL.revokeObjectURL = (url) => {
  blobs.revoked.push(url);
  revokeObjectURL(url);
};

/** Intervals the page has running (the widget must clear its own on cleanup). */
const intervals = new Set();
const setInterval_ = window.setInterval.bind(window);
const clearInterval_ = window.clearInterval.bind(window);
window.setInterval = (handler, ms, ...args) => {
  const id = setInterval_(handler, ms, ...args);
  intervals.add(id);
  return id;
};
window.clearInterval = (id) => {
  intervals.delete(id);
  clearInterval_(id);
};

/**
 * The `limits` trait as eco_widget/notebook/_form.py builds it, for the demo page: the
 * tests pass Python's own, and test_widget_harness.py checks that this copy is the same.
 */
const LIMITS = {
  num_frames: {
    min: 1, max: 81, step: 1, default: 33, kind: "int", label: "Frames",
    help: "frames to generate (33 at 16 fps ≈ 2 s)",
  },
  fps: {
    min: 1, max: 60, step: 1, default: 16, kind: "int", label: "FPS",
    help: "playback frame rate",
  },
  num_inference_steps: {
    min: 20, max: 80, step: 1, default: 50, kind: "int", label: "Steps",
    help: "more steps: better, slower",
  },
  guidance_scale: {
    min: 0.0, max: 20.0, step: 0.1, default: 5.0, kind: "float", label: "Guidance",
    help: "how literally to follow the prompt",
  },
  seed: {
    min: 0, max: 4294967295, step: 1, default: null, kind: "int", label: "Seed",
    help: "same seed and parameters, same video",
  },
  prompt: { max_chars: 2000 },
  phases: {
    waiting: "Waiting for a free slot",
    resuming: "Looking up the job",
    submitting: "Submitting",
    queued: "Queued",
    processing: "Processing",
    downloading: "Downloading",
    completed: "Completed",
    failed: "Failed",
    stopped: "Stopped waiting",
    error: "Error",
  },
  tallies: {
    completed: "completed",
    running: "running",
    waiting: "waiting for a slot",
    failed: "failed",
    stopped: "stopped",
  },
  pending_statuses: {
    queued: "queued",
    processing: "processing",
    completed: "done, not downloaded yet",
  },
};

const clone = (value) => (value === undefined ? undefined : structuredClone(value));
/** The messages that carry a request id and get an answer. */
const REQUESTS = ["generate", "stop", "resume"];

/** anywidget's model as a view sees it: get/set/save_changes/on/off/send. */
class FakeModel {
  constructor(state) {
    this.state = clone(state);
    this.handlers = new Map();
    this.sent = [];
    this.saves = [];
    this.unsaved = new Set();
    this.onSend = null;
  }

  get(name) {
    return this.state[name];
  }

  /** Like Backbone: a set from the view fires its own change event at once. */
  set(name, value) {
    if (Object.is(this.state[name], value)) return;
    this.state[name] = value;
    this.unsaved.add(name);
    this.emit(`change:${name}`, value);
  }

  save_changes() {
    const changes = {};
    for (const name of this.unsaved) changes[name] = clone(this.state[name]);
    this.unsaved.clear();
    this.saves.push(changes);
  }

  on(event, handler) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event).add(handler);
  }

  off(event, handler) {
    if (event == null) this.handlers.clear();
    else if (handler == null) this.handlers.delete(event);
    else this.handlers.get(event)?.delete(handler);
  }

  send(content, _callbacks, buffers) {
    this.sent.push(clone(content));
    queueMicrotask(() => this.onSend?.(content, buffers));
  }

  emit(event, ...args) {
    for (const handler of [...(this.handlers.get(event) ?? [])]) handler(...args);
  }

  /** A change made by the kernel. */
  pyset(name, value) {
    this.state[name] = clone(value);
    this.emit(`change:${name}`, this.state[name]);
  }

  /** A trait set in Python: like traitlets, an equal value changes nothing. */
  pysetIfChanged(name, value) {
    if (JSON.stringify(this.state[name]) === JSON.stringify(value ?? null)) return;
    this.pyset(name, value);
  }

  /** A custom message from the kernel. */
  reply(content, buffers = []) {
    this.emit("msg:custom", content, buffers);
  }

  listenerCount() {
    let count = 0;
    for (const set of this.handlers.values()) count += set.size;
    return count;
  }
}

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || "video";
}

/** A complete run object (PROTOCOL.md) from a few fields. */
function makeRun(fields = {}) {
  const phase = fields.phase ?? "queued";
  const active = ["waiting", "resuming", "submitting", "queued", "processing", "downloading"].includes(phase);
  const prompt = fields.prompt ?? "a red balloon drifting over a calm sea at dawn";
  const seed = "seed" in fields ? fields.seed : 1234;
  const numFrames = fields.num_frames ?? 33;
  const fps = fields.fps ?? 16;
  const completed = phase === "completed";
  const filename = `${slug(prompt)}-s${seed}.mp4`;
  const labels = { waiting: "Waiting for a free slot (5 jobs running)", resuming: "Looking up the job" };
  return {
    key: "r1",
    job_id: phase === "waiting" || phase === "submitting" ? null : "vid_0123456789abcdef01234567",
    phase,
    phase_label: null,
    active,
    fraction: completed ? 1 : 0,
    estimated: true,
    started_at: Date.now() - 4000,
    eta_seconds: active ? 20 : null,
    eta_at: active ? Date.now() : null,
    elapsed_seconds: 4,
    prompt,
    seed,
    num_frames: numFrames,
    fps,
    num_inference_steps: 50,
    guidance_scale: 5,
    duration_seconds: numFrames / fps,
    queue_seconds: completed ? 1.2 : null,
    render_seconds: completed ? 3.4 : null,
    total_seconds: completed ? 4.9 : null,
    video: completed ? { size: 48213, filename, saved_path: `/home/user/.local/share/ecohash/videos/${filename}` } : null,
    error: null,
    note: null,
    ...fields,
    phase_label: fields.phase_label ?? labels[phase] ?? phase[0].toUpperCase() + phase.slice(1),
  };
}

const output = document.getElementById("output");

const harness = {
  LIMITS,
  blobs,
  intervals,
  model: null,
  views: [],
  mp4: null,
  /** Run key → MP4 bytes that run's video replies carry instead of `mp4`. */
  mp4s: {},
  /** Answer `{type: "video"}` requests by itself (with `mp4`, or video_missing). */
  autoReply: true,
  videoDelayMs: 0,
  /** `simulateKernel()`'s handler of requests: it returns the fields of an accepting answer. */
  simulation: null,
  /** Request type → `{param, message, trait}`: the kernel refuses such requests. */
  refusals: {},
  /** While true, requests wait in `held` (a busy kernel) until `release()`. */
  holding: false,
  held: [],
  /** Every answer the kernel sent, in order. */
  answers: [],
  runCount: 0,

  defaultState() {
    return {
      prompt: "", num_frames: 33, fps: 16, num_inference_steps: 50, guidance_scale: 5, seed: null,
      limits: clone(LIMITS), form_error: null, runs: [], backend: "sandbox", max_active: 5,
      pending: [], mode: "form", sweep_layout: null,
    };
  },

  /** A fresh model with `state` over the defaults, and one view of it. */
  mount(state = {}) {
    this.unmountAll();
    Object.assign(this, { simulation: null, refusals: {}, holding: false, held: [], answers: [], runCount: 0, mp4s: {} });
    this.model = new FakeModel({ ...this.defaultState(), ...state });
    this.model.onSend = (content) => this.kernel(content);
    return this.addView();
  },

  /** Another view of the same model (as a second output of the widget would be). */
  addView() {
    const el = document.createElement("div");
    el.className = "harness-view";
    output.append(el);
    const cleanup = widget.render({ model: this.model, el });
    this.views.push({ el, cleanup });
    return this.views.length - 1;
  },

  /** Remove view `index` the way a front end does: call its cleanup, drop its element. */
  unmount(index = 0) {
    const view = this.views[index];
    if (!view) return;
    if (typeof view.cleanup === "function") view.cleanup();
    view.el.remove();
    this.views[index] = null;
  },

  unmountAll() {
    this.views.forEach((_, index) => this.unmount(index));
    this.views = [];
  },

  get sent() {
    return this.model ? this.model.sent : [];
  },

  makeRun,

  /** Set the `runs` trait from partial runs (newest first). */
  setRuns(runs) {
    this.model.pyset("runs", runs.map((run) => makeRun(run)));
  },

  async loadMp4(url = "/sample.mp4") {
    const response = await fetch(url);
    this.mp4 = new Uint8Array(await response.arrayBuffer());
    return this.mp4.byteLength;
  },

  /** Give run `key` a video of its own (from `url`), e.g. one of another length. */
  async loadMp4For(key, url) {
    const response = await fetch(url);
    this.mp4s[key] = new Uint8Array(await response.arrayBuffer());
    return this.mp4s[key].byteLength;
  },

  /**
   * A gallery sweep: `axes` ([{name, label, values}], the first varying fastest) and one
   * run per combination, keyed `r1`, `r2`, … in that order. `omit`: combination indices
   * with no run in `runs`; `started`: how many keys `sweep.runs` lists (all by default).
   * Sets `runs` (newest first) and `sweep`.
   */
  setSweep(axes, { omit = [], started = null, phase = "completed" } = {}) {
    const total = axes.reduce((n, axis) => n * axis.values.length, 1);
    const runs = [];
    const keys = [];
    for (let i = 0; i < total; i += 1) {
      const fields = { key: `r${i + 1}`, phase };
      let rest = i;
      for (const axis of axes) {
        fields[axis.name] = axis.values[rest % axis.values.length];
        rest = Math.floor(rest / axis.values.length);
      }
      keys.push(fields.key);
      if (!omit.includes(i)) runs.push(makeRun(fields));
    }
    this.model.pyset("runs", runs.reverse());
    this.model.pyset("sweep_layout", { axes, runs: keys.slice(0, started ?? total) });
  },

  kernel(content) {
    if (content?.type === "video" && this.autoReply) {
      setTimeout(() => this.replyVideo(content.key), this.videoDelayMs);
    }
    if (!REQUESTS.includes(content?.type)) return;
    if (this.holding) this.held.push(clone(content));
    else this.handle(content);
  },

  /**
   * Refuse the requests of `type` ("generate", "stop" or "resume") from now on, with
   * `message` about `param` (a form field or null). A refused generate sets the
   * `form_error` trait first, as Python does, unless `trait` is false.
   */
  refuse(type, message, param = null, { trait = true } = {}) {
    this.refusals[type] = { message, param, trait };
  },

  /** Accept the requests of `type` again. */
  accept(type) {
    delete this.refusals[type];
  },

  /** Keep the requests from now on unanswered (a busy kernel). */
  hold() {
    this.holding = true;
  },

  /** Answer the held requests, in order, and stop holding; returns how many. */
  release() {
    this.holding = false;
    const held = this.held.splice(0);
    for (const content of held) this.handle(content);
    return held.length;
  },

  /** An answer from the kernel, as every view receives it. */
  answer(request, fields) {
    const answer = { type: "answer", request, ...fields };
    this.answers.push(answer);
    this.model.reply(answer);
  },

  /** Do what the kernel does with one request, and answer it. */
  handle(content) {
    const refusal = this.refusals[content.type];
    if (refusal) {
      const error = { param: refusal.param ?? null, message: refusal.message };
      if (content.type === "generate" && refusal.trait) this.model.pysetIfChanged("form_error", error);
      this.answer(content.request, { ok: false, ...error });
      return;
    }
    if (content.type === "generate") this.model.pysetIfChanged("form_error", null);
    const simulated = this.simulation?.(content);
    if (simulated) this.answer(content.request, { ok: true, ...simulated });
    else if (content.type === "generate") this.answer(content.request, { ok: true, run: `r${++this.runCount}` });
    else if (content.type === "stop") this.answer(content.request, { ok: true, run: content.key });
    else {
      const runs = (this.model.get("pending") || []).map(() => `r${++this.runCount}`);
      this.answer(content.request, { ok: true, runs });
    }
  },

  /** Send the MP4 for run `key` as the kernel does: a DataView in buffers[0]. */
  replyVideo(key) {
    const run = (this.model.get("runs") || []).find((r) => r.key === key);
    const mp4 = this.mp4s[key] ?? this.mp4;
    if (!run || !mp4) {
      this.model.reply({ type: "video_missing", key, message: "No video for this run." });
      return;
    }
    // A DataView over a larger buffer, at an offset, as ipywidgets hands them over.
    const padded = new Uint8Array(mp4.byteLength + 16);
    padded.set(mp4, 8);
    const filename = run.video?.filename ?? `${key}.mp4`;
    const view = new DataView(padded.buffer, 8, mp4.byteLength);
    this.model.reply({ type: "video", key, filename, mime: "video/mp4" }, [view]);
  },

  /** "light" or "dark" (JupyterLab), or "plain"/"plain-dark" (no --jp-* variables). */
  setTheme(theme) {
    const body = document.body;
    if (theme === "light" || theme === "dark") {
      body.dataset.jpThemeLight = String(theme === "light");
      body.dataset.jpThemeName = theme === "light" ? "JupyterLab Light" : "JupyterLab Dark";
      document.documentElement.style.colorScheme = "";
    } else {
      delete body.dataset.jpThemeLight;
      delete body.dataset.jpThemeName;
      document.documentElement.style.colorScheme = theme === "plain-dark" ? "dark" : "light";
    }
  },

  /** The output area's width in CSS pixels. */
  setWidth(px) {
    output.style.setProperty("--harness-width", `${px}px`);
  },

  /**
   * A kernel that runs each accepted Generate through every phase, `stepMs` apart, and
   * stops waiting for a run on Stop; videos come from `mp4`.
   */
  simulateKernel(stepMs = 120) {
    const timers = new Map();
    const update = (key, fields) => {
      const runs = this.model.get("runs").map((run) => (run.key === key ? { ...run, ...fields } : run));
      this.model.pyset("runs", runs);
    };
    this.simulation = (content) => {
      if (content.type === "stop") {
        clearTimeout(timers.get(content.key));
        const note = "Stopped waiting. The job goes on on the server: pick it up later by its id.";
        update(content.key, { phase: "stopped", phase_label: "Stopped waiting", active: false, eta_seconds: null, note });
        return { run: content.key };
      }
      if (content.type !== "generate") return undefined;
      const params = { ...content.params, seed: content.params.seed ?? 4242 };
      const n = ++this.runCount;
      const key = `r${n}`;
      const base = makeRun({ ...params, key, phase: "submitting", started_at: Date.now(), elapsed_seconds: 0 });
      this.model.pyset("runs", [base, ...(this.model.get("runs") || [])]);
      const steps = [
        { phase: "queued", phase_label: "Queued", fraction: 0.05, job_id: `vid_${"0".repeat(23)}${n}` },
        { phase: "processing", phase_label: "Processing, 30 %", fraction: 0.3, estimated: false },
        { phase: "processing", phase_label: "Processing, 70 %", fraction: 0.7, estimated: false },
        { phase: "downloading", phase_label: "Downloading", fraction: 0.95 },
        { ...makeRun({ ...params, key, phase: "completed" }), started_at: base.started_at },
      ];
      const next = (i) => {
        update(key, steps[i]);
        if (i + 1 < steps.length) timers.set(key, setTimeout(() => next(i + 1), stepMs));
      };
      timers.set(key, setTimeout(() => next(0), stepMs));
      return { run: key };
    };
  },
};

window.harness = harness;

if (new URLSearchParams(location.search).has("demo")) {
  harness.mount({ prompt: "a red balloon drifting over a calm sea at dawn" });
  harness.simulateKernel(900);
  harness.loadMp4().catch(() => {});
}
