// The detail dialog: a larger picture, its text with the matched words marked, the book, the
// predicted class, and links out. A native <dialog> gives focus trapping and Escape for free.

import { altText } from "./grid.js";

const $ = (id) => document.getElementById(id);

/** The words the server marked with <em> in its highlight fragments. */
export function highlightedTerms(highlights = []) {
  const terms = new Set();
  for (const fragment of highlights) {
    for (const match of fragment.matchAll(/<em>(.*?)<\/em>/g)) terms.add(match[1].toLowerCase());
  }
  return [...terms];
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** `text` as DOM nodes with each term wrapped in <mark>; text nodes only, so OCR text can
 *  never inject markup. */
export function markTerms(element, text, terms) {
  element.replaceChildren();
  const usable = terms.filter((t) => t.trim());
  if (!usable.length) {
    element.textContent = text;
    return;
  }
  const pattern = new RegExp(`(${usable.map(escapeRegExp).join("|")})`, "giu");
  text.split(pattern).forEach((part, i) => {
    if (i % 2 === 1) {
      const mark = document.createElement("mark");
      mark.textContent = part;
      element.append(mark);
    } else if (part) {
      element.append(document.createTextNode(part));
    }
  });
}

function percent(p) {
  return `${Math.round(p * 100)}%`;
}

export function showDetail(image, terms) {
  const dialog = $("detail");
  const img = $("detail-image");
  img.src = image.full || "";
  img.alt = altText(image);
  $("detail-caption").textContent = image.caption;
  $("detail-title").textContent = image.book.title || "Untitled book";
  $("detail-book").textContent = [image.book.author, image.book.year, image.pageNumber && `page ${image.pageNumber}`]
    .filter(Boolean).join(" · ");
  const best = image.classProbabilities.find((c) => c.className === image.predictedClass);
  $("detail-class").textContent = image.predictedClass
    ? `Predicted class: ${image.predictedClass}${best ? ` (${percent(best.probability)} confident)` : ""}`
    : "Not classified";
  markTerms($("detail-context"), image.context || "No text found around this picture.", terms);
  link($("detail-viewer"), image.viewerUrl);
  link($("detail-iiif"), image.iiifUrl);
  $("detail-similar").dataset.id = image.id;
  if (!dialog.open) dialog.showModal();
  $("detail-similar").focus();
}

function link(anchor, url) {
  anchor.hidden = !url;
  if (url) anchor.href = url;
}

export function hideDetail() {
  const dialog = $("detail");
  if (dialog.open) dialog.close();
}
