// The console playground: hands the chat a client secret minted for the signed-in member.
// Loaded with `defer` after the chat client's own script, so the element is defined here;
// the endpoint is set last, once the secret function is in place (see console/README.md).
(() => {
  "use strict";
  const root = document.querySelector("[data-playground]");
  if (!root) return;
  const endpoint = new URL(root.dataset.endpoint, location.origin).href;

  async function mintSecret() {
    const answer = await fetch(root.dataset.sessionUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": root.dataset.csrf, Accept: "application/json" },
    });
    const body = await answer.json();
    if (!answer.ok) throw new Error(body.error ? body.error.message : `session refused (${answer.status})`);
    return body; // {client_secret, expires_at}
  }

  // Client tools run on the tenant's own page; here the member plays that page: the
  // built-in switch_theme switches the chat, any other tool asks for the result to send.
  async function answerClientTool(chat, name, args) {
    if (name === "switch_theme" && (args.theme === "light" || args.theme === "dark")) {
      chat.setAttribute("theme", args.theme);
      return { theme: args.theme, switched: true };
    }
    const typed = window.prompt(`The agent called the client tool ${name} with ${JSON.stringify(args)}.\nAnswer with a JSON result:`, "{}");
    if (typed === null) throw new Error(`${name} was dismissed in the playground`);
    try {
      return JSON.parse(typed);
    } catch {
      return { answer: typed };
    }
  }

  const own = root.querySelector("chatkit-client");
  if (own) {
    own.getClientSecret = mintSecret;
    own.onClientTool = (name, args) => answerClientTool(own, name, args);
    own.setAttribute("endpoint", endpoint);
    return;
  }

  const official = root.querySelector("openai-chatkit");
  if (!official) return;
  let secret = null;
  let expiresAt = 0;
  async function currentSecret(force) {
    if (force || !secret || Date.now() / 1000 > expiresAt - 30) {
      ({ client_secret: secret, expires_at: expiresAt } = await mintSecret());
    }
    return secret;
  }
  // Every script has loaded or failed by the window's load event: without the element by
  // then, the CDN was out of reach.
  window.addEventListener("load", () => {
    const missing = root.querySelector(".official-missing");
    if (missing && !customElements.get("openai-chatkit")) missing.hidden = false;
  });
  customElements.whenDefined("openai-chatkit").then(() => {
    official.setOptions({
      api: {
        url: endpoint,
        domainKey: "console-playground",
        async fetch(input, init = {}) {
          const send = async (force) => {
            const headers = new Headers(init.headers);
            headers.set("Authorization", `Bearer ${await currentSecret(force)}`);
            return fetch(input, { ...init, headers });
          };
          const answer = await send(false);
          return answer.status === 401 ? send(true) : answer;
        },
      },
    });
  });
})();
