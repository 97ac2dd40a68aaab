// credstore's one script (pages work without it): a file chosen beside a multi-line
// field is read into that field, so a key never has to be pasted by hand.
"use strict";
document.addEventListener("change", (event) => {
  const picker = event.target;
  if (!(picker instanceof HTMLInputElement) || picker.type !== "file" || !picker.dataset.fill) {
    return;
  }
  const target = document.getElementById(picker.dataset.fill);
  const file = picker.files && picker.files[0];
  if (!target || !file) {
    return;
  }
  file.text().then((text) => {
    target.value = text;
    target.dispatchEvent(new Event("input", { bubbles: true }));
  });
});
