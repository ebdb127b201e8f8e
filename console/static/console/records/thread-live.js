// The thread page's live view: items of runs still going on appear as they are written.
// Listens on the endpoint's console WebSocket (/t/<tenant>/live/threads/<thread>), which
// admits signed-in members of the tenant by their session cookie. Without JavaScript, or
// if the socket is refused, the page is the same transcript, only not updated.
(function () {
  "use strict";

  const LABELS = {
    user_message: "User",
    assistant_message: "Assistant",
    client_tool_call: "Client tool call",
    widget: "Widget",
    task: "Task",
    workflow: "Workflow",
  };

  function textOf(item) {
    const parts = item.content || [];
    if (item.type === "user_message" || item.type === "assistant_message") {
      return parts.map((part) => part.text || "").join("");
    }
    if (item.type === "client_tool_call") {
      return item.name + "(" + JSON.stringify(item.arguments || {}) + ")";
    }
    return "Reload the page to see this " + (LABELS[item.type] || item.type) + " in full.";
  }

  function entryFor(list, item) {
    let entry = document.getElementById("item-" + item.id);
    if (entry) return entry;
    const empty = list.querySelector(".empty");
    if (empty) empty.remove();
    entry = document.createElement("li");
    entry.id = "item-" + item.id;
    entry.dataset.itemId = item.id;
    entry.className = "entry live kind-" + item.type +
      (item.type === "user_message" ? " role-user" : " role-assistant");
    const head = document.createElement("div");
    head.className = "entry-head";
    const label = document.createElement("strong");
    label.textContent = LABELS[item.type] || item.type;
    const time = document.createElement("time");
    time.textContent = new Date().toTimeString().slice(0, 8);
    head.append(label, " ", time);
    const body = document.createElement("div");
    body.className = "text";
    entry.append(head, body);
    list.append(entry);
    return entry;
  }

  function show(list, event) {
    if (event.type === "thread.item.added" || event.type === "thread.item.done") {
      if (event.item.type === "end_of_turn" || event.item.type.indexOf("hidden") !== -1) return;
      entryFor(list, event.item).querySelector(".text").textContent = textOf(event.item);
    } else if (event.type === "thread.item.updated" && event.update &&
               event.update.type === "assistant_message.content_part.text_delta") {
      const entry = document.getElementById("item-" + event.item_id);
      if (entry) entry.querySelector(".text").textContent += event.update.delta;
    }
  }

  function connect(list, status) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + list.dataset.liveUrl);
    socket.addEventListener("open", () => { status.textContent = "Live: new messages appear here."; });
    socket.addEventListener("message", (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "thread.event") show(list, data.event);
      if (data.type === "run.done") status.textContent = "Live: the run has ended.";
    });
    socket.addEventListener("close", () => { status.textContent = ""; });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const list = document.getElementById("transcript");
    const status = document.getElementById("live-status");
    if (list && status && list.dataset.live === "on" && "WebSocket" in window) connect(list, status);
  });
})();
