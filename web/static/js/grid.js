// The results grid: one button per picture, a roving tabindex so Tab enters the grid once and
// the arrow keys, Home and End move inside it.

/** A short description of a picture from its own text: the caption, else the OCR context. */
export function altText(node) {
  const words = (node.caption || node.context || "").split(/\s+/).filter(Boolean);
  const text = words.slice(0, 16).join(" ") + (words.length > 16 ? "…" : "");
  const where = `${node.book.title}${node.book.year ? `, ${node.book.year}` : ""}`;
  return text ? `${text} (${where})` : `Picture from ${where}`;
}

export function card(edge, onOpen) {
  const { node } = edge;
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "card";
  button.dataset.id = node.id;
  button.tabIndex = -1;
  const img = document.createElement("img");
  img.loading = "lazy";
  img.decoding = "async";
  img.alt = altText(node);
  if (node.small) {
    img.src = node.small;
    img.srcset = `${node.small} 1x, ${node.large} 2x`;
  }
  const label = document.createElement("span");
  label.className = "card-label";
  label.textContent = [node.predictedClass, node.book.year].filter(Boolean).join(" · ");
  button.append(img, label);
  button.addEventListener("click", () => onOpen(edge));
  item.append(button);
  return item;
}

function columns(buttons) {
  const top = buttons[0]?.offsetTop;
  const firstRow = buttons.findIndex((b) => b.offsetTop !== top);
  return firstRow === -1 ? buttons.length : firstRow;
}

/** Keyboard movement inside `list`; the focused card keeps tabindex 0 so Tab returns to it. */
export function enableGridKeys(list) {
  list.addEventListener("keydown", (event) => {
    const buttons = [...list.querySelectorAll("button.card")];
    const index = buttons.indexOf(document.activeElement);
    if (index === -1) return;
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns(buttons), ArrowUp: -columns(buttons) };
    let next;
    if (event.key in step) next = index + step[event.key];
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = buttons.length - 1;
    else return;
    event.preventDefault();
    focusCard(buttons, Math.max(0, Math.min(buttons.length - 1, next)));
  });
}

export function focusCard(buttons, index, { move = true } = {}) {
  buttons.forEach((b, i) => (b.tabIndex = i === index ? 0 : -1));
  if (move) buttons[index]?.focus();
}

/** After a render: the card with `id` (else the first) is the one Tab lands on. */
export function resetTabStop(list, id) {
  const buttons = [...list.querySelectorAll("button.card")];
  const index = Math.max(0, buttons.findIndex((b) => b.dataset.id === id));
  focusCard(buttons, index, { move: false });
}
