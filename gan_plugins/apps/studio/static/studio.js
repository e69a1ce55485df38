// loopgan studio page: draws loops, plays them looped (Web Audio), GANSpace sliders, interpolation, history,
// download and walks. Talks only to this server's /api; no external resources.
"use strict";

const studio = {
  model: null, info: null, current: null, base: null, a: null, b: null, entries: new Map(),
  audio: null, source: null, buffer: null, playing: false, busy: 0, lastError: null, walkUrl: null,
};
window.studio = studio;

const $ = (id) => document.getElementById(id);

function setStatus(text, state) {
  const el = $("status");
  el.textContent = text;
  el.dataset.state = state;
}

async function api(path, body) {
  studio.busy += 1;
  setStatus("working…", "busy");
  try {
    const init = body === undefined ? {} : {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
    const response = await fetch(path, init);
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
    return data;
  } finally {
    studio.busy -= 1;
    if (studio.busy === 0) setStatus("ready", "ready");
  }
}

function report(error) {
  studio.lastError = String(error.message || error);
  setStatus(studio.lastError, "error");
}

function paint(canvas, spec) {
  // spectrogram: uint8 rows x frames, row 0 = lowest band (drawn at the bottom)
  const {rows, frames, data} = spec;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(frames, rows);
  for (let r = 0; r < rows; r++) {
    for (let f = 0; f < frames; f++) {
      const v = data[r * frames + f] / 255;
      const o = 4 * ((rows - 1 - r) * frames + f);
      img.data[o] = Math.round(255 * Math.min(1, 1.6 * v));
      img.data[o + 1] = Math.round(255 * Math.max(0, 1.8 * v - 0.8));
      img.data[o + 2] = Math.round(255 * Math.max(0, Math.min(1, 2.2 * v - 1.2)) * 0.8 + 40 * (1 - v));
      img.data[o + 3] = 255;
    }
  }
  const tmp = document.createElement("canvas");
  tmp.width = frames;
  tmp.height = rows;
  tmp.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}

function describe(entry) {
  const o = entry.origin;
  if (o.kind === "draw") return `drawn (seed ${o.seed}, #${o.index})`;
  if (o.kind === "edit") return `from ${o.base}: ${o.sliders.map((v) => v.toFixed(1)).join(" ")}`;
  if (o.kind === "interpolate") return `slerp ${o.a}→${o.b} at ${o.t.toFixed(2)}`;
  return o.kind;
}

function addToHistory(entry) {
  studio.entries.set(entry.id, entry);
  const li = document.createElement("li");
  li.dataset.id = entry.id;
  const canvas = document.createElement("canvas");
  canvas.width = 64;
  canvas.height = 32;
  paint(canvas, entry.spectrogram);
  const check = document.createElement("input");
  check.type = "checkbox";
  check.className = "walk-pick";
  check.title = "include in a walk";
  const label = document.createElement("span");
  label.textContent = `${entry.id}: ${describe(entry)}`;
  li.append(check, canvas, label);
  for (const [text, action] of [["play", () => select(entry, true)], ["base", () => setBase(entry)],
                                ["A", () => setEnd("a", entry)], ["B", () => setEnd("b", entry)]]) {
    const button = document.createElement("button");
    button.textContent = text;
    button.className = `hist-${text.toLowerCase()}`;
    button.addEventListener("click", action);
    li.append(button);
  }
  $("history").prepend(li);
  const limit = studio.info.history_size;
  while ($("history").children.length > limit) {
    const last = $("history").lastElementChild;
    studio.entries.delete(Number(last.dataset.id));
    last.remove();
  }
}

function stop() {
  if (studio.source) {
    studio.source.onended = null;
    studio.source.stop();
    studio.source.disconnect();
  }
  studio.source = null;
  studio.playing = false;
}

async function play(entry) {
  const rate = studio.info.sample_rate;
  if (studio.audio && studio.audio.sampleRate !== rate) {
    stop();
    await studio.audio.close();
    studio.audio = null;
  }
  // at the model's own rate, so decoding does not resample: the buffer is the loop, sample for sample
  if (!studio.audio) studio.audio = new AudioContext({sampleRate: rate});
  if (studio.audio.state === "suspended") await studio.audio.resume();
  const response = await fetch(entry.url);
  if (!response.ok) throw new Error(`loop ${entry.id}: HTTP ${response.status}`);
  const buffer = await studio.audio.decodeAudioData(await response.arrayBuffer());
  if (studio.current !== entry) return;  // another loop was selected meanwhile
  stop();
  const source = studio.audio.createBufferSource();
  source.buffer = buffer;
  source.loop = true;  // the whole buffer repeats sample-exactly: a seamless loop
  source.connect(studio.audio.destination);
  source.start();
  studio.source = source;
  studio.buffer = buffer;
  studio.playing = true;
}

async function select(entry, autoplay) {
  studio.current = entry;
  $("current-id").textContent = `#${entry.id}`;
  $("origin").textContent = describe(entry);
  paint($("spectrogram"), entry.spectrogram);
  const tbody = $("descriptors").querySelector("tbody");
  tbody.replaceChildren();
  const units = {loudness: "dB(A)", centroid: "Hz", bandwidth: "Hz", rolloff: "Hz", onset_rate: "/s", flatness: ""};
  for (const [key, value] of Object.entries(entry.descriptors)) {
    const tr = document.createElement("tr");
    tr.dataset.key = key;
    tr.innerHTML = `<td>${key}</td><td class="value">${Number(value).toFixed(key === "flatness" ? 4 : 1)}</td>` +
      `<td>${units[key] || ""}</td>`;
    tbody.append(tr);
  }
  const link = $("download");
  const name = `${studio.model}-${entry.id}.wav`.replace(/[^A-Za-z0-9._-]/g, "_");
  link.href = `/api/download?model=${encodeURIComponent(studio.model)}&entry=${entry.id}` +
    `&name=${encodeURIComponent(name)}`;
  link.setAttribute("download", name);
  link.classList.remove("disabled");
  $("play").disabled = false;
  $("stop").disabled = false;
  for (const li of $("history").children) li.classList.toggle("current", Number(li.dataset.id) === entry.id);
  if (!studio.base) setBase(entry);
  if (autoplay) await play(entry);
}

function setBase(entry) {
  studio.base = entry;
  for (const input of document.querySelectorAll("#sliders input")) input.value = 0;
  updateSliderLabels();
}

function setEnd(which, entry) {
  studio[which] = entry;
  $(`interp-${which}`).textContent = `#${entry.id}`;
  $("interp-t").disabled = !(studio.a && studio.b);
}

function updateSliderLabels() {
  for (const input of document.querySelectorAll("#sliders input")) {
    input.nextElementSibling.textContent = Number(input.value).toFixed(1);
  }
}

async function draw() {
  const data = await api("/api/draw", {model: studio.model, count: 4});
  for (const entry of data.entries) addToHistory(entry);
  if (!studio.a) setEnd("a", data.entries[0]);
  if (!studio.b && data.entries.length > 1) setEnd("b", data.entries[1]);
  studio.base = null;
  await select(data.entries[0], true);
}

async function edit() {
  if (!studio.base) return;
  const sliders = [...document.querySelectorAll("#sliders input")].map((i) => Number(i.value));
  updateSliderLabels();
  const data = await api("/api/edit", {model: studio.model, base: studio.base.id, sliders});
  addToHistory(data.entry);
  await select(data.entry, true);
}

async function interpolate() {
  const t = Number($("interp-t").value);
  $("interp-t-value").textContent = t.toFixed(2);
  const data = await api("/api/interpolate", {model: studio.model, a: studio.a.id, b: studio.b.id, t});
  addToHistory(data.entry);
  await select(data.entry, true);
}

async function walk() {
  const ids = [...document.querySelectorAll("#history li")].reverse()
    .filter((li) => li.querySelector(".walk-pick").checked).map((li) => Number(li.dataset.id));
  if (ids.length < 2) throw new Error("check at least two loops of the history for a walk");
  const data = await api("/api/walk", {model: studio.model, entries: ids,
    step_seconds: Number($("walk-step").value)});
  stop();
  studio.walkUrl = data.url;
  const audio = $("walk-audio");
  audio.hidden = false;
  audio.src = data.url;
}

async function loadModel(name) {
  stop();
  studio.model = name;
  studio.info = studio.models.find((m) => m.name === name);
  studio.current = studio.base = studio.a = studio.b = null;
  studio.entries.clear();
  $("history").replaceChildren();
  const directions = await api(`/api/directions?model=${encodeURIComponent(name)}`);
  $("directions-info").textContent = `(${directions.method}; first ${directions.explained.length} explain ` +
    `${(100 * directions.explained.reduce((s, v) => s + v, 0)).toFixed(0)} %)`;
  const box = $("sliders");
  box.replaceChildren();
  directions.explained.forEach((share, i) => {
    const row = document.createElement("div");
    row.className = "slider";
    const label = document.createElement("label");
    label.textContent = `PC${i + 1} ${(100 * share).toFixed(0)}%`;
    const input = document.createElement("input");
    Object.assign(input, {type: "range", min: -directions.slider_range, max: directions.slider_range,
      step: 0.1, value: 0, id: `pc${i}`});
    input.addEventListener("change", () => edit().catch(report));
    input.addEventListener("input", updateSliderLabels);
    const value = document.createElement("span");
    label.htmlFor = input.id;
    row.append(label, input, value);
    box.append(row);
  });
  updateSliderLabels();
}

async function main() {
  const info = await api("/api/info");
  studio.models = info.models;
  const select = $("model");
  for (const m of info.models) select.append(new Option(`${m.name} (${m.representation})`, m.name));
  select.addEventListener("change", () => loadModel(select.value).catch(report));
  $("draw").addEventListener("click", () => draw().catch(report));
  $("play").addEventListener("click", () => studio.current && play(studio.current).catch(report));
  $("stop").addEventListener("click", stop);
  $("reset-sliders").addEventListener("click", () => studio.base && setBase(studio.base));
  $("interp-t").addEventListener("change", () => interpolate().catch(report));
  $("interp-t").addEventListener("input", () => { $("interp-t-value").textContent =
    Number($("interp-t").value).toFixed(2); });
  $("walk").addEventListener("click", () => walk().catch(report));
  await loadModel(info.models[0].name);
  setStatus("ready", "ready");
}

main().catch(report);
