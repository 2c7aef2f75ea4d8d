// The client's only door to the server: the public GraphQL endpoint, as any other client uses it.

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

// Words for a reader, keyed by the API's extensions.code; the server's own message follows,
// because it says what to change (a wrong year range, a model without a text encoder, ...).
const ADVICE = {
  SEARCH_BACKEND_UNAVAILABLE: "The search index cannot be reached right now. Try again in a minute.",
  MODEL_UNAVAILABLE: "That model is not available on this server. Choose another one under Filters.",
  TIMEOUT: "The search took too long. Try fewer or narrower terms.",
  PAYLOAD_TOO_LARGE: "The image is too large. Try a smaller one.",
  NOT_FOUND: "That picture is no longer in the index.",
  QUERY_TOO_COMPLEX: "The server refused the query as too complex.",
  INTERNAL_SERVER_ERROR: "Something went wrong on the server.",
};

export function describe(code, message) {
  const advice = ADVICE[code];
  return advice ? `${advice} (${message})` : message;
}

/** POST a query; with `upload` (a File or Blob) it goes as a GraphQL multipart request, the
 *  file standing for the variable `$image`. Resolves to `data`; rejects with ApiError. */
export async function graphql(query, variables, { upload, signal } = {}) {
  let init;
  if (upload) {
    const form = new FormData();
    form.append("operations", JSON.stringify({ query, variables: { ...variables, image: null } }));
    form.append("map", JSON.stringify({ 0: ["variables.image"] }));
    form.append("0", upload, upload.name || "pasted-image");
    // The server refuses multipart without this header (CSRF protection).
    init = { body: form, headers: { "GraphQL-Require-Preflight": "1" } };
  } else {
    init = { body: JSON.stringify({ query, variables }), headers: { "Content-Type": "application/json" } };
  }
  let response;
  try {
    response = await fetch("graphql", { method: "POST", signal, ...init });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("Could not reach the server. Check the connection and try again.", "NETWORK");
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server answered HTTP ${response.status} without a readable message.`, "HTTP");
  }
  if (body.errors?.length) {
    const first = body.errors[0];
    const code = first.extensions?.code ?? "ERROR";
    throw new ApiError(describe(code, first.message), code);
  }
  return body.data;
}
