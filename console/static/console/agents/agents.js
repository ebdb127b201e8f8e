// The agents and tools pages: {{ state.* }} placeholders highlighted in the instructions
// editor (a backdrop mirrors the text behind a transparent textarea), the list of state
// variables kept up to date while typing, each tool's approval choice enabled only while the
// tool is selected, and a confirmation for buttons with data-confirm.
// No inline script anywhere: the console's Content-Security-Policy forbids it.
(() => {
  "use strict";
  // The same rule as hosted_agents/instructions.py; an escaped placeholder (\{{ ... }}) is text.
  const PLACEHOLDER = /(\\)?\{\{\s*state\.([^\s{}]{1,64})\s*\}\}/g;

  function placeholders(text) {
    const names = [];
    for (const match of text.matchAll(PLACEHOLDER)) {
      if (!match[1] && !names.includes(match[2])) names.push(match[2]);
    }
    return names;
  }

  function paint(backdrop, text) {
    backdrop.replaceChildren();
    let last = 0;
    for (const match of text.matchAll(PLACEHOLDER)) {
      backdrop.append(document.createTextNode(text.slice(last, match.index)));
      const mark = document.createElement("mark");
      mark.className = match[1] ? "escaped" : "";
      mark.textContent = match[0];
      backdrop.append(mark);
      last = match.index + match[0].length;
    }
    // A trailing newline needs a character after it to take up its line.
    backdrop.append(document.createTextNode(text.slice(last) + "\u200b"));
  }

  function listNames(list, names) {
    list.replaceChildren();
    if (!names.length) {
      const none = document.createElement("span");
      none.className = "muted";
      none.textContent = "none";
      list.append(none);
      return;
    }
    for (const name of names) {
      const code = document.createElement("code");
      code.className = "placeholder";
      code.textContent = name;
      list.append(code, document.createTextNode(" "));
    }
  }

  function setupEditor(editor) {
    const input = editor.querySelector("textarea");
    const backdrop = editor.querySelector(".highlight-backdrop");
    const list = editor.closest(".field").querySelector(".placeholder-list");
    if (!input || !backdrop) return;
    editor.classList.add("live");
    const update = () => {
      paint(backdrop, input.value);
      if (list) listNames(list, placeholders(input.value));
    };
    input.addEventListener("input", update);
    input.addEventListener("scroll", () => {
      backdrop.scrollTop = input.scrollTop;
      backdrop.scrollLeft = input.scrollLeft;
    });
    update();
  }

  document.querySelectorAll(".highlight-editor").forEach(setupEditor);

  // A tool's approval choice means something only while the tool is selected: grey it out
  // otherwise (a disabled select is not sent; the server ignores unselected tools anyway).
  function setupToolRow(row) {
    const box = row.querySelector("input[type=checkbox]");
    const choice = row.querySelector("select");
    if (!box || !choice) return;
    const update = () => { choice.disabled = !box.checked; };
    box.addEventListener("change", update);
    update();
  }

  document.querySelectorAll("[data-tool-row]").forEach(setupToolRow);

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
  });
})();
