// vignett's web client: wires the search form, the filters, the grid and the detail dialog to
// the public GraphQL API. Every step is a history entry whose URL encodes the view.

import { graphql } from "./js/api.js";
import { IMAGE, SEARCH, STATS, searchVariables } from "./js/queries.js";
import { emptyState, resultsKey, stateFromUrl, urlFromState, withVectorSource } from "./js/state.js";
import { card, enableGridKeys, resetTabStop } from "./js/grid.js";
import { hideDetail, highlightedTerms, showDetail } from "./js/detail.js";
import { bindSidebar, renderClasses, renderDecades, renderModels, renderNoiseClasses, syncControls }
  from "./js/sidebar.js";
import { bindUpload } from "./js/upload.js";

const $ = (id) => document.getElementById(id);
const CACHE_SIZE = 20;

let state = emptyState();
// Uploaded files by the token state.upload holds. Chromium drops a File from history.state,
// so they live here: back and forward find them, a reload or a shared link cannot.
const uploads = new Map();
let knownClasses = []; // every class value in the index, for the blank/anomaly toggle
let shown = { key: null, edges: [] }; // the list on screen
let searching = null; // AbortController of the search in flight
const pages = new Map(); // resultsKey -> list, so back and forward redraw without a request
// Infinite scroll: the next page loads when the end of the grid comes near the viewport.
const endWatcher = new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting) && !$("more").hidden) loadMore();
}, { rootMargin: "300px" });

/** Observe afresh: an observer reports only changes, and a short page that leaves the end in
 *  view after a render is no change, so the next page would never come. */
function watchEnd() {
  endWatcher.unobserve($("sentinel"));
  endWatcher.observe($("sentinel"));
}

function navigate(next) {
  const url = urlFromState(next);
  // Submitting the same view again refreshes it without a duplicate history entry.
  if (url === location.search || (url === location.pathname && !location.search)) {
    history.replaceState(null, "", url);
    shown.key = null;
  } else {
    history.pushState(null, "", url);
  }
  show(next);
}

async function show(next) {
  state = next;
  syncControls(state);
  syncForm(state);
  if (!state.image) hideDetail();
  if (resultsKey(state) !== shown.key) await loadResults();
  if (state.image) await openDetail(state.image);
}

function syncForm(current) {
  $("q").value = current.q;
  $("prompt").value = current.prompt;
  const chip = $("query-image");
  chip.hidden = !(current.upload || current.similar);
  if (current.upload) {
    const file = uploads.get(current.upload);
    URL.revokeObjectURL($("query-image-thumb").src);
    $("query-image-thumb").src = file ? URL.createObjectURL(file) : "";
    $("query-image-label").textContent = `Pictures like your image ${file?.name ?? ""}`;
  } else if (current.similar) {
    $("query-image-label").textContent = "Pictures similar to the chosen one";
    graphql(IMAGE, { id: current.similar }).then(({ image }) => {
      if (state.similar === image.id) $("query-image-thumb").src = image.thumb || "";
    }, () => {});
  }
}

function setBusy(busy) {
  $("results").setAttribute("aria-busy", String(busy));
  document.body.classList.toggle("loading", busy);
  if (busy) $("status").textContent = "Searching…";
}

function showError(message) {
  $("error").hidden = !message;
  $("error").textContent = message || "";
}

async function search(after, signal) {
  const variables = searchVariables(state, knownClasses, after);
  return graphql(SEARCH, variables, { upload: uploads.get(state.upload), signal });
}

async function loadResults() {
  const key = resultsKey(state);
  searching?.abort();
  searching = null;
  showError("");
  if (state.upload && !uploads.has(state.upload)) {
    setBusy(false);
    render({ key, edges: [], total: 0, facets: { classes: [], decades: [] } });
    showError("An uploaded image is not part of a link. Upload it again to repeat this search.");
    return;
  }
  if (pages.has(key)) {
    setBusy(false);
    return render(pages.get(key));
  }
  const controller = new AbortController();
  searching = controller;
  setBusy(true);
  try {
    const { results, classCounts } = await search(null, controller.signal);
    const list = { key, edges: results.edges, total: results.totalCount, facets: results.facets,
      classCounts: classCounts?.facets.classes, ...results.pageInfo };
    remember(key, list);
    render(list);
  } catch (error) {
    if (error.name === "AbortError") return;
    shown = { key: null, edges: [] };
    $("results").replaceChildren();
    $("more").hidden = true;
    $("status").textContent = "";
    showError(error.message);
  } finally {
    if (searching === controller) {
      searching = null;
      setBusy(false);
      if (shown.key === key) $("status").textContent = statusText(shown);
    }
  }
}

function remember(key, list) {
  pages.set(key, list);
  if (pages.size > CACHE_SIZE) pages.delete(pages.keys().next().value);
}

function statusText(list) {
  if (!list.total) return "No pictures match. Try other words or remove a filter.";
  const what = state.similar ? " similar to the chosen one" : state.upload ? " like your image" : "";
  return `Showing ${list.edges.length} of ${list.total} pictures${what}.`;
}

function render(list) {
  shown = list;
  $("results").replaceChildren(...list.edges.map((edge) => card(edge, openCard)));
  resetTabStop($("results"), state.image);
  $("more").hidden = !list.hasNextPage;
  $("status").textContent = statusText(list);
  watchEnd();
  renderClasses(list.classCounts ?? list.facets.classes, state.classes, toggleClass);
  renderDecades(list.facets.decades, (decade) => navigate({ ...state, from: `${decade}`, to: `${decade + 9}`, image: "" }));
}

async function loadMore() {
  if (!shown.hasNextPage || searching) return;
  const list = shown;
  const controller = new AbortController();
  searching = controller;
  setBusy(true);
  try {
    const { results } = await search(list.endCursor, controller.signal);
    if (shown !== list) return;
    list.edges = list.edges.concat(results.edges);
    Object.assign(list, results.pageInfo);
    $("results").append(...results.edges.map((edge) => card(edge, openCard)));
    $("more").hidden = !list.hasNextPage;
    // A failed page is not retried by scrolling (that would loop); "More pictures" retries.
    watchEnd();
  } catch (error) {
    if (error.name !== "AbortError") showError(error.message);
  } finally {
    if (searching === controller) {
      searching = null;
      setBusy(false);
      $("status").textContent = statusText(shown);
    }
  }
}

function openCard(edge) {
  navigate({ ...state, image: edge.node.id });
}

async function openDetail(id) {
  try {
    const { image } = await graphql(IMAGE, { id });
    if (state.image !== id) return;
    const edge = shown.edges.find((e) => e.node.id === id);
    // The server's highlights name the matched words; without them (a picture opened from a
    // link past the loaded pages) the query's own words are the best guess.
    const terms = edge?.highlights.length ? highlightedTerms(edge.highlights)
      : state.q.split(/\s+/).filter((word) => word.length > 1);
    showDetail(image, terms);
  } catch (error) {
    showError(error.message);
  }
}

function toggleClass(value, on) {
  const classes = on ? [...state.classes, value] : state.classes.filter((c) => c !== value);
  navigate({ ...state, classes, image: "" });
}

function bindControls() {
  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    const prompt = $("prompt").value.trim();
    const next = { ...state, q: $("q").value.trim(), image: "" };
    // A new description replaces the query picture; an empty one keeps it, so words can be
    // added to an image search (the two are then fused).
    navigate(prompt ? withVectorSource(next, { prompt }) : { ...next, prompt: "" });
  });
  bindUpload((file) => {
    // A token, not the name alone: two different files called image.png are two searches.
    const token = `${Math.random().toString(36).slice(2, 8)}-${file.name || "pasted"}`;
    uploads.set(token, file);
    navigate(withVectorSource(state, { upload: token }));
  }, showError);
  $("query-image-clear").addEventListener("click", () => navigate({ ...state, similar: "", upload: "", image: "" }));
  $("detail-similar").addEventListener("click", (event) => {
    navigate(withVectorSource({ ...state, q: "" }, { similar: event.currentTarget.dataset.id }));
  });
  $("detail-close").addEventListener("click", () => hideDetail());
  // Closing by Escape, the button or find-similar: only a close the reader asked for adds a step.
  $("detail").addEventListener("close", () => {
    if (state.image) navigate({ ...state, image: "" });
  });
  $("more").addEventListener("click", loadMore);
  bindSidebar((patch) => navigate({ ...state, ...patch, image: "" }));
  enableGridKeys($("results"));
  window.addEventListener("popstate", () => show(stateFromUrl()));
}

async function start() {
  bindControls();
  try {
    const { stats } = await graphql(STATS, {});
    knownClasses = stats.classes.map((b) => b.value);
    renderModels(stats.models);
    renderNoiseClasses(knownClasses);
  } catch (error) {
    showError(error.message);
  }
  show(stateFromUrl());
}

start();
