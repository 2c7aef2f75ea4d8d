// Three ways to give a query picture: the file picker, dropping a file anywhere on the page,
// and pasting an image from the clipboard. Each ends in `onImage(file)`.

function firstImage(files) {
  return [...(files ?? [])].find((file) => file.type.startsWith("image/"));
}

export function bindUpload(onImage, onRefused) {
  const input = document.getElementById("file");
  const zone = document.getElementById("dropzone");
  const take = (file) => (file ? onImage(file) : onRefused("That is not an image file. Try a JPEG or PNG."));

  input.addEventListener("change", () => {
    if (input.files.length) take(firstImage(input.files));
    input.value = ""; // choosing the same file again still fires "change"
  });

  // The whole page accepts a drop; the zone lights up while a file is over the page.
  document.addEventListener("dragover", (event) => {
    if (!event.dataTransfer?.types.includes("Files")) return;
    event.preventDefault();
    zone.classList.add("dragging");
  });
  document.addEventListener("dragleave", (event) => {
    if (!event.relatedTarget) zone.classList.remove("dragging");
  });
  document.addEventListener("drop", (event) => {
    if (!event.dataTransfer?.files.length) return;
    event.preventDefault();
    zone.classList.remove("dragging");
    take(firstImage(event.dataTransfer.files));
  });

  document.addEventListener("paste", (event) => {
    const file = firstImage(event.clipboardData?.files);
    if (!file) return; // plain text pastes into the focused input as usual
    event.preventDefault();
    onImage(file);
  });
}
