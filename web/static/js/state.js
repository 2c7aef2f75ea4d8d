// The view is a function of the URL, so the back button and a shared link reproduce it.
// The one thing a URL cannot carry is an uploaded image: the URL names it by a token and
// app.js keeps the file in memory for back and forward.

const SINGLE = { q: "q", prompt: "prompt", similar: "similar", upload: "upload", model: "model",
  from: "from", to: "to", fusion: "fusion", image: "image" };

export function emptyState() {
  return { q: "", prompt: "", similar: "", upload: "", model: "", from: "", to: "", fusion: "",
    image: "", classes: [], showAll: false };
}

export function stateFromUrl(href = location.href) {
  const params = new URL(href).searchParams;
  const state = emptyState();
  for (const [key, param] of Object.entries(SINGLE)) state[key] = params.get(param)?.trim() ?? "";
  state.classes = params.getAll("class");
  state.showAll = params.get("all") === "1";
  return state;
}

export function urlFromState(state) {
  const params = new URLSearchParams();
  for (const [key, param] of Object.entries(SINGLE)) if (state[key]) params.set(param, state[key]);
  for (const value of state.classes) params.append("class", value);
  if (state.showAll) params.set("all", "1");
  const query = params.toString();
  return query ? `?${query}` : location.pathname;
}

/** The state without the open picture: two states with the same key show the same results. */
export function resultsKey(state) {
  return urlFromState({ ...state, image: "" });
}

/** At most one picture source goes with a search (the API's rule): the newest wins. */
export function withVectorSource(state, source) {
  return { ...state, prompt: "", similar: "", upload: "", image: "", ...source };
}
