// The filters: model, fusion, the blank/anomaly toggle, classes with counts, year range with
// decade counts. It renders what the API reports and turns each change into a state patch.

import { noiseClasses } from "./queries.js";

const $ = (id) => document.getElementById(id);
const MODEL_NAMES = { vit: "ViT (pictures)", clip: "CLIP (pictures and words)",
  siglip: "SigLIP (pictures and words)", phash: "Perceptual hash (near-duplicates)" };

/** Fill the model list from stats: only models the index holds vectors for. */
export function renderModels(models) {
  const select = $("model");
  for (const model of models.filter((m) => m.images > 0)) {
    const option = new Option(MODEL_NAMES[model.name] ?? model.name, model.name.toUpperCase());
    select.append(option);
  }
}

export function renderNoiseClasses(values) {
  const names = noiseClasses(values);
  $("noise-classes").textContent = names.length ? `(${names.join(", ")})` : "";
}

function facetItem(value, label, count, checked, onToggle) {
  const item = document.createElement("li");
  const wrapper = document.createElement("label");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.value = value;
  box.checked = checked;
  box.addEventListener("change", () => onToggle(value, box.checked));
  const count_ = document.createElement("span");
  count_.className = "count";
  count_.textContent = count;
  wrapper.append(box, ` ${label} `, count_);
  item.append(wrapper);
  return item;
}

/** Class checkboxes with counts; a chosen class stays listed even when it counts 0 now. */
export function renderClasses(buckets, chosen, onToggle) {
  const counts = new Map(buckets.map((b) => [b.value, b.count]));
  for (const value of chosen) if (!counts.has(value)) counts.set(value, 0);
  const items = [...counts].map(([value, count]) =>
    facetItem(value, value, count, chosen.includes(value), onToggle));
  $("classes").replaceChildren(...items);
  if (!items.length) $("classes").textContent = "No classes in these results.";
}

/** Decade counts as buttons that set the year range to that decade. */
export function renderDecades(buckets, onPick) {
  const sorted = [...buckets].sort((a, b) => a.value.localeCompare(b.value));
  const max = Math.max(1, ...sorted.map((b) => b.count));
  $("decades").replaceChildren(...sorted.map((bucket) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "decade";
    button.style.setProperty("--share", bucket.count / max);
    button.textContent = `${bucket.value}s `;
    const count = document.createElement("span");
    count.className = "count";
    count.textContent = bucket.count;
    button.append(count);
    button.addEventListener("click", () => onPick(Number(bucket.value)));
    item.append(button);
    return item;
  }));
}

/** Put a state's values into the controls (after navigation, back, or a shared link). */
export function syncControls(state) {
  $("model").value = state.model;
  if ($("model").value !== state.model) $("model").value = "";
  $("from").value = state.from;
  $("to").value = state.to;
  $("hide-noise").checked = !state.showAll;
  const hasText = Boolean(state.q);
  const hasVector = Boolean(state.prompt || state.upload || state.similar);
  $("fusion-set").disabled = !(hasText && hasVector);
  for (const radio of document.querySelectorAll("input[name=fusion]")) radio.checked = radio.value === state.fusion;
}

/** Wire the controls; `onChange(patch)` gets a partial state to apply. */
export function bindSidebar(onChange) {
  $("model").addEventListener("change", (e) => onChange({ model: e.target.value }));
  $("hide-noise").addEventListener("change", (e) => onChange({ showAll: !e.target.checked }));
  for (const id of ["from", "to"]) {
    $(id).addEventListener("change", (e) => onChange({ [id]: e.target.value.trim() }));
  }
  for (const radio of document.querySelectorAll("input[name=fusion]")) {
    radio.addEventListener("change", () => onChange({ fusion: radio.value }));
  }
  const toggle = $("filters-toggle");
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    $("sidebar").classList.toggle("open", open);
  });
}
