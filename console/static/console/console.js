// The console's little script: the phone menu, copy buttons, confirmations and menus that
// close with Escape. Loaded with `defer` from base.html; no inline script anywhere.
"use strict";

document.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-nav-toggle]");
  if (toggle) {
    const nav = document.getElementById(toggle.getAttribute("aria-controls"));
    const open = nav.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
    if (open) nav.querySelector("a")?.focus();
    return;
  }
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const source = document.getElementById(copy.dataset.copy);
    const text = source.value ?? source.textContent;
    const done = () => {
      const label = copy.querySelector("[data-copy-label]") || copy;
      const before = label.textContent;
      label.textContent = "Copied";
      copy.classList.add("copied");
      setTimeout(() => { label.textContent = before; copy.classList.remove("copied"); }, 1600);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => selectText(source));
    } else {
      selectText(source);
      document.execCommand("copy") && done();
    }
    return;
  }
  // A click outside an open menu closes it.
  for (const menu of document.querySelectorAll("details.menu[open]")) {
    if (!menu.contains(event.target)) menu.open = false;
  }
});

document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  for (const menu of document.querySelectorAll("details.menu[open]")) {
    menu.open = false;
    menu.querySelector("summary").focus();
  }
  const nav = document.querySelector(".sidebar.open");
  if (nav) {
    nav.classList.remove("open");
    document.querySelector("[data-nav-toggle]")?.setAttribute("aria-expanded", "false");
  }
});

function selectText(node) {
  const range = document.createRange();
  range.selectNodeContents(node);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}
