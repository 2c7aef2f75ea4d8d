// The GraphQL documents the client sends, and how a view state becomes their variables.

export const PAGE_SIZE = 24;
// Grid cells are at most ~220 CSS px; the 2x source keeps them sharp on dense screens.
const GRID_SIZE = 240;
const DETAIL_SIZE = 1024;

export const STATS = `query Stats { stats { totalImages classes { value count } decades { value count }
  models { name images } } }`;

const CARD = `id context caption predictedClass aspectRatio pageNumber
  small: iiifUrl(size: ${GRID_SIZE}) large: iiifUrl(size: ${GRID_SIZE * 2}) book { title year }`;

export const SEARCH = `query Search($text: String, $semanticText: String, $image: Upload, $similarTo: ID,
  $model: Model, $filter: SearchFilterInput, $fusion: FusionInput, $first: Int!, $after: String,
  $classFilter: SearchFilterInput, $withClassCounts: Boolean!) {
  results: search(text: $text, semanticText: $semanticText, image: $image, similarTo: $similarTo,
      model: $model, filter: $filter, fusion: $fusion, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    facets { classes { value count } decades { value count } }
    edges { score highlights node { ${CARD} } }
  }
  classCounts: search(text: $text, semanticText: $semanticText, similarTo: $similarTo, model: $model,
      filter: $classFilter, fusion: $fusion, first: 1) @include(if: $withClassCounts) {
    facets { classes { value count } }
  }
}`;

export const IMAGE = `query Image($id: ID!) { image(id: $id) { id context caption predictedClass pageNumber
  classProbabilities { className probability } viewerUrl iiifUrl full: iiifUrl(size: ${DETAIL_SIZE})
  thumb: iiifUrl(size: 96)
  book { title author year } } }`;

/** Classes the "hide blank pages and anomalies" toggle hides, from the index's own values, so
 *  both "blank" and "Blank page", "anomaly" and "Segmentation anomaly" are caught. */
export function noiseClasses(values) {
  return values.filter((value) => /blank|anomal/i.test(value));
}

function year(text) {
  const value = Number.parseInt(text, 10);
  return Number.isFinite(value) ? value : null;
}

function filterOf(state, knownClasses, { withClasses = true } = {}) {
  const filter = {};
  if (withClasses && state.classes.length) filter.classes = state.classes;
  // A class the reader picked on purpose is shown even while the toggle hides its kind.
  const hidden = state.showAll ? [] : noiseClasses(knownClasses).filter((c) => !state.classes.includes(c));
  if (hidden.length) filter.excludeClasses = hidden;
  if (year(state.from) !== null) filter.yearFrom = year(state.from);
  if (year(state.to) !== null) filter.yearTo = year(state.to);
  return filter;
}

/** Variables for SEARCH. Class counts come from a second search without the class filter
 *  (so picking one class still shows how many the others hold); an uploaded file can be read
 *  only once per request, so with an upload the counts are those of the filtered list. */
export function searchVariables(state, knownClasses, after = null) {
  const hasUpload = Boolean(state.upload);
  return {
    text: state.q || null,
    semanticText: state.prompt || null,
    similarTo: state.similar || null,
    model: state.model || null,
    filter: filterOf(state, knownClasses),
    fusion: state.fusion ? { method: state.fusion } : null,
    first: PAGE_SIZE,
    after,
    classFilter: filterOf(state, knownClasses, { withClasses: false }),
    withClassCounts: after === null && state.classes.length > 0 && !hasUpload,
  };
}
