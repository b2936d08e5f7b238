/**
 * VideoWidget front end: a prompt form, the live status of each run, inline MP4
 * playback and a history strip; or, for a VideoGallery (`mode` "grid"), a grid of cards
 * without the form (a table by parameter when the `sweep` trait describes one), or
 * (`mode` "compare") two runs' videos side by side or overlaid with a split. A gallery's
 * videos share one transport: play, pause, scrub, step, loop and speed for all at once.
 * A banner offers the jobs an earlier session left pending. The model contract is
 * PROTOCOL.md next to this file.
 *
 * Generate, Stop and Resume send requests with an id (`ctx.ask`); the kernel answers each
 * one exactly once, and the view decides what happened from that answer only: no timer
 * guesses whether Python refused.
 *
 * Every piece of text from the user or the kernel is set with textContent (or appended
 * as a Text node): nothing is ever parsed as HTML.
 */

/**
 * The parameters' traits, in the form's order. Their ranges, steps, defaults, labels and
 * help, the prompt's longest length and the words for phases and statuses all come from
 * the `limits` trait (eco_widget/notebook/_form.py, from eco_widget/_params.py): none is
 * repeated here.
 */
const PARAM_NAMES = ["num_frames", "fps", "num_inference_steps", "guidance_scale", "seed"];
const SAVE_DELAY_MS = 300;
const ERROR_TITLES = {
  validation: "Invalid settings",
  authentication: "Authentication failed",
  rate_limit: "Rate limit reached",
  failed: "Generation failed",
  network: "Network problem",
  timeout: "Timed out",
  server: "Server error",
  error: "Something went wrong",
};
const PENDING_SHOWN = 5;
const STOP_HINT =
  "The API cannot cancel a job: it keeps running on the server and can be picked up later by its id.";
/** `table[key]` for the table's own keys only ("constructor" is not a phase). */
const own = (table, key) => (Object.hasOwn(table, key) ? table[key] : undefined);
const IS_MAC = /Mac|iPhone|iPad/.test(globalThis.navigator?.platform ?? "");
let viewCount = 0;

/**
 * Create an element. `attrs.class` sets the class, `attrs.text` the text content; other
 * attributes are set as strings (`true` → present, `null`/`false` → absent). Children
 * that are strings become Text nodes.
 */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child != null && child !== false) node.append(child);
  return node;
}

const show = (node, visible) => { node.hidden = !visible; };
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
/** 2.0625 → "2.06", 2 → "2". */
const trimmed = (value, digits = 2) => String(Number(Number(value).toFixed(digits)));

/** A duration for people: "12 s", "2 min 05 s", "1 h 02 min". */
function formatClock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** A measured time: "0.42 s", "3.4 s", "12 s". */
function formatSeconds(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return null;
  if (seconds < 1) return `${trimmed(seconds, 2)} s`;
  if (seconds < 10) return `${trimmed(seconds, 1)} s`;
  return formatClock(seconds);
}

function formatBytes(size) {
  if (!Number.isFinite(size)) return null;
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${trimmed(size / 1024, 0)} KB`;
  return `${trimmed(size / (1024 * 1024), 1)} MB`;
}

function billedText(frames, fps) {
  return `${trimmed(frames / fps)} s of video (${plural(frames, "frame")} at ${fps} fps) will be billed`;
}

const finite = (value) => typeof value === "number" && Number.isFinite(value);

/**
 * One parameter as the `limits` trait describes it: `{name, kind, min, max, step, default,
 * label, help}`. What `limits` does not say stays open: no bound, the trait's name as label.
 */
function fieldSpec(limits, name) {
  const given = (limits && typeof limits[name] === "object" && limits[name]) || {};
  const kind = given.kind === "float" ? "float" : "int";
  return {
    name,
    kind,
    min: finite(given.min) ? given.min : -Infinity,
    max: finite(given.max) ? given.max : Infinity,
    step: finite(given.step) && given.step > 0 ? given.step : kind === "float" ? "any" : 1,
    default: given.default ?? null,
    label: typeof given.label === "string" && given.label.trim() ? given.label : name,
    help: typeof given.help === "string" ? given.help : "",
  };
}

/** "1–81", or "" when a bound is open. */
const rangeText = (spec) => (finite(spec.min) && finite(spec.max) ? `${spec.min}–${spec.max}` : "");

/** "a whole number from 1 to 81". */
function acceptedText(spec) {
  const what = spec.kind === "float" ? "a number" : "a whole number";
  if (finite(spec.min) && finite(spec.max)) return `${what} from ${spec.min} to ${spec.max}`;
  if (finite(spec.min)) return `${what} of at least ${spec.min}`;
  if (finite(spec.max)) return `${what} of at most ${spec.max}`;
  return what;
}

/** Read one parameter input: `{value}` when it is accepted, else `{error}` in plain words. */
function readField(spec, input) {
  const text = input.value.trim();
  const accepted = acceptedText(spec);
  const optional = spec.name === "seed";
  if (text === "" && !input.validity?.badInput) {
    return optional ? { value: null } : { error: `${spec.label} is empty: enter ${accepted}.` };
  }
  const value = Number(text);
  const ok = text !== "" && Number.isFinite(value) &&
    (spec.kind === "float" || Number.isInteger(value)) && value >= spec.min && value <= spec.max;
  if (ok) return { value };
  const got = text === "" ? "" : `; got ${text.length > 24 ? `${text.slice(0, 23)}…` : text}`;
  const blank = optional ? " (or blank for a random seed)" : "";
  return { error: `${spec.label} must be ${accepted}${blank}${got}.` };
}

/** What `limits[table]` (`phases`, `tallies`, `pending_statuses`) calls `key`, if anything. */
function wordFor(limits, table, key) {
  const words = limits?.[table];
  const word = words && typeof words === "object" ? own(words, key) : undefined;
  return typeof word === "string" && word !== "" ? word : undefined;
}

/** What a run's phase is called on screen: the `limits` trait's word, else the phase. */
const phaseWord = (limits, phase) => wordFor(limits, "phases", phase) ?? String(phase);

/** Characters as Python counts them (code points, outer whitespace excluded). */
const promptLength = (text) => [...text.trim()].length;

function readPrompt(textarea, maxChars) {
  const length = promptLength(textarea.value);
  if (length === 0) return { error: "Enter a prompt: describe the video you want." };
  if (length > maxChars) {
    return { error: `The prompt has ${length} characters; at most ${maxChars} are allowed.` };
  }
  return { value: textarea.value };
}

/** The message of a refusal (`{ok: false, message}`) from the kernel, as plain text. */
function refusalText(answer, fallback) {
  const message = answer?.message;
  return message == null || message === "" ? fallback : String(message);
}

/** What the aria-live region says when a run reaches `run.phase`. */
function phaseAnnouncement(run, limits) {
  const pct = Math.round(Math.min(1, Math.max(0, run.fraction || 0)) * 100);
  const word = (phase) => phaseWord(limits, phase);
  switch (run.phase) {
    case "waiting": return run.phase_label || word("waiting");
    case "processing": return `${word("processing")}, ${pct} %`;
    case "completed": return `${word("completed")}: video ready`;
    case "stopped": return `${word("stopped")}. The job goes on on the server.`;
    case "failed":
    case "error": return `${word(run.phase)}: ${run.error?.message ?? "no details"}`;
    default: return word(run.phase);
  }
}

/**
 * One run: a full card while it is the newest, a compact card in the history strip, or
 * a card of the gallery's grid (which shows its video as soon as it is done).
 * @param {object} ctx the view's shared state (`limits`, `videos`, `ask`, `announce`, ...)
 * @param {string} key the run's key
 */
function createRunCard(ctx, key) {
  const id = `${ctx.uid}-run-${ctx.runCount++}`;
  const dot = h("span", { class: "eco-dot", "aria-hidden": "true" });
  const label = h("span", { class: "eco-run-label" });
  const time = h("span", { class: "eco-run-time" });
  const promptText = h("p", { class: "eco-run-prompt", id: `${id}-prompt` });
  const fill = h("div", { class: "eco-progress-fill" });
  const bar = h("div", {
    class: "eco-progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
    "aria-valuenow": "0", "aria-label": "Progress",
  }, fill);
  const meta = h("p", { class: "eco-run-meta" });
  const media = h("div", { class: "eco-run-media" });
  const download = h("a", { class: "eco-button eco-download", hidden: true }, "Download MP4");
  const stop = h("button",
    { type: "button", class: "eco-button eco-stop", "aria-describedby": `${id}-hint` }, "Stop waiting");
  const stopHint = h("span", { class: "eco-stop-hint", id: `${id}-hint`, text: STOP_HINT });
  const actions = h("div", { class: "eco-run-actions" }, download, stop, stopHint);
  const facts = h("dl", { class: "eco-facts" });
  const saved = h("p", { class: "eco-saved" });
  const note = h("p", { class: "eco-note" });
  const errorTitle = h("strong", { class: "eco-error-title" });
  const errorText = h("span", { class: "eco-error-text" });
  const errorBox = h("div", { class: "eco-error" }, errorTitle, " ", errorText);
  const el = h("article",
    { class: "eco-run", "data-key": key, tabindex: "-1", "aria-labelledby": `${id}-prompt` },
    h("div", { class: "eco-run-head" }, h("span", { class: "eco-run-phase" }, dot, label), time),
    promptText, bar, meta, media, actions, facts, saved, note, errorBox);

  let run = null;
  let current = true;
  let inGrid = false;
  let withMedia = true; // false in compare mode: the compare stage shows the video
  let mediaState = "";
  let factsSignature = "";
  let missing = null;
  let stopping = false;
  let stopError = null; // why the kernel refused the last stop request
  let destroyed = false;

  stop.addEventListener("click", () => {
    if (stopping || !run?.active) return;
    stopping = true;
    stopError = null;
    update(run, current, inGrid, withMedia);
    ctx.ask({ type: "stop", key }, (answer) => {
      // Accepted: "Stopping…" stays until the run goes inactive.
      if (answer.ok === true || destroyed) return;
      stopping = false;
      stopError = refusalText(answer, "The kernel could not stop waiting for this run.");
      if (run) update(run, current, inGrid, withMedia);
      if (current || inGrid) ctx.announce([stopError]);
    });
  });

  function videoElement(url) {
    // A grid's videos are driven by its shared transport (createTransport), not each its own.
    if (inGrid) return transportVideo(ctx, key, url, run);
    const video = h("video",
      { class: "eco-video", controls: true, loop: true, playsinline: true, preload: "auto" });
    if (ctx.videos.autoplays(key)) {
      video.muted = true;
      video.autoplay = true;
    }
    video.src = url;
    return video;
  }

  function setMedia(state, build) {
    if (state === mediaState) return;
    mediaState = state;
    const old = media.querySelector("video");
    if (old) { old.removeAttribute("src"); old.load(); }
    media.replaceChildren(...build());
  }

  function renderMedia() {
    const completed = run.phase === "completed";
    show(media, completed && withMedia);
    const entry = ctx.videos.get(key);
    show(download, completed && Boolean(entry));
    if (entry) {
      download.href = entry.url;
      download.download = entry.filename;
      download.title = `Download ${entry.filename}`;
    }
    if (!completed || !withMedia) return setMedia("none", () => []);
    if (entry) return setMedia(`video ${inGrid} ${entry.url}`, () => [videoElement(entry.url)]);
    if (missing != null) {
      return setMedia(`missing ${missing}`, () => {
        const retry = h("button", { type: "button", class: "eco-button" }, "Try again");
        retry.addEventListener("click", () => {
          missing = null;
          ctx.videos.request(key, true);
          renderMedia();
        });
        return [h("p", { class: "eco-media-note", text: missing }), retry];
      });
    }
    if ((current || inGrid) && !ctx.videos.asked(key)) ctx.videos.request(key, false);
    if (ctx.videos.asked(key)) {
      return setMedia("loading", () => [h("p", { class: "eco-media-note", text: "Loading video…" })]);
    }
    return setMedia("play", () => {
      const play = h("button",
        { type: "button", class: "eco-play", "aria-label": `Play: ${run.prompt ?? key}` },
        h("span", { class: "eco-play-icon", "aria-hidden": "true" }), "Play");
      play.addEventListener("click", () => { ctx.videos.request(key, true); renderMedia(); });
      return [play];
    });
  }

  function renderFacts() {
    const v = run.video || {};
    const param = (name) => [name, fieldSpec(ctx.limits(), name).label, run[name]];
    const rows = [
      ["job", "Job", run.job_id], param("seed"), param("num_frames"), param("fps"),
      ["duration", "Duration", run.duration_seconds != null ? `${trimmed(run.duration_seconds)} s` : null],
      param("num_inference_steps"), param("guidance_scale"),
      ["queue", "Queue", formatSeconds(run.queue_seconds)],
      ["render", "Render", formatSeconds(run.render_seconds)],
      ["size", "Size", formatBytes(v.size)],
    ].filter(([, , value]) => value != null && value !== "");
    const signature = JSON.stringify(rows);
    if (signature === factsSignature) return;
    factsSignature = signature;
    facts.replaceChildren(...rows.map(([name, title, value]) => {
      const dd = h("dd", { class: name === "job" ? "eco-mono" : null, text: String(value) });
      if (name === "seed") {
        const reuse = h("button",
          { type: "button", class: "eco-link-button", "aria-label": `Use seed ${value} in the form` }, "use");
        reuse.addEventListener("click", () => ctx.useSeed(value));
        dd.append(" ", reuse);
      }
      return h("div", { class: "eco-fact" }, h("dt", { text: title }), dd);
    }));
  }

  /** Refresh the elapsed time and ETA; called on every update and once a second. */
  function tick(now) {
    if (!run) return;
    if (run.active) {
      const sinceStart = run.started_at ? (now - run.started_at) / 1000 : 0;
      let text = `${formatClock(Math.max(run.elapsed_seconds || 0, sinceStart))} elapsed`;
      if (run.eta_seconds != null) {
        const since = run.eta_at ? Math.max(0, (now - run.eta_at) / 1000) : 0;
        const left = run.eta_seconds - since;
        text += left >= 1 ? ` · about ${formatClock(left)} left` : " · almost done";
      }
      time.textContent = text;
    } else if (run.phase === "completed" && run.total_seconds != null) {
      time.textContent = `took ${formatClock(run.total_seconds)}`;
    } else {
      time.textContent = run.elapsed_seconds ? `after ${formatClock(run.elapsed_seconds)}` : "";
    }
  }

  /**
   * Show `next` as the newest run (`isCurrent`), a history card, or a grid card (also a
   * compare card, which leaves its video to the compare stage: `showMedia` false).
   */
  function update(next, isCurrent, isGridCard = false, showMedia = true) {
    run = next;
    inGrid = isGridCard;
    withMedia = showMedia;
    current = isCurrent && !inGrid;
    const phase = String(run.phase);
    const pct = Math.round(Math.min(1, Math.max(0, run.fraction || 0)) * 100);
    el.dataset.phase = phase;
    el.classList.toggle("eco-run--current", current);
    el.classList.toggle("eco-run--compact", !current && !inGrid);
    el.classList.toggle("eco-run--grid", inGrid);
    let words = phaseWord(ctx.limits(), phase);
    if (!current && phase === "processing") words += ` ${pct} %`;
    label.textContent = (current || inGrid) && run.phase_label ? run.phase_label : words;
    promptText.textContent = run.prompt ?? "";
    promptText.title = current ? "" : run.prompt ?? "";

    show(bar, Boolean(run.active));
    fill.style.width = `${pct}%`;
    bar.setAttribute("aria-valuenow", String(pct));
    bar.setAttribute("aria-valuetext", run.estimated ? `About ${pct} % (estimated)` : `${pct} %`);
    bar.classList.toggle("eco-progress--estimated", Boolean(run.estimated));
    bar.classList.toggle("eco-progress--idle", pct < 1);

    const showFacts = current && phase === "completed";
    const job = current && run.job_id ? `Job ${run.job_id}` : null;
    meta.textContent = [job, run.seed != null ? `Seed ${run.seed}` : null].filter(Boolean).join(" · ");
    show(meta, !showFacts && meta.textContent !== "");
    show(facts, showFacts);
    if (showFacts) renderFacts();

    if (!run.active) { stopping = false; stopError = null; }
    if (stopping) { stop.textContent = "Stopping…"; stop.setAttribute("aria-disabled", "true"); }
    else { stop.textContent = "Stop waiting"; stop.removeAttribute("aria-disabled"); }
    if (!run.active && el.contains(document.activeElement) && document.activeElement === stop) el.focus();
    show(stop, Boolean(run.active));
    show(stopHint, Boolean(run.active) && current);

    const savedPath = run.video?.saved_path;
    saved.textContent = savedPath ? `Saved to ${savedPath}` : "";
    show(saved, current && Boolean(savedPath));
    const noteText = stopError ?? run.note ?? "";
    note.textContent = noteText;
    note.classList.toggle("eco-note--error", stopError != null);
    show(note, noteText !== "");
    const error = run.error;
    errorTitle.textContent = error ? `${own(ERROR_TITLES, error.kind) ?? ERROR_TITLES.error}.` : "";
    errorText.textContent = error?.message ?? "";
    show(errorBox, Boolean(error));
    if (current) errorBox.setAttribute("role", "alert");
    else errorBox.removeAttribute("role");

    renderMedia();
    show(actions, !download.hidden || !stop.hidden);
    tick(Date.now());
  }

  return {
    el, update, tick,
    get active() { return Boolean(run?.active); },
    refresh() { missing = null; if (run) update(run, current, inGrid, withMedia); },
    videoMissing(message) {
      missing = message || "The video could not be loaded.";
      if (run) update(run, current, inGrid, withMedia);
    },
    destroy() { destroyed = true; setMedia("gone", () => []); el.remove(); },
  };
}

/**
 * The prompt form: the fields and their checks, Generate (the button or Ctrl/⌘+Enter),
 * the form's traits, and the kernel's answers to this view's generate requests.
 * @param {object} ctx the view's shared state (model, uid, on, limits, ask, announce, hasFocus)
 */
function createForm(ctx) {
  const { model, uid } = ctx;
  const inputs = {};
  const errorSlots = {};
  const clientErrors = new Map();
  /** The refusal from Python this view shows (`{param, message}`), or null. */
  let pythonError = model.get("form_error") || null;
  /** This view's generate requests that the kernel has not answered yet. */
  const starting = new Set();
  let dirty = false;
  let saveTimer = null;

  const { limits } = ctx;
  /** The prompt's longest length in characters (Infinity when `limits` does not say). */
  const maxChars = () => (finite(limits().prompt?.max_chars) ? limits().prompt.max_chars : Infinity);

  function field(name, labelText, input, extra) {
    const inputId = `${uid}-${name}`;
    const errorId = `${inputId}-error`;
    const hintId = `${inputId}-hint`;
    input.id = inputId;
    input.setAttribute("aria-describedby", `${hintId} ${errorId}`);
    inputs[name] = input;
    errorSlots[name] = h("p", { class: "eco-field-error", id: errorId, role: "alert", hidden: true });
    const hint = h("span", { class: "eco-hint", id: hintId });
    input.addEventListener("input", () => onEdit(name));
    return {
      hint,
      el: h("div", { class: `eco-field eco-field--${name}` },
        h("div", { class: "eco-label-row" },
          h("label", { class: "eco-label", for: inputId, text: labelText }), hint, extra),
        input, errorSlots[name]),
    };
  }

  const prompt = h("textarea", {
    class: "eco-input eco-prompt", rows: "3",
    placeholder: "Describe the video, e.g. a red balloon drifting over a calm sea at dawn",
  });
  const counter = h("span", { class: "eco-counter", "aria-hidden": "true" });
  const promptField = field("prompt", "Prompt", prompt, counter);
  promptField.hint.textContent = `${IS_MAC ? "⌘" : "Ctrl"}+Enter generates`;
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit();
    }
  });

  const paramFields = PARAM_NAMES.map((name) => {
    const spec = fieldSpec(limits(), name);
    const input = name === "seed"
      ? h("input",
        { class: "eco-input", type: "text", inputmode: "numeric", autocomplete: "off", placeholder: "random" })
      : h("input", { class: "eco-input", type: "number" });
    return field(name, spec.label, input);
  });
  const button = h("button",
    { type: "submit", class: "eco-button eco-button--primary", "aria-describedby": `${uid}-billed` }, "Generate");
  // Always in the page, empty while idle, so that screen readers announce what it says.
  const status = h("span", { class: "eco-form-status", role: "status" });
  const billed = h("p", { class: "eco-billed", id: `${uid}-billed` });
  const formError = h("p", { class: "eco-form-error", role: "alert", hidden: true });
  const form = h("form", { class: "eco-form", novalidate: true, "aria-label": "Generate a video" },
    promptField.el,
    h("div", { class: "eco-params" }, ...paramFields.map((f) => f.el)),
    h("div", { class: "eco-actions" }, button, status, billed),
    formError);
  form.addEventListener("submit", (event) => { event.preventDefault(); submit(); });

  /** Apply `limits` to the inputs: labels, ranges, hints. */
  function applyLimits() {
    PARAM_NAMES.forEach((name, i) => {
      const spec = fieldSpec(limits(), name);
      const input = inputs[name];
      paramFields[i].el.querySelector("label").textContent = spec.label;
      if (name !== "seed") {
        for (const bound of ["min", "max"]) {
          if (finite(spec[bound])) input[bound] = String(spec[bound]);
          else input.removeAttribute(bound);
        }
        input.step = String(spec.step);
      }
      paramFields[i].hint.textContent = name === "seed" ? "blank = random" : rangeText(spec);
      if (spec.help) input.title = spec.help;
    });
    updateCounter();
  }

  /**
   * Put the trait's value (the parameter's default from `limits` while the trait has
   * none) in the input unless the input already says the same.
   */
  function syncInput(name) {
    const input = inputs[name];
    if (name === "prompt") {
      const value = model.get(name);
      if (input.value !== (value ?? "")) input.value = value ?? "";
      return updateCounter();
    }
    const spec = fieldSpec(limits(), name);
    const value = model.get(name) ?? spec.default;
    const shown = readField(spec, input);
    if (shown.error || shown.value !== value) input.value = value == null ? "" : String(value);
    updateBilled();
  }

  function updateCounter() {
    const length = promptLength(prompt.value);
    counter.textContent = Number.isFinite(maxChars()) ? `${length} / ${maxChars()}` : String(length);
    counter.classList.toggle("eco-counter--over", length > maxChars());
  }

  function updateBilled() {
    const frames = readField(fieldSpec(limits(), "num_frames"), inputs.num_frames);
    const fps = readField(fieldSpec(limits(), "fps"), inputs.fps);
    billed.textContent = frames.error || fps.error
      ? "Set valid frames and fps to see the billed length"
      : billedText(frames.value, fps.value);
  }

  function renderErrors() {
    const py = pythonError && typeof pythonError === "object" ? pythonError : null;
    for (const [name, slot] of Object.entries(errorSlots)) {
      const message = clientErrors.get(name) ?? (py && py.param === name ? String(py.message) : null);
      slot.textContent = message ?? "";
      show(slot, Boolean(message));
      if (message) inputs[name].setAttribute("aria-invalid", "true");
      else inputs[name].removeAttribute("aria-invalid");
    }
    const general = py && !Object.hasOwn(errorSlots, py.param) ? py.message : null;
    formError.textContent = general != null ? String(general) : "";
    show(formError, Boolean(general));
  }

  /**
   * Show a refusal from Python (`{param, message}`; null hides it): on its field, else
   * under the form. A field's error takes the focus when the focus is in the widget.
   */
  function showPythonError(error) {
    pythonError = error && typeof error === "object" ? error : null;
    renderErrors();
    if (!pythonError || !Object.hasOwn(inputs, pythonError.param)) return;
    if (ctx.hasFocus()) inputs[pythonError.param].focus();
    ctx.announce([String(pythonError.message)]);
  }

  function renderStatus() {
    const n = starting.size;
    status.textContent = n === 0 ? "" : n === 1 ? "Starting…" : `Starting ${n} runs…`;
  }

  function scheduleSave() {
    dirty = true;
    clearTimeout(saveTimer);
    saveTimer = setTimeout(flushSave, SAVE_DELAY_MS);
  }

  function flushSave() {
    clearTimeout(saveTimer);
    saveTimer = null;
    if (!dirty) return;
    dirty = false;
    try {
      model.save_changes();
    } catch (error) {
      console.warn("eco_widget: could not save the form", error);
    }
  }

  /** Write an input's value to its trait when it is acceptable. */
  function writeTrait(name) {
    const read = name === "prompt"
      ? { value: inputs.prompt.value }
      : readField(fieldSpec(limits(), name), inputs[name]);
    if (read.error || model.get(name) === read.value) return;
    model.set(name, read.value);
    scheduleSave();
  }

  function onEdit(name) {
    clientErrors.delete(name);
    pythonError = null;
    renderErrors();
    updateCounter();
    updateBilled();
    writeTrait(name);
  }

  /** Check the form and send one generate request; its answer decides what follows. */
  function submit() {
    clientErrors.clear();
    const params = {};
    const prompted = readPrompt(prompt, maxChars());
    if (prompted.error) clientErrors.set("prompt", prompted.error);
    else params.prompt = prompted.value;
    for (const name of PARAM_NAMES) {
      const read = readField(fieldSpec(limits(), name), inputs[name]);
      if (read.error) clientErrors.set(name, read.error);
      else params[name] = read.value;
    }
    if (clientErrors.size) {
      renderErrors();
      inputs[clientErrors.keys().next().value].focus();
      return;
    }
    for (const name of ["prompt", ...PARAM_NAMES]) writeTrait(name);
    flushSave();
    pythonError = null;
    renderErrors();
    const request = ctx.ask({ type: "generate", params }, onGenerateAnswer);
    starting.add(request);
    renderStatus();
  }

  /** The kernel's answer to one of this view's generate requests. */
  function onGenerateAnswer(answer) {
    starting.delete(answer.request);
    renderStatus();
    if (answer.ok === true) {
      showPythonError(null);
      return;
    }
    const param = typeof answer.param === "string" ? answer.param : null;
    showPythonError({ param, message: refusalText(answer, "The kernel refused these settings.") });
  }

  applyLimits();
  for (const name of ["prompt", ...PARAM_NAMES]) {
    syncInput(name);
    ctx.on(`change:${name}`, () => syncInput(name));
  }
  renderErrors();
  renderStatus();
  ctx.on("change:limits", () => { applyLimits(); updateBilled(); });
  // A refusal (or a start) of any view's submission, or one made from Python.
  ctx.on("change:form_error", () => showPythonError(model.get("form_error")));

  return {
    el: form,
    /** Put `seed` in the form, as typed. */
    useSeed(seed) {
      inputs.seed.value = String(seed);
      onEdit("seed");
      inputs.seed.focus();
    },
    destroy() {
      flushSave();
      starting.clear();
    },
  };
}

/** The banner offering the jobs an earlier session left pending, with its Resume button. */
function createPendingBanner(ctx) {
  const { model } = ctx;
  const title = h("p", { class: "eco-pending-title" });
  const list = h("ul", { class: "eco-pending-list" });
  const error = h("p", { class: "eco-pending-error", role: "alert", hidden: true });
  const resumeButton = h("button", { type: "button", class: "eco-button eco-button--primary" }, "Resume");
  const el = h("section",
    { class: "eco-pending", "aria-label": "Jobs from an earlier session", hidden: true },
    h("div", { class: "eco-pending-text" }, title, list, error), resumeButton);
  let resuming = false; // the button says "Resuming…"
  let asking = false; // a resume request of this view is not answered yet

  function setResuming(busy) {
    resuming = busy;
    resumeButton.textContent = busy ? "Resuming…" : "Resume";
    if (busy) resumeButton.setAttribute("aria-disabled", "true");
    else resumeButton.removeAttribute("aria-disabled");
  }

  function setError(message) {
    error.textContent = message ?? "";
    show(error, message != null);
  }

  resumeButton.addEventListener("click", () => {
    if (resuming) return;
    setError(null);
    setResuming(true);
    asking = true;
    ctx.ask({ type: "resume" }, (answer) => {
      asking = false;
      // Accepted: the banner goes when `pending` empties.
      if (answer.ok === true) return;
      setResuming(false);
      setError(refusalText(answer, "The kernel could not resume these jobs."));
    });
  });

  function item(entry) {
    const status = wordFor(ctx.limits(), "pending_statuses", entry.status) ??
      String(entry.status ?? "unknown");
    const age = Number.isFinite(entry.submitted_at)
      ? `, submitted ${formatClock((Date.now() - entry.submitted_at) / 1000)} ago` : "";
    const seed = entry.seed != null ? ` · seed ${entry.seed}` : "";
    return h("li", { class: "eco-pending-item" },
      h("span", { class: "eco-pending-prompt", text: String(entry.prompt ?? entry.job_id) }),
      h("span", { class: "eco-pending-facts", text: `${status}${age}${seed}` }));
  }

  function render() {
    const pending = (model.get("pending") || []).filter((entry) => entry && entry.job_id != null);
    const n = pending.length;
    show(el, n > 0);
    if (!n || !asking) setResuming(false);
    if (!n) {
      setError(null);
      return;
    }
    title.textContent = `${plural(n, "job")} from an earlier session ${n === 1 ? "is" : "are"} still pending`;
    const items = pending.slice(0, PENDING_SHOWN).map(item);
    if (n > PENDING_SHOWN) items.push(h("li", { class: "eco-pending-item", text: `and ${n - PENDING_SHOWN} more` }));
    list.replaceChildren(...items);
  }

  render();
  ctx.on("change:pending", render);
  ctx.on("change:limits", render);
  return { el };
}

/**
 * The MP4s of this view: asked for with `{type: "video", key}`, kept as blob URLs until
 * their run leaves or the view goes.
 */
function createVideoStore(model) {
  const entries = new Map(); // run key → {url, filename}
  const asked = new Set(); // run keys whose bytes this view asked for
  const autoplay = new Set(); // run keys to play as soon as they load

  function drop(key) {
    const entry = entries.get(key);
    if (entry) URL.revokeObjectURL(entry.url);
    entries.delete(key);
    asked.delete(key);
    autoplay.delete(key);
  }

  return {
    get: (key) => entries.get(key),
    asked: (key) => asked.has(key),
    autoplays: (key) => autoplay.has(key),
    /** Play run `key`'s video as soon as it loads (a run seen running in this view). */
    playWhenLoaded(key) { autoplay.add(key); },
    request(key, play) {
      if (play) autoplay.add(key);
      asked.add(key);
      model.send({ type: "video", key });
    },
    /**
     * A `video` or `video_missing` reply: kept, then `arrived(key)`; or
     * `missing(key, message)`. Replies to keys this view did not ask for are ignored.
     */
    receive(msg, buffers, { arrived, missing }) {
      const key = String(msg.key);
      if (!asked.has(key)) return;
      asked.delete(key);
      if (msg.type === "video" && buffers?.[0]) {
        const old = entries.get(key);
        const url = URL.createObjectURL(new Blob([buffers[0]], { type: msg.mime || "video/mp4" }));
        entries.set(key, { url, filename: msg.filename || `${key}.mp4` });
        arrived(key);
        if (old) URL.revokeObjectURL(old.url);
      } else {
        missing(key, msg.type === "video_missing" ? msg.message : "The video arrived empty.");
      }
    },
    drop,
    dropAll() { for (const key of [...entries.keys()]) drop(key); },
  };
}

/**
 * This view's requests to the kernel (PROTOCOL.md): `ask` sends one with a new id,
 * unique across views and page loads, and `answer` hands the kernel's one answer to it
 * to its callback. Answers to other views' requests are ignored.
 */
function createRequests(model, uid) {
  const awaiting = new Map(); // request id → what to do with the answer
  let count = 0;
  return {
    ask(content, onAnswer) {
      const request = `${uid}-q${++count}`;
      awaiting.set(request, onAnswer);
      model.send({ ...content, request });
      return request;
    },
    answer(msg) {
      const onAnswer = typeof msg.request === "string" ? awaiting.get(msg.request) : undefined;
      if (!onAnswer) return;
      awaiting.delete(msg.request);
      onAnswer(msg);
    },
    clear() { awaiting.clear(); },
  };
}

/** "3 videos · 1 completed · 2 running" for the grid's heading, in the `tallies` words. */
function gridText(runs, limits) {
  if (!runs.length) return "No videos yet.";
  const count = (test) => runs.filter(test).length;
  const parts = [
    [count((run) => run.phase === "completed"), "completed"],
    [count((run) => run.active && run.phase !== "waiting"), "running"],
    [count((run) => run.phase === "waiting"), "waiting"],
    [count((run) => run.phase === "failed" || run.phase === "error"), "failed"],
    [count((run) => run.phase === "stopped"), "stopped"],
  ].filter(([n]) => n > 0).map(([n, tally]) => `${n} ${wordFor(limits, "tallies", tally) ?? tally}`);
  return [plural(runs.length, "video"), ...parts].join(" · ");
}

/** The playback speeds the shared transport offers. */
const SPEEDS = [0.25, 0.5, 1, 2];
/** How many characters of a prompt a sweep's header shows (the title has all of it). */
const PROMPT_SHOWN = 40;

/**
 * A video driven by a shared transport (a grid's or the compare stage's): no controls of
 * its own, muted, its run's fps in `data-fps`. A run seen running is marked
 * `data-autoplay`: once it loads, the transport plays every video together.
 */
function transportVideo(ctx, key, url, run) {
  const video = h("video",
    { class: "eco-video", loop: true, muted: true, playsinline: true, preload: "auto", "data-key": key });
  video.muted = true;
  if (finite(run?.fps) && run.fps > 0) video.dataset.fps = String(run.fps);
  if (ctx.videos.autoplays(key)) video.dataset.autoplay = "";
  video.src = url;
  return video;
}

/** `seconds` as "0.31 s". */
const clockText = (seconds) => `${(Math.max(0, seconds) || 0).toFixed(2)} s`;

/**
 * One transport for every video under `stage`: play/pause all, one timeline (0 … the
 * longest duration) that scrubs them all, ±1 frame, loop, speed. While playing, the
 * longest playing video leads (the first of equals) and any other drifting more than a
 * frame from it is put back. Nothing is sent to the kernel.
 * @param {object} ctx the view's shared state (`limits`)
 * @param {Element} stage the element whose <video>s it drives (found at each use)
 */
function createTransport(ctx, stage) {
  const playButton = h("button",
    { type: "button", class: "eco-button eco-transport-play", "aria-label": "Play all" },
    h("span", { class: "eco-transport-icon", "aria-hidden": "true" }));
  const back = h("button",
    { type: "button", class: "eco-button eco-transport-step", "aria-label": "Back one frame", title: "Back one frame" }, "‹");
  const forward = h("button",
    { type: "button", class: "eco-button eco-transport-step", "aria-label": "Forward one frame", title: "Forward one frame" }, "›");
  const slider = h("input",
    { type: "range", class: "eco-transport-time", "aria-label": "Time", min: "0", max: "0", step: "any", value: "0" });
  const clock = h("span", { class: "eco-transport-clock", "aria-hidden": "true" });
  const loopButton = h("button",
    { type: "button", class: "eco-button eco-transport-loop", "aria-pressed": "true" }, "Loop");
  const speed = h("select", { class: "eco-transport-speed", "aria-label": "Speed" },
    ...SPEEDS.map((s) => h("option", { value: String(s), selected: s === 1 }, `${s}×`)));
  const el = h("div", { class: "eco-transport", role: "toolbar", "aria-label": "Playback of every video", hidden: true },
    playButton, back, forward, slider, clock, loopButton, speed);

  let playing = false;
  let loop = true;
  let rate = 1;
  let position = 0; // the transport's time while nothing plays
  let frame = 0; // requestAnimationFrame handle while playing

  const videos = () => [...stage.querySelectorAll("video")];
  const ready = (v) => v.readyState >= 1 && Number.isFinite(v.duration) && v.duration > 0;
  const readyVideos = () => videos().filter(ready);
  const longest = () => Math.max(0, ...readyVideos().map((v) => v.duration));
  /** The first video's fps (its run's `fps`), else the form's default. */
  function fps() {
    const given = Number(videos()[0]?.dataset.fps);
    if (given > 0) return given;
    const fallback = fieldSpec(ctx.limits(), "fps").default;
    return finite(fallback) && fallback > 0 ? fallback : 30;
  }
  /** The video whose time is the transport's: the longest playing one, else the longest. */
  function leader() {
    const all = readyVideos();
    const moving = all.filter((v) => !v.paused && !v.ended);
    return (moving.length ? moving : all).reduce((best, v) => (!best || v.duration > best.duration + 1e-3 ? v : best), null);
  }
  const now = () => (playing ? leader()?.currentTime ?? position : position);
  /** Where video `v` belongs at transport time `t`. */
  const target = (v, t) => (loop && playing ? t % v.duration : Math.min(t, v.duration));

  function configure(v) {
    v.loop = loop;
    v.muted = true;
    v.defaultPlaybackRate = rate;
    v.playbackRate = rate;
  }

  function start(v) {
    const promise = v.play();
    promise?.catch?.(() => {});
  }

  function render() {
    const all = readyVideos();
    show(el, all.length > 0);
    const max = longest();
    const t = Math.min(now(), max);
    slider.max = String(max);
    slider.value = String(t);
    const frameNo = Math.min(Math.floor(t * fps() + 1e-6) + 1, Math.max(1, Math.round(max * fps())));
    slider.setAttribute("aria-valuetext", `${clockText(t)} of ${clockText(max)}, frame ${frameNo}`);
    clock.textContent = `${clockText(t)} / ${clockText(max)}`;
    playButton.setAttribute("aria-label", playing ? "Pause all" : "Play all");
    playButton.classList.toggle("eco-transport-play--playing", playing);
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
    if (!playing && frame) { cancelAnimationFrame(frame); frame = 0; }
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
    for (const v of videos()) v.pause();
    if (lead) {
      // Every video on the leader's frame.
      position = lead.currentTime;
      for (const v of readyVideos()) if (v !== lead && !v.ended) v.currentTime = target(v, position);
    }
    setPlaying(false);
  }

  /** Every video to time `t` (a shorter one to its last frame); playing ones go on. */
  function seekAll(t) {
    const max = longest();
    position = Math.min(Math.max(0, t), max);
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
    const direction = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1 }[event.key];
    if (!direction) return;
    event.preventDefault();
    step(direction);
  });
  loopButton.addEventListener("click", () => {
    loop = !loop;
    for (const v of videos()) configure(v);
    render();
  });
  speed.addEventListener("change", () => {
    rate = Number(speed.value) || 1;
    for (const v of videos()) configure(v);
    render();
  });
  // Space plays or pauses wherever the focus is in the transport, except on a button or
  // the speed list, where it presses that control.
  el.addEventListener("keydown", (event) => {
    if (event.key !== " " || event.target.closest("button, select")) return;
    event.preventDefault();
    toggle();
  });

  // Media events do not bubble; the stage hears them in the capture phase.
  const onMedia = {
    loadedmetadata(v) {
      configure(v);
      if (playing) {
        v.currentTime = target(v, now());
        start(v);
      } else if (v.dataset.autoplay != null) {
        delete v.dataset.autoplay;
        playAll();
      } else if (position > 0) {
        v.currentTime = Math.min(position, v.duration);
      }
    },
    timeupdate() { if (playing) sync(); },
    ended() {
      // Without loop each video stops at its own end; once all have, the transport is paused.
      if (playing && readyVideos().every((v) => v.paused || v.ended)) {
        position = longest();
        setPlaying(false);
      }
    },
  };
  const listeners = ["loadedmetadata", "durationchange", "timeupdate", "ended", "seeked", "emptied", "pause"]
    .map((type) => {
      const fn = (event) => {
        if (!(event.target instanceof HTMLVideoElement)) return;
        onMedia[type]?.(event.target);
        if (!playing || type !== "timeupdate") render();
      };
      stage.addEventListener(type, fn, true);
      return [type, fn];
    });

  return {
    el,
    /** Re-read the videos (after cards or videos came or went). */
    refresh() {
      if (playing && !readyVideos().some((v) => !v.paused)) setPlaying(false);
      else render();
    },
    destroy() {
      if (frame) cancelAnimationFrame(frame);
      frame = 0;
      playing = false;
      for (const [type, fn] of listeners) stage.removeEventListener(type, fn, true);
    },
  };
}

/**
 * The `sweep` trait when it is usable: `{axes: [{name, label, values}], runs}` with at
 * least one axis, each with at least one value; else null (the plain grid).
 */
function readSweep(sweep) {
  if (!sweep || typeof sweep !== "object" || !Array.isArray(sweep.axes) || !sweep.axes.length) return null;
  const axes = [];
  for (const axis of sweep.axes) {
    if (!axis || typeof axis !== "object" || !Array.isArray(axis.values) || !axis.values.length) return null;
    const name = String(axis.name ?? "");
    const label = typeof axis.label === "string" && axis.label.trim() ? axis.label : name;
    axes.push({ name, label, values: axis.values });
  }
  return { axes, runs: Array.isArray(sweep.runs) ? sweep.runs : [] };
}

/** A prompt cut to `PROMPT_SHOWN` characters (code points), with an ellipsis when cut. */
function shortPrompt(text) {
  const chars = [...String(text ?? "")];
  return chars.length <= PROMPT_SHOWN ? chars.join("") : `${chars.slice(0, PROMPT_SHOWN - 1).join("").trimEnd()}…`;
}

/**
 * How a sweep value is named in a header: `{text, title}`. A prompt is its own text
 * (shortened; the title has all of it); any other value is "Label value", a float as
 * Python writes it ("Guidance 5.0": a float parameter, or an axis with any fraction).
 */
function sweepValueText(ctx, axis, value) {
  if (axis.name === "prompt") return { text: shortPrompt(value), title: String(value ?? "") };
  let shown;
  if (typeof value === "number") {
    const float = fieldSpec(ctx.limits(), axis.name).kind === "float" ||
      axis.values.some((v) => typeof v === "number" && !Number.isInteger(v));
    shown = float && Number.isInteger(value) ? value.toFixed(1) : String(value);
  } else {
    shown = value == null ? "random" : String(value);
  }
  return { text: `${axis.label} ${shown}`, title: null };
}

/**
 * A gallery sweep as tables: the first axis along the columns, the second along the rows,
 * one block per combination of the further axes under a heading naming them. Each cell
 * holds its run's card, or an empty placeholder until the run exists. Run `i` of
 * `sweep.runs` is the combination with the first axis varying fastest.
 */
function createSweepTable(ctx) {
  const el = h("div", { class: "eco-sweep", hidden: true });
  let signature = "";
  let cells = []; // combination index → <td>

  function header(tag, axis, value, attrs) {
    const { text, title } = sweepValueText(ctx, axis, value);
    return h(tag, { ...attrs, text, title });
  }

  function placeholder() {
    return h("div", { class: "eco-sweep-empty" }, h("span", { class: "eco-sr-only", text: "Not started" }));
  }

  function build(sweep) {
    const [cols, rows = null, ...further] = sweep.axes;
    const perBlock = cols.values.length * (rows ? rows.values.length : 1);
    const blocks = further.reduce((n, axis) => n * axis.values.length, 1);
    cells = [];
    const sections = [];
    for (let c = 0; c < blocks; c += 1) {
      let rest = c;
      const parts = further.map((axis) => {
        const value = axis.values[rest % axis.values.length];
        rest = Math.floor(rest / axis.values.length);
        return sweepValueText(ctx, axis, value);
      });
      const heading = parts.length
        ? h("h4", { class: "eco-sweep-heading", text: parts.map((p) => p.text).join(" · "),
          title: parts.some((p) => p.title) ? parts.map((p) => p.title ?? p.text).join(" · ") : null })
        : null;
      const corner = rows
        ? h("th", { scope: "col", class: "eco-sweep-corner", text: `${rows.label} ╲ ${cols.label}` }) : null;
      const head = h("thead", {}, h("tr", {}, corner,
        ...cols.values.map((value) => header("th", cols, value, { scope: "col" }))));
      const body = h("tbody");
      for (let b = 0; b < (rows ? rows.values.length : 1); b += 1) {
        const tr = h("tr", {}, rows ? header("th", rows, rows.values[b], { scope: "row" }) : null);
        for (let a = 0; a < cols.values.length; a += 1) {
          const index = a + cols.values.length * b + perBlock * c;
          const td = h("td", { class: "eco-sweep-cell", "data-index": index }, placeholder());
          cells[index] = td;
          tr.append(td);
        }
        body.append(tr);
      }
      const caption = [rows?.label, cols.label].filter(Boolean).join(" by ");
      const table = h("table", { class: "eco-sweep-table", "aria-label": heading ? `${caption}, ${heading.textContent}` : caption }, head, body);
      sections.push(h("section", { class: "eco-sweep-block" }, heading, h("div", { class: "eco-sweep-scroll" }, table)));
    }
    el.replaceChildren(...sections);
  }

  return {
    el,
    /**
     * Lay out `sweep` (from `readSweep`, or null for none) with the card element of each
     * run key (`cardEl(key)`, null when the run is not there yet). Returns the keys placed.
     */
    render(sweep, cardEl) {
      const placed = new Set();
      show(el, Boolean(sweep));
      if (!sweep) {
        if (signature) { signature = ""; cells = []; el.replaceChildren(); }
        return placed;
      }
      const next = JSON.stringify([sweep.axes, ctx.limits().guidance_scale?.kind]);
      if (next !== signature) { signature = next; build(sweep); }
      cells.forEach((td, index) => {
        const key = sweep.runs[index] == null ? null : String(sweep.runs[index]);
        const card = key != null && !placed.has(key) ? cardEl(key) : null;
        if (card) {
          placed.add(key);
          td.dataset.key = key;
          if (td.firstChild !== card) td.replaceChildren(card);
        } else {
          delete td.dataset.key;
          if (!td.firstChild?.classList.contains("eco-sweep-empty")) td.replaceChildren(placeholder());
        }
      });
      return placed;
    },
  };
}

/**
 * Two runs compared (mode "compare"): their cards, then their videos side by side or
 * overlaid with a split ("swipe": the second video clipped at the split, which the
 * handle moves by pointer or arrow keys), under one transport.
 */
function createCompare(ctx) {
  const cardsRow = h("div", { class: "eco-compare-cards" });
  const sideButton = h("button", { type: "button", class: "eco-button", "aria-pressed": "true" }, "Side by side");
  const swipeButton = h("button", { type: "button", class: "eco-button", "aria-pressed": "false" }, "Swipe");
  const views = h("div", { class: "eco-compare-views", role: "group", "aria-label": "Compare view" }, sideButton, swipeButton);
  const panes = [0, 1].map((i) => h("div", { class: `eco-compare-pane eco-compare-pane--${i ? "second" : "first"}` }));
  const handle = h("div", {
    class: "eco-compare-handle", role: "slider", tabindex: "0", "aria-label": "Split",
    "aria-orientation": "horizontal", "aria-valuemin": "0", "aria-valuemax": "100", hidden: true,
  });
  const stage = h("div", { class: "eco-compare-stage eco-compare-stage--side" }, ...panes, handle);
  const transport = createTransport(ctx, stage);
  const el = h("section", { class: "eco-compare", "aria-label": "Compare two videos", hidden: true },
    cardsRow, views, stage, transport.el);
  const states = ["", ""];
  const missing = new Map(); // run key → why its video could not be read
  let swipe = false;
  let split = 0.5; // the split's place, as a fraction of the stage's width
  let runs = [];
  let dragging = null; // the pointer id while dragging the split

  function applySplit() {
    const percent = trimmed(split * 100);
    handle.style.left = `${percent}%`;
    handle.setAttribute("aria-valuenow", String(Math.round(split * 100)));
    handle.setAttribute("aria-valuetext", `${Math.round(split * 100)} % of the first video shown`);
    const second = panes[1].querySelector("video");
    if (second) second.style.clipPath = swipe ? `inset(0 0 0 ${percent}%)` : "";
  }

  function setSplit(fraction) {
    split = Math.min(1, Math.max(0, fraction));
    applySplit();
  }

  function setSwipe(on) {
    swipe = on;
    stage.classList.toggle("eco-compare-stage--swipe", on);
    stage.classList.toggle("eco-compare-stage--side", !on);
    sideButton.setAttribute("aria-pressed", String(!on));
    swipeButton.setAttribute("aria-pressed", String(on));
    show(handle, on);
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
  stage.addEventListener("pointermove", (event) => { if (event.pointerId === dragging) splitAt(event); });
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

  /** Pane `i`: run `run`'s video, or why there is none yet. */
  function renderPane(i, run) {
    const key = run ? String(run.key) : null;
    const entry = key != null ? ctx.videos.get(key) : undefined;
    let state;
    let build;
    if (!run) {
      state = "none";
      build = () => [];
    } else if (entry) {
      state = `video ${entry.url}`;
      build = () => [transportVideo(ctx, key, entry.url, run)];
    } else if (missing.has(key)) {
      state = `missing ${missing.get(key)}`;
      build = () => {
        const retry = h("button", { type: "button", class: "eco-button" }, "Try again");
        retry.addEventListener("click", () => {
          missing.delete(key);
          ctx.videos.request(key, false);
          render(runs);
        });
        return [h("p", { class: "eco-media-note", text: missing.get(key) }), retry];
      };
    } else if (run.phase === "completed") {
      if (!ctx.videos.asked(key)) ctx.videos.request(key, false);
      state = "loading";
      build = () => [h("p", { class: "eco-media-note", text: "Loading video…" })];
    } else {
      const words = run.phase_label || phaseWord(ctx.limits(), run.phase);
      state = `phase ${words}`;
      build = () => [h("p", { class: "eco-media-note", text: words })];
    }
    if (states[i] === state) return;
    states[i] = state;
    const old = panes[i].querySelector("video");
    if (old) { old.removeAttribute("src"); old.load(); }
    panes[i].replaceChildren(...build());
  }

  /** Show `pair` (the two runs, first one first). */
  function render(pair) {
    runs = pair;
    panes.forEach((pane, i) => renderPane(i, pair[i]));
    applySplit();
    transport.refresh();
  }

  setSwipe(false);
  return {
    el, cardsRow, render,
    /** A `video_missing` reply for `key`. */
    videoMissing(key, message) {
      missing.set(key, message || "The video could not be loaded.");
      render(runs);
    },
    destroy() {
      transport.destroy();
      for (const pane of panes) {
        const video = pane.querySelector("video");
        if (video) { video.removeAttribute("src"); video.load(); }
      }
    },
  };
}

/**
 * The runs: the newest as the current card with the earlier ones in a history strip, or
 * (mode "grid") every run as a card of a grid in the order they were started, laid out by
 * parameter when the `sweep` trait is set, or (mode "compare") two runs compared. Cards
 * move between the two when the mode changes. Phase changes are announced; elapsed
 * times tick while a run is active.
 * @returns {{els: Element[], render: () => object[], onVideo: Function, destroy: Function}}
 */
function createRunList(ctx) {
  const { model } = ctx;
  const cards = new Map();
  const lastPhase = new Map();
  const lastBucket = new Map();
  const currentSlot = h("div", { class: "eco-current" });
  const historyTitle = h("p", { class: "eco-history-title" });
  const strip = h("div", { class: "eco-strip" });
  const history = h("section",
    { class: "eco-history", "aria-label": "Earlier videos", hidden: true }, historyTitle, strip);
  const gridSummary = h("p", { class: "eco-grid-summary" });
  const gridList = h("div", { class: "eco-grid-list" });
  const sweepTable = createSweepTable(ctx);
  const gridVideos = h("div", { class: "eco-grid-videos" }, sweepTable.el, gridList);
  const transport = createTransport(ctx, gridVideos);
  const grid = h("section", { class: "eco-grid", "aria-label": "Videos", hidden: true },
    gridSummary, transport.el, gridVideos);
  const compare = createCompare(ctx);
  let initialized = false;
  let ticker = null;

  function place(parent, node, index) {
    if (parent.children[index] !== node) parent.insertBefore(node, parent.children[index] ?? null);
  }

  /** What to announce for `run` (at `index`, newest first), or nothing. */
  function announcements(run, index, key, messages) {
    const limits = ctx.limits();
    const previous = lastPhase.get(key);
    if (initialized && previous !== run.phase) {
      if (index === 0) messages.push(phaseAnnouncement(run, limits));
      else if (!run.active) {
        messages.push(`Earlier video “${(run.prompt ?? "").slice(0, 40)}”: ${phaseAnnouncement(run, limits)}`);
      }
    }
    if (index === 0 && run.phase === "processing") {
      const bucket = Math.floor((run.fraction || 0) * 4);
      const crossed = previous === "processing" && bucket > (lastBucket.get(key) ?? 0);
      if (initialized && crossed) messages.push(phaseAnnouncement(run, limits));
      lastBucket.set(key, bucket);
    }
    lastPhase.set(key, run.phase);
  }

  /** Show the `runs` trait; returns its runs. */
  function render() {
    const runs = (model.get("runs") || []).filter((run) => run && run.key != null);
    const keys = new Set(runs.map((run) => String(run.key)));
    const mode = model.get("mode");
    const gridMode = mode === "grid";
    const compareMode = mode === "compare";
    const gallery = gridMode || compareMode;
    const messages = [];
    runs.forEach((run, index) => {
      const key = String(run.key);
      let card = cards.get(key);
      if (!card) {
        card = createRunCard(ctx, key);
        cards.set(key, card);
      }
      announcements(run, index, key, messages);
      if (run.active) ctx.videos.playWhenLoaded(key);
      card.update(run, index === 0, gallery, !compareMode);
      if (gallery) return;
      if (index === 0) place(currentSlot, card.el, 0);
      else place(strip, card.el, index - 1);
    });
    // The grid and the comparison show the items in the order they were given: oldest first.
    const oldestFirst = [...runs].reverse();
    const sweep = gridMode ? readSweep(model.get("sweep_layout")) : null;
    const inSweep = sweepTable.render(sweep, (key) => cards.get(key)?.el ?? null);
    if (gridMode) {
      oldestFirst.filter((run) => !inSweep.has(String(run.key)))
        .forEach((run, i) => place(gridList, cards.get(String(run.key)).el, i));
    }
    show(gridList, !sweep || gridList.children.length > 0);
    const pair = compareMode ? oldestFirst.slice(0, 2) : [];
    pair.forEach((run, i) => place(compare.cardsRow, cards.get(String(run.key)).el, i));
    compare.render(pair);
    show(compare.el, compareMode);
    show(currentSlot, !gallery);
    show(grid, gridMode);
    gridSummary.textContent = gridMode ? gridText(runs, ctx.limits()) : "";
    for (const [key, card] of cards) {
      if (keys.has(key)) continue;
      card.destroy();
      cards.delete(key);
      ctx.videos.drop(key);
    }
    transport.refresh();
    show(history, !gallery && runs.length > 1);
    historyTitle.textContent = `Earlier (${runs.length - 1})`;
    ctx.announce(messages);
    const anyActive = runs.some((run) => run.active);
    if (anyActive && !ticker) ticker = setInterval(tick, 1000);
    if (!anyActive && ticker) { clearInterval(ticker); ticker = null; }
    initialized = true;
    return runs;
  }

  function tick() {
    const now = Date.now();
    for (const card of cards.values()) if (card.active) card.tick(now);
  }

  return {
    els: [currentSlot, history, grid, compare.el],
    render,
    /** A `video` or `video_missing` reply from the kernel. */
    onVideo(msg, buffers) {
      ctx.videos.receive(msg, buffers, {
        arrived: (key) => {
          const card = cards.get(key);
          if (card) card.refresh();
          else ctx.videos.drop(key);
          if (model.get("mode") === "compare") render();
        },
        missing: (key, message) => {
          cards.get(key)?.videoMissing(message);
          if (model.get("mode") === "compare") compare.videoMissing(key, message);
        },
      });
    },
    destroy() {
      clearInterval(ticker);
      ticker = null;
      transport.destroy();
      compare.destroy();
      for (const card of cards.values()) card.destroy();
      cards.clear();
    },
  };
}

/** The line under the widget: where jobs go, how many run here, the account's limit. */
function createFooter(ctx) {
  const { model } = ctx;
  const el = h("p", { class: "eco-footer" });

  function render(runs = model.get("runs") || []) {
    const backend = model.get("backend");
    const running = runs.filter((run) => run?.active).length;
    const maxActive = model.get("max_active");
    const parts = [backend ? `via ${backend}` : null];
    if (running) parts.push(`${plural(running, "job")} running here`);
    if (maxActive) parts.push(`at most ${maxActive} at once per account`);
    el.textContent = parts.filter(Boolean).join(" · ");
  }

  ctx.on("change:backend", () => render());
  ctx.on("change:max_active", () => render());
  return { el, render };
}

function render({ model, el }) {
  const uid = `eco${++viewCount}-${Math.random().toString(36).slice(2, 12)}`;
  const listeners = [];
  const on = (event, fn) => { model.on(event, fn); listeners.push([event, fn]); };
  const requests = createRequests(model, uid);
  const live = h("div", { class: "eco-sr-only", "aria-live": "polite", "aria-atomic": "true" });
  let root = null;

  const ctx = {
    model, uid, on, runCount: 0,
    limits: () => model.get("limits") || {},
    videos: createVideoStore(model),
    ask: requests.ask,
    announce(messages) {
      if (!messages.length) return;
      live.textContent = messages.join(". ");
    },
    hasFocus: () => Boolean(root?.contains(document.activeElement)),
    useSeed: (seed) => form.useSeed(seed),
  };

  const pendingBanner = createPendingBanner(ctx);
  const form = createForm(ctx);
  const runList = createRunList(ctx);
  const footer = createFooter(ctx);

  function renderRuns() {
    const runs = runList.render();
    show(form.el, !["grid", "compare"].includes(model.get("mode")));
    footer.render(runs);
  }

  /**
   * The kernel's custom messages, which every view receives: answers to this view's
   * requests, and replies to its `{type: "video"}` requests. Another view's are ignored.
   */
  function onCustom(msg, buffers) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "answer") requests.answer(msg);
    else runList.onVideo(msg, buffers);
  }

  root = h("div", { class: "eco-widget" }, pendingBanner.el, form.el, ...runList.els, footer.el, live);
  // Keys typed in the widget are not notebook shortcuts (Escape still leaves the widget).
  root.addEventListener("keydown", (event) => { if (event.key !== "Escape") event.stopPropagation(); });
  el.append(root);

  renderRuns();
  on("change:runs", renderRuns);
  on("change:mode", renderRuns);
  on("change:sweep_layout", renderRuns);
  on("change:limits", renderRuns);
  on("msg:custom", onCustom);

  return () => {
    form.destroy();
    for (const [event, fn] of listeners) model.off(event, fn);
    listeners.length = 0;
    requests.clear();
    runList.destroy();
    ctx.videos.dropAll();
    root.remove();
  };
}

export default { render };
